/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: sample the process tracker every N ms and print one JSON line
 * per sample with every delta and the tracker's stats.
 *
 *   tracker-dump [--mode bpf|procfs|auto] [--interval-ms N] [--count N] [--proc-root DIR]
 *                [--topology CPU:PKG,...] [--per-switch auto|on|off]
 *                [--accounting auto|iterator|per-switch] [--toggle-per-switch]
 *                [--ringbuf-bytes N]
 *
 * --toggle-per-switch enters per-switch counting before odd samples and
 * leaves it before even ones (tracker_force_per_switch()); each line then
 * also says whether that worked ("forced", an errno name or "ok") and how
 * many perf event fds the process holds ("perf_fds").
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "topology.h"
#include "tracker.h"
#include "util.h"

/* perf event fds this process holds (readlink says "anon_inode:[perf_event]"). */
static int count_perf_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char path[PATH_MAX], target[256];
                ssize_t k;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
                k = readlink(path, target, sizeof(target) - 1);
                if (k <= 0)
                        continue;
                target[k] = 0;
                if (strcmp(target, "anon_inode:[perf_event]") == 0)
                        n++;
        }
        closedir(d);
        return n;
}

static int parse_positive(const char *name, const char *s, uint64_t *ret) {
        if (parse_u64(s, ret) < 0 || *ret == 0) {
                fprintf(stderr, "tracker-dump: invalid %s '%s': expected a positive integer\n", name, s);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "mode", required_argument, NULL, 'm' },
                { "interval-ms", required_argument, NULL, 'i' },
                { "count", required_argument, NULL, 'c' },
                { "proc-root", required_argument, NULL, 'p' },
                { "debug", no_argument, NULL, 'd' },
                { "topology", required_argument, NULL, 't' },
                { "per-switch", required_argument, NULL, 's' },
                { "accounting", required_argument, NULL, 'a' },
                { "toggle-per-switch", no_argument, NULL, 'T' },
                { "ringbuf-bytes", required_argument, NULL, 'R' },
                {},
        };
        TrackerConfig cfg = { .force_mode = _TRACKER_MODE_INVALID };
        uint64_t interval_ms = 1000, count = 1;
        const char *topo_override = NULL;
        bool toggle = false;
        Topology topo = {};
        int *cpu_pkg = NULL;
        Tracker *t = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'm':
                        if (strcmp(optarg, "bpf") == 0)
                                cfg.force_mode = TRACKER_BPF;
                        else if (strcmp(optarg, "procfs") == 0)
                                cfg.force_mode = TRACKER_PROCFS;
                        else if (strcmp(optarg, "auto") == 0)
                                cfg.force_mode = _TRACKER_MODE_INVALID;
                        else {
                                fprintf(stderr, "tracker-dump: invalid --mode '%s': expected bpf, procfs or auto\n", optarg);
                                return 2;
                        }
                        break;
                case 'i':
                        if (parse_positive("--interval-ms", optarg, &interval_ms) < 0)
                                return 2;
                        break;
                case 'c':
                        if (parse_positive("--count", optarg, &count) < 0)
                                return 2;
                        break;
                case 'p':
                        cfg.proc_root = optarg;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 't':
                        topo_override = optarg;
                        break;
                case 's':
                        if (strcmp(optarg, "on") == 0)
                                cfg.per_switch = TRACKER_SWITCH_ON;
                        else if (strcmp(optarg, "off") == 0)
                                cfg.per_switch = TRACKER_SWITCH_OFF;
                        else if (strcmp(optarg, "auto") == 0)
                                cfg.per_switch = TRACKER_SWITCH_AUTO;
                        else {
                                fprintf(stderr, "tracker-dump: invalid --per-switch '%s': expected auto, on or off\n", optarg);
                                return 2;
                        }
                        break;
                case 'a':
                        cfg.accounting = tracker_accounting_from_string(optarg);
                        if (cfg.accounting < 0) {
                                fprintf(stderr, "tracker-dump: invalid --accounting '%s': expected auto, iterator or per-switch\n", optarg);
                                return 2;
                        }
                        break;
                case 'T':
                        toggle = true;
                        break;
                case 'R': {
                        uint64_t v;
                        if (parse_positive("--ringbuf-bytes", optarg, &v) < 0 || v > UINT32_MAX)
                                return 2;
                        cfg.ringbuf_bytes = (uint32_t) v;
                        break;
                }
                default:
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "tracker-dump: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        if (topology_read_full(NULL, topo_override, &topo) >= 0 && topo.n_cpus > 0) {
                size_t n = (size_t) topo.cpus[topo.n_cpus - 1].cpu + 1;
                cpu_pkg = calloc(n, sizeof(int));
                if (!cpu_pkg)
                        return 1;
                for (size_t i = 0; i < n; i++)
                        cpu_pkg[i] = -1;
                for (size_t i = 0; i < topo.n_cpus; i++)
                        for (size_t k = 0; k < topo.n_packages; k++)
                                if (topo.packages[k] == topo.cpus[i].package)
                                        cpu_pkg[topo.cpus[i].cpu] = (int) k;
                cfg.cpu_package = cpu_pkg;
                cfg.n_cpus = n;
        }
        topology_done(&topo);
        cfg.interval_ns = interval_ms * 1000000ULL;
        r = tracker_new(&cfg, &t);
        if (r < 0)
                return 1;
        printf("{\"mode\": \"%s\", \"per_package\": %s, \"basis\": \"%s\"}\n", tracker_mode_to_string(tracker_mode(t)),
               tracker_per_package(t) ? "true" : "false", attribution_basis_to_string(tracker_basis(t)));
        fflush(stdout);

        for (uint64_t i = 0; i < count; i++) {
                uint64_t due = now_ns(CLOCK_MONOTONIC) + interval_ms * 1000000ULL;
                ProcessDelta *d;
                size_t n;
                TrackerStats st;
                uint64_t t0, t1;
                json_object *o, *arr, *stats;

                /* As the daemon does: exit events are read when the ring
                 * buffer's fd says so, between samples, not only at them. */
                for (uint64_t now; (now = now_ns(CLOCK_MONOTONIC)) < due;) {
                        struct pollfd pfd = { .fd = tracker_get_fd(t), .events = POLLIN };
                        int ms = (int) ((due - now + 999999) / 1000000);
                        if (pfd.fd < 0) {
                                struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
                                nanosleep(&ts, NULL);
                                continue;
                        }
                        if (poll(&pfd, 1, ms) > 0)
                                (void) tracker_process_events(t);
                }
                int forced = 0;
                bool forced_state = false;
                if (toggle && i > 0) {
                        forced = tracker_force_per_switch(t, i % 2 == 1);
                        tracker_get_stats(t, &st);
                        forced_state = st.per_switch_mode;
                }
                t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
                r = tracker_sample(t, &d, &n);
                t1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
                if (r < 0) {
                        fprintf(stderr, "tracker-dump: sample failed: %s\n", strerror(-r));
                        tracker_free(t);
                        return 1;
                }
                tracker_get_stats(t, &st);

                o = json_object_new_object();
                arr = json_object_new_array();
                for (size_t k = 0; k < n; k++) {
                        const ProcessInfo *p = d[k].info;
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "pid", json_object_new_int64(p->pid));
                        json_object_object_add(e, "start_time_ns", json_object_new_uint64(p->start_time_ns));
                        json_object_object_add(e, "comm", json_object_new_string(p->comm));
                        json_object_object_add(e, "exe", p->exe ? json_object_new_string(p->exe) : NULL);
                        json_object_object_add(e, "unit", p->unit ? json_object_new_string(p->unit) : NULL);
                        json_object_object_add(e, "cgroup_path", p->cgroup_path ? json_object_new_string(p->cgroup_path) : NULL);
                        json_object_object_add(e, "slice", p->slice ? json_object_new_string(p->slice) : NULL);
                        json_object_object_add(e, "container_id", p->container_id ? json_object_new_string(p->container_id) : NULL);
                        json_object_object_add(e, "uid", json_object_new_int64(p->uid));
                        json_object_object_add(e, "ppid", json_object_new_int64(p->ppid));
                        json_object_object_add(e, "cpu_ns", json_object_new_uint64(d[k].cpu_ns));
                        json_object_object_add(e, "exited", json_object_new_boolean(p->exited));
                        json_object_object_add(e, "wakeups", json_object_new_uint64(d[k].wakeups));
                        json_object_object_add(e, "rss_bytes", json_object_new_uint64(d[k].rss_bytes));
                        json_object *pk = json_object_new_array();
                        for (size_t j = 0; j < PROCESS_MAX_PKGS; j++)
                                json_object_array_add(pk, json_object_new_uint64(d[k].pkg_cpu_ns[j]));
                        json_object_object_add(e, "pkg_cpu_ns", pk);
                        json_object_object_add(e, "kernel_thread", json_object_new_boolean(p->kernel_thread));
                        json_object_array_add(arr, e);
                }
                stats = json_object_new_object();
                json_object_object_add(stats, "processes_tracked", json_object_new_uint64(st.processes_tracked));
                json_object_object_add(stats, "exits_seen", json_object_new_uint64(st.exits_seen));
                json_object_object_add(stats, "exits_lost", json_object_new_uint64(st.exits_lost));
                json_object_object_add(stats, "exits_folded", json_object_new_uint64(st.exits_folded));
                json_object_object_add(stats, "vanished", json_object_new_uint64(st.vanished));
                json_object_object_add(stats, "iter_errors", json_object_new_uint64(st.iter_errors));
                json_object_object_add(stats, "exits_early_only", json_object_new_uint64(st.exits_early_only));
                json_object_object_add(stats, "sample_cpu_ns", json_object_new_uint64(t1 - t0));
                json_object_object_add(stats, "per_switch_mode", json_object_new_boolean(st.per_switch_mode));
                json_object_object_add(stats, "accounting_changes", json_object_new_uint64(st.accounting_changes));
                if (toggle) {
                        json_object_object_add(o, "forced", json_object_new_string(forced < 0 ? strerrorname_np(-forced) ?: "?" : "ok"));
                        json_object_object_add(o, "per_switch_after_force", json_object_new_boolean(forced_state));
                        json_object_object_add(o, "perf_fds", json_object_new_int(count_perf_fds()));
                }
                json_object_object_add(o, "sample", json_object_new_uint64(i));
                json_object_object_add(o, "deltas", arr);
                json_object_object_add(o, "stats", stats);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                fflush(stdout);
                json_object_put(o);
        }
        tracker_free(t);
        free(cpu_pkg);
        return 0;
}
