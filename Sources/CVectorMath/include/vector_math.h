#ifndef PATCHCORE_VECTOR_MATH_H
#define PATCHCORE_VECTOR_MATH_H

// Elementwise kernels around the GEMMs (softmax rows, SiLU / GELU / quick_gelu, GEGLU), compiled once per x86
// instruction set level and picked at load time (target_clones): Swift itself compiles for baseline x86-64
// (4-wide SSE, no FMA), too narrow for SD's attention softmax; see bench/DESIGN_NOTES.md#vector-math.
// The polynomials are those of TensorCore/FastMath.swift (Cephes expf, Abramowitz & Stegun erf).

#include <stddef.h>
#include <stdint.h>

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

/// The int8 lower-bound scan of the greedy coreset and of the exact 1-NN search (MemoryBank/Int8BoundCodes.swift). Points come in blocks of 16 and
/// their coordinates in groups of 4, as int8 codes on a grid of step s_g per group: codes[(b * groups + g) * 64
/// + p * 4 + j] is coordinate 4 g + j of point 16 b + p. For each point of the blocks [first_block, end_block),
///     L = sum_g weight[g] * sum_j e_j^2,  e_j = max(0, |sat8(q_j - centre[4 g + j])| - 1)
/// (sat8: clamped to [-128, 127]); with weight[g] <= s_g^2 and every code within s_g / 2 of its value, L is a
/// lower bound on the squared distance over those coordinates. Writes the index of every point with
/// L <= threshold[point * threshold_stride] to out, in index order, and returns how many (threshold_stride 1: one
/// threshold per point, padded like the codes; 0: threshold[0] for all).
ptrdiff_t pc_int8_bound_survivors(const int8_t *codes, ptrdiff_t groups, const int8_t *centre, const float *weight,
                                  const float *threshold, ptrdiff_t threshold_stride, ptrdiff_t first_block,
                                  ptrdiff_t end_block, int32_t *out);

/// The same bound L for every point of the blocks [first_block, end_block), written to out[point - 16 * first_block]
/// (padding points too); returns the index of the smallest L among the points below `count` (smallest index on
/// ties), or -1 when there is none. For the exact 1-NN search, which takes a first neighbour there per bank tile.
ptrdiff_t pc_int8_bound_values(const int8_t *codes, ptrdiff_t groups, const int8_t *centre, const float *weight,
                               ptrdiff_t first_block, ptrdiff_t end_block, ptrdiff_t count, float *out);

/// The dot-product form of the int8 bound, for the exact 1-NN search (MemoryBank/QuantizedSearch.swift): codes laid
/// out as above, on grid steps that are the largest one over a power of 2 (scale classes), so that one integer sum
/// weighs every group. For each of `nq` queries r (its codes offset to unsigned, u = q + 128, groups * 4 bytes at
/// queries + r * groups * 4) and each point i of the blocks [first_block, end_block):
///     dot = Horner over the groups: dot = (dot << shift[g]) + sum_j u[4 g + j] * code_i[4 g + j]
///     out[r * stride + i - 16 * first_block] = unit2 * (float)(query_term[r] + row_term[i] - 2 * dot)
/// With weight 4^(K - class g), query_term = sum w q^2 and row_term = sum w (b^2 + 256 b), this is unit^2 * sum_g
/// w_g sum_j (q_j - b_j)^2: the exact squared distance between the two coded points (integer arithmetic, one
/// rounding). argmin[r] gets the point below `count` with the smallest value (smallest index on ties), or -1.
/// Every instantiation computes the same values bit for bit (AVX-512 VNNI where the CPU has it).
void pc_int8_dot_table(const int8_t *codes, ptrdiff_t groups, const int8_t *shift, const uint8_t *queries,
                       ptrdiff_t nq, const int32_t *query_term, const int32_t *row_term, float unit2,
                       ptrdiff_t first_block, ptrdiff_t end_block, ptrdiff_t count, float *out, ptrdiff_t stride,
                       int32_t *argmin);

/// Writes the index i of every values[i] <= (c + slack[i])^2 (0 <= i < count; the sum and the square each rounded
/// once, no fused multiply-add) to out, in index order; returns how many. out has room for count + 16 entries.
ptrdiff_t pc_indices_within(const float *values, const float *slack, ptrdiff_t count, float c, int32_t *out);

/// Writes the index i of every values[i] <= threshold (0 <= i < count) to out, in index order; returns how many.
/// out must have room for count + 16 entries (whole vectors are stored past the last one written).
ptrdiff_t pc_indices_at_most(const float *values, ptrdiff_t count, float threshold, int32_t *out);

/// sum_i (a_i - b_i)^2 with the exact operation order of MemoryBank's Swift `squaredDistance` (16 lanes, no fused
/// multiply-add, pairwise lane sum, scalar tail): bit for bit the same value, computed in the widest registers.
float pc_squared_distance(const float *a, const float *b, ptrdiff_t n);

/// out[k] = pc_squared_distance(a, rows + (offset + index[k]) * n, n) for k < count (the same bits), with the next
/// rows requested from memory while each is summed.
void pc_squared_distances(const float *a, const float *rows, ptrdiff_t n, const int32_t *index, ptrdiff_t count,
                          ptrdiff_t offset, float *out);

/// The instruction set level the kernels run at: 2 = AVX-512, 1 = AVX2 + FMA, 0 = baseline.
int pc_vector_level(void);

/// Caps the level at `level` (clamped to what the CPU supports) and returns the level now in effect; -1 removes the
/// cap. For tests that check every instantiation; not meant to be changed while kernels run on other threads.
int pc_limit_vector_level(int level);

#endif
