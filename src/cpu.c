/* CPU feature report for show_config(); cache sizes for kernel blocking. */
#define _GNU_SOURCE /* sysconf(_SC_LEVEL1_DCACHE_SIZE), a glibc extension */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif
#include "internal.h"
#include "pysparsegraph/threads.h"

int psg_cpu_features(char *buf, int size)
{
    if (!buf || size <= 0) return 0;
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

/* Size of CPU 0's data or unified cache at `level` as Linux lists it in /sys
 * ("32768K"), the highest level for level 0; 0 when there is none. */
static int64_t sysfs_cache_bytes(int level)
{
    int64_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], text[32];
        long lv = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        if (fgets(text, sizeof text, f)) lv = strtol(text, NULL, 10);
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        f = fopen(path, "r");
        const int instruction = f && fgets(text, sizeof text, f) && !strncmp(text, "Instruction", 11);
        if (f) fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (instruction || !f) {
            if (f) fclose(f);
            continue;
        }
        int64_t bytes = 0;
        if (fgets(text, sizeof text, f)) {
            char *end;
            bytes = strtoll(text, &end, 10);
            if (*end == 'K') bytes <<= 10;
            else if (*end == 'M') bytes <<= 20;
        }
        fclose(f);
        if (bytes > 0 && (level ? lv == level : lv > best_level)) {
            best_level = (int)lv;
            best = bytes;
        }
    }
    return best;
}

/* sysconf's names for the cache sizes (glibc); -1 where the C library has none */
#if defined(_SC_LEVEL3_CACHE_SIZE)
#define SC_L1D_ _SC_LEVEL1_DCACHE_SIZE
#define SC_L2_ _SC_LEVEL2_CACHE_SIZE
#define SC_L3_ _SC_LEVEL3_CACHE_SIZE
#else
#define SC_L1D_ (-1)
#define SC_L2_ (-1)
#define SC_L3_ (-1)
#endif

/* A virtual machine's guest may be shown its host's whole L3 (2-vCPU Intel
 * Xeon VMs listed 300 and 480 MiB) though the host's other guests share it.
 * No CPU carries more than 12 MiB of L3 a core (AMD's stacked-cache parts),
 * so the planner counts at most PSG_L3_PER_CPU per usable CPU past the L2.
 * On such a VM (480 MiB listed) the aligned copy of X, allowed up to half
 * the last level, lost 0.57-0.83x with X of 25-205 MiB gathered 40 times a
 * row and held buffers of that size in the plan; capped, X up to 16 MiB
 * still copies (1.09-1.11x at 12.8 MiB on one thread). bench/RESULTS.md. */
#define PSG_L3_PER_CPU ((int64_t)16 << 20)

/* CPUs this process may use: the online ones, or fewer where its affinity
 * mask (a container's or a batch job's cpuset, taskset) or a cgroup v2 CPU
 * quota (docker --cpus, a Kubernetes limit) allows fewer. A container on a
 * big host sees the host's L3 and all its CPUs online, but shares both.
 * 0 when unknown. */
static long usable_cpus(void)
{
    long n = 0;
#if defined(__unix__) || defined(__APPLE__)
    n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set; /* a mask of over 1024 CPUs fails here (EINVAL): the online count stands */
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const long c = CPU_COUNT(&set);
        if (c > 0 && (n <= 0 || c < n)) n = c;
    }
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r"); /* "max 100000" or "<quota> <period>" (us) */
    if (f) {
        long long quota, period;
        if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
            const long q = (long)((quota + period - 1) / period);
            if (n <= 0 || q < n) n = q;
        }
        fclose(f);
    }
#endif
    return n > 0 ? n : 0;
}

/* A cache size read once: /sys, else sysconf(name), else fallback; only
 * 16 KiB - 4 GiB is trusted (a VM may report 0 or nonsense). */
static int64_t cache_bytes_once(int64_t *cached, int level, int name, int64_t fallback)
{
    int64_t v = __atomic_load_n(cached, __ATOMIC_RELAXED); /* every thread computes the same: benign */
    if (v < 0) {
        v = sysfs_cache_bytes(level);
#if defined(__unix__) || defined(__APPLE__)
        if (v <= 0 && name >= 0) v = sysconf(name);
#else
        (void)name;
#endif
        if (v < ((int64_t)16 << 10) || v > ((int64_t)4 << 30)) v = fallback;
        const long cpus = level != 1 && level != 2 ? usable_cpus() : 0;
        if (cpus > 0 && v > PSG_L3_PER_CPU * cpus) v = PSG_L3_PER_CPU * cpus;
        __atomic_store_n(cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

int64_t psg__l1d_bytes(int64_t fallback)
{
    static int64_t cached = -1;
    const int64_t v = cache_bytes_once(&cached, 1, SC_L1D_, 0);
    return v > 0 ? v : fallback;
}

int64_t psg_cache_bytes(int level)
{
    static int64_t cached[4] = {-1, -1, -1, -1};
    static const int64_t fallback[4] = {(int64_t)32 << 20, 0, (int64_t)1 << 20, (int64_t)32 << 20};
    if (level == 1) return psg__l1d_bytes((int64_t)32 << 10);
    if (level < 0 || level > 3) return 0;
    return cache_bytes_once(&cached[level], level, level == 2 ? SC_L2_ : SC_L3_, fallback[level]);
}

/* Physical memory in bytes, 0 when unknown. */
static uint64_t physical_memory(void)
{
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return (uint64_t)pages * (uint64_t)page;
#endif
    return 0;
}

psg_status psg__check_fits_memory(double bytes, const char *what)
{
    /* An allocation beyond physical memory succeeds under Linux's overcommit
     * and the process is killed when the pages are touched; refusing it here
     * turns that kill into an error. */
    const uint64_t phys = physical_memory();
    if (phys && bytes > (double)phys)
        return psg__fail(PSG_ERR_NO_MEMORY, "%s need %.1f GiB, more than this machine's %.1f GiB of memory", what,
                         bytes / (1u << 30), (double)phys / (1u << 30));
    return PSG_OK;
}
