// Written for this project (no vector math library is on the allowed list); see include/vector_math.h.
// The kernels (vector_math_kernels.h) are instantiated three times, for AVX-512, AVX2 + FMA and baseline x86-64
// (or once, plain, elsewhere), and each public function picks the widest the CPU supports.
#include "vector_math.h"

#include <math.h>
#include <stdint.h>
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#endif
#include <string.h>

#pragma clang fp contract(fast)

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if defined(__x86_64__) && defined(__clang__)

#define LANES 16
#define KERNEL(name) CAT(name, _avx512)
#define LOCAL(name) CAT(name, _avx512)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#include "vector_math_kernels.h"
#include "bound_scan_kernels.h"
#pragma clang attribute pop
#undef LANES
#undef KERNEL
#undef LOCAL

#define LANES 8
#define KERNEL(name) CAT(name, _avx2)
#define LOCAL(name) CAT(name, _avx2)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "vector_math_kernels.h"
#include "bound_scan_kernels.h"
#pragma clang attribute pop
#undef LANES
#undef KERNEL
#undef LOCAL

#define LANES 4
#define KERNEL(name) CAT(name, _base)
#define LOCAL(name) CAT(name, _base)
#include "vector_math_kernels.h"
#include "bound_scan_kernels.h"
#undef LANES
#undef KERNEL
#undef LOCAL

// Which instantiation this CPU supports (decided once), and an optional cap for tests.
enum level { LEVEL_BASE = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 };
static int supported_level(void) {
    static int cached = -1;   // a benign race: every thread computes the same value
    if (cached < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            cached = LEVEL_AVX512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            cached = LEVEL_AVX2;
        else
            cached = LEVEL_BASE;
    }
    return cached;
}
static int level_cap = LEVEL_AVX512;
static int cpu_level(void) {
    int level = supported_level();
    return level < level_cap ? level : level_cap;
}
int pc_vector_level(void) { return cpu_level(); }
int pc_limit_vector_level(int level) {
    level_cap = level < 0 ? LEVEL_AVX512 : level;
    return cpu_level();
}
#define DISPATCH(name, ...)                                                  \
    switch (cpu_level()) {                                                   \
    case LEVEL_AVX512: return name##_avx512(__VA_ARGS__);                    \
    case LEVEL_AVX2: return name##_avx2(__VA_ARGS__);                        \
    default: return name##_base(__VA_ARGS__);                                \
    }

#else

#define LANES 4
#define KERNEL(name) CAT(name, _base)
#define LOCAL(name) CAT(name, _base)
#include "vector_math_kernels.h"
#include "bound_scan_kernels.h"
#define DISPATCH(name, ...) return name##_base(__VA_ARGS__);
int pc_vector_level(void) { return 0; }
int pc_limit_vector_level(int level) { (void)level; return 0; }

#endif

float pc_exp_shifted_row(float *p, ptrdiff_t count) { DISPATCH(pc_exp_shifted_row, p, count) }
void pc_gated_gelu(const float *a, const float *g, float *out, ptrdiff_t count) { DISPATCH(pc_gated_gelu, a, g, out, count) }
void pc_swish(float *p, ptrdiff_t count, float beta) { DISPATCH(pc_swish, p, count, beta) }
void pc_sigmoid(float *p, ptrdiff_t count) { DISPATCH(pc_sigmoid, p, count) }
void pc_gelu(float *p, ptrdiff_t count) { DISPATCH(pc_gelu, p, count) }
void pc_layer_norm_row(float *row, ptrdiff_t count, const float *gamma, const float *beta, float eps) {
    DISPATCH(pc_layer_norm_row, row, count, gamma, beta, eps)
}

#if defined(__x86_64__) && defined(__clang__)
// One group of 4 coordinates of 16 points (one 64-byte register) added to their bounds: saturating difference to
// the centre, |.| - 1 (saturating at 0), VPDPBUSD sums the 4 squares of each point into an int32 lane, then times
// the group's weight, multiplied and added separately as in the plain kernels.
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static inline __m512 bound_group_vnni(const int8_t *codes, const int8_t *centre, ptrdiff_t g, float weight, __m512 acc) {
    int32_t pattern;
    memcpy(&pattern, centre + g * 4, 4);
    __m512i diff = _mm512_subs_epi8(_mm512_loadu_si512(codes + g * 64), _mm512_set1_epi32(pattern));
    __m512i e = _mm512_subs_epu8(_mm512_abs_epi8(diff), _mm512_set1_epi8(1));
    __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), e, e);
    return _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sums), _mm512_set1_ps(weight)), acc);
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static ptrdiff_t pc_int8_bound_survivors_vnni(const int8_t *codes, ptrdiff_t groups, const int8_t *centre,
                                              const float *weight, const float *threshold,
                                              ptrdiff_t threshold_stride, ptrdiff_t first_block, ptrdiff_t end_block, int32_t *out) {
    ptrdiff_t w = 0;
    for (ptrdiff_t b = first_block; b < end_block; b++) {
        const int8_t *block = codes + b * groups * 64;
        __m512 acc = _mm512_setzero_ps();
        for (ptrdiff_t g = 0; g < groups; g++) acc = bound_group_vnni(block, centre, g, weight[g], acc);
        __m512 t = threshold_stride ? _mm512_loadu_ps(threshold + b * 16) : _mm512_set1_ps(threshold[0]);
        unsigned bits = _mm512_cmp_ps_mask(acc, t, _CMP_LE_OQ);
        while (bits) {
            out[w++] = (int32_t)(b * 16 + __builtin_ctz(bits));
            bits &= bits - 1;
        }
    }
    return w;
}

// pc_int8_bound_values with the survivors kernel's per-group arithmetic (bound_group_vnni), two blocks at a time (each
// block's sum is one chain of additions, so one block alone waits on their latency), and a running minimum
// per lane (the first lane holding the overall minimum, lowest index on ties, is taken at the end).
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static ptrdiff_t pc_int8_bound_values_vnni(const int8_t *codes, ptrdiff_t groups, const int8_t *centre,
                                           const float *weight, ptrdiff_t first_block, ptrdiff_t end_block,
                                           ptrdiff_t count, float *out) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i limit = _mm512_set1_epi32((int32_t)count);
    __m512 minValue = _mm512_set1_ps(INFINITY);
    __m512i minIndex = _mm512_set1_epi32(-1);
    for (ptrdiff_t b = first_block; b < end_block; b += 2) {
        int pair = b + 1 < end_block;
        const int8_t *block = codes + b * groups * 64;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (ptrdiff_t g = 0; g < groups; g++) {
            acc[0] = bound_group_vnni(block, centre, g, weight[g], acc[0]);
            if (pair) acc[1] = bound_group_vnni(block + groups * 64, centre, g, weight[g], acc[1]);
        }
        for (int k = 0; k <= pair; k++) {
            _mm512_storeu_ps(out + (b + k - first_block) * 16, acc[k]);
            __m512i index = _mm512_add_epi32(_mm512_set1_epi32((int32_t)((b + k) * 16)), lane);
            // Strictly smaller only: a lane keeps its earlier (lower) index on ties; padding (index >= count) never
            // wins.
            __mmask16 better = _mm512_cmp_ps_mask(acc[k], minValue, _CMP_LT_OQ) &
                               _mm512_cmp_epi32_mask(index, limit, _MM_CMPINT_LT);
            minValue = _mm512_mask_mov_ps(minValue, better, acc[k]);
            minIndex = _mm512_mask_mov_epi32(minIndex, better, index);
        }
    }
    float values[16];
    int32_t indices[16];
    _mm512_storeu_ps(values, minValue);
    _mm512_storeu_si512(indices, minIndex);
    ptrdiff_t best = -1;
    for (int p = 0; p < 16; p++) {
        if (indices[p] < 0) continue;
        if (best < 0 || values[p] < values[best] || (values[p] == values[best] && indices[p] < indices[best])) best = p;
    }
    return best < 0 ? -1 : indices[best];
}

__attribute__((target("avx512f")))
static ptrdiff_t pc_indices_at_most_mask(const float *values, ptrdiff_t count, float threshold, int32_t *out) {
    ptrdiff_t w = 0, i = 0;
    const __m512 t = _mm512_set1_ps(threshold);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= count; i += 16) {
        __mmask16 bits = _mm512_cmp_ps_mask(_mm512_loadu_ps(values + i), t, _CMP_LE_OQ);
        // Compress in a register and store all 16 lanes (out has room for count entries plus 16), with no branch:
        // the memory form of vpcompressd is slow on some CPUs, and branches on the bits mispredict.
        __m512i index = _mm512_add_epi32(_mm512_set1_epi32((int32_t)i), lane);
        _mm512_storeu_si512(out + w, _mm512_maskz_compress_epi32(bits, index));
        w += __builtin_popcount(bits);
    }
    for (; i < count; i++) if (values[i] <= threshold) out[w++] = (int32_t)i;
    return w;
}

// pc_int8_dot_table: 4 queries x 2 blocks of 16 points at a time, so each 64-byte load of codes feeds 4 VPDPBUSD
// (one per query, its 4 bytes broadcast) and the 8 integer sums stay in registers across the groups. A missing
// query repeats the last one and a missing block the first (neither is stored).
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void pc_int8_dot_table_vnni(const int8_t *codes, ptrdiff_t groups, const int8_t *shift,
                                   const uint8_t *queries, ptrdiff_t nq, const int32_t *query_term,
                                   const int32_t *row_term, float unit2, ptrdiff_t first_block, ptrdiff_t end_block,
                                   ptrdiff_t count, float *out, ptrdiff_t stride, int32_t *argmin) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i limit = _mm512_set1_epi32((int32_t)count);
    const __m512 scale = _mm512_set1_ps(unit2);
    for (ptrdiff_t r0 = 0; r0 < nq; r0 += 4) {
        const uint8_t *u[4];
        __m512i qt[4];
        for (int k = 0; k < 4; k++) {
            ptrdiff_t r = r0 + k < nq ? r0 + k : nq - 1;
            u[k] = queries + r * groups * 4;
            qt[k] = _mm512_set1_epi32(query_term[r]);
        }
        __m512 minValue[4];
        __m512i minIndex[4];
        for (int k = 0; k < 4; k++) { minValue[k] = _mm512_set1_ps(INFINITY); minIndex[k] = _mm512_set1_epi32(-1); }
        for (ptrdiff_t b = first_block; b < end_block; b += 2) {
            int pair = b + 1 < end_block;
            const int8_t *block0 = codes + b * groups * 64;
            const int8_t *block1 = pair ? block0 + groups * 64 : block0;
            __m512i acc[4][2];
            for (int k = 0; k < 4; k++) { acc[k][0] = _mm512_setzero_si512(); acc[k][1] = _mm512_setzero_si512(); }
            for (ptrdiff_t g = 0; g < groups; g++) {
                if (shift[g]) {
                    __m128i count128 = _mm_cvtsi32_si128(shift[g]);
                    for (int k = 0; k < 4; k++) {
                        acc[k][0] = _mm512_sll_epi32(acc[k][0], count128);
                        acc[k][1] = _mm512_sll_epi32(acc[k][1], count128);
                    }
                }
                __m512i c0 = _mm512_loadu_si512(block0 + g * 64), c1 = _mm512_loadu_si512(block1 + g * 64);
                for (int k = 0; k < 4; k++) {
                    int32_t pattern;
                    memcpy(&pattern, u[k] + g * 4, 4);
                    __m512i q = _mm512_set1_epi32(pattern);
                    acc[k][0] = _mm512_dpbusd_epi32(acc[k][0], q, c0);
                    acc[k][1] = _mm512_dpbusd_epi32(acc[k][1], q, c1);
                }
            }
            for (int h = 0; h <= pair; h++) {
                __m512i rows = _mm512_loadu_si512(row_term + (b + h) * 16);
                __m512i index = _mm512_add_epi32(_mm512_set1_epi32((int32_t)((b + h) * 16)), lane);
                __mmask16 inside = _mm512_cmp_epi32_mask(index, limit, _MM_CMPINT_LT);
                for (int k = 0; k < 4 && r0 + k < nq; k++) {
                    __m512i sum = _mm512_sub_epi32(_mm512_add_epi32(qt[k], rows), _mm512_slli_epi32(acc[k][h], 1));
                    __m512 v = _mm512_mul_ps(scale, _mm512_cvtepi32_ps(sum));
                    _mm512_storeu_ps(out + (r0 + k) * stride + (b + h - first_block) * 16, v);
                    // Strictly smaller only: a lane keeps its earlier (lower) index on ties.
                    __mmask16 better = _mm512_cmp_ps_mask(v, minValue[k], _CMP_LT_OQ) & inside;
                    minValue[k] = _mm512_mask_mov_ps(minValue[k], better, v);
                    minIndex[k] = _mm512_mask_mov_epi32(minIndex[k], better, index);
                }
            }
        }
        for (int k = 0; k < 4 && r0 + k < nq; k++) {
            float values[16];
            int32_t indices[16];
            _mm512_storeu_ps(values, minValue[k]);
            _mm512_storeu_si512(indices, minIndex[k]);
            int best = -1;
            for (int p = 0; p < 16; p++) {
                if (indices[p] < 0) continue;
                if (best < 0 || values[p] < values[best] || (values[p] == values[best] && indices[p] < indices[best]))
                    best = p;
            }
            argmin[r0 + k] = best < 0 ? -1 : indices[best];
        }
    }
}

__attribute__((target("avx512f")))
static ptrdiff_t pc_indices_within_mask(const float *values, const float *slack, ptrdiff_t count, float c,
                                        int32_t *out) {
    ptrdiff_t w = 0, i = 0;
    const __m512 cv = _mm512_set1_ps(c);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= count; i += 16) {
        __m512 t = _mm512_add_ps(cv, _mm512_loadu_ps(slack + i));
        __mmask16 bits = _mm512_cmp_ps_mask(_mm512_loadu_ps(values + i), _mm512_mul_ps(t, t), _CMP_LE_OQ);
        // Most blocks of 16 keep no row here (well under 1% of rows pass), so the branch predicts well and the
        // compress is skipped.
        if (bits) {
            __m512i index = _mm512_add_epi32(_mm512_set1_epi32((int32_t)i), lane);
            _mm512_storeu_si512(out + w, _mm512_maskz_compress_epi32(bits, index));
            w += __builtin_popcount(bits);
        }
    }
    for (; i < count; i++) {
        float t = c + slack[i];
        if (values[i] <= t * t) out[w++] = (int32_t)i;
    }
    return w;
}

static int has_vnni(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    }
    return cached;
}
#endif

ptrdiff_t pc_int8_bound_survivors(const int8_t *codes, ptrdiff_t groups, const int8_t *centre, const float *weight,
                                  const float *threshold, ptrdiff_t threshold_stride, ptrdiff_t first_block,
                                  ptrdiff_t end_block, int32_t *out) {
#if defined(__x86_64__) && defined(__clang__)
    if (cpu_level() == LEVEL_AVX512 && has_vnni())
        return pc_int8_bound_survivors_vnni(codes, groups, centre, weight, threshold, threshold_stride, first_block,
                                            end_block, out);
#endif
    DISPATCH(pc_int8_bound_survivors, codes, groups, centre, weight, threshold, threshold_stride, first_block, end_block,
             out)
}

ptrdiff_t pc_int8_bound_values(const int8_t *codes, ptrdiff_t groups, const int8_t *centre, const float *weight,
                               ptrdiff_t first_block, ptrdiff_t end_block, ptrdiff_t count, float *out) {
#if defined(__x86_64__) && defined(__clang__)
    if (cpu_level() == LEVEL_AVX512 && has_vnni())
        return pc_int8_bound_values_vnni(codes, groups, centre, weight, first_block, end_block, count, out);
#endif
    DISPATCH(pc_int8_bound_values, codes, groups, centre, weight, first_block, end_block, count, out)
}

void pc_int8_dot_table(const int8_t *codes, ptrdiff_t groups, const int8_t *shift, const uint8_t *queries,
                       ptrdiff_t nq, const int32_t *query_term, const int32_t *row_term, float unit2,
                       ptrdiff_t first_block, ptrdiff_t end_block, ptrdiff_t count, float *out, ptrdiff_t stride,
                       int32_t *argmin) {
#if defined(__x86_64__) && defined(__clang__)
    if (cpu_level() == LEVEL_AVX512 && has_vnni()) {
        pc_int8_dot_table_vnni(codes, groups, shift, queries, nq, query_term, row_term, unit2, first_block, end_block,
                               count, out, stride, argmin);
        return;
    }
#endif
#if defined(__x86_64__) && defined(__clang__)
    switch (cpu_level()) {
    case LEVEL_AVX512:
        pc_int8_dot_table_avx512(codes, groups, shift, queries, nq, query_term, row_term, unit2, first_block,
                                 end_block, count, out, stride, argmin);
        return;
    case LEVEL_AVX2:
        pc_int8_dot_table_avx2(codes, groups, shift, queries, nq, query_term, row_term, unit2, first_block, end_block,
                               count, out, stride, argmin);
        return;
    default: break;
    }
#endif
    pc_int8_dot_table_base(codes, groups, shift, queries, nq, query_term, row_term, unit2, first_block, end_block,
                           count, out, stride, argmin);
}

ptrdiff_t pc_indices_within(const float *values, const float *slack, ptrdiff_t count, float c, int32_t *out) {
#if defined(__x86_64__) && defined(__clang__)
    if (cpu_level() == LEVEL_AVX512) return pc_indices_within_mask(values, slack, count, c, out);
#endif
    DISPATCH(pc_indices_within, values, slack, count, c, out)
}

ptrdiff_t pc_indices_at_most(const float *values, ptrdiff_t count, float threshold, int32_t *out) {
#if defined(__x86_64__) && defined(__clang__)
    if (cpu_level() == LEVEL_AVX512) return pc_indices_at_most_mask(values, count, threshold, out);
#endif
    DISPATCH(pc_indices_at_most, values, count, threshold, out)
}

float pc_squared_distance(const float *a, const float *b, ptrdiff_t n) { DISPATCH(pc_squared_distance, a, b, n) }

void pc_squared_distances(const float *a, const float *rows, ptrdiff_t n, const int32_t *index, ptrdiff_t count,
                          ptrdiff_t offset, float *out) {
#if defined(__x86_64__) && defined(__clang__)
    switch (cpu_level()) {
    case LEVEL_AVX512: pc_squared_distances_avx512(a, rows, n, index, count, offset, out); return;
    case LEVEL_AVX2: pc_squared_distances_avx2(a, rows, n, index, count, offset, out); return;
    default: break;
    }
#endif
    pc_squared_distances_base(a, rows, n, index, count, offset, out);
}

