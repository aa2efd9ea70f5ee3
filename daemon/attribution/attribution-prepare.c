/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "attribution-prepare.h"

#include <assert.h>

/* Index of CPU number cpu among the "cpuN" lines of st, -1 when absent. The
 * lines come in the same order at every read: try index hint first. */
static ssize_t stat_cpu_index(const ProcStat *st, int cpu, size_t hint) {
        if (hint < st->n_cpus && st->cpu_ids[hint] == cpu)
                return (ssize_t) hint;
        for (size_t c = 0; c < st->n_cpus; c++)
                if (st->cpu_ids[c] == cpu)
                        return (ssize_t) c;
        return -1;
}

static uint64_t delta(uint64_t now, uint64_t last) {
        return now >= last ? now - last : 0;
}

uint64_t attribution_host_busy_ns(const ProcStat *stat, const ProcStat *last_stat) {
        if (!stat || !last_stat)
                return 0;
        return delta(stat->busy_ns, last_stat->busy_ns);
}

double attribution_utilisation(const AttributionPrepareIn *in, size_t n_cpus_fallback) {
        uint64_t used = 0;
        size_t n_cpus;

        assert(in);

        if (in->stat && in->last_stat)
                used = attribution_host_busy_ns(in->stat, in->last_stat);
        else
                for (size_t i = 0; i < in->n_procs; i++)
                        used += in->procs[i].cpu_ns;
        n_cpus = in->stat && in->stat->n_cpus > 0 ? in->stat->n_cpus : n_cpus_fallback;
        return (double) used / (in->dt_s * 1e9 * (double) n_cpus);
}

static bool is_package_domain(DomainKind k) {
        return k == DOMAIN_PACKAGE || k == DOMAIN_CORE || k == DOMAIN_UNCORE;
}

/* Busy time of package pkg's CPUs between the two reads. The per-CPU lines
 * must match one to one (a CPU came or went: unknown, 0). */
static uint64_t package_busy_ns(const AttributionPrepareIn *in, int pkg) {
        uint64_t busy = 0;

        if (!in->stat || !in->last_stat || in->stat->n_cpus != in->last_stat->n_cpus)
                return 0;
        for (size_t c = 0; c < in->stat->n_cpus; c++) {
                int cpu = in->stat->cpu_ids[c];
                if (cpu < 0 || (size_t) cpu >= in->n_cpu_pkg || in->cpu_pkg[cpu] != pkg)
                        continue;
                busy += delta(in->stat->cpu_busy_ns[c], in->last_stat->cpu_busy_ns[c]);
        }
        return busy;
}

static uint64_t times_irq_ns(const ProcStatTimes *t) {
        return t->irq_ns + t->softirq_ns;
}

/* irq + softirq time between the two reads: of package pkg's CPUs, or of
 * the host when pkg < 0. */
static uint64_t irq_ns(const AttributionPrepareIn *in, int pkg) {
        uint64_t irq = 0;

        if (!in->stat || !in->last_stat)
                return 0;
        if (pkg < 0)
                return delta(times_irq_ns(&in->stat->total), times_irq_ns(&in->last_stat->total));
        for (size_t c = 0; c < in->stat->n_cpus; c++) {
                int cpu = in->stat->cpu_ids[c];
                ssize_t l;
                if (cpu < 0 || (size_t) cpu >= in->n_cpu_pkg || in->cpu_pkg[cpu] != pkg)
                        continue;
                l = stat_cpu_index(in->last_stat, cpu, c);
                if (l >= 0)
                        irq += delta(times_irq_ns(&in->stat->cpu_times[c]), times_irq_ns(&in->last_stat->cpu_times[l]));
        }
        return irq;
}

/* The process's counter (CPU time or cycles) on package pkg: split as the
 * switch program saw its CPU time split between packages. */
static double package_share(const ProcessDelta *p, int pkg, bool cycles) {
        uint64_t sum = 0;
        double frac;

        for (size_t j = 0; j < PROCESS_MAX_PKGS; j++)
                sum += p->pkg_cpu_ns[j];
        frac = sum > 0 ? (double) p->pkg_cpu_ns[pkg] / (double) sum : 0;
        return (cycles ? (double) p->cycles : (double) p->cpu_ns) * frac;
}

/* A sample may predate the start of the process it is matched to by this
 * much (the driver's clock against the kernel's, read at different times). */
#define GPU_START_SLACK_NS (100 * 1000 * 1000ULL)

/* The tracked process the driver's use u belongs to: the pid's process that
 * had started by u's newest sample (the latest such start, when the pid was
 * reused within the interval); -1 when none. */
static ssize_t gpu_use_owner(const AttributionPrepareIn *in, const NvmlProcessUse *u) {
        ssize_t best = -1;
        uint64_t sample_ns = 0;

        if (in->boot_realtime_ns > 0 && u->last_us > 0 && u->last_us * 1000 > in->boot_realtime_ns)
                sample_ns = u->last_us * 1000 - in->boot_realtime_ns + GPU_START_SLACK_NS;
        for (size_t i = 0; i < in->n_procs; i++) {
                const ProcessInfo *p = in->procs[i].info;
                if (!p || p->pid != u->pid)
                        continue;
                if (sample_ns > 0 && p->start_time_ns > sample_ns)
                        continue; /* started after the sample: a later holder of the pid */
                if (best < 0 || p->start_time_ns > in->procs[best].info->start_time_ns)
                        best = (ssize_t) i;
        }
        return best;
}

/* Each tracked process's use of the GPU in w, and the use of every process
 * the driver saw (tracked or not) as the total. */
static double gpu_weights(const AttributionPrepareIn *in, const AttributionGpuUse *g, double *w) {
        double total = 0;

        for (size_t i = 0; i < in->n_procs; i++)
                w[i] = 0;
        if (!g)
                return 0;
        assert(g->uses || g->n_uses == 0);
        for (size_t j = 0; j < g->n_uses; j++) {
                const NvmlProcessUse *u = &g->uses[j];
                ssize_t i = gpu_use_owner(in, u);
                if (i >= 0)
                        w[i] += (double) u->sm_util;
                total += (double) u->sm_util;
        }
        return total;
}

void attribution_prepare(const AttributionPrepareIn *in, double *weights, AttributionDomainIn *ret_domains) {
        bool cycles;
        uint64_t host_busy;

        assert(in);
        assert(ret_domains);
        assert(in->n_procs == 0 || in->procs);
        assert(in->n_domains == 0 || in->domains);
        assert(weights || in->n_procs == 0);

        cycles = in->basis == ATTRIBUTION_BASIS_CYCLES;
        host_busy = attribution_host_busy_ns(in->stat, in->last_stat);

        for (size_t d = 0; d < in->n_domains; d++) {
                const AttributionDomainPlace *place = &in->domains[d];
                AttributionDomainIn *out = &ret_domains[d];
                double *w = weights + d * in->n_procs;
                int k = place->pkg >= 0 && (size_t) place->pkg < PROCESS_MAX_PKGS ? place->pkg : -1;

                out->busy_ns = host_busy;
                out->weights = NULL;
                out->weight_total = 0;

                if (place->kind == DOMAIN_GPU) {
                        /* No CPU time and no irq time in it: with no use
                         * reported, weights of 0 leave it unattributed. */
                        out->weight_total = gpu_weights(in, in->gpu ? &in->gpu[d] : NULL, w);
                        out->weights = w;
                        out->irq_ns = 0;
                        continue;
                } else if (place->kind == DOMAIN_DRAM) {
                        for (size_t i = 0; i < in->n_procs; i++)
                                w[i] = (double) in->procs[i].rss_bytes * in->dt_s;
                        out->weights = w;
                } else if (!is_package_domain(place->kind) || !in->per_package || k < 0) {
                        if (cycles) {
                                for (size_t i = 0; i < in->n_procs; i++)
                                        w[i] = (double) in->procs[i].cycles;
                                out->weights = w;
                        }
                } else {
                        for (size_t i = 0; i < in->n_procs; i++)
                                w[i] = package_share(&in->procs[i], k, cycles);
                        out->weights = w;
                        if (!cycles)
                                out->weight_total = (double) package_busy_ns(in, k);
                }

                /* The irq time of the CPUs the basis counts: the package's
                 * on the per-package time basis, else the host's. */
                out->irq_ns = irq_ns(in, out->weights && out->weight_total > 0 && k >= 0 ? k : -1);
        }
}
