/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl profile: energy flame graphs.
 *
 * Samples the target's stacks in BPF (bpf/profile.bpf.c) on every CPU and,
 * once per interval, weights that interval's samples with the target's
 * dynamic energy in it:
 *
 *   E(interval, group) = dynamic(group) × min(target CPU(group) / host busy(group), 1)
 *
 * spread evenly over the target's samples on that group's CPUs, where a
 * group is a package when every package has its own meter, else the whole
 * host; dynamic = host-total energy − 0.74 W per CPU × interval (the same
 * idle figure as `joulectl run` measuring alone); the target's CPU time is
 * its cgroup's cpu.stat usage (or /proc/PID/stat for --pid), split over the
 * groups by its samples. So the stacks' total is the figure `joulectl run`
 * gives for the same command. Energy of an interval in which the target ran
 * but was never sampled waits for the next sampled interval; what is left
 * at the end goes to an "[unsampled]" stack: nothing is dropped.
 *
 * Energy is measured by joulectl itself, with the same sources as jouled
 * (auto: RAPL where readable, else the utilisation model, estimated), also
 * when jouled runs: the intervals are then the profile's own, aligned with
 * the samples. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-cgroup.h"
#include "cli-util.h"
#include "config.h"
#include "hashmap.h"
#include "log.h"
#include "profile-render.h"
#include "profile-sampler.h"
#include "profile-stacks.h"
#include "profile-symbols.h"
#include "source.h"
#include "topology.h"
#include "util.h"
#include "verbs.h"

#define PROFILE_INTERVAL_NS NSEC_PER_SEC

static inline void hashmap_freep(Hashmap **h) {
        hashmap_free(*h);
}
#define PROFILE_MAX_GROUPS 64
#define FRAME_MAX 512

typedef struct Weight {
        double uj;
        uint64_t samples;
} Weight;

typedef struct ProfileContext {
        /* Target. */
        char **cmd;
        uint32_t pid;
        char cgroup[1024];           /* the watched or created cgroup directory, "" for --pid */
        bool own_cgroup;             /* created here for -- CMD */
        pid_t child;
        unsigned frequency;

        /* Energy, measured here. */
        EnergySource **sources;
        size_t n_sources;
        bool have_psys;
        bool estimated;
        char source_names[256];
        Topology topo;
        size_t n_groups;             /* 1: the whole host; else one per package */
        int cpu_group[1024];         /* CPU → group, -1 unknown */
        size_t group_cpus[PROFILE_MAX_GROUPS];
        double group_uj_prev[PROFILE_MAX_GROUPS];
        double carry_uj[PROFILE_MAX_GROUPS];
        ProcStat st_prev;
        uint64_t target_cpu_prev_ns;
        bool target_cpu_known;

        /* Totals. */
        double total_uj, dynamic_host_uj, idle_host_uj, idle_share_uj, target_cpu_ns, unsampled_uj;
        uint64_t samples, intervals;

        ProfileSampler *sampler;
        Symbolizer *sym;
        Hashmap *weights;            /* (tgid, user id, kernel id) → Weight */
} ProfileContext;

static volatile sig_atomic_t profile_stop;

static void on_signal(int sig) {
        profile_stop = sig;
}

/* ---- energy -------------------------------------------------------------- */

static int energy_open(ProfileContext *c) {
        SourceContext ctx = {
                .powercap_root = "/sys/class/powercap",
                .proc_root = "/proc",
                .sys_root = "/sys",
                .dev_root = "/dev",
        };
        size_t n_known, n_pkg_domains = 0;
        int r, lvl;

        (void) source_all(&n_known);
        _cleanup_free_ SourceProbe *probes = calloc(MAX(n_known, (size_t) 1), sizeof(SourceProbe));
        if (!probes)
                return log_oom();
        lvl = log_get_max_level();
        log_set_max_level(MIN(lvl, LOG_WARNING));
        r = source_select(&ctx, "auto", probes, n_known, &c->sources, &c->n_sources);
        log_set_max_level(lvl);
        if (r < 0 || c->n_sources == 0) {
                fprintf(stderr, "joulectl: cannot measure energy: no energy source can be read here\n");
                return -ENODEV;
        }
        c->have_psys = sources_have_psys(c->sources, c->n_sources);
        for (size_t i = 0; i < c->n_sources; i++) {
                size_t n = strlen(c->source_names);
                snprintf(c->source_names + n, sizeof(c->source_names) - n, "%s%s", n ? ", " : "",
                         c->sources[i]->ops->name);
                for (size_t d = 0; d < c->sources[i]->n_domains; d++) {
                        const EnergyDomain *dom = &c->sources[i]->domains[d];
                        if (!domain_counts_in_host_total(dom, c->have_psys))
                                continue;
                        if (dom->estimated || c->sources[i]->ops->estimated)
                                c->estimated = true;
                        if (dom->kind == DOMAIN_PACKAGE)
                                n_pkg_domains++;
                }
        }

        /* Groups: one per package when each has its own meter and nothing
         * host-wide is counted, else the whole host. */
        for (size_t i = 0; i < ELEMENTSOF(c->cpu_group); i++)
                c->cpu_group[i] = 0;
        c->n_groups = 1;
        if (topology_read(NULL, &c->topo) >= 0 && c->topo.n_packages > 1 && !c->have_psys &&
            n_pkg_domains == c->topo.n_packages && c->topo.n_packages <= PROFILE_MAX_GROUPS) {
                c->n_groups = c->topo.n_packages;
                for (size_t i = 0; i < c->topo.n_cpus; i++)
                        for (size_t g = 0; g < c->topo.n_packages; g++)
                                if (c->topo.cpus[i].package == c->topo.packages[g] &&
                                    c->topo.cpus[i].cpu >= 0 && (size_t) c->topo.cpus[i].cpu < ELEMENTSOF(c->cpu_group))
                                        c->cpu_group[c->topo.cpus[i].cpu] = (int) g;
        }
        return 0;
}

static size_t domain_group(const ProfileContext *c, const EnergyDomain *d) {
        if (c->n_groups == 1)
                return 0;
        for (size_t g = 0; g < c->topo.n_packages; g++)
                if (c->topo.packages[g] == d->package)
                        return g;
        return 0;
}

/* Cumulative host-total energy per group since open, µJ. */
static void energy_read(ProfileContext *c, double uj[PROFILE_MAX_GROUPS]) {
        for (size_t g = 0; g < c->n_groups; g++)
                uj[g] = 0;
        for (size_t i = 0; i < c->n_sources; i++) {
                EnergySource *s = c->sources[i];
                uint64_t v[64];
                if (s->n_domains > ELEMENTSOF(v) || s->ops->read(s, v) < 0)
                        continue;
                for (size_t d = 0; d < s->n_domains; d++)
                        if (v[d] != ENERGY_READ_FAILED && domain_counts_in_host_total(&s->domains[d], c->have_psys))
                                uj[domain_group(c, &s->domains[d])] += (double) v[d];
        }
}

/* The target's CPU time so far, ns. */
static int target_cpu_ns(ProfileContext *c, uint64_t *ret) {
        if (c->cgroup[0]) {
                uint64_t usec;
                int r = cli_cgroup_usage_usec(c->cgroup, &usec);
                if (r < 0)
                        return r;
                *ret = usec * 1000;
                return 0;
        }
        if (c->pid) {
                char path[64];
                _cleanup_free_ char *text = NULL;
                unsigned long long ut, st;
                const char *p;
                snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", c->pid);
                if (read_small_file(path, 4096, &text) < 0)
                        return -ESRCH;
                p = strrchr(text, ')');
                if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                        return -EBADMSG;
                *ret = (uint64_t) (ut + st) * (NSEC_PER_SEC / (uint64_t) sysconf(_SC_CLK_TCK));
                return 0;
        }
        return -ENOENT;
}

static void energy_start(ProfileContext *c) {
        uint64_t t;

        energy_read(c, c->group_uj_prev);
        (void) procfs_read_stat(NULL, &c->st_prev);
        c->target_cpu_known = target_cpu_ns(c, &t) >= 0;
        c->target_cpu_prev_ns = c->target_cpu_known ? t : 0;
}

/* ---- one interval -------------------------------------------------------- */

static int weight_add(ProfileContext *c, const struct profile_key *k, double uj, uint64_t samples) {
        HashKey key = { k->tgid, ((uint64_t) (uint32_t) k->user_stack_id << 32) | (uint32_t) k->kern_stack_id };
        Weight *w = hashmap_get(c->weights, key);

        if (!w) {
                w = calloc(1, sizeof(Weight));
                if (!w || hashmap_put(c->weights, key, w) < 0) {
                        free(w);
                        return -ENOMEM;
                }
        }
        w->uj += uj;
        w->samples += samples;
        return 0;
}

static int interval_end(ProfileContext *c, double dt_s) {
        _cleanup_free_ ProfileCount *counts = NULL;
        size_t n = 0;
        double uj[PROFILE_MAX_GROUPS], busy[PROFILE_MAX_GROUPS] = {}, idle_uj[PROFILE_MAX_GROUPS] = {};
        double dyn[PROFILE_MAX_GROUPS], e[PROFILE_MAX_GROUPS], cpu_g[PROFILE_MAX_GROUPS];
        uint64_t samples_g[PROFILE_MAX_GROUPS] = {}, samples = 0, cpu_now = 0, cpu_ns;
        double busy_total = 0;
        ProcStat st = {};
        int r;

        r = profile_sampler_drain(c->sampler, &counts, &n);
        if (r < 0)
                return r;
        energy_read(c, uj);
        if (procfs_read_stat(NULL, &st) < 0)
                return -EIO;

        /* Host busy CPU time per group. */
        for (size_t i = 0; i < st.n_cpus; i++) {
                size_t g = st.cpu_ids[i] >= 0 && (size_t) st.cpu_ids[i] < ELEMENTSOF(c->cpu_group) ?
                                   (size_t) c->cpu_group[st.cpu_ids[i]] : 0;
                uint64_t prev = 0;
                for (size_t j = 0; j < c->st_prev.n_cpus; j++)
                        if (c->st_prev.cpu_ids[j] == st.cpu_ids[i])
                                prev = c->st_prev.cpu_busy_ns[j];
                if (st.cpu_busy_ns[i] > prev)
                        busy[g] += (double) (st.cpu_busy_ns[i] - prev);
                c->group_cpus[g]++;
        }
        for (size_t g = 0; g < c->n_groups; g++) {
                idle_uj[g] = (double) c->group_cpus[g] * MODEL_DEFAULT_MIN_W * dt_s * 1e6;
                c->group_cpus[g] = 0;
                busy_total += busy[g];
        }

        for (size_t i = 0; i < n; i++) {
                size_t g = counts[i].key.cpu < ELEMENTSOF(c->cpu_group) ? (size_t) c->cpu_group[counts[i].key.cpu] : 0;
                samples_g[g] += counts[i].count;
                samples += counts[i].count;
        }

        /* The target's CPU time in this interval, split by its samples. */
        if (c->target_cpu_known && target_cpu_ns(c, &cpu_now) >= 0) {
                cpu_ns = cpu_now > c->target_cpu_prev_ns ? cpu_now - c->target_cpu_prev_ns : 0;
                c->target_cpu_prev_ns = cpu_now;
        } else
                cpu_ns = (uint64_t) ((double) samples * 1e9 / c->frequency);
        c->target_cpu_ns += (double) cpu_ns;

        for (size_t g = 0; g < c->n_groups; g++) {
                double share;
                dyn[g] = MAX(uj[g] - c->group_uj_prev[g] - idle_uj[g], 0.0);
                c->dynamic_host_uj += dyn[g];
                c->idle_host_uj += idle_uj[g];
                if (samples > 0)
                        cpu_g[g] = (double) cpu_ns * (double) samples_g[g] / (double) samples;
                else
                        cpu_g[g] = busy_total > 0 ? (double) cpu_ns * busy[g] / busy_total : 0;
                share = busy[g] > 0 ? MIN(cpu_g[g] / busy[g], 1.0) : (cpu_g[g] > 0 ? 1.0 : 0.0);
                e[g] = dyn[g] * share;
                c->idle_share_uj += idle_uj[g] * share;
                c->total_uj += e[g];
                c->group_uj_prev[g] = uj[g];
                e[g] += c->carry_uj[g];
                c->carry_uj[g] = samples_g[g] > 0 ? 0 : e[g];
        }

        for (size_t i = 0; i < n; i++) {
                size_t g = counts[i].key.cpu < ELEMENTSOF(c->cpu_group) ? (size_t) c->cpu_group[counts[i].key.cpu] : 0;
                r = weight_add(c, &counts[i].key, e[g] * (double) counts[i].count / (double) samples_g[g],
                               counts[i].count);
                if (r < 0) {
                        proc_stat_done(&st);
                        return r;
                }
        }
        /* Mappings change (dlopen, exec): read them again, once per process
         * sampled in this interval, while it lives. */
        {
                _cleanup_(hashmap_freep) Hashmap *done = hashmap_new();
                for (size_t i = 0; done && i < n; i++)
                        if (hashmap_put(done, (HashKey) { counts[i].key.tgid, 0 }, c) == 0)
                                (void) symbolizer_capture(c->sym, counts[i].key.tgid);
        }
        c->samples += samples;
        c->intervals++;
        proc_stat_done(&c->st_prev);
        c->st_prev = st;
        return 0;
}

static void on_event(const struct profile_event *e, void *userdata) {
        ProfileContext *c = userdata;
        char comm[PROFILE_COMM_LEN + 1];

        memcpy(comm, e->comm, PROFILE_COMM_LEN);
        comm[PROFILE_COMM_LEN] = 0;
        switch (e->kind) {
        case PROFILE_EVENT_FORK:
                (void) symbolizer_fork(c->sym, e->tgid, e->ppid);
                break;
        case PROFILE_EVENT_EXEC:
        case PROFILE_EVENT_FIRST_SAMPLE:
                (void) symbolizer_capture(c->sym, e->tgid);
                (void) symbolizer_set_comm(c->sym, e->tgid, comm);
                break;
        }
}

/* ---- stacks → folded ----------------------------------------------------- */

static void frame_clean(char *s) {
        for (; *s; s++)
                if (*s == ';' || (unsigned char) *s < 0x20)
                        *s = *s == ';' ? ':' : '_';
}

static int append(char **buf, size_t *len, size_t *cap, const char *s) {
        size_t n = strlen(s);

        if (*len + n + 2 > *cap) {
                size_t c = MAX(*cap * 2, *len + n + 256);
                char *b = realloc(*buf, c);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *cap = c;
        }
        if (*len > 0)
                (*buf)[(*len)++] = ';';
        memcpy(*buf + *len, s, n + 1);
        *len += n;
        return 0;
}

static int build_profile(ProfileContext *c, Profile *out, uint64_t *ret_truncated) {
        uint64_t ips[PROFILE_STACK_DEPTH];
        size_t state = 0, len, cap = 0, n;
        _cleanup_free_ char *buf = NULL;
        char frame[FRAME_MAX];
        HashKey k;
        void *v;
        int r;

        *ret_truncated = 0;
        while (hashmap_iterate(c->weights, &state, &k, &v)) {
                const Weight *w = v;
                uint32_t tgid = (uint32_t) k.a;
                int32_t uid = (int32_t) (uint32_t) (k.b >> 32), kid = (int32_t) (uint32_t) k.b;

                len = 0;
                strscpy(frame, sizeof(frame), symbolizer_comm(c->sym, tgid));
                frame_clean(frame);
                if ((r = append(&buf, &len, &cap, frame)) < 0)
                        return r;
                if (uid >= 0 && profile_sampler_stack(c->sampler, uid, ips, &n) >= 0 && n > 0) {
                        if (n == PROFILE_STACK_DEPTH) {
                                (*ret_truncated)++;
                                if ((r = append(&buf, &len, &cap, "[truncated]")) < 0)
                                        return r;
                        }
                        for (size_t i = n; i > 0; i--) {
                                symbolizer_user(c->sym, tgid, ips[i - 1], i == 1, frame, sizeof(frame));
                                if ((r = append(&buf, &len, &cap, frame)) < 0)
                                        return r;
                        }
                } else if (uid != -14 && (r = append(&buf, &len, &cap, "[lost user stack]")) < 0)
                        return r;
                if (kid >= 0 && profile_sampler_stack(c->sampler, kid, ips, &n) >= 0 && n > 0) {
                        for (size_t i = n; i > 0; i--) {
                                symbolizer_kernel(c->sym, ips[i - 1], i == 1, frame, sizeof(frame));
                                if ((r = append(&buf, &len, &cap, frame)) < 0)
                                        return r;
                        }
                }
                r = profile_add(out, buf, w->uj, w->samples);
                if (r < 0)
                        return r;
        }
        if (c->unsampled_uj > 0) {
                r = profile_add(out, "[unsampled]", c->unsampled_uj, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- running it ------------------------------------------------------------ */

static int start_command(ProfileContext *c, int *ret_errfd) {
        int errpipe[2];
        pid_t pid;

        if (pipe2(errpipe, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(errpipe[0]);
                close(errpipe[1]);
                return r;
        }
        if (pid == 0) {
                int e;
                close(errpipe[0]);
                signal(SIGINT, SIG_DFL);
                signal(SIGQUIT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                if (c->cgroup[0] && cli_cgroup_enter(c->cgroup, 0) < 0) {
                        e = EPERM;
                        (void) !write(errpipe[1], &e, sizeof(e));
                        _exit(127);
                }
                execvp(c->cmd[0], c->cmd);
                e = errno;
                (void) !write(errpipe[1], &e, sizeof(e));
                _exit(127);
        }
        close(errpipe[1]);
        c->child = pid;
        *ret_errfd = errpipe[0];
        return 0;
}

static bool target_alive(ProfileContext *c, int *status) {
        if (c->child > 0) {
                pid_t w = waitpid(c->child, status, WNOHANG);
                if (w == c->child) {
                        c->child = 0;
                        return false;
                }
                return true;
        }
        if (c->pid) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%" PRIu32, c->pid);
                return access(path, F_OK) == 0;
        }
        return true;
}

static void print_summary(ProfileContext *c, const Profile *p, uint64_t stats[_PROFILE_STAT_MAX],
                          uint64_t truncated, double wall_s) {
        ProfileFunction *f = NULL;
        size_t n = 0;
        double total = profile_total_uj(p);
        char b1[64], b2[64];
        SymbolizerStats ss;

        printf("\nEnergy profile of ");
        if (c->cmd)
                for (char **a = c->cmd; *a; a++)
                        printf("%s%s", a == c->cmd ? "'" : " ", *a);
        else if (c->pid)
                printf("'pid %" PRIu32, c->pid);
        else
                printf("'%s", c->cgroup);
        printf("': %s in the stacks%s, %" PRIu64 " samples at %u Hz (%s) over %.1f s\n",
               format_energy(total / 1e6, false, b1, sizeof(b1)), c->estimated ? ", estimated" : "", c->samples,
               c->frequency, profile_sampler_event(c->sampler), wall_s);
        printf("  Energy: measured by joulectl (sources: %s%s); CPU time %.3f s\n", c->source_names,
               c->estimated ? ", estimated" : "", c->target_cpu_ns / 1e9);
        printf("  Idle energy, not in the stacks: %s for the host, of which the target's CPU-time share %s\n",
               format_energy(c->idle_host_uj / 1e6, false, b1, sizeof(b1)),
               format_energy(c->idle_share_uj / 1e6, false, b2, sizeof(b2)));
        if (stats[PROFILE_STAT_USER_LOST] || stats[PROFILE_STAT_KERN_LOST] || stats[PROFILE_STAT_KEYS_FULL] ||
            truncated || stats[PROFILE_STAT_EVENTS_LOST])
                printf("  Lost: %" PRIu64 " user and %" PRIu64 " kernel stacks (stack map full or collision), %" PRIu64
                       " samples (count map full), %" PRIu64 " stacks truncated at %d frames, %" PRIu64 " events\n",
                       stats[PROFILE_STAT_USER_LOST], stats[PROFILE_STAT_KERN_LOST], stats[PROFILE_STAT_KEYS_FULL],
                       truncated, PROFILE_STACK_DEPTH, stats[PROFILE_STAT_EVENTS_LOST]);
        symbolizer_stats(c->sym, &ss);
        if (ss.frames > 0)
                printf("  Symbols: %" PRIu64 " of %" PRIu64 " frames unknown; %" PRIu64 " of %" PRIu64
                       " processes without mappings\n",
                       ss.unknown, ss.frames, ss.processes_without_maps, ss.processes);
        if (total <= 0)
                return;
        for (int by_self = 1; by_self >= 0; by_self--) {
                if (profile_functions(p, NULL, by_self, &f, &n) < 0)
                        return;
                printf("\n  Top functions by %s energy:\n", by_self ? "self" : "total");
                for (size_t i = 0, shown = 0; i < n && shown < 10; i++) {
                        double v = by_self ? f[i].self_uj : f[i].total_uj;
                        if (v <= 0)
                                break;
                        printf("  %12s  %5.1f%%  %s\n", format_energy(v / 1e6, false, b1, sizeof(b1)),
                               100 * v / total, f[i].name);
                        shown++;
                }
                profile_functions_free(f, n);
        }
}

static int write_outputs(const Profile *p, const Profile *before, const char *folded, const char *svg,
                         const char *json, const ProfileMeta *meta) {
        if (folded) {
                _cleanup_fclose_ FILE *f = fopen(folded, "we");
                if (!f || profile_write_folded(p, f) < 0) {
                        fprintf(stderr, "joulectl: cannot write %s: %s\n", folded, strerror(errno));
                        return 1;
                }
        }
        if (svg) {
                _cleanup_fclose_ FILE *f = fopen(svg, "we");
                if (!f || profile_write_svg(p, before, meta, f) < 0) {
                        fprintf(stderr, "joulectl: cannot write %s: %s\n", svg, strerror(errno));
                        return 1;
                }
        }
        if (json) {
                _cleanup_fclose_ FILE *f = fopen(json, "we");
                if (!f || profile_write_json(p, before, meta, f) < 0) {
                        fprintf(stderr, "joulectl: cannot write %s: %s\n", json, strerror(errno));
                        return 1;
                }
        }
        return 0;
}

static int profile_diff(const char *a, const char *b, bool normalize, const char *folded, const char *svg,
                        const char *json) {
        _cleanup_(profile_done) Profile before = {}, after = {};
        const char *paths[2] = { a, b };
        Profile *ps[2] = { &before, &after };
        ProfileMeta meta = { .title = "Energy difference", .diff = true };
        ProfileFunction *f = NULL;
        size_t n = 0, line = 0;
        char b1[64], b2[64];
        int r;

        for (int i = 0; i < 2; i++) {
                r = profile_read_folded_file(ps[i], paths[i], &line);
                if (r == -EINVAL) {
                        fprintf(stderr,
                                "joulectl: %s:%zu: not a folded stack line (expected 'frame;frame WEIGHT', at most "
                                "%d frames)\n",
                                paths[i], line, PROFILE_FOLDED_MAX_FRAMES);
                        return 1;
                }
                if (r < 0) {
                        fprintf(stderr, "joulectl: cannot read %s: %s\n", paths[i], strerror(-r));
                        return 1;
                }
        }
        if (normalize && profile_total_uj(&before) > 0) {
                /* Compare shapes: BEFORE scaled to AFTER's total. */
                double k = profile_total_uj(&after) / profile_total_uj(&before);
                for (size_t i = 0; i < before.n_stacks; i++)
                        before.stacks[i].uj *= k;
        }
        snprintf(meta.subtitle, sizeof(meta.subtitle), "%s → %s: %s → %s (%+.1f%%%s); red: more energy, blue: less",
                 a, b, format_energy(profile_total_uj(&before) / 1e6, false, b1, sizeof(b1)),
                 format_energy(profile_total_uj(&after) / 1e6, false, b2, sizeof(b2)),
                 profile_total_uj(&before) > 0 ?
                         100 * (profile_total_uj(&after) / profile_total_uj(&before) - 1) : 0.0,
                 normalize ? ", BEFORE normalised to AFTER's total" : "");
        r = write_outputs(&after, &before, folded, svg, json, &meta);
        if (r != 0)
                return r;

        printf("%s\n\n  Functions whose energy changed most (total, before → after):\n", meta.subtitle);
        if (profile_functions(&after, &before, 0, &f, &n) < 0)
                return 1;
        /* Largest absolute change first. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (fabs(f[j].total_uj - f[j].before_total_uj) > fabs(f[i].total_uj - f[i].before_total_uj)) {
                                ProfileFunction t = f[i];
                                f[i] = f[j];
                                f[j] = t;
                        }
        for (size_t i = 0; i < n && i < 10; i++)
                printf("  %12s → %-12s %+7.1f%%  %s\n",
                       format_energy(f[i].before_total_uj / 1e6, false, b1, sizeof(b1)),
                       format_energy(f[i].total_uj / 1e6, false, b2, sizeof(b2)),
                       f[i].before_total_uj > 0 ? 100 * (f[i].total_uj / f[i].before_total_uj - 1) : 100.0,
                       f[i].name);
        profile_functions_free(f, n);
        return 0;
}

static void free_weights(Hashmap *h) {
        size_t state = 0;
        HashKey k;
        void *v;

        while (h && hashmap_iterate(h, &state, &k, &v))
                free(v);
        hashmap_free(h);
}

int verb_profile(int argc, char **argv, const CliGlobals *g) {
        enum { ARG_PID = 0x100, ARG_UNIT, ARG_CGROUP, ARG_DURATION, ARG_FREQ, ARG_FOLDED, ARG_SVG, ARG_JSON, ARG_DIFF,
               ARG_EVENT, ARG_NORMALIZE };
        static const struct option options[] = {
                { "pid", required_argument, NULL, ARG_PID },
                { "unit", required_argument, NULL, ARG_UNIT },
                { "cgroup", required_argument, NULL, ARG_CGROUP },
                { "duration", required_argument, NULL, ARG_DURATION },
                { "frequency", required_argument, NULL, ARG_FREQ },
                { "folded", required_argument, NULL, ARG_FOLDED },
                { "svg", required_argument, NULL, ARG_SVG },
                { "json", required_argument, NULL, ARG_JSON },
                { "diff", required_argument, NULL, ARG_DIFF },
                { "event", required_argument, NULL, ARG_EVENT },
                { "normalize", no_argument, NULL, ARG_NORMALIZE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        ProfileContext c = { .frequency = 99 };
        const char *unit = NULL, *cgroup_arg = NULL, *folded = NULL, *svg = NULL, *json = NULL;
        double duration = 0;
        const char *diff_before = NULL, *diff_after = NULL;
        ProfileEvent event = PROFILE_EVENT_AUTO;
        bool normalize = false;
        uint64_t u;
        int ch, ntargets = 0, status = 0, ret = 0, errfd = -1, r;
        char mnt[512] = "", err[512];
        struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term, old_quit;
        uint64_t t0, next, stats[_PROFILE_STAT_MAX], truncated = 0;
        _cleanup_(profile_done) Profile prof = {};
        ProfileMeta meta = {};
        ProfileTarget target = {};

        opterr = 0;
        while ((ch = getopt_long(argc, argv, "+:hp:F:", options, NULL)) >= 0) {
                switch (ch) {
                case 'p':
                case ARG_PID:
                        if (parse_u64(optarg, &u) < 0 || u < 1 || u > INT32_MAX) {
                                fprintf(stderr, "joulectl: invalid --pid '%s': expected a process id\n", optarg);
                                return EXIT_USAGE;
                        }
                        c.pid = (uint32_t) u;
                        ntargets++;
                        break;
                case ARG_UNIT:
                        if (!*optarg || strchr(optarg, '/')) {
                                fprintf(stderr, "joulectl: invalid --unit '%s': expected a unit name, e.g. "
                                                "nginx.service\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        unit = optarg;
                        ntargets++;
                        break;
                case ARG_CGROUP:
                        if (!*optarg) {
                                fprintf(stderr, "joulectl: invalid --cgroup '': expected a cgroup v2 path\n");
                                return EXIT_USAGE;
                        }
                        cgroup_arg = optarg;
                        ntargets++;
                        break;
                case ARG_DURATION:
                        if (parse_double(optarg, &duration) < 0 || !(duration > 0) || duration > 86400 * 7) {
                                fprintf(stderr, "joulectl: invalid --duration '%s': expected seconds, a number > 0 "
                                                "(e.g. 10 or 2.5)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'F':
                case ARG_FREQ:
                        if (parse_u64(optarg, &u) < 0 || u < 1 || u > 10000) {
                                fprintf(stderr, "joulectl: invalid --frequency '%s': expected samples per second "
                                                "per CPU, 1 to 10000\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        c.frequency = (unsigned) u;
                        break;
                case ARG_FOLDED:
                        folded = optarg;
                        break;
                case ARG_SVG:
                        svg = optarg;
                        break;
                case ARG_JSON:
                        json = optarg;
                        break;
                case ARG_DIFF:
                        /* --diff BEFORE AFTER: two arguments, so the options may follow. */
                        if (optind >= argc || argv[optind][0] == '-') {
                                fprintf(stderr, "joulectl: --diff takes two folded files: --diff BEFORE.folded "
                                                "AFTER.folded\n");
                                return EXIT_USAGE;
                        }
                        diff_before = optarg;
                        diff_after = argv[optind++];
                        break;
                case ARG_EVENT:
                        event = profile_event_from_string(optarg);
                        if (event < 0) {
                                fprintf(stderr, "joulectl: invalid --event '%s': expected auto, cycles or cpu-clock\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_NORMALIZE:
                        normalize = true;
                        break;
                case 'h':
                        printf("Usage: joulectl profile [--pid PID|--unit UNIT|--cgroup PATH] [--duration S]\n"
                               "           [--frequency HZ] [--event auto|cycles|cpu-clock]\n"
                               "           [--folded FILE] [--svg FILE] [--json FILE] [-- CMD [ARGS...]]\n"
                               "       joulectl profile --diff BEFORE.folded AFTER.folded [--normalize]\n"
                               "           [--svg FILE] [--json FILE]\n"
                               "Energy flame graph: stack samples weighted by the target's dynamic energy.\n"
                               "Folded weights are integer micro-joules.\n");
                        return 0;
                default:
                        return cli_option_error(ch, argv, "profile",
                                                "--pid, --unit, --cgroup, --duration, --frequency, --event, "
                                                "--folded, --svg, --json, --diff, --normalize, then -- CMD");
                }
        }

        if (diff_before) {
                if (ntargets > 0 || optind < argc) {
                        fprintf(stderr, "joulectl: profile --diff BEFORE.folded AFTER.folded takes no target and no "
                                        "command (accepted with it: --svg, --json, --folded)\n");
                        return EXIT_USAGE;
                }
                if (g->parse_only)
                        return 0;
                return profile_diff(diff_before, diff_after, normalize, folded, svg, json);
        }
        if (optind < argc) {
                if (ntargets > 0) {
                        fprintf(stderr, "joulectl: profile takes one target: --pid, --unit, --cgroup or -- CMD\n");
                        return EXIT_USAGE;
                }
                c.cmd = argv + optind;
                if (!c.cmd[0][0]) {
                        fprintf(stderr, "joulectl: profile needs a command after --\n");
                        return EXIT_USAGE;
                }
        } else if (ntargets != 1) {
                if (ntargets == 0)
                        fprintf(stderr, "joulectl: profile needs a target: --pid PID, --unit UNIT, --cgroup PATH or "
                                        "-- CMD [ARGS...]\n");
                else
                        fprintf(stderr, "joulectl: profile takes one target: --pid, --unit, --cgroup or -- CMD\n");
                return EXIT_USAGE;
        }
        if (!c.cmd && duration == 0)
                duration = 10;
        if (g->parse_only)
                return 0;

        /* The target's cgroup. */
        if (!c.pid && cli_cgroup_mount(mnt, sizeof(mnt)) < 0) {
                fprintf(stderr, "joulectl: profile needs cgroup v2, and none is mounted\n");
                return 1;
        }
        if (unit) {
                r = cli_cgroup_find_unit(mnt, unit, c.cgroup, sizeof(c.cgroup));
                if (r < 0) {
                        fprintf(stderr, "joulectl: no cgroup for unit %s under %s\n", unit, mnt);
                        return 1;
                }
        } else if (cgroup_arg) {
                if (startswith(cgroup_arg, mnt))
                        strscpy(c.cgroup, sizeof(c.cgroup), cgroup_arg);
                else
                        snprintf(c.cgroup, sizeof(c.cgroup), "%s/%s", mnt,
                                 cgroup_arg[0] == '/' ? cgroup_arg + 1 : cgroup_arg);
        } else if (c.cmd) {
                char root[512], note[512];
                if (cli_cgroup_pick_root(root, sizeof(root), note, sizeof(note)) < 0) {
                        fprintf(stderr, "joulectl: profile -- CMD needs a cgroup of its own: %s\n", note);
                        return 1;
                }
                snprintf(c.cgroup, sizeof(c.cgroup), "%s/jouled-profile-%d", root, (int) getpid());
                if (mkdir(c.cgroup, 0755) < 0) {
                        fprintf(stderr, "joulectl: cannot create %s: %s\n", c.cgroup, strerror(errno));
                        return 1;
                }
                c.own_cgroup = true;
        }
        if (c.cgroup[0]) {
                r = cli_cgroup_id(mnt, c.cgroup, &target.cgroup_id, &target.cgroup_level);
                if (r < 0) {
                        fprintf(stderr, "joulectl: cannot use cgroup %s: %s\n", c.cgroup, strerror(-r));
                        ret = 1;
                        goto out;
                }
        } else {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%" PRIu32, c.pid);
                if (access(path, F_OK) < 0) {
                        fprintf(stderr, "joulectl: no process %" PRIu32 "\n", c.pid);
                        return 1;
                }
                target.tgid = c.pid;
        }

        c.weights = hashmap_new();
        if (!c.weights || symbolizer_new(NULL, NULL, &c.sym) < 0) {
                fprintf(stderr, "joulectl: out of memory\n");
                ret = 1;
                goto out;
        }
        r = profile_sampler_new(&target, c.frequency, event, on_event, &c, &c.sampler, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "joulectl: %s\n", err);
                ret = 1;
                goto out;
        }
        if (energy_open(&c) < 0) {
                ret = 1;
                goto out;
        }
        if (c.pid)
                (void) symbolizer_capture(c.sym, c.pid);

        sigemptyset(&sa.sa_mask);
        /* With a command, Ctrl-C goes to it (like time(1)) and we report; else it ends the profile. */
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGQUIT, &sa, &old_quit);

        energy_start(&c);
        t0 = now_ns(CLOCK_MONOTONIC);
        if (c.cmd) {
                int child_errno = 0;
                ssize_t n;
                r = start_command(&c, &errfd);
                if (r < 0) {
                        fprintf(stderr, "joulectl: cannot start '%s': %s\n", c.cmd[0], strerror(-r));
                        ret = 1;
                        goto restore;
                }
                n = read(errfd, &child_errno, sizeof(child_errno));
                close(errfd);
                if (n == sizeof(child_errno)) {
                        fprintf(stderr, "joulectl: cannot run '%s': %s\n", c.cmd[0],
                                child_errno == EPERM ? "cannot join its cgroup" : strerror(child_errno));
                        (void) waitpid(c.child, &status, 0);
                        ret = 127;
                        goto restore;
                }
        }

        next = t0 + PROFILE_INTERVAL_NS;
        for (;;) {
                uint64_t now = now_ns(CLOCK_MONOTONIC);
                bool alive = target_alive(&c, &status), over = duration > 0 && (double) (now - t0) / 1e9 >= duration;
                bool stop = !alive || over || (profile_stop && !c.cmd);

                if (now >= next || stop) {
                        double dt = (double) (now - (next - PROFILE_INTERVAL_NS)) / 1e9;
                        r = interval_end(&c, dt);
                        if (r < 0) {
                                fprintf(stderr, "joulectl: cannot read the samples: %s\n", strerror(-r));
                                ret = 1;
                                break;
                        }
                        next = now + PROFILE_INTERVAL_NS;
                }
                if (stop)
                        break;
                (void) profile_sampler_poll(c.sampler, 20);
        }
        for (size_t k = 0; k < c.n_groups; k++)
                c.unsampled_uj += c.carry_uj[k];
        if (c.child > 0) {
                /* --duration ended the profile: the command still runs to its end. */
                (void) waitpid(c.child, &status, 0);
                c.child = 0;
        }
        profile_sampler_stats(c.sampler, stats);

        if (ret == 0) {
                r = build_profile(&c, &prof, &truncated);
                if (r < 0) {
                        fprintf(stderr, "joulectl: cannot build the profile: %s\n", strerror(-r));
                        ret = 1;
                }
        }
        if (ret == 0) {
                double wall = (double) (now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
                char b1[64];
                meta.estimated = c.estimated;
                meta.samples = c.samples;
                meta.frequency = c.frequency;
                snprintf(meta.event, sizeof(meta.event), "%s", profile_sampler_event(c.sampler));
                snprintf(meta.sources, sizeof(meta.sources), "%s", c.source_names);
                meta.idle_host_uj = c.idle_host_uj;
                meta.idle_share_uj = c.idle_share_uj;
                meta.cpu_seconds = c.target_cpu_ns / 1e9;
                meta.wall_seconds = wall;
                for (int i = 0; i < _PROFILE_STAT_MAX; i++)
                        meta.stats[i] = stats[i];
                meta.truncated = truncated;
                if (c.cmd) {
                        size_t n = 0;
                        for (char **a = c.cmd; *a && n < sizeof(meta.title) - 1; a++) {
                                snprintf(meta.title + n, sizeof(meta.title) - n, "%s%s", n ? " " : "", *a);
                                n = strlen(meta.title);
                        }
                } else if (c.pid)
                        snprintf(meta.title, sizeof(meta.title), "pid %" PRIu32, c.pid);
                else
                        strscpy(meta.title, sizeof(meta.title), unit ?: c.cgroup);
                snprintf(meta.subtitle, sizeof(meta.subtitle), "%s%s, %" PRIu64 " samples at %u Hz (%s), %.1f s",
                         format_energy(profile_total_uj(&prof) / 1e6, false, b1, sizeof(b1)),
                         c.estimated ? " (estimated)" : "", c.samples, c.frequency, meta.event, wall);
                ret = write_outputs(&prof, NULL, folded, svg, json, &meta);
                print_summary(&c, &prof, stats, truncated, wall);
                fflush(stdout);
        }
        if (ret == 0 && !c.cmd && profile_stop == SIGINT)
                ret = 130;   /* the outputs are written; Ctrl-C still says so */
        else if (ret == 0 && c.cmd && WIFEXITED(status))
                ret = WEXITSTATUS(status);
        else if (ret == 0 && c.cmd && WIFSIGNALED(status))
                ret = 128 + WTERMSIG(status);

restore:
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
out:
        if (c.child > 0)
                (void) waitpid(c.child, &status, 0);
        if (c.own_cgroup && cli_cgroup_remove(c.cgroup) < 0)
                fprintf(stderr, "joulectl: cannot remove cgroup %s\n", c.cgroup);
        profile_sampler_free(c.sampler);
        symbolizer_free(c.sym);
        free_weights(c.weights);
        source_close_all(c.sources);
        topology_done(&c.topo);
        proc_stat_done(&c.st_prev);
        return ret;
}
