/* CPU feature report for show_config(); cache sizes for kernel blocking. */
#define _GNU_SOURCE /* sysconf(_SC_LEVEL1_DCACHE_SIZE), a glibc extension */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
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

int64_t psg__l1d_bytes(int64_t fallback)
{
    static int64_t cached = -1; /* every thread computes the same value: a benign race */
    int64_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = 0;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
        const long r = sysconf(_SC_LEVEL1_DCACHE_SIZE);
        /* a VM or an unknown CPU may report 0 or nonsense: trust 16 KiB - 1 MiB only */
        if (r >= 16 * 1024 && r <= 1024 * 1024) v = r;
#endif
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v > 0 ? v : fallback;
}

/* Size of CPU 0's cache at the highest level Linux lists in /sys ("32768K"),
 * 0 when there is none. */
static int64_t sysfs_llc_bytes(void)
{
    int64_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], text[32];
        long level = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        if (fgets(text, sizeof text, f)) level = strtol(text, NULL, 10);
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (!f) continue;
        int64_t bytes = 0;
        if (fgets(text, sizeof text, f)) {
            char *end;
            bytes = strtoll(text, &end, 10);
            if (*end == 'K') bytes <<= 10;
            else if (*end == 'M') bytes <<= 20;
        }
        fclose(f);
        if (level > best_level && bytes > 0) {
            best_level = (int)level;
            best = bytes;
        }
    }
    return best;
}

int64_t psg_cache_bytes(void)
{
    static int64_t cached = -1; /* every thread computes the same value: a benign race */
    int64_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = sysfs_llc_bytes();
#if defined(_SC_LEVEL3_CACHE_SIZE)
        if (v <= 0) v = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (v <= 0) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        /* trust 256 KiB - 4 GiB only: a VM may report 0 or nonsense */
        if (v < ((int64_t)256 << 10) || v > ((int64_t)4 << 30)) v = (int64_t)32 << 20;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
