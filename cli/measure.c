/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One command's process tree measured: its cgroup, its CPU time and its
 * share of the host's dynamic energy (see measure.h). */
#include "measure.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-cgroup.h"
#include "cli-util.h"
#include "config.h"
#include "log.h"
#include "source.h"
#include "util.h"

#define MAX_SOURCES_SHOWN 16
/* After Ctrl-C, how long the command may take to exit before it is killed. */
#define INTERRUPT_GRACE_NS (3 * NSEC_PER_SEC)

struct Measure {
        /* Daemon mode: an open, fresh database. */
        Store *store;
        double interval_s;
        /* Self mode: sources opened here. */
        EnergySource **sources;
        size_t n_sources;
        bool have_psys;
        double self_idle_w, self_idle_band_w;   /* idle power used alone, its ± band */
        const char *self_idle_method;           /* "source" or "prior" */

        char cgroup_root[512];   /* the cgroup2 directory to create ours under, "" if none */
        char cgroup_note[1280];  /* why not, when none */

        MeasureSource shown[MAX_SOURCES_SHOWN];
        size_t n_shown;
        bool estimated;
};

static void add_shown(Measure *m, const char *domain, const char *source, bool estimated) {
        for (size_t i = 0; i < m->n_shown; i++)
                if (strcmp(m->shown[i].domain, domain) == 0 && strcmp(m->shown[i].source, source) == 0) {
                        m->shown[i].estimated = m->shown[i].estimated || estimated;
                        m->estimated = m->estimated || estimated;
                        return;
                }
        if (m->n_shown >= MAX_SOURCES_SHOWN)
                return;
        strscpy(m->shown[m->n_shown].domain, sizeof(m->shown[0].domain), domain);
        strscpy(m->shown[m->n_shown].source, sizeof(m->shown[0].source), source);
        m->shown[m->n_shown].estimated = estimated;
        m->n_shown++;
        m->estimated = m->estimated || estimated;
}

bool measure_from_daemon(const Measure *m) {
        assert(m);
        return m->store;
}

bool measure_estimated(const Measure *m) {
        assert(m);
        return m->estimated;
}

const MeasureSource *measure_sources(const Measure *m, size_t *ret_n) {
        assert(m);
        assert(ret_n);
        *ret_n = m->n_shown;
        return m->shown;
}

json_object *measure_sources_json(const Measure *m) {
        json_object *a = json_object_new_array();

        assert(m);
        for (size_t i = 0; i < m->n_shown; i++) {
                json_object *s = json_object_new_object();
                json_object_object_add(s, "domain", json_object_new_string(m->shown[i].domain));
                json_object_object_add(s, "source", json_object_new_string(m->shown[i].source));
                json_object_object_add(s, "estimated", json_object_new_boolean(m->shown[i].estimated));
                json_object_array_add(a, s);
        }
        return a;
}

Store *measure_store(const Measure *m) {
        assert(m);
        return m->store;
}

const char *measure_cgroup_note(const Measure *m) {
        assert(m);
        return m->cgroup_note;
}

/* ---- signals ----------------------------------------------------------- */

static volatile sig_atomic_t interrupted_sig;
static volatile sig_atomic_t interrupted_by_kill;
static struct sigaction old_int, old_quit;

static void on_interrupt(int sig, siginfo_t *si, void *ctx) {
        (void) ctx;
        interrupted_sig = sig;
        /* From the terminal (SI_KERNEL) the command got it too; from kill()
         * it reached joulectl alone. */
        if (si && si->si_code != SI_KERNEL)
                interrupted_by_kill = 1;
}

void measure_signals_catch(void) {
        struct sigaction sa = { .sa_sigaction = on_interrupt, .sa_flags = SA_SIGINFO };

        sigemptyset(&sa.sa_mask);
        interrupted_sig = 0;
        interrupted_by_kill = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGQUIT, &sa, &old_quit);
}

void measure_signals_release(void) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
}

int measure_interrupted(void) {
        return interrupted_sig;
}

/* ---- cgroup v2 --------------------------------------------------------- */

/* The value of key (a "key value" line, or "total=" of a pressure line). */
static int cgroup_read_u64(const char *cg, const char *file, const char *line_key, const char *key, uint64_t *ret) {
        _cleanup_free_ char *p = path_join(cg, file);
        _cleanup_fclose_ FILE *f = NULL;
        char line[512];

        if (!p)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char *v;
                unsigned long long x;
                if (!startswith(line, line_key) || line[strlen(line_key)] != ' ')
                        continue;
                v = key ? strstr(line, key) : line + strlen(line_key);
                if (!v)
                        return -EBADMSG;
                if (key)
                        v += strlen(key);
                if (sscanf(v, "%llu", &x) != 1)
                        return -EBADMSG;
                *ret = x;
                return 0;
        }
        return -EBADMSG;
}

/* The processes still in the cgroup: their count and names. */
static void cgroup_leftovers(const char *cg, MeasureResult *r) {
        _cleanup_free_ char *p = path_join(cg, "cgroup.procs");
        _cleanup_fclose_ FILE *f = p ? fopen(p, "re") : NULL;
        int pid;

        if (!f)
                return;
        while (fscanf(f, "%d", &pid) == 1) {
                char path[64], comm[64] = "?";
                size_t len = strlen(r->leftover_names);
                FILE *c;

                snprintf(path, sizeof(path), "/proc/%d/comm", pid);
                c = fopen(path, "re");
                if (c) {
                        if (!fgets(comm, sizeof(comm), c))
                                strscpy(comm, sizeof(comm), "?");
                        fclose(c);
                        comm[strcspn(comm, "\n")] = 0;
                        for (char *q = comm; *q; q++)
                                if (!isprint((unsigned char) *q))
                                        *q = '?';
                }
                r->leftover++;
                if (r->leftover <= 8 && len + strlen(comm) + 3 < sizeof(r->leftover_names))
                        snprintf(r->leftover_names + len, sizeof(r->leftover_names) - len, "%s%s",
                                 len ? ", " : "", comm);
        }
}

/* Kill what is left of the tree and remove the cgroup. */
static void cgroup_remove(const char *cg) {
        int r = cli_cgroup_remove(cg);

        if (r < 0)
                fprintf(stderr, "joulectl: cannot remove cgroup %s: %s\n", cg, strerror(-r));
}

/* ---- energy ------------------------------------------------------------ */

static int state_double(Store *s, const char *key, double *ret) {
        _cleanup_free_ char *v = cli_state_get(s, key);
        return v ? parse_double(v, ret) : -ENOENT;
}

/* The newest interval's end, or 0. */
static uint64_t db_last_end(Store *s) {
        uint64_t v = 0;

        if (store_query_last_end(s, false, &v) <= 0)
                return 0;
        return v;
}

/* Use the daemon's database when it is fresh. Fills why with the reason when not. */
static bool daemon_usable(Measure *m, const char *db, char *why, size_t size) {
        Store *s = NULL;
        uint64_t last, now = now_ns(CLOCK_REALTIME);
        int lvl = log_get_max_level(), r;

        if (access(db, F_OK) < 0) {
                snprintf(why, size, "no jouled database at %s", db);
                return false;
        }
        log_set_max_level(LOG_CRIT);   /* we explain it ourselves */
        r = store_open(db, STORE_READ_ONLY, &s);
        log_set_max_level(lvl);
        if (r < 0) {
                snprintf(why, size, "cannot open the jouled database %s: %s", db, strerror(-r));
                return false;
        }
        if (state_double(s, "interval_s", &m->interval_s) < 0 || !(m->interval_s > 0) || m->interval_s > 3600)
                m->interval_s = 1;
        last = db_last_end(s);
        if (last == 0 || last + (uint64_t) (3 * m->interval_s * 1e9) < now) {
                snprintf(why, size, "jouled is not running (database %s has no interval in the last %.1f s)", db,
                         3 * m->interval_s);
                store_free(s);
                return false;
        }
        m->store = s;
        return true;
}

int measure_sources_open(SourceProbe *probes, size_t n_probes, EnergySource ***ret, size_t *ret_n) {
        SourceContext ctx = {
                .powercap_root = "/sys/class/powercap",
                .proc_root = "/proc",
                .sys_root = "/sys",
                .dev_root = "/dev",
        };
        int r, lvl;

        assert(probes);
        assert(ret);
        assert(ret_n);
        lvl = log_get_max_level();
        log_set_max_level(MIN(lvl, LOG_WARNING));
        r = source_select(&ctx, "auto", probes, n_probes, ret, ret_n);
        log_set_max_level(lvl);
        if (r < 0)
                return r;
        return *ret_n == 0 ? -ENODEV : 0;
}

void measure_sources_read(EnergySource *const *sources, size_t n, bool have_psys,
                          void (*add)(const EnergyDomain *d, uint64_t uj, void *userdata), void *userdata) {
        assert(sources || n == 0);
        assert(add);
        for (size_t i = 0; i < n; i++) {
                EnergySource *s = sources[i];
                uint64_t uj[64];
                if (s->n_domains > ELEMENTSOF(uj) || s->ops->read(s, uj) < 0)
                        continue;
                for (size_t d = 0; d < s->n_domains; d++)
                        if (uj[d] != ENERGY_READ_FAILED && domain_counts_in_host_total(&s->domains[d], have_psys))
                                add(&s->domains[d], uj[d], userdata);
        }
}

static int self_open(Measure *m, const char *why_no_daemon) {
        size_t n_known;
        double known_w = 0;
        bool all_known;
        int r;

        (void) source_all(&n_known);
        _cleanup_free_ SourceProbe *probes = calloc(MAX(n_known, (size_t) 1), sizeof(SourceProbe));
        if (!probes)
                return -ENOMEM;
        /* Our report says "estimated" itself: no notice about the model here. */
        r = measure_sources_open(probes, n_known, &m->sources, &m->n_sources);
        if (r < 0) {
                char reasons[1024] = "";
                for (size_t i = 0; i < n_known; i++) {
                        size_t n = strlen(reasons);
                        snprintf(reasons + n, sizeof(reasons) - n, "%s%s: %s", n ? "; " : "",
                                 probes[i].name ? probes[i].name : "?", probes[i].reason);
                }
                fprintf(stderr, "joulectl: cannot measure energy: %s, and no energy source can be read here (%s)\n",
                        why_no_daemon, reasons);
                return -ENODEV;
        }
        m->have_psys = sources_have_psys(m->sources, m->n_sources);
        all_known = true;
        for (size_t i = 0; i < m->n_sources; i++)
                for (size_t d = 0; d < m->sources[i]->n_domains; d++) {
                        const EnergyDomain *dom = &m->sources[i]->domains[d];
                        if (!domain_counts_in_host_total(dom, m->have_psys))
                                continue;
                        add_shown(m, dom->name, m->sources[i]->ops->name,
                                  dom->estimated || m->sources[i]->ops->estimated);
                        if (dom->idle_known)
                                known_w += dom->idle_w;
                        else
                                all_known = false;
                }
        if (all_known && m->n_shown > 0) {
                /* The sources' own idle power (the model's): exact. */
                m->self_idle_w = known_w;
                m->self_idle_band_w = 0;
                m->self_idle_method = "source";
        } else {
                /* A meter's idle power is not known here: the model's minimum
                 * per CPU, the daemon's prior convention of ± half. */
                ProcStat st = {};
                size_t n_cpus = procfs_read_stat(NULL, &st) >= 0 ? st.n_cpus : 1;
                proc_stat_done(&st);
                m->self_idle_w = (double) MAX(n_cpus, (size_t) 1) * MODEL_DEFAULT_MIN_W;
                m->self_idle_band_w = m->self_idle_w / 2;
                m->self_idle_method = "prior";
        }
        return 0;
}

static void joules_add(const EnergyDomain *d, uint64_t uj, void *userdata) {
        double *total = userdata;

        *total += (double) uj / 1e6;
}

/* Read every opened source; the host-total energy since open in *ret_j. */
static void self_read(Measure *m, double *ret_j) {
        double total = 0;

        measure_sources_read(m->sources, m->n_sources, m->have_psys, joules_add, &total);
        *ret_j = total;
}

/* Add method to list (", " between) unless it is there already. */
static void methods_add(char *list, size_t size, const char *method) {
        size_t n = strlen(method), len = strlen(list);

        for (const char *p = list; *p;) {
                size_t k = strcspn(p, ",");
                if (k == n && strncmp(p, method, n) == 0)
                        return;
                p += k;
                p += strspn(p, ", ");
        }
        if (len + (len ? 2 : 0) + n < size)
                snprintf(list + len, size - len, "%s%s", len ? ", " : "", method);
}

/* Dynamic and idle energy of the host-total domains over [t0, t1] from the
 * database, each interval pro rata of its overlap, with the time-weighted
 * idle power and band and the idle methods seen. */
typedef struct HostSum {
        Measure *m;
        uint64_t t0, t1;
        double dynamic_j, idle_j, w_s, band_s;   /* J, J, W·s, W·s (band NAN: unknown) */
        char methods[64];
} HostSum;

static int host_add(const StoreHostDynamic *d, void *userdata) {
        HostSum *sum = userdata;
        uint64_t lo = MAX(d->start_ns, sum->t0), hi = MIN(d->end_ns, sum->t1);
        double f, secs, band;

        if (d->end_ns <= d->start_ns || hi <= lo)
                return 0;
        f = (double) (hi - lo) / (double) (d->end_ns - d->start_ns);
        secs = (double) (hi - lo) / 1e9;
        sum->dynamic_j += MAX(d->dynamic_j, 0.0) * f;
        add_shown(sum->m, d->domain, d->source, d->estimated);
        sum->idle_j += MAX(d->idle_j, 0.0) * f;
        if (isfinite(d->idle_w))
                sum->w_s += d->idle_w * secs;
        band = cli_idle_band_w(d->method, d->band_w);
        sum->band_s += band * secs;   /* NAN stays NAN: unknown */
        if (d->method)
                methods_add(sum->methods, sizeof(sum->methods), d->method);
        return 0;
}

/* The run's host dynamic energy in *ret_dynamic_j, its idle figure in ret. */
static int daemon_energy(Measure *m, uint64_t t0, uint64_t t1, double *ret_dynamic_j, MeasureResult *ret) {
        HostSum sum = { .m = m, .t0 = t0, .t1 = t1 };
        double wall = (double) (t1 - t0) / 1e9;
        int r;

        r = store_query_host_dynamic(m->store, t0, t1, host_add, &sum);
        if (r < 0) {
                cli_store_error(m->store, r);
                return -EIO;
        }
        *ret_dynamic_j = sum.dynamic_j;
        ret->idle_j = sum.idle_j;
        ret->idle_w = wall > 0 ? sum.w_s / wall : NAN;
        ret->idle_band_w = wall > 0 ? sum.band_s / wall : NAN;
        strscpy(ret->idle_method, sizeof(ret->idle_method), sum.methods[0] ? sum.methods : "unknown");
        return 0;
}

int measure_open(const char *db_path, Measure **ret) {
        _cleanup_(measure_freep) Measure *m = NULL;
        char why[1024] = "";
        int r;

        assert(db_path);
        assert(ret);
        m = calloc(1, sizeof(Measure));
        if (!m) {
                fprintf(stderr, "joulectl: out of memory\n");
                return -ENOMEM;
        }
        if (!daemon_usable(m, db_path, why, sizeof(why))) {
                r = self_open(m, why);
                if (r == -ENOMEM)
                        fprintf(stderr, "joulectl: out of memory\n");
                if (r < 0)
                        return r;
        }
        (void) cli_cgroup_pick_root(m->cgroup_root, sizeof(m->cgroup_root), m->cgroup_note, sizeof(m->cgroup_note));
        *ret = TAKE_PTR(m);
        return 0;
}

Measure *measure_free(Measure *m) {
        if (!m)
                return NULL;
        store_free(m->store);
        source_close_all(m->sources);
        free(m);
        return NULL;
}

/* ---- one run ----------------------------------------------------------- */

static void child_output(MeasureOutput output) {
        int fd;

        switch (output) {
        case MEASURE_OUTPUT_STDERR:
                (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                break;
        case MEASURE_OUTPUT_NULL:
                fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) dup2(fd, STDOUT_FILENO);
                        (void) dup2(fd, STDERR_FILENO);
                }
                break;
        default:
                break;
        }
}

int measure_run(Measure *m, char *const *argv, MeasureOutput output, unsigned index, MeasureResult *ret) {
        char cg[600] = "";
        int errpipe[2] = { -1, -1 }, status = 0, child_errno = 0;
        ProcStat st0 = {}, st1 = {};
        uint64_t rt0, rt1, m0, m1, last_read, cg_usec = 0, cg_wait = 0, interrupt_at = 0;
        struct rusage ru = {};
        double e0 = 0, e1 = 0, dynamic = 0;
        bool have_wait = false, killed = false;
        pid_t pid;
        ssize_t n;
        int r;

        assert(m);
        assert(argv && argv[0]);
        assert(ret);
        *ret = (MeasureResult) { .cpu_wait_s = NAN };

        if (m->cgroup_root[0]) {
                snprintf(cg, sizeof(cg), "%s/jouled-run-%d-%u", m->cgroup_root, (int) getpid(), index);
                if (mkdir(cg, 0755) < 0) {
                        snprintf(m->cgroup_note, sizeof(m->cgroup_note), "cannot create %s: %s", cg, strerror(errno));
                        cg[0] = 0;
                        m->cgroup_root[0] = 0;
                }
        }
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                r = -errno;
                fprintf(stderr, "joulectl: cannot create a pipe: %s\n", strerror(errno));
                if (cg[0])
                        rmdir(cg);
                return r;
        }

        (void) procfs_read_stat(NULL, &st0);
        if (m->sources)
                self_read(m, &e0);
        rt0 = now_ns(CLOCK_REALTIME);
        m0 = last_read = now_ns(CLOCK_MONOTONIC);

        pid = fork();
        if (pid < 0) {
                r = -errno;
                fprintf(stderr, "joulectl: cannot fork: %s\n", strerror(errno));
                close(errpipe[0]);
                close(errpipe[1]);
                if (cg[0])
                        rmdir(cg);
                proc_stat_done(&st0);
                return r;
        }
        if (pid == 0) {
                close(errpipe[0]);
                signal(SIGINT, SIG_DFL);
                signal(SIGQUIT, SIG_DFL);
                child_output(output);
                if (cg[0]) {
                        r = cli_cgroup_enter(cg, 0);
                        if (r < 0)
                                cli_child_fail(errpipe[1], -r);
                }
                execvp(argv[0], argv);
                cli_child_fail(errpipe[1], errno);
        }
        close(errpipe[1]);
        do
                n = read(errpipe[0], &child_errno, sizeof(child_errno));
        while (n < 0 && errno == EINTR);
        close(errpipe[0]);

        /* Wait, reading the sources now and then so that counters cannot wrap
         * unseen; pass on a Ctrl-C sent to us alone, kill a command that
         * outlives it by INTERRUPT_GRACE_NS. */
        for (;;) {
                pid_t w = wait4(pid, &status, WNOHANG, &ru);
                uint64_t now;
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR) {
                        fprintf(stderr, "joulectl: waiting for the command failed: %s\n", strerror(errno));
                        break;
                }
                usleep(20000);
                now = now_ns(CLOCK_MONOTONIC);
                if (interrupted_sig && interrupt_at == 0) {
                        interrupt_at = now;
                        if (interrupted_by_kill)
                                (void) kill(pid, interrupted_sig);
                }
                if (interrupt_at && !killed && now - interrupt_at > INTERRUPT_GRACE_NS) {
                        if (cg[0])
                                (void) cli_cgroup_kill(cg);
                        (void) kill(pid, SIGKILL);
                        killed = true;
                }
                if (m->sources && now - last_read > NSEC_PER_SEC) {
                        self_read(m, &e1);
                        last_read = now;
                }
        }
        m1 = now_ns(CLOCK_MONOTONIC);
        rt1 = now_ns(CLOCK_REALTIME);
        if (m->sources)
                self_read(m, &e1);
        (void) procfs_read_stat(NULL, &st1);

        if (cg[0]) {
                if (cli_cgroup_usage_usec(cg, &cg_usec) < 0)
                        cg_usec = 0;
                have_wait = cgroup_read_u64(cg, "cpu.pressure", "some", "total=", &cg_wait) >= 0;
                if (n != sizeof(child_errno)) {
                        cgroup_leftovers(cg, ret);
                        if (ret->leftover > 0)
                                fprintf(stderr, "joulectl: the command left %u process%s running (%s%s); stopping %s\n",
                                        ret->leftover, ret->leftover == 1 ? "" : "es", ret->leftover_names,
                                        ret->leftover > 8 ? ", …" : "", ret->leftover == 1 ? "it" : "them");
                }
                cgroup_remove(cg);
        }

        if (n == sizeof(child_errno)) {
                fprintf(stderr, "joulectl: cannot run '%s': %s\n", argv[0],
                        cg[0] && child_errno != ENOENT ? "cannot join its cgroup" : strerror(child_errno));
                proc_stat_done(&st0);
                proc_stat_done(&st1);
                return -child_errno;
        }

        ret->interrupted = interrupted_sig != 0;
        ret->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->wall_s = (double) (m1 - m0) / 1e9;
        ret->cgroup = cg[0] && cg_usec > 0;
        ret->cpu_s = ret->cgroup ? (double) cg_usec / 1e6
                                 : (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
                                           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
        if (ret->cgroup && have_wait)
                ret->cpu_wait_s = (double) cg_wait / 1e6;
        ret->n_cpus = st1.n_cpus;
        ret->host_busy_s = st1.busy_ns > st0.busy_ns ? (double) (st1.busy_ns - st0.busy_ns) / 1e9 : 0;
        ret->host_idle_s = st1.idle_ns > st0.idle_ns ? (double) (st1.idle_ns - st0.idle_ns) / 1e9 : 0;
        ret->host_steal_s = st1.steal_ns > st0.steal_ns ? (double) (st1.steal_ns - st0.steal_ns) / 1e9 : 0;

        if (m->store) {
                /* Wait for the daemon's interval covering the end of the run. */
                uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t) ((3 * m->interval_s + 2) * 1e9);
                while (db_last_end(m->store) < rt1 && now_ns(CLOCK_MONOTONIC) < deadline)
                        usleep(50000);
                if (db_last_end(m->store) < rt1)
                        fprintf(stderr, "joulectl: jouled has not stored the end of the run yet; the energy covers "
                                        "only what it stored\n");
                r = daemon_energy(m, rt0, rt1, &dynamic, ret);
                if (r < 0) {
                        proc_stat_done(&st0);
                        proc_stat_done(&st1);
                        return r;
                }
        } else {
                double measured = MAX(e1 - e0, 0.0);
                ret->idle_j = MIN(measured, m->self_idle_w * ret->wall_s);
                ret->idle_w = m->self_idle_w;
                ret->idle_band_w = m->self_idle_band_w;
                strscpy(ret->idle_method, sizeof(ret->idle_method), m->self_idle_method);
                dynamic = measured - ret->idle_j;
        }

        {
                double busy = ret->host_busy_s;
                double share = busy > 0 ? MIN(ret->cpu_s / busy, 1.0) : (ret->cpu_s > 0 ? 1.0 : 0.0);
                ret->energy_j = dynamic * share;
                ret->idle_share_j = ret->idle_j * share;
        }
        proc_stat_done(&st0);
        proc_stat_done(&st1);
        return 0;
}

/* ---- judging a run ----------------------------------------------------- */

bool measure_starved(const MeasureResult *r, double *ret_wait_share) {
        double capacity, idle_share;

        assert(r);
        if (ret_wait_share)
                *ret_wait_share = NAN;
        if (!(r->wall_s > 0))
                return false;
        if (!isnan(r->cpu_wait_s)) {
                double w = r->cpu_wait_s / r->wall_s;
                if (ret_wait_share)
                        *ret_wait_share = w;
                return w > 0.25;
        }
        capacity = r->wall_s * (double) MAX(r->n_cpus, (size_t) 1);
        idle_share = r->host_idle_s / capacity;
        return idle_share < 0.10 && r->cpu_s / r->wall_s < 0.9;
}

double measure_others_share(const MeasureResult *r, size_t n) {
        double busy = 0, own = 0;

        assert(r || n == 0);
        for (size_t i = 0; i < n; i++) {
                busy += r[i].host_busy_s;
                own += MIN(r[i].cpu_s, r[i].host_busy_s);
        }
        return busy > 0 ? (busy - own) / busy : 0;
}

/* ---- arguments --------------------------------------------------------- */

int measure_parse_energy(const char *s, double *ret) {
        static const struct {
                const char *unit;
                double joules;
        } units[] = {
                { "J", 1 },       { "mJ", 1e-3 },      { "kJ", 1e3 },      { "MJ", 1e6 },
                { "Wh", 3600 },   { "mWh", 3.6 },      { "kWh", 3.6e6 },
        };
        char *end;
        double v;

        assert(s);
        assert(ret);
        if (!*s || isspace((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
                return -EINVAL;
        if (*end == ' ')
                end++;
        if (*end) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (strcmp(end, units[i].unit) == 0)
                                break;
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                v *= units[i].joules;
        }
        *ret = v;
        return 0;
}

size_t measure_warnings(const MeasureResult *r, size_t n, char lines[][MEASURE_WARNING_MAX], size_t max) {
        size_t k = 0, starved = 0, with_wait = 0;
        double wait_sum = 0, others_cpu = 0, wall = 0, others;

        assert(r || n == 0);
        for (size_t i = 0; i < n; i++) {
                double w;
                if (measure_starved(&r[i], &w))
                        starved++;
                if (!isnan(w)) {
                        wait_sum += w;
                        with_wait++;
                }
                others_cpu += MAX(r[i].host_busy_s - r[i].cpu_s, 0.0);
                wall += r[i].wall_s;
        }
        if (starved > 0 && k < max) {
                char waited[96] = "";
                if (with_wait > 0)
                        snprintf(waited, sizeof(waited), ", waiting for a CPU %.0f%% of its wall time on average",
                                 100 * wait_sum / (double) with_wait);
                snprintf(lines[k++], MEASURE_WARNING_MAX,
                         "the command was starved of CPU in %zu of %zu run%s%s (other work used %.1f CPUs of %zu): "
                         "its wall time is longer than on an idle host",
                         starved, n, n == 1 ? "" : "s", waited, wall > 0 ? others_cpu / wall : 0.0,
                         n > 0 ? r[0].n_cpus : (size_t) 0);
        }
        others = measure_others_share(r, n);
        if (others > 0.5 && k < max)
                snprintf(lines[k++], MEASURE_WARNING_MAX,
                         "other work used %.0f%% of the host's busy CPU time during the run%s: the command's energy "
                         "is its CPU-time share of what the measured domains used, less precise than on an idle host",
                         100 * others, n == 1 ? "" : "s");
        return k;
}

void measure_idle_summarize(const MeasureResult *r, size_t n, MeasureIdle *ret) {
        _cleanup_free_ double *v = calloc(MAX(n, (size_t) 1), sizeof(double));
        StatsSummary with = {};

        assert(r || n == 0);
        assert(ret);
        *ret = (MeasureIdle) { .idle_w = n > 0 ? 0 : NAN, .band_w = n > 0 ? 0 : NAN };
        for (size_t i = 0; i < n; i++) {
                const char *p = r[i].idle_method;
                ret->idle_j += r[i].idle_j / (double) n;
                ret->idle_share_j += r[i].idle_share_j / (double) n;
                ret->idle_w += r[i].idle_w / (double) n;
                ret->band_w += r[i].idle_band_w / (double) n;
                /* Each run's list, method by method. */
                while (*p) {
                        char one[32];
                        size_t k = strcspn(p, ",");
                        snprintf(one, sizeof(one), "%.*s", (int) MIN(k, sizeof(one) - 1), p);
                        methods_add(ret->method, sizeof(ret->method), one);
                        ret->provisional = ret->provisional || cli_idle_provisional(one);
                        p += k;
                        p += strspn(p, ", ");
                }
                if (v)
                        v[i] = r[i].energy_j + r[i].idle_share_j;
        }
        if (v) {
                stats_summary(v, n, &with);
                ret->with_idle_j = with.mean;
                ret->with_idle_stddev_j = with.stddev;
        }
}

void measure_summarize(const MeasureResult *r, size_t n, StatsSummary *ret_energy, StatsSummary *ret_cpu,
                       StatsSummary *ret_wall) {
        _cleanup_free_ double *v = calloc(MAX(n, (size_t) 1), sizeof(double));

        assert(r || n == 0);
        assert(ret_energy && ret_cpu && ret_wall);
        *ret_energy = *ret_cpu = *ret_wall = (StatsSummary) {};
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                v[i] = r[i].energy_j;
        stats_summary(v, n, ret_energy);
        for (size_t i = 0; i < n; i++)
                v[i] = r[i].cpu_s;
        stats_summary(v, n, ret_cpu);
        for (size_t i = 0; i < n; i++)
                v[i] = r[i].wall_s;
        stats_summary(v, n, ret_wall);
}
