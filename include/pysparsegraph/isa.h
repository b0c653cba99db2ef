/* pysparsegraph — instruction-set selection shared by every SIMD kernel.
 * Kernels are compiled for each path and pick one at run time
 * (__builtin_cpu_supports), so the default build needs no -march=native. */
#ifndef PYSPARSEGRAPH_ISA_H
#define PYSPARSEGRAPH_ISA_H

enum {
    PSG_ISA_AUTO = 0,    /* the best path this CPU supports (AVX-512 > AVX2+FMA > generic) */
    PSG_ISA_GENERIC = 1, /* portable C, vectorized only for the build target */
    PSG_ISA_AVX2 = 2,    /* AVX2 + FMA */
    PSG_ISA_AVX512 = 3   /* AVX-512F */
};

#endif
