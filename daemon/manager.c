/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "manager.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "attribution-prepare.h"
#include "attribution.h"
#include "cleanup.h"
#include "counter-guard.h"
#include "idle.h"
#include "jouled-build.h"
#include "log.h"
#include "metrics.h"
#include "privileges.h"
#include "procfs.h"
#include "sanitize.h"
#include "source.h"
#include "store.h"
#include "store-query.h"
#include "topology.h"
#include "tracker.h"
#include "util.h"

#define MAX_PROBES 16
#define STATE_EVERY_N 10

/* One energy domain as the manager follows it. */
typedef struct ManagerDomain {
        EnergySource *source;
        size_t index;                 /* in source->domains */
        uint64_t last_uj;
        bool have_last;
        bool host_total;
        IdleEstimator idle;
        IdleEstimate idle_est;        /* as of the last interval */
        /* This interval: */
        double measured_j;            /* NAN when not read */
} ManagerDomain;

struct Manager {
        JouledConfig cfg;             /* a deep copy would be overkill: we own the strings */
        char *config_path;

        sd_event *event;
        sd_event_source *timer;
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
        Metrics *metrics;             /* Prometheus exporter, NULL when off */

        uint64_t last_mono_ns, last_real_ns;
        uint64_t boot_realtime_ns;
        /* /proc/stat, read once per interval and passed on (model source,
         * tracker, attribution): this interval's and the previous one's. */
        ProcStat stat, last_stat;
        int stat_error;               /* of this interval's read: 0 or negative errno */
        bool have_stat, have_last_stat;

        uint64_t intervals;           /* written */
        uint64_t write_errors;
        uint64_t last_maintain_ns;    /* CLOCK_REALTIME of the last store_maintain() */
        bool maintain_pending;        /* it had work left: call again next interval */
        bool maintain_failing;
        uint64_t counters_discarded;
        bool write_failing;           /* logged once until it works again */
        StoreQueueStats qs_logged;    /* write buffer counts as last logged */
        uint64_t drop_logged_mono_ns; /* when drops were last logged */
        bool reload_failed;           /* the last reload was refused: said in STATUS= */
        bool ready;
        int exit_code;

        /* Reused per-interval buffers. */
        uint64_t *cpu_ns;
        double *proc_j;
        double *proc_idle_j;          /* each process's CPU-time share of idle energy, per domain */
        AttributionDomainIn *att_in;
        AttributionDomainOut *att_out;
        DomainRecord *records;
        size_t proc_cap;

        /* Per-package split and per-domain bases. */
        int *cpu_pkg;                 /* CPU → package index, -1 unknown */
        size_t n_cpu_pkg;
        int pkg_ids[PROCESS_MAX_PKGS];  /* package index → physical package id */
        size_t n_pkgs;
        AttributionDomainPlace *places; /* per domain: kind and package index */
        double *weights;              /* n_domains × n_procs, by domain */
};

static void manager_close_sources(Manager *m) {
        assert(m);

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
        sd_event_source_disable_unref(m->tracker_io);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_unref(m->event);
        tracker_free(m->tracker);
        manager_close_sources(m);
        store_free(m->store);
        metrics_free(m->metrics);
        proc_stat_done(&m->stat);
        proc_stat_done(&m->last_stat);
        free(m->cpu_ns);
        free(m->proc_j);
        free(m->proc_idle_j);
        free(m->weights);
        free(m->cpu_pkg);
        free(m->places);
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

        assert(cfg);
        assert(ret);

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
        assert(m);
        assert(name);

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

        assert(m);

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
                        idle_estimator_init(&m->domains[k].idle);
                        idle_estimator_set_configured(&m->domains[k].idle, domain_idle_override(m, d->name));
                        idle_estimator_set_min_interval(&m->domains[k].idle, m->cfg.interval_s / 2);
                        if (d->idle_known)
                                idle_estimator_set_source(&m->domains[k].idle, d->idle_w);
                        /* max_power_w may be a source's plausibility bound rather than the
                         * domain's power (RAPL without a power limit says 1000 W): the fraction
                         * of the power seen stands in where the data contradict it. */
                        if (d->max_power_w > 0)
                                idle_estimator_set_prior(&m->domains[k].idle, IDLE_PRIOR_FRACTION * d->max_power_w,
                                                         IDLE_PRIOR_BAND_FRACTION * IDLE_PRIOR_FRACTION * d->max_power_w);
                        idle_estimator_set_prior_fraction(&m->domains[k].idle, IDLE_PRIOR_FRACTION,
                                                          IDLE_PRIOR_BAND_FRACTION);
                        log_object(LOG_INFO, m->sources[i]->ops->name, d->name,
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

        assert(cfg);
        assert(f);

        r = manager_new(cfg, NULL, &m);
        if (r < 0)
                return r;
        r = manager_open_sources(m);
        source_probe_print(f, m->probes, m->n_probes, m->sources, m->n_sources);
        return r;
}

/* This interval's /proc/stat, read once: the model source and the
 * attribution take it from here (the tracker, at the next interval). */
static void manager_read_host(Manager *m) {
        assert(m);

        proc_stat_done(&m->stat);
        m->stat_error = procfs_read_stat(m->cfg.proc_root, &m->stat);
        m->have_stat = m->stat_error >= 0;
        if (!m->have_stat)
                log_debug_errno(m->stat_error, "Reading %s/stat failed: %m", m->cfg.proc_root);
}

/* Read every domain; fills measured_j for this interval (NAN when unknown).
 * A step that goes backwards or beyond max_power_w is discarded. */
static void manager_read_sources(Manager *m, double dt_s) {
        size_t k = 0;

        assert(m);

        for (size_t i = 0; i < m->n_sources; i++) {
                EnergySource *s = m->sources[i];
                uint64_t *uj = m->read_uj + k;
                int r = s->ops == &model_source_ops ?
                        model_source_read_stat(s, m->have_stat ? &m->stat : NULL, m->stat_error,
                                               now_ns(CLOCK_MONOTONIC), uj) :
                        s->ops->read(s, uj);
                for (size_t j = 0; j < s->n_domains; j++, k++) {
                        ManagerDomain *d = &m->domains[k];
                        d->measured_j = NAN;
                        if (r < 0 || uj[j] == ENERGY_READ_FAILED) {
                                d->have_last = false;
                                continue;
                        }
                        if (d->have_last) {
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

/* The tracker runs before this interval's /proc/stat is read (one cut:
 * manager_sample()), so its choice of accounting takes the context switch
 * count of the previous interval's read. final: the last sample before exit,
 * which also counts what running tasks ran since they were last counted
 * (per-switch mode). */
static int manager_sample_tracker(Manager *m, bool final, ProcessDelta **ret, size_t *ret_n) {
        int r;

        assert(m);
        assert(ret);
        assert(ret_n);

        tracker_set_host_stat(m->tracker, m->have_last_stat ? &m->last_stat : NULL);
        r = final ? tracker_sample_last(m->tracker, ret, ret_n) : tracker_sample(m->tracker, ret, ret_n);
        if (r < 0)
                return log_error_errno(r, "Failed to sample processes: %m");
        return 0;
}

static int manager_ensure_buffers(Manager *m, size_t n_procs) {
        assert(m);

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
                double *q = realloc(m->proc_idle_j, cap * m->n_domains * sizeof(double));
                if (!q)
                        return -ENOMEM;
                m->proc_idle_j = q;
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

        assert(m);
        assert(procs || n == 0);

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
                /* Any user names a process: its control bytes and invalid
                 * UTF-8 are shown escaped, padded by display width. */
                _cleanup_free_ char *name = text_escape(p->comm);
                size_t w = text_width(name ?: "?");

                printf("    %7u %s%*s %6.1f%% CPU %8.3f W%s\n", p->pid, name ?: "?", w < 16 ? (int) (16 - w) : 0, "",
                       100.0 * (double) procs[top[j]].cpu_ns / (dt * 1e9), top_e[j] / dt,
                       m->domains[0].source->ops->estimated ? " (estimated)" : "");
        }
        fflush(stdout);
}

/* Each domain's idle estimate, "W BAND METHOD", as daemon state: what
 * `joulectl status` shows, and what the next start takes as its persisted
 * prior (manager_restore_idle()). */
static void manager_write_idle_state(Manager *m) {
        char key[64 + DOMAIN_NAME_MAX], buf[128];

        for (size_t d = 0; d < m->n_domains; d++) {
                const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                const IdleEstimate *e = &m->domains[d].idle_est;
                if (e->method == IDLE_METHOD_NONE)
                        continue;
                snprintf(key, sizeof(key), "idle_estimate.%s", ed->name);
                snprintf(buf, sizeof(buf), "%.6f %.6f %s", e->w, e->band_w, idle_method_to_string(e->method));
                (void) store_set_state(m->store, key, buf);
        }
}

/* A restart does not start from nothing: an estimate the data had made
 * (measured-idle, regression, or one persisted before) stands as the
 * persisted prior until this run's data identify idle power again. */
static void manager_restore_idle(Manager *m) {
        char key[64 + DOMAIN_NAME_MAX], method[32];

        for (size_t d = 0; d < m->n_domains; d++) {
                const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                _cleanup_free_ char *v = NULL;
                double w, band;

                snprintf(key, sizeof(key), "idle_estimate.%s", ed->name);
                if (store_query_state(m->store, key, &v) < 0 || !v)
                        continue;
                if (sscanf(v, "%lf %lf %31s", &w, &band, method) != 3)
                        continue;
                IdleMethod im = idle_method_from_string(method);
                if (im == IDLE_METHOD_MEASURED_IDLE || im == IDLE_METHOD_REGRESSION || im == IDLE_METHOD_PERSISTED) {
                        idle_estimator_set_persisted(&m->domains[d].idle, w, band);
                        log_object(LOG_INFO, m->domains[d].source->ops->name, ed->name,
                                   "Idle power of %s: %.2f ± %.2f W persisted by an earlier run (%s), "
                                   "until this run's data identify it.", ed->name, w, band, method);
                }
        }
}

static void manager_write_state(Manager *m) {
        TrackerStats st;
        char buf[64];

        assert(m);

        manager_write_idle_state(m);

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
        (void) store_set_state(m->store, "exits_early_only", buf);
        snprintf(buf, sizeof(buf), "%" PRIu64, m->write_errors);
        (void) store_set_state(m->store, "write_errors", buf);
        { /* write buffer and counter guard */
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

        assert(m);

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
                off += (size_t) snprintf(status + off, sizeof(status) - off, "; database writes failing");
        if (m->reload_failed && off < sizeof(status) - 64)
                snprintf(status + off, sizeof(status) - off, "; last reload failed, previous configuration kept");
        sd_notify(false, status);
}

/* Index of a physical package id in m->pkg_ids, or -1. */
static int manager_pkg_index(const Manager *m, int package) {
        assert(m);

        for (size_t k = 0; k < m->n_pkgs; k++)
                if (m->pkg_ids[k] == package)
                        return (int) k;
        return -1;
}

/* CPU → package index for the tracker's switch program and the bases. */
static int manager_read_topology(Manager *m) {
        _cleanup_(topology_done) Topology topo = {};
        int r;

        assert(m);

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

/* Each domain's kind and package index, for the bases (after the sources
 * and the topology). */
static int manager_place_domains(Manager *m) {
        assert(m);

        m->places = calloc(MAX(m->n_domains, (size_t) 1), sizeof(AttributionDomainPlace));
        if (!m->places)
                return -ENOMEM;
        for (size_t d = 0; d < m->n_domains; d++) {
                const EnergyDomain *ed = &m->domains[d].source->domains[m->domains[d].index];
                m->places[d] = (AttributionDomainPlace) {
                        .kind = ed->kind,
                        .pkg = ed->package >= 0 ? manager_pkg_index(m, ed->package) : -1,
                };
        }
        return 0;
}

/* What the tracker's per-process counters measure. */
static AttributionBasis manager_basis(const Manager *m) {
        assert(m);
        return tracker_basis(m->tracker);
}

/* Each GPU's per-process use since the previous interval, from its source
 * (gpu[d] for the nvml domains, empty for the others and where the driver
 * reports none: the source logs that), for the GPU bases. */
static void manager_read_gpu_use(Manager *m, AttributionGpuUse *gpu) {
        assert(m);
        assert(gpu);

        for (size_t d = 0; d < m->n_domains; d++) {
                NvmlProcessUse *uses = NULL;
                size_t n = 0;

                gpu[d] = (AttributionGpuUse) {};
                if (m->domains[d].source->ops != &nvml_source_ops)
                        continue;
                if (nvml_source_process_use(m->domains[d].source, m->domains[d].index, &uses, &n) >= 0)
                        gpu[d] = (AttributionGpuUse) { .uses = uses, .n_uses = n };
        }
}

static void manager_free_gpu_use(AttributionGpuUse *gpu, size_t n) {
        for (size_t d = 0; gpu && d < n; d++)
                free((NvmlProcessUse *) gpu[d].uses);
        free(gpu);
}

/* Attribution's input for this interval: each domain's reading and idle
 * power (the idle estimators learn this interval's point first), and the
 * bases (attribution-prepare.h). */
static int manager_prepare(Manager *m, double dt, const ProcessDelta *procs, size_t n) {
        AttributionPrepareIn in;
        AttributionGpuUse *gpu;
        double util;
        int r;

        assert(m);
        assert(procs || n == 0);

        r = manager_ensure_buffers(m, n);
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < n; i++)
                m->cpu_ns[i] = procs[i].cpu_ns;

        in = (AttributionPrepareIn) {
                .dt_s = dt,
                .basis = manager_basis(m),
                .per_package = tracker_per_package(m->tracker),
                .procs = procs,
                .n_procs = n,
                .stat = m->have_stat ? &m->stat : NULL,
                .last_stat = m->have_last_stat ? &m->last_stat : NULL,
                .cpu_pkg = m->cpu_pkg,
                .n_cpu_pkg = m->n_cpu_pkg,
                .domains = m->places,
                .n_domains = m->n_domains,
        };
        util = attribution_utilisation(&in, m->have_stat ? 0 : (size_t) sysconf(_SC_NPROCESSORS_ONLN));

        for (size_t d = 0; d < m->n_domains; d++) {
                ManagerDomain *md = &m->domains[d];
                if (isfinite(md->measured_j))
                        idle_estimator_add(&md->idle, dt, util, md->measured_j);
                IdleEstimate est = idle_estimator_get(&md->idle);
                md->idle_est = est;
                m->att_in[d] = (AttributionDomainIn) {
                        .measured_j = md->measured_j,
                        .idle_w = est.w,
                };
                m->records[d] = (DomainRecord) {
                        .domain = &md->source->domains[md->index],
                        .source = md->source->ops->name,
                        .host_total = md->host_total,
                        .idle_w = m->att_in[d].idle_w,
                        .idle_method = idle_method_to_string(est.method),
                        .idle_band_w = est.band_w,
                };
        }
        gpu = calloc(m->n_domains, sizeof(AttributionGpuUse));
        if (!gpu)
                return log_oom();
        manager_read_gpu_use(m, gpu);
        in.gpu = gpu;
        in.boot_realtime_ns = m->boot_realtime_ns;
        attribution_prepare(&in, m->weights, m->att_in);
        manager_free_gpu_use(gpu, m->n_domains);
        return 0;
}

static int manager_attribute(Manager *m, double dt, size_t n) {
        int r;

        assert(m);

        r = attribution_compute(dt, m->cfg.idle_policy, m->att_in, m->n_domains, m->cpu_ns, n,
                                m->att_out, m->proc_j);
        if (r < 0)
                return log_error_errno(r, "Attribution failed: %m");
        for (size_t d = 0; d < m->n_domains; d++) {
                m->records[d].valid = m->att_out[d].valid;
                m->records[d].measured_j = m->att_out[d].measured_j;
                m->records[d].idle_j = m->att_out[d].idle_j;
                m->records[d].attributed_j = m->att_out[d].attributed_j;
                m->records[d].unattributed_j = m->att_out[d].unattributed_j;
                m->records[d].irq_j = m->att_out[d].irq_j;
        }
        /* The second view of each row: its CPU-time share of idle energy. */
        attribution_idle_shares(m->att_out, m->n_domains, m->cpu_ns, n, m->proc_idle_j);
        return 0;
}

/* Say what became of the interval just handed to the store, and of the
 * write buffer: every loss is logged once, with counts. */
static void manager_log_write(Manager *m, int r, uint64_t mono, bool final) {
        StoreQueueStats qs;
        bool buffered;

        store_queue_stats(m->store, &qs);
        buffered = qs.buffered_total > m->qs_logged.buffered_total;
        if (r < 0) {
                m->write_errors++;
                if (!buffered) {
                        /* Refused for good (not a write error that may pass): not buffered. */
                        log_error_errno(r, "Interval refused by the store, dropped: %m");
                        m->qs_logged.dropped = MAX(m->qs_logged.dropped, qs.dropped);
                } else if (!m->write_failing) {
                        log_error_errno(r, "Failed to write interval to %s: %m (will keep measuring, "
                                        "buffering intervals in memory)", m->cfg.db_path);
                        m->write_failing = true;
                }
        } else {
                m->intervals++;
                if (m->write_failing) {
                        log_notice("Database writes to %s work again (%" PRIu64 " buffered intervals written, "
                                   "%" PRIu64 " dropped).", m->cfg.db_path,
                                   qs.written_late - m->qs_logged.written_late, qs.dropped - m->qs_logged.dropped);
                        m->write_failing = false;
                        m->qs_logged = qs;
                        manager_write_state(m);
                }
        }
        /* The oldest buffered intervals go when the buffer is full: at most
         * one line a minute while that lasts, the rest when it ends. */
        if (qs.dropped > m->qs_logged.dropped &&
            (final || !m->write_failing || mono - m->drop_logged_mono_ns >= 60 * NSEC_PER_SEC)) {
                log_warning("Write buffer full: dropped the %" PRIu64 " oldest buffered intervals "
                            "(%" PRIu64 " dropped since start).", qs.dropped - m->qs_logged.dropped, qs.dropped);
                m->qs_logged.dropped = qs.dropped;
                m->drop_logged_mono_ns = mono;
        }
        m->qs_logged.buffered_total = qs.buffered_total;
}

/* Write the interval; failed intervals wait in a bounded buffer and are
 * written later. Then rollups and retention, in small transactions. */
static void manager_store(Manager *m, const IntervalRecord *rec, uint64_t mono, uint64_t real, bool final) {
        int r;

        assert(m);
        assert(rec);

        /* A database deleted or replaced under us is noticed and made again. */
        r = store_verify_file(m->store);
        if (r > 0)
                log_warning("Database %s was deleted or replaced while jouled ran; writing into a new one there.",
                            m->cfg.db_path);
        r = store_write_buffered(m->store, rec);
        manager_log_write(m, r, mono, final);
        if (!m->write_failing && (m->maintain_pending || real - m->last_maintain_ns >= 60 * NSEC_PER_SEC)) {
                r = store_maintain(m->store, real, 20);
                if (r < 0 && !m->maintain_failing)
                        log_warning_errno(r, "Database maintenance of %s failed, will retry: %m", m->cfg.db_path);
                m->maintain_failing = r < 0;
                m->maintain_pending = r > 0;
                m->last_maintain_ns = real;
        }
}

/* After the store saw the interval: metrics, stdout, state, service manager. */
static void manager_export(Manager *m, const IntervalRecord *rec, uint64_t mono, double dt, bool final) {
        int r;

        assert(m);
        assert(rec);

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
                r = metrics_add_interval(m->metrics, rec, &h);
                if (r < 0)
                        log_debug_errno(r, "Updating metrics failed, ignoring: %m");
        }

        if (m->cfg.print)
                manager_print_interval(m, dt, rec->procs, rec->n_procs);
        if (final || m->intervals % STATE_EVERY_N == 1)
                manager_write_state(m);
        manager_notify_status(m, dt);
        if (!m->ready) {
                sd_notify(false, "READY=1");
                m->ready = true;
        }
}

/* This interval's reads become the baselines of the next one. */
static void manager_advance(Manager *m, uint64_t mono, uint64_t real) {
        assert(m);

        m->last_mono_ns = mono;
        m->last_real_ns = real;
        if (m->have_stat) {
                proc_stat_done(&m->last_stat);
                m->last_stat = m->stat; /* hand the arrays over */
                m->stat = (ProcStat) {};
                m->have_last_stat = true;
                m->have_stat = false;
        }
}

/* The three reads of an interval, as one cut: the processes' CPU time
 * (the tracker: exit events, then the task walk or the per-switch map), then
 * at once the host's busy time and every energy counter, and the interval's
 * end taken there. The tracker's variable work (thousands of exit events in
 * a storm, a long walk) comes first, so no part of it separates the CPU-time
 * snapshot from the busy time and the energy it is shared against: were it
 * in between, the CPU it took would fall into the next interval's processes
 * but this interval's energy, and a process's share (its CPU over the
 * larger of busy time and Σ CPU) would leave energy unattributed. */
static int manager_read_cut(Manager *m, bool final, ProcessDelta **ret, size_t *ret_n, uint64_t *ret_mono, uint64_t *ret_real) {
        int r;

        assert(m);
        assert(ret_mono);
        assert(ret_real);

        r = manager_sample_tracker(m, final, ret, ret_n);
        if (r < 0)
                return r;
        manager_read_host(m);
        *ret_mono = now_ns(CLOCK_MONOTONIC);
        *ret_real = now_ns(CLOCK_REALTIME);
        manager_read_sources(m, m->last_mono_ns > 0 ? (double) (*ret_mono - m->last_mono_ns) / 1e9 : 0);
        return 0;
}

/* One interval: the cut (processes, host stats, energy), prepare,
 * attribute, store, export. */
static int manager_sample(Manager *m, bool final) {
        ProcessDelta *procs = NULL;
        size_t n = 0;
        uint64_t mono, real;
        double dt;
        int r;

        assert(m);

        r = manager_read_cut(m, final, &procs, &n, &mono, &real);
        if (r < 0)
                return r;
        dt = (double) (mono - m->last_mono_ns) / 1e9;
        if (dt > 0.001) { /* else, e.g. SIGTERM right after a tick: nothing to write */
                r = manager_prepare(m, dt, procs, n);
                if (r < 0)
                        return r;
                r = manager_attribute(m, dt, n);
                if (r < 0)
                        return r;

                /* The interval lasted what CLOCK_MONOTONIC says; when the wall
                 * clock stepped meanwhile (more than a second off), it is
                 * placed to end now, never dropped nor stretched over the step. */
                uint64_t start_real = m->last_real_ns, mono_dt = mono - m->last_mono_ns;
                if (real < start_real || real - start_real > mono_dt + NSEC_PER_SEC ||
                    real - start_real + NSEC_PER_SEC < mono_dt) {
                        start_real = real > mono_dt ? real - mono_dt : 0;
                        log_notice("The wall clock stepped by %+.3f s; the interval is stored as ending at the new time.",
                                   ((double) real - (double) m->last_real_ns - (double) mono_dt) / 1e9);
                }
                IntervalRecord rec = {
                        .start_ns = start_real,
                        .end_ns = real,
                        .boot_realtime_ns = m->boot_realtime_ns,
                        .n_domains = m->n_domains,
                        .domains = m->records,
                        .n_procs = n,
                        .procs = procs,
                        .proc_domain_j = m->proc_j,
                        .proc_idle_share_j = m->proc_idle_j,
                };
                manager_store(m, &rec, mono, real, final);
                manager_export(m, &rec, mono, dt, final);
        }
        manager_advance(m, mono, real);
        return 0;
}

static uint64_t interval_usec(const Manager *m) {
        return (uint64_t) llround(m->cfg.interval_s * 1e6);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        assert(m);

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
        int r;

        assert(m);

        r = tracker_process_events(m->tracker);
        if (r < 0)
                log_debug_errno(r, "Processing tracker events failed, ignoring: %m");
        return 0;
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        assert(m);

        log_info("Received %s, writing the last interval and exiting.", strsignal((int) si->ssi_signo));
        sd_notify(false, "STOPPING=1\nSTATUS=Writing the last interval and exiting.");
        (void) manager_sample(m, true);
        {
                /* A last try for what is buffered (the sample may have had
                 * nothing to write), then say what is lost. */
                StoreQueueStats qs;
                store_queue_stats(m->store, &qs);
                if (qs.queued > 0)
                        (void) store_write_buffered(m->store, NULL);
                store_queue_stats(m->store, &qs);
                if (qs.queued > 0) {
                        log_error("Exiting with %zu intervals (%" PRIu64 " bytes) that could not be written to %s: "
                                  "they are lost.", qs.queued, qs.queued_bytes, m->cfg.db_path);
                        m->exit_code = EXIT_FAILURE;
                }
        }
        return sd_event_exit(m->event, m->exit_code);
}

static void manager_write_carbon_state(Manager *m) {
        char buf[64];

        assert(m);

        snprintf(buf, sizeof(buf), "%g", m->cfg.carbon_g_per_kwh);
        (void) store_set_state(m->store, "carbon_g_per_kwh", buf);
        (void) store_set_state(m->store, "carbon_source", m->cfg.carbon_source ? m->cfg.carbon_source : "");
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        JouledConfig fresh;
        int r;

        assert(m);

        if (!m->config_path) {
                log_info("SIGHUP: no configuration file in use, nothing to reload.");
                return 0;
        }
        sd_notify(false, "RELOADING=1");
        config_init_defaults(&fresh);
        r = config_load(&fresh, m->config_path);
        m->reload_failed = r < 0;
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
                        idle_estimator_set_configured(&m->domains[d].idle, domain_idle_override(m, ed->name));
                }
                log_info("Reloaded configuration from %s.", m->config_path);
        }
        config_done(&fresh);
        if (m->reload_failed)
                sd_notifyf(false, "READY=1\nSTATUS=Reload failed: configuration %s has errors (see the log); "
                           "running with the previous configuration.", m->config_path);
        else
                sd_notify(false, "READY=1");
        return 0;
}

static int manager_write_start_state(Manager *m) {
        char buf[64];
        bool in_use[MAX_PROBES] = {};

        assert(m);

        for (size_t i = 0; i < m->n_probes; i++)
                for (size_t j = 0; j < m->n_sources; j++)
                        if (streq_ptr(m->probes[i].name, m->sources[j]->ops->name))
                                in_use[i] = true;
        (void) store_set_probes(m->store, m->probes, in_use, m->n_probes);

        (void) store_set_state(m->store, "version", PACKAGE_VERSION);
        snprintf(buf, sizeof(buf), "%d", (int) getpid());
        (void) store_set_state(m->store, "pid", buf);
        (void) store_set_state(m->store, "self_pid", buf);   /* jouled's own row is labelled */
        (void) store_set_state(m->store, "attribution_basis", attribution_basis_to_string(manager_basis(m)));
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
                .keep_cmdline = m->cfg.store_cmdline,
        };
        sigset_t mask;
        int r;

        assert(m);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");

        /* A --source naming no source is refused before anything is opened. */
        r = config_check_source_spec(m->cfg.source_spec);
        if (r == -EINVAL)
                return log_error_errno(r, "Unknown energy source in \"%s\": expected %s.",
                                       m->cfg.source_spec, CONFIG_SOURCE_ACCEPTED);
        if (r < 0)
                return log_oom();

        /* The database first: its lock says at once whether another jouled
         * writes it. Only the default state directory is ever created. */
        r = store_open(m->cfg.db_path,
                       STORE_CREATE | (strcmp(m->cfg.db_path, "/var/lib/jouled/jouled.db") == 0 ? STORE_CREATE_PARENTS : 0),
                       &m->store);
        if (r < 0)
                return r; /* store_open() said why */
        {
                StoreOptions so;
                store_options_init(&so);
                so.raw_retention_ns = m->cfg.raw_retention_ns;
                so.minute_retention_ns = m->cfg.minute_retention_ns;
                so.hour_retention_ns = m->cfg.hour_retention_ns;
                if (store_set_options(m->store, &so) < 0)
                        return log_oom();
        }

        r = manager_open_sources(m);
        if (r < 0)
                return r;

        r = manager_read_topology(m);
        if (r >= 0)
                r = manager_place_domains(m);
        if (r < 0)
                return log_oom();
        tc.cpu_package = m->cpu_pkg;
        tc.n_cpus = m->n_cpu_pkg;
        r = tracker_new(&tc, &m->tracker);
        if (r < 0)
                return r; /* tracker_new() logged why */

        manager_restore_idle(m);
        manager_write_start_state(m);

        r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_reload, m);
        if (r >= 0)
                r = sd_event_source_set_description(m->sig_term, "sigterm");
        if (r >= 0)
                r = sd_event_source_set_description(m->sig_int, "sigint");
        if (r >= 0)
                r = sd_event_source_set_description(m->sig_hup, "sighup-reload");
        if (r < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");

        if (tracker_get_fd(m->tracker) >= 0) {
                r = sd_event_add_io(m->event, &m->tracker_io, tracker_get_fd(m->tracker), EPOLLIN, on_tracker_io, m);
                if (r >= 0)
                        r = sd_event_source_set_description(m->tracker_io, "tracker-events");
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the tracker's events: %m");
        }

        /* Baselines: the first reading of every counter and every process. */
        m->boot_realtime_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_BOOTTIME);
        {
                ProcessDelta *procs;
                size_t n;
                uint64_t mono, real;
                r = manager_read_cut(m, false, &procs, &n, &mono, &real);
                if (r < 0)
                        return r;
                manager_advance(m, mono, real);
        }

        uint64_t accuracy = MIN(interval_usec(m) / 20, (uint64_t) 50000);
        r = sd_event_add_time(m->event, &m->timer, CLOCK_MONOTONIC,
                              m->last_mono_ns / 1000 + interval_usec(m), accuracy, on_timer, m);
        if (r >= 0)
                r = sd_event_source_set_description(m->timer, "sample-timer");
        if (r < 0)
                return log_error_errno(r, "Failed to arm the sampling timer: %m");

        /* WATCHDOG=1 at half of WatchdogSec= while the loop runs (nothing when
         * the service manager asked for no watchdog). */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");

        /* Least privilege, then the metrics exporter (its HTTP thread must
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
        int r;

        assert(m);

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}
