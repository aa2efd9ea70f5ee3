// SPDX-License-Identifier: GPL-2.0-or-later
/* The process tracker's kernel side. No per-context-switch work:
 *  - iter/task: walked once per sample by user space; one record per thread
 *    (a full one for group leaders, a compact one for other threads);
 *  - tp_btf/sched_process_free: a thread group's final CPU time, through a
 *    ring buffer, so processes shorter than one interval are not lost;
 *  - tp_btf/sched_process_exec: remembers the exec'd file name in task storage. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tracker.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 4 * 1024 * 1024);   /* set by user space before load */
} events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);   /* reservations that failed */
        __type(key, __u32);
        __type(value, __u64);
} lost SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, struct tracker_exe);
} exes SEC(".maps");

static __always_inline void fill_ident(struct task_struct *task, struct tracker_ident *id) {
        struct kernfs_node *kn;
        const char *name;

        id->tgid = BPF_CORE_READ(task, tgid);
        id->ppid = BPF_CORE_READ(task, real_parent, tgid);
        id->uid = BPF_CORE_READ(task, cred, uid.val);
        id->flags = (BPF_CORE_READ(task, flags) & PF_KTHREAD) ? TRACKER_FLAG_KTHREAD : 0;
        id->start_time_ns = BPF_CORE_READ(task, group_leader, start_boottime);
        kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
        id->cgroup_id = kn ? BPF_CORE_READ(kn, id) : 0;
        name = kn ? BPF_CORE_READ(kn, name) : NULL;
        if (!name || bpf_probe_read_kernel_str(id->unit, sizeof(id->unit), name) < 0)
                id->unit[0] = 0;
        bpf_probe_read_kernel_str(id->comm, sizeof(id->comm), task->comm);
}

SEC("iter/task")
int tracker_iter(struct bpf_iter__task *ctx) {
        struct seq_file *seq = ctx->meta->seq;
        struct task_struct *task = ctx->task;

        if (!task)
                return 0;
        /* A dead thread group's final total comes from its exit event. */
        if (BPF_CORE_READ(task, signal, live.counter) == 0)
                return 0;

        if (BPF_CORE_READ(task, pid) == BPF_CORE_READ(task, tgid)) {
                struct tracker_proc_rec r = {};

                r.kind = TRACKER_REC_PROCESS;
                r.sum_exec_runtime = BPF_CORE_READ(task, se.sum_exec_runtime);
                r.sig_sum_sched_runtime = BPF_CORE_READ(task, signal, sum_sched_runtime);
                fill_ident(task, &r.id);
                bpf_seq_write(seq, &r, sizeof(r));
        } else {
                struct tracker_thread_rec r = {};

                r.kind = TRACKER_REC_THREAD;
                r.tgid = BPF_CORE_READ(task, tgid);
                r.sum_exec_runtime = BPF_CORE_READ(task, se.sum_exec_runtime);
                bpf_seq_write(seq, &r, sizeof(r));
        }
        return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tracker_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        struct tracker_exe *e;
        const char *filename;

        e = bpf_task_storage_get(&exes, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!e)
                return 0;
        filename = BPF_CORE_READ(bprm, filename);
        if (!filename || bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), filename) < 0)
                e->exe[0] = 0;
        return 0;
}

/* Fires from delayed_put_task_struct(), after release_task(): the task's
 * runtime is final and __exit_signal() has added every thread's runtime,
 * the leader's included, to signal->sum_sched_runtime. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(tracker_free, struct task_struct *p) {
        struct tracker_exit_event *ev;
        struct tracker_exe *e;
        __u64 flags = BPF_RB_NO_WAKEUP;
        __u32 zero = 0;

        if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid))
                return 0;

        ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
        if (!ev) {
                __u64 *n = bpf_map_lookup_elem(&lost, &zero);
                if (n)
                        __sync_fetch_and_add(n, 1);
                return 0;
        }

        ev->cpu_ns = BPF_CORE_READ(p, signal, sum_sched_runtime);
        fill_ident(p, &ev->id);
        e = bpf_task_storage_get(&exes, p, NULL, 0);
        if (!e || bpf_probe_read_kernel_str(ev->exe, sizeof(ev->exe), e->exe) < 0)
                ev->exe[0] = 0;

        /* Wake the reader only when the buffer is filling up: user space
         * consumes at every sample anyway. */
        if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 2)
                flags = BPF_RB_FORCE_WAKEUP;
        bpf_ringbuf_submit(ev, flags);
        return 0;
}
