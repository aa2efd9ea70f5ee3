/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "manager.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "attribution.h"
#include "cleanup.h"
#include "counter-guard.h" /* storage */
#include "idle.h"
#include "jouled-build.h"
#include "log.h"
#include "metrics.h"    /* fleet */
#include "privileges.h" /* fleet */
#include "source.h"
#include "store.h"
#include "topology.h"   /* attrib: per-package split */
#include "tracker.h"
#include "util.h"

#define MAX_PROBES 16
#define STATE_EVERY_N 10
#define IRQ_CPUS_MAX 1024

/* One energy domain as the manager follows it. */
typedef struct ManagerDomain {
        EnergySource *source;
        size_t index;                 /* in source->domains */
        uint64_t last_uj;
        bool have_last;
        bool host_total;
        IdleEstimator idle;
        /* This interval: */
        double measured_j;            /* NAN when not read */
} ManagerDomain;

struct Manager {
        JouledConfig cfg;             /* a deep copy would be overkill: we own the strings */
        char *config_path;

        sd_event *event;
        sd_event_source *timer;
        sd_event_source *watchdog;
        sd_event_source *tracker_io;
        sd_event_source *sig_term, *sig_int, *sig_hup;

        Tracker *tracker;
        EnergySource **sources;
        size_t n_sources;
        SourceProbe probes[MAX_PROBES];
        size_t n_probes;

        ManagerDomain *domains;
        size_t n_domains;
        uint64_t *read_uj;            /* one counter per domain, filled by the sources */

        Store *store;
        Metrics *metrics;             /* fleet: Prometheus exporter, NULL when off */

        uint64_t last_mono_ns, last_real_ns;
        uint64_t boot_realtime_ns;
        ProcStat last_stat;
        bool have_stat;

        uint64_t intervals;           /* written */
        uint64_t write_errors;
        /* storage (issue 7): maintenance timer, counter guard */
        uint64_t last_maintain_ns;    /* CLOCK_REALTIME of the last store_maintain() */
        bool maintain_pending;        /* it had work left: call again next interval */
        bool maintain_failing;
        uint64_t counters_discarded;
        bool write_failing;           /* logged once until it works again */
        bool ready;
        int exit_code;

        /* Reused per-interval buffers. */
        uint64_t *cpu_ns;
        double *proc_j;
        AttributionDomainIn *att_in;
        AttributionDomainOut *att_out;
        DomainRecord *records;
        size_t proc_cap;

        /* attrib: per-package and per-domain basis. */
        int *cpu_pkg;                 /* CPU → package index, -1 unknown */
        size_t n_cpu_pkg;
        int pkg_ids[PROCESS_MAX_PKGS];  /* package index → physical package id */
        size_t n_pkgs;
        double *weights;              /* n_domains × proc_cap, by domain */
        uint64_t irq_last[IRQ_CPUS_MAX + 1]; /* irq + softirq ns per CPU (last slot: all CPUs) */
        bool have_irq;
};

/* attrib: irq + softirq time per CPU from /proc/stat (the 6th and 7th
 * fields), ret[IRQ_CPUS_MAX] the "cpu" line's. Returns 0 or negative errno. */
static int read_irq_ns(const char *proc_root, uint64_t ret[static IRQ_CPUS_MAX + 1]) {
        char path[PATH_MAX], line[512];
        _cleanup_fclose_ FILE *f = NULL;
        long hz = sysconf(_SC_CLK_TCK);

        snprintf(path, sizeof(path), "%s/stat", proc_root ?: "/proc");
        f = fopen(path, "re");
        if (!f)
                return -errno;
        memset(ret, 0, (IRQ_CPUS_MAX + 1) * sizeof(uint64_t));
        if (hz <= 0)
                hz = 100;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long v[7];
                int cpu = -1, n;
                if (strncmp(line, "cpu", 3) != 0)
                        break;
                if (line[3] == ' ')
                        n = sscanf(line + 3, " %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
                else
                        n = sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) - 1;
                if (n < 7)
                        continue;
                uint64_t ns = (uint64_t) (v[5] + v[6]) * (NSEC_PER_SEC / (uint64_t) hz);
                if (cpu < 0)
                        ret[IRQ_CPUS_MAX] = ns;
                else if (cpu < IRQ_CPUS_MAX)
                        ret[cpu] = ns;
        }
        return 0;
}

static void manager_close_sources(Manager *m) {
        for (size_t i = 0; i < m->n_sources; i++)
                source_close(m->sources[i]);
        free(m->sources);
        m->sources = NULL;
        m->n_sources = 0;
        free(m->domains);
        m->domains = NULL;
        free(m->read_uj);
        m->read_uj = NULL;
        m->n_domains = 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->timer);
        sd_event_source_disable_unref(m->watchdog);
        sd_event_source_disable_unref(m->tracker_io);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_unref(m->event);
        tracker_free(m->tracker);
        manager_close_sources(m);
        store_free(m->store);
        metrics_free(m->metrics); /* fleet */
        proc_stat_done(&m->last_stat);
        free(m->cpu_ns);
        free(m->proc_j);
        free(m->weights);
        free(m->cpu_pkg);
        free(m->att_in);
        free(m->att_out);
        free(m->records);
        config_done(&m->cfg);
        free(m->config_path);
        free(m);
        return NULL;
}

int manager_new(const JouledConfig *cfg, const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        r = config_copy(&m->cfg, cfg);
        if (r < 0)
                return log_oom();
        if (config_path && !(m->config_path = strdup(config_path)))
                return log_oom();
        m->exit_code = EXIT_SUCCESS;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

static double domain_idle_override(const Manager *m, const char *name) {
        for (size_t i = 0; i < m->cfg.n_idle; i++)
                if (strcmp(m->cfg.idle[i].domain, name) == 0)
                        return m->cfg.idle[i].watts;
        return -1;
}

static int manager_open_sources(Manager *m) {
        SourceContext ctx = {
                .powercap_root = m->cfg.powercap_root,
                .proc_root = m->cfg.proc_root,
                .sys_root = m->cfg.sys_root,
                .dev_root = m->cfg.dev_root,
                .model_min_watts_per_cpu = m->cfg.model_min_w,
                .model_max_watts_per_cpu = m->cfg.model_max_w,
        };
        size_t n_known = 0, total = 0, k = 0;
        bool has_psys = false;
        int r;

        source_all(&n_known);
        m->n_probes = MIN(n_known, (size_t) MAX_PROBES);
        r = source_select(&ctx, m->cfg.source_spec, m->probes, m->n_probes, &m->sources, &m->n_sources);
        if (r < 0)
                return r; /* source_select() logged why */

        for (size_t i = 0; i < m->n_sources; i++) {
                total += m->sources[i]->n_domains;
                for (size_t j = 0; j < m->sources[i]->n_domains; j++)
                        if (m->sources[i]->domains[j].kind == DOMAIN_PSYS)
                                has_psys = true;
        }
        if (total == 0)
                return log_error_errno(-ENODEV, "No energy domain available from the selected sources.");

        m->domains = calloc(total, sizeof(ManagerDomain));
        m->read_uj = calloc(total, sizeof(uint64_t));
        if (!m->domains || !m->read_uj)
                return log_oom();
        for (size_t i = 0; i < m->n_sources; i++)
                for (size_t j = 0; j < m->sources[i]->n_domains; j++, k++) {
                        const EnergyDomain *d = &m->sources[i]->domains[j];
                        m->domains[k] = (ManagerDomain) {
                                .source = m->sources[i],
                                .index = j,
                                .host_total = domain_counts_in_host_total(d, has_psys),
                                .measured_j = NAN,
                        };
                        idle_estimator_init(&m->domains[k].idle, domain_idle_override(m, d->name));
                        log_object(LOG_INFO, m->sources[i]->ops->name, d->name, /* fleet: journal fields */
                                   "Domain %s from source %s%s%s.", d->name, m->sources[i]->ops->name,
                                 d->estimated ? " (estimated)" : "",
                                 m->domains[k].host_total ? ", counted in the host total" : "");
                }
        m->n_domains = total;
        return 0;
}

int manager_probe_print(const JouledConfig *cfg, FILE *f) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = manager_new(cfg, NULL, &m);
        if (r < 0)
                return r;
        r = manager_open_sources(m);
        source_probe_print(f, m->probes, m->n_probes, m->sources, m->n_sources);
        return r;
}

/* Read every domain; fills measured_j for this interval (NAN when unknown).
 * storage: a step that goes backwards or beyond max_power_w is discarded. */
static void manager_read_sources(Manager *m, double dt_s) {
        size_t k = 0;
        for (size_t i = 0; i < m->n_sources; i++) {
                EnergySource *s = m->sources[i];
                uint64_t *uj = m->read_uj + k;
                int r = s->ops->read(s, uj);
                for (size_t j = 0; j < s->n_domains; j++, k++) {
                        ManagerDomain *d = &m->domains[k];
                        d->measured_j = NAN;
                        if (r < 0 || uj[j] == ENERGY_READ_FAILED) {
                                d->have_last = false;
                                continue;
                        }
                        if (d->have_last) { /* storage: counter guard (issue 7) */
                                const EnergyDomain *ed = &s->domains[j];
                                int g = energy_delta_check(d->last_uj, uj[j], dt_s, ed->max_power_w, &d->measured_j);
                                if (g < 0) {
                                        d->measured_j = NAN;
                                        m->counters_discarded++;
                                        log_warning("Energy counter of %s went %s (%" PRIu64 " -> %" PRIu64 " uJ in %.3fs), "
                                                    "discarding this interval's reading.", ed->name,
                                                    g == -ERANGE ? "backwards" : "up faster than its maximum power",
                                                    d->last_uj, uj[j], dt_s);
                                }
                        }
                        d->last_uj = uj[j];
                        d->have_last = true;
                }
                if (r < 0)
                        log_debug_errno(r, "Reading source %s failed: %m", s->ops->name);
        }
}

static int manager_ensure_buffers(Manager *m, size_t n_procs) {
        if (!m->att_in) {
                m->att_in = calloc(m->n_domains, sizeof(*m->att_in));
                m->att_out = calloc(m->n_domains, sizeof(*m->att_out));
                m->records = calloc(m->n_domains, sizeof(*m->records));
                if (!m->att_in || !m->att_out || !m->records)
                        return -ENOMEM;
        }
        if (n_procs > m->proc_cap || !m->cpu_ns) {
                size_t cap = MAX(n_procs, (size_t) 256);
                uint64_t *c = realloc(m->cpu_ns, cap * sizeof(uint64_t));
                if (!c)
                        return -ENOMEM;
                m->cpu_ns = c;
                double *p = realloc(m->proc_j, cap * m->n_domains * sizeof(double));
                if (!p)
                        return -ENOMEM;
                m->proc_j = p;
                double *w = realloc(m->weights, cap * m->n_domains * sizeof(double));
                if (!w)
                        return -ENOMEM;
                m->weights = w;
                m->proc_cap = cap;
        }
        return 0;
}

static void manager_print_interval(Manager *m, double dt, const ProcessDelta *procs, size_t n) {
        char when[32];
        uint64_t total_cpu = 0;

        format_iso8601(m->last_real_ns, false, when, sizeof(when));
        printf("%s", when + 11);
        for (size_t d = 0; d < m->n_domains; d++) {
                const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                if (!m->att_out[d].valid)
                        printf("  %s: no reading", ed->name);
                else
                        printf("  %s %.2f W%s (idle %.2f W)", ed->name, m->att_out[d].measured_j / dt,
                               ed->estimated ? " estimated" : "", m->att_out[d].idle_j / dt);
        }
        for (size_t i = 0; i < n; i++)
                total_cpu += procs[i].cpu_ns;
        printf("  %zu processes ran, %.2f CPU-s\n", n, (double) total_cpu / 1e9);

        /* Top five by energy over the host-total domains. */
        size_t top[5];
        double top_e[5];
        size_t n_top = 0;
        for (size_t i = 0; i < n; i++) {
                double e = 0;
                for (size_t d = 0; d < m->n_domains; d++)
                        if (m->domains[d].host_total)
                                e += m->proc_j[i * m->n_domains + d];
                size_t pos = n_top;
                while (pos > 0 && top_e[pos - 1] < e)
                        pos--;
                if (pos >= 5)
                        continue;
                for (size_t j = MIN(n_top, (size_t) 4); j > pos; j--) {
                        top[j] = top[j - 1];
                        top_e[j] = top_e[j - 1];
                }
                top[pos] = i;
                top_e[pos] = e;
                if (n_top < 5)
                        n_top++;
        }
        for (size_t j = 0; j < n_top; j++) {
                const ProcessInfo *p = procs[top[j]].info;
                printf("    %7u %-16s %6.1f%% CPU %8.3f W%s\n", p->pid, p->comm,
                       100.0 * (double) procs[top[j]].cpu_ns / (dt * 1e9), top_e[j] / dt,
                       m->domains[0].source->ops->estimated ? " (estimated)" : "");
        }
        fflush(stdout);
}

static void manager_write_state(Manager *m) {
        TrackerStats st;
        char buf[64];

        tracker_get_stats(m->tracker, &st);
        snprintf(buf, sizeof(buf), "%" PRIu64, st.processes_tracked);
        (void) store_set_state(m->store, "processes_tracked", buf);
        snprintf(buf, sizeof(buf), "%" PRIu64, st.exits_lost);
        (void) store_set_state(m->store, "exits_lost", buf);
        (void) store_set_state(m->store, "tracker_accounting", tracker_mode(m->tracker) != TRACKER_BPF ? "" :
                               st.per_switch_mode ? "per-switch" : "iterator");
        snprintf(buf, sizeof(buf), "%" PRIu64, st.vanished);
        (void) store_set_state(m->store, "vanished", buf);
        snprintf(buf, sizeof(buf), "%" PRIu64, st.exits_early_only);
        (void) store_set_state(m->store, "exits_early_only", buf);   /* attrib */
        snprintf(buf, sizeof(buf), "%" PRIu64, m->write_errors);
        (void) store_set_state(m->store, "write_errors", buf);
        { /* storage: write buffer and counter guard */
                StoreQueueStats qs;
                store_queue_stats(m->store, &qs);
                snprintf(buf, sizeof(buf), "%zu", qs.queued);
                (void) store_set_state(m->store, "intervals_buffered", buf);
                snprintf(buf, sizeof(buf), "%" PRIu64, qs.dropped);
                (void) store_set_state(m->store, "intervals_dropped", buf);
                snprintf(buf, sizeof(buf), "%" PRIu64, qs.written_late);
                (void) store_set_state(m->store, "intervals_written_late", buf);
                uint64_t discarded = m->counters_discarded;
                for (size_t i = 0; i < m->n_sources; i++)
                        discarded += m->sources[i]->n_discarded; /* the sources' own plausibility checks */
                snprintf(buf, sizeof(buf), "%" PRIu64, discarded);
                (void) store_set_state(m->store, "counters_discarded", buf);
        }
}

static void manager_notify_status(Manager *m, double dt) {
        char status[512];
        size_t off = 0;
        TrackerStats st;

        tracker_get_stats(m->tracker, &st);
        off += (size_t) snprintf(status + off, sizeof(status) - off, "STATUS=Sampling every %gs (%s tracker), %" PRIu64 " processes;",
                                 m->cfg.interval_s, tracker_mode_to_string(tracker_mode(m->tracker)),
                                 st.processes_tracked);
        for (size_t d = 0; d < m->n_domains && off < sizeof(status) - 64; d++) {
                const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                if (m->att_out && m->att_out[d].valid)
                        off += (size_t) snprintf(status + off, sizeof(status) - off, " %s %.1f W%s", ed->name,
                                                 m->att_out[d].measured_j / dt, ed->estimated ? " (estimated)" : "");
        }
        if (m->write_failing && off < sizeof(status) - 40)
                snprintf(status + off, sizeof(status) - off, "; database writes failing");
        sd_notify(false, status);
}

/* attrib: index of a physical package id in m->pkg_ids, or -1. */
static int manager_pkg_index(const Manager *m, int package) {
        for (size_t k = 0; k < m->n_pkgs; k++)
                if (m->pkg_ids[k] == package)
                        return (int) k;
        return -1;
}

/* attrib: what each domain's dynamic energy is shared by (docs/attribution.md).
 *  - package-N, core-N, uncore-N: with the switch program, the CPU time (or
 *    cycles) processes had on package N, over the busy time of its CPUs;
 *  - dram-N: resident-memory-seconds;
 *  - everything else (psys, gpu, battery, or one package without the switch
 *    program): CPU time (cycles when counted) over the host's busy time. */
static void manager_domain_bases(Manager *m, double dt, const ProcessDelta *procs, size_t n, const ProcStat *stat) {
        bool per_pkg = tracker_per_package(m->tracker);
        bool cycles = streq_ptr(tracker_basis(m->tracker), "cycles");

        for (size_t d = 0; d < m->n_domains; d++) {
                const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                double *w = m->weights + d * m->proc_cap;
                int k = ed->package >= 0 ? manager_pkg_index(m, ed->package) : -1;

                if (ed->kind == DOMAIN_DRAM) {
                        for (size_t i = 0; i < n; i++)
                                w[i] = (double) procs[i].rss_bytes * dt;
                        m->att_in[d].weights = w;
                        m->att_in[d].weight_total = 0;
                        continue;
                }
                if (!(ed->kind == DOMAIN_PACKAGE || ed->kind == DOMAIN_CORE || ed->kind == DOMAIN_UNCORE) ||
                    !per_pkg || k < 0) {
                        if (cycles) {
                                for (size_t i = 0; i < n; i++)
                                        w[i] = (double) procs[i].cycles;
                                m->att_in[d].weights = w;
                                m->att_in[d].weight_total = 0;
                        }
                        continue;
                }
                /* The process's CPU time in the interval, split as the switch
                 * program saw it split between packages. */
                for (size_t i = 0; i < n; i++) {
                        uint64_t sum = 0;
                        for (size_t j = 0; j < PROCESS_MAX_PKGS; j++)
                                sum += procs[i].pkg_cpu_ns[j];
                        double frac = sum > 0 ? (double) procs[i].pkg_cpu_ns[k] / (double) sum : 0;
                        w[i] = (cycles ? (double) procs[i].cycles : (double) procs[i].cpu_ns) * frac;
                }
                m->att_in[d].weights = w;
                m->att_in[d].weight_total = 0;
                if (!cycles && stat && stat->n_cpus == m->last_stat.n_cpus) {
                        uint64_t busy = 0;
                        for (size_t c = 0; c < stat->n_cpus; c++) {
                                int cpu = stat->cpu_ids[c];
                                if (cpu < 0 || (size_t) cpu >= m->n_cpu_pkg || m->cpu_pkg[cpu] != k)
                                        continue;
                                if (stat->cpu_busy_ns[c] >= m->last_stat.cpu_busy_ns[c])
                                        busy += stat->cpu_busy_ns[c] - m->last_stat.cpu_busy_ns[c];
                        }
                        m->att_in[d].weight_total = (double) busy;
                }
        }
}

/* attrib: CPU → package index for the tracker's switch program. */
static int manager_read_topology(Manager *m) {
        _cleanup_(topology_done) Topology topo = {};
        int r;

        r = topology_read(m->cfg.sys_root, &topo);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || topo.n_cpus == 0 || topo.n_packages > PROCESS_MAX_PKGS) {
                log_debug_errno(r, "No usable CPU topology, attributing package energy by total CPU time: %m");
                return 0;
        }
        m->n_cpu_pkg = (size_t) topo.cpus[topo.n_cpus - 1].cpu + 1;
        m->cpu_pkg = malloc(m->n_cpu_pkg * sizeof(int));
        if (!m->cpu_pkg)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_cpu_pkg; i++)
                m->cpu_pkg[i] = -1;
        m->n_pkgs = topo.n_packages;
        for (size_t k = 0; k < topo.n_packages; k++)
                m->pkg_ids[k] = topo.packages[k];
        for (size_t i = 0; i < topo.n_cpus; i++)
                m->cpu_pkg[topo.cpus[i].cpu] = manager_pkg_index(m, topo.cpus[i].package);
        return 0;
}

/* One interval: read energy, sample processes, attribute, store. */
static int manager_sample(Manager *m, bool final) {
        ProcessDelta *procs = NULL;
        size_t n = 0;
        ProcStat stat = {};
        bool have_stat;
        uint64_t mono, real;
        double dt;
        int r;

        mono = now_ns(CLOCK_MONOTONIC);
        real = now_ns(CLOCK_REALTIME);
        manager_read_sources(m, (double) (mono - m->last_mono_ns) / 1e9);
        r = tracker_sample(m->tracker, &procs, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to sample processes: %m");
        have_stat = proc_stat_read(m->cfg.proc_root, &stat) >= 0;
        uint64_t irq_now[IRQ_CPUS_MAX + 1];
        bool have_irq = read_irq_ns(m->cfg.proc_root, irq_now) >= 0;

        dt = (double) (mono - m->last_mono_ns) / 1e9;
        if (dt <= 0.001) /* e.g. SIGTERM right after a tick: nothing to write */
                goto done;

        r = manager_ensure_buffers(m, n);
        if (r < 0) {
                proc_stat_done(&stat);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++)
                m->cpu_ns[i] = procs[i].cpu_ns;

        uint64_t busy_ns = 0;
        if (have_stat && m->have_stat && stat.busy_ns >= m->last_stat.busy_ns)
                busy_ns = stat.busy_ns - m->last_stat.busy_ns;
        uint64_t total_cpu = 0;
        for (size_t i = 0; i < n; i++)
                total_cpu += procs[i].cpu_ns;
        size_t n_cpus = have_stat && stat.n_cpus > 0 ? stat.n_cpus : (size_t) sysconf(_SC_NPROCESSORS_ONLN);
        /* Utilisation for the idle-power regression: the kernel's busy time of
         * this very interval. The processes' total is only a fallback: exit
         * events can carry CPU time of earlier intervals, which would put
         * points at the wrong utilisation and pull the intercept down. */
        double util = (double) (have_stat && m->have_stat ? busy_ns : total_cpu) / (dt * 1e9 * n_cpus);

        for (size_t d = 0; d < m->n_domains; d++) {
                ManagerDomain *md = &m->domains[d];
                IdleMethod method;
                if (isfinite(md->measured_j))
                        idle_estimator_add(&md->idle, util, md->measured_j / dt);
                m->att_in[d] = (AttributionDomainIn) {
                        .measured_j = md->measured_j,
                        .idle_w = idle_estimator_get(&md->idle, &method),
                        .busy_ns = busy_ns,
                };
                m->records[d] = (DomainRecord) {
                        .domain = &md->source->domains[md->index],
                        .source = md->source->ops->name,
                        .host_total = md->host_total,
                        .idle_w = m->att_in[d].idle_w,
                        .idle_method = idle_method_to_string(method),
                };
        }

        manager_domain_bases(m, dt, procs, n, have_stat && m->have_stat ? &stat : NULL);
        if (have_irq && m->have_irq)
                for (size_t d = 0; d < m->n_domains; d++) {
                        const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                        int k = ed->package >= 0 ? manager_pkg_index(m, ed->package) : -1;
                        uint64_t irq = 0;
                        if (m->att_in[d].weights && m->att_in[d].weight_total > 0 && k >= 0) {
                                /* per-package basis: that package's CPUs */
                                for (size_t c = 0; c < m->n_cpu_pkg && c < IRQ_CPUS_MAX; c++)
                                        if (m->cpu_pkg[c] == k && irq_now[c] >= m->irq_last[c])
                                                irq += irq_now[c] - m->irq_last[c];
                        } else if (irq_now[IRQ_CPUS_MAX] >= m->irq_last[IRQ_CPUS_MAX])
                                irq = irq_now[IRQ_CPUS_MAX] - m->irq_last[IRQ_CPUS_MAX];
                        m->att_in[d].irq_ns = irq;
                }

        r = attribution_compute(dt, m->cfg.idle_policy, m->att_in, m->n_domains, m->cpu_ns, n,
                                m->att_out, m->proc_j);
        if (r < 0) {
                proc_stat_done(&stat);
                return log_error_errno(r, "Attribution failed: %m");
        }
        for (size_t d = 0; d < m->n_domains; d++) {
                m->records[d].valid = m->att_out[d].valid;
                m->records[d].measured_j = m->att_out[d].measured_j;
                m->records[d].idle_j = m->att_out[d].idle_j;
                m->records[d].attributed_j = m->att_out[d].attributed_j;
                m->records[d].unattributed_j = m->att_out[d].unattributed_j;
                m->records[d].irq_j = m->att_out[d].irq_j;
        }

        IntervalRecord rec = {
                .start_ns = m->last_real_ns,
                .end_ns = real,
                .boot_realtime_ns = m->boot_realtime_ns,
                .n_domains = m->n_domains,
                .domains = m->records,
                .n_procs = n,
                .procs = procs,
                .proc_domain_j = m->proc_j,
        };
        /* storage: failed intervals wait in a bounded buffer and are written later. */
        r = store_write_buffered(m->store, &rec);
        if (r < 0) {
                m->write_errors++;
                if (!m->write_failing)
                        log_error_errno(r, "Failed to write interval to %s: %m (will keep measuring, "
                                        "buffering intervals in memory)", m->cfg.db_path);
                m->write_failing = true;
        } else {
                if (m->write_failing) {
                        StoreQueueStats qs;
                        store_queue_stats(m->store, &qs);
                        log_notice("Database writes to %s work again (%" PRIu64 " buffered intervals written, "
                                   "%" PRIu64 " dropped).", m->cfg.db_path, qs.written_late, qs.dropped);
                        manager_write_state(m);
                }
                m->write_failing = false;
                m->intervals++;
        }
        if (!m->write_failing && (m->maintain_pending || real - m->last_maintain_ns >= 60 * NSEC_PER_SEC)) {
                /* storage: rollups and retention, in small transactions. */
                r = store_maintain(m->store, real, 20);
                if (r < 0 && !m->maintain_failing)
                        log_warning_errno(r, "Database maintenance of %s failed, will retry: %m", m->cfg.db_path);
                m->maintain_failing = r < 0;
                m->maintain_pending = r > 0;
                m->last_maintain_ns = real;
        }

        /* Metrics, after the store saw the interval, with the daemon's health. */
        if (m->metrics) {
                TrackerStats ts;
                StoreQueueStats qs;
                MetricsHealth h = { .now_ns = mono, .write_errors = m->write_errors,
                                    .counters_discarded = m->counters_discarded };
                tracker_get_stats(m->tracker, &ts);
                store_queue_stats(m->store, &qs);
                h.exits_lost = ts.exits_lost;
                h.intervals_buffered = qs.queued;
                h.intervals_dropped = qs.dropped;
                for (size_t i = 0; i < m->n_sources; i++)
                        h.counters_discarded += m->sources[i]->n_discarded;
                r = metrics_add_interval(m->metrics, &rec, &h);
                if (r < 0)
                        log_debug_errno(r, "Updating metrics failed, ignoring: %m");
        }

        if (m->cfg.print)
                manager_print_interval(m, dt, procs, n);
        if (final || m->intervals % STATE_EVERY_N == 1)
                manager_write_state(m);
        manager_notify_status(m, dt);
        if (!m->ready) {
                sd_notify(false, "READY=1");
                m->ready = true;
        }

done:
        m->last_mono_ns = mono;
        m->last_real_ns = real;
        if (have_irq) {
                memcpy(m->irq_last, irq_now, sizeof(m->irq_last));
                m->have_irq = true;
        }
        if (have_stat) {
                proc_stat_done(&m->last_stat);
                m->last_stat = stat; /* hand the arrays over */
                m->have_stat = true;
        }
        return 0;
}

static uint64_t interval_usec(const Manager *m) {
        return (uint64_t) llround(m->cfg.interval_s * 1e6);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        r = manager_sample(m, false);
        if (r == -ENOMEM)
                return sd_event_exit(m->event, EXIT_FAILURE);
        /* Next tick relative to this one's deadline, so intervals do not drift. */
        r = sd_event_source_set_time(s, usec + interval_usec(m));
        if (r < 0)
                return sd_event_exit(m->event, EXIT_FAILURE);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

static int on_tracker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        int r = tracker_process_events(m->tracker);
        if (r < 0)
                log_debug_errno(r, "Processing tracker events failed, ignoring: %m");
        return 0;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        uint64_t wd = 0;
        sd_watchdog_enabled(false, &wd);
        sd_notify(false, "WATCHDOG=1");
        (void) sd_event_source_set_time(s, usec + wd / 2);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, writing the last interval and exiting.", strsignal((int) si->ssi_signo));
        sd_notify(false, "STOPPING=1\nSTATUS=Writing the last interval and exiting.");
        (void) manager_sample(m, true);
        return sd_event_exit(m->event, m->exit_code);
}

static void manager_write_carbon_state(Manager *m) {
        char buf[64];

        snprintf(buf, sizeof(buf), "%g", m->cfg.carbon_g_per_kwh);
        (void) store_set_state(m->store, "carbon_g_per_kwh", buf);
        (void) store_set_state(m->store, "carbon_source", m->cfg.carbon_source ? m->cfg.carbon_source : "");
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        JouledConfig fresh;
        int r;

        if (!m->config_path) {
                log_info("SIGHUP: no configuration file in use, nothing to reload.");
                return 0;
        }
        sd_notify(false, "RELOADING=1");
        config_init_defaults(&fresh);
        r = config_load(&fresh, m->config_path);
        if (r < 0)
                log_warning("Configuration %s has errors; keeping the running configuration.", m->config_path);
        else {
                /* Settings that apply without reopening anything. */
                m->cfg.idle_policy = fresh.idle_policy;
                m->cfg.carbon_g_per_kwh = fresh.carbon_g_per_kwh;
                free(m->cfg.carbon_source);
                m->cfg.carbon_source = TAKE_PTR(fresh.carbon_source);
                manager_write_carbon_state(m);
                memcpy(m->cfg.idle, fresh.idle, sizeof(fresh.idle));
                m->cfg.n_idle = fresh.n_idle;
                for (size_t d = 0; d < m->n_domains; d++) {
                        const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                        m->domains[d].idle.configured_w = domain_idle_override(m, ed->name);
                }
                log_info("Reloaded configuration from %s.", m->config_path);
        }
        config_done(&fresh);
        sd_notify(false, "READY=1");
        return 0;
}

static int manager_write_start_state(Manager *m) {
        char buf[64];
        bool in_use[MAX_PROBES] = {};

        for (size_t i = 0; i < m->n_probes; i++)
                for (size_t j = 0; j < m->n_sources; j++)
                        if (streq_ptr(m->probes[i].name, m->sources[j]->ops->name))
                                in_use[i] = true;
        (void) store_set_probes(m->store, m->probes, in_use, m->n_probes);

        (void) store_set_state(m->store, "version", PACKAGE_VERSION);
        snprintf(buf, sizeof(buf), "%d", (int) getpid());
        (void) store_set_state(m->store, "pid", buf);
        (void) store_set_state(m->store, "self_pid", buf);   /* attrib: jouled's own row is labelled */
        (void) store_set_state(m->store, "attribution_basis", tracker_basis(m->tracker));
        (void) store_set_state(m->store, "attribution_per_package", tracker_per_package(m->tracker) ? "yes" : "no");
        snprintf(buf, sizeof(buf), "%g", m->cfg.interval_s);
        (void) store_set_state(m->store, "interval_s", buf);
        (void) store_set_state(m->store, "started", format_iso8601(now_ns(CLOCK_REALTIME), false, buf, sizeof(buf)));
        (void) store_set_state(m->store, "tracker_mode", tracker_mode_to_string(tracker_mode(m->tracker)));
        (void) store_set_state(m->store, "tracker_note",
                               tracker_mode(m->tracker) == TRACKER_BPF ? "" :
                               "short-lived processes may be missed (BPF tracker unavailable: polling /proc)");
        (void) store_set_state(m->store, "tracker_fallback_reason",
                               tracker_fallback_reason(m->tracker) ? tracker_fallback_reason(m->tracker) : "");
        manager_write_carbon_state(m);
        return 0;
}

int manager_start(Manager *m) {
        TrackerConfig tc = {
                .proc_root = m->cfg.proc_root,
                .force_mode = streq_ptr(m->cfg.tracker, "bpf") ? TRACKER_BPF :
                              streq_ptr(m->cfg.tracker, "procfs") ? TRACKER_PROCFS : _TRACKER_MODE_INVALID,
                .accounting = m->cfg.tracker_accounting,
                .interval_ns = (uint64_t) (m->cfg.interval_s * 1e9),
        };
        sigset_t mask;
        uint64_t wd = 0;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");

        r = manager_open_sources(m);
        if (r < 0)
                return r;

        r = manager_read_topology(m);
        if (r < 0)
                return log_oom();
        tc.cpu_package = m->cpu_pkg;
        tc.n_cpus = m->n_cpu_pkg;
        r = tracker_new(&tc, &m->tracker);
        if (r < 0)
                return log_error_errno(r, "Failed to start the process tracker: %m");

        r = store_open(m->cfg.db_path, STORE_CREATE, &m->store);
        if (r < 0)
                return r; /* store_open() said why */
        { /* storage: retention and command lines */
                StoreOptions so;
                store_options_init(&so);
                so.raw_retention_ns = m->cfg.raw_retention_ns;
                so.minute_retention_ns = m->cfg.minute_retention_ns;
                so.hour_retention_ns = m->cfg.hour_retention_ns;
                so.cmdline_proc_root = m->cfg.store_cmdline ? m->cfg.proc_root : NULL;
                if (store_set_options(m->store, &so) < 0)
                        return log_oom();
        }
        manager_write_start_state(m);

        r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_reload, m);
        if (r < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");

        if (tracker_get_fd(m->tracker) >= 0) {
                r = sd_event_add_io(m->event, &m->tracker_io, tracker_get_fd(m->tracker), EPOLLIN, on_tracker_io, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the tracker's events: %m");
        }

        /* Baselines: the first reading of every counter and every process. */
        m->boot_realtime_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_BOOTTIME);
        manager_read_sources(m, 0);
        {
                ProcessDelta *procs;
                size_t n;
                r = tracker_sample(m->tracker, &procs, &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to sample processes: %m");
        }
        m->have_stat = proc_stat_read(m->cfg.proc_root, &m->last_stat) >= 0;
        m->last_mono_ns = now_ns(CLOCK_MONOTONIC);
        m->last_real_ns = now_ns(CLOCK_REALTIME);

        uint64_t accuracy = MIN(interval_usec(m) / 20, (uint64_t) 50000);
        r = sd_event_add_time(m->event, &m->timer, CLOCK_MONOTONIC,
                              m->last_mono_ns / 1000 + interval_usec(m), accuracy, on_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the sampling timer: %m");

        if (sd_watchdog_enabled(false, &wd) > 0 && wd > 0) {
                r = sd_event_add_time_relative(m->event, &m->watchdog, CLOCK_MONOTONIC, wd / 2, 0, on_watchdog, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to arm the watchdog timer: %m");
        }

        /* fleet: least privilege, then the metrics exporter (its HTTP thread must
         * start after the capabilities are dropped: they are per thread). */
        {
                bool rapl = false;
                for (size_t i = 0; i < m->n_sources; i++)
                        rapl = rapl || m->sources[i]->ops == &rapl_source_ops;
                r = privileges_drop(m->cfg.user, privileges_default_keep(rapl, m->cfg.user && *m->cfg.user));
                if (r < 0)
                        return r;
        }
        if (m->cfg.metrics_listen || m->cfg.metrics_textfile) {
                MetricsConfig mc = {
                        .listen = m->cfg.metrics_listen,
                        .textfile_dir = m->cfg.metrics_textfile,
                        .top_processes = m->cfg.metrics_top_processes,
                        .max_series = m->cfg.metrics_max_series,
                        .idle_expiry_ns = m->cfg.metrics_idle_expiry_ns,
                        .version = PACKAGE_VERSION,
                        .tracker = tracker_mode_to_string(tracker_mode(m->tracker)),
                        .idle_policy = idle_policy_to_string(m->cfg.idle_policy),
                };
                for (size_t i = 0; i < m->n_sources; i++)
                        (void) model_source_params(m->sources[i], &mc.model_min_w, &mc.model_max_w);
                r = metrics_new(&mc, &m->metrics);
                if (r < 0)
                        return log_oom();
                r = metrics_start(m->metrics);
                if (r < 0)
                        return r;
        }

        log_info("jouled %s sampling every %gs into %s (%s tracker).", PACKAGE_VERSION, m->cfg.interval_s,
                 m->cfg.db_path, tracker_mode_to_string(tracker_mode(m->tracker)));
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}
