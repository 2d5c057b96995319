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
// Per group of 4 coordinates and 16 points, one 64-byte register: saturating difference to the centre, |.| - 1
// (saturating at 0), and VPDPBUSD sums the 4 squares of each point into an int32 lane.
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static ptrdiff_t pc_int8_bound_survivors_vnni(const int8_t *codes, ptrdiff_t groups, const int8_t *centre,
                                              const float *weight, const float *threshold,
                                              ptrdiff_t threshold_stride, ptrdiff_t first_block, ptrdiff_t end_block, int32_t *out) {
    ptrdiff_t w = 0;
    const __m512i one = _mm512_set1_epi8(1);
    for (ptrdiff_t b = first_block; b < end_block; b++) {
        const int8_t *block = codes + b * groups * 64;
        __m512 acc = _mm512_setzero_ps();
        for (ptrdiff_t g = 0; g < groups; g++) {
            int32_t pattern;
            memcpy(&pattern, centre + g * 4, 4);
            __m512i diff = _mm512_subs_epi8(_mm512_loadu_si512(block + g * 64), _mm512_set1_epi32(pattern));
            __m512i e = _mm512_subs_epu8(_mm512_abs_epi8(diff), one);
            __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), e, e);
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_set1_ps(weight[g]), acc);
        }
        __m512 t = threshold_stride ? _mm512_loadu_ps(threshold + b * 16) : _mm512_set1_ps(threshold[0]);
        unsigned bits = _mm512_cmp_ps_mask(acc, t, _CMP_LE_OQ);
        while (bits) {
            out[w++] = (int32_t)(b * 16 + __builtin_ctz(bits));
            bits &= bits - 1;
        }
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
