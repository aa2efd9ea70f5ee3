/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../../bpf/tracker.h"

#define PROCESS_COMM_MAX 16
/* Packages whose CPU time is split per process: as many as the switch program splits. */
#define PROCESS_MAX_PKGS TRACKER_MAX_PKGS

/* What jouled knows about one process (thread group). Identity is
 * (pid, start_time_ns): a reused pid has another start time. */
typedef struct ProcessInfo {
        uint32_t pid;
        uint32_t ppid;
        uint32_t uid;
        uint64_t start_time_ns;   /* CLOCK_BOOTTIME, ns, of the thread group's start */
        uint64_t cgroup_id;       /* cgroup v2 id (kernfs inode), 0 if unknown */
        char comm[PROCESS_COMM_MAX];
        char *exe;                /* owned; NULL when unknown */
        char *unit;               /* owned; leaf cgroup name, e.g. "sshd.service"; NULL when unknown */
        char *cgroup_path;        /* owned; cgroup v2 path, e.g. "/system.slice/sshd.service"; NULL when unknown */
        char *slice;              /* owned; nearest ".slice" of cgroup_path (cgroup_path_parse()); NULL when none */
        char *container_id;       /* owned; container id found in cgroup_path; NULL when none */
        char *cmdline;            /* owned; arguments joined by spaces, only when command lines are kept; NULL otherwise */
        bool kernel_thread;

        /* Tracker bookkeeping. */
        uint64_t cpu_ns_total;    /* cumulative CPU time of the group as last seen */
        uint64_t nvcsw_total;     /* cumulative voluntary context switches (wakeups) */
        uint64_t cycles_total;    /* cumulative CPU cycles (switch program with counters), 0 otherwise */
        uint64_t pkg_ns_total[PROCESS_MAX_PKGS]; /* cumulative CPU time per package index (switch program) */
        uint64_t rss_bytes;       /* resident memory (file + anon + shmem) as last seen */
        uint64_t generation;      /* last sampling round that saw it alive */
        bool exited;              /* final counters reached us; freed after the interval */

        /* Store bookkeeping: row id of this process, 0 until written; the
         * label set row of its labels as last written and a hash of those
         * labels; the store generation both ids belong to; the end of the
         * last interval written with a sample of it. */
        int64_t store_id;
        int64_t store_labels_id;
        uint64_t store_labels_hash;
        uint64_t store_gen;
        uint64_t store_last_ns;
} ProcessInfo;

/* One interval's CPU time of one process. */
typedef struct ProcessDelta {
        ProcessInfo *info;        /* owned by the tracker, valid until the next tracker_sample() */
        uint64_t cpu_ns;
        uint64_t wakeups;         /* voluntary context switches of its threads in the interval */
        uint64_t cycles;          /* CPU cycles in the interval (0: not measured) */
        uint64_t pkg_cpu_ns[PROCESS_MAX_PKGS]; /* CPU time per package index; all 0: not split */
        uint64_t rss_bytes;       /* resident memory at the end of the interval (0 when exited) */
} ProcessDelta;
