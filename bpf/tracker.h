/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Records shared by tracker.bpf.c and daemon/tracker-bpf.c. Fixed-width
 * fields, explicit padding, no bool: the layout is the same on both sides. */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TRACKER_COMM_LEN 16
#define TRACKER_UNIT_LEN 64
#define TRACKER_EXE_LEN  256
#define TRACKER_MAX_PKGS 8            /* packages split by the switch program */
#define TRACKER_MAX_CPUS 1024         /* size of the CPU → package map */

/* Record kinds written by the task iterator (first word of each record). */
#define TRACKER_REC_PROCESS 1   /* a thread-group leader: struct tracker_proc_rec */
#define TRACKER_REC_THREAD  2   /* any other thread: struct tracker_thread_rec */

/* Exit event kinds (first word of each ring buffer record). */
#define TRACKER_EV_FREE 1       /* sched_process_free of the leader: final counters */
#define TRACKER_EV_EXIT 2       /* sched_process_exit of the group's last thread: early counters */

#define TRACKER_FLAG_KTHREAD 1u

/* Identity and counters of a thread group, as seen from its leader. */
struct tracker_ident {
        __u32 tgid;
        __u32 ppid;
        __u32 uid;
        __u32 flags;                  /* TRACKER_FLAG_* */
        __u64 start_time_ns;          /* CLOCK_BOOTTIME of the group leader */
        __u64 cgroup_id;              /* cgroup v2 kernfs id */
        char comm[TRACKER_COMM_LEN];
        char unit[TRACKER_UNIT_LEN];  /* leaf cgroup name */
};

/* Per thread group, filled by the switch program (when loaded): CPU time per
 * package and CPU cycles. Keyed by tgid; start_time_ns tells a reused tgid. */
struct tracker_group_acct {
        __u64 start_time_ns;
        __u64 cycles;
        __u64 pkg_ns[TRACKER_MAX_PKGS];
};

struct tracker_proc_rec {
        __u32 kind;                   /* TRACKER_REC_PROCESS */
        __u32 pad;
        __u64 sum_exec_runtime;       /* the leader's own runtime */
        __u64 sig_sum_sched_runtime;  /* runtime of already released threads */
        __u64 nvcsw;                  /* leader's voluntary switches + released threads' (signal->nvcsw) */
        __u64 rss_pages;              /* file + anon + shmem resident pages (approximate: per-CPU counters' sum) */
        struct tracker_group_acct acct; /* zero when the switch program is off */
        struct tracker_ident id;
};

struct tracker_thread_rec {
        __u32 kind;                   /* TRACKER_REC_THREAD */
        __u32 tgid;
        __u64 sum_exec_runtime;
        __u64 nvcsw;
};

/* Ring buffer event: a thread group's counters at exit (EV_EXIT) or final (EV_FREE). */
struct tracker_exit_event {
        __u32 kind;                   /* TRACKER_EV_* */
        __u32 pad;
        __u64 cpu_ns;                 /* signal->sum_sched_runtime (+ live threads' at EV_EXIT) */
        __u64 nvcsw;
        struct tracker_group_acct acct;
        struct tracker_ident id;
        char exe[TRACKER_EXE_LEN];    /* last exec's filename, "" when it never exec'd */
};

/* Task storage value: the file name given to the last exec. */
struct tracker_exe {
        char exe[TRACKER_EXE_LEN];
};

/* Task storage value of the switch program: runtime already accounted. */
struct tracker_thread_acct {
        __u64 last_sum;
};
