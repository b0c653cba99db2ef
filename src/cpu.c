/* CPU feature report for show_config(). */
#include <string.h>
#include "internal.h"
#include "pysparsegraph/threads.h"

int psg_cpu_features(char *buf, int size)
{
    if (size <= 0) return 0;
    buf[0] = '\0';
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static const char *const names[] = {"sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"};
    int has[7];
    __builtin_cpu_init();
    has[0] = __builtin_cpu_supports("sse4.2");
    has[1] = __builtin_cpu_supports("avx");
    has[2] = __builtin_cpu_supports("avx2");
    has[3] = __builtin_cpu_supports("fma");
    has[4] = __builtin_cpu_supports("avx512f");
    has[5] = __builtin_cpu_supports("avx512bw");
    has[6] = __builtin_cpu_supports("avx512vl");
    for (int i = 0; i < 7; i++) {
        if (!has[i]) continue;
        if (buf[0] && (int)(strlen(buf) + 1) < size) strcat(buf, " ");
        if ((int)(strlen(buf) + strlen(names[i])) < size) strcat(buf, names[i]);
    }
#endif
    return (int)strlen(buf);
}
