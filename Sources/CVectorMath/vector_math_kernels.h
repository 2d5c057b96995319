// One instantiation of the kernels per instruction set: vector_math.c includes this file with LANES, KERNEL(name)
// and LOCAL(name) defined and a target attribute pushed, so every helper is compiled (and inlined) for that target.
// No include guard on purpose.

#define vfloat LOCAL(vfloat)
#define vint LOCAL(vint)
#define vdouble LOCAL(vdouble)
typedef float vfloat __attribute__((ext_vector_type(LANES)));
typedef double vdouble __attribute__((ext_vector_type(LANES)));
typedef int vint __attribute__((ext_vector_type(LANES)));

static inline vfloat LOCAL(load)(const float *p) { vfloat v; memcpy(&v, p, sizeof v); return v; }
static inline void LOCAL(store)(float *p, vfloat v) { memcpy(p, &v, sizeof v); }
static inline vfloat LOCAL(splat)(float x) { return (vfloat)(x); }
// Lane sum (float adds are not reassociated by __builtin_reduce_add).
static inline float LOCAL(sum_lanes)(vfloat v) {
    float s = 0;
    for (int k = 0; k < LANES; k++) s += v[k];
    return s;
}

// e^c for c already clamped to [-87.33, 88.7]: round c / ln 2 to n with the 1.5 * 2^23 trick, reduce with ln 2 in
// two parts, degree-6 polynomial, scale by 2^n built in the exponent bits.
static inline vfloat LOCAL(exp_clamped)(vfloat c) {
    vfloat shifted = c * 1.44269504088896341f + 12582912.0f;
    vfloat n = shifted - 12582912.0f;
    vfloat r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vfloat p = LOCAL(splat)(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    vfloat y = p * (r * r) + r + 1.0f;
    vint bits = (__builtin_bit_cast(vint, shifted) - 0x4B400000 + 127) << 23;
    return y * __builtin_bit_cast(vfloat, bits);
}

static inline vfloat LOCAL(clamp)(vfloat x, float lo, float hi) {
    return __builtin_elementwise_min(__builtin_elementwise_max(x, LOCAL(splat)(lo)), LOCAL(splat)(hi));
}

// e^x with 0 below -87.33 (FastMath.swift's fastExp).
static inline vfloat LOCAL(exp_full)(vfloat x) {
    vfloat v = LOCAL(exp_clamped)(LOCAL(clamp)(x, -87.33f, 88.7f));
    return x < -87.33f ? LOCAL(splat)(0) : v;
}

static inline vfloat LOCAL(erf_as)(vfloat x) {
    vfloat a = __builtin_elementwise_abs(x);
    vfloat t = 1.0f / (1.0f + 0.3275911f * a);
    vfloat p = LOCAL(splat)(1.061405429f);
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    vfloat y = 1.0f - p * t * LOCAL(exp_full)(-(a * a));
    return x < 0.0f ? -y : y;
}


static float KERNEL(pc_exp_shifted_row)(float *p, ptrdiff_t count) {
    vfloat m = LOCAL(splat)(-INFINITY);
    ptrdiff_t i = 0;
    for (; i + LANES <= count; i += LANES) m = __builtin_elementwise_max(m, LOCAL(load)(p + i));
    float mx = __builtin_reduce_max(m);
    for (; i < count; i++) mx = p[i] > mx ? p[i] : mx;
    if (mx == -INFINITY) { memset(p, 0, (size_t)count * sizeof(float)); return 0; }
    vfloat s = LOCAL(splat)(0);
    for (i = 0; i + LANES <= count; i += LANES) {
        vfloat e = LOCAL(exp_clamped)(__builtin_elementwise_max(LOCAL(load)(p + i) - mx, LOCAL(splat)(-87.33f)));
        LOCAL(store)(p + i, e);
        s += e;
    }
    float sum = LOCAL(sum_lanes)(s);
    if (i < count) {
        float tail[LANES];
        ptrdiff_t rest = count - i;
        memcpy(tail, p + i, (size_t)rest * sizeof(float));
        vfloat e = LOCAL(exp_clamped)(__builtin_elementwise_max(LOCAL(load)(tail) - mx, LOCAL(splat)(-87.33f)));
        LOCAL(store)(tail, e);
        for (ptrdiff_t j = 0; j < rest; j++) sum += tail[j];
        memcpy(p + i, tail, (size_t)rest * sizeof(float));
    }
    return 1.0f / sum;
}

static void KERNEL(pc_gated_gelu)(const float *a, const float *g, float *out, ptrdiff_t count) {
    ptrdiff_t i = 0;
    for (; i + LANES <= count; i += LANES) {
        vfloat gv = LOCAL(load)(g + i);
        LOCAL(store)(out + i, LOCAL(load)(a + i) * (0.5f * gv * (1.0f + LOCAL(erf_as)(gv * 0.70710678118654752f))));
    }
    if (i < count) {
        float ta[LANES] = {0}, tg[LANES] = {0};
        ptrdiff_t rest = count - i;
        memcpy(ta, a + i, (size_t)rest * sizeof(float));
        memcpy(tg, g + i, (size_t)rest * sizeof(float));
        vfloat gv = LOCAL(load)(tg);
        LOCAL(store)(ta, LOCAL(load)(ta) * (0.5f * gv * (1.0f + LOCAL(erf_as)(gv * 0.70710678118654752f))));
        memcpy(out + i, ta, (size_t)rest * sizeof(float));
    }
}

// Applies f to every float of p in place, a padded vector for the tail.
#define IN_PLACE(p, count, f)                                            \
    do {                                                                 \
        ptrdiff_t i_ = 0;                                                \
        for (; i_ + LANES <= (count); i_ += LANES) {                     \
            vfloat x = LOCAL(load)((p) + i_);                                   \
            LOCAL(store)((p) + i_, f);                                          \
        }                                                                \
        if (i_ < (count)) {                                              \
            float t_[LANES] = {0};                                       \
            ptrdiff_t rest_ = (count) - i_;                              \
            memcpy(t_, (p) + i_, (size_t)rest_ * sizeof(float));         \
            vfloat x = LOCAL(load)(t_);                                         \
            LOCAL(store)(t_, f);                                                \
            memcpy((p) + i_, t_, (size_t)rest_ * sizeof(float));         \
        }                                                                \
    } while (0)

static void KERNEL(pc_swish)(float *p, ptrdiff_t count, float beta) {
    IN_PLACE(p, count, x / (1.0f + LOCAL(exp_full)(-beta * x)));
}

static void KERNEL(pc_sigmoid)(float *p, ptrdiff_t count) {
    IN_PLACE(p, count, 1.0f / (1.0f + LOCAL(exp_full)(-x)));
}

static void KERNEL(pc_gelu)(float *p, ptrdiff_t count) {
    IN_PLACE(p, count, 0.5f * x * (1.0f + LOCAL(erf_as)(x * 0.70710678118654752f)));
}
static void KERNEL(pc_layer_norm_row)(float *row, ptrdiff_t count, const float *gamma, const float *beta, float eps) {
    // Statistics in double, two passes (mean, then centred squares): no cancellation on long rows.
    vdouble s = (vdouble)(0.0);
    ptrdiff_t i = 0;
    for (; i + LANES <= count; i += LANES) s += __builtin_convertvector(LOCAL(load)(row + i), vdouble);
    double sum = 0;
    for (int k = 0; k < LANES; k++) sum += s[k];
    for (; i < count; i++) sum += row[i];
    double mean = sum / (double)count;
    vdouble q = (vdouble)(0.0);
    for (i = 0; i + LANES <= count; i += LANES) {
        vdouble d = __builtin_convertvector(LOCAL(load)(row + i), vdouble) - mean;
        q += d * d;
    }
    double sq = 0;
    for (int k = 0; k < LANES; k++) sq += q[k];
    for (; i < count; i++) { double d = row[i] - mean; sq += d * d; }
    float inv = (float)(1.0 / sqrt(sq / (double)count + (double)eps));
    float m = (float)mean;
    for (i = 0; i + LANES <= count; i += LANES) {
        vfloat v = (LOCAL(load)(row + i) - m) * inv;
        if (gamma) v *= LOCAL(load)(gamma + i);
        if (beta) v += LOCAL(load)(beta + i);
        LOCAL(store)(row + i, v);
    }
    for (; i < count; i++) {
        float v = (row[i] - m) * inv;
        if (gamma) v *= gamma[i];
        if (beta) v += beta[i];
        row[i] = v;
    }
}

#undef vfloat
#undef vint
#undef vdouble
