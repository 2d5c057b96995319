#ifndef PATCHCORE_VECTOR_MATH_H
#define PATCHCORE_VECTOR_MATH_H

// Elementwise kernels around the GEMMs (softmax rows, SiLU / GELU / quick_gelu, GEGLU), compiled once per x86
// instruction set level and picked at load time (target_clones): Swift itself compiles for baseline x86-64
// (4-wide SSE, no FMA), too narrow for SD's attention softmax; see bench/DESIGN_NOTES.md#vector-math.
// The polynomials are those of TensorCore/FastMath.swift (Cephes expf, Abramowitz & Stegun erf).

#include <stddef.h>

/// p[j] = exp(p[j] - max_j p[j]) in place for `count` floats; returns 1 / sum (0, with the row zeroed, when every
/// entry is -inf).
float pc_exp_shifted_row(float *p, ptrdiff_t count);

/// out[i] = a[i] * gelu(g[i]) with exact GELU (erf form): diffusers' GEGLU.
void pc_gated_gelu(const float *a, const float *g, float *out, ptrdiff_t count);

/// In place: x * sigmoid(x * beta) (SiLU for beta = 1, CLIP's quick_gelu for beta = 1.702).
void pc_swish(float *p, ptrdiff_t count, float beta);

/// In place: 1 / (1 + exp(-x)).
void pc_sigmoid(float *p, ptrdiff_t count);

/// In place: exact GELU 0.5 x (1 + erf(x / sqrt 2)).
void pc_gelu(float *p, ptrdiff_t count);

/// In place: (row - mean) / sqrt(var + eps) * gamma + beta over `count` floats (gamma, beta may be NULL), with the
/// mean and the biased variance accumulated in double, in two passes.
void pc_layer_norm_row(float *row, ptrdiff_t count, const float *gamma, const float *beta, float eps);

/// The instruction set level the kernels run at: 2 = AVX-512, 1 = AVX2 + FMA, 0 = baseline.
int pc_vector_level(void);

/// Caps the level at `level` (clamped to what the CPU supports) and returns the level now in effect; -1 removes the
/// cap. For tests that check every instantiation; not meant to be changed while kernels run on other threads.
int pc_limit_vector_level(int level);

#endif
