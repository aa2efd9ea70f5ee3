/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Attribution: pure functions, no I/O.
 *
 * Per interval and domain:
 *   idle_j        = min(measured_j, idle_w × dt)                 (static power)
 *   dynamic_j     = measured_j − idle_j
 *   share_p       = cpu_p / max(Σ cpu, busy)                      (busy: the domain's busy
 *                                                                  CPU time, which also holds
 *                                                                  irq time no process owns)
 *   energy_p      = dynamic_j × share_p
 *   attributed_j  = Σ energy_p
 *   unattributed_j = measured_j − idle_j − attributed_j           (exact by construction)
 * With ATTRIBUTION_IDLE_SHARED, idle energy is shared by CPU time too and the
 * idle bucket is 0 (unless no process ran, where it stays idle). */

typedef enum IdlePolicy {
        IDLE_POLICY_SEPARATE,  /* default: idle energy is its own bucket */
        IDLE_POLICY_SHARED,    /* idle energy shared among processes by CPU time */
        _IDLE_POLICY_MAX,
        _IDLE_POLICY_INVALID = -1,
} IdlePolicy;

/* What a domain's dynamic energy is shared by (stored as text in docs and state). */
typedef enum AttributionBasis {
        ATTRIBUTION_BASIS_CPU_TIME,      /* CPU time (all CPUs, or the domain's package) */
        ATTRIBUTION_BASIS_CYCLES,        /* CPU cycles (hardware counters) */
        ATTRIBUTION_BASIS_MEMORY,        /* resident-memory-seconds (DRAM domains) */
        _ATTRIBUTION_BASIS_MAX,
        _ATTRIBUTION_BASIS_INVALID = -1,
} AttributionBasis;

typedef struct AttributionDomainIn {
        double measured_j;     /* energy this interval; < 0 or NaN: no reading (domain skipped) */
        double idle_w;         /* idle power estimate, W (>= 0) */
        uint64_t busy_ns;      /* busy CPU time on the domain's CPUs, 0 if unknown */
        /* Optional per-domain basis: when weights is non-NULL, process p's
         * share is weights[p] / max(Σ weights, weight_total) instead of its
         * CPU time over max(Σ cpu, busy_ns). weight_total is the basis no
         * process owns plus Σ weights (e.g. the package's busy time), 0 if
         * unknown. Weights < 0 or NaN count as 0. */
        const double *weights;
        double weight_total;
        /* Interrupt and softirq time on the domain's CPUs (part of busy_ns or
         * of weight_total), 0 if unknown: its share of the dynamic energy is
         * reported as irq_j, a part of unattributed_j. Only for a time basis
         * (no weights, or weights with a weight_total of busy time). */
        uint64_t irq_ns;
} AttributionDomainIn;

typedef struct AttributionDomainOut {
        bool valid;            /* false when the domain had no reading */
        double measured_j;
        double idle_j;
        double attributed_j;
        double unattributed_j;
        double irq_j;          /* part of unattributed_j: irq_ns's share (0 <= irq_j <= unattributed_j) */
} AttributionDomainOut;

/* Compute one interval.
 * proc_cpu_ns[n_procs]: CPU time of each process in the interval.
 * ret_domains[n_domains]; ret_proc_j[n_procs × n_domains] (row-major by process).
 * Returns 0, or -EINVAL on nonsense input (dt <= 0). */
int attribution_compute(double dt_s, IdlePolicy policy,
                        const AttributionDomainIn *domains, size_t n_domains,
                        const uint64_t *proc_cpu_ns, size_t n_procs,
                        AttributionDomainOut *ret_domains, double *ret_proc_j);

/* The second view of each row: the interval's idle energy of each domain
 * shared among the processes that ran, by CPU time (a process's energy
 * "including its fair share of idle power" is its dynamic energy plus this).
 * ret_proc_idle_j[n_procs × n_domains] (row-major by process). Where processes
 * ran, the shares of a domain add up to its idle_j exactly (rounding aside);
 * where none ran, the idle energy is nobody's and every share is 0. Domains
 * without a reading (valid false) get 0. */
void attribution_idle_shares(const AttributionDomainOut *domains, size_t n_domains,
                             const uint64_t *proc_cpu_ns, size_t n_procs, double *ret_proc_idle_j);

const char *idle_policy_to_string(IdlePolicy p);
const char *attribution_basis_to_string(AttributionBasis b);  /* "cpu-time", "cycles", "memory" */
AttributionBasis attribution_basis_from_string(const char *s);
IdlePolicy idle_policy_from_string(const char *s);
