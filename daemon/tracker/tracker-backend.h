/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The contract between the tracker core (tracker.c, which owns the process
 * table) and its back-ends (tracker-bpf.c, tracker-procfs.c). A back-end
 * never touches the table: it reports what it sees through the observer
 * callback it was given, and the core decides what becomes of each entry.
 * Not part of the tracker's interface. */

#include <stdbool.h>
#include <stdint.h>

#include "procfs.h"
#include "tracker.h"

#define TRACKER_UID_UNKNOWN UINT32_MAX

/* One process as a back-end sees it. Strings may be NULL (unknown), and uid
 * TRACKER_UID_UNKNOWN: an existing entry then keeps what it has. */
typedef struct TrackerObservation {
        uint32_t pid;
        uint32_t ppid;
        uint32_t uid;
        uint64_t start_time_ns;
        uint64_t cgroup_id;
        uint64_t cpu_ns;              /* cumulative CPU time of the whole group */
        uint64_t nvcsw;               /* cumulative voluntary context switches of the group */
        uint64_t cycles;              /* cumulative cycles (0: not measured) */
        uint64_t pkg_ns[PROCESS_MAX_PKGS]; /* cumulative CPU time per package index (all 0: not split) */
        uint64_t rss_bytes;
        const char *comm;
        const char *unit;
        const char *exe;
        bool kernel_thread;
        /* The counters leave out what ran before the tracker started (BPF):
         * a new entry's counters are all ours. Otherwise (procfs) a new entry
         * that started before the tracker counts from here on. */
        bool all_ours;
} TrackerObservation;

/* What an observation says. */
typedef enum TrackerEvent {
        /* A live process, identity and cumulative counters. The observer
         * returns 1 when the process is new to the table (the back-end may
         * then report TRACKER_EVENT_IDENTITY with what it reads lazily), else 0. */
        TRACKER_EVENT_LIVE,
        /* Identity fields read after a TRACKER_EVENT_LIVE that returned 1:
         * uid, unit, exe (pid and start_time_ns name the process; counters
         * are ignored). Returns 0. */
        TRACKER_EVENT_IDENTITY,
        /* New cumulative counters of a known live process: cpu_ns, nvcsw,
         * rss_bytes (all ours). Returns 1, or 0 if the process is unknown. */
        TRACKER_EVENT_COUNTERS,
        /* A process's counters as its last thread exits; the final ones
         * follow with TRACKER_EVENT_FREED (if they never come, these stand). Returns 0. */
        TRACKER_EVENT_EXITING,
        /* A process's final counters. Returns 0. */
        TRACKER_EVENT_FREED,
        _TRACKER_EVENT_MAX,
        _TRACKER_EVENT_INVALID = -EINVAL,
} TrackerEvent;

/* Returns what the event says above, or negative errno (-ENOMEM). */
typedef struct TrackerObserver {
        int (*observe)(void *userdata, TrackerEvent event, const TrackerObservation *o);
        void *userdata;
} TrackerObserver;

typedef struct TrackerBackendOptions {
        const char *proc_root;
        uint32_t ringbuf_bytes;       /* power of two, at least 4096 */
        const int *cpu_package;       /* CPU → package index (0..PROCESS_MAX_PKGS-1), or NULL */
        size_t n_cpus;
        TrackerSwitch per_switch;
        TrackerAccounting accounting;
        uint64_t interval_ns;
        TrackerObserver observer;
} TrackerBackendOptions;

/* A back-end's own state. */
typedef struct TrackerBackend TrackerBackend;

typedef struct TrackerBackendOps {
        TrackerMode mode;
        /* Only processes that ran since the last round are reported by
         * scan: one not reported is most likely idle, not gone. */
        bool reports_only_active;
        /* Returns 0, or negative errno with *ret_reason (allocated, may stay
         * NULL) saying why it cannot be used. Logs at debug level only. */
        int (*new)(const TrackerBackendOptions *opts, TrackerBackend **ret, char **ret_reason);
        /* One sampling round: every process that ran (or, where
         * reports_only_active is false, every process) is reported. */
        int (*scan)(TrackerBackend *b);
        /* Report pending events (exits). Returns the number consumed or negative errno. */
        int (*consume)(TrackerBackend *b);
        /* A file descriptor readable when events are waiting, or -1. */
        int (*get_fd)(const TrackerBackend *b);
        /* Optional: the interval's /proc/stat as the manager read it (NULL:
         * none this interval), so that the back-end reads no /proc/stat of
         * its own. */
        void (*set_host_stat)(TrackerBackend *b, const ProcStat *st);
        TrackerBackend *(*free)(TrackerBackend *b);
        /* Fill what the back-end counts itself: exits_lost, per_switch_mode,
         * accounting_changes. */
        void (*get_stats)(const TrackerBackend *b, TrackerStats *st);
        /* Whether CPU time is split per package, and what it is measured in. */
        bool (*per_package)(const TrackerBackend *b);
        AttributionBasis (*basis)(const TrackerBackend *b);
        /* Enter or leave per-switch counting now (tracker_force_per_switch()).
         * NULL where there is none. */
        int (*force_per_switch)(TrackerBackend *b, bool on);
        /* The next scan is the last: it also counts what running tasks ran
         * since they were last counted (per-switch mode counts at switches
         * and at a per-interval timer). NULL where every scan does. */
        void (*last_scan)(TrackerBackend *b);
} TrackerBackendOps;

extern const TrackerBackendOps tracker_bpf_ops;
extern const TrackerBackendOps tracker_procfs_ops;

/* tracker_new() with the back-end given (ops), or chosen as cfg says (NULL):
 * the unit tests drive the core through a back-end of their own. */
int tracker_new_with_backend(const TrackerConfig *cfg, const TrackerBackendOps *ops, Tracker **ret);

/* Parse the content of /proc/PID/stat. Returns 0 or -EINVAL. comm gets the
 * text between the first '(' and the last ')'. */
int tracker_procfs_parse_stat(const char *buf, char comm[static PROCESS_COMM_MAX], uint32_t *ret_ppid,
                              uint64_t *ret_flags, uint64_t *ret_cpu_ticks, uint64_t *ret_start_ticks,
                              char *ret_state);
/* "0::/system.slice/foo.service\n" → "foo.service" (allocated). -ENOENT if no v2 line. */
int tracker_procfs_parse_cgroup(const char *buf, char **ret_unit);
