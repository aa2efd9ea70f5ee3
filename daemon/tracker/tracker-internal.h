/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between tracker.c (the process table, deltas) and its two
 * back-ends, tracker-bpf.c and tracker-procfs.c. Not part of the interface. */

#include <stdbool.h>
#include <stdint.h>

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

/* Tracker core, called by the back-ends. */

/* A live process was seen in this round. Returns the table entry (new or
 * updated), or NULL on OOM. *ret_new tells whether it was created now; the
 * back-end may then fill identity fields it reads lazily (uid, unit, exe). */
ProcessInfo *tracker_observe_live(Tracker *t, const TrackerObservation *o, bool *ret_new);
/* New cumulative counters of a known live process (all ours). Returns 1,
 * 0 if the process is unknown, or -ENOMEM. */
int tracker_observe_counters(Tracker *t, uint32_t pid, uint64_t start_time_ns, uint64_t cpu_ns, uint64_t nvcsw,
                             uint64_t rss_bytes);
/* A process's final counters. Returns 0 or -ENOMEM. */
int tracker_observe_exit(Tracker *t, const TrackerObservation *o);
/* A process's counters as its last thread exits (final ones follow when it
 * is freed; if they never come, these stand). Returns 0 or -ENOMEM. */
int tracker_observe_exiting(Tracker *t, const TrackerObservation *o);
/* proc_root/PID/exe, resolved; NULL if unreadable. Does not log. */
char *tracker_read_exe(const Tracker *t, uint32_t pid);
const char *tracker_proc_root(const Tracker *t);

/* BPF back-end (tracker-bpf.c). */
typedef struct TrackerBpf TrackerBpf;
/* Returns 0, or negative errno with *ret_reason (allocated) saying why. Logs at debug level only. */
typedef struct TrackerBpfOptions {
        uint32_t ringbuf_bytes;
        bool per_switch;              /* load the sched_switch program */
        const int *cpu_pkg_index;     /* CPU → package index (0..PROCESS_MAX_PKGS-1) */
        size_t n_cpus;
        bool try_cycles;              /* with per_switch: use CPU cycle counters where they open */
        uint64_t interval_ns;         /* sampling interval: period of per-switch mode's timers (0: no such mode) */
        size_t n_possible_cpus;       /* CPUs to put a timer on (offline ones are skipped) */
} TrackerBpfOptions;
int tracker_bpf_new(const TrackerBpfOptions *opts, TrackerBpf **ret, char **ret_reason);
/* Whether the switch program runs, and whether it counts cycles. */
bool tracker_bpf_per_switch(const TrackerBpf *b);
bool tracker_bpf_cycles(const TrackerBpf *b);
TrackerBpf *tracker_bpf_free(TrackerBpf *b);
int tracker_bpf_get_fd(const TrackerBpf *b);
/* Feed pending exit events to tracker_observe_exit(). Returns the number consumed or negative errno. */
int tracker_bpf_consume(TrackerBpf *b, Tracker *t);
/* Walk every task once and feed tracker_observe_live() with the groups that
 * changed since the last round. */
int tracker_bpf_scan(TrackerBpf *b, Tracker *t);
/* Per-switch mode: the groups that ran since the last drain, through
 * tracker_observe_counters() (their identity came as events). */
int tracker_bpf_drain_active(TrackerBpf *b, Tracker *t);
/* Per-switch mode: whether it can be had (per-CPU timers opened), whether
 * it is on, and turning it on or off. busy_window_ns: the switch program
 * reports switches as too fast when TRACKER_BUSY_SWITCHES of them take less
 * on one CPU (updated also while on). */
bool tracker_bpf_per_switch_possible(const TrackerBpf *b);
bool tracker_bpf_in_per_switch(const TrackerBpf *b);
int tracker_bpf_set_per_switch(TrackerBpf *b, bool on, uint64_t busy_window_ns);
/* Whether the switch program reported switches too fast / an update of
 * `active` failed, since the last call. */
bool tracker_bpf_take_busy(TrackerBpf *b);
bool tracker_bpf_take_full(TrackerBpf *b);
uint64_t tracker_bpf_lost(const TrackerBpf *b);

/* /proc back-end (tracker-procfs.c). */
int tracker_procfs_scan(Tracker *t);
/* Parse the content of /proc/PID/stat. Returns 0 or -EINVAL. comm gets the
 * text between the first '(' and the last ')'. */
int tracker_procfs_parse_stat(const char *buf, char comm[static PROCESS_COMM_MAX], uint32_t *ret_ppid,
                              uint64_t *ret_flags, uint64_t *ret_cpu_ticks, uint64_t *ret_start_ticks,
                              char *ret_state);
/* "0::/system.slice/foo.service\n" → "foo.service" (allocated). -ENOENT if no v2 line. */
int tracker_procfs_parse_cgroup(const char *buf, char **ret_unit);
