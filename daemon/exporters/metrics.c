/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus exporter: bounded series state, text formatter, HTTP server
 * (libmicrohttpd, optional) and node_exporter textfile writer. */
#include "metrics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "cleanup.h"
#include "hashmap.h"
#include "jouled-build.h"
#include "log.h"
#include "sanitize.h"
#include "util.h"

#if HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

/* Series always present: jouled_info, jouled_intervals_total, seven health
 * figures, jouled_self_* (two), jouled_metrics_max_series and the host
 * total. Each domain adds four counters and two idle estimate gauges. */
#define FIXED_SERIES 13
#define SERIES_PER_DOMAIN 6
/* Series per group or process: energy, energy with idle share, CPU time. */
#define SERIES_PER_GROUP 3
/* A group without a series takes the slot of the exported one with the least
 * recent energy only when it has this many times more (no flapping). */
#define SWAP_FACTOR 2.0
/* Names without a series remembered: groups (all kinds together), and
 * processes besides those with a series. */
#define CANDIDATES_MAX 256
#define PROC_CANDIDATES_MAX 1024
/* The label value of the bucket of everything not exported. */
#define OTHER_NAME "other"

typedef struct DomainTotals {
        char name[DOMAIN_NAME_MAX];
        char source[32];
        bool estimated;
        double measured_j, idle_j, attributed_j, unattributed_j;
        /* The latest idle estimate: power, ± band (NAN: not given), method. */
        double idle_w, idle_band_w;
        char idle_method[32];
} DomainTotals;

typedef enum GroupKind {
        GROUP_UNIT,
        GROUP_USER,
        GROUP_SLICE,
        GROUP_CONTAINER,
        _GROUP_KIND_MAX,
} GroupKind;

static const struct {
        const char *label;
        const char *energy_help;
        const char *with_idle_help;
        const char *cpu_help;
} group_kinds[_GROUP_KIND_MAX] = {
        [GROUP_UNIT] = { "unit", "Energy attributed to the processes of a systemd unit (leaf cgroup).",
                         "Energy attributed to the processes of a unit plus their CPU-time share of idle energy.",
                         "CPU time of the processes of a unit." },
        [GROUP_USER] = { "user", "Energy attributed to the processes of a user.",
                         "Energy attributed to the processes of a user plus their CPU-time share of idle energy.",
                         "CPU time of the processes of a user." },
        [GROUP_SLICE] = { "slice", "Energy attributed to the processes of a systemd slice (nearest .slice cgroup).",
                          "Energy attributed to the processes of a slice plus their CPU-time share of idle energy.",
                          "CPU time of the processes of a slice." },
        [GROUP_CONTAINER] = { "container", "Energy attributed to the processes of a container (id from its cgroup).",
                              "Energy attributed to the processes of a container plus their CPU-time share of idle "
                              "energy.",
                              "CPU time of the processes of a container." },
};

/* Which counter of a group or process a family shows. */
typedef enum SeriesField { SF_ENERGY, SF_WITH_IDLE, SF_CPU } SeriesField;

/* One group (unit, user, slice, container) or one process. */
typedef struct Series {
        GroupKind kind;               /* groups only */
        HashKey key;
        char *name;                   /* the group's name; a process's comm */
        double energy_j, cpu_s;       /* the series' values */
        double idle_share_j;          /* its share of idle: energy_j + this is the energy with idle */
        double pending_j, pending_cpu_s, pending_idle_j; /* this interval's, not added yet */
        double score;                 /* recent energy: decays with time constant idle_expiry */
        uint64_t last_active_ns;
        bool exported;
        bool estimated;
        bool active;                  /* seen in this interval */
        bool exited;                  /* processes: its end was reported */
        uint32_t pid, uid;            /* processes */
        char *unit, *user;            /* processes */
        char *slice, *container;      /* processes: from the tracker, or parsed from the cgroup path once */
} Series;

typedef struct SeriesSet {
        Hashmap *map;                 /* key → Series */
        size_t n_exported;
        double other_j, other_cpu_s;  /* groups: the `other` bucket, never goes down */
        double other_idle_j;
        bool other_estimated, other_used;
} SeriesSet;

struct Metrics {
        char *listen;
        char *textfile_dir;
        size_t top_n;
        size_t max_series;
        uint64_t idle_expiry_ns;
        char *version;
        char *tracker;
        char *idle_policy;
        double model_min_w, model_max_w;

        DomainTotals *domains;
        size_t n_domains;
        double host_j;
        bool host_estimated;
        char host_domains[256];       /* the domains that make the host total, comma separated */
        char sources[128];            /* the sources of the domains, comma separated */
        char idle_method[64];         /* idle methods of the host total's domains, comma separated */

        SeriesSet groups[_GROUP_KIND_MAX];
        SeriesSet procs;
        uint64_t intervals;
        uint64_t last_now_ns;
        bool have_now;
        MetricsHealth health;
        double last_sample_s;         /* CLOCK_REALTIME seconds of the last interval's end */
        double self_cpu_s;
        uint64_t self_rss_bytes;
        size_t n_series;
        bool textfile_failing;

        pthread_mutex_t lock;         /* guards text and text_len: the HTTP thread reads them */
        char *text;
        size_t text_len;

#if HAVE_MICROHTTPD
        struct MHD_Daemon *httpd;
        LogRateLimit http_log;        /* the HTTP thread's only */
#endif
};

static Series *series_free(Series *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s->unit);
        free(s->user);
        free(s->slice);
        free(s->container);
        free(s);
        return NULL;
}

static void set_done(SeriesSet *set) {
        size_t st = 0;
        void *v;

        if (!set->map)
                return;
        while (hashmap_iterate(set->map, &st, NULL, &v))
                series_free(v);
        set->map = hashmap_free(set->map);
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
#if HAVE_MICROHTTPD
        if (m->httpd) {
                MHD_stop_daemon(m->httpd);
                /* Its thread is gone: say what it left unsaid. */
                if (m->http_log.suppressed > 0)
                        log_warning("Metrics HTTP server: %" PRIu64 " messages suppressed in the last minute.",
                                    m->http_log.suppressed);
        }
#endif
        for (size_t k = 0; k < _GROUP_KIND_MAX; k++)
                set_done(&m->groups[k]);
        set_done(&m->procs);
        pthread_mutex_destroy(&m->lock);
        free(m->domains);
        free(m->text);
        free(m->listen);
        free(m->textfile_dir);
        free(m->version);
        free(m->tracker);
        free(m->idle_policy);
        free(m);
        return NULL;
}

static int dup_opt(char **dst, const char *src) {
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int metrics_new(const MetricsConfig *cfg, Metrics **ret) {
        _cleanup_(metrics_freep) Metrics *m = NULL;

        assert(cfg);
        assert(ret);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        m->top_n = cfg->top_processes;
        m->max_series = cfg->max_series ? cfg->max_series : METRICS_DEFAULT_MAX_SERIES;
        m->idle_expiry_ns = cfg->idle_expiry_ns ? cfg->idle_expiry_ns : METRICS_DEFAULT_IDLE_EXPIRY_NS;
        m->model_min_w = cfg->model_min_w;
        m->model_max_w = cfg->model_max_w;
        if (dup_opt(&m->listen, cfg->listen) < 0 || dup_opt(&m->textfile_dir, cfg->textfile_dir) < 0 ||
            dup_opt(&m->version, cfg->version ? cfg->version : "unknown") < 0 ||
            dup_opt(&m->tracker, cfg->tracker ? cfg->tracker : "unknown") < 0 ||
            dup_opt(&m->idle_policy, cfg->idle_policy) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < _GROUP_KIND_MAX; k++)
                if (!(m->groups[k].map = hashmap_new()))
                        return -ENOMEM;
        if (!(m->procs.map = hashmap_new()))
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

static HashKey string_key(GroupKind kind, const char *s) {
        /* Two independent FNV-1a hashes: a collision of both is not a concern. */
        uint64_t a = UINT64_C(14695981039346656037) ^ (uint64_t) kind, b = UINT64_C(0x9e3779b97f4a7c15);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                a = (a ^ *p) * UINT64_C(1099511628211);
                b = (b ^ *p) * UINT64_C(0x100000001b3) + 0x7f;
        }
        return (HashKey) { a, b };
}

static void user_name(uint32_t uid, char *buf, size_t size) {
        struct passwd pw, *res = NULL;
        char pwbuf[1024];

        if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
                strscpy(buf, size, res->pw_name);
        else
                snprintf(buf, size, "%u", uid);
}

/* The entry of key in set, created with name when missing. */
static int set_get(SeriesSet *set, HashKey key, const char *name, Series **ret) {
        Series *s = hashmap_get(set->map, key);
        int r;

        if (!s) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                s->key = key;
                s->name = strdup(name);
                if (!s->name) {
                        series_free(s);
                        return -ENOMEM;
                }
                r = hashmap_put(set->map, key, s);
                if (r < 0) {
                        series_free(s);
                        return r;
                }
        }
        *ret = s;
        return 0;
}

static void set_remove(SeriesSet *set, Series *s) {
        if (s->exported)
                set->n_exported--;
        series_free(hashmap_remove(set->map, s->key));
}

/* Every entry of the sets, in one array (free() it). */
static int sets_collect(SeriesSet *sets, size_t n_sets, Series ***ret, size_t *ret_n) {
        size_t total = 0, n = 0;
        Series **all;

        for (size_t i = 0; i < n_sets; i++)
                total += hashmap_size(sets[i].map);
        all = calloc(total + 1, sizeof(*all));
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < n_sets; i++) {
                size_t st = 0;
                void *v;
                while (hashmap_iterate(sets[i].map, &st, NULL, &v) && n < total)
                        all[n++] = v;
        }
        *ret = all;
        *ret_n = n;
        return 0;
}

static int cmp_score_desc(const void *a, const void *b) {
        const Series *x = *(Series * const *) a, *y = *(Series * const *) b;
        if (x->score != y->score)
                return x->score < y->score ? 1 : -1;
        if (x->energy_j != y->energy_j)
                return x->energy_j < y->energy_j ? 1 : -1;
        if (x->cpu_s != y->cpu_s)
                return x->cpu_s < y->cpu_s ? 1 : -1;
        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return strcmp(x->name, y->name);
}

static DomainTotals *domain_get(Metrics *m, const DomainRecord *d) {
        for (size_t i = 0; i < m->n_domains; i++)
                if (streq_ptr(m->domains[i].name, d->domain->name) && streq_ptr(m->domains[i].source, d->source))
                        return &m->domains[i];
        DomainTotals *n = realloc(m->domains, (m->n_domains + 1) * sizeof(*n));
        if (!n)
                return NULL;
        m->domains = n;
        n = &m->domains[m->n_domains++];
        *n = (DomainTotals) { .estimated = d->domain->estimated };
        strscpy(n->name, sizeof(n->name), d->domain->name);
        strscpy(n->source, sizeof(n->source), d->source ? d->source : "unknown");
        return n;
}

static double nonneg(double v) {
        return isfinite(v) && v > 0 ? v : 0;
}

/* Slots: processes get at most a quarter of what the fixed series leave,
 * groups what remains after the processes and the four `other` buckets
 * (SERIES_PER_GROUP series each). */
static size_t proc_slots(const Metrics *m) {
        size_t fixed = FIXED_SERIES + SERIES_PER_DOMAIN * m->n_domains;
        size_t avail = m->max_series > fixed ? m->max_series - fixed : 0;
        return MIN(m->top_n, avail / 4);
}

static size_t group_slots(const Metrics *m) {
        size_t fixed = FIXED_SERIES + SERIES_PER_DOMAIN * m->n_domains + SERIES_PER_GROUP * proc_slots(m) +
                       SERIES_PER_GROUP * _GROUP_KIND_MAX;
        return m->max_series > fixed ? (m->max_series - fixed) / SERIES_PER_GROUP : 0;
}

/* Append s to a comma separated list in buf unless it is there already. */
static void list_add(char *buf, size_t size, const char *s) {
        size_t n = strlen(s), len = strlen(buf);

        if (!s || !*s)
                return;
        for (const char *p = buf; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, s, n) == 0 && (p[n] == ',' || p[n] == 0))
                        return;
        if (len + (len > 0) + n + 1 > size)
                return;
        snprintf(buf + len, size - len, "%s%s", len > 0 ? "," : "", s);
}

static void group_add(SeriesSet *set, Series *g, double e, double idle, double cpu, bool estimated, uint64_t now) {
        g->pending_j += e;
        g->pending_idle_j += idle;
        g->pending_cpu_s += cpu;
        g->estimated = g->estimated || estimated;
        g->last_active_ns = now;
        g->active = true;
        (void) set;
}

static int group_account(Metrics *m, GroupKind kind, HashKey key, const char *name, uint32_t uid,
                         double e, double idle, double cpu, bool estimated, uint64_t now) {
        SeriesSet *set = &m->groups[kind];
        Series *g = hashmap_get(set->map, key);
        char uname[64];
        int r;

        if (!g) {
                if (kind == GROUP_USER) {
                        user_name(uid, uname, sizeof(uname));
                        name = uname;
                }
                r = set_get(set, key, name, &g);
                if (r < 0)
                        return r;
                g->kind = kind;
        }
        group_add(set, g, e, idle, cpu, estimated, now);
        return 0;
}

/* Fold what a group's series holds into its kind's `other` and end the series. */
static void group_fold(Metrics *m, Series *g) {
        SeriesSet *set = &m->groups[g->kind];

        if (g->exported) {
                set->other_j += g->energy_j;
                set->other_idle_j += g->idle_share_j;
                set->other_cpu_s += g->cpu_s;
                set->other_estimated = set->other_estimated || g->estimated;
                set->other_used = true;
                set->n_exported--;
        }
        g->exported = false;
        g->energy_j = g->cpu_s = g->idle_share_j = 0;
}

static int groups_rebalance(Metrics *m, uint64_t now) {
        _cleanup_free_ Series **all = NULL;
        size_t n = 0, slots = group_slots(m), n_exp = 0, n_cand = 0;
        int r;

        /* Expire idle groups. */
        r = sets_collect(m->groups, _GROUP_KIND_MAX, &all, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                Series *g = all[i];
                g->score += g->pending_j;
                if (!g->active && now - g->last_active_ns >= m->idle_expiry_ns) {
                        group_fold(m, g);
                        set_remove(&m->groups[g->kind], g);
                        all[i] = NULL;
                }
        }

        /* Rank: exported ones by recent energy, ascending, the others descending. */
        _cleanup_free_ Series **exp = calloc(n + 1, sizeof(*exp));
        _cleanup_free_ Series **cand = calloc(n + 1, sizeof(*cand));
        if (!exp || !cand)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!all[i])
                        continue;
                if (all[i]->exported)
                        exp[n_exp++] = all[i];
                else if (strcmp(all[i]->name, OTHER_NAME) != 0) /* a group named "other" is counted in other */
                        cand[n_cand++] = all[i];
        }
        qsort(cand, n_cand, sizeof(*cand), cmp_score_desc);
        qsort(exp, n_exp, sizeof(*exp), cmp_score_desc);

        size_t c = 0, total = n_exp;
        /* Too many exported (the cap went down with more domains): drop the least. */
        while (total > slots && total > 0) {
                group_fold(m, exp[--total]);
        }
        n_exp = total;
        /* Free slots go to the best candidates. */
        for (; c < n_cand && total < slots; c++, total++) {
                cand[c]->exported = true;
                m->groups[cand[c]->kind].n_exported++;
        }
        /* Then a candidate takes the slot of the least exported one when it has
         * SWAP_FACTOR times its recent energy. */
        for (size_t e = n_exp; c < n_cand && e > 0; c++, e--) {
                Series *lo = exp[e - 1];
                if (!(cand[c]->score > SWAP_FACTOR * lo->score))
                        break;
                group_fold(m, lo);
                cand[c]->exported = true;
                m->groups[cand[c]->kind].n_exported++;
        }

        /* Add this interval: to the series, or to `other`. */
        for (size_t i = 0; i < n; i++) {
                Series *g = all[i];
                SeriesSet *set;
                if (!g)
                        continue;
                set = &m->groups[g->kind];
                if (g->exported) {
                        g->energy_j += g->pending_j;
                        g->idle_share_j += g->pending_idle_j;
                        g->cpu_s += g->pending_cpu_s;
                } else if (g->active) {
                        set->other_j += g->pending_j;
                        set->other_idle_j += g->pending_idle_j;
                        set->other_cpu_s += g->pending_cpu_s;
                        set->other_estimated = set->other_estimated || g->estimated;
                        set->other_used = true;
                }
                g->pending_j = g->pending_cpu_s = g->pending_idle_j = 0;
                g->active = false;
        }

        /* Remember a bounded number of candidates: the least are forgotten
         * (what they had is in `other` already). */
        size_t keep = CANDIDATES_MAX;
        n_cand = 0;
        for (size_t i = 0; i < n; i++)
                if (all[i] && !all[i]->exported)
                        cand[n_cand++] = all[i];
        if (n_cand > keep) {
                qsort(cand, n_cand, sizeof(*cand), cmp_score_desc);
                for (size_t i = keep; i < n_cand; i++)
                        set_remove(&m->groups[cand[i]->kind], cand[i]);
        }
        return 0;
}

static int procs_rebalance(Metrics *m, uint64_t now) {
        _cleanup_free_ Series **all = NULL;
        size_t n = 0, slots = proc_slots(m), n_cand = 0;
        int r;

        r = sets_collect(&m->procs, 1, &all, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                Series *p = all[i];
                /* A process's series ends one interval after its end was
                 * reported (that interval shows its final figures), or when
                 * it stayed idle for the expiry time. */
                if (!p->active && (p->exited || now - p->last_active_ns >= m->idle_expiry_ns)) {
                        set_remove(&m->procs, p);
                        continue;
                }
                p->score += p->pending_j;
                p->energy_j += p->pending_j;
                p->idle_share_j += p->pending_idle_j;
                p->cpu_s += p->pending_cpu_s;
                p->pending_j = p->pending_cpu_s = p->pending_idle_j = 0;
                p->active = false;
                if (!p->exported)
                        all[n_cand++] = p;
        }
        qsort(all, n_cand, sizeof(*all), cmp_score_desc);
        for (size_t c = 0; c < n_cand && m->procs.n_exported < slots; c++) {
                all[c]->exported = true;
                m->procs.n_exported++;
        }
        size_t keep = PROC_CANDIDATES_MAX;
        for (size_t c = keep; c < n_cand; c++)
                if (!all[c]->exported)
                        set_remove(&m->procs, all[c]);
        return 0;
}

/* Slice and container of a process: the tracker's, else from its cgroup path. */
static int proc_groups(Series *p, const ProcessInfo *info) {
        _cleanup_(cgroup_info_done) CgroupInfo ci = {};

        if (info->slice || info->container_id) {
                if ((info->slice && !(p->slice = strdup(info->slice))) ||
                    (info->container_id && !(p->container = strdup(info->container_id))))
                        return -ENOMEM;
                return 0;
        }
        if (!info->cgroup_path)
                return 0;
        if (cgroup_path_parse(info->cgroup_path, &ci) == -ENOMEM)
                return -ENOMEM;
        p->slice = TAKE_PTR(ci.slice);
        p->container = TAKE_PTR(ci.container_id);
        return 0;
}

static int proc_account(Metrics *m, const ProcessInfo *info, double e, double idle, double cpu, bool estimated,
                        uint64_t now, Series **ret) {
        HashKey key = { info->pid, info->start_time_ns };
        char uname[64];
        Series *p;
        int r;

        r = set_get(&m->procs, key, info->comm, &p);
        if (r < 0)
                return r;
        if (!p->user) {
                p->pid = info->pid;
                p->uid = info->uid;
                user_name(info->uid, uname, sizeof(uname));
                if (!(p->user = strdup(uname)))
                        return -ENOMEM;
                r = proc_groups(p, info);
                if (r < 0)
                        return r;
        }
        /* The labels stay those of the series' start: a new comm (exec) or
         * unit would be a new series. */
        if (!p->unit && !(p->unit = strdup(info->unit ? info->unit : "unknown")))
                return -ENOMEM;
        p->pending_j += e;
        p->pending_idle_j += idle;
        p->pending_cpu_s += cpu;
        p->estimated = p->estimated || estimated;
        p->exited = p->exited || info->exited;
        p->last_active_ns = now;
        p->active = true;
        *ret = p;
        return 0;
}

static void self_usage(Metrics *m) {
        struct rusage ru;
        unsigned long size, resident;
        FILE *f;

        if (getrusage(RUSAGE_SELF, &ru) == 0)
                m->self_cpu_s = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
                                (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        f = fopen("/proc/self/statm", "re");
        if (!f)
                return;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2)
                m->self_rss_bytes = (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE);
        fclose(f);
}

static int metrics_update(Metrics *m, const IntervalRecord *rec, const MetricsHealth *health) {
        bool any_estimated = false;
        uint64_t now;
        int r;

        m->intervals++;
        if (health) {
                uint64_t lost = MAX(m->health.exits_lost, health->exits_lost);
                m->health = *health;
                m->health.exits_lost = lost;
        }
        /* Without a clock from the caller, one interval counts as its length. */
        now = health && health->now_ns ? health->now_ns :
              m->last_now_ns + (rec->end_ns > rec->start_ns ? rec->end_ns - rec->start_ns : 0);
        if (rec->end_ns > 0)
                m->last_sample_s = (double) rec->end_ns / 1e9;

        /* Recent energy decays with time constant idle_expiry. */
        if (m->have_now && now > m->last_now_ns) {
                double f = exp(-(double) (now - m->last_now_ns) / (double) m->idle_expiry_ns);
                for (size_t k = 0; k <= _GROUP_KIND_MAX; k++) {
                        SeriesSet *set = k < _GROUP_KIND_MAX ? &m->groups[k] : &m->procs;
                        size_t st = 0;
                        void *v;
                        while (hashmap_iterate(set->map, &st, NULL, &v))
                                ((Series *) v)->score *= f;
                }
        }
        m->last_now_ns = now;
        m->have_now = true;

        m->host_domains[0] = m->sources[0] = m->idle_method[0] = 0;
        for (size_t d = 0; d < rec->n_domains; d++) {
                const DomainRecord *dr = &rec->domains[d];
                DomainTotals *t = domain_get(m, dr);
                if (!t)
                        return -ENOMEM;
                list_add(m->sources, sizeof(m->sources), t->source);
                if (dr->host_total) {
                        list_add(m->host_domains, sizeof(m->host_domains), t->name);
                        m->host_estimated = m->host_estimated || dr->domain->estimated;
                }
                if (!dr->valid)
                        continue;
                t->idle_w = dr->idle_w;
                /* No band given: none for the methods exact by definition. */
                t->idle_band_w = isfinite(dr->idle_band_w) && dr->idle_band_w > 0 ? dr->idle_band_w :
                                 streq_ptr(dr->idle_method, "configured") || streq_ptr(dr->idle_method, "source") ? 0
                                                                                                            : NAN;
                strscpy(t->idle_method, sizeof(t->idle_method), dr->idle_method ? dr->idle_method : "unknown");
                t->measured_j += nonneg(dr->measured_j);
                t->idle_j += nonneg(dr->idle_j);
                t->attributed_j += nonneg(dr->attributed_j);
                t->unattributed_j += nonneg(dr->unattributed_j);
                if (dr->host_total) {
                        m->host_j += nonneg(dr->measured_j);
                        if (dr->idle_method)
                                list_add(m->idle_method, sizeof(m->idle_method), dr->idle_method);
                        if (dr->domain->estimated)
                                any_estimated = true;
                }
        }

        for (size_t i = 0; i < rec->n_procs; i++) {
                const ProcessInfo *info = rec->procs[i].info;
                double e = 0, idle = 0, cpu = (double) rec->procs[i].cpu_ns / 1e9;
                const char *unit = info->unit ? info->unit : "unknown";
                Series *p;

                for (size_t d = 0; d < rec->n_domains; d++)
                        if (rec->domains[d].valid && rec->domains[d].host_total) {
                                e += nonneg(rec->proc_domain_j[i * rec->n_domains + d]);
                                if (rec->proc_idle_share_j)
                                        idle += nonneg(rec->proc_idle_share_j[i * rec->n_domains + d]);
                        }

                r = proc_account(m, info, e, idle, cpu, any_estimated, now, &p);
                if (r < 0)
                        return r;
                r = group_account(m, GROUP_UNIT, string_key(GROUP_UNIT, unit), unit, 0, e, idle, cpu, any_estimated, now);
                if (r < 0)
                        return r;
                r = group_account(m, GROUP_USER, (HashKey) { info->uid, GROUP_USER }, NULL, info->uid, e, idle,
                                  cpu, any_estimated, now);
                if (r < 0)
                        return r;
                if (p->slice) {
                        r = group_account(m, GROUP_SLICE, string_key(GROUP_SLICE, p->slice), p->slice, 0,
                                          e, idle, cpu, any_estimated, now);
                        if (r < 0)
                                return r;
                }
                if (p->container) {
                        r = group_account(m, GROUP_CONTAINER, string_key(GROUP_CONTAINER, p->container),
                                          p->container, 0, e, idle, cpu, any_estimated, now);
                        if (r < 0)
                                return r;
                }
        }

        r = groups_rebalance(m, now);
        if (r < 0)
                return r;
        return procs_rebalance(m, now);
}

static void put_header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_value(FILE *f, double v) {
        /* %.17g round-trips; counters are never negative or NaN here. */
        fprintf(f, " %.17g\n", nonneg(v));
}

static void put_scalar(FILE *f, const char *name, const char *type, const char *help, double v) {
        put_header(f, name, type, help);
        fputs(name, f);
        put_value(f, v);
}

static const char *bool_str(bool b) {
        return b ? "true" : "false";
}

/* ,name="value" with the value sanitised; no leading comma when first. */
static void put_label(FILE *f, bool first, const char *name, const char *value) {
        fprintf(f, "%s%s=\"", first ? "" : ",", name);
        fputs_prom_label(value, f);
        fputc('"', f);
}

typedef enum DomainField { DF_MEASURED, DF_IDLE, DF_ATTRIBUTED, DF_UNATTRIBUTED } DomainField;

static void put_domains(FILE *f, const Metrics *m, const char *name, const char *help, DomainField field) {
        put_header(f, name, "counter", help);
        for (size_t i = 0; i < m->n_domains; i++) {
                const DomainTotals *d = &m->domains[i];
                double v = field == DF_MEASURED ? d->measured_j : field == DF_IDLE ? d->idle_j :
                           field == DF_ATTRIBUTED ? d->attributed_j : d->unattributed_j;
                fprintf(f, "%s{", name);
                put_label(f, true, "domain", d->name);
                put_label(f, false, "source", d->source);
                put_label(f, false, "estimated", bool_str(d->estimated));
                fputc('}', f);
                put_value(f, v);
        }
}

static void put_group(FILE *f, const char *name, const char *label, const char *value, bool estimated,
                      bool cpu, double v) {
        fprintf(f, "%s{", name);
        put_label(f, true, label, value);
        if (!cpu)
                put_label(f, false, "estimated", bool_str(estimated));
        fputc('}', f);
        put_value(f, v);
}

static double series_value(const Series *g, SeriesField field) {
        return field == SF_CPU ? g->cpu_s : field == SF_WITH_IDLE ? g->energy_j + g->idle_share_j : g->energy_j;
}

static void put_groups(FILE *f, const Metrics *m, GroupKind kind, SeriesField field) {
        static const char *const suffix[] = {
                [SF_ENERGY] = "energy_joules_total",
                [SF_WITH_IDLE] = "energy_with_idle_joules_total",
                [SF_CPU] = "cpu_seconds_total",
        };
        const SeriesSet *set = &m->groups[kind];
        const char *label = group_kinds[kind].label;
        bool cpu = field == SF_CPU;
        char name[64];
        size_t st = 0;
        void *v;

        snprintf(name, sizeof(name), "jouled_%s_%s", label, suffix[field]);
        put_header(f, name, "counter",
                   cpu ? group_kinds[kind].cpu_help :
                   field == SF_WITH_IDLE ? group_kinds[kind].with_idle_help : group_kinds[kind].energy_help);
        while (hashmap_iterate(set->map, &st, NULL, &v)) {
                const Series *g = v;
                if (g->exported)
                        put_group(f, name, label, g->name, g->estimated, cpu, series_value(g, field));
        }
        if (set->other_used)
                put_group(f, name, label, OTHER_NAME, set->other_estimated, cpu,
                          cpu ? set->other_cpu_s : field == SF_WITH_IDLE ? set->other_j + set->other_idle_j : set->other_j);
}

/* The latest idle estimate of each domain that has one: power and ± band,
 * with how it was found (method label). */
static void put_idle_estimates(FILE *f, const Metrics *m, bool band) {
        const char *name = band ? "jouled_domain_idle_power_band_watts" : "jouled_domain_idle_power_watts";

        put_header(f, name, "gauge",
                   band ? "Uncertainty of the idle power estimate (plus or minus, about 95%), per domain."
                        : "Idle (static) power estimate per domain; method says how it was found (configured, source, "
                          "measured-idle, regression, persisted, prior).");
        for (size_t i = 0; i < m->n_domains; i++) {
                const DomainTotals *d = &m->domains[i];
                double v = band ? d->idle_band_w : d->idle_w;
                if (!isfinite(v) || !d->idle_method[0])
                        continue;
                fprintf(f, "%s{", name);
                put_label(f, true, "domain", d->name);
                put_label(f, false, "source", d->source);
                put_label(f, false, "method", d->idle_method);
                fputc('}', f);
                put_value(f, v);
        }
}

static void put_proc(FILE *f, const char *name, const Series *p, bool estimated_label) {
        char pid[16];

        snprintf(pid, sizeof(pid), "%u", p->pid);
        fprintf(f, "%s{", name);
        put_label(f, true, "pid", pid);
        put_label(f, false, "comm", p->name);
        put_label(f, false, "unit", p->unit);
        put_label(f, false, "user", p->user);
        if (estimated_label)
                put_label(f, false, "estimated", bool_str(p->estimated));
        fputc('}', f);
}

static size_t count_samples(const char *text, size_t len) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                if ((i == 0 || text[i - 1] == '\n') && text[i] != '#' && text[i] != '\n')
                        n++;
        return n;
}

int metrics_format(Metrics *m, char **ret_text, size_t *ret_len) {
        _cleanup_free_ Series **top = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, n = 0, st = 0;
        char fig[32];
        FILE *f;
        void *v;

        assert(m);
        assert(ret_text);

        top = calloc(hashmap_size(m->procs.map) + 1, sizeof(*top));
        if (!top)
                return -ENOMEM;
        while (hashmap_iterate(m->procs.map, &st, NULL, &v))
                if (((Series *) v)->exported)
                        top[n++] = v;
        qsort(top, n, sizeof(*top), cmp_score_desc);

        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;

        put_header(f, "jouled_info", "gauge",
                   "jouled version, process tracker, energy sources, idle power policy and method, model figures.");
        fputs("jouled_info{", f);
        put_label(f, true, "version", m->version);
        put_label(f, false, "tracker", m->tracker);
        if (m->sources[0])
                put_label(f, false, "source", m->sources);
        if (m->idle_policy)
                put_label(f, false, "idle_policy", m->idle_policy);
        if (m->idle_method[0])
                put_label(f, false, "idle_method", m->idle_method);
        if (m->model_min_w > 0 || m->model_max_w > 0) {
                snprintf(fig, sizeof(fig), "%g", m->model_min_w);
                put_label(f, false, "model_min_watts_per_cpu", fig);
                snprintf(fig, sizeof(fig), "%g", m->model_max_w);
                put_label(f, false, "model_max_watts_per_cpu", fig);
        }
        fputs("} 1\n", f);

        put_header(f, "jouled_intervals_total", "counter", "Sampling intervals processed since jouled started.");
        fprintf(f, "jouled_intervals_total %" PRIu64 "\n", m->intervals);
        put_header(f, "jouled_tracker_exits_lost_total", "counter",
                   "Process exit events the kernel could not queue (their last CPU time is lost).");
        fprintf(f, "jouled_tracker_exits_lost_total %" PRIu64 "\n", m->health.exits_lost);
        put_header(f, "jouled_write_errors_total", "counter", "Intervals that could not be written to the database at first.");
        fprintf(f, "jouled_write_errors_total %" PRIu64 "\n", m->health.write_errors);
        put_header(f, "jouled_intervals_buffered", "gauge", "Intervals waiting in memory to be written to the database.");
        fprintf(f, "jouled_intervals_buffered %" PRIu64 "\n", m->health.intervals_buffered);
        put_header(f, "jouled_intervals_dropped_total", "counter",
                   "Buffered intervals dropped (buffer full or refused by the database).");
        fprintf(f, "jouled_intervals_dropped_total %" PRIu64 "\n", m->health.intervals_dropped);
        put_header(f, "jouled_counters_discarded_total", "counter",
                   "Energy counter readings discarded as implausible (went back, or jumped beyond the maximum power).");
        fprintf(f, "jouled_counters_discarded_total %" PRIu64 "\n", m->health.counters_discarded);
        put_scalar(f, "jouled_last_sample_timestamp_seconds", "gauge",
                   "End of the last interval sampled, seconds since the epoch.", m->last_sample_s);
        put_scalar(f, "jouled_self_cpu_seconds_total", "counter", "CPU time jouled itself used (user and system).",
                   m->self_cpu_s);
        put_scalar(f, "jouled_self_resident_memory_bytes", "gauge", "jouled's own resident memory.",
                   (double) m->self_rss_bytes);
        put_scalar(f, "jouled_metrics_max_series", "gauge", "The cap on the series of this output ([Metrics] MaxSeries=).",
                   (double) m->max_series);

        put_header(f, "jouled_host_energy_joules_total", "counter",
                   "Energy of the whole host: the sum of the domains named in the domains label.");
        fputs("jouled_host_energy_joules_total{", f);
        put_label(f, true, "domains", m->host_domains);
        put_label(f, false, "estimated", bool_str(m->host_estimated));
        fputc('}', f);
        put_value(f, m->host_j);

        put_domains(f, m, "jouled_domain_energy_joules_total", "Energy measured (or estimated) per domain.", DF_MEASURED);
        put_domains(f, m, "jouled_domain_idle_joules_total", "Idle (static) energy per domain.", DF_IDLE);
        put_domains(f, m, "jouled_domain_attributed_joules_total", "Energy of a domain attributed to processes.", DF_ATTRIBUTED);
        put_domains(f, m, "jouled_domain_unattributed_joules_total",
                    "Energy of a domain neither idle nor attributed to a process (e.g. interrupts).", DF_UNATTRIBUTED);

        put_idle_estimates(f, m, false);
        put_idle_estimates(f, m, true);

        for (GroupKind k = 0; k < _GROUP_KIND_MAX; k++) {
                put_groups(f, m, k, SF_ENERGY);
                put_groups(f, m, k, SF_WITH_IDLE);
                put_groups(f, m, k, SF_CPU);
        }

        put_header(f, "jouled_process_energy_joules_total", "counter",
                   "Energy attributed to a process since jouled saw it first, for the top processes by energy "
                   "(a process keeps its series while it lives).");
        for (size_t i = 0; i < n; i++) {
                put_proc(f, "jouled_process_energy_joules_total", top[i], true);
                put_value(f, top[i]->energy_j);
        }
        put_header(f, "jouled_process_energy_with_idle_joules_total", "counter",
                   "Energy attributed to a top process plus its CPU-time share of idle energy.");
        for (size_t i = 0; i < n; i++) {
                put_proc(f, "jouled_process_energy_with_idle_joules_total", top[i], true);
                put_value(f, top[i]->energy_j + top[i]->idle_share_j);
        }
        put_header(f, "jouled_process_cpu_seconds_total", "counter", "CPU time of the top processes by energy.");
        for (size_t i = 0; i < n; i++) {
                put_proc(f, "jouled_process_cpu_seconds_total", top[i], false);
                put_value(f, top[i]->cpu_s);
        }

        if (fclose(f) != 0)
                return -ENOMEM;
        m->n_series = count_samples(buf, len);
        *ret_text = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

size_t metrics_series_count(Metrics *m) {
        return m->n_series;
}

int metrics_write_textfile(Metrics *m, const char *dir) {
        _cleanup_free_ char *tmp = NULL, *dst = NULL;
        _cleanup_close_ int fd = -1;
        int r = 0;

        tmp = path_join(dir, ".jouled.prom.tmp");
        dst = path_join(dir, "jouled.prom");
        if (!tmp || !dst)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        pthread_mutex_lock(&m->lock);
        for (size_t off = 0; off < m->text_len;) {
                ssize_t k = write(fd, m->text + off, m->text_len - off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                off += (size_t) k;
        }
        pthread_mutex_unlock(&m->lock);
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, dst) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int metrics_add_interval(Metrics *m, const IntervalRecord *rec, const MetricsHealth *health) {
        char *text = NULL;
        size_t len = 0;
        int r;

        assert(m);
        assert(rec);

        r = metrics_update(m, rec, health);
        if (r < 0)
                return r;
        self_usage(m);
        r = metrics_format(m, &text, &len);
        if (r < 0)
                return r;
        pthread_mutex_lock(&m->lock);
        free(m->text);
        m->text = text;
        m->text_len = len;
        pthread_mutex_unlock(&m->lock);

        if (m->textfile_dir) {
                r = metrics_write_textfile(m, m->textfile_dir);
                if (r < 0 && !m->textfile_failing)
                        log_warning_errno(r, "Failed to write %s/jouled.prom: %m (will retry every interval)",
                                          m->textfile_dir);
                else if (r >= 0 && m->textfile_failing)
                        log_notice("Writing %s/jouled.prom works again.", m->textfile_dir);
                m->textfile_failing = r < 0;
        }
        return 0;
}

bool log_ratelimit_test(LogRateLimit *rl, uint64_t now_ns, uint64_t *ret_suppressed) {
        assert(rl);

        *ret_suppressed = 0;
        if (rl->n == 0 || now_ns - rl->window_start_ns >= METRICS_LOG_WINDOW_NS) {
                *ret_suppressed = rl->suppressed;
                rl->window_start_ns = now_ns;
                rl->n = 0;
                rl->suppressed = 0;
        }
        if (rl->n >= METRICS_LOG_BURST) {
                rl->suppressed++;
                return false;
        }
        rl->n++;
        return true;
}

int metrics_parse_listen(const char *s, struct sockaddr_storage *ret, size_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 2] = "127.0.0.1";
        const char *port_s = s;
        uint64_t port;

        if (!s || !*s)
                return -EINVAL;
        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':' || (size_t) (end - s - 1) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, (size_t) (end - s - 1));
                host[end - s - 1] = 0;
                port_s = end + 2;
        } else if (strchr(s, ':')) {
                const char *colon = strrchr(s, ':');
                if (colon == s || (size_t) (colon - s) >= sizeof(host) || strchr(s, ':') != colon)
                        return -EINVAL;
                memcpy(host, s, (size_t) (colon - s));
                host[colon - s] = 0;
                port_s = colon + 1;
        }
        if (parse_u64(port_s, &port) < 0 || port == 0 || port > 65535)
                return -EINVAL;

        memset(ret, 0, sizeof(*ret));
        struct sockaddr_in *in4 = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;
        if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t) port);
                *ret_len = sizeof(*in4);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *ret_len = sizeof(*in6);
        } else
                return -EINVAL;
        return 0;
}

#if HAVE_MICROHTTPD
bool metrics_http_supported(void) {
        return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        Metrics *m = cls;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        unsigned status = MHD_HTTP_OK;

        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
                static const char msg[] = "only GET and HEAD\n";
                resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *) msg, MHD_RESPMEM_PERSISTENT);
                status = MHD_HTTP_METHOD_NOT_ALLOWED;
        } else if (strcmp(url, "/metrics") == 0) {
                pthread_mutex_lock(&m->lock);
                resp = MHD_create_response_from_buffer(m->text_len, m->text ? m->text : (void *) "",
                                                       MHD_RESPMEM_MUST_COPY);
                pthread_mutex_unlock(&m->lock);
                if (resp)
                        MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        } else if (strcmp(url, "/") == 0) {
                static const char msg[] = "jouled: metrics at /metrics\n";
                resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *) msg, MHD_RESPMEM_PERSISTENT);
        } else {
                static const char msg[] = "not found; metrics at /metrics\n";
                resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *) msg, MHD_RESPMEM_PERSISTENT);
                status = MHD_HTTP_NOT_FOUND;
        }
        if (!resp)
                return MHD_NO;
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* libmicrohttpd's messages, on its thread: rate-limited, and escaped (they
 * may quote what a client sent). */
static void http_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void http_log(void *cls, const char *fmt, va_list ap) {
        Metrics *m = cls;
        _cleanup_free_ char *escaped = NULL;
        uint64_t suppressed;
        char buf[512];
        size_t n;

        if (!log_ratelimit_test(&m->http_log, now_ns(CLOCK_MONOTONIC), &suppressed))
                return;
        if (suppressed > 0)
                log_warning("Metrics HTTP server: %" PRIu64 " messages suppressed in the last minute.", suppressed);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        escaped = text_escape(buf);
        log_warning("Metrics HTTP server: %s", escaped ? escaped : "(out of memory)");
}

int metrics_start(Metrics *m) {
        struct sockaddr_storage sa;
        size_t sa_len;

        if (!m->listen)
                return 0;
        if (metrics_parse_listen(m->listen, &sa, &sa_len) < 0)
                return log_error_errno(-EINVAL, "Invalid metrics listen address '%s': expected PORT, ADDR:PORT or [ADDR6]:PORT",
                                       m->listen);
        /* Bounded: a client that opens many connections or sends its request
         * slowly holds at most METRICS_HTTP_PER_IP of them, and the server's
         * messages (one per refused or malformed request) are rate-limited. */
        m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                                    (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                    0, NULL, NULL, on_request, m,
                                    MHD_OPTION_EXTERNAL_LOGGER, http_log, m, /* first, so it gets every message */
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_HTTP_CONNECTIONS,
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) METRICS_HTTP_PER_IP,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) METRICS_HTTP_TIMEOUT_S,
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 16384,
                                    MHD_OPTION_END);
        if (!m->httpd)
                return log_error_errno(-EADDRNOTAVAIL, "Failed to serve metrics on %s (address in use or not available?)",
                                       m->listen);
        log_info("Serving Prometheus metrics on http://%s/metrics.", m->listen);
        return 0;
}
#else
bool metrics_http_supported(void) {
        return false;
}

int metrics_start(Metrics *m) {
        if (!m->listen)
                return 0;
        return log_error_errno(-EOPNOTSUPP, "Metrics listen address %s set, but jouled was built without libmicrohttpd; "
                               "use --metrics-textfile instead.", m->listen);
}
#endif
