// Three copies of the kernels from one source: for AVX-512 (F, VL) and for AVX2 + FMA + F16C (taken
// when the CPU has them) and for x86-64's baseline. Clang's per-function target attribute compiles the
// first two for their CPUs without raising the baseline of anything else in the binary.
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "EngineKernels.h"

typedef float v2f __attribute__((ext_vector_type(2)));
typedef float v4f __attribute__((ext_vector_type(4)));
typedef float v8f __attribute__((ext_vector_type(8)));
typedef float v16f __attribute__((ext_vector_type(16)));
typedef unsigned v4u __attribute__((ext_vector_type(4)));
typedef unsigned v8u __attribute__((ext_vector_type(8)));
typedef int v8i __attribute__((ext_vector_type(8)));
typedef unsigned v16u __attribute__((ext_vector_type(16)));
typedef int v16i __attribute__((ext_vector_type(16)));

// Unaligned loads and stores (memcpy compiles to one vector move). Macros, not functions: each copy
// then compiles them with its own instruction set, and no vector crosses a call between the copies.
#define ek_load(p) ({ v8f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define ek_load16(p) ({ v16f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define ek_store(p, v) do { v8f v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)

/// IEEE half to float without F16C (exact for every half, subnormals and NaN included).
static inline __attribute__((always_inline)) float ek_half(unsigned short h) {
    unsigned sign = (unsigned)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu, bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent == 0) {
        float f = (float)mantissa * 0x1p-24f;  // zero or subnormal: exact in float
        return sign ? -f : f;
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#if defined(__x86_64__)
#define EK_ATTR __attribute__((target("avx2,fma,f16c")))
#define EK_NAME(name) name##_avx2
#define EK_AVX2 1
#define EK_AVX512 0
#define EK_LABEL "avx2"
#include "KernelBody.h"
#undef EK_ATTR
#undef EK_NAME
#undef EK_AVX512
#undef EK_LABEL

// The AVX-512 copy: the same arithmetic as the AVX2 one (256-bit vectors, the same chains in the same
// order, so the same bits); AVX-512VL's 32 vector registers let the batched product keep 16 chains.
#define EK_ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define EK_NAME(name) name##_avx512
#define EK_AVX512 1
#define EK_LABEL "avx512"
#include "KernelBody.h"
#undef EK_ATTR
#undef EK_NAME
#undef EK_AVX2
#undef EK_AVX512
#undef EK_LABEL
#endif

// The baseline copy passes 256-bit vectors between its inlined helpers; no call is left to differ in ABI.
#pragma clang diagnostic ignored "-Wpsabi"
#define EK_ATTR
#define EK_NAME(name) name##_portable
#define EK_AVX2 0
#define EK_AVX512 0
#define EK_LABEL "portable"
#include "KernelBody.h"

const ek_kernels *ek_portable(void) { return &table_portable; }

const ek_kernels *ek_avx2(void) {
#if defined(__x86_64__)
    // __builtin_cpu_supports reads cpuid once (and checks the OS saves the AVX registers, XGETBV).
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return &table_avx2;
#endif
    return NULL;
}

const ek_kernels *ek_avx512(void) {
#if defined(__x86_64__)
    if (ek_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        return &table_avx512;
#endif
    return NULL;
}

const ek_kernels *ek_select(int ceiling) {
    const ek_kernels *fast = ceiling == 1 ? NULL : ceiling == 2 ? ek_avx2() : ek_avx512();
    if (!fast && ceiling == 0) fast = ek_avx2();
    return fast ? fast : ek_portable();
}
