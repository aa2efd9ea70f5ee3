/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Readers of the host-wide files of /proc: one parser for each, with the
 * /proc root injected so tests feed them fixture files. They do not log. */

/* The CPU time columns of one "cpu" or "cpuN" line of /proc/stat, converted
 * from USER_HZ ticks to nanoseconds. Columns an older kernel lacks are 0.
 * guest and guest_nice are left out: they are already inside user and nice. */
typedef struct ProcStatTimes {
        uint64_t user_ns;
        uint64_t nice_ns;
        uint64_t system_ns;
        uint64_t idle_ns;
        uint64_t iowait_ns;
        uint64_t irq_ns;
        uint64_t softirq_ns;
        uint64_t steal_ns;
} ProcStatTimes;

/* Host CPU time from PROC_ROOT/stat. The sums most readers want come ready:
 * busy = user + nice + system + irq + softirq; idle = idle + iowait; steal
 * is apart (neither busy nor idle: the hypervisor ran someone else). */
typedef struct ProcStat {
        uint64_t busy_ns;           /* the "cpu" line's sums */
        uint64_t idle_ns;
        uint64_t steal_ns;
        ProcStatTimes total;        /* the "cpu" line's columns */
        size_t n_cpus;              /* number of "cpuN" lines */
        int *cpu_ids;               /* N of each "cpuN" line, n_cpus entries */
        uint64_t *cpu_busy_ns;      /* per cpuN line, n_cpus entries */
        uint64_t *cpu_idle_ns;
        uint64_t *cpu_steal_ns;
        ProcStatTimes *cpu_times;   /* per cpuN line: the columns */
        uint64_t ctxt;              /* context switches since boot ("ctxt" line) */
        bool have_ctxt;
} ProcStat;

/* proc_root NULL means "/proc". Returns 0, -errno from reading, -ENOMEM, or
 * -EBADMSG when the file has no parsable "cpu " line, no "cpuN" line, or a
 * malformed cpu line. Free with proc_stat_done(). */
int procfs_read_stat(const char *proc_root, ProcStat *ret);
/* NULL-safe; leaves *s empty. */
void proc_stat_done(ProcStat *s);

/* The number of tasks (threads) on the host from PROC_ROOT/loadavg
 * ("0.00 0.01 0.05 1/234 5678": the 234). Returns 0, -errno, or -EBADMSG. */
int procfs_read_tasks(const char *proc_root, uint64_t *ret_tasks);
