/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "attribution.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "string-table.h"

static const char *const idle_policy_table[] = {
        [IDLE_POLICY_SEPARATE] = "separate",
        [IDLE_POLICY_SHARED] = "shared",
};

static const char *const attribution_basis_table[] = {
        [ATTRIBUTION_BASIS_CPU_TIME] = "cpu-time",
        [ATTRIBUTION_BASIS_CYCLES] = "cycles",
        [ATTRIBUTION_BASIS_MEMORY] = "memory",
};

DEFINE_STRING_TABLE_LOOKUP(attribution_basis, AttributionBasis, ATTRIBUTION_BASIS);
DEFINE_STRING_TABLE_LOOKUP(idle_policy, IdlePolicy, IDLE_POLICY);

static double weight_of(const AttributionDomainIn *in, const uint64_t *proc_cpu_ns, size_t p) {
        double w;

        if (!in->weights)
                return (double) proc_cpu_ns[p];
        w = in->weights[p];
        return isfinite(w) && w > 0 ? w : 0;
}

int attribution_compute(double dt_s, IdlePolicy policy,
                        const AttributionDomainIn *domains, size_t n_domains,
                        const uint64_t *proc_cpu_ns, size_t n_procs,
                        AttributionDomainOut *ret_domains, double *ret_proc_j) {
        uint64_t total_cpu = 0;

        assert(domains || n_domains == 0);
        assert(proc_cpu_ns || n_procs == 0);
        assert(ret_domains || n_domains == 0);
        assert(ret_proc_j || n_procs == 0 || n_domains == 0);

        if (!(dt_s > 0) || !isfinite(dt_s))
                return -EINVAL;
        if (policy < 0 || policy >= _IDLE_POLICY_MAX)
                return -EINVAL;

        for (size_t p = 0; p < n_procs; p++)
                total_cpu += proc_cpu_ns[p];

        for (size_t d = 0; d < n_domains; d++) {
                const AttributionDomainIn *in = &domains[d];
                AttributionDomainOut *out = &ret_domains[d];
                double measured = in->measured_j, idle_w = in->idle_w;
                double idle, shared, denom, attributed = 0, sum_w = 0;

                for (size_t p = 0; p < n_procs; p++)
                        ret_proc_j[p * n_domains + d] = 0;

                if (!isfinite(measured) || measured < 0) {
                        *out = (AttributionDomainOut) { .valid = false };
                        continue;
                }
                if (!isfinite(idle_w) || idle_w < 0)
                        idle_w = 0;

                if (in->weights)
                        for (size_t p = 0; p < n_procs; p++)
                                sum_w += weight_of(in, proc_cpu_ns, p);
                else
                        sum_w = (double) total_cpu;

                idle = fmin(measured, idle_w * dt_s);
                shared = measured - idle;
                if (policy == IDLE_POLICY_SHARED && sum_w > 0) {
                        /* Idle energy is shared too: nothing stays in the idle bucket. */
                        shared = measured;
                        idle = 0;
                }

                /* The basis no process owns (irq and softirq time) keeps its
                 * share unattributed rather than being spread over processes. */
                if (in->weights)
                        denom = isfinite(in->weight_total) && in->weight_total > sum_w ? in->weight_total : sum_w;
                else
                        denom = (double) (in->busy_ns > total_cpu ? in->busy_ns : total_cpu);
                if (sum_w > 0 && shared > 0) {
                        for (size_t p = 0; p < n_procs; p++) {
                                double e = shared * (weight_of(in, proc_cpu_ns, p) / denom);
                                ret_proc_j[p * n_domains + d] = e;
                                attributed += e;
                        }
                }
                /* Conservation: unattributed is what is left, so the three
                 * parts add up to the measurement by construction. It can only
                 * be negative by rounding, never by more than an ulp or two. */
                *out = (AttributionDomainOut) {
                        .valid = true,
                        .measured_j = measured,
                        .idle_j = idle,
                        .attributed_j = attributed,
                        .unattributed_j = measured - idle - attributed,
                };
                /* The irq share: what irq time would get as a process. */
                if (in->irq_ns > 0 && denom > 0 && shared > 0 && (!in->weights || in->weight_total > 0))
                        out->irq_j = fmax(0, fmin(out->unattributed_j, shared * ((double) in->irq_ns / denom)));
        }
        return 0;
}

void attribution_idle_shares(const AttributionDomainOut *domains, size_t n_domains,
                             const uint64_t *proc_cpu_ns, size_t n_procs, double *ret_proc_idle_j) {
        uint64_t total_cpu = 0;

        assert(domains || n_domains == 0);
        assert(proc_cpu_ns || n_procs == 0);
        assert(ret_proc_idle_j || n_procs == 0 || n_domains == 0);

        for (size_t p = 0; p < n_procs; p++)
                total_cpu += proc_cpu_ns[p];
        for (size_t d = 0; d < n_domains; d++) {
                double idle = domains[d].valid && isfinite(domains[d].idle_j) && domains[d].idle_j > 0 ?
                              domains[d].idle_j : 0;
                for (size_t p = 0; p < n_procs; p++)
                        ret_proc_idle_j[p * n_domains + d] =
                                total_cpu > 0 ? idle * ((double) proc_cpu_ns[p] / (double) total_cpu) : 0;
        }
}
