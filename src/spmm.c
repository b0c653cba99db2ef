/* SpMM for every (index type × value type × X storage) from one template
 * body (templates/spmm.inc), which in turn instantiates the per-ISA inner
 * kernels (templates/spmm_isa.inc). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "partition.h"
#include "schedule.h"
#include "spmm_plan.h"
#include "pysparsegraph/threads.h"
#include "pysparsegraph/spmm.h"
#include "pysparsegraph/gnn.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* Orders this thread's streaming stores of Y before the barrier that ends its
 * work (they are weakly ordered; the barrier alone does not publish them). */
#define PSG_SFENCE_() _mm_sfence()
#else
#define PSG_SFENCE_() ((void)0)
#endif

#define PSG_CAT_(a, b) a##b
#define PSG_CAT(a, b) PSG_CAT_(a, b)

int64_t psg__default_split_len(int64_t nnz);
int psg__build_chunks(psg_spmm_plan *p, const int64_t *indptr, int64_t want_chunks);

static inline float psg__bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}


#define PSG_I int32_t
#define PSG_V float
#define PSG_XT float
#define PSG_XBF16 0
#define PSG_TSFX i32_f32
#define PSG_BUILD 1
#define PSG_NAME psg_spmm_i32_f32
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_XT
#undef PSG_XBF16
#undef PSG_TSFX
#undef PSG_BUILD
#undef PSG_NAME

#define PSG_I int32_t
#define PSG_V double
#define PSG_XT double
#define PSG_XBF16 0
#define PSG_TSFX i32_f64
#define PSG_BUILD 1
#define PSG_NAME psg_spmm_i32_f64
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_XT
#undef PSG_XBF16
#undef PSG_TSFX
#undef PSG_BUILD
#undef PSG_NAME

#define PSG_I int64_t
#define PSG_V float
#define PSG_XT float
#define PSG_XBF16 0
#define PSG_TSFX i64_f32
#define PSG_BUILD 1
#define PSG_NAME psg_spmm_i64_f32
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_XT
#undef PSG_XBF16
#undef PSG_TSFX
#undef PSG_BUILD
#undef PSG_NAME

#define PSG_I int64_t
#define PSG_V double
#define PSG_XT double
#define PSG_XBF16 0
#define PSG_TSFX i64_f64
#define PSG_BUILD 1
#define PSG_NAME psg_spmm_i64_f64
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_XT
#undef PSG_XBF16
#undef PSG_TSFX
#undef PSG_BUILD
#undef PSG_NAME

/* bfloat16 X, float32 accumulation/output; plans come from the _f32 builders. */
#define PSG_I int32_t
#define PSG_V float
#define PSG_XT uint16_t
#define PSG_XBF16 1
#define PSG_TSFX i32_bf16
#define PSG_BUILD 0
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_XT
#undef PSG_XBF16
#undef PSG_TSFX
#undef PSG_BUILD

#define PSG_I int64_t
#define PSG_V float
#define PSG_XT uint16_t
#define PSG_XBF16 1
#define PSG_TSFX i64_bf16
#define PSG_BUILD 0
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_XT
#undef PSG_XBF16
#undef PSG_TSFX
#undef PSG_BUILD
