/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Symbols for `joulectl profile`: each process's executable mappings,
 * captured while it lives (so that children which exit before the end are
 * still symbolized), ELF symbols through elfutils' libdwfl (PIE, shared
 * libraries, separate debug info by build-id or .gnu_debuglink), JIT maps
 * /tmp/perf-PID.map, kernel symbols from /proc/kallsyms. Frames that cannot
 * be named become "[unknown] MODULE+0xOFFSET". Does not log. */

typedef struct Symbolizer Symbolizer;

/* proc_root, tmp_root: NULL means "/proc", "/tmp". */
int symbolizer_new(const char *proc_root, const char *tmp_root, Symbolizer **ret);
Symbolizer *symbolizer_free(Symbolizer *s);

/* Read the process's mappings and name now. 0, -ESRCH when it is gone. */
int symbolizer_capture(Symbolizer *s, uint32_t tgid);
/* A new process: until its own are captured, it has its parent's mappings. */
int symbolizer_fork(Symbolizer *s, uint32_t tgid, uint32_t parent);
/* Its name as the kernel gave it (the event's comm). */
int symbolizer_set_comm(Symbolizer *s, uint32_t tgid, const char *comm);
/* Whether the process's mappings were captured at least once. */
int symbolizer_has_maps(Symbolizer *s, uint32_t tgid);
/* Its name, "[pid N]" when unknown. */
const char *symbolizer_comm(Symbolizer *s, uint32_t tgid);

/* The name of one frame: for user frames, the function and those inlined
 * into it at that address, outermost first, separated by ';' (names never
 * contain ';' or control bytes). leaf: the sampled instruction itself
 * (return addresses of callers are looked up one byte earlier, inside the
 * call). */
void symbolizer_user(Symbolizer *s, uint32_t tgid, uint64_t ip, int leaf, char *buf, size_t size);
void symbolizer_kernel(Symbolizer *s, uint64_t ip, int leaf, char *buf, size_t size);

/* Counters for the summary. */
typedef struct SymbolizerStats {
        uint64_t frames, unknown;
        uint64_t processes, processes_without_maps;
} SymbolizerStats;
void symbolizer_stats(const Symbolizer *s, SymbolizerStats *ret);
