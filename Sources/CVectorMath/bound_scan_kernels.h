// The int8 lower-bound scan (coreset and 1-NN search) (see pc_int8_bound_survivors in include/vector_math.h), one plain
// instantiation per instruction set; vector_math.c adds an AVX-512 VNNI version and picks. No include guard on
// purpose. Integer arithmetic first, so every instantiation computes the same per-group sums.

static ptrdiff_t KERNEL(pc_int8_bound_survivors)(const int8_t *codes, ptrdiff_t groups, const int8_t *centre,
                                                 const float *weight, const float *threshold,
                                                 ptrdiff_t threshold_stride, ptrdiff_t first_block, ptrdiff_t end_block, int32_t *out) {
    ptrdiff_t w = 0;
    for (ptrdiff_t b = first_block; b < end_block; b++) {
        const int8_t *block = codes + b * groups * 64;
        float acc[16] = {0};
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
        for (int p = 0; p < 16; p++) {
            if (acc[p] <= threshold[(b * 16 + p) * threshold_stride]) out[w++] = (int32_t)(b * 16 + p);
        }
    }
    return w;
}
