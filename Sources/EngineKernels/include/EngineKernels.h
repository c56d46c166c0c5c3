// The engine's inner loops, compiled three times from one source (KernelBody.h): for x86-64's baseline
// (SSE2), for AVX2 + FMA + F16C and for AVX-512 (F, VL), with the choice made at run time from the CPU
// (cpuid), so a binary built anywhere runs on any x86-64 host. Everything here trusts its arguments: the Swift
// callers (Engine, compiled with Swift's checks) validate shapes and sizes before they call.
#ifndef ENGINE_KERNELS_H
#define ENGINE_KERNELS_H
#include <stddef.h>

/// GGML block types the quantized kernels take (GGMLType's raw values).
enum { EK_Q4_0 = 2, EK_Q4_1 = 3, EK_Q8_0 = 8 };

// Every pointer here is non-null (Swift sees no optionals) except where _Nullable says otherwise.
#pragma clang assume_nonnull begin

/// One set of kernels (all of one instruction set).
typedef struct ek_kernels {
    /// "avx512", "avx2" or "portable".
    const char *name;
    /// The activation layout `quant_rows` reads for two or more tokens: `permute`'s `split` argument
    /// (1: the split layout; 0: block order, as for one token).
    int batch_split;

    /// Rows r0..<r1 of Y = W·X for `n` tokens. `w`: quantized rows of `cols` weights, `row_bytes` apart;
    /// `x`: n rows of `cols` floats, permuted by `permute` (split = n > 1); `y[t * rows + r]` is written.
    /// `scratch`: 4 * cols floats, 32-byte aligned.
    void (*quant_rows)(int type, const void *w, long row_bytes, long cols, const float *x, long n,
                       float *y, long rows, long r0, long r1, float *scratch);
    /// Copies `count` floats (whole 32-blocks) into the order the quantized kernels read; `split`
    /// puts quarters 0 and 2 of every block in the first half and 1 and 3 in the second.
    void (*permute)(const float *src, long count, float *dst, int split);
    /// Σ a[i]·b[i].
    float (*dot)(const float *a, const float *b, long n);
    /// y[i] += a·x[i].
    void (*axpy)(float a, const float *x, float *y, long n);
    /// The 6×16 F32 tile of the embedding GEMM: C (+)= A·B over kc (A packed 6 floats per k, B 16 per
    /// k, 32-byte aligned); starts from `bias` when not null, else from C; GELU (erf form) if `gelu`.
    void (*gemm6x16)(long kc, const float *a, const float *b, float *c, long ldc, const float *_Nullable bias, int gelu);
    /// LayerNorm of one row in place: (x - mean) / sqrt(var + eps) · gamma + beta.
    void (*layer_norm)(float *row, long width, const float *gamma, const float *beta, float eps);
    /// Scores of two queries against all `np` keys (a multiple of 32) of Kᵀ (`head_dim` rows of np
    /// floats), times `scale`: s1 is written before s0 (they may be the same row).
    void (*attention_scores)(const float *q0, const float *q1, const float *kt, long np, long head_dim,
                             float scale, float *s0, float *s1);
    /// row[j] = e^(row[j] - max) for j < n rounded up to 8 (the row has room), x ≤ 0 after the shift.
    void (*exp_shifted)(float *row, long n, float max);
    /// Outputs of two queries: o[d] = Σ_j p[j]·v_j[d] · inverse sum, for d < head_dim (a multiple of
    /// 32), value rows `v_stride` floats apart; o1 is written before o0.
    void (*attention_values)(const float *p0, const float *p1, const float *v, long v_stride, long n,
                             long head_dim, float inv0, float inv1, float *o0, float *o1);
    /// Causal attention's scores for `nq` query heads (`q_stride` floats apart) that share one key head:
    /// s[h·s_stride + j] = (q_h · k_j)·scale for the `len` keys k_j = k + j·kv_stride, each dot product
    /// summed as `dot` sums it.
    void (*gqa_scores)(const float *q, long nq, long q_stride, const float *k, long kv_stride, long len, long head_dim,
                       float scale, float *s, long s_stride);
    /// Their outputs: o_h = Σ_j p[h·p_stride + j]·v_j over the `len` values v_j = v + j·kv_stride, in
    /// order of j from zero, as `axpy` would add them one by one; written to o + h·o_stride.
    void (*gqa_values)(const float *p, long nq, long p_stride, const float *v, long kv_stride, long len, long head_dim,
                       float *o, long o_stride);
} ek_kernels;

/// The kernels to use, the most capable this CPU (and the OS) supports up to `ceiling`: 0 any
/// (AVX-512, else AVX2, else baseline), 2 AVX2 at most, 1 the baseline ones.
const ek_kernels *ek_select(int ceiling);

/// The AVX2 set, or null when this CPU lacks one of AVX2, FMA, F16C (tests compare the two).
const ek_kernels *_Nullable ek_avx2(void);

/// The AVX-512 set (AVX-512 F and VL besides the AVX2 set's AVX2, FMA, F16C), or null without them.
/// It computes exactly what the AVX2 set does, bit for bit: only the batched product differs.
const ek_kernels *_Nullable ek_avx512(void);

/// The baseline x86-64 set (runs on every x86-64 CPU).
const ek_kernels *ek_portable(void);

#pragma clang assume_nonnull end

#endif
