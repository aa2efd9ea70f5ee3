/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tracker core and its /proc back-end against a fixture /proc tree:
 * deltas, identity, disappearance, pid reuse, command lines, and the end of
 * a process (exit-time counters, free event, late free event). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tracker-backend.h"
#include "tracker.h"
#include "util.h"
#include "test-fixture.h"

#define PF_KTHREAD 0x00200000

typedef struct Fixture {
        char root[64];
        uint64_t ns_per_tick;
        uint64_t future_ticks;   /* a start time after the tracker started */
} Fixture;

static void proc_dir(const Fixture *fx, uint32_t pid, char *buf, size_t size) {
        snprintf(buf, size, "%s/%u", fx->root, pid);
}

/* Write proc_root/PID/{stat,status,cgroup,exe}. */
static void write_proc(const Fixture *fx, uint32_t pid, const char *comm, uint32_t ppid, uint64_t flags,
                       uint64_t utime, uint64_t stime, uint64_t start_ticks, uint32_t uid,
                       const char *cgroup, const char *exe) {
        char dir[256], buf[1024], link[512];

        proc_dir(fx, pid, dir, sizeof(dir));
        (void) mkdir(dir, 0755);
        snprintf(buf, sizeof(buf),
                 "%u (%s) S %u %u %u 0 -1 %llu 100 0 0 0 %llu %llu 0 0 20 0 1 0 %llu 1000000 100 "
                 "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
                 pid, comm, ppid, pid, pid, (unsigned long long) flags, (unsigned long long) utime,
                 (unsigned long long) stime, (unsigned long long) start_ticks);
        fx_write_in(dir, "stat", "%s", buf);
        snprintf(buf, sizeof(buf), "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%u\nPid:\t%u\nPPid:\t%u\n"
                 "Uid:\t%u\t%u\t%u\t%u\nGid:\t0\t0\t0\t0\n", comm, pid, pid, ppid, uid, uid, uid, uid);
        fx_write_in(dir, "status", "%s", buf);
        if (cgroup)
                fx_write_in(dir, "cgroup", "%s", cgroup);
        snprintf(link, sizeof(link), "%s/exe", dir);
        (void) unlink(link);
        if (exe)
                assert_int_equal(symlink(exe, link), 0);
}

static void remove_proc(const Fixture *fx, uint32_t pid) {
        static const char *const files[] = { "stat", "status", "cgroup", "exe", "cmdline" };
        char dir[256], path[512];

        proc_dir(fx, pid, dir, sizeof(dir));
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                (void) unlink(path);
        }
        assert_int_equal(rmdir(dir), 0);
}

static int setup(void **state) {
        Fixture *fx = calloc(1, sizeof(*fx));
        long tck = sysconf(_SC_CLK_TCK);

        assert_non_null(fx);
        strcpy(fx->root, "/tmp/test-tracker-procfs-XXXXXX");
        assert_non_null(mkdtemp(fx->root));
        fx->ns_per_tick = NSEC_PER_SEC / (uint64_t) (tck > 0 ? tck : 100);
        fx->future_ticks = now_ns(CLOCK_BOOTTIME) / fx->ns_per_tick + 100000;
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        Fixture *fx = *state;
        char cmd[128];

        /* the fixture root is ours alone (mkdtemp) */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
        assert_int_equal(system(cmd), 0);
        free(fx);
        return 0;
}

static Tracker *new_tracker(const Fixture *fx) {
        TrackerConfig cfg = { .proc_root = fx->root, .force_mode = TRACKER_PROCFS };
        Tracker *t = NULL;

        assert_int_equal(tracker_new(&cfg, &t), 0);
        assert_non_null(t);
        assert_int_equal(tracker_mode(t), TRACKER_PROCFS);
        assert_int_equal(tracker_get_fd(t), -1);
        assert_null(tracker_fallback_reason(t));
        return t;
}

static const ProcessDelta *find_delta(ProcessDelta *d, size_t n, uint32_t pid) {
        for (size_t i = 0; i < n; i++)
                if (d[i].info->pid == pid)
                        return &d[i];
        return NULL;
}

/* The delta of one process (pid and start time), NULL if it has none. */
static const ProcessDelta *find_process(ProcessDelta *d, size_t n, uint32_t pid, uint64_t start_time_ns) {
        for (size_t i = 0; i < n; i++)
                if (d[i].info->pid == pid && d[i].info->start_time_ns == start_time_ns)
                        return &d[i];
        return NULL;
}

/* The lifecycle tests run the /proc back-end on the fixture, and keep the
 * observer it was given: through it they report what the BPF back-end's
 * exit and free events would, as a back-end does. */
static TrackerObserver lifecycle_observer;
static TrackerBackendOps lifecycle_ops;

static int lifecycle_new(const TrackerBackendOptions *opts, TrackerBackend **ret, char **ret_reason) {
        lifecycle_observer = opts->observer;
        return tracker_procfs_ops.new(opts, ret, ret_reason);
}

static Tracker *new_lifecycle_tracker(const Fixture *fx) {
        TrackerConfig cfg = { .proc_root = fx->root };
        Tracker *t = NULL;

        lifecycle_ops = tracker_procfs_ops;
        lifecycle_ops.new = lifecycle_new;
        assert_int_equal(tracker_new_with_backend(&cfg, &lifecycle_ops, &t), 0);
        assert_non_null(t);
        assert_int_equal(tracker_mode(t), TRACKER_PROCFS);
        assert_non_null(lifecycle_observer.observe);
        return t;
}

/* Report a process's exit-time (TRACKER_EVENT_EXITING) or final
 * (TRACKER_EVENT_FREED) counters, in ns, all ours. */
static void report_end_exe(TrackerEvent event, uint32_t pid, uint64_t start_time_ns, uint64_t cpu_ns,
                           const char *comm, const char *exe) {
        TrackerObservation o = {
                .pid = pid,
                .ppid = 1,
                .uid = TRACKER_UID_UNKNOWN,
                .start_time_ns = start_time_ns,
                .cpu_ns = cpu_ns,
                .comm = comm,
                .exe = exe,
                .all_ours = true,
        };

        assert_int_equal(lifecycle_observer.observe(lifecycle_observer.userdata, event, &o), 0);
}

static void report_end(TrackerEvent event, uint32_t pid, uint64_t start_time_ns, uint64_t cpu_ns, const char *comm) {
        report_end_exe(event, pid, start_time_ns, cpu_ns, comm, NULL);
}

static void test_deltas(void **state) {
        Fixture *fx = *state;
        ProcessDelta *d;
        const ProcessDelta *x;
        ProcessInfo *p;
        TrackerStats st;
        size_t n;
        Tracker *t;

        write_proc(fx, 100, "a) b (c", 1, 0, 10, 5, 100, 1000, "0::/system.slice/foo.service\n", "/usr/bin/weird");
        write_proc(fx, 2, "kthreadd", 0, PF_KTHREAD, 3, 4, 1, 0, "0::/\n", NULL);
        t = new_tracker(fx);

        /* Nothing ran since the baseline. */
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);

        write_proc(fx, 100, "a) b (c", 1, 0, 30, 6, 100, 1000, "0::/system.slice/foo.service\n", "/usr/bin/weird");
        write_proc(fx, 2, "kthreadd", 0, PF_KTHREAD, 3, 9, 1, 0, "0::/\n", NULL);
        /* Started after the tracker: all its CPU time is new. */
        write_proc(fx, 500, "late", 100, 0, 7, 0, fx->future_ticks, 1001, "0::/user.slice/session-3.scope\n", "/bin/late");
        /* Started before the tracker, first seen now: baseline only. */
        write_proc(fx, 600, "old", 1, 0, 50, 50, 200, 0, "0::/init.scope\n", "/bin/old");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 3);

        x = find_delta(d, n, 100);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 21 * fx->ns_per_tick);
        assert_string_equal(x->info->comm, "a) b (c");
        assert_int_equal(x->info->ppid, 1);
        assert_int_equal(x->info->uid, 1000);
        assert_int_equal(x->info->start_time_ns, 100 * fx->ns_per_tick);
        assert_string_equal(x->info->unit, "foo.service");
        assert_string_equal(x->info->exe, "/usr/bin/weird");
        assert_false(x->info->kernel_thread);
        assert_false(x->info->exited);

        x = find_delta(d, n, 2);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 5 * fx->ns_per_tick);
        assert_true(x->info->kernel_thread);
        assert_null(x->info->exe);
        assert_null(x->info->unit);   /* root cgroup: no name */

        x = find_delta(d, n, 500);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 7 * fx->ns_per_tick);
        assert_string_equal(x->info->unit, "session-3.scope");
        assert_int_equal(x->info->uid, 1001);
        assert_int_equal(x->info->ppid, 100);

        assert_null(find_delta(d, n, 600));
        p = tracker_find(t, 600);
        assert_non_null(p);
        assert_string_equal(p->exe, "/bin/old");

        /* store_id set by the store survives samples. */
        p->store_id = 42;
        /* A counter that goes backwards gives nothing, and the larger baseline is kept. */
        write_proc(fx, 600, "old", 1, 0, 40, 50, 200, 0, "0::/init.scope\n", "/bin/old");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_null(find_delta(d, n, 600));
        write_proc(fx, 600, "old", 1, 0, 52, 50, 200, 0, "0::/init.scope\n", "/bin/old");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        x = find_delta(d, n, 600);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 2 * fx->ns_per_tick);
        assert_int_equal(x->info->store_id, 42);

        tracker_get_stats(t, &st);
        assert_int_equal(st.processes_tracked, 4);
        assert_int_equal(st.vanished, 0);
        assert_int_equal(st.exits_seen, 0);
        tracker_free(t);
}

static void test_disappear_and_pid_reuse(void **state) {
        Fixture *fx = *state;
        ProcessDelta *d;
        TrackerStats st;
        size_t n;
        Tracker *t;

        write_proc(fx, 300, "first", 1, 0, 50, 0, 300, 0, "0::/a.service\n", "/bin/first");
        write_proc(fx, 301, "gone", 1, 0, 1, 0, 300, 0, "0::/a.service\n", "/bin/gone");
        t = new_tracker(fx);
        assert_non_null(tracker_find(t, 301));

        /* 301 disappears. */
        remove_proc(fx, 301);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_null(tracker_find(t, 301));
        tracker_get_stats(t, &st);
        assert_int_equal(st.vanished, 1);
        assert_int_equal(st.processes_tracked, 1);

        /* 300 is reused by another process (other start time): a new entry,
         * whose CPU time is its own, not a delta against the old one's. */
        write_proc(fx, 300, "second", 1, 0, 3, 0, fx->future_ticks, 0, "0::/b.service\n", "/bin/second");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(d[0].info->pid, 300);
        assert_string_equal(d[0].info->comm, "second");
        assert_string_equal(d[0].info->exe, "/bin/second");
        assert_string_equal(d[0].info->unit, "b.service");
        assert_int_equal(d[0].info->start_time_ns, fx->future_ticks * fx->ns_per_tick);
        assert_int_equal(d[0].cpu_ns, 3 * fx->ns_per_tick);
        tracker_get_stats(t, &st);
        assert_int_equal(st.vanished, 2);
        assert_int_equal(st.processes_tracked, 1);
        tracker_free(t);
}

static void test_malformed(void **state) {
        Fixture *fx = *state;
        char dir[256];
        ProcessDelta *d;
        TrackerStats st;
        size_t n;
        Tracker *t;

        write_proc(fx, 400, "good", 1, 0, 1, 0, fx->future_ticks, 0, "0::/c.service\n", "/bin/good");
        write_proc(fx, 401, "bad", 1, 0, 1, 0, fx->future_ticks, 0, NULL, NULL);
        proc_dir(fx, 401, dir, sizeof(dir));
        fx_write_in(dir, "stat", "401 (bad R 1 2 3\n");
        write_proc(fx, 402, "short", 1, 0, 1, 0, fx->future_ticks, 0, NULL, NULL);
        proc_dir(fx, 402, dir, sizeof(dir));
        fx_write_in(dir, "stat", "402 (short) S 1 402 402 0 -1 0 100 0 0 0 notanumber 1\n");
        write_proc(fx, 403, "empty", 1, 0, 1, 0, fx->future_ticks, 0, NULL, NULL);
        proc_dir(fx, 403, dir, sizeof(dir));
        fx_write_in(dir, "stat", "%s", "");
        /* not a process directory */
        snprintf(dir, sizeof(dir), "%s/self-ish", fx->root);
        assert_int_equal(mkdir(dir, 0755), 0);

        t = new_tracker(fx);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        /* the good one was handed out at creation's baseline scan, started "later" */
        assert_int_equal(n, 1);
        assert_int_equal(d[0].info->pid, 400);
        assert_null(tracker_find(t, 401));
        assert_null(tracker_find(t, 402));
        assert_null(tracker_find(t, 403));
        tracker_get_stats(t, &st);
        assert_int_equal(st.processes_tracked, 1);
        assert_int_equal(st.iter_errors, 0);
        assert_int_equal(rmdir(dir), 0);
        tracker_free(t);
}

static void test_parse_stat(void **state) {
        char comm[PROCESS_COMM_MAX], st = 0;
        uint64_t flags, cpu, start;
        uint32_t ppid;

        assert_int_equal(tracker_procfs_parse_stat(
                "7 ((sd-pam)) S 6 7 7 0 -1 4194560 28 0 0 0 11 22 0 0 20 0 1 0 345 1 2 3\n",
                comm, &ppid, &flags, &cpu, &start, &st), 0);
        assert_string_equal(comm, "(sd-pam)");
        assert_int_equal(ppid, 6);
        assert_int_equal(flags, 4194560);
        assert_int_equal(cpu, 33);
        assert_int_equal(start, 345);
        assert_int_equal(st, 'S');

        /* a comm longer than 15 bytes is cut, not overflowing */
        assert_int_equal(tracker_procfs_parse_stat(
                "8 (0123456789abcdefghij) Z 1 0 0 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9\n",
                comm, &ppid, &flags, &cpu, &start, &st), 0);
        assert_string_equal(comm, "0123456789abcde");
        assert_int_equal(st, 'Z');

        assert_int_equal(tracker_procfs_parse_stat("", comm, &ppid, &flags, &cpu, &start, NULL), -EINVAL);
        assert_int_equal(tracker_procfs_parse_stat("1 (x) S 1 2", comm, &ppid, &flags, &cpu, &start, NULL), -EINVAL);
        assert_int_equal(tracker_procfs_parse_stat("1 )x( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19",
                                                   comm, &ppid, &flags, &cpu, &start, NULL), -EINVAL);
}

static void test_parse_cgroup(void **state) {
        char *u = NULL;

        assert_int_equal(tracker_procfs_parse_cgroup("0::/system.slice/foo.service\n", &u), 0);
        assert_string_equal(u, "foo.service");
        free(u);
        u = NULL;
        assert_int_equal(tracker_procfs_parse_cgroup("9:name=systemd:/x\n1:cpu:/y\n0::/user.slice/session-3.scope", &u), 0);
        assert_string_equal(u, "session-3.scope");
        free(u);
        u = NULL;
        assert_int_equal(tracker_procfs_parse_cgroup("0::/\n", &u), -ENOENT);
        assert_int_equal(tracker_procfs_parse_cgroup("1:cpu:/y\n", &u), -ENOENT);
        assert_int_equal(tracker_procfs_parse_cgroup("", &u), -ENOENT);
        assert_null(u);
}

static void test_bad_config(void **state) {
        TrackerConfig cfg = { .force_mode = TRACKER_PROCFS, .ringbuf_bytes = 12345 };
        Tracker *t = NULL;

        assert_int_equal(tracker_new(&cfg, &t), -EINVAL);
        assert_null(t);
        cfg = (TrackerConfig) { .force_mode = (TrackerMode) 7 };
        assert_int_equal(tracker_new(&cfg, &t), -EINVAL);
        cfg = (TrackerConfig) { .force_mode = TRACKER_PROCFS, .proc_root = "/nonexistent/proc" };
        assert_int_equal(tracker_new(&cfg, &t), -ENOENT);
        assert_string_equal(tracker_mode_to_string(TRACKER_BPF), "bpf");
        assert_string_equal(tracker_mode_to_string(TRACKER_PROCFS), "procfs");
        assert_null(tracker_mode_to_string(_TRACKER_MODE_INVALID));
}

/* Seen alive, then its exit-time counters, then its free event: each hands
 * out only what is new, the free event only what the exit-time counters
 * missed; the entry goes after it was handed out as exited. */
static void test_exit_then_free(void **state) {
        Fixture *fx = *state;
        uint64_t tick = fx->ns_per_tick, start = fx->future_ticks * fx->ns_per_tick;
        const ProcessDelta *x;
        ProcessDelta *d;
        TrackerStats st;
        size_t n;
        Tracker *t;

        write_proc(fx, 700, "worker", 1, 0, 10, 0, fx->future_ticks, 1000, "0::/system.slice/w.service\n", "/bin/worker");
        t = new_lifecycle_tracker(fx);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        x = find_process(d, n, 700, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 10 * tick);
        assert_false(x->info->exited);

        write_proc(fx, 700, "worker", 1, 0, 15, 0, fx->future_ticks, 1000, "0::/system.slice/w.service\n", "/bin/worker");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        x = find_process(d, n, 700, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 5 * tick);

        /* Its last thread exits: gone from /proc, its exit-time counters come. */
        remove_proc(fx, 700);
        report_end(TRACKER_EVENT_EXITING, 700, start, 18 * tick + 1234, "worker");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 1);
        x = find_process(d, n, 700, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 3 * tick + 1234);
        assert_int_equal(x->rss_bytes, 0);
        assert_false(x->info->exited);
        assert_string_equal(x->info->exe, "/bin/worker");
        assert_string_equal(x->info->unit, "w.service");
        tracker_get_stats(t, &st);
        assert_int_equal(st.exits_seen, 0);
        assert_int_equal(st.vanished, 0);

        /* A round with nothing new: the entry waits for its free event. */
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_non_null(tracker_find(t, 700));

        /* The free event: only what ran after the exit-time counters. */
        report_end(TRACKER_EVENT_FREED, 700, start, 18 * tick + 5000, "worker");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 1);
        x = find_process(d, n, 700, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 5000 - 1234);
        assert_true(x->info->exited);
        tracker_get_stats(t, &st);
        assert_int_equal(st.exits_seen, 1);
        assert_int_equal(st.exits_early_only, 0);
        assert_int_equal(st.processes_tracked, 0);

        /* Handed out as exited: gone at the next sample, and a repeated free
         * event counts nothing twice. */
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_null(tracker_find(t, 700));
        tracker_get_stats(t, &st);
        assert_int_equal(st.vanished, 0);
        tracker_free(t);
}

/* The kernel's exec file name (as exec was given it: a symlink, maybe
 * relative) comes with the exit event. It replaces the exe only when the
 * process exec'd since its exe was read from /proc (its comm changed): the
 * exe label does not change at exit. */
static void test_exe_at_exit(void **state) {
        Fixture *fx = *state;
        uint64_t start = fx->future_ticks * fx->ns_per_tick;
        const ProcessDelta *x;
        ProcessDelta *d;
        size_t n;
        Tracker *t;

        write_proc(fx, 710, "py", 1, 0, 10, 0, fx->future_ticks, 1000, "0::/\n", "/usr/bin/python3.11");
        write_proc(fx, 711, "sh", 1, 0, 10, 0, fx->future_ticks, 1000, "0::/\n", "/usr/bin/dash");
        t = new_lifecycle_tracker(fx);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 2);

        remove_proc(fx, 710);
        remove_proc(fx, 711);
        report_end_exe(TRACKER_EVENT_FREED, 710, start, 20 * fx->ns_per_tick, "py", "./py");
        report_end_exe(TRACKER_EVENT_FREED, 711, start, 20 * fx->ns_per_tick, "other", "bin/other");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        x = find_process(d, n, 710, start);
        assert_non_null(x);
        assert_string_equal(x->info->exe, "/usr/bin/python3.11");
        x = find_process(d, n, 711, start);
        assert_non_null(x);
        assert_string_equal(x->info->comm, "other");
        assert_string_equal(x->info->exe, "bin/other");
        tracker_free(t);
}

/* Exit-time counters and no free event: after a few rounds the process is
 * handed out as exited with them; a free event that comes later still adds
 * only what they missed, once. */
static void test_exit_without_free(void **state) {
        Fixture *fx = *state;
        uint64_t tick = fx->ns_per_tick, start = fx->future_ticks * fx->ns_per_tick;
        const ProcessDelta *x;
        ProcessDelta *d;
        TrackerStats st;
        size_t n, rounds;
        Tracker *t;

        write_proc(fx, 710, "orphan", 1, 0, 4, 0, fx->future_ticks, 0, "0::/a.service\n", "/bin/orphan");
        t = new_lifecycle_tracker(fx);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_non_null(find_process(d, n, 710, start));

        remove_proc(fx, 710);
        report_end(TRACKER_EVENT_EXITING, 710, start, 6 * tick, "orphan");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        x = find_process(d, n, 710, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 2 * tick);
        assert_false(x->info->exited);

        /* No free event: it stays exiting for a few rounds, then its end is
         * handed out, once, with nothing more. */
        for (rounds = 1; rounds < 100; rounds++) {
                assert_int_equal(tracker_sample(t, &d, &n), 0);
                if (n > 0)
                        break;
        }
        assert_true(rounds > 1);
        assert_true(rounds < 100);
        assert_int_equal(n, 1);
        x = find_process(d, n, 710, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 0);
        assert_true(x->info->exited);
        tracker_get_stats(t, &st);
        assert_int_equal(st.exits_early_only, 1);
        assert_int_equal(st.exits_seen, 0);
        assert_int_equal(st.processes_tracked, 0);
        assert_int_equal(st.vanished, 0);

        /* Not handed out again while its entry waits for a late free event. */
        for (size_t i = 0; i < 5; i++) {
                assert_int_equal(tracker_sample(t, &d, &n), 0);
                assert_int_equal(n, 0);
        }

        /* The exit-time counters again (a duplicate) change nothing. */
        report_end(TRACKER_EVENT_EXITING, 710, start, 7 * tick, "orphan");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);

        /* The free event, late: what the exit-time counters missed, not the whole. */
        report_end(TRACKER_EVENT_FREED, 710, start, 6 * tick + 777, "orphan");
        tracker_get_stats(t, &st);
        assert_int_equal(st.exits_early_only, 0);
        assert_int_equal(st.exits_seen, 1);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 1);
        x = find_process(d, n, 710, start);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 777);
        assert_true(x->info->exited);

        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_null(tracker_find(t, 710));
        tracker_free(t);
}

/* A pid reused by a process with another start time while the first one's
 * end is still coming: two entries, each with its own counters. */
static void test_end_with_pid_reuse(void **state) {
        Fixture *fx = *state;
        uint64_t tick = fx->ns_per_tick;
        uint64_t first = fx->future_ticks * tick, second = (fx->future_ticks + 50) * tick;
        const ProcessDelta *x;
        ProcessDelta *d;
        TrackerStats st;
        size_t n;
        Tracker *t;

        write_proc(fx, 730, "first", 1, 0, 4, 0, fx->future_ticks, 0, "0::/a.service\n", "/bin/first");
        t = new_lifecycle_tracker(fx);
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        x = find_process(d, n, 730, first);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 4 * tick);

        /* The first exits, and its pid goes to a new process before its free event. */
        report_end(TRACKER_EVENT_EXITING, 730, first, 6 * tick, "first");
        write_proc(fx, 730, "second", 1, 0, 2, 0, fx->future_ticks + 50, 0, "0::/b.service\n", "/bin/second");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 2);
        x = find_process(d, n, 730, first);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 2 * tick);
        assert_string_equal(x->info->comm, "first");
        assert_false(x->info->exited);
        x = find_process(d, n, 730, second);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 2 * tick);
        assert_string_equal(x->info->comm, "second");
        assert_string_equal(x->info->exe, "/bin/second");
        assert_string_equal(x->info->unit, "b.service");
        assert_int_equal(tracker_find(t, 730)->start_time_ns, second);

        /* The first one's free event reaches the first one only. */
        report_end(TRACKER_EVENT_FREED, 730, first, 6 * tick + 300, "first");
        write_proc(fx, 730, "second", 1, 0, 3, 0, fx->future_ticks + 50, 0, "0::/b.service\n", "/bin/second");
        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 2);
        x = find_process(d, n, 730, first);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 300);
        assert_true(x->info->exited);
        x = find_process(d, n, 730, second);
        assert_non_null(x);
        assert_int_equal(x->cpu_ns, 1 * tick);
        assert_false(x->info->exited);

        assert_int_equal(tracker_sample(t, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(tracker_find(t, 730)->start_time_ns, second);
        tracker_get_stats(t, &st);
        assert_int_equal(st.exits_seen, 1);
        assert_int_equal(st.vanished, 0);
        assert_int_equal(st.processes_tracked, 1);
        tracker_free(t);
}

/* The command line is read when a process is first seen alive, only when
 * asked for; kernel threads have none. */
static void test_cmdline(void **state) {
        Fixture *fx = *state;
        TrackerConfig cfg = { .proc_root = fx->root, .force_mode = TRACKER_PROCFS, .keep_cmdline = true };
        char dir[256];
        Tracker *t = NULL;
        ProcessInfo *p;

        write_proc(fx, 800, "sh", 1, 0, 1, 0, 100, 0, "0::/a.service\n", "/bin/sh");
        proc_dir(fx, 800, dir, sizeof(dir));
        fx_write_in(dir, "cmdline", "sh%c-c%cecho hi%c", 0, 0, 0);
        write_proc(fx, 801, "kworker/0:1", 2, PF_KTHREAD, 1, 0, 100, 0, "0::/\n", NULL);
        proc_dir(fx, 801, dir, sizeof(dir));
        fx_write_in(dir, "cmdline", "%s", "");

        assert_int_equal(tracker_new(&cfg, &t), 0);
        p = tracker_find(t, 800);
        assert_non_null(p);
        assert_string_equal(p->cmdline, "sh -c echo hi");
        p = tracker_find(t, 801);
        assert_non_null(p);
        assert_null(p->cmdline);

        /* Read once: a later change is not followed. */
        proc_dir(fx, 800, dir, sizeof(dir));
        fx_write_in(dir, "cmdline", "other%c", 0);
        write_proc(fx, 800, "sh", 1, 0, 2, 0, 100, 0, "0::/a.service\n", "/bin/sh");
        assert_int_equal(tracker_sample(t, &(ProcessDelta *) { NULL }, &(size_t) { 0 }), 0);
        assert_string_equal(tracker_find(t, 800)->cmdline, "sh -c echo hi");
        tracker_free(t);

        cfg.keep_cmdline = false;
        assert_int_equal(tracker_new(&cfg, &t), 0);
        p = tracker_find(t, 800);
        assert_non_null(p);
        assert_null(p->cmdline);
        assert_null(p->slice);
        assert_null(p->container_id);
        tracker_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_deltas, setup, teardown),
                cmocka_unit_test_setup_teardown(test_disappear_and_pid_reuse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
                cmocka_unit_test(test_parse_stat),
                cmocka_unit_test(test_parse_cgroup),
                cmocka_unit_test(test_bad_config),
                cmocka_unit_test_setup_teardown(test_exe_at_exit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_then_free, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_without_free, setup, teardown),
                cmocka_unit_test_setup_teardown(test_end_with_pid_reuse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
