/* Argument checks and type dispatch shared by the GNN kernels (internal). */
#ifndef PSG_GNN_COMMON_H
#define PSG_GNN_COMMON_H
#include "internal.h"
#include "pysparsegraph/gnn.h"

/* Row kernels are compiled for AVX-512 and AVX2 besides the baseline, and
 * the loader picks the best one for the running CPU once (GCC function
 * multi-versioning through an ifunc): wheels stay portable (no -march) yet
 * the feature loops run 8-16 lanes wide. Every thread of a process runs the
 * same variant, so results stay identical across thread counts, and across
 * CPUs too: sddmm's dot folds its lanes in one fixed order on every variant
 * (contraction into FMA stays off in ISO C mode). Elsewhere: one version. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(PSG_NO_MULTIVERSION)
#define PSG_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PSG_MULTIVERSION
#endif

/* Checks index_size / value_size and returns the dispatch slot
 * 0: i32/f32, 1: i32/f64, 2: i64/f32, 3: i64/f64, or -1 after recording an error. */
static inline int psg__type_slot(int index_size, int value_size)
{
    if ((index_size != 4 && index_size != 8) || (value_size != 4 && value_size != 8)) {
        psg__fail(PSG_ERR_INVALID_ARG, "index_size and value_size must be 4 or 8, got %d and %d",
                  index_size, value_size);
        return -1;
    }
    return (index_size == 8) * 2 + (value_size == 8);
}

/* Calls NAME##_i32_f32(...) etc. according to slot, assigning to st. The
 * void pointers of the public API convert implicitly to the typed ones. */
#define PSG_DISPATCH(st, slot, NAME, ...)                              \
    switch (slot) {                                                                   \
    case 0: st = NAME##_i32_f32(__VA_ARGS__); break;                                  \
    case 1: st = NAME##_i32_f64(__VA_ARGS__); break;                                  \
    case 2: st = NAME##_i64_f32(__VA_ARGS__); break;                                  \
    default: st = NAME##_i64_f64(__VA_ARGS__); break;                                 \
    }
#endif
