/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Records shared by tracker.bpf.c and daemon/tracker/tracker-bpf.c. Fixed-width
 * fields, explicit padding, no bool: the layout is the same on both sides. */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TRACKER_COMM_LEN 16
#define TRACKER_UNIT_LEN 64
#define TRACKER_EXE_LEN  256
#define TRACKER_MAX_PKGS 8            /* packages split by tracker_split_pkgs */
#define TRACKER_MAX_CPUS 1024         /* size of the CPU → package map */

/* Record kind written by the task iterator (first word of each record). */
#define TRACKER_REC_GROUP 3     /* struct tracker_group_rec */

/* Exit event kinds (first word of each ring buffer record). */
#define TRACKER_EV_FREE 1       /* sched_process_free of the leader: final counters */
#define TRACKER_EV_EXIT 2       /* sched_process_exit of the group's last thread: early counters */
#define TRACKER_EV_GROUP 3      /* per-switch mode: a group's first counters, with its identity */
#define TRACKER_EV_BUSY 4       /* per-switch mode: switches come too fast for it (struct tracker_busy_event) */

struct tracker_busy_event {
        __u32 kind;                   /* TRACKER_EV_BUSY */
        __u32 cpu;
        __u64 window_ns;              /* time the last TRACKER_BUSY_SWITCHES switches took on that CPU */
};

/* tracker_count_switch checks its CPU's switch rate every this many switches. */
#define TRACKER_BUSY_SWITCHES 1024

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

/* Per thread group, filled by tracker_split_pkgs (when loaded): CPU time per
 * package and CPU cycles. Keyed by tgid; start_time_ns tells a reused tgid. */
struct tracker_group_acct {
        __u64 start_time_ns;
        __u64 cycles;
        __u64 pkg_ns[TRACKER_MAX_PKGS];
};

/* A thread group's counters: what the iterator writes for a group that
 * changed since the last round (once per changed thread, so that an idle
 * process costs one look and no output), and, in per-switch mode, the value
 * of the `active` hash map (keyed by tgid) tracker_count_switch updates.
 * Counters are the group's cumulative totals as counted so far, the
 * before-load part (base) included: what is ours is cpu_ns - base_ns. */
struct tracker_group_rec {
        __u32 kind;                   /* TRACKER_REC_GROUP */
        __u32 pad;
        __u64 cpu_ns;
        __u64 base_ns;
        __u64 nvcsw;
        __u64 base_nvcsw;
        __u64 rss_pages;              /* file + anon + shmem resident pages (approximate: per-CPU counters' sum) */
        struct tracker_group_acct acct; /* zero when the package-split program is off */
        struct tracker_ident id;
};

/* Value of the `active` map (per-switch mode): counters only; the group's
 * identity came once, in a TRACKER_EV_GROUP event. */
struct tracker_active {
        __u64 start_time_ns;          /* the group leader's: tells a reused tgid */
        __u64 cpu_ns;
        __u64 base_ns;
        __u64 nvcsw;
        __u64 base_nvcsw;
        __u64 rss_pages;
};

/* Ring buffer event: a thread group's counters at exit (EV_EXIT) or final (EV_FREE). */
struct tracker_exit_event {
        __u32 kind;                   /* TRACKER_EV_* */
        __u32 pad;
        __u64 cpu_ns;                 /* signal->sum_sched_runtime (+ live threads' at EV_EXIT) */
        __u64 nvcsw;
        __u64 base_ns;                /* the part of cpu_ns from before the tracker was loaded */
        __u64 base_nvcsw;
        struct tracker_group_acct acct;
        struct tracker_ident id;
        char exe[TRACKER_EXE_LEN];    /* last exec's filename, "" when it never exec'd */
};

/* Key of the `folded` map: an event that found the ring buffer full waits
 * there, as a struct tracker_exit_event whose pad says it is complete
 * (TRACKER_FOLD_DONE), for user space's next read. */
struct tracker_fold_key {
        __u32 tgid;
        __u32 kind;                   /* TRACKER_EV_* */
        __u64 start_time_ns;
};
#define TRACKER_FOLD_DONE 1u
#define TRACKER_FOLD_MAX 32768        /* default; user space sizes it from the ring buffer */
/* Slots of the `lost` array: events lost (the ring buffer full and no room
 * in `folded`), and events that went to `folded`. */
#define TRACKER_LOST_LOST 0
#define TRACKER_LOST_FOLDED 1

/* Task storage value: the file name given to the last exec. */
struct tracker_exe {
        char exe[TRACKER_EXE_LEN];
};

/* Task storage value of the counting programs (the task walk, per-switch
 * mode, thread exits): what they counted of this thread, and in a group
 * leader's storage, of its whole group. */
struct tracker_seen {
        __u64 last_ns;                /* this thread's runtime counted so far */
        __u64 last_nvcsw;
        __u64 group_ns;               /* leader only: the group's counted runtime (base included) */
        __u64 group_nvcsw;
        __u64 base_ns;                /* leader only: the group's runtime from before load */
        __u64 base_nvcsw;
        __u64 thread_init;            /* last_* are set (64 bits: compare-and-swap) */
        __u64 group_init;             /* leader only: group_* and base_* are set */
        __u32 dirty;                  /* leader only: group_* moved with no record written (thread exit, full map) */
        __u32 reported;               /* leader only: the group's identity reached user space */
};

/* Value of the `leader_bases` map (keyed by tgid): the base of a group
 * whose leader thread exited while the group lives, for an exec from a
 * non-leader thread, which takes the leader's place with storage of its own. */
struct tracker_leader_base {
        __u64 start_time_ns;
        __u64 base_ns;
        __u64 base_nvcsw;
};

/* Task storage value of tracker_split_pkgs: runtime already split. */
struct tracker_thread_acct {
        __u64 last_sum;
};
