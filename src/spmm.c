/* SpMM for every (index type × value type) pair, from one template body. */
#include <stdlib.h>
#include "internal.h"
#include "partition.h"
#include "pysparsegraph/spmm.h"

#define PSG_CAT_(a, b) a##b
#define PSG_CAT(a, b) PSG_CAT_(a, b)

#define PSG_I int32_t
#define PSG_V float
#define PSG_NAME psg_spmm_i32_f32
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_NAME

#define PSG_I int32_t
#define PSG_V double
#define PSG_NAME psg_spmm_i32_f64
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_NAME

#define PSG_I int64_t
#define PSG_V float
#define PSG_NAME psg_spmm_i64_f32
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_NAME

#define PSG_I int64_t
#define PSG_V double
#define PSG_NAME psg_spmm_i64_f64
#include "templates/spmm.inc"
#undef PSG_I
#undef PSG_V
#undef PSG_NAME
