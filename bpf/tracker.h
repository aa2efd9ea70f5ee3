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

/* Record kinds written by the task iterator (first word of each record). */
#define TRACKER_REC_PROCESS 1   /* a thread-group leader: struct tracker_proc_rec */
#define TRACKER_REC_THREAD  2   /* any other thread: struct tracker_thread_rec */

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

struct tracker_proc_rec {
        __u32 kind;                   /* TRACKER_REC_PROCESS */
        __u32 pad;
        __u64 sum_exec_runtime;       /* the leader's own runtime */
        __u64 sig_sum_sched_runtime;  /* runtime of already released threads */
        struct tracker_ident id;
};

struct tracker_thread_rec {
        __u32 kind;                   /* TRACKER_REC_THREAD */
        __u32 tgid;
        __u64 sum_exec_runtime;
};

/* Ring buffer event: a thread group's final counters (sched_process_free of its leader). */
struct tracker_exit_event {
        __u64 cpu_ns;                 /* signal->sum_sched_runtime: every thread, leader included */
        struct tracker_ident id;
        char exe[TRACKER_EXE_LEN];    /* last exec's filename, "" when it never exec'd */
};

/* Task storage value: the file name given to the last exec. */
struct tracker_exe {
        char exe[TRACKER_EXE_LEN];
};
