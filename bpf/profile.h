/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Structs shared by bpf/profile.bpf.c and joulectl profile (user space):
 * fixed-width fields, explicit padding. */

#define PROFILE_STACK_DEPTH 127      /* frames kept per stack (kernel's limit is sysctl kernel.perf_event_max_stack) */
#define PROFILE_MAX_STACKS 16384     /* stack-trace map entries */
#define PROFILE_MAX_KEYS 65536       /* distinct (tgid, stacks, cpu) per interval and count map */
#define PROFILE_COMM_LEN 16

enum profile_filter {
        PROFILE_FILTER_CGROUP = 1,   /* tasks whose cgroup v2 ancestor at target_level is target_cgid */
        PROFILE_FILTER_TGID = 2,     /* tasks of one thread group */
};

/* A counter key: one thread group, its user and kernel stack ids (negative:
 * none or lost, see profile_stat) and the CPU sampled on. */
struct profile_key {
        __u32 tgid;
        __s32 user_stack_id;
        __s32 kern_stack_id;
        __u32 cpu;
};

/* Indexes of the `stats` array (global counters, never reset). */
enum profile_stat {
        PROFILE_STAT_SAMPLES,            /* samples of the target */
        PROFILE_STAT_USER_LOST,          /* user stack not stored (stack map full or bucket taken) */
        PROFILE_STAT_KERN_LOST,          /* kernel stack not stored */
        PROFILE_STAT_USER_NONE,          /* no user stack could be walked */
        PROFILE_STAT_KEYS_FULL,          /* count map full: sample dropped */
        PROFILE_STAT_EVENTS_LOST,        /* ring buffer full: an exec/fork/first-sample event lost */
        _PROFILE_STAT_MAX,
};

enum profile_event_kind {
        PROFILE_EVENT_EXEC = 1,          /* the task exec'd: its mappings are new */
        PROFILE_EVENT_FORK = 2,          /* a new process (not a thread): ppid is its parent */
        PROFILE_EVENT_FIRST_SAMPLE = 3,  /* first sample of this tgid since its last exec: read its mappings now */
};

/* Ring-buffer record, rare: one per exec, fork and first sample. */
struct profile_event {
        __u32 kind;
        __u32 tgid;
        __u32 ppid;
        __u32 pad;
        char comm[PROFILE_COMM_LEN];
};
