// SPDX-License-Identifier: GPL-2.0-or-later
/* joulectl profile's kernel side.
 *  - perf_event (one per CPU, cpu-clock or cycles at the chosen frequency):
 *    a sample of the target (cgroup v2 subtree or one thread group) counts
 *    one in counts0 or counts1 (the one `active` names) under its (tgid,
 *    user stack id, kernel stack id, CPU); stacks live in the stack-trace
 *    map. Nothing per sample crosses to user space: user space flips
 *    `active` once per interval, and reads and empties the other map.
 *    The first sample of a thread group since its exec also sends an event
 *    so that user space reads its mappings while it lives;
 *  - tp_btf/sched_process_exec, sched_process_fork: the target's new
 *    programs and processes, for symbolizing short-lived children. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "profile.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 filter_mode = 0;       /* enum profile_filter */
const volatile __u64 target_cgid = 0;
const volatile __u32 target_level = 0;      /* depth of target_cgid below the cgroup v2 root */
const volatile __u32 target_tgid = 0;

/* Shared with user space (mmapped). */
__u32 active = 0;                           /* the count map samples go to: 0 or 1 */
__u64 stats[_PROFILE_STAT_MAX] = {};

struct {
        __uint(type, BPF_MAP_TYPE_STACK_TRACE);
        __uint(max_entries, PROFILE_MAX_STACKS);
        __uint(key_size, sizeof(__u32));
        __uint(value_size, PROFILE_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct counts_map {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, PROFILE_MAX_KEYS);
        __type(key, struct profile_key);
        __type(value, __u64);
};
struct counts_map counts0 SEC(".maps");
struct counts_map counts1 SEC(".maps");

/* Thread groups sampled since their last exec (value unused). */
struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 16384);
        __type(key, __u32);
        __type(value, __u8);
} seen SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void stat_add(enum profile_stat i) {
        if (i < _PROFILE_STAT_MAX)
                __sync_fetch_and_add(&stats[i], 1);
}

static __always_inline bool in_target(__u32 tgid) {
        if (filter_mode == PROFILE_FILTER_TGID)
                return tgid == target_tgid;
        if (filter_mode == PROFILE_FILTER_CGROUP)
                return bpf_get_current_ancestor_cgroup_id(target_level) == target_cgid;
        return false;
}

static __always_inline void send_event(__u32 kind, __u32 tgid, __u32 ppid) {
        struct profile_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

        if (!e) {
                stat_add(PROFILE_STAT_EVENTS_LOST);
                return;
        }
        e->kind = kind;
        e->tgid = tgid;
        e->ppid = ppid;
        e->pad = 0;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        /* User space reads the mappings while the process lives: wake it now. */
        bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx) {
        __u64 id = bpf_get_current_pid_tgid(), one = 1, *v;
        struct profile_key key = {};
        __u8 zero = 0;
        void *counts;

        key.tgid = id >> 32;
        if (key.tgid == 0 || !in_target(key.tgid))
                return 0;
        stat_add(PROFILE_STAT_SAMPLES);
        key.cpu = bpf_get_smp_processor_id();
        key.kern_stack_id = bpf_get_stackid(ctx, &stacks, 0);
        key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
        /* -EFAULT: no frames of that kind (a sample in user mode has no
         * kernel stack); -EEXIST (bucket holds another stack) and -ENOMEM:
         * the stack was lost. */
        if (key.kern_stack_id < 0 && key.kern_stack_id != -14)
                stat_add(PROFILE_STAT_KERN_LOST);
        if (key.user_stack_id == -14)
                stat_add(PROFILE_STAT_USER_NONE);
        else if (key.user_stack_id < 0)
                stat_add(PROFILE_STAT_USER_LOST);

        counts = active ? (void *) &counts1 : (void *) &counts0;
        v = bpf_map_lookup_elem(counts, &key);
        if (v) {
                __sync_fetch_and_add(v, 1);
        } else {
                long err = bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST);
                if (err == -17) {   /* EEXIST: another CPU made it meanwhile */
                        v = bpf_map_lookup_elem(counts, &key);
                        if (v)
                                __sync_fetch_and_add(v, 1);
                } else if (err) {
                        stat_add(PROFILE_STAT_KEYS_FULL);
                }
        }

        if (!bpf_map_lookup_elem(&seen, &key.tgid) && bpf_map_update_elem(&seen, &key.tgid, &zero, BPF_NOEXIST) == 0)
                send_event(PROFILE_EVENT_FIRST_SAMPLE, key.tgid, 0);
        return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(profile_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        __u32 tgid = bpf_get_current_pid_tgid() >> 32;

        if (!in_target(tgid))
                return 0;
        bpf_map_delete_elem(&seen, &tgid);
        send_event(PROFILE_EVENT_EXEC, tgid, 0);
        return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(profile_fork, struct task_struct *parent, struct task_struct *child) {
        __u32 ptgid = bpf_get_current_pid_tgid() >> 32;
        __u32 ctgid = BPF_CORE_READ(child, tgid);

        if (ctgid == ptgid || !in_target(ptgid))
                return 0;
        send_event(PROFILE_EVENT_FORK, ctgid, ptgid);
        return 0;
}
