/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attribution.h"
#include "process.h"
#include "procfs.h"
#include "tracker-accounting.h"

/* The process tracker: per-process CPU time per interval, with identity.
 * The core (tracker.c) owns the process table; two back-ends behind one ops
 * table (tracker-backend.h) report what they see: BPF (tracker-bpf.c: task
 * iterator or per-switch counting, exit events through a ring buffer) and
 * /proc polling (tracker-procfs.c: fallback, may miss processes that live
 * less than one interval). */

typedef enum TrackerMode {
        TRACKER_BPF,
        TRACKER_PROCFS,
        _TRACKER_MODE_MAX,
        _TRACKER_MODE_INVALID = -1,
} TrackerMode;

/* Whether the sched_switch program that splits CPU time per package (and
 * counts cycles) is loaded (BPF only). AUTO loads it with more than one
 * package or when cycle counters open. */
typedef enum TrackerSwitch {
        TRACKER_SWITCH_AUTO,
        TRACKER_SWITCH_OFF,
        TRACKER_SWITCH_ON,
        _TRACKER_SWITCH_MAX,
        _TRACKER_SWITCH_INVALID = -EINVAL,
} TrackerSwitch;

typedef struct TrackerConfig {
        const char *proc_root;        /* default "/proc" */
        TrackerMode force_mode;       /* _TRACKER_MODE_INVALID: BPF, falling back to procfs */
        uint32_t ringbuf_bytes;       /* exit-event ring buffer size (power of two); 0 = default */
        /* Per-package split and cycles (BPF only). cpu_package[cpu] is the
         * package index (0..PROCESS_MAX_PKGS-1) of each CPU, or NULL. */
        const int *cpu_package;
        size_t n_cpus;
        TrackerSwitch per_switch;
        TrackerAccounting accounting;
        uint64_t interval_ns;         /* sampling interval (per-switch mode's timers); 0 = 1 s */
        bool keep_cmdline;            /* read each process's command line when first seen alive (ProcessInfo.cmdline) */
} TrackerConfig;

/* Exit events are about 500 bytes: 2,000 of them fit (a process sends two,
 * three in per-switch mode), and user space is woken when an eighth are
 * waiting. Events that find it full wait in a hash map with room for 16 such
 * buffers (kernel memory, taken only as they come), drained at each read:
 * a fork storm of 3,300-4,500 processes a second beside 10,000 idle ones lost
 * none, in either accounting mode, where this buffer alone lost hundreds to
 * thousands in per-switch mode. The buffer's pages are mapped twice into
 * jouled, so its size counts twice in its resident memory. */
#define TRACKER_RINGBUF_DEFAULT (1024u * 1024)

typedef struct TrackerStats {
        uint64_t processes_tracked;   /* live processes in the table (BPF: those seen running since the start) */
        uint64_t exits_seen;          /* exit events consumed */
        uint64_t exits_lost;          /* exit events the kernel could not queue (ring buffer full, and its overflow map) */
        uint64_t exits_folded;        /* events that found the ring buffer full and waited in its overflow map (not lost) */
        uint64_t vanished;            /* processes gone with no exit event (their last interval's CPU is lost) */
        uint64_t iter_errors;
        uint64_t exits_early_only;    /* exited with no free event: their exit-time counters stood */
        bool per_switch_mode;         /* CPU time is counted at context switches now (else: task walk) */
        uint64_t accounting_changes;  /* times the tracker went from one way of counting to the other */
} TrackerStats;

typedef struct Tracker Tracker;

/* Create a tracker: BPF unless forced, falling back to procfs with a warning
 * (the warning is logged here). Returns 0 or negative errno. */
int tracker_new(const TrackerConfig *cfg, Tracker **ret);
Tracker *tracker_free(Tracker *t);

TrackerMode tracker_mode(const Tracker *t);
const char *tracker_mode_to_string(TrackerMode m);
/* Why BPF is not used (NULL in BPF mode). */
const char *tracker_fallback_reason(const Tracker *t);

/* A file descriptor that becomes readable when exit events are waiting
 * (the ring buffer's epoll fd), or -1 in procfs mode. */
int tracker_get_fd(const Tracker *t);

/* Consume pending exit events without sampling (called when the fd is readable). */
int tracker_process_events(Tracker *t);

/* Take one sample: consume pending exit events, then read every live process.
 * On success *ret points to an array of *ret_n deltas (processes with CPU time
 * in this interval, exited ones included), valid until the next call. */
int tracker_sample(Tracker *t, ProcessDelta **ret, size_t *ret_n);

/* This interval's /proc/stat as the caller read it (NULL: unreadable), for
 * the choice of accounting (its context switch count): once called, the
 * tracker reads no /proc/stat of its own. Call before tracker_sample(). */
void tracker_set_host_stat(Tracker *t, const ProcStat *st);
/* The last sample before the tracker is freed (at exit): as
 * tracker_sample(), and it also holds what running tasks ran since they
 * were last counted, which per-switch mode would otherwise leave to a next
 * sample that never comes. */
int tracker_sample_last(Tracker *t, ProcessDelta **ret, size_t *ret_n);

/* Look a live process up (for example to label jouled itself). */
ProcessInfo *tracker_find(Tracker *t, uint32_t pid);

void tracker_get_stats(const Tracker *t, TrackerStats *ret);

/* Enter (on) or leave per-switch counting now; the accounting mode's own
 * choice resumes at the next sample (auto: it leaves after a busy notice,
 * and enters again after a few quiet rounds). For tests and benchmarks.
 * Returns 0, or -EOPNOTSUPP where per-switch counting is not possible, or
 * negative errno from attaching. */
int tracker_force_per_switch(Tracker *t, bool on);

/* Whether per-process CPU time is split by package (the switch program runs). */
bool tracker_per_package(const Tracker *t);
/* ATTRIBUTION_BASIS_CYCLES when per-process CPU cycles are measured, else
 * ATTRIBUTION_BASIS_CPU_TIME. */
AttributionBasis tracker_basis(const Tracker *t);
