/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The process table shared by both tracker back-ends: identity
 * (pid, start time) → ProcessInfo, per-interval CPU deltas, exits. */
#include "tracker.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "hashmap.h"
#include "log.h"
#include "procfs.h"
#include "../../bpf/tracker.h"
#include "tracker-internal.h"
#include "util.h"

/* An exited process whose free event has not come after this many rounds
 * (and that is no zombie) is finished with its exit-time counters. */
#define TRACKER_EXITING_ROUNDS_MAX 4
/* ...but its entry stays (hidden) this many more rounds, so that a free
 * event that comes late adds only what the exit-time counters missed,
 * instead of being taken for a new process and counted in full again. */
#define TRACKER_LATE_FREE_ROUNDS_MAX 600
/* BPF: only processes that ran are reported, so an entry not seen for this
 * many rounds is looked up in /proc, and dropped if gone (its exit event
 * never came). */
#define TRACKER_LIVENESS_ROUNDS 30
/* Accounting mode choice (BPF, auto): the cost of one task in the iterator
 * and of one context switch in the switch program, measured with
 * kernel.bpf_stats_enabled on the development VM (bench/switch/run.sh: ns per
 * run of tracker_iter and tracker_activity). */
#define TRACKER_ITER_NS_PER_TASK 1100
#define TRACKER_SWITCH_NS 600
/* Rounds in a row with few enough switches before going per-switch; more
 * after a busy notice sent us back, so that bursts do not make it flap. */
#define TRACKER_QUIET_ROUNDS 3
#define TRACKER_QUIET_ROUNDS_AFTER_BUSY 20

typedef struct TrackerEntry {
        ProcessInfo info;       /* first member: a ProcessInfo* is a TrackerEntry* */
        uint64_t pending_ns;    /* CPU time not yet handed out */
        uint64_t pending_wakeups, pending_cycles;
        uint64_t pending_pkg[PROCESS_MAX_PKGS];
        unsigned missed;        /* rounds not seen while not exited */
        bool exiting;           /* exit-time counters seen, the free event not yet */
        bool early_done;        /* exiting, no free event in time: its exit-time counters stood
                                 * (handed out as exited; the entry stays a while, for a late free event) */
        bool announced;         /* handed out as exited */
        bool reported;          /* exited and handed out: freed at the next sample */
} TrackerEntry;

struct Tracker {
        TrackerMode mode;
        char *fallback_reason;
        char *proc_root;
        uint64_t start_boottime_ns;
        uint64_t generation;
        int accounting;         /* TRACKER_ACCOUNTING_* asked for */
        uint64_t interval_ns;
        unsigned quiet_rounds, quiet_needed;
        long n_online_cpus;     /* at start (sysconf reads sysfs: not once per round) */
        uint64_t last_ctxt, last_ctxt_ns;   /* /proc/stat ctxt and when it was read (0: not yet) */
        bool host_stat_given;               /* tracker_set_host_stat() was called: read no /proc/stat here */
        bool have_host_ctxt;
        uint64_t host_ctxt;
        Hashmap *table;         /* (pid, start_time_ns) → TrackerEntry */
        Hashmap *by_pid;        /* (pid, 0) → newest TrackerEntry with that pid */
        Hashmap *cgroups;       /* (cgroup id, 0) → its path (char *), a cache */
        int cgroup_fd;          /* the cgroup v2 mount, for open_by_handle_at(); -1 if not open */
        char *cgroup_mount;     /* its mount point ("/sys/fs/cgroup", or ".../unified" on hybrid hosts) */
        TrackerBpf *bpf;
        ProcessDelta *out;
        size_t out_alloc;
        TrackerStats stats;
};

static HashKey entry_key(const ProcessInfo *p) {
        return (HashKey) { .a = p->pid, .b = p->start_time_ns };
}

static HashKey pid_key(uint32_t pid) {
        return (HashKey) { .a = pid, .b = 0 };
}

static void entry_free(TrackerEntry *e) {
        if (!e)
                return;
        free(e->info.exe);
        free(e->info.unit);
        free(e->info.cgroup_path);
        free(e);
}

/* A cgroup v2 id (its kernfs node id) → its path, through a file handle on
 * the cgroup mount: works after the process is gone, as long as the cgroup
 * is. Cached; NULL when unknown. */
#define CGROUP_CACHE_MAX 8192
static const char *cgroup_path_of(Tracker *t, uint64_t id) {
        union {
                struct file_handle fh;
                uint8_t space[sizeof(struct file_handle) + sizeof(uint64_t)];
        } h = {};
        char link[64], buf[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;
        char *path;
        ssize_t n;

        if (id == 0 || !t->cgroups)
                return NULL;
        path = hashmap_get(t->cgroups, (HashKey) { .a = id });
        if (path)
                return path;
        if (t->cgroup_fd < 0)
                return NULL;
        h.fh.handle_bytes = sizeof(uint64_t);
        h.fh.handle_type = 0xfe;   /* FILEID_KERNFS */
        memcpy(h.fh.f_handle, &id, sizeof(id));
        fd = open_by_handle_at(t->cgroup_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, buf, sizeof(buf) - 1);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        /* The link names the mount's own path: keep what is below it. */
        size_t ml = t->cgroup_mount ? strlen(t->cgroup_mount) : 0;
        const char *rel = buf + (ml > 0 && strncmp(buf, t->cgroup_mount, ml) == 0 ? ml : 0);
        path = strdup(*rel ? rel : "/");
        if (!path)
                return NULL;
        if (hashmap_size(t->cgroups) >= CGROUP_CACHE_MAX) {
                size_t state = 0;
                void *v;
                HashKey k;
                while (hashmap_iterate(t->cgroups, &state, &k, &v)) {
                        hashmap_remove(t->cgroups, k);
                        free(v);
                        state = 0;
                }
        }
        if (hashmap_put(t->cgroups, (HashKey) { .a = id }, path) < 0) {
                free(path);
                return NULL;
        }
        return path;
}

/* The cgroup v2 mount point, from /proc/self/mounts; NULL if none. */
static char *cgroup2_mount(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mounts", "re");
        char line[4096];

        if (!f)
                return NULL;
        while (fgets(line, sizeof(line), f)) {
                char dev[256], dir[2048], type[64];
                if (sscanf(line, "%255s %2047s %63s", dev, dir, type) == 3 && strcmp(type, "cgroup2") == 0)
                        return strdup(dir);
        }
        return NULL;
}

static void entry_set_cgroup(Tracker *t, TrackerEntry *e) {
        const char *path = cgroup_path_of(t, e->info.cgroup_id);

        if (path && !streq_ptr(path, e->info.cgroup_path)) {
                char *n = strdup(path);
                if (n) {
                        free(e->info.cgroup_path);
                        e->info.cgroup_path = n;
                }
        }
}

/* Unlink from both maps and free. */
static void entry_drop(Tracker *t, TrackerEntry *e) {
        hashmap_remove(t->table, entry_key(&e->info));
        if (hashmap_get(t->by_pid, pid_key(e->info.pid)) == e)
                hashmap_remove(t->by_pid, pid_key(e->info.pid));
        entry_free(e);
}

static int set_str(char **dst, const char *src) {
        char *n;

        if (streq_ptr(*dst, src))
                return 0;
        if (src) {
                n = strdup(src);
                if (!n)
                        return -ENOMEM;
        } else
                n = NULL;
        free(*dst);
        *dst = n;
        return 0;
}

const char *tracker_proc_root(const Tracker *t) {
        return t->proc_root;
}

char *tracker_read_exe(const Tracker *t, uint32_t pid) {
        char path[PATH_MAX], buf[PATH_MAX];
        ssize_t n;

        if ((size_t) snprintf(path, sizeof(path), "%s/%u/exe", t->proc_root, pid) >= sizeof(path))
                return NULL;
        n = readlink(path, buf, sizeof(buf) - 1);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}

/* Cumulative counters only go up: a smaller reading (a thread released while
 * we read) waits until it is passed. A new entry's counters are a baseline,
 * unless the process started after we did (then all of it is ours). */
static void entry_count(Tracker *t, TrackerEntry *e, const TrackerObservation *o, bool is_new) {
        bool ours = !is_new || o->all_ours || o->start_time_ns > t->start_boottime_ns;
        ProcessInfo *p = &e->info;

#define COUNT(total, pending, value)                                    \
        do {                                                            \
                if (is_new) {                                           \
                        (total) = (value);                              \
                        if (ours)                                       \
                                (pending) = (value);                    \
                } else if ((value) > (total)) {                         \
                        (pending) += (value) - (total);                 \
                        (total) = (value);                              \
                }                                                       \
        } while (0)
        COUNT(p->cpu_ns_total, e->pending_ns, o->cpu_ns);
        COUNT(p->nvcsw_total, e->pending_wakeups, o->nvcsw);
        COUNT(p->cycles_total, e->pending_cycles, o->cycles);
        for (size_t k = 0; k < PROCESS_MAX_PKGS; k++)
                COUNT(p->pkg_ns_total[k], e->pending_pkg[k], o->pkg_ns[k]);
#undef COUNT
}

static TrackerEntry *entry_new(Tracker *t, const TrackerObservation *o) {
        _cleanup_free_ TrackerEntry *e = NULL;
        TrackerEntry *old;

        e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->info.pid = o->pid;
        e->info.ppid = o->ppid;
        e->info.uid = o->uid;
        e->info.start_time_ns = o->start_time_ns;
        e->info.cgroup_id = o->cgroup_id;
        e->info.kernel_thread = o->kernel_thread;
        strscpy(e->info.comm, sizeof(e->info.comm), o->comm ?: "");
        if (o->unit && *o->unit && set_str(&e->info.unit, o->unit) < 0)
                return NULL;
        if (o->exe && *o->exe && set_str(&e->info.exe, o->exe) < 0) {
                free(e->info.unit);
                return NULL;
        }
        if (hashmap_put(t->table, entry_key(&e->info), e) < 0) {
                free(e->info.unit);
                free(e->info.exe);
                return NULL;
        }
        entry_set_cgroup(t, e);
        old = hashmap_get(t->by_pid, pid_key(o->pid));
        if (old)
                hashmap_remove(t->by_pid, pid_key(o->pid));
        if (hashmap_put(t->by_pid, pid_key(o->pid), e) < 0) {
                hashmap_remove(t->table, entry_key(&e->info));
                free(e->info.unit);
                free(e->info.exe);
                return NULL;
        }
        return TAKE_PTR(e);
}

ProcessInfo *tracker_observe_live(Tracker *t, const TrackerObservation *o, bool *ret_new) {
        TrackerEntry *e;

        e = hashmap_get(t->table, (HashKey) { .a = o->pid, .b = o->start_time_ns });
        if (!e) {
                e = entry_new(t, o);
                if (!e)
                        return NULL;
                /* CPU time from before we started measuring is not ours to attribute. */
                entry_count(t, e, o, true);
                e->info.rss_bytes = o->rss_bytes;
                e->info.generation = t->generation;
                if (ret_new)
                        *ret_new = true;
                return &e->info;
        }
        if (ret_new)
                *ret_new = false;
        if (e->info.exited)
                return &e->info;   /* cannot happen (the iterator skips dead groups); ignore */

        /* Counters can go backwards when a thread is released while we read:
         * keep the larger baseline and wait until it is passed. */
        entry_count(t, e, o, false);
        e->info.rss_bytes = o->rss_bytes;
        e->info.generation = t->generation;
        e->missed = 0;
        e->info.ppid = o->ppid;
        if (o->uid != TRACKER_UID_UNKNOWN)
                e->info.uid = o->uid;
        if (o->cgroup_id && o->cgroup_id != e->info.cgroup_id) {
                e->info.cgroup_id = o->cgroup_id;
                entry_set_cgroup(t, e);
        }
        if (o->unit && *o->unit && set_str(&e->info.unit, o->unit) < 0)
                return NULL;
        if (o->comm && strncmp(o->comm, e->info.comm, sizeof(e->info.comm) - 1) != 0) {
                /* exec'd something else: the exe changed too */
                strscpy(e->info.comm, sizeof(e->info.comm), o->comm);
                if (!e->info.kernel_thread) {
                        free(e->info.exe);
                        e->info.exe = tracker_read_exe(t, o->pid);
                }
        }
        return &e->info;
}

int tracker_observe_counters(Tracker *t, uint32_t pid, uint64_t start_time_ns, uint64_t cpu_ns, uint64_t nvcsw,
                             uint64_t rss_bytes) {
        TrackerEntry *e = hashmap_get(t->table, (HashKey) { .a = pid, .b = start_time_ns });
        TrackerObservation o = { .pid = pid, .start_time_ns = start_time_ns, .cpu_ns = cpu_ns, .nvcsw = nvcsw };

        if (!e)
                return 0;
        if (e->info.exited)
                return 1;
        /* Keep what only the package-split program counts. */
        o.cycles = e->info.cycles_total;
        memcpy(o.pkg_ns, e->info.pkg_ns_total, sizeof(o.pkg_ns));
        entry_count(t, e, &o, false);
        if (!e->exiting)
                e->info.rss_bytes = rss_bytes;
        e->info.generation = t->generation;
        e->missed = 0;
        return 1;
}

static int observe_end(Tracker *t, const TrackerObservation *o, bool final) {
        TrackerEntry *e;

        e = hashmap_get(t->table, (HashKey) { .a = o->pid, .b = o->start_time_ns });
        if (!e) {
                e = entry_new(t, o);
                if (!e)
                        return -ENOMEM;
                entry_count(t, e, o, true);
        } else {
                if (e->early_done) {
                        if (!final)
                                return 0;
                        /* The free event came after all, late: what the exit-time
                         * counters missed is handed out, then the entry goes. */
                        e->early_done = false;
                        e->announced = false;
                        if (t->stats.exits_early_only > 0)
                                t->stats.exits_early_only--;
                } else if (e->info.exited)
                        return 0;
                entry_count(t, e, o, false);
                /* The exec file name from the kernel is the newest. */
                if (o->exe && *o->exe && set_str(&e->info.exe, o->exe) < 0)
                        return -ENOMEM;
                if (o->comm && *o->comm)
                        strscpy(e->info.comm, sizeof(e->info.comm), o->comm);
        }
        e->info.rss_bytes = 0;
        if (final)
                e->info.exited = true;
        else {
                e->exiting = true;
                e->missed = 0;
        }
        return 0;
}

int tracker_observe_exit(Tracker *t, const TrackerObservation *o) {
        t->stats.exits_seen++;
        return observe_end(t, o, true);
}

int tracker_observe_exiting(Tracker *t, const TrackerObservation *o) {
        return observe_end(t, o, false);
}

/* Leave per-switch mode (a busy notice, or asked); the task walk takes over
 * at the next round and counts everything since. */
static void leave_per_switch(Tracker *t, bool busy) {
        if (!tracker_bpf_in_per_switch(t->bpf))
                return;
        (void) tracker_bpf_set_per_switch(t->bpf, false, 0);
        t->stats.accounting_changes++;
        t->quiet_rounds = 0;
        t->quiet_needed = busy ? TRACKER_QUIET_ROUNDS_AFTER_BUSY : TRACKER_QUIET_ROUNDS;
        t->last_ctxt_ns = 0;
        log_debug("Process tracker: context switches %s: walking tasks every interval.", busy ? "too frequent" : "");
}

static int tracker_consume(Tracker *t) {
        int r;

        if (t->mode != TRACKER_BPF)
                return 0;
        r = tracker_bpf_consume(t->bpf, t);
        if (tracker_bpf_take_busy(t->bpf) && t->accounting == TRACKER_ACCOUNTING_AUTO)
                leave_per_switch(t, true);
        return r;
}

void tracker_set_host_stat(Tracker *t, const ProcStat *st) {
        assert(t);
        t->host_stat_given = true;
        t->have_host_ctxt = st && st->have_ctxt;
        t->host_ctxt = st ? st->ctxt : 0;
}

/* Total tasks (threads) from /proc/loadavg, and context switches since boot
 * from /proc/stat's ctxt line (the caller's, when it passed one on). */
static int read_sched_counts(Tracker *t, uint64_t *ret_tasks, uint64_t *ret_ctxt) {
        _cleanup_(proc_stat_done) ProcStat st = {};
        int r;

        r = procfs_read_tasks(t->proc_root, ret_tasks);
        if (r < 0 || !ret_ctxt)
                return r;
        if (t->host_stat_given) {
                if (!t->have_host_ctxt)
                        return -ENODATA;
                *ret_ctxt = t->host_ctxt;
                return 0;
        }
        r = procfs_read_stat(t->proc_root, &st);
        if (r < 0)
                return r;
        if (!st.have_ctxt)
                return -EBADMSG;
        *ret_ctxt = st.ctxt;
        return 0;
}

/* Switches per second below which counting at each switch costs less than
 * walking `tasks` tasks once per interval. */
static double switch_budget(const Tracker *t, uint64_t tasks) {
        double interval_s = (double) t->interval_ns / 1e9;
        return (double) tasks * TRACKER_ITER_NS_PER_TASK / TRACKER_SWITCH_NS / interval_s;
}

/* The switch program's threshold: TRACKER_BUSY_SWITCHES switches on one CPU
 * faster than the whole budget spread over the CPUs. */
static uint64_t busy_window(const Tracker *t, double budget) {
        return (uint64_t) ((double) TRACKER_BUSY_SWITCHES * 1e9 * (double) t->n_online_cpus / MAX(budget, 1.0));
}

/* After each BPF round: pick per-switch counting or the task walk for the
 * next rounds (see TrackerConfig.accounting). */
static void tracker_choose_accounting(Tracker *t) {
        uint64_t tasks = 0, ctxt = 0, now;
        double budget;
        int r;

        if (t->accounting == TRACKER_ACCOUNTING_ITERATOR || !tracker_bpf_per_switch_possible(t->bpf))
                return;
        if (tracker_bpf_in_per_switch(t->bpf)) {
                /* Keep the threshold in step with the number of tasks. */
                if (read_sched_counts(t, &tasks, NULL) >= 0)
                        (void) tracker_bpf_set_per_switch(t->bpf, true, busy_window(t, switch_budget(t, tasks)));
                return;
        }
        r = read_sched_counts(t, &tasks, &ctxt);
        if (r < 0)
                return;
        budget = switch_budget(t, tasks);
        now = now_ns(CLOCK_MONOTONIC);
        if (t->accounting == TRACKER_ACCOUNTING_AUTO) {
                bool quiet = false;
                if (t->last_ctxt_ns > 0 && now > t->last_ctxt_ns && ctxt >= t->last_ctxt) {
                        double rate = (double) (ctxt - t->last_ctxt) * 1e9 / (double) (now - t->last_ctxt_ns);
                        quiet = rate < budget / 2;
                }
                t->last_ctxt = ctxt;
                t->last_ctxt_ns = now;
                t->quiet_rounds = quiet ? t->quiet_rounds + 1 : 0;
                if (t->quiet_rounds < t->quiet_needed)
                        return;
        }
        r = tracker_bpf_set_per_switch(t->bpf, true, busy_window(t, budget));
        if (r < 0) {
                log_debug_errno(r, "Process tracker: cannot count at context switches (%m): walking tasks.");
                t->accounting = TRACKER_ACCOUNTING_ITERATOR;
                return;
        }
        t->stats.accounting_changes++;
        t->quiet_needed = TRACKER_QUIET_ROUNDS;
        t->n_online_cpus = MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
        log_debug("Process tracker: context switches are rare: counting at each switch.");
}

static int tracker_scan(Tracker *t) {
        int r;

        t->generation++;
        if (t->mode == TRACKER_BPF) {
                /* Per-switch mode: the groups that ran are in the map. The walk
                 * runs otherwise, and when the map overflowed. */
                r = tracker_bpf_drain_active(t->bpf, t);
                if (r >= 0 && (!tracker_bpf_in_per_switch(t->bpf) || tracker_bpf_take_full(t->bpf)))
                        r = tracker_bpf_scan(t->bpf, t);
                if (r >= 0)
                        tracker_choose_accounting(t);
        } else
                r = tracker_procfs_scan(t);
        if (r < 0)
                t->stats.iter_errors++;
        return r;
}

typedef enum EntryState {
        ENTRY_GONE,
        ENTRY_ALIVE,
        ENTRY_ZOMBIE,   /* exited, not reaped yet: its free event comes when it is */
} EntryState;

/* Whether the process of an entry not seen lately is still there, from
 * /proc/PID/stat: same pid and a start time within a tick of ours. */
static EntryState entry_state(Tracker *t, const TrackerEntry *e) {
        char path[PATH_MAX], comm[PROCESS_COMM_MAX], state = 0;
        _cleanup_free_ char *buf = NULL;
        uint64_t flags, cpu, start, ours;
        uint32_t ppid;
        long tck = sysconf(_SC_CLK_TCK);

        if ((size_t) snprintf(path, sizeof(path), "%s/%u/stat", t->proc_root, e->info.pid) >= sizeof(path))
                return ENTRY_GONE;
        if (read_small_file(path, 4096, &buf) < 0)
                return ENTRY_GONE;
        if (tracker_procfs_parse_stat(buf, comm, &ppid, &flags, &cpu, &start, &state) < 0)
                return ENTRY_GONE;
        if (tck <= 0)
                tck = 100;
        ours = e->info.start_time_ns / (NSEC_PER_SEC / (uint64_t) tck);
        if (start + 1 < ours || start > ours + 1)
                return ENTRY_GONE;   /* the pid was reused */
        return state == 'Z' || state == 'X' ? ENTRY_ZOMBIE : ENTRY_ALIVE;
}

static void tracker_sweep(Tracker *t) {
        size_t state = 0;
        void *v;

        while (hashmap_iterate(t->table, &state, NULL, &v)) {
                TrackerEntry *e = v;

                if (e->early_done) {
                        if (++e->missed >= TRACKER_EXITING_ROUNDS_MAX + TRACKER_LATE_FREE_ROUNDS_MAX)
                                entry_drop(t, e);
                        continue;
                }
                if (e->info.exited || e->info.generation == t->generation)
                        continue;
                if (e->exiting) {
                        /* Its exit-time counters are in. The free event comes once
                         * the parent reaped it; if it never does (a zombie is still
                         * waited for), those counters are the final ones. */
                        if (entry_state(t, e) == ENTRY_ZOMBIE || ++e->missed < TRACKER_EXITING_ROUNDS_MAX)
                                continue;
                        t->stats.exits_early_only++;
                        e->early_done = true;
                        e->info.exited = true;   /* its end is handed out now */
                        continue;
                }
                if (t->mode == TRACKER_BPF) {
                        /* Only what ran is reported: not seen means idle, most
                         * likely. Every TRACKER_LIVENESS_ROUNDS, ask /proc. */
                        if (++e->missed % TRACKER_LIVENESS_ROUNDS != 0)
                                continue;
                        if (entry_state(t, e) != ENTRY_GONE)
                                continue;
                }
                t->stats.vanished++;
                entry_drop(t, e);
        }
}

/* Processes that exited without exec carry their parent's exe. */
static void tracker_inherit_exe(Tracker *t, TrackerEntry *e) {
        TrackerEntry *parent;

        if (e->info.exe || e->info.kernel_thread || e->info.ppid == 0)
                return;
        parent = hashmap_get(t->by_pid, pid_key(e->info.ppid));
        if (!parent || !parent->info.exe || parent->info.start_time_ns > e->info.start_time_ns)
                return;
        e->info.exe = strdup(parent->info.exe);
}

int tracker_sample(Tracker *t, ProcessDelta **ret, size_t *ret_n) {
        size_t state = 0, n = 0, size;
        void *v;
        int r;

        /* Exited entries handed out last time go now. */
        while (hashmap_iterate(t->table, &state, NULL, &v)) {
                TrackerEntry *e = v;
                if (e->reported)
                        entry_drop(t, e);
        }

        r = tracker_consume(t);
        if (r < 0)
                log_debug_errno(r, "Failed to consume exit events, ignoring: %m");
        r = tracker_scan(t);
        if (r < 0)
                return r;
        /* Exits that came during the walk: a process seen alive by it may be
         * gone already, and its exit event says what it ran (and its exe). */
        r = tracker_consume(t);
        if (r < 0)
                log_debug_errno(r, "Failed to consume exit events, ignoring: %m");
        tracker_sweep(t);

        size = hashmap_size(t->table);
        if (size > t->out_alloc) {
                size_t a = MAX(size * 2, (size_t) 64);
                ProcessDelta *o = realloc(t->out, a * sizeof(*o));
                if (!o)
                        return -ENOMEM;
                t->out = o;
                t->out_alloc = a;
        }

        state = 0;
        while (hashmap_iterate(t->table, &state, NULL, &v)) {
                TrackerEntry *e = v;

                if (e->info.exited || e->exiting)
                        tracker_inherit_exe(t, e);
                else if (!e->info.exe && !e->info.kernel_thread && (e->pending_ns || e->pending_wakeups))
                        e->info.exe = tracker_read_exe(t, e->info.pid);   /* it was not readable when first seen */
                if (e->info.exited && !e->early_done)
                        e->reported = true;
                /* An exited process comes once more, with what is left (maybe
                 * nothing): its end is news too. */
                if (e->pending_ns == 0 && e->pending_wakeups == 0 && (!e->info.exited || e->announced))
                        continue;
                if (e->info.exited)
                        e->announced = true;
                ProcessDelta *d = &t->out[n++];
                *d = (ProcessDelta) {
                        .info = &e->info,
                        .cpu_ns = e->pending_ns,
                        .wakeups = e->pending_wakeups,
                        .cycles = e->pending_cycles,
                        .rss_bytes = e->info.exited ? 0 : e->info.rss_bytes,
                };
                memcpy(d->pkg_cpu_ns, e->pending_pkg, sizeof(d->pkg_cpu_ns));
                e->pending_ns = e->pending_wakeups = e->pending_cycles = 0;
                memset(e->pending_pkg, 0, sizeof(e->pending_pkg));
        }

        *ret = t->out;
        *ret_n = n;
        return 0;
}

/* Whether CPU 0 has a hardware cycles counter (the switch program then
 * opens one per CPU). */
static bool cycle_counters_available(void) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_HARDWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_HW_CPU_CYCLES,
        };
        long fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
                return false;
        close((int) fd);
        return true;
}

bool tracker_per_package(const Tracker *t) {
        return t->mode == TRACKER_BPF && tracker_bpf_per_switch(t->bpf);
}

const char *tracker_basis(const Tracker *t) {
        return t->mode == TRACKER_BPF && tracker_bpf_cycles(t->bpf) ? "cycles" : "cpu-time";
}

int tracker_process_events(Tracker *t) {
        int r = tracker_consume(t);
        return r < 0 ? r : 0;
}

ProcessInfo *tracker_find(Tracker *t, uint32_t pid) {
        TrackerEntry *e = hashmap_get(t->by_pid, pid_key(pid));
        return e ? &e->info : NULL;
}

void tracker_get_stats(const Tracker *t, TrackerStats *ret) {
        size_t state = 0, live = 0;
        void *v;

        *ret = t->stats;
        while (hashmap_iterate(t->table, &state, NULL, &v))
                if (!((TrackerEntry *) v)->info.exited && !((TrackerEntry *) v)->early_done)
                        live++;
        ret->processes_tracked = live;
        if (t->mode == TRACKER_BPF) {
                ret->exits_lost = tracker_bpf_lost(t->bpf);
                ret->per_switch_mode = tracker_bpf_in_per_switch(t->bpf);
        }
}

static const char *const accounting_names[] = {
        [TRACKER_ACCOUNTING_AUTO] = "auto",
        [TRACKER_ACCOUNTING_ITERATOR] = "iterator",
        [TRACKER_ACCOUNTING_PER_SWITCH] = "per-switch",
};

int tracker_accounting_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(accounting_names); i++)
                if (strcmp(s, accounting_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *tracker_accounting_to_string(int a) {
        return a >= 0 && (size_t) a < ELEMENTSOF(accounting_names) ? accounting_names[a] : NULL;
}

TrackerMode tracker_mode(const Tracker *t) {
        return t->mode;
}

const char *tracker_mode_to_string(TrackerMode m) {
        switch (m) {
        case TRACKER_BPF:
                return "bpf";
        case TRACKER_PROCFS:
                return "procfs";
        default:
                return NULL;
        }
}

const char *tracker_fallback_reason(const Tracker *t) {
        return t->fallback_reason;
}

int tracker_get_fd(const Tracker *t) {
        return t->mode == TRACKER_BPF ? tracker_bpf_get_fd(t->bpf) : -1;
}

Tracker *tracker_free(Tracker *t) {
        size_t state = 0;
        void *v;

        if (!t)
                return NULL;
        if (t->table)
                while (hashmap_iterate(t->table, &state, NULL, &v))
                        entry_free(v);
        hashmap_free(t->table);
        hashmap_free(t->by_pid);
        state = 0;
        if (t->cgroups)
                while (hashmap_iterate(t->cgroups, &state, NULL, &v))
                        free(v);
        hashmap_free(t->cgroups);
        if (t->cgroup_fd >= 0)
                close(t->cgroup_fd);
        free(t->cgroup_mount);
        tracker_bpf_free(t->bpf);
        free(t->out);
        free(t->proc_root);
        free(t->fallback_reason);
        free(t);
        return NULL;
}

static inline void tracker_freep(Tracker **t) {
        tracker_free(*t);
}

int tracker_new(const TrackerConfig *cfg, Tracker **ret) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        TrackerMode force = cfg ? cfg->force_mode : _TRACKER_MODE_INVALID;
        uint32_t rb = cfg && cfg->ringbuf_bytes ? cfg->ringbuf_bytes : TRACKER_RINGBUF_DEFAULT;
        int r;

        if (force != _TRACKER_MODE_INVALID && (force < 0 || force >= _TRACKER_MODE_MAX))
                return log_error_errno(-EINVAL, "Invalid tracker mode %d; accepted: bpf, procfs, or auto.", (int) force);
        if (rb < 4096 || (rb & (rb - 1)) != 0)
                return log_error_errno(-EINVAL, "Invalid tracker ring buffer size %u: must be a power of two of at least 4096 bytes.", rb);

        t = calloc(1, sizeof(*t));
        if (!t)
                return log_oom();
        t->cgroup_fd = -1;
        t->proc_root = strdup(cfg && cfg->proc_root ? cfg->proc_root : "/proc");
        t->table = hashmap_new();
        t->by_pid = hashmap_new();
        t->cgroups = hashmap_new();
        if (!t->proc_root || !t->table || !t->by_pid || !t->cgroups)
                return log_oom();
        t->cgroup_mount = cgroup2_mount();
        if (t->cgroup_mount)
                t->cgroup_fd = open(t->cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        t->start_boottime_ns = now_ns(CLOCK_BOOTTIME);
        t->accounting = cfg ? cfg->accounting : TRACKER_ACCOUNTING_AUTO;
        if (t->accounting < TRACKER_ACCOUNTING_AUTO || t->accounting > TRACKER_ACCOUNTING_PER_SWITCH)
                return log_error_errno(-EINVAL, "Invalid tracker accounting %d; accepted: auto, iterator, per-switch.",
                                       t->accounting);
        t->interval_ns = cfg && cfg->interval_ns ? cfg->interval_ns : NSEC_PER_SEC;
        t->quiet_needed = TRACKER_QUIET_ROUNDS;

        if (force == TRACKER_PROCFS)
                t->mode = TRACKER_PROCFS;
        else {
                _cleanup_free_ char *reason = NULL;

                TrackerBpfOptions bo = {
                        .ringbuf_bytes = rb,
                        .cpu_pkg_index = cfg ? cfg->cpu_package : NULL,
                        .n_cpus = cfg && cfg->cpu_package ? cfg->n_cpus : 0,
                        .try_cycles = true,
                        .interval_ns = t->accounting == TRACKER_ACCOUNTING_ITERATOR ? 0 : t->interval_ns,
                };
                long ncpu = sysconf(_SC_NPROCESSORS_CONF);
                int n_pkgs = 0;

                bo.n_possible_cpus = ncpu > 0 ? (size_t) ncpu : 1;
                for (size_t i = 0; i < bo.n_cpus; i++)
                        n_pkgs = MAX(n_pkgs, bo.cpu_pkg_index[i] + 1);
                switch (cfg ? cfg->per_switch : TRACKER_SWITCH_AUTO) {
                case TRACKER_SWITCH_ON:
                        bo.per_switch = true;
                        break;
                case TRACKER_SWITCH_OFF:
                        bo.per_switch = false;
                        break;
                default:
                        /* Several packages need it; with one, only counters would. */
                        bo.per_switch = n_pkgs > 1 || (bo.n_cpus > 0 && cycle_counters_available());
                }
                r = tracker_bpf_new(&bo, &t->bpf, &reason);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        if (force == TRACKER_BPF)
                                return log_error_errno(r, "BPF process tracker unavailable (%s).", reason ?: "unknown");
                        log_warning("BPF process tracker unavailable (%s): falling back to /proc polling; "
                                    "processes shorter than one interval may be missed", reason ?: "unknown");
                        t->fallback_reason = TAKE_PTR(reason);
                        if (!t->fallback_reason && !(t->fallback_reason = strdup("unknown")))
                                return log_oom();
                        t->mode = TRACKER_PROCFS;
                } else {
                        t->mode = TRACKER_BPF;
                        if (t->accounting == TRACKER_ACCOUNTING_PER_SWITCH && !tracker_bpf_per_switch_possible(t->bpf))
                                return log_error_errno(-EOPNOTSUPP, "Per-switch accounting needs a cpu-clock perf event on each CPU, "
                                                       "which cannot be opened here.");
                }
        }

        /* Baseline: what runs now was running before we measured. */
        r = tracker_scan(t);
        if (r < 0)
                return log_error_errno(r, "Failed to read the process list (%s): %m", tracker_mode_to_string(t->mode));

        *ret = TAKE_PTR(t);
        return 0;
}
