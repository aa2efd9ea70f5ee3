/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl run [--repeat N] [--budget J] [--json] -- CMD ARGS...
 *
 * The energy of one command's whole process tree, like `perf stat`.
 *
 * Which processes: the command runs in a cgroup v2 of its own
 * (<cgroup2 mount>/jouled-run-<pid> as root, else a child of our own cgroup
 * when it is delegated to us). The child moves itself into it before exec,
 * so every descendant (grandchildren, double-forked daemons) is inside and
 * nothing else is; cpu.stat usage_usec at the end is the tree's CPU time.
 * Processes still in the cgroup when the command exits are killed
 * (cgroup.kill) so that the cgroup can be removed. Where no cgroup can be
 * made, the kernel's accounting of waited-for descendants (wait4 rusage)
 * gives the CPU time: descendants that were not waited for are missed.
 *
 * Energy: the tree's share of the host's dynamic (above idle) energy during
 * the run, share = tree CPU time / host busy CPU time (/proc/stat) over the
 * run's wall window, capped at 1.
 *   - jouled running (the database at --db has an interval that ended less
 *     than 3 intervals ago): the host-total domains' measured minus idle
 *     energy of the stored intervals, each pro rata of its overlap with the
 *     run (waiting for the interval that covers the run's end).
 *   - otherwise: the energy sources are opened in this process (auto: RAPL
 *     where readable, else the utilisation model, marked estimated) and read
 *     during the run; idle power is the model's minimum, 0.74 W per CPU.
 * Carbon: co2e_grams = energy_joules / 3.6e6 × intensity (g/kWh).
 *
 * Exit status: 0; 1 when the command failed in any run (its status is in
 * exit_status) or nothing could be measured; 2 bad usage; 3 when the mean
 * energy exceeds --budget.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#include "cgroup-util.h"
#include "cleanup.h"
#include "cli-util.h"
#include "config.h"
#include "log.h"
#include "source.h"
#include "util.h"
#include "verbs.h"

#define MAX_SOURCES_SHOWN 16

typedef struct RunSource {
        char domain[DOMAIN_NAME_MAX];
        char source[32];
        bool estimated;
} RunSource;

typedef struct RunContext {
        bool json;
        char **cmd;

        /* Daemon mode: an open, fresh database. */
        Store *store;
        double interval_s;
        /* Self mode: sources opened here. */
        EnergySource **sources;
        size_t n_sources;
        bool have_psys;

        char cgroup_root[512];   /* the cgroup2 directory to create ours under, "" if none */
        char cgroup_note[1280];  /* why not, when none */

        RunSource shown[MAX_SOURCES_SHOWN];
        size_t n_shown;
        bool estimated;
} RunContext;

typedef struct RunResult {
        int exit_status;
        double wall_s, cpu_s, energy_j;
        bool cgroup;
} RunResult;

static void add_shown(RunContext *c, const char *domain, const char *source, bool estimated) {
        for (size_t i = 0; i < c->n_shown; i++)
                if (strcmp(c->shown[i].domain, domain) == 0 && strcmp(c->shown[i].source, source) == 0) {
                        c->shown[i].estimated = c->shown[i].estimated || estimated;
                        c->estimated = c->estimated || estimated;
                        return;
                }
        if (c->n_shown >= MAX_SOURCES_SHOWN)
                return;
        strscpy(c->shown[c->n_shown].domain, sizeof(c->shown[0].domain), domain);
        strscpy(c->shown[c->n_shown].source, sizeof(c->shown[0].source), source);
        c->shown[c->n_shown].estimated = estimated;
        c->n_shown++;
        c->estimated = c->estimated || estimated;
}

/* ---- cgroup v2 --------------------------------------------------------- */

static int own_cgroup(char *buf, size_t size) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (startswith(line, "0::")) {
                        line[strcspn(line, "\n")] = 0;
                        strscpy(buf, size, line + 3);
                        return 0;
                }
        return -ENOENT;
}

/* Where to create our cgroup: the mount's root as root, else our own cgroup
 * when we may create children there (delegation). */
static void cgroup_pick_root(RunContext *c) {
        _cleanup_free_ char *mnt = NULL;
        char own[1024], path[2048];

        if (cgroup2_mount(NULL, &mnt) < 0) {
                snprintf(c->cgroup_note, sizeof(c->cgroup_note), "no cgroup v2 mounted");
                return;
        }
        if (geteuid() == 0 && access(mnt, W_OK) == 0) {
                strscpy(c->cgroup_root, sizeof(c->cgroup_root), mnt);
                return;
        }
        if (own_cgroup(own, sizeof(own)) >= 0) {
                snprintf(path, sizeof(path), "%s%s", mnt, own);
                if (access(path, W_OK) == 0 && strlen(path) < sizeof(c->cgroup_root)) {
                        strscpy(c->cgroup_root, sizeof(c->cgroup_root), path);
                        return;
                }
        }
        snprintf(c->cgroup_note, sizeof(c->cgroup_note),
                 "cannot create a cgroup under %s (not root, not delegated)", mnt);
}

static int cgroup_usage_usec(const char *cg, uint64_t *ret) {
        _cleanup_free_ char *p = path_join(cg, "cpu.stat");
        _cleanup_fclose_ FILE *f = NULL;
        char key[64];
        unsigned long long v;

        if (!p)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return -errno;
        while (fscanf(f, "%63s %llu", key, &v) == 2)
                if (strcmp(key, "usage_usec") == 0) {
                        *ret = v;
                        return 0;
                }
        return -EBADMSG;
}

static void write_file(const char *dir, const char *name, const char *value) {
        _cleanup_free_ char *p = path_join(dir, name);
        int fd;

        if (!p)
                return;
        fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void) !write(fd, value, strlen(value));
        close(fd);
}

/* Kill what is left of the tree and remove the cgroup. */
static void cgroup_remove(const char *cg) {
        for (int i = 0; i < 200; i++) {
                if (rmdir(cg) == 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        break;
                write_file(cg, "cgroup.kill", "1");
                usleep(10000);
        }
        fprintf(stderr, "joulectl: cannot remove cgroup %s: %s\n", cg, strerror(errno));
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
static bool daemon_usable(RunContext *c, const char *db, char *why, size_t size) {
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
        if (state_double(s, "interval_s", &c->interval_s) < 0 || !(c->interval_s > 0) || c->interval_s > 3600)
                c->interval_s = 1;
        last = db_last_end(s);
        if (last == 0 || last + (uint64_t) (3 * c->interval_s * 1e9) < now) {
                snprintf(why, size, "jouled is not running (database %s has no interval in the last %.1f s)", db,
                         3 * c->interval_s);
                store_free(s);
                return false;
        }
        c->store = s;
        return true;
}

static int self_open(RunContext *c, const char *why_no_daemon) {
        SourceContext ctx = {
                .powercap_root = "/sys/class/powercap",
                .proc_root = "/proc",
                .sys_root = "/sys",
                .dev_root = "/dev",
        };
        size_t n_known;
        int r, lvl;

        (void) source_all(&n_known);
        _cleanup_free_ SourceProbe *probes = calloc(MAX(n_known, (size_t) 1), sizeof(SourceProbe));
        if (!probes)
                return -ENOMEM;
        /* Our report says "estimated" itself: no notice about the model here. */
        lvl = log_get_max_level();
        log_set_max_level(MIN(lvl, LOG_WARNING));
        r = source_select(&ctx, "auto", probes, n_known, &c->sources, &c->n_sources);
        log_set_max_level(lvl);
        if (r < 0 || c->n_sources == 0) {
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
        c->have_psys = sources_have_psys(c->sources, c->n_sources);
        for (size_t i = 0; i < c->n_sources; i++)
                for (size_t d = 0; d < c->sources[i]->n_domains; d++) {
                        const EnergyDomain *dom = &c->sources[i]->domains[d];
                        if (domain_counts_in_host_total(dom, c->have_psys))
                                add_shown(c, dom->name, c->sources[i]->ops->name,
                                          dom->estimated || c->sources[i]->ops->estimated);
                }
        return 0;
}

/* Read every opened source; add the host-total energy since open to *ret_j. */
static void self_read(RunContext *c, double *ret_j) {
        double total = 0;

        for (size_t i = 0; i < c->n_sources; i++) {
                EnergySource *s = c->sources[i];
                uint64_t uj[64];
                if (s->n_domains > ELEMENTSOF(uj) || s->ops->read(s, uj) < 0)
                        continue;
                for (size_t d = 0; d < s->n_domains; d++)
                        if (uj[d] != ENERGY_READ_FAILED && domain_counts_in_host_total(&s->domains[d], c->have_psys))
                                total += (double) uj[d] / 1e6;
        }
        *ret_j = total;
}

/* Dynamic energy of the host-total domains over [t0, t1] from the database,
 * each interval pro rata of its overlap. */
typedef struct DynamicSum {
        RunContext *c;
        uint64_t t0, t1;
        double total;
} DynamicSum;

static int dynamic_add(const StoreHostDynamic *d, void *userdata) {
        DynamicSum *sum = userdata;
        uint64_t lo = MAX(d->start_ns, sum->t0), hi = MIN(d->end_ns, sum->t1);

        if (d->end_ns <= d->start_ns || hi <= lo)
                return 0;
        sum->total += MAX(d->dynamic_j, 0.0) * (double) (hi - lo) / (double) (d->end_ns - d->start_ns);
        add_shown(sum->c, d->domain, d->source, d->estimated);
        return 0;
}

static int daemon_dynamic(RunContext *c, uint64_t t0, uint64_t t1, double *ret_j) {
        DynamicSum sum = { .c = c, .t0 = t0, .t1 = t1 };
        int r;

        r = store_query_host_dynamic(c->store, t0, t1, dynamic_add, &sum);
        if (r < 0) {
                cli_store_error(c->store, r);
                return -EIO;
        }
        *ret_j = sum.total;
        return 0;
}

/* ---- one run ----------------------------------------------------------- */

static int run_once(RunContext *c, int index, RunResult *ret) {
        char cg[600] = "";
        int errpipe[2] = { -1, -1 }, status = 0, child_errno = 0;
        ProcStat st0 = {}, st1 = {};
        uint64_t rt0, rt1, m0, m1, last_read, cg_usec = 0;
        struct rusage ru = {};
        double e0 = 0, e1 = 0, dynamic = 0;
        pid_t pid;
        ssize_t n;
        int r;

        if (c->cgroup_root[0]) {
                snprintf(cg, sizeof(cg), "%s/jouled-run-%d-%d", c->cgroup_root, (int) getpid(), index);
                if (mkdir(cg, 0755) < 0) {
                        snprintf(c->cgroup_note, sizeof(c->cgroup_note), "cannot create %s: %s", cg, strerror(errno));
                        cg[0] = 0;
                        c->cgroup_root[0] = 0;
                }
        }
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                fprintf(stderr, "joulectl: cannot create a pipe: %s\n", strerror(errno));
                if (cg[0])
                        rmdir(cg);
                return -errno;
        }

        (void) procfs_read_stat(NULL, &st0);
        if (c->sources)
                self_read(c, &e0);
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
                int e;
                close(errpipe[0]);
                signal(SIGINT, SIG_DFL);
                signal(SIGQUIT, SIG_DFL);
                if (c->json)
                        /* stdout is for the JSON: the command's output goes to stderr. */
                        (void) dup2(STDERR_FILENO, STDOUT_FILENO);
                if (cg[0]) {
                        _cleanup_free_ char *p = path_join(cg, "cgroup.procs");
                        int fd = p ? open(p, O_WRONLY | O_CLOEXEC) : -1;
                        if (fd < 0 || write(fd, "0", 1) != 1) {
                                e = errno ? errno : EIO;
                                (void) !write(errpipe[1], &e, sizeof(e));
                                _exit(127);
                        }
                        close(fd);
                }
                execvp(c->cmd[0], c->cmd);
                e = errno;
                (void) !write(errpipe[1], &e, sizeof(e));
                _exit(127);
        }
        close(errpipe[1]);
        n = read(errpipe[0], &child_errno, sizeof(child_errno));
        close(errpipe[0]);

        /* Wait, reading the sources now and then so that counters cannot wrap unseen. */
        for (;;) {
                pid_t w = wait4(pid, &status, WNOHANG, &ru);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR) {
                        fprintf(stderr, "joulectl: waiting for the command failed: %s\n", strerror(errno));
                        break;
                }
                usleep(20000);
                if (c->sources && now_ns(CLOCK_MONOTONIC) - last_read > NSEC_PER_SEC) {
                        self_read(c, &e1);
                        last_read = now_ns(CLOCK_MONOTONIC);
                }
        }
        m1 = now_ns(CLOCK_MONOTONIC);
        rt1 = now_ns(CLOCK_REALTIME);
        if (c->sources)
                self_read(c, &e1);
        (void) procfs_read_stat(NULL, &st1);

        if (cg[0]) {
                if (cgroup_usage_usec(cg, &cg_usec) < 0)
                        cg_usec = 0;
                cgroup_remove(cg);
        }

        if (n == sizeof(child_errno)) {
                fprintf(stderr, "joulectl: cannot run '%s': %s\n", c->cmd[0],
                        cg[0] && child_errno != ENOENT ? "cannot join its cgroup" : strerror(child_errno));
                proc_stat_done(&st0);
                proc_stat_done(&st1);
                return -child_errno;
        }

        ret->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->wall_s = (double) (m1 - m0) / 1e9;
        ret->cgroup = cg[0] && cg_usec > 0;
        ret->cpu_s = ret->cgroup ? (double) cg_usec / 1e6
                                 : (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
                                           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;

        if (c->store) {
                /* Wait for the daemon's interval covering the end of the run. */
                uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t) ((3 * c->interval_s + 2) * 1e9);
                while (db_last_end(c->store) < rt1 && now_ns(CLOCK_MONOTONIC) < deadline)
                        usleep(50000);
                if (db_last_end(c->store) < rt1)
                        fprintf(stderr, "joulectl: jouled has not stored the end of the run yet; the energy covers "
                                        "only what it stored\n");
                r = daemon_dynamic(c, rt0, rt1, &dynamic);
                if (r < 0) {
                        proc_stat_done(&st0);
                        proc_stat_done(&st1);
                        return r;
                }
        } else {
                double idle_w = (double) MAX(st1.n_cpus, (size_t) 1) * MODEL_DEFAULT_MIN_W;
                dynamic = MAX(e1 - e0 - idle_w * ret->wall_s, 0.0);
        }

        {
                double busy = st1.busy_ns > st0.busy_ns ? (double) (st1.busy_ns - st0.busy_ns) / 1e9 : 0;
                double share = busy > 0 ? MIN(ret->cpu_s / busy, 1.0) : (ret->cpu_s > 0 ? 1.0 : 0.0);
                ret->energy_j = dynamic * share;
        }
        proc_stat_done(&st0);
        proc_stat_done(&st1);
        return 0;
}

/* ---- output ------------------------------------------------------------ */

static void mean_sd(const double *v, size_t n, double *ret_mean, double *ret_sd) {
        double m = 0, s = 0;
        for (size_t i = 0; i < n; i++)
                m += v[i];
        m /= (double) n;
        for (size_t i = 0; i < n; i++)
                s += (v[i] - m) * (v[i] - m);
        *ret_mean = m;
        *ret_sd = n > 1 ? sqrt(s / (double) (n - 1)) : 0;
}

static void print_results(const RunContext *c, const Carbon *carbon, const RunResult *res, size_t n, int exit_status,
                          double budget) {
        double *v = calloc(n, sizeof(double));
        double e_mean, e_sd, w_mean, w_sd, cpu_mean, cpu_sd;
        char b1[64], b2[64], b3[128];

        if (!v) {
                fprintf(stderr, "joulectl: out of memory\n");
                return;
        }
        for (size_t i = 0; i < n; i++)
                v[i] = res[i].energy_j;
        mean_sd(v, n, &e_mean, &e_sd);
        for (size_t i = 0; i < n; i++)
                v[i] = res[i].wall_s;
        mean_sd(v, n, &w_mean, &w_sd);
        for (size_t i = 0; i < n; i++)
                v[i] = res[i].cpu_s;
        mean_sd(v, n, &cpu_mean, &cpu_sd);
        free(v);

        if (c->json) {
                json_object *o = json_object_new_object(), *a = json_object_new_array(), *t;
                for (char **p = c->cmd; *p; p++)
                        json_object_array_add(a, json_object_new_string(*p));
                json_object_object_add(o, "command", a);
                json_object_object_add(o, "exit_status", json_object_new_int(exit_status));
                json_object_object_add(o, "runs", json_object_new_int64((int64_t) n));
                json_object_object_add(o, "wall_seconds", json_double_exact(w_mean));
                json_object_object_add(o, "cpu_seconds", json_double_exact(cpu_mean));
                json_object_object_add(o, "energy_joules", json_double_exact(e_mean));
                json_object_object_add(o, "energy_joules_stddev", json_double_exact(e_sd));
                json_object_object_add(o, "energy_wh", json_double_exact(e_mean / 3600));
                json_object_object_add(o, "co2e_grams", json_double_exact(carbon_grams(carbon, e_mean)));
                t = json_object_new_object();
                json_object_object_add(t, "intensity_g_per_kwh", json_double_exact(carbon->g_per_kwh));
                json_object_object_add(t, "origin", json_object_new_string(carbon->origin));
                json_object_object_add(o, "carbon", t);
                a = json_object_new_array();
                for (size_t i = 0; i < c->n_shown; i++) {
                        json_object *s = json_object_new_object();
                        json_object_object_add(s, "domain", json_object_new_string(c->shown[i].domain));
                        json_object_object_add(s, "source", json_object_new_string(c->shown[i].source));
                        json_object_object_add(s, "estimated", json_object_new_boolean(c->shown[i].estimated));
                        json_object_array_add(a, s);
                }
                json_object_object_add(o, "sources", a);
                json_object_object_add(o, "estimated", json_object_new_boolean(c->estimated));
                json_object_object_add(o, "energy_from", json_object_new_string(c->store ? "jouled" : "self"));
                json_object_object_add(o, "process_tree",
                                       json_object_new_string(n > 0 && res[0].cgroup ? "cgroup" : "rusage"));
                if (!isnan(budget)) {
                        json_object_object_add(o, "budget_joules", json_double_exact(budget));
                        json_object_object_add(o, "over_budget", json_object_new_boolean(e_mean > budget));
                }
                a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        json_object *r = json_object_new_object();
                        json_object_object_add(r, "exit_status", json_object_new_int(res[i].exit_status));
                        json_object_object_add(r, "wall_seconds", json_double_exact(res[i].wall_s));
                        json_object_object_add(r, "cpu_seconds", json_double_exact(res[i].cpu_s));
                        json_object_object_add(r, "energy_joules", json_double_exact(res[i].energy_j));
                        json_object_array_add(a, r);
                }
                json_object_object_add(o, "each", a);
                json_print(o);
                json_object_put(o);
                fflush(stdout);
                return;
        }

        /* Like perf stat: on stderr, after the command's own output. */
        fprintf(stderr, "\n Energy of '");
        for (char **p = c->cmd; *p; p++)
                fprintf(stderr, "%s%s", p == c->cmd ? "" : " ", *p);
        fprintf(stderr, "' (%zu run%s, whole process tree%s):\n\n", n, n == 1 ? "" : "s",
                n > 0 && res[0].cgroup ? ", cgroup" : ", waited-for children");
        fprintf(stderr, "  %14s", format_energy(e_mean, false, b1, sizeof(b1)));
        if (n > 1)
                fprintf(stderr, " ± %s", format_energy(e_sd, false, b2, sizeof(b2)));
        fprintf(stderr, "   energy%s (%.4g Wh)\n", c->estimated ? ", estimated" : "", e_mean / 3600);
        fprintf(stderr, "  %14s   (%s)\n", format_co2(carbon_grams(carbon, e_mean), b1, sizeof(b1)),
                format_carbon_origin(carbon, b3, sizeof(b3)));
        fprintf(stderr, "  %12.3f s   CPU time", cpu_mean);
        if (n > 1)
                fprintf(stderr, " ± %.3f s", cpu_sd);
        fprintf(stderr, "\n  %12.3f s   wall time", w_mean);
        if (n > 1)
                fprintf(stderr, " ± %.3f s", w_sd);
        fprintf(stderr, "\n\n  Energy: %s; sources: ",
                c->store ? "from jouled's database" : "measured by joulectl itself (jouled not running)");
        for (size_t i = 0; i < c->n_shown; i++)
                fprintf(stderr, "%s%s (%s%s)", i ? ", " : "", c->shown[i].domain, c->shown[i].source,
                        c->shown[i].estimated ? ", estimated" : "");
        fprintf(stderr, "\n");
        if (n > 0 && !res[0].cgroup && c->cgroup_note[0])
                fprintf(stderr, "  Process tree: waited-for descendants only (%s)\n", c->cgroup_note);
        if (exit_status != 0)
                fprintf(stderr, "  The command failed: exit status %d\n", exit_status);
        if (!isnan(budget))
                fprintf(stderr, "  Budget %s: %s\n", format_energy(budget, false, b1, sizeof(b1)),
                        e_mean > budget ? "EXCEEDED" : "ok");
}

static volatile sig_atomic_t run_interrupted;

static void on_sigint(int sig) {
        run_interrupted = sig;
}

int verb_run(int argc, char **argv, const CliGlobals *g_in) {
        enum { ARG_REPEAT = 0x100, ARG_BUDGET, ARG_JSON, ARG_CARBON };
        static const struct option options[] = {
                { "repeat", required_argument, NULL, ARG_REPEAT },
                { "budget", required_argument, NULL, ARG_BUDGET },
                { "json", no_argument, NULL, ARG_JSON },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        CliGlobals g = *g_in;
        RunContext c = {};
        uint64_t repeat = 1;
        double budget = NAN;
        _cleanup_free_ RunResult *res = NULL;
        char why[1024] = "";
        int ch, exit_status = 0, ret = 0;
        size_t done = 0;
        Carbon carbon;
        struct sigaction sa = { .sa_handler = on_sigint }, old_int, old_quit;

        opterr = 0;
        /* '+': the command's own options are not ours. */
        while ((ch = getopt_long(argc, argv, "+:hr:", options, NULL)) >= 0) {
                switch (ch) {
                case 'r':
                case ARG_REPEAT:
                        if (parse_u64(optarg, &repeat) < 0 || repeat < 1 || repeat > 10000) {
                                fprintf(stderr, "joulectl: invalid --repeat '%s': expected a whole number of runs "
                                                "from 1 to 10000\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_BUDGET:
                        if (parse_double(optarg, &budget) < 0 || !isfinite(budget) || budget < 0) {
                                fprintf(stderr, "joulectl: invalid --budget '%s': expected joules, a number >= 0 "
                                                "(e.g. 50 or 1.5e3)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_JSON:
                        c.json = true;
                        break;
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl run [--repeat N] [--budget JOULES] [--json] [--carbon-intensity G] "
                               "-- CMD [ARGS...]\n"
                               "Exit status: 0 ok, 1 the command failed, 2 bad usage, 3 mean energy over budget.\n");
                        return 0;
                default:
                        return cli_option_error(ch, argv, "run",
                                                "--repeat, --budget, --json, --carbon-intensity, then -- CMD");
                }
        }
        if (optind >= argc || !argv[optind][0]) {
                fprintf(stderr, "joulectl: run needs a command: joulectl run [OPTIONS] -- CMD [ARGS...]\n");
                return EXIT_USAGE;
        }
        c.cmd = argv + optind;
        if (g.parse_only)
                return 0;

        res = calloc((size_t) repeat, sizeof(RunResult));
        if (!res) {
                fprintf(stderr, "joulectl: out of memory\n");
                return 1;
        }

        if (!daemon_usable(&c, g.db_path, why, sizeof(why)) && self_open(&c, why) < 0)
                return 1;
        cli_carbon_resolve(&g, c.store, &carbon);
        cgroup_pick_root(&c);

        /* Like time(1): Ctrl-C goes to the command; we stay to report. */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGQUIT, &sa, &old_quit);
        for (done = 0; done < repeat && !run_interrupted; done++) {
                int r = run_once(&c, (int) done, &res[done]);
                if (r < 0) {
                        ret = 1;
                        break;
                }
                if (res[done].exit_status != 0 && exit_status == 0)
                        exit_status = res[done].exit_status;
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);

        if (done > 0 && ret == 0) {
                double mean = 0;
                print_results(&c, &carbon, res, done, exit_status, budget);
                for (size_t i = 0; i < done; i++)
                        mean += res[i].energy_j / (double) done;
                if (exit_status != 0 || run_interrupted)
                        ret = 1;
                else if (!isnan(budget) && mean > budget)
                        ret = EXIT_OVER_BUDGET;
        }

        store_free(c.store);
        source_close_all(c.sources);
        return ret;
}
