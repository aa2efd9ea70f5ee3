/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BPF back-end of the process tracker (see bpf/tracker.bpf.c): a task
 * iterator walked once per sample, or per-switch counting drained once per
 * sample, and a ring buffer of exit events. It also decides, round by round,
 * which of the two ways of reading CPU time runs (TrackerAccounting). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../bpf/tracker.h"
#include "cleanup.h"
#include "log.h"
#include "tracker-backend.h"
#include "tracker.skel.h"
#include "util.h"

/* Accounting mode choice (auto): the cost of one task in the iterator and of
 * one context switch in the switch program, measured with
 * kernel.bpf_stats_enabled on the development VM (bench/switch/run.sh: ns per
 * run of tracker_walk_tasks and tracker_count_switch). */
#define TRACKER_ITER_NS_PER_TASK 1100
#define TRACKER_SWITCH_NS 600
/* Rounds in a row with few enough switches before going per-switch; more
 * after a busy notice sent us back, so that bursts do not make it flap. */
#define TRACKER_QUIET_ROUNDS 3
#define TRACKER_QUIET_ROUNDS_AFTER_BUSY 20

#define FOLD_BATCH 256

struct TrackerBackend {
        struct tracker_bpf *skel;
        struct ring_buffer *rb;
        TrackerObserver observer;
        int consume_error;
        uint8_t buf[64 * 1024]; /* iterator output, read and handled a piece at a time */
        struct tracker_fold_key fold_keys[FOLD_BATCH];     /* drain_folded()'s batch */
        struct tracker_exit_event fold_vals[FOLD_BATCH];
        bool per_switch, cycles;
        int *perf_fds;          /* cycle counters, one per CPU (while loaded) */
        size_t n_perf_fds;

        /* Per-switch mode. */
        struct bpf_link *activity_link;   /* the switch program, while attached */
        int *tick_fds;          /* a cpu-clock timer per online CPU, one period per interval */
        struct bpf_link **tick_links;
        size_t n_ticks;
        bool busy;              /* the switch program said switches come too fast */
        bool active_was_full;   /* an update of `active` failed: walk the tasks */
        bool walk_once;         /* the next round walks the tasks too (the last round) */

        /* Which way CPU time is read (tracker_choose_accounting()). */
        char *proc_root;
        TrackerAccounting accounting;   /* asked for; ITERATOR once per-switch failed */
        uint64_t interval_ns;
        unsigned quiet_rounds, quiet_needed;
        long n_online_cpus;     /* at start (sysconf reads sysfs: not once per round) */
        uint64_t last_ctxt, last_ctxt_ns;   /* /proc/stat ctxt and when it was read (0: not yet) */
        bool host_stat_given;               /* the manager passes /proc/stat on: read none here */
        bool have_host_ctxt;
        uint64_t host_ctxt;
        uint64_t accounting_changes;
};

typedef struct TrackerBackend TrackerBpf;

/* While probing, libbpf's warnings are only debug noise: the caller logs one
 * clear warning of its own if BPF cannot be used. */
static bool libbpf_quiet;

_Pragma("GCC diagnostic push")
_Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        char buf[1024];
        size_t n;

        vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        log_full_errno(level == LIBBPF_WARN && !libbpf_quiet ? LOG_WARNING : LOG_DEBUG, 0, "libbpf: %s", buf);
        return 0;
}
_Pragma("GCC diagnostic pop")

static size_t page_size(void) {
        static size_t ps;
        if (ps == 0) {
                long v = sysconf(_SC_PAGESIZE);
                ps = v > 0 ? (size_t) v : 4096;
        }
        return ps;
}

static int bpf_set_per_switch(TrackerBpf *b, bool on, uint64_t busy_window_ns);
static void leave_per_switch(TrackerBpf *b, bool busy);
static int read_sched_counts(TrackerBpf *b, uint64_t *ret_tasks, uint64_t *ret_ctxt);
static double switch_budget(const TrackerBpf *b, uint64_t tasks);
static uint64_t busy_window(const TrackerBpf *b, double budget);

static TrackerBpf *bpf_free(TrackerBpf *b) {
        if (!b)
                return NULL;
        bpf_set_per_switch(b, false, 0);
        for (size_t i = 0; i < b->n_ticks; i++)
                if (b->tick_fds[i] >= 0)
                        close(b->tick_fds[i]);
        free(b->tick_fds);
        free(b->tick_links);
        ring_buffer__free(b->rb);
        tracker_bpf__destroy(b->skel);
        for (size_t i = 0; i < b->n_perf_fds; i++)
                if (b->perf_fds[i] >= 0)
                        close(b->perf_fds[i]);
        free(b->perf_fds);
        free(b->proc_root);
        free(b);
        return NULL;
}

static inline void bpf_freep(TrackerBpf **b) {
        bpf_free(*b);
}

static void acct_to_observation(const struct tracker_group_acct *a, TrackerObservation *o) {
        o->cycles = a->cycles;
        for (size_t k = 0; k < PROCESS_MAX_PKGS && k < TRACKER_MAX_PKGS; k++)
                o->pkg_ns[k] = a->pkg_ns[k];
}

static void ident_to_observation(const struct tracker_ident *id, TrackerObservation *o) {
        o->pid = id->tgid;
        o->ppid = id->ppid;
        o->uid = id->uid;
        o->start_time_ns = id->start_time_ns;
        o->cgroup_id = id->cgroup_id;
        o->comm = id->comm;
        o->unit = id->unit;
        o->kernel_thread = id->flags & TRACKER_FLAG_KTHREAD;
}

/* A cumulative counter less its before-load base: the part that is ours. */
static uint64_t ours(uint64_t total, uint64_t base) {
        return total - MIN(base, total);
}

static int observe(TrackerBpf *b, TrackerEvent event, const TrackerObservation *o) {
        return b->observer.observe(b->observer.userdata, event, o);
}

/* A group's counters from an event: at its first sight in per-switch mode
 * (TRACKER_EV_GROUP), as its last thread exits (TRACKER_EV_EXIT) or final
 * (TRACKER_EV_FREE). */
static int handle_group_event(TrackerBpf *b, const void *data, size_t size) {
        struct tracker_exit_event ev;
        TrackerObservation o = {};

        if (size < sizeof(ev))
                return 0;
        memcpy(&ev, data, sizeof(ev));
        ev.id.comm[sizeof(ev.id.comm) - 1] = 0;
        ev.id.unit[sizeof(ev.id.unit) - 1] = 0;
        ev.exe[sizeof(ev.exe) - 1] = 0;
        ident_to_observation(&ev.id, &o);
        acct_to_observation(&ev.acct, &o);
        /* Counters less what ran before we were loaded: all of it is ours. */
        o.all_ours = true;
        o.cpu_ns = ours(ev.cpu_ns, ev.base_ns);
        o.nvcsw = ours(ev.nvcsw, ev.base_nvcsw);
        o.exe = ev.exe[0] ? ev.exe : NULL;
        switch (ev.kind) {
        case TRACKER_EV_GROUP:
                return observe(b, TRACKER_EVENT_LIVE, &o);
        case TRACKER_EV_EXIT:
                return observe(b, TRACKER_EVENT_EXITING, &o);
        default:
                return observe(b, TRACKER_EVENT_FREED, &o);
        }
}

/* The ring buffer's callback: one event, handled by its kind. */
static int handle_event(void *ctx, void *data, size_t size) {
        TrackerBpf *b = ctx;
        uint32_t kind;
        int r;

        if (size < sizeof(kind))
                return 0;
        memcpy(&kind, data, sizeof(kind));
        if (kind == TRACKER_EV_BUSY) {
                b->busy = true;
                return 0;
        }
        r = handle_group_event(b, data, size);
        if (r < 0) {
                b->consume_error = r;
                return r;   /* stops consuming */
        }
        return 0;
}

static char *reason_from(const char *what, int r) {
        char *s = NULL;
        int k;

        if (r == -EPERM || r == -EACCES)
                k = asprintf(&s, "%s: %s (needs root, or CAP_BPF and CAP_PERFMON)", what, strerror(-r));
        else
                k = asprintf(&s, "%s: %s", what, strerror(-r));
        return k < 0 ? NULL : s;
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

/* One CPU-cycles counter per CPU, counting everything on that CPU. All or
 * nothing: returns 0 with b->perf_fds filled, or negative errno (no PMU on
 * most VMs: ENOENT/EOPNOTSUPP). */
static int open_cycle_counters(TrackerBpf *b, size_t n_cpus) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_HARDWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_HW_CPU_CYCLES,
        };

        b->perf_fds = calloc(MAX(n_cpus, (size_t) 1), sizeof(int));
        if (!b->perf_fds)
                return -ENOMEM;
        for (size_t i = 0; i < n_cpus; i++)
                b->perf_fds[i] = -1;
        b->n_perf_fds = n_cpus;
        for (size_t i = 0; i < n_cpus; i++) {
                long fd = syscall(SYS_perf_event_open, &attr, -1, (int) i, -1, PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        int r = -errno;
                        for (size_t j = 0; j < i; j++) {
                                close(b->perf_fds[j]);
                                b->perf_fds[j] = -1;
                        }
                        return r;
                }
                b->perf_fds[i] = (int) fd;
        }
        return 0;
}

/* A cpu-clock timer on each CPU that fires once per interval. CPUs that are
 * offline are skipped (ENODEV); any other failure means no timers at all. */
static int open_ticks(TrackerBpf *b, size_t n_cpus, uint64_t interval_ns) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_SOFTWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_SW_CPU_CLOCK,
                .sample_period = interval_ns,
                .disabled = 1,   /* enabled while per-switch mode is on */
        };
        size_t n = 0;

        b->tick_fds = calloc(n_cpus, sizeof(int));
        b->tick_links = calloc(n_cpus, sizeof(struct bpf_link *));
        if (!b->tick_fds || !b->tick_links)
                return -ENOMEM;
        for (size_t i = 0; i < n_cpus; i++) {
                long fd = syscall(SYS_perf_event_open, &attr, -1, (int) i, -1, PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        int r = -errno;
                        if (r == -ENODEV)
                                continue;
                        for (size_t j = 0; j < n; j++)
                                close(b->tick_fds[j]);
                        return r;
                }
                b->tick_fds[n++] = (int) fd;
        }
        b->n_ticks = n;
        return n > 0 ? 0 : -ENODEV;
}

/* Detach the timer program and stop the timers (a perf event with no
 * program would still fire its hrtimer every interval, for nothing). Each
 * link holds a duplicate of its timer's fd, which bpf_link__destroy()
 * closes: the timers themselves stay open, to be attached again. */
static void ticks_off(TrackerBpf *b) {
        for (size_t i = 0; i < b->n_ticks; i++) {
                bpf_link__destroy(b->tick_links[i]);
                b->tick_links[i] = NULL;
                (void) ioctl(b->tick_fds[i], PERF_EVENT_IOC_DISABLE, 0);
        }
}

/* Attach the timer program to timer i through a duplicate of its fd (the
 * link closes what it was given when destroyed). Returns 0 or negative errno. */
static int tick_attach(TrackerBpf *b, size_t i) {
        _cleanup_close_ int fd = -EBADF;

        fd = fcntl(b->tick_fds[i], F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        /* attach_perf_event() also enables the event */
        b->tick_links[i] = bpf_program__attach_perf_event(b->skel->progs.tracker_count_tick, fd);
        if (!b->tick_links[i])
                return errno > 0 ? -errno : -EIO;
        TAKE_FD(fd);
        return 0;
}

static bool per_switch_possible(const TrackerBpf *b) {
        return b->n_ticks > 0;
}

static bool in_per_switch(const TrackerBpf *b) {
        return b->activity_link != NULL;
}

/* Turn per-switch mode on or off. busy_window_ns: the switch program reports
 * switches as too fast when TRACKER_BUSY_SWITCHES of them take less on one
 * CPU (updated also while on). */
static int bpf_set_per_switch(TrackerBpf *b, bool on, uint64_t busy_window_ns) {
        if (!b->skel)
                return 0;
        b->skel->bss->busy_window_ns = busy_window_ns;
        if (on == (b->activity_link != NULL))
                return 0;
        if (!on) {
                bpf_link__destroy(b->activity_link);
                b->activity_link = NULL;
                ticks_off(b);
                return 0;
        }
        if (b->n_ticks == 0)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < b->n_ticks; i++) {
                int r = tick_attach(b, i);
                if (r < 0) {
                        ticks_off(b);
                        return r;
                }
        }
        b->skel->bss->busy_sent = 0;
        b->busy = false;
        b->activity_link = bpf_program__attach(b->skel->progs.tracker_count_switch);
        if (!b->activity_link) {
                int r = errno > 0 ? -errno : -EIO;
                ticks_off(b);
                return r;
        }
        return 0;
}

/* Enter or leave per-switch counting now, whatever the accounting mode
 * would choose (the mode's own choice resumes at the next round). */
static int bpf_force_per_switch(TrackerBpf *b, bool on) {
        uint64_t tasks = 0;
        int r;

        assert(b);
        if (!on) {
                leave_per_switch(b, false);
                return 0;
        }
        if (!per_switch_possible(b))
                return -EOPNOTSUPP;
        if (in_per_switch(b))
                return 0;
        (void) read_sched_counts(b, &tasks, NULL);
        r = bpf_set_per_switch(b, true, busy_window(b, switch_budget(b, tasks)));
        if (r < 0)
                return r;
        b->accounting_changes++;
        return 0;
}

/* Whether an update of `active` failed since the last call. */
static bool take_full(TrackerBpf *b) {
        bool full = b->active_was_full;
        b->active_was_full = false;
        return full;
}

static bool bpf_per_package(const TrackerBpf *b) {
        assert(b);
        return b->per_switch;
}

static AttributionBasis bpf_basis(const TrackerBpf *b) {
        assert(b);
        return b->cycles ? ATTRIBUTION_BASIS_CYCLES : ATTRIBUTION_BASIS_CPU_TIME;
}

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* Open, size, load and attach; on failure *ret_what names the step. */
static int bpf_setup(TrackerBpf *b, const TrackerBackendOptions *opts, const char **ret_what) {
        size_t n_cpus = opts->cpu_package ? opts->n_cpus : 0;
        int n_pkgs = 0, r;

        /* CO-RE against the kernel's own BTF only: a fallback type that this
         * kernel lacks (the pre-6.2 rss_stat) would otherwise send libbpf
         * through every module's BTF, which needs CAP_SYS_ADMIN: the
         * service has only CAP_BPF and CAP_PERFMON. */
        LIBBPF_OPTS(bpf_object_open_opts, open_opts);
        if (access(VMLINUX_BTF, R_OK) == 0)
                open_opts.btf_custom_path = VMLINUX_BTF;
        *ret_what = "cannot open the BPF object";
        b->skel = tracker_bpf__open_opts(&open_opts);
        if (!b->skel)
                return errno > 0 ? -errno : -EIO;
        *ret_what = "cannot size the ring buffer";
        r = bpf_map__set_max_entries(b->skel->maps.events, opts->ringbuf_bytes);
        if (r < 0)
                return r;
        /* Room for what 16 full ring buffers hold, for events that find it
         * full; memory is taken only as they come. */
        r = bpf_map__set_max_entries(b->skel->maps.folded,
                                     MAX(opts->ringbuf_bytes / (uint32_t) sizeof(struct tracker_exit_event) * 16, 64u));
        if (r < 0)
                return r;

        /* The switch program costs something on every context switch: only
         * where it buys something (several packages, or cycle counters). */
        for (size_t i = 0; i < n_cpus; i++)
                n_pkgs = MAX(n_pkgs, opts->cpu_package[i] + 1);
        switch (opts->per_switch) {
        case TRACKER_SWITCH_ON:
                b->per_switch = true;
                break;
        case TRACKER_SWITCH_OFF:
                b->per_switch = false;
                break;
        default:
                /* Several packages need it; with one, only counters would. */
                b->per_switch = n_pkgs > 1 || (n_cpus > 0 && cycle_counters_available());
        }
        if (b->per_switch && n_cpus > 0) {
                r = open_cycle_counters(b, n_cpus);
                if (r == -ENOMEM)
                        return r;
                b->cycles = r >= 0;
                if (r < 0)
                        log_debug_errno(r, "No CPU cycle counters (%m): attributing by CPU time.");
        }
        b->skel->rodata->switch_enabled = b->per_switch;
        b->skel->rodata->cycles_enabled = b->cycles;
        b->skel->rodata->load_boottime_ns = now_ns(CLOCK_BOOTTIME);
        if (b->cycles) {
                r = bpf_map__set_max_entries(b->skel->maps.cycles_pmu, (uint32_t) n_cpus);
                if (r < 0)
                        return r;
        }
        *ret_what = "cannot configure the BPF programs";
        r = bpf_program__set_autoload(b->skel->progs.tracker_split_pkgs, b->per_switch);
        if (r < 0)
                return r;
        /* Attached only in per-switch mode, by bpf_set_per_switch(). */
        bpf_program__set_autoattach(b->skel->progs.tracker_count_switch, false);

        *ret_what = "cannot load the BPF programs";
        r = tracker_bpf__load(b->skel);
        if (r < 0)
                return r;

        if (b->per_switch) {
                *ret_what = "cannot fill the CPU to package map";
                for (size_t i = 0; i < n_cpus && i < TRACKER_MAX_CPUS; i++) {
                        uint32_t cpu = (uint32_t) i, pkg;
                        if (opts->cpu_package[i] < 0)
                                continue;
                        pkg = (uint32_t) opts->cpu_package[i];
                        r = bpf_map_update_elem(bpf_map__fd(b->skel->maps.cpu_pkg), &cpu, &pkg, BPF_ANY);
                        if (r < 0)
                                return -errno;
                }
                for (size_t i = 0; b->cycles && i < b->n_perf_fds; i++) {
                        uint32_t cpu = (uint32_t) i;
                        r = bpf_map_update_elem(bpf_map__fd(b->skel->maps.cycles_pmu), &cpu, &b->perf_fds[i], BPF_ANY);
                        if (r < 0)
                                return -errno;
                }
        }
        /* Attaches the tracepoints and makes the iterator's link, once. */
        *ret_what = "cannot attach the BPF programs";
        r = tracker_bpf__attach(b->skel);
        if (r < 0)
                return r;
        /* Per-switch mode needs a timer per CPU (opened now: it takes
         * CAP_PERFMON, which is dropped later). Without them, no per-switch mode. */
        if (b->accounting != TRACKER_ACCOUNTING_ITERATOR) {
                long n_possible = sysconf(_SC_NPROCESSORS_CONF);
                r = open_ticks(b, n_possible > 0 ? (size_t) n_possible : 1, b->interval_ns);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_debug_errno(r, "No per-CPU timers (%m): tasks are walked every interval.");
        }
        *ret_what = "cannot open the ring buffer";
        b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), handle_event, b, NULL);
        if (!b->rb)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* Returns 0; negative errno with *ret_reason when BPF cannot be used here;
 * -ENOMEM; or -EOPNOTSUPP with no reason when per-switch accounting was
 * asked for and no per-CPU timer opens. */
static int bpf_new(const TrackerBackendOptions *opts, TrackerBpf **ret, char **ret_reason) {
        _cleanup_(bpf_freep) TrackerBpf *b = NULL;
        const char *what = NULL;
        int r;

        assert(opts);
        assert(opts->observer.observe);
        assert(ret);
        assert(ret_reason);
        libbpf_set_print(libbpf_print);

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->observer = opts->observer;
        b->proc_root = strdup(opts->proc_root ?: "/proc");
        if (!b->proc_root)
                return -ENOMEM;
        b->accounting = opts->accounting;
        b->interval_ns = opts->interval_ns ?: NSEC_PER_SEC;
        b->quiet_needed = TRACKER_QUIET_ROUNDS;
        b->n_online_cpus = MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);

        libbpf_quiet = true;
        r = bpf_setup(b, opts, &what);
        libbpf_quiet = false;
        if (r < 0) {
                log_debug_errno(r, "BPF tracker: %s: %m", what);
                if (r != -ENOMEM)
                        *ret_reason = reason_from(what, r);
                return r;
        }
        if (b->accounting == TRACKER_ACCOUNTING_PER_SWITCH && !per_switch_possible(b))
                return -EOPNOTSUPP;
        *ret = TAKE_PTR(b);
        return 0;
}

static int bpf_get_fd(const TrackerBpf *b) {
        assert(b);
        return ring_buffer__epoll_fd(b->rb);
}

static uint64_t bpf_lost_slot(const TrackerBpf *b, uint32_t slot) {
        uint64_t n = 0;

        if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lost), &slot, &n) < 0)
                return 0;
        return n;
}

static uint64_t bpf_lost(const TrackerBpf *b) {
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        uint64_t n;

        /* Events with no room (ring buffer full, and `folded` too)... */
        n = bpf_lost_slot(b, TRACKER_LOST_LOST);
        /* ...and runs the kernel skipped (the program was already running on that CPU). */
        if (bpf_obj_get_info_by_fd(bpf_program__fd(b->skel->progs.tracker_send_final), &info, &len) == 0)
                n += info.recursion_misses;
        memset(&info, 0, sizeof(info));
        len = sizeof(info);
        if (bpf_obj_get_info_by_fd(bpf_program__fd(b->skel->progs.tracker_send_exit), &info, &len) == 0)
                n += info.recursion_misses;
        return n;
}

/* Leave per-switch mode (a busy notice, or asked); the task walk takes over
 * at the next round and counts everything since. */
static void leave_per_switch(TrackerBpf *b, bool busy) {
        if (!in_per_switch(b))
                return;
        (void) bpf_set_per_switch(b, false, 0);
        b->accounting_changes++;
        b->quiet_rounds = 0;
        b->quiet_needed = busy ? TRACKER_QUIET_ROUNDS_AFTER_BUSY : TRACKER_QUIET_ROUNDS;
        b->last_ctxt_ns = 0;
        log_debug("Process tracker: context switches %s: walking tasks every interval.", busy ? "too frequent" : "");
}

/* Take the keys of a batch's complete events out of `folded`: one call for
 * the batch (a key the kernel deleted meanwhile, an event it folded into a
 * newer one, is skipped). Where the batch call fails otherwise, one call
 * per key: an event left in the map would be handled again. */
static void delete_folded(int fd, const struct tracker_fold_key *keys, uint32_t n) {
        LIBBPF_OPTS(bpf_map_batch_opts, opts);

        for (uint32_t i = 0; i < n;) {
                uint32_t count = n - i;

                if (bpf_map_delete_batch(fd, keys + i, &count, &opts) == 0)
                        return;
                i += MIN(count, n - i);   /* count: deleted before the key that failed */
                if (errno != ENOENT) {
                        for (; i < n; i++)
                                (void) bpf_map_delete_elem(fd, &keys[i]);
                        return;
                }
                i++;
        }
}

/* Feed the events that found the ring buffer full (the `folded` map) to the
 * observer, and take them out of the map. One still being written (no
 * TRACKER_FOLD_DONE yet) stays for the next call. A batch's complete
 * events leave the map before they are handled, so that the time between
 * reading an event and deleting it is a single call. Returns the number
 * taken, or negative errno. */
static int drain_folded(TrackerBpf *b) {
        int fd = bpf_map__fd(b->skel->maps.folded), n = 0, r;
        uint32_t in = 0, out = 0;
        bool first = true, done = false;

        LIBBPF_OPTS(bpf_map_batch_opts, opts);

        while (!done) {
                uint32_t count = FOLD_BATCH, complete = 0;

                r = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, b->fold_keys, b->fold_vals, &count, &opts);
                if (r < 0) {
                        if (errno != ENOENT)
                                return -errno;
                        done = true;   /* the last batch, count says how much of it there is */
                }
                first = false;
                in = out;
                /* The complete ones first in the batch, keys and events alike. */
                for (uint32_t i = 0; i < count; i++) {
                        if (!(b->fold_vals[i].pad & TRACKER_FOLD_DONE))
                                continue;
                        if (i != complete) {
                                b->fold_keys[complete] = b->fold_keys[i];
                                b->fold_vals[complete] = b->fold_vals[i];
                        }
                        complete++;
                }
                delete_folded(fd, b->fold_keys, complete);
                for (uint32_t i = 0; i < complete; i++) {
                        struct tracker_exit_event *ev = &b->fold_vals[i];

                        ev->pad = 0;
                        r = handle_event(b, ev, sizeof(*ev));
                        if (r < 0)
                                return b->consume_error < 0 ? b->consume_error : r;
                        n++;
                }
        }
        return n;
}

/* Feed pending events to the observer: the ring buffer's, then those that
 * found it full. */
static int consume_events(TrackerBpf *b) {
        int r, k;

        b->consume_error = 0;
        r = ring_buffer__consume(b->rb);
        if (b->consume_error < 0)
                return b->consume_error;
        if (r < 0)
                return r;
        k = drain_folded(b);
        if (k < 0)
                return k;
        return r + k;
}

/* The same, then a busy notice from the switch program ends per-switch
 * mode (auto). */
static int bpf_consume(TrackerBpf *b) {
        bool busy;
        int r;

        assert(b);
        r = consume_events(b);
        busy = b->busy;
        b->busy = false;
        if (busy && b->accounting == TRACKER_ACCOUNTING_AUTO)
                leave_per_switch(b, true);
        return r;
}

static int handle_group(TrackerBpf *b, const struct tracker_group_rec *rec) {
        struct tracker_ident id = rec->id;
        TrackerObservation o = {};
        int r;

        id.comm[sizeof(id.comm) - 1] = 0;
        id.unit[sizeof(id.unit) - 1] = 0;
        ident_to_observation(&id, &o);
        acct_to_observation(&rec->acct, &o);
        o.all_ours = true;
        o.cpu_ns = ours(rec->cpu_ns, rec->base_ns);
        o.nvcsw = ours(rec->nvcsw, rec->base_nvcsw);
        o.rss_bytes = rec->rss_pages * (uint64_t) page_size();
        r = observe(b, TRACKER_EVENT_LIVE, &o);
        return r < 0 ? r : 0;
}

/* Walk every task once. Only groups that changed since the last round come
 * out; records are read and handled a buffer at a time, so memory does not
 * grow with the number of processes. */
static int walk_tasks(TrackerBpf *b) {
        _cleanup_close_ int fd = -EBADF;
        size_t have = 0;

        fd = bpf_iter_create(bpf_link__fd(b->skel->links.tracker_walk_tasks));
        if (fd < 0)
                return -errno;
        for (;;) {
                size_t off = 0;
                ssize_t n;
                int r;

                n = read(fd, b->buf + have, sizeof(b->buf) - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* EAGAIN: the task list changed under the iterator */
                        return -errno;
                }
                if (n == 0)
                        break;
                have += (size_t) n;
                while (have - off >= sizeof(struct tracker_group_rec)) {
                        struct tracker_group_rec rec;

                        memcpy(&rec, b->buf + off, sizeof(rec));
                        if (rec.kind != TRACKER_REC_GROUP)
                                return -EBADMSG;
                        r = handle_group(b, &rec);
                        if (r < 0)
                                return r;
                        off += sizeof(rec);
                }
                memmove(b->buf, b->buf + off, have - off);
                have -= off;
        }
        if (have != 0)
                return -EBADMSG;
        return 0;
}

/* Returns 1, 0 if the group is not known yet, or negative errno. */
static int apply_active(TrackerBpf *b, uint32_t tgid, const struct tracker_active *a) {
        TrackerObservation o = {
                .pid = tgid,
                .start_time_ns = a->start_time_ns,
                .cpu_ns = ours(a->cpu_ns, a->base_ns),
                .nvcsw = ours(a->nvcsw, a->base_nvcsw),
                .rss_bytes = a->rss_pages * (uint64_t) page_size(),
                .all_ours = true,
        };

        return observe(b, TRACKER_EVENT_COUNTERS, &o);
}

#define ACTIVE_BATCH 256

/* Per-switch mode: take every group out of `active` and apply its totals.
 * A group whose identity event is still in the ring buffer (it ran for the
 * first time just now) is applied after the buffer is read once more. */
static int drain_active(TrackerBpf *b) {
        uint32_t keys[ACTIVE_BATCH];
        struct tracker_active vals[ACTIVE_BATCH];
        _cleanup_free_ uint32_t *later_keys = NULL;
        _cleanup_free_ struct tracker_active *later = NULL;
        size_t n_later = 0, a_later = 0;
        uint32_t in = 0, out = 0;
        bool first = true, done = false;
        int fd = bpf_map__fd(b->skel->maps.active), r;

        LIBBPF_OPTS(bpf_map_batch_opts, opts);

        if (b->skel->bss->active_full) {
                b->skel->bss->active_full = 0;
                b->active_was_full = true;
        }
        while (!done) {
                uint32_t count = ACTIVE_BATCH;

                r = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &opts);
                if (r < 0) {
                        if (errno != ENOENT)
                                return -errno;
                        done = true;   /* the last batch, count says how much of it there is */
                }
                first = false;
                in = out;
                for (uint32_t i = 0; i < count; i++) {
                        r = apply_active(b, keys[i], &vals[i]);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                continue;
                        if (n_later == a_later) {
                                size_t na = MAX(a_later * 2, (size_t) 16);
                                uint32_t *nk = reallocarray(later_keys, na, sizeof(*nk));
                                if (!nk)
                                        return -ENOMEM;
                                later_keys = nk;
                                struct tracker_active *nv = reallocarray(later, na, sizeof(*nv));
                                if (!nv)
                                        return -ENOMEM;
                                later = nv;
                                a_later = na;
                        }
                        later_keys[n_later] = keys[i];
                        later[n_later++] = vals[i];
                }
        }
        if (n_later == 0)
                return 0;
        r = consume_events(b);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_later; i++) {
                r = apply_active(b, later_keys[i], &later[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Total tasks (threads) from /proc/loadavg ("0.00 0.01 0.05 1/234 5678"), and
 * context switches since boot from /proc/stat's ctxt line. */
static int read_sched_counts(TrackerBpf *b, uint64_t *ret_tasks, uint64_t *ret_ctxt) {
        _cleanup_(proc_stat_done) ProcStat st = {};
        int r;

        r = procfs_read_tasks(b->proc_root, ret_tasks);
        if (r < 0 || !ret_ctxt)
                return r;
        if (b->host_stat_given) {
                if (!b->have_host_ctxt)
                        return -ENODATA;
                *ret_ctxt = b->host_ctxt;
                return 0;
        }
        r = procfs_read_stat(b->proc_root, &st);
        if (r < 0)
                return r;
        if (!st.have_ctxt)
                return -EBADMSG;
        *ret_ctxt = st.ctxt;
        return 0;
}

static void bpf_set_host_stat(TrackerBpf *b, const ProcStat *st) {
        assert(b);
        b->host_stat_given = true;
        b->have_host_ctxt = st && st->have_ctxt;
        b->host_ctxt = st ? st->ctxt : 0;
}

/* Switches per second below which counting at each switch costs less than
 * walking `tasks` tasks once per interval. */
static double switch_budget(const TrackerBpf *b, uint64_t tasks) {
        double interval_s = (double) b->interval_ns / 1e9;
        return (double) tasks * TRACKER_ITER_NS_PER_TASK / TRACKER_SWITCH_NS / interval_s;
}

/* The switch program's threshold: TRACKER_BUSY_SWITCHES switches on one CPU
 * faster than the whole budget spread over the CPUs. */
static uint64_t busy_window(const TrackerBpf *b, double budget) {
        return (uint64_t) ((double) TRACKER_BUSY_SWITCHES * 1e9 * (double) b->n_online_cpus / MAX(budget, 1.0));
}

/* After each round: pick per-switch counting or the task walk for the next
 * rounds (see TrackerAccounting). */
static void choose_accounting(TrackerBpf *b) {
        uint64_t tasks = 0, ctxt = 0, now;
        double budget;
        int r;

        if (b->accounting == TRACKER_ACCOUNTING_ITERATOR || !per_switch_possible(b))
                return;
        if (in_per_switch(b)) {
                /* Keep the threshold in step with the number of tasks. */
                if (read_sched_counts(b, &tasks, NULL) >= 0)
                        (void) bpf_set_per_switch(b, true, busy_window(b, switch_budget(b, tasks)));
                return;
        }
        r = read_sched_counts(b, &tasks, &ctxt);
        if (r < 0)
                return;
        budget = switch_budget(b, tasks);
        now = now_ns(CLOCK_MONOTONIC);
        if (b->accounting == TRACKER_ACCOUNTING_AUTO) {
                bool quiet = false;
                if (b->last_ctxt_ns > 0 && now > b->last_ctxt_ns && ctxt >= b->last_ctxt) {
                        double rate = (double) (ctxt - b->last_ctxt) * 1e9 / (double) (now - b->last_ctxt_ns);
                        quiet = rate < budget / 2;
                }
                b->last_ctxt = ctxt;
                b->last_ctxt_ns = now;
                b->quiet_rounds = quiet ? b->quiet_rounds + 1 : 0;
                if (b->quiet_rounds < b->quiet_needed)
                        return;
        }
        r = bpf_set_per_switch(b, true, busy_window(b, budget));
        if (r < 0) {
                log_warning_errno(r, "Process tracker: cannot count at context switches (%m): walking tasks from now on.");
                b->accounting = TRACKER_ACCOUNTING_ITERATOR;
                return;
        }
        b->accounting_changes++;
        b->quiet_needed = TRACKER_QUIET_ROUNDS;
        log_debug("Process tracker: context switches are rare: counting at each switch.");
}

/* One round. Per-switch mode: the groups that ran are in the map. The walk
 * runs otherwise, when the map overflowed, and in the last round (it counts
 * running tasks up to now). Then the way of counting for the next rounds is
 * chosen. */
static int bpf_scan(TrackerBpf *b) {
        bool walk;
        int r;

        assert(b);
        r = drain_active(b);
        walk = !in_per_switch(b) || take_full(b) || b->walk_once;
        b->walk_once = false;
        if (r >= 0 && walk)
                r = walk_tasks(b);
        if (r >= 0)
                choose_accounting(b);
        return r;
}

static void bpf_last_scan(TrackerBpf *b) {
        assert(b);
        b->walk_once = true;
}

static void bpf_get_stats(const TrackerBpf *b, TrackerStats *st) {
        assert(b);
        assert(st);
        st->exits_lost = bpf_lost(b);
        st->exits_folded = bpf_lost_slot(b, TRACKER_LOST_FOLDED);
        st->per_switch_mode = in_per_switch(b);
        st->accounting_changes = b->accounting_changes;
}

const TrackerBackendOps tracker_bpf_ops = {
        .mode = TRACKER_BPF,
        .reports_only_active = true,
        .new = bpf_new,
        .scan = bpf_scan,
        .consume = bpf_consume,
        .get_fd = bpf_get_fd,
        .set_host_stat = bpf_set_host_stat,
        .free = bpf_free,
        .get_stats = bpf_get_stats,
        .per_package = bpf_per_package,
        .basis = bpf_basis,
        .force_per_switch = bpf_force_per_switch,
        .last_scan = bpf_last_scan,
};
