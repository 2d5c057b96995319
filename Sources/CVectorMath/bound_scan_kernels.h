// The int8 lower-bound scan (coreset and 1-NN search) (see pc_int8_bound_survivors in include/vector_math.h), one plain
// instantiation per instruction set; vector_math.c adds an AVX-512 VNNI version and picks. No include guard on
// purpose. Integer arithmetic first, so every instantiation computes the same per-group sums, then each group's
// product and sum rounded separately (no contraction to a fused multiply-add, which only some levels have), so
// every instantiation computes the same bounds bit for bit.

// The bounds of the 16 points of one block (codes of `groups` groups of 4 coordinates) into acc.
static void LOCAL(int8_block_bounds)(const int8_t *block, ptrdiff_t groups, const int8_t *centre, const float *weight,
                                     float acc[16]) {
#pragma clang fp contract(off)
    for (int p = 0; p < 16; p++) acc[p] = 0;
    for (ptrdiff_t g = 0; g < groups; g++) {
        const int8_t *q = block + g * 64;
        for (int p = 0; p < 16; p++) {
            int sum = 0;
            for (int j = 0; j < 4; j++) {
                int diff = (int)q[p * 4 + j] - (int)centre[g * 4 + j];
                diff = diff < -128 ? -128 : diff > 127 ? 127 : diff;      // as the saturating byte subtract
                int e = (diff < 0 ? -diff : diff) - 1;
                e = e < 0 ? 0 : e;
                sum += e * e;
            }
            acc[p] += (float)sum * weight[g];
        }
    }
}

static ptrdiff_t KERNEL(pc_int8_bound_survivors)(const int8_t *codes, ptrdiff_t groups, const int8_t *centre,
                                                 const float *weight, const float *threshold,
                                                 ptrdiff_t threshold_stride, ptrdiff_t first_block, ptrdiff_t end_block, int32_t *out) {
#pragma clang fp contract(off)
    ptrdiff_t w = 0;
    for (ptrdiff_t b = first_block; b < end_block; b++) {
        float acc[16];
        LOCAL(int8_block_bounds)(codes + b * groups * 64, groups, centre, weight, acc);
        for (int p = 0; p < 16; p++) {
            if (acc[p] <= threshold[(b * 16 + p) * threshold_stride]) out[w++] = (int32_t)(b * 16 + p);
        }
    }
    return w;
}

static ptrdiff_t KERNEL(pc_int8_bound_values)(const int8_t *codes, ptrdiff_t groups, const int8_t *centre,
                                              const float *weight, ptrdiff_t first_block, ptrdiff_t end_block,
                                              ptrdiff_t count, float *out) {
#pragma clang fp contract(off)
    ptrdiff_t best = -1;
    float bestValue = 0;
    for (ptrdiff_t b = first_block; b < end_block; b++) {
        float acc[16];
        LOCAL(int8_block_bounds)(codes + b * groups * 64, groups, centre, weight, acc);
        for (int p = 0; p < 16; p++) {
            ptrdiff_t i = b * 16 + p;
            out[i - first_block * 16] = acc[p];
            if (i < count && (best < 0 || acc[p] < bestValue)) { best = i; bestValue = acc[p]; }
        }
    }
    return best;
}

static ptrdiff_t KERNEL(pc_indices_at_most)(const float *values, ptrdiff_t count, float threshold, int32_t *out) {
    ptrdiff_t w = 0;
    for (ptrdiff_t i = 0; i < count; i++) {
        out[w] = (int32_t)i;
        w += values[i] <= threshold;      // branch-free: the store always happens, the count only on a hit
    }
    return w;
}

// The Swift squaredDistance (MemoryBank/DistanceKernels.swift) operation for operation: 16 running lanes of
// (a - b) * (a - b) added without contraction, the same pairwise lane reduction, then the scalar tail; so it returns
// the same bits at every level, only in wider registers than Swift's baseline x86-64 code.
static float KERNEL(pc_squared_distance)(const float *a, const float *b, ptrdiff_t n) {
#pragma clang fp contract(off)
    float acc[16] = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 16; l++) {
            float e = a[i + l] - b[i + l];
            acc[l] = acc[l] + e * e;
        }
    }
    float h8[8], h4[4];
    for (int l = 0; l < 8; l++) h8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; l++) h4[l] = h8[l] + h8[l + 4];
    float s = (h4[0] + h4[2]) + (h4[1] + h4[3]);
    for (; i < n; i++) {
        float e = a[i] - b[i];
        s = s + e * e;
    }
    return s;
}
