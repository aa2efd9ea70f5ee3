/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attribution.h"
#include "process.h"
#include "procfs.h"
#include "source.h"

/* Preparation of attribution_compute()'s input from what one interval saw:
 * the processes' deltas, the host's CPU time (/proc/stat now and at the
 * previous interval) and where each domain sits. Pure functions, no I/O
 * (docs/attribution.md, the table of bases).
 *
 * What each domain's dynamic energy is shared by:
 *  - package-N, core-N, uncore-N, when the processes' CPU time is split by
 *    package (the switch program runs): the CPU time (or cycles) processes
 *    had on package N; with CPU time, over the busy time of N's CPUs;
 *  - dram-N: resident-memory-seconds (rss × interval);
 *  - gpu-N: each process's use of the GPU as its driver reports it (Σ SM
 *    utilisation over the interval's samples, AttributionGpuUse) over the
 *    use of every process the driver saw, tracked or not: use no tracked
 *    process owns (a pid jouled does not see, one gone before it was seen),
 *    and all of it when the driver reports none, stays unattributed;
 *  - everything else (psys, battery, or packages without the split):
 *    CPU time (cycles when counted) over the host's busy time.
 * The irq + softirq time of the same CPUs (of the package on the per-package
 * time basis, else of the host) is set apart as irq_ns (none for a GPU). */

/* Where a domain sits: its kind and its package index (into the caller's
 * table of packages, the one cpu_pkg maps to), -1 when none. */
typedef struct AttributionDomainPlace {
        DomainKind kind;
        int pkg;
} AttributionDomainPlace;

/* What one GPU's driver reported this interval: each process's use
 * (nvml_source_process_use()). */
typedef struct AttributionGpuUse {
        const NvmlProcessUse *uses;
        size_t n_uses;
} AttributionGpuUse;

typedef struct AttributionPrepareIn {
        double dt_s;                          /* length of the interval, > 0 */
        AttributionBasis basis;               /* the processes' counters: CPU_TIME or CYCLES */
        bool per_package;                     /* pkg_cpu_ns of the deltas is filled */
        const ProcessDelta *procs;
        size_t n_procs;
        const ProcStat *stat;                 /* /proc/stat now, NULL when not read */
        const ProcStat *last_stat;            /* at the previous interval, NULL when not read */
        const int *cpu_pkg;                   /* CPU number → package index, -1 unknown; NULL: no topology */
        size_t n_cpu_pkg;
        const AttributionDomainPlace *domains;
        size_t n_domains;
        /* Per domain (n_domains entries), read for the gpu-N domains; NULL
         * when no GPU reports per-process use. */
        const AttributionGpuUse *gpu;
        /* CLOCK_REALTIME at boot: places the GPU samples' timestamps on
         * the processes' start times (a reused pid's new process does not
         * get its predecessor's samples); 0: pids matched alone. */
        uint64_t boot_realtime_ns;
} AttributionPrepareIn;

/* The host's busy CPU time between the two reads, 0 when either is missing
 * or the counter went back. */
uint64_t attribution_host_busy_ns(const ProcStat *stat, const ProcStat *last_stat);

/* Utilisation of the host (0..1 in normal cases) for the idle-power
 * estimate: the kernel's busy time of this very interval over dt × CPUs.
 * The processes' total CPU time is only the fallback when either read is
 * missing: exit events can carry CPU time of earlier intervals, which would
 * put points at the wrong utilisation. CPUs: stat's, else n_cpus_fallback. */
double attribution_utilisation(const AttributionPrepareIn *in, size_t n_cpus_fallback);

/* Fill busy_ns, weights, weight_total and irq_ns of ret_domains[n_domains]
 * (measured_j and idle_w are the caller's). weights is the caller's buffer
 * of n_domains × n_procs doubles; ret_domains[d].weights points into it (row
 * d) for the domains that get a basis of their own. */
void attribution_prepare(const AttributionPrepareIn *in, double *weights, AttributionDomainIn *ret_domains);
