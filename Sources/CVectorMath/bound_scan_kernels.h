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

// The dot-form bound table (pc_int8_dot_table in include/vector_math.h): integer sums, then one conversion and one
// product per value, so every instantiation writes the same bits.
static void KERNEL(pc_int8_dot_table)(const int8_t *codes, ptrdiff_t groups, const int8_t *shift,
                                      const uint8_t *queries, ptrdiff_t nq, const int32_t *query_term,
                                      const int32_t *row_term, float unit2, ptrdiff_t first_block,
                                      ptrdiff_t end_block, ptrdiff_t count, float *out, ptrdiff_t stride,
                                      int32_t *argmin) {
#pragma clang fp contract(off)
    for (ptrdiff_t r = 0; r < nq; r++) {
        const uint8_t *u = queries + r * groups * 4;
        ptrdiff_t best = -1;
        float bestValue = 0;
        for (ptrdiff_t b = first_block; b < end_block; b++) {
            const int8_t *block = codes + b * groups * 64;
            for (int p = 0; p < 16; p++) {
                int32_t dot = 0;
                for (ptrdiff_t g = 0; g < groups; g++) {
                    dot = (int32_t)((uint32_t)dot << shift[g]);
                    for (int j = 0; j < 4; j++) dot += (int32_t)u[g * 4 + j] * (int32_t)block[g * 64 + p * 4 + j];
                }
                ptrdiff_t i = b * 16 + p;
                float v = unit2 * (float)(query_term[r] + row_term[i] - 2 * dot);
                out[r * stride + i - first_block * 16] = v;
                if (i < count && (best < 0 || v < bestValue)) { best = i; bestValue = v; }
            }
        }
        argmin[r] = (int32_t)best;
    }
}

static ptrdiff_t KERNEL(pc_indices_within)(const float *values, const float *slack, ptrdiff_t count, float c,
                                           int32_t *out) {
#pragma clang fp contract(off)
    ptrdiff_t w = 0;
    for (ptrdiff_t i = 0; i < count; i++) {
        float t = c + slack[i];
        out[w] = (int32_t)i;
        w += values[i] <= t * t;
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

// pc_squared_distances: pc_squared_distance of one query to listed rows, four rows at a time (four independent chains
// of additions, where one row alone waits on each addition's latency), the next rows' cache lines requested while
// the current ones are summed (survivor rows are scattered over a bank larger than the core's caches). Each row's
// operations are pc_squared_distance's, in its order, so each value has its bits.
static void LOCAL(squared_distances4)(const float *a, const float *r0, const float *r1, const float *r2,
                                      const float *r3, ptrdiff_t n, float out[4]) {
#pragma clang fp contract(off)
    const float *rows[4] = {r0, r1, r2, r3};
    float acc[4][16] = {{0}};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 4; k++) {
            for (int l = 0; l < 16; l++) {
                float e = a[i + l] - rows[k][i + l];
                acc[k][l] = acc[k][l] + e * e;
            }
        }
    }
    for (int k = 0; k < 4; k++) {
        float h8[8], h4[4];
        for (int l = 0; l < 8; l++) h8[l] = acc[k][l] + acc[k][l + 8];
        for (int l = 0; l < 4; l++) h4[l] = h8[l] + h8[l + 4];
        float s = (h4[0] + h4[2]) + (h4[1] + h4[3]);
        for (ptrdiff_t j = i; j < n; j++) {
            float e = a[j] - rows[k][j];
            s = s + e * e;
        }
        out[k] = s;
    }
}

static void KERNEL(pc_squared_distances)(const float *a, const float *rows, ptrdiff_t n, const int32_t *index,
                                         ptrdiff_t count, ptrdiff_t offset, float *out) {
    const ptrdiff_t ahead = 8;
    for (ptrdiff_t k = 0; k < count && k < ahead; k++) {
        const char *p = (const char *)(rows + (offset + index[k]) * n);
        for (ptrdiff_t b = 0; b < n * 4; b += 64) __builtin_prefetch(p + b);
    }
    ptrdiff_t k = 0;
    for (; k + 4 <= count; k += 4) {
        for (ptrdiff_t j = k + ahead; j < k + ahead + 4 && j < count; j++) {
            const char *p = (const char *)(rows + (offset + index[j]) * n);
            for (ptrdiff_t b = 0; b < n * 4; b += 64) __builtin_prefetch(p + b);
        }
        LOCAL(squared_distances4)(a, rows + (offset + index[k]) * n, rows + (offset + index[k + 1]) * n,
                                  rows + (offset + index[k + 2]) * n, rows + (offset + index[k + 3]) * n, n, out + k);
    }
    for (; k < count; k++) out[k] = KERNEL(pc_squared_distance)(a, rows + (offset + index[k]) * n, n);
}
