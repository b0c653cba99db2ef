/* Instantiates the template named by PSG_TEMPLATE for every (index type ×
 * value type) pair, with the name suffixes _i32_f32, _i32_f64, _i64_f32,
 * _i64_f64. Include after defining PSG_TEMPLATE (a quoted path). */
#ifndef PSG_CAT
#define PSG_CAT_(a, b) a##b
#define PSG_CAT(a, b) PSG_CAT_(a, b)
#endif

#define PSG_I int32_t
#define PSG_V float
#define PSG_SFX _i32_f32
#include PSG_TEMPLATE
#undef PSG_I
#undef PSG_V
#undef PSG_SFX

#define PSG_I int32_t
#define PSG_V double
#define PSG_SFX _i32_f64
#include PSG_TEMPLATE
#undef PSG_I
#undef PSG_V
#undef PSG_SFX

#define PSG_I int64_t
#define PSG_V float
#define PSG_SFX _i64_f32
#include PSG_TEMPLATE
#undef PSG_I
#undef PSG_V
#undef PSG_SFX

#define PSG_I int64_t
#define PSG_V double
#define PSG_SFX _i64_f64
#include PSG_TEMPLATE
#undef PSG_I
#undef PSG_V
#undef PSG_SFX
