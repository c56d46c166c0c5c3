// The kernels' one source, included twice by EngineKernels.c with
//   EK_ATTR   the function attribute of the instruction set (target("avx2,fma,f16c") or nothing),
//   EK_NAME   a suffix macro (name_avx2, name_portable),
//   EK_AVX2   1 in the AVX2 copy: a·b + c is one fused multiply-add, halves convert with F16C;
//             0 in the baseline copy: a multiply then an add, halves converted in software.
// Every helper is `static inline` with EK_ATTR and always_inline, so each copy is compiled whole for
// its own instruction set and nothing of the AVX2 copy can be shared with (or called from) the other.
//
// The sums follow the Swift kernels they replace: per (row, token) two accumulators, a for the even
// and b for the odd quarters of each 32-block, in block order, then hsum(a + b) — the same in every
// kernel shape, so a sequence's results are bit-for-bit the same alone or in any batch.

#define EK_FN static inline __attribute__((always_inline)) EK_ATTR

EK_FN v8f EK_NAME(madd)(v8f a, v8f b, v8f c) {
#if EK_AVX2
    return __builtin_elementwise_fma(a, b, c);
#else
    return a * b + c;
#endif
}

EK_FN float EK_NAME(hsum)(v8f v) {
    v4f a = v.lo + v.hi;
    v2f b = a.lo + a.hi;
    return b.x + b.y;
}

/// The two halves at p and p + 2 as floats: a block's d (and m for Q4_1).
EK_FN v2f EK_NAME(scales)(const unsigned char *p) {
#if EK_AVX2
    unsigned bits;
    memcpy(&bits, p, 4);
    __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)bits));
    return (v2f){f[0], f[1]};
#else
    unsigned short h[2];
    memcpy(h, p, 4);
    return (v2f){ek_half(h[0]), ek_half(h[1])};
#endif
}

/// The 32 nibbles of a Q4 block's 16 bytes as floats 0...15, quarter k holding elements 4w+k.
EK_FN void EK_NAME(nibbles)(const unsigned char *qs, v8f q[4]) {
    v4u v4;
    memcpy(&v4, qs, 16);
    v8u v = __builtin_shufflevector(v4, v4, 0, 1, 2, 3, 4, 5, 6, 7) >> (v8u){0, 0, 0, 0, 4, 4, 4, 4};
    const v8u mask = (v8u)15, magic = (v8u)0x4B000000u;
    const v8f magicf = (v8f)8388608.0f;
    q[0] = (v8f)((v & mask) | magic) - magicf;
    q[1] = (v8f)(((v >> 8) & mask) | magic) - magicf;
    q[2] = (v8f)(((v >> 16) & mask) | magic) - magicf;
    q[3] = (v8f)(((v >> 24) & mask) | magic) - magicf;
}

/// The 32 signed bytes of a Q8_0 block as floats, in the same quarter order.
EK_FN void EK_NAME(bytes)(const unsigned char *qs, v8f q[4]) {
    v8u v;
    memcpy(&v, qs, 32);
    const v8i magic = (v8i)0x4B400000;
    const v8f magicf = (v8f)12582912.0f;
    q[0] = (v8f)(((v8i)(v << 24) >> 24) + magic) - magicf;
    q[1] = (v8f)(((v8i)(v << 16) >> 24) + magic) - magicf;
    q[2] = (v8f)(((v8i)(v << 8) >> 24) + magic) - magicf;
    q[3] = (v8f)(((v8i)v >> 24) + magic) - magicf;
}

EK_FN long EK_NAME(block_bytes)(int type) {
    return type == EK_Q4_1 ? 20 : type == EK_Q4_0 ? 18 : 34;
}

/// One block's 32 weights, quarter order.
EK_FN void EK_NAME(decode)(int type, const unsigned char *blk, v8f w[4]) {
    v8f q[4];
    if (type == EK_Q4_1) {
        v2f dm = EK_NAME(scales)(blk);
        v8f d = (v8f)dm.x, m = (v8f)dm.y;
        EK_NAME(nibbles)(blk + 4, q);
        for (int k = 0; k < 4; k++) w[k] = EK_NAME(madd)(q[k], d, m);
    } else if (type == EK_Q4_0) {
        v8f d = (v8f)EK_NAME(scales)(blk).x;
        EK_NAME(nibbles)(blk + 2, q);
        v8f c = d * -8.0f;  // (q - 8)·d as one FMA: -8·d is exact
        for (int k = 0; k < 4; k++) w[k] = EK_NAME(madd)(q[k], d, c);
    } else {
        v8f d = (v8f)EK_NAME(scales)(blk).x;
        EK_NAME(bytes)(blk + 2, q);
        for (int k = 0; k < 4; k++) w[k] = q[k] * d;
    }
}

/// One row (decoded block by block into registers) times one token in quarter order.
EK_FN float EK_NAME(one_row)(int type, const unsigned char *row, const float *x, long cols) {
    v8f a = 0, b = 0, w[4];
    long bytes = EK_NAME(block_bytes)(type);
    for (long i = 0; i < cols / 32; i++) {
        EK_NAME(decode)(type, row, w);
        a = EK_NAME(madd)(w[0], ek_load(x), a);
        b = EK_NAME(madd)(w[1], ek_load(x + 8), b);
        a = EK_NAME(madd)(w[2], ek_load(x + 16), a);
        b = EK_NAME(madd)(w[3], ek_load(x + 24), b);
        row += bytes;
        x += 32;
    }
    return EK_NAME(hsum)(a + b);
}

/// A whole row decoded into `out` in the split layout: quarters 0 and 2 of every block in the first
/// half, quarters 1 and 3 in the second.
EK_FN void EK_NAME(decode_row_split)(int type, const unsigned char *row, long cols, float *out) {
    float *even = out, *odd = out + cols / 2;
    long bytes = EK_NAME(block_bytes)(type);
    v8f w[4];
    for (long i = 0; i < cols / 32; i++) {
        EK_NAME(decode)(type, row, w);
        ek_store(even, w[0]);
        ek_store(even + 8, w[2]);
        ek_store(odd, w[1]);
        ek_store(odd + 8, w[3]);
        row += bytes;
        even += 16;
        odd += 16;
    }
}

/// `one_row` on a decoded row and a token both in the split layout: the same sums.
EK_FN float EK_NAME(one_row_split)(const float *w, const float *x, long cols) {
    v8f a = 0, b = 0;
    long half = cols / 2;
    for (long i = 0; i < half; i += 8) {
        a = EK_NAME(madd)(ek_load(w + i), ek_load(x + i), a);
        b = EK_NAME(madd)(ek_load(w + half + i), ek_load(x + half + i), b);
    }
    return EK_NAME(hsum)(a + b);
}

/// Σ w0·x_t and Σ w1·x_t over `count` floats for the four tokens x, x + stride, ... as eight chains:
/// out[t] for w0, out[4 + t] for w1.
EK_FN void EK_NAME(four_token_chains)(const float *w0, const float *w1, const float *x, long count, long stride,
                                      v8f *out) {
    v8f a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (long i = 0; i < count; i += 8) {
        v8f u = ek_load(w0 + i), v = ek_load(w1 + i);
        v8f x0 = ek_load(x + i);
        a0 = EK_NAME(madd)(u, x0, a0); b0 = EK_NAME(madd)(v, x0, b0);
        v8f x1 = ek_load(x + stride + i);
        a1 = EK_NAME(madd)(u, x1, a1); b1 = EK_NAME(madd)(v, x1, b1);
        v8f x2 = ek_load(x + 2 * stride + i);
        a2 = EK_NAME(madd)(u, x2, a2); b2 = EK_NAME(madd)(v, x2, b2);
        v8f x3 = ek_load(x + 3 * stride + i);
        a3 = EK_NAME(madd)(u, x3, a3); b3 = EK_NAME(madd)(v, x3, b3);
    }
    out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3;
    out[4] = b0; out[5] = b1; out[6] = b2; out[7] = b3;
}

/// Σ w_i·x over `count` floats for the four rows w, w + stride, ... and one token: out[i].
EK_FN void EK_NAME(four_row_chains)(const float *w, const float *x, long count, long stride, v8f *out) {
    v8f a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (long i = 0; i < count; i += 8) {
        v8f x0 = ek_load(x + i);
        a0 = EK_NAME(madd)(ek_load(w + i), x0, a0);
        a1 = EK_NAME(madd)(ek_load(w + stride + i), x0, a1);
        a2 = EK_NAME(madd)(ek_load(w + 2 * stride + i), x0, a2);
        a3 = EK_NAME(madd)(ek_load(w + 3 * stride + i), x0, a3);
    }
    out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3;
}

#if EK_AVX512
/// One block's 32 weights in block (quarter) order as two 512-bit halves, quarters 0|1 and 2|3: the
/// values `decode` gives (each nibble or byte exactly as a float, then the same d·q + m, d·q - 8d or
/// q·d), with 512-bit shifts instead of four 256-bit ones.
EK_FN void EK_NAME(decode_wide)(int type, const unsigned char *blk, v16f w[2]) {
    if (type == EK_Q8_0) {
        v8u v8;
        memcpy(&v8, blk + 2, 32);
        v16u v = __builtin_shufflevector(v8, v8, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
        const v16u lo = {24, 24, 24, 24, 24, 24, 24, 24, 16, 16, 16, 16, 16, 16, 16, 16};
        v16f d = (v16f)EK_NAME(scales)(blk).x;
        w[0] = __builtin_convertvector((v16i)(v << lo) >> 24, v16f) * d;
        w[1] = __builtin_convertvector((v16i)(v << (lo - 16)) >> 24, v16f) * d;
        return;
    }
    // Q4: the 16 values d·q + m (or d·q - 8d) for q = 0...15, each one FMA as in `decode`, looked up
    // by nibble (vpermps reads the low four bits of each index, so no mask is needed).
    v4u v4;
    memcpy(&v4, blk + (type == EK_Q4_1 ? 4 : 2), 16);
    v16u v = __builtin_shufflevector(v4, v4, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    const v16u shift = {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12};
    const v16f iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    v2f dm = EK_NAME(scales)(blk);
    v16f d = (v16f)dm.x, c = type == EK_Q4_1 ? (v16f)dm.y : d * -8.0f;
    __m512 table = (__m512)__builtin_elementwise_fma(iota, d, c);
    w[0] = (v16f)_mm512_permutexvar_ps((__m512i)(v >> shift), table);
    w[1] = (v16f)_mm512_permutexvar_ps((__m512i)(v >> (shift + 16)), table);
}

/// A whole row decoded into `out` in block (quarter) order: the layout the 512-bit kernel reads.
EK_FN void EK_NAME(decode_row)(int type, const unsigned char *row, long cols, float *out) {
    long bytes = EK_NAME(block_bytes)(type);
    v16f w[2];
    for (long i = 0; i < cols / 32; i++) {
        EK_NAME(decode_wide)(type, row, w);
        memcpy(out, &w[0], 64);
        memcpy(out + 16, &w[1], 64);
        row += bytes;
        out += 32;
    }
}

/// `R` decoded rows (`cols` apart) × `T` tokens (`cols` apart), both in block order, R, T ≤ 4:
/// y[t·rows + r] = Σ. One 512-bit accumulator per (row, token) holds both of its chains — the even
/// quarters in the low eight lanes, the odd ones in the high eight, since a 16-float load of a block
/// half is quarters 0 and 1 (or 2 and 3) — and adds its halves at the end: every lane sees the FMAs
/// of the 256-bit kernels in the same order, so the sums are the same bits, with half the instructions.
EK_FN void EK_NAME(tile)(int R, int T, const float *d, const float *x, long cols, float *y, long rows) {
    v16f acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = (v16f)0.0f;
    for (long i = 0; i < cols; i += 16) {
        v16f xv[4];
        for (int t = 0; t < T; t++) xv[t] = ek_load16(x + t * cols + i);
        for (int r = 0; r < R; r++) {
            v16f wv = ek_load16(d + r * cols + i);
            for (int t = 0; t < T; t++) acc[r][t] = __builtin_elementwise_fma(wv, xv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * rows + r] = EK_NAME(hsum)(acc[r][t].lo + acc[r][t].hi);
}

/// `tile` with R and T as constants, so each shape compiles to registers only.
EK_FN void EK_NAME(tile_of)(int R, int T, const float *d, const float *x, long cols, float *y, long rows) {
#define EK_TILE(r_, t_) if (R == r_ && T == t_) { EK_NAME(tile)(r_, t_, d, x, cols, y, rows); return; }
    EK_TILE(4, 4) EK_TILE(4, 3) EK_TILE(4, 2) EK_TILE(4, 1)
    EK_TILE(1, 4) EK_TILE(1, 3) EK_TILE(1, 2) EK_TILE(1, 1)
#undef EK_TILE
}

/// Two or more tokens in block order (the set's `batch_split` is 0): rows decoded once, four at a time,
/// then multiplied by four tokens at a time.
EK_FN void EK_NAME(quant_rows_wide)(int type, const unsigned char *w, long row_bytes, long cols, const float *x,
                                   long n, float *y, long rows, long r0, long r1, float *decoded) {
    long r = r0;
    for (; r < r1; r += 4) {
        int R = r + 4 <= r1 ? 4 : 1;
        // The weights stream from memory once per step: fetch the rows after next while these are
        // multiplied, so the decode does not wait for them.
        if (r + 12 <= r1)
            for (long o = 0; o < 4 * row_bytes; o += 64) __builtin_prefetch(w + (r + 8) * row_bytes + o, 0, 3);
        for (int i = 0; i < R; i++) EK_NAME(decode_row)(type, w + (r + i) * row_bytes, cols, decoded + i * cols);
        for (long t = 0; t < n; t += 4) {
            int T = n - t >= 4 ? 4 : (int)(n - t);
            EK_NAME(tile_of)(R, T, decoded, x + t * cols, cols, y + t * rows + r, rows);
        }
        if (R == 1) r -= 3;
    }
}
#endif

EK_ATTR static void EK_NAME(quant_rows_of)(int type, const unsigned char *w, long row_bytes, long cols, const float *x,
                                           long n, float *y, long rows, long r0, long r1, float *decoded) {
    if (n == 1) {
        for (long r = r0; r < r1; r++) y[r] = EK_NAME(one_row)(type, w + r * row_bytes, x, cols);
        return;
    }
#if EK_AVX512
    EK_NAME(quant_rows_wide)(type, w, row_bytes, cols, x, n, y, rows, r0, r1, decoded);
    return;
#endif
    // Two or more tokens: rows decoded once, four at a time; four tokens go through two-row passes,
    // a remaining pair or single token through a four-row pass: up to eight chains per pass.
    long half = cols / 2, r = r0;
    v8f partial[16];
    for (; r + 4 <= r1; r += 4) {
        // The next four rows are fetched from memory while these are multiplied: the weights stream
        // from DRAM once per step, and the decode below otherwise waits for them.
        if (r + 8 <= r1)
            for (long o = 0; o < 4 * row_bytes; o += 64) __builtin_prefetch(w + (r + 4) * row_bytes + o, 0, 0);
        for (int i = 0; i < 4; i++) EK_NAME(decode_row_split)(type, w + (r + i) * row_bytes, cols, decoded + i * cols);
        long t = 0;
        for (; t + 4 <= n; t += 4) {
            const float *xt = x + t * cols;
            float *yt = y + t * rows + r;
            for (int pair = 0; pair < 2; pair++) {
                const float *d0 = decoded + 2 * pair * cols, *d1 = d0 + cols;
                EK_NAME(four_token_chains)(d0, d1, xt, half, cols, partial);
                EK_NAME(four_token_chains)(d0 + half, d1 + half, xt + half, half, cols, partial + 8);
                for (int k = 0; k < 4; k++) {
                    yt[k * rows + 2 * pair] = EK_NAME(hsum)(partial[k] + partial[8 + k]);
                    yt[k * rows + 2 * pair + 1] = EK_NAME(hsum)(partial[4 + k] + partial[12 + k]);
                }
            }
        }
        while (t < n) {
            int m = n - t >= 2 ? 2 : 1;
            const float *xt = x + t * cols;
            for (int pass = 0; pass < 2; pass++) {
                long o = pass * half;
                if (m == 2) {
                    // Four rows × two tokens is two-row × four-token work with the roles swapped
                    // (w·x = x·w, each chain's FMAs in the same order): partial[4·t + i].
                    EK_NAME(four_token_chains)(xt + o, xt + o + cols, decoded + o, half, cols, partial + pass * 8);
                } else {
                    EK_NAME(four_row_chains)(decoded + o, xt + o, half, cols, partial + pass * 8);
                }
            }
            for (int k = 0; k < m; k++)
                for (int i = 0; i < 4; i++)
                    y[(t + k) * rows + r + i] = EK_NAME(hsum)(partial[4 * k + i] + partial[8 + 4 * k + i]);
            t += m;
        }
    }
    for (; r < r1; r++) {
        EK_NAME(decode_row_split)(type, w + r * row_bytes, cols, decoded);
        for (long t = 0; t < n; t++) y[t * rows + r] = EK_NAME(one_row_split)(decoded, x + t * cols, cols);
    }
}

EK_ATTR static void EK_NAME(quant_rows)(int type, const void *w, long row_bytes, long cols, const float *x, long n,
                                        float *y, long rows, long r0, long r1, float *scratch) {
    // One copy per block type, so the decoder's branches fold away.
    switch (type) {
    case EK_Q4_1: EK_NAME(quant_rows_of)(EK_Q4_1, w, row_bytes, cols, x, n, y, rows, r0, r1, scratch); break;
    case EK_Q4_0: EK_NAME(quant_rows_of)(EK_Q4_0, w, row_bytes, cols, x, n, y, rows, r0, r1, scratch); break;
    case EK_Q8_0: EK_NAME(quant_rows_of)(EK_Q8_0, w, row_bytes, cols, x, n, y, rows, r0, r1, scratch); break;
    default: break;
    }
}

EK_ATTR static void EK_NAME(permute)(const float *src, long count, float *dst, int split) {
    long half = count / 2;
    for (long b = 0; b < count; b += 32) {
        v16f a = ek_load16(src + b), c = ek_load16(src + b + 16);
        // quarter k = elements 4w + k, w = 0...7
        v8f q0 = __builtin_shufflevector(a, c, 0, 4, 8, 12, 16, 20, 24, 28);
        v8f q1 = __builtin_shufflevector(a, c, 1, 5, 9, 13, 17, 21, 25, 29);
        v8f q2 = __builtin_shufflevector(a, c, 2, 6, 10, 14, 18, 22, 26, 30);
        v8f q3 = __builtin_shufflevector(a, c, 3, 7, 11, 15, 19, 23, 27, 31);
        if (split) {
            ek_store(dst + b / 2, q0);
            ek_store(dst + b / 2 + 8, q2);
            ek_store(dst + half + b / 2, q1);
            ek_store(dst + half + b / 2 + 8, q3);
        } else {
            ek_store(dst + b, q0);
            ek_store(dst + b + 8, q1);
            ek_store(dst + b + 16, q2);
            ek_store(dst + b + 24, q3);
        }
    }
}

EK_ATTR static float EK_NAME(dot)(const float *a, const float *b, long n) {
    v8f acc0 = 0, acc1 = 0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = EK_NAME(madd)(ek_load(a + i), ek_load(b + i), acc0);
        acc1 = EK_NAME(madd)(ek_load(a + i + 8), ek_load(b + i + 8), acc1);
    }
    float s = EK_NAME(hsum)(acc0 + acc1);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

EK_ATTR static void EK_NAME(axpy)(float a, const float *x, float *y, long n) {
    v8f av = (v8f)a;
    long i = 0;
    for (; i + 8 <= n; i += 8) ek_store(y + i, EK_NAME(madd)(av, ek_load(x + i), ek_load(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/// erf for 8 lanes: the rational approximation Eigen and TensorFlow use for float (|error| about
/// 1e-7), inputs clamped to ±4, where erf is ±1 in float.
EK_FN v8f EK_NAME(erf)(v8f x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, (v8f)-4.0f), (v8f)4.0f);
    v8f x2 = x * x;
    v8f p = (v8f)-2.72614225801306e-10f;
    p = EK_NAME(madd)(x2, p, (v8f)2.77068142495902e-08f);
    p = EK_NAME(madd)(x2, p, (v8f)-2.10102402082508e-06f);
    p = EK_NAME(madd)(x2, p, (v8f)-5.69250639462346e-05f);
    p = EK_NAME(madd)(x2, p, (v8f)-7.34990630326855e-04f);
    p = EK_NAME(madd)(x2, p, (v8f)-2.95459980854025e-03f);
    p = EK_NAME(madd)(x2, p, (v8f)-1.60960333262415e-02f);
    p = p * x;
    v8f q = (v8f)-1.45660718464996e-05f;
    q = EK_NAME(madd)(x2, q, (v8f)-2.13374055278905e-04f);
    q = EK_NAME(madd)(x2, q, (v8f)-1.68282697438203e-03f);
    q = EK_NAME(madd)(x2, q, (v8f)-7.37332916720468e-03f);
    q = EK_NAME(madd)(x2, q, (v8f)-1.42647390514189e-02f);
    return p / q;
}

EK_FN v8f EK_NAME(gelu)(v8f v) {
    return (v8f)0.5f * v * (1.0f + EK_NAME(erf)(v * (v8f)0.7071067811865476f));
}

EK_ATTR static void EK_NAME(gemm6x16)(long kc, const float *a, const float *b, float *c, long ldc, const float *bias,
                                      int gelu) {
    v8f acc[6][2];
    for (int r = 0; r < 6; r++) {
        const float *src = bias ? bias : c + r * ldc;
        acc[r][0] = ek_load(src);
        acc[r][1] = ek_load(src + 8);
    }
    for (long k = 0; k < kc; k++) {
        v8f b0 = ek_load(b), b1 = ek_load(b + 8);
        for (int r = 0; r < 6; r++) {
            v8f x = (v8f)a[r];
            acc[r][0] = EK_NAME(madd)(x, b0, acc[r][0]);
            acc[r][1] = EK_NAME(madd)(x, b1, acc[r][1]);
        }
        a += 6;
        b += 16;
    }
    for (int r = 0; r < 6; r++) {
        v8f c0 = acc[r][0], c1 = acc[r][1];
        if (gelu) {
            c0 = EK_NAME(gelu)(c0);
            c1 = EK_NAME(gelu)(c1);
        }
        ek_store(c + r * ldc, c0);
        ek_store(c + r * ldc + 8, c1);
    }
}

EK_ATTR static void EK_NAME(layer_norm)(float *row, long width, const float *gamma, const float *beta, float eps) {
    long vectors = width / 8;
    v8f acc = 0;
    for (long v = 0; v < vectors; v++) acc += ek_load(row + 8 * v);
    float sum = EK_NAME(hsum)(acc);
    for (long i = vectors * 8; i < width; i++) sum += row[i];
    float mean = sum / (float)width;
    v8f m = (v8f)mean, sq = 0;
    for (long v = 0; v < vectors; v++) {
        v8f d = ek_load(row + 8 * v) - m;
        sq = EK_NAME(madd)(d, d, sq);
    }
    float total = EK_NAME(hsum)(sq);
    for (long i = vectors * 8; i < width; i++) { float d = row[i] - mean; total += d * d; }
    float inv = 1.0f / __builtin_sqrtf(total / (float)width + eps);
    v8f iv = (v8f)inv;
    for (long v = 0; v < vectors; v++) {
        v8f d = ek_load(row + 8 * v) - m;
        ek_store(row + 8 * v, d * iv * ek_load(gamma + 8 * v) + ek_load(beta + 8 * v));
    }
    for (long i = vectors * 8; i < width; i++) row[i] = (row[i] - mean) * inv * gamma[i] + beta[i];
}

/// Two rows × 32 columns of a product with a broadcast scalar: acc[k] = Σ_i p0[i]·m_i[8k...], acc[4 + k]
/// the same for p1, over `count` rows m_i = m + i·stride — eight chains sharing each load.
EK_FN void EK_NAME(pair_block)(const float *p0, const float *p1, const float *m, long stride, long count, v8f acc[8]) {
    v8f a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (long i = 0; i < count; i++) {
        const float *row = m + i * stride;
        v8f m0 = ek_load(row), m1 = ek_load(row + 8), m2 = ek_load(row + 16), m3 = ek_load(row + 24);
        v8f x = (v8f)p0[i], y = (v8f)p1[i];
        a0 = EK_NAME(madd)(x, m0, a0); a1 = EK_NAME(madd)(x, m1, a1);
        a2 = EK_NAME(madd)(x, m2, a2); a3 = EK_NAME(madd)(x, m3, a3);
        b0 = EK_NAME(madd)(y, m0, b0); b1 = EK_NAME(madd)(y, m1, b1);
        b2 = EK_NAME(madd)(y, m2, b2); b3 = EK_NAME(madd)(y, m3, b3);
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
    acc[4] = b0; acc[5] = b1; acc[6] = b2; acc[7] = b3;
}

/// Stores a `pair_block` scaled: the second row first (o1 may be o0, when the first then wins).
EK_FN void EK_NAME(store_pair)(const v8f acc[8], float s0, float s1, float *o0, float *o1) {
    for (int k = 0; k < 4; k++) ek_store(o1 + 8 * k, acc[4 + k] * s1);
    for (int k = 0; k < 4; k++) ek_store(o0 + 8 * k, acc[k] * s0);
}

EK_ATTR static void EK_NAME(attention_scores)(const float *q0, const float *q1, const float *kt, long np, long head_dim,
                                              float scale, float *s0, float *s1) {
    v8f acc[8];
    for (long jb = 0; jb < np; jb += 32) {
        EK_NAME(pair_block)(q0, q1, kt + jb, np, head_dim, acc);
        EK_NAME(store_pair)(acc, scale, scale, s0 + jb, s1 + jb);
    }
}

/// e^x for 8 lanes, x ≤ 0: Cephes' expf polynomial on the reduced argument, scaled by 2^n built in
/// the exponent bits (relative error about 2e-7; below -87 gives e^-87).
EK_FN v8f EK_NAME(exp)(v8f x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, (v8f)-87.0f), (v8f)88.0f);
    const v8f magic = (v8f)12582912.0f;  // n = round(x·log2 e): the sum's low mantissa bits hold n
    v8f t = EK_NAME(madd)(x, (v8f)1.44269504088896341f, magic);
    v8f n = t - magic;
    v8f r = EK_NAME(madd)(n, (v8f)-0.693359375f, x);
    r = EK_NAME(madd)(n, (v8f)2.12194440e-4f, r);
    v8f p = (v8f)1.9875691500e-4f;
    p = EK_NAME(madd)(p, r, (v8f)1.3981999507e-3f);
    p = EK_NAME(madd)(p, r, (v8f)8.3334519073e-3f);
    p = EK_NAME(madd)(p, r, (v8f)4.1665795894e-2f);
    p = EK_NAME(madd)(p, r, (v8f)1.6666665459e-1f);
    p = EK_NAME(madd)(p, r, (v8f)5.0000001201e-1f);
    v8f er = p * r * r + r + 1.0f;
    v8u bits = ((v8u)t - 0x4B400000u + 127u) << 23;
    return er * (v8f)bits;
}

EK_ATTR static void EK_NAME(exp_shifted)(float *row, long n, float max) {
    v8f m = (v8f)max;
    for (long j = 0; j < n; j += 8) ek_store(row + j, EK_NAME(exp)(ek_load(row + j) - m));
}

EK_ATTR static void EK_NAME(attention_values)(const float *p0, const float *p1, const float *v, long v_stride, long n,
                                              long head_dim, float inv0, float inv1, float *o0, float *o1) {
    v8f acc[8];
    for (long db = 0; db < head_dim; db += 32) {
        EK_NAME(pair_block)(p0, p1, v + db, v_stride, n, acc);
        EK_NAME(store_pair)(acc, inv0, inv1, o0 + db, o1 + db);
    }
}

EK_ATTR static void EK_NAME(gqa_scores)(const float *q, long nq, long q_stride, const float *k, long kv_stride, long len,
                                        long head_dim, float scale, float *s, long s_stride) {
    for (long j = 0; j < len; j++) {
        const float *kj = k + j * kv_stride;
        for (long h = 0; h < nq; h++) s[h * s_stride + j] = EK_NAME(dot)(q + h * q_stride, kj, head_dim) * scale;
    }
}

EK_ATTR static void EK_NAME(gqa_values)(const float *p, long nq, long p_stride, const float *v, long kv_stride, long len,
                                        long head_dim, float *o, long o_stride) {
    for (long h = 0; h < nq; h++) {
        const float *ph = p + h * p_stride;
        float *oh = o + h * o_stride;
        long db = 0;
        // Each output element is summed over j in order, one FMA per value, as axpy adds them.
        for (; db + 32 <= head_dim; db += 32) {
            v8f a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (long j = 0; j < len; j++) {
                const float *vj = v + j * kv_stride + db;
                v8f pj = (v8f)ph[j];
                a0 = EK_NAME(madd)(pj, ek_load(vj), a0);
                a1 = EK_NAME(madd)(pj, ek_load(vj + 8), a1);
                a2 = EK_NAME(madd)(pj, ek_load(vj + 16), a2);
                a3 = EK_NAME(madd)(pj, ek_load(vj + 24), a3);
            }
            ek_store(oh + db, a0);
            ek_store(oh + db + 8, a1);
            ek_store(oh + db + 16, a2);
            ek_store(oh + db + 24, a3);
        }
        for (; db + 8 <= head_dim; db += 8) {
            v8f a0 = 0;
            for (long j = 0; j < len; j++) a0 = EK_NAME(madd)((v8f)ph[j], ek_load(v + j * kv_stride + db), a0);
            ek_store(oh + db, a0);
        }
        for (; db < head_dim; db++) {
            oh[db] = 0;
            for (long j = 0; j < len; j++) oh[db] += ph[j] * v[j * kv_stride + db];
        }
    }
}

#if EK_AVX512
// Only the batched quantized product differs from the AVX2 set; every other kernel is the AVX2 one
// itself, so nothing else can round differently.
static const ek_kernels EK_NAME(table) = {
    .name = EK_LABEL,
    .batch_split = 0,
    .quant_rows = EK_NAME(quant_rows),
    .permute = permute_avx2,
    .dot = dot_avx2,
    .axpy = axpy_avx2,
    .gemm6x16 = gemm6x16_avx2,
    .layer_norm = layer_norm_avx2,
    .attention_scores = attention_scores_avx2,
    .exp_shifted = exp_shifted_avx2,
    .attention_values = attention_values_avx2,
    .gqa_scores = gqa_scores_avx2,
    .gqa_values = gqa_values_avx2,
};
#else
static const ek_kernels EK_NAME(table) = {
    .name = EK_LABEL,
    .batch_split = 1,
    .quant_rows = EK_NAME(quant_rows),
    .permute = EK_NAME(permute),
    .dot = EK_NAME(dot),
    .axpy = EK_NAME(axpy),
    .gemm6x16 = EK_NAME(gemm6x16),
    .layer_norm = EK_NAME(layer_norm),
    .attention_scores = EK_NAME(attention_scores),
    .exp_shifted = EK_NAME(exp_shifted),
    .attention_values = EK_NAME(attention_values),
    .gqa_scores = EK_NAME(gqa_scores),
    .gqa_values = EK_NAME(gqa_values),
};
#endif

#undef EK_FN
