/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus exporter: cumulative counters, text formatter, HTTP server
 * (libmicrohttpd, optional) and node_exporter textfile writer. */
#include "metrics.h"

#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "hashmap.h"
#include "jouled-build.h"
#include "log.h"
#include "util.h"

#if HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

typedef struct DomainTotals {
        char name[DOMAIN_NAME_MAX];
        char source[32];
        bool estimated;
        double measured_j, idle_j, attributed_j, unattributed_j;
} DomainTotals;

/* A unit or a user: a name and its cumulative figures. */
typedef struct GroupTotals {
        char *name;
        bool estimated;
        double energy_j;
        double cpu_s;
} GroupTotals;

typedef struct ProcTotals {
        uint32_t pid;
        uint32_t uid;
        char comm[PROCESS_COMM_MAX];
        char *unit;
        bool estimated;
        double energy_j;
        double cpu_s;
        uint64_t seen;                /* interval number it was last seen in */
} ProcTotals;

struct Metrics {
        char *listen;
        char *textfile_dir;
        size_t top_n;
        char *version;
        char *tracker;

        DomainTotals *domains;
        size_t n_domains;
        Hashmap *units;               /* fnv(name) → GroupTotals */
        Hashmap *users;               /* (uid, 0) → GroupTotals */
        Hashmap *procs;               /* (pid, start_time_ns) → ProcTotals */
        uint64_t intervals;
        uint64_t exits_lost;
        bool textfile_failing;

        pthread_mutex_t lock;         /* guards text and text_len: the HTTP thread reads them */
        char *text;
        size_t text_len;

#if HAVE_MICROHTTPD
        struct MHD_Daemon *httpd;
#endif
};

static void group_free(GroupTotals *g) {
        if (!g)
                return;
        free(g->name);
        free(g);
}

static void proc_free(ProcTotals *p) {
        if (!p)
                return;
        free(p->unit);
        free(p);
}

static void free_groups(Hashmap *h) {
        size_t st = 0;
        void *v;
        while (hashmap_iterate(h, &st, NULL, &v))
                group_free(v);
        hashmap_free(h);
}

Metrics *metrics_free(Metrics *m) {
        size_t st = 0;
        void *v;

        if (!m)
                return NULL;
#if HAVE_MICROHTTPD
        if (m->httpd)
                MHD_stop_daemon(m->httpd);
#endif
        if (m->units)
                free_groups(m->units);
        if (m->users)
                free_groups(m->users);
        if (m->procs) {
                while (hashmap_iterate(m->procs, &st, NULL, &v))
                        proc_free(v);
                hashmap_free(m->procs);
        }
        pthread_mutex_destroy(&m->lock);
        free(m->domains);
        free(m->text);
        free(m->listen);
        free(m->textfile_dir);
        free(m->version);
        free(m->tracker);
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

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        m->top_n = cfg->top_processes;
        if (dup_opt(&m->listen, cfg->listen) < 0 || dup_opt(&m->textfile_dir, cfg->textfile_dir) < 0 ||
            dup_opt(&m->version, cfg->version ? cfg->version : "unknown") < 0 ||
            dup_opt(&m->tracker, cfg->tracker ? cfg->tracker : "unknown") < 0)
                return -ENOMEM;
        m->units = hashmap_new();
        m->users = hashmap_new();
        m->procs = hashmap_new();
        if (!m->units || !m->users || !m->procs)
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

static HashKey string_key(const char *s) {
        /* Two independent FNV-1a hashes: a collision of both is not a concern. */
        uint64_t a = UINT64_C(14695981039346656037), b = UINT64_C(0x9e3779b97f4a7c15);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                a = (a ^ *p) * UINT64_C(1099511628211);
                b = (b ^ *p) * UINT64_C(0x100000001b3) + 0x7f;
        }
        return (HashKey) { a, b };
}

static int group_get(Hashmap *h, HashKey key, const char *name, GroupTotals **ret) {
        GroupTotals *g = hashmap_get(h, key);
        int r;

        if (!g) {
                g = calloc(1, sizeof(*g));
                if (!g || !(g->name = strdup(name))) {
                        free(g);
                        return -ENOMEM;
                }
                r = hashmap_put(h, key, g);
                if (r < 0) {
                        group_free(g);
                        return r;
                }
        }
        *ret = g;
        return 0;
}

static void user_name(uint32_t uid, char *buf, size_t size) {
        struct passwd pw, *res = NULL;
        char pwbuf[1024];

        if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
                strscpy(buf, size, res->pw_name);
        else
                snprintf(buf, size, "%u", uid);
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

static int metrics_update(Metrics *m, const IntervalRecord *rec, uint64_t exits_lost) {
        bool any_estimated = false;
        int r;

        m->intervals++;
        m->exits_lost = MAX(m->exits_lost, exits_lost);

        for (size_t d = 0; d < rec->n_domains; d++) {
                const DomainRecord *dr = &rec->domains[d];
                DomainTotals *t = domain_get(m, dr);
                if (!t)
                        return -ENOMEM;
                if (!dr->valid)
                        continue;
                t->measured_j += nonneg(dr->measured_j);
                t->idle_j += nonneg(dr->idle_j);
                t->attributed_j += nonneg(dr->attributed_j);
                t->unattributed_j += nonneg(dr->unattributed_j);
                if (dr->host_total && dr->domain->estimated)
                        any_estimated = true;
        }

        for (size_t i = 0; i < rec->n_procs; i++) {
                const ProcessInfo *info = rec->procs[i].info;
                double e = 0, cpu = (double) rec->procs[i].cpu_ns / 1e9;
                HashKey key = { info->pid, info->start_time_ns };
                ProcTotals *p;
                GroupTotals *g;
                char uname[64];

                for (size_t d = 0; d < rec->n_domains; d++)
                        if (rec->domains[d].valid && rec->domains[d].host_total)
                                e += nonneg(rec->proc_domain_j[i * rec->n_domains + d]);

                p = hashmap_get(m->procs, key);
                if (!p) {
                        p = calloc(1, sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        p->pid = info->pid;
                        r = hashmap_put(m->procs, key, p);
                        if (r < 0) {
                                free(p);
                                return r;
                        }
                }
                p->uid = info->uid;
                strscpy(p->comm, sizeof(p->comm), info->comm);
                if (info->unit && !streq_ptr(p->unit, info->unit)) {
                        free(p->unit);
                        if (!(p->unit = strdup(info->unit)))
                                return -ENOMEM;
                }
                p->energy_j += e;
                p->cpu_s += cpu;
                p->estimated = p->estimated || any_estimated;
                p->seen = m->intervals;

                const char *unit = info->unit ? info->unit : "unknown";
                r = group_get(m->units, string_key(unit), unit, &g);
                if (r < 0)
                        return r;
                g->energy_j += e;
                g->cpu_s += cpu;
                g->estimated = g->estimated || any_estimated;

                g = hashmap_get(m->users, (HashKey) { info->uid, 0 });
                if (!g) {
                        user_name(info->uid, uname, sizeof(uname));
                        r = group_get(m->users, (HashKey) { info->uid, 0 }, uname, &g);
                        if (r < 0)
                                return r;
                }
                g->energy_j += e;
                g->cpu_s += cpu;
                g->estimated = g->estimated || any_estimated;
        }

        /* Forget processes that are gone: their series go stale, memory stays bounded. */
        {
                size_t st = 0, n_old = 0, cap = hashmap_size(m->procs);
                _cleanup_free_ HashKey *old = calloc(cap ? cap : 1, sizeof(HashKey));
                HashKey k;
                void *v;

                if (!old)
                        return -ENOMEM;
                while (hashmap_iterate(m->procs, &st, &k, &v))
                        if (((ProcTotals *) v)->seen != m->intervals && n_old < cap)
                                old[n_old++] = k;
                for (size_t i = 0; i < n_old; i++)
                        proc_free(hashmap_remove(m->procs, old[i]));
        }
        return 0;
}

/* Label values: backslash, double quote and newline are escaped. */
static void put_label(FILE *f, const char *s) {
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '"')
                        fputs("\\\"", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
}

static void put_header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_value(FILE *f, double v) {
        /* %.17g round-trips; counters are never negative or NaN here. */
        fprintf(f, " %.17g\n", nonneg(v));
}

static const char *bool_str(bool b) {
        return b ? "true" : "false";
}

typedef enum DomainField { DF_MEASURED, DF_IDLE, DF_ATTRIBUTED, DF_UNATTRIBUTED } DomainField;

static void put_domains(FILE *f, const Metrics *m, const char *name, const char *help, DomainField field) {
        put_header(f, name, "counter", help);
        for (size_t i = 0; i < m->n_domains; i++) {
                const DomainTotals *d = &m->domains[i];
                double v = field == DF_MEASURED ? d->measured_j : field == DF_IDLE ? d->idle_j :
                           field == DF_ATTRIBUTED ? d->attributed_j : d->unattributed_j;
                fprintf(f, "%s{domain=\"", name);
                put_label(f, d->name);
                fputs("\",source=\"", f);
                put_label(f, d->source);
                fprintf(f, "\",estimated=\"%s\"}", bool_str(d->estimated));
                put_value(f, v);
        }
}

static void put_groups(FILE *f, Hashmap *h, const char *name, const char *label, const char *help, bool cpu) {
        size_t st = 0;
        void *v;

        put_header(f, name, "counter", help);
        while (hashmap_iterate(h, &st, NULL, &v)) {
                const GroupTotals *g = v;
                fprintf(f, "%s{%s=\"", name, label);
                put_label(f, g->name);
                if (cpu)
                        fputs("\"}", f);
                else
                        fprintf(f, "\",estimated=\"%s\"}", bool_str(g->estimated));
                put_value(f, cpu ? g->cpu_s : g->energy_j);
        }
}

static int cmp_energy_desc(const void *a, const void *b) {
        const ProcTotals *x = *(ProcTotals * const *) a, *y = *(ProcTotals * const *) b;
        if (x->energy_j != y->energy_j)
                return x->energy_j < y->energy_j ? 1 : -1;
        if (x->cpu_s != y->cpu_s)
                return x->cpu_s < y->cpu_s ? 1 : -1;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void put_proc_labels(FILE *f, const char *name, const ProcTotals *p, bool estimated_label) {
        char uname[64];

        user_name(p->uid, uname, sizeof(uname));
        fprintf(f, "%s{pid=\"%u\",comm=\"", name, p->pid);
        put_label(f, p->comm);
        fputs("\",unit=\"", f);
        put_label(f, p->unit ? p->unit : "unknown");
        fputs("\",user=\"", f);
        put_label(f, uname);
        if (estimated_label)
                fprintf(f, "\",estimated=\"%s\"}", bool_str(p->estimated));
        else
                fputs("\"}", f);
}

int metrics_format(Metrics *m, char **ret_text, size_t *ret_len) {
        _cleanup_free_ ProcTotals **top = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, n = 0, st = 0;
        FILE *f;
        void *v;

        top = calloc(hashmap_size(m->procs) + 1, sizeof(*top));
        if (!top)
                return -ENOMEM;
        while (hashmap_iterate(m->procs, &st, NULL, &v))
                top[n++] = v;
        qsort(top, n, sizeof(*top), cmp_energy_desc);
        n = MIN(n, m->top_n);

        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;

        put_header(f, "jouled_info", "gauge", "jouled version and process tracker in use.");
        fputs("jouled_info{version=\"", f);
        put_label(f, m->version);
        fputs("\",tracker=\"", f);
        put_label(f, m->tracker);
        fputs("\"} 1\n", f);

        put_header(f, "jouled_intervals_total", "counter", "Sampling intervals processed since jouled started.");
        fprintf(f, "jouled_intervals_total %" PRIu64 "\n", m->intervals);
        put_header(f, "jouled_tracker_exits_lost_total", "counter",
                   "Process exit events the kernel could not queue (their last CPU time is lost).");
        fprintf(f, "jouled_tracker_exits_lost_total %" PRIu64 "\n", m->exits_lost);

        put_domains(f, m, "jouled_domain_energy_joules_total", "Energy measured (or estimated) per domain.", DF_MEASURED);
        put_domains(f, m, "jouled_domain_idle_joules_total", "Idle (static) energy per domain.", DF_IDLE);
        put_domains(f, m, "jouled_domain_attributed_joules_total", "Energy of a domain attributed to processes.", DF_ATTRIBUTED);
        put_domains(f, m, "jouled_domain_unattributed_joules_total",
                    "Energy of a domain neither idle nor attributed to a process (e.g. interrupts).", DF_UNATTRIBUTED);

        put_groups(f, m->units, "jouled_unit_energy_joules_total", "unit",
                   "Energy attributed to the processes of a systemd unit (leaf cgroup).", false);
        put_groups(f, m->units, "jouled_unit_cpu_seconds_total", "unit", "CPU time of the processes of a unit.", true);
        put_groups(f, m->users, "jouled_user_energy_joules_total", "user", "Energy attributed to the processes of a user.", false);
        put_groups(f, m->users, "jouled_user_cpu_seconds_total", "user", "CPU time of the processes of a user.", true);

        put_header(f, "jouled_process_energy_joules_total", "counter",
                   "Energy attributed to a process, for the top processes by energy since jouled started.");
        for (size_t i = 0; i < n; i++) {
                put_proc_labels(f, "jouled_process_energy_joules_total", top[i], true);
                put_value(f, top[i]->energy_j);
        }
        put_header(f, "jouled_process_cpu_seconds_total", "counter", "CPU time of the top processes by energy.");
        for (size_t i = 0; i < n; i++) {
                put_proc_labels(f, "jouled_process_cpu_seconds_total", top[i], false);
                put_value(f, top[i]->cpu_s);
        }

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret_text = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
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

int metrics_add_interval(Metrics *m, const IntervalRecord *rec, uint64_t exits_lost) {
        char *text = NULL;
        size_t len = 0;
        int r;

        r = metrics_update(m, rec, exits_lost);
        if (r < 0)
                return r;
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

int metrics_start(Metrics *m) {
        struct sockaddr_storage sa;
        size_t sa_len;

        if (!m->listen)
                return 0;
        if (metrics_parse_listen(m->listen, &sa, &sa_len) < 0)
                return log_error_errno(-EINVAL, "Invalid metrics listen address '%s': expected PORT, ADDR:PORT or [ADDR6]:PORT",
                                       m->listen);
        m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                                    (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                    0, NULL, NULL, on_request, m,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned) 32,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
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
