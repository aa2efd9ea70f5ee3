// SPDX-License-Identifier: GPL-2.0-or-later
/* The process tracker's kernel side.
 *  - iter/task: walked once per sample by user space. Each thread's runtime
 *    and voluntary switches since the last round are added to its group's
 *    totals (kept in the leader's task storage); only groups that changed
 *    are written out, so an idle process costs one look and no output;
 *  - tp_btf/sched_process_exit of a thread that is not the group's last:
 *    its runtime since the last round, added to its group's totals (the
 *    group is then written at the next round);
 *  - tp_btf/sched_process_exit: the group's counters as its last thread
 *    exits (early figures: they reach user space in the interval the process
 *    ended, and stand in if the free event never comes);
 *  - tp_btf/sched_process_free: a thread group's final counters, through a
 *    ring buffer, so processes shorter than one interval are not lost;
 *  - tp_btf/sched_process_exec: remembers the exec'd file name in task storage;
 *  - tp_btf/sched_switch (autoload off unless the host needs it: more than one
 *    package, or hardware cycle counters): the switched-out thread's runtime
 *    since it was last accounted, added to its group's per-package CPU time,
 *    and the cycles it used. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tracker.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000
#define MM_FILEPAGES  0
#define MM_ANONPAGES  1
#define MM_SHMEMPAGES 3

/* Set by user space before load. */
const volatile __u32 switch_enabled = 0;    /* the switch program is loaded */
const volatile __u32 cycles_enabled = 0;    /* cycles_pmu holds a cycles counter per CPU */
const volatile __u64 load_boottime_ns = 0;  /* threads older than this have a history we did not see */

/* Global data shared with user space (mmapped). */
__u64 busy_window_ns = 0;   /* per-switch mode: TRACKER_BUSY_SWITCHES switches on one CPU in less than this is too busy */
__u32 busy_sent = 0;        /* the busy notice went out (user space clears it when it attaches again) */
__u32 active_full = 0;      /* an `active` update failed: user space walks the tasks this round */

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 4096);   /* set by user space before load */
} events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 2);   /* TRACKER_LOST_*: events lost, events folded */
        __type(key, __u32);
        __type(value, __u64);
} lost SEC(".maps");

/* Events that found the ring buffer full (user space was away, a fork
 * storm): kept here, keyed by group and kind, until user space drains the
 * map at its next read, instead of being lost. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __uint(max_entries, TRACKER_FOLD_MAX);   /* set by user space before load */
        __type(key, struct tracker_fold_key);
        __type(value, struct tracker_exit_event);
} folded SEC(".maps");

/* What a new `folded` element starts as. */
static struct tracker_exit_event fold_zero;

struct {
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, struct tracker_exe);
} exes SEC(".maps");

/* CPU → package index (0 .. TRACKER_MAX_PKGS-1), filled by user space. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, TRACKER_MAX_CPUS);
        __type(key, __u32);
        __type(value, __u32);
} cpu_pkg SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 32768);
        __type(key, __u32);
        __type(value, struct tracker_group_acct);
} groups SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, struct tracker_thread_acct);
} thread_acct SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, struct tracker_seen);
} seen SEC(".maps");

/* Per-switch mode: the groups that ran since user space last drained it. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __uint(max_entries, 16384);
        __type(key, __u32);
        __type(value, struct tracker_active);
} active SEC(".maps");

/* Bases of groups started before load whose leader thread exited while the
 * group lives (an exec from another thread then takes them over). */
struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 4096);
        __type(key, __u32);
        __type(value, struct tracker_leader_base);
} leader_bases SEC(".maps");

struct switch_rate {
        __u64 count;
        __u64 since_ns;
};

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct switch_rate);
} rate SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
        __uint(max_entries, 1);   /* one per CPU, set by user space when cycles are used */
        __type(key, __u32);
        __type(value, __u32);
} cycles_pmu SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} cycles_last SEC(".maps");

/* comm is the group leader's: a thread's own name is not the process's. */
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
        bpf_probe_read_kernel_str(id->comm, sizeof(id->comm), task->group_leader->comm);
}

static __always_inline bool before_load(struct task_struct *t) {
        return t->start_boottime < load_boottime_ns;
}

/* What a counter advanced since *last, claimed atomically: the iterator and
 * the exit program may look at the same thread at once, and only one of
 * them counts each nanosecond. */
static __always_inline __u64 take_delta(__u64 *last, __u64 cur) {
        __u64 old = *last;

        if (cur <= old)
                return 0;
        if (__sync_val_compare_and_swap(last, old, cur) != old)
                return 0;
        return cur - old;
}

/* The first look at a group (its leader's storage ls): what its released
 * threads ran before we were loaded is its base, not ours. */
static __always_inline void group_baseline(struct task_struct *leader, struct tracker_seen *ls) {
        __u64 ns, nv;

        if (ls->group_init || __sync_val_compare_and_swap(&ls->group_init, 0, 1) != 0)
                return;
        if (!before_load(leader))
                return;
        ns = BPF_CORE_READ(leader, signal, sum_sched_runtime);
        nv = BPF_CORE_READ(leader, signal, nvcsw);
        /* base first: a reader in between sees less of ours, never more */
        __sync_fetch_and_add(&ls->base_ns, ns);
        __sync_fetch_and_add(&ls->base_nvcsw, nv);
        __sync_fetch_and_add(&ls->group_ns, ns);
        __sync_fetch_and_add(&ls->group_nvcsw, nv);
}

/* The first look at a thread (storage st) that ran before we were loaded:
 * its counters so far are a baseline, added to its group's base. Taken by
 * a compare-and-swap from 0, so that of two lookers at once exactly one
 * takes it and the other then counts only what came after. */
static __always_inline void thread_baseline(struct task_struct *t, struct tracker_seen *st, struct tracker_seen *ls) {
        __u64 ns, nv;

        if (st->thread_init)
                return;
        if (before_load(t)) {
                ns = BPF_CORE_READ(t, se.sum_exec_runtime);
                nv = BPF_CORE_READ(t, nvcsw);
                /* base first: a reader in between sees less of ours, never more */
                if (ns && __sync_val_compare_and_swap(&st->last_ns, 0, ns) == 0) {
                        __sync_fetch_and_add(&ls->base_ns, ns);
                        __sync_fetch_and_add(&ls->group_ns, ns);
                }
                if (nv && __sync_val_compare_and_swap(&st->last_nvcsw, 0, nv) == 0) {
                        __sync_fetch_and_add(&ls->base_nvcsw, nv);
                        __sync_fetch_and_add(&ls->group_nvcsw, nv);
                }
        }
        st->thread_init = 1;
}

/* Count what thread t ran since it was last counted into its group.
 * Returns whether anything changed. */
static __always_inline bool thread_account(struct task_struct *t, struct tracker_seen *st, struct tracker_seen *ls) {
        __u64 d, dn;

        /* Direct loads (t is a BTF pointer): this runs per task per walk and
         * per switch, where a probe-read helper call costs more than the rest. */
        d = take_delta(&st->last_ns, t->se.sum_exec_runtime);
        dn = take_delta(&st->last_nvcsw, t->nvcsw);
        if (d)
                __sync_fetch_and_add(&ls->group_ns, d);
        if (dn)
                __sync_fetch_and_add(&ls->group_nvcsw, dn);
        return d || dn;
}

static __always_inline struct tracker_group_acct *group_acct(struct task_struct *t, bool create) {
        __u32 tgid = BPF_CORE_READ(t, tgid);
        __u64 start = BPF_CORE_READ(t, group_leader, start_boottime);
        struct tracker_group_acct *g, zero = {};

        g = bpf_map_lookup_elem(&groups, &tgid);
        if (g && g->start_time_ns == start)
                return g;
        if (!create)
                return NULL;
        zero.start_time_ns = start;
        bpf_map_update_elem(&groups, &tgid, &zero, BPF_ANY);
        return bpf_map_lookup_elem(&groups, &tgid);
}

/* Add t's runtime since it was last accounted to its group, on the package
 * of cpu. The compare-and-swap makes the switch program and the iterator
 * (which accounts threads that are running right now) never count twice. */
static __always_inline void credit(struct task_struct *t, __u32 cpu, __u64 cycles) {
        struct tracker_thread_acct *st;
        struct tracker_group_acct *g;
        __u64 sum, old;
        __u32 *pkgp, pkg = 0;

        st = bpf_task_storage_get(&thread_acct, t, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!st)
                return;
        sum = BPF_CORE_READ(t, se.sum_exec_runtime);
        old = st->last_sum;
        if (old == 0 && BPF_CORE_READ(t, start_boottime) < load_boottime_ns) {
                /* Runtime from before we were loaded: a baseline, not ours. */
                __sync_val_compare_and_swap(&st->last_sum, old, sum);
                return;
        }
        if (sum <= old)
                return;
        if (__sync_val_compare_and_swap(&st->last_sum, old, sum) != old)
                return;
        pkgp = bpf_map_lookup_elem(&cpu_pkg, &cpu);
        if (pkgp && *pkgp < TRACKER_MAX_PKGS)
                pkg = *pkgp;
        g = group_acct(t, true);
        if (!g)
                return;
        __sync_fetch_and_add(&g->pkg_ns[pkg & (TRACKER_MAX_PKGS - 1)], sum - old);
        if (cycles)
                __sync_fetch_and_add(&g->cycles, cycles);
}

/* Direct loads (task is a BTF pointer): this runs at every published switch. */
static __always_inline __u64 rss_pages(struct task_struct *task) {
        struct mm_struct *mm = task->mm;
        __s64 tot;

        if (!mm)
                return 0;
        tot = mm->rss_stat[MM_FILEPAGES].count + mm->rss_stat[MM_ANONPAGES].count +
              mm->rss_stat[MM_SHMEMPAGES].count;
        return tot > 0 ? (__u64) tot : 0;
}

static __always_inline void count_lost(__u32 slot) {
        __u64 *n = bpf_map_lookup_elem(&lost, &slot);

        if (n)
                __sync_fetch_and_add(n, 1);
}

/* An event of p's group in the ring buffer (*ring true), or where the
 * buffer is full, in `folded` (*ring false). NULL (counted as lost) when
 * neither has room. */
static __always_inline struct tracker_exit_event *reserve_event(struct task_struct *p, __u32 kind, bool *ring) {
        struct tracker_fold_key k = {
                .tgid = p->tgid,
                .kind = kind,
                .start_time_ns = p->group_leader->start_boottime,
        };
        struct tracker_exit_event *ev;

        ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
        *ring = ev != NULL;
        if (ev)
                return ev;
        if (bpf_map_update_elem(&folded, &k, &fold_zero, BPF_NOEXIST) == 0) {
                ev = bpf_map_lookup_elem(&folded, &k);
                if (ev) {
                        count_lost(TRACKER_LOST_FOLDED);
                        return ev;
                }
        }
        count_lost(TRACKER_LOST_LOST);
        return NULL;
}

static __always_inline void submit_event(struct tracker_exit_event *ev, struct task_struct *p, bool ring) {
        struct tracker_exe *e;
        struct tracker_seen *ls;
        __u64 flags = BPF_RB_NO_WAKEUP;

        fill_ident(p, &ev->id);
        /* The group's base, from its leader's storage; a group we never
         * looked at started after we were loaded (all ours), or, if older,
         * is all base. */
        ls = bpf_task_storage_get(&seen, p->group_leader, NULL, 0);
        if (ls && ls->group_init) {
                ev->base_ns = ls->base_ns;
                ev->base_nvcsw = ls->base_nvcsw;
        } else if (before_load(p->group_leader)) {
                ev->base_ns = ev->cpu_ns;
                ev->base_nvcsw = ev->nvcsw;
        } else
                ev->base_ns = ev->base_nvcsw = 0;
        e = bpf_task_storage_get(&exes, p->group_leader, NULL, 0);
        if (!e || bpf_probe_read_kernel_str(ev->exe, sizeof(ev->exe), e->exe) < 0)
                ev->exe[0] = 0;
        if (!ring) {
                /* Complete: user space may take it. An atomic (64 bits: kind
                 * and pad), so that it is seen after everything above. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                __sync_fetch_and_or((__u64 *) &ev->kind, (__u64) TRACKER_FOLD_DONE << 32);
#else
                __sync_fetch_and_or((__u64 *) &ev->kind, (__u64) TRACKER_FOLD_DONE);
#endif
                return;
        }
        /* Wake the reader only when the buffer is filling up (an eighth
         * full: in a fork storm it then drains long before it is full);
         * user space consumes at every sample anyway. */
        if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 8)
                flags = BPF_RB_FORCE_WAKEUP;
        bpf_ringbuf_submit(ev, flags);
}

static __always_inline void fill_group_rec(struct task_struct *task, struct tracker_seen *ls, struct tracker_group_rec *r) {
        r->kind = TRACKER_REC_GROUP;
        r->cpu_ns = ls->group_ns;
        r->base_ns = ls->base_ns;
        r->nvcsw = ls->group_nvcsw;
        r->base_nvcsw = ls->base_nvcsw;
        r->rss_pages = rss_pages(task);
        if (switch_enabled) {
                struct tracker_group_acct *g = group_acct(task, false);
                if (g)
                        r->acct = *g;
        }
        fill_ident(task, &r->id);
}

/* The storage of a thread and of its group leader, baselines taken.
 * Returns false if storage cannot be had (out of memory). */
static __always_inline bool storages(struct task_struct *task, struct tracker_seen **ret_st, struct tracker_seen **ret_ls) {
        struct task_struct *leader = task->group_leader;
        struct tracker_seen *st, *ls;

        st = bpf_task_storage_get(&seen, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!st)
                return false;
        ls = task == leader ? st : bpf_task_storage_get(&seen, leader, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!ls)
                return false;
        group_baseline(leader, ls);
        thread_baseline(task, st, ls);
        *ret_st = st;
        *ret_ls = ls;
        return true;
}

SEC("iter/task")
int tracker_iter(struct bpf_iter__task *ctx) {
        struct seq_file *seq = ctx->meta->seq;
        struct task_struct *task = ctx->task;
        struct tracker_seen *st, *ls;
        struct tracker_group_rec r = {};
        bool changed;

        if (!task)
                return 0;
        /* A dead thread group's final total comes from its exit event. */
        if (task->signal->live.counter == 0)
                return 0;
        if (switch_enabled)
                credit(task, BPF_CORE_READ(task, thread_info.cpu), 0);
        if (!storages(task, &st, &ls))
                return 0;
        changed = thread_account(task, st, ls);
        if (ls->dirty && task == task->group_leader) {
                ls->dirty = 0;
                changed = true;
        }
        if (!changed)
                return 0;
        ls->reported = 1;
        fill_group_rec(task, ls, &r);
        bpf_seq_write(seq, &r, sizeof(r));
        return 0;
}

/* Per-switch mode: count what task ran since it was last counted, and
 * publish its group's totals in `active` (its identity, the first time, as
 * an event). Updates go through bpf_map_update_elem(), under the bucket
 * lock, so that user space's lookup-and-delete never loses one. */
static __always_inline void account_active(struct task_struct *task) {
        struct tracker_seen *st, *ls;
        struct tracker_active a = {};
        __u32 tgid;

        if (!storages(task, &st, &ls))
                return;
        if (!thread_account(task, st, ls) && !ls->dirty)
                return;
        if (!ls->reported) {
                bool ring;
                struct tracker_exit_event *ev = reserve_event(task, TRACKER_EV_GROUP, &ring);
                if (!ev) {
                        ls->dirty = 1;
                        return;
                }
                ls->reported = 1;
                __builtin_memset(&ev->acct, 0, sizeof(ev->acct));
                ev->kind = TRACKER_EV_GROUP;
                ev->pad = 0;
                ev->cpu_ns = ls->group_ns;
                ev->nvcsw = ls->group_nvcsw;
                submit_event(ev, task, ring);
        }
        tgid = task->tgid;
        a.start_time_ns = task->group_leader->start_boottime;
        a.cpu_ns = ls->group_ns;
        a.base_ns = ls->base_ns;
        a.nvcsw = ls->group_nvcsw;
        a.base_nvcsw = ls->base_nvcsw;
        a.rss_pages = rss_pages(task);
        if (bpf_map_update_elem(&active, &tgid, &a, BPF_ANY) < 0) {
                ls->dirty = 1;          /* the iterator writes it */
                active_full = 1;
                return;
        }
        ls->dirty = 0;
}

/* Per-switch mode: the switched-out task. Every TRACKER_BUSY_SWITCHES
 * switches on a CPU, check the rate: too fast, and user space is told to
 * go back to walking the tasks once per interval. */
SEC("tp_btf/sched_switch")
int BPF_PROG(tracker_activity, bool preempt, struct task_struct *prev, struct task_struct *next) {
        struct switch_rate *sr;
        __u32 zero = 0;

        sr = bpf_map_lookup_elem(&rate, &zero);
        if (sr && ++sr->count >= TRACKER_BUSY_SWITCHES) {
                __u64 now = bpf_ktime_get_ns();

                if (sr->since_ns && now - sr->since_ns < busy_window_ns && !busy_sent) {
                        struct tracker_busy_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
                        if (ev) {
                                busy_sent = 1;
                                ev->kind = TRACKER_EV_BUSY;
                                ev->cpu = bpf_get_smp_processor_id();
                                ev->window_ns = now - sr->since_ns;
                                bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
                        }
                }
                sr->count = 0;
                sr->since_ns = now;
        }
        if (prev->pid == 0)
                return 0;   /* the idle task */
        account_active(prev);
        return 0;
}

/* Per-switch mode: a timer on each CPU, once per interval, counts the task
 * running there (one that never switches out would otherwise wait). */
SEC("perf_event")
int tracker_tick(void *ctx) {
        struct task_struct *task = bpf_get_current_task_btf();

        if (task->pid == 0)
                return 0;
        account_active(task);
        return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tracker_switch, bool preempt, struct task_struct *prev, struct task_struct *next) {
        __u32 cpu = bpf_get_smp_processor_id();
        __u64 cycles = 0;

        if (cycles_enabled) {
                struct bpf_perf_event_value v = {};
                __u32 zero = 0;
                __u64 *last = bpf_map_lookup_elem(&cycles_last, &zero);

                if (last && bpf_perf_event_read_value(&cycles_pmu, BPF_F_CURRENT_CPU, &v, sizeof(v)) == 0) {
                        if (*last && v.counter > *last)
                                cycles = v.counter - *last;
                        *last = v.counter;
                }
        }
        if (BPF_CORE_READ(prev, pid) == 0)
                return 0;   /* the idle task */
        credit(prev, cpu, cycles);
        return 0;
}

/* An exec from a thread that is not the group leader: the thread has taken
 * the leader's place (its pid and start time), and its own storage now
 * holds the group's counters. Every other thread is released by now, its
 * runtime in signal->sum_sched_runtime: the group's counted total is that
 * plus what was counted of this thread, so the totals go on without a dip. */
static __always_inline void exec_from_thread(struct task_struct *p) {
        struct tracker_leader_base *lb;
        struct tracker_seen *st;
        __u32 tgid = p->tgid;

        st = bpf_task_storage_get(&seen, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!st)
                return;
        /* Every thread from before load was seen by the first walk: one not
         * seen yet started after it, and all its runtime is ours. */
        st->thread_init = 1;
        st->group_ns = p->signal->sum_sched_runtime + st->last_ns;
        st->group_nvcsw = p->signal->nvcsw + st->last_nvcsw;
        lb = bpf_map_lookup_elem(&leader_bases, &tgid);
        if (lb && lb->start_time_ns == p->start_boottime) {
                st->base_ns = lb->base_ns;
                st->base_nvcsw = lb->base_nvcsw;
                bpf_map_delete_elem(&leader_bases, &tgid);
        } else if (before_load(p)) {
                /* The base is not known: all of it, rather than count the
                 * group's time from before load as ours. */
                st->base_ns = st->group_ns;
                st->base_nvcsw = st->group_nvcsw;
        } else
                st->base_ns = st->base_nvcsw = 0;
        st->group_init = 1;
        st->reported = 0;   /* per-switch mode: its identity again */
        st->dirty = 1;      /* written at the next round */
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tracker_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        struct tracker_exe *e;
        const char *filename;

        if (old_pid != p->pid)
                exec_from_thread(p);

        e = bpf_task_storage_get(&exes, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!e)
                return 0;
        filename = BPF_CORE_READ(bprm, filename);
        if (!filename || bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), filename) < 0)
                e->exe[0] = 0;
        return 0;
}

/* The group's last thread is exiting (group_dead): its counters now, without
 * waiting for the parent to reap it and for an RCU grace period. What runs
 * after this point (exit_mm, exit_files, ...) comes with the free event. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(tracker_exit, struct task_struct *p, bool group_dead) {
        struct tracker_exit_event *ev;
        bool ring;
        struct task_struct *leader;
        struct tracker_group_acct *g;

        if (!group_dead) {
                /* A thread leaves a live group: count what it ran since the last
                 * round now (what it runs from here on reaches the group's
                 * total at the group's exit). */
                struct tracker_seen *st, *ls;

                if (!storages(p, &st, &ls))
                        return 0;
                if (thread_account(p, st, ls))
                        ls->dirty = 1;
                if (p == p->group_leader && (ls->base_ns || ls->base_nvcsw)) {
                        /* The leader leaves first: an exec from another
                         * thread may take its place, with storage of its own. */
                        struct tracker_leader_base lb = {
                                .start_time_ns = p->start_boottime,
                                .base_ns = ls->base_ns,
                                .base_nvcsw = ls->base_nvcsw,
                        };
                        __u32 tgid = p->tgid;
                        bpf_map_update_elem(&leader_bases, &tgid, &lb, BPF_ANY);
                }
                return 0;
        }
        ev = reserve_event(p, TRACKER_EV_EXIT, &ring);
        if (!ev)
                return 0;
        __builtin_memset(&ev->acct, 0, sizeof(ev->acct));
        ev->kind = TRACKER_EV_EXIT;
        ev->pad = 0;
        ev->cpu_ns = BPF_CORE_READ(p, signal, sum_sched_runtime) + BPF_CORE_READ(p, se.sum_exec_runtime);
        ev->nvcsw = BPF_CORE_READ(p, signal, nvcsw) + BPF_CORE_READ(p, nvcsw);
        leader = BPF_CORE_READ(p, group_leader);
        if (leader && leader != p) {
                /* A zombie leader is not released yet: its runtime is its own. */
                ev->cpu_ns += BPF_CORE_READ(leader, se.sum_exec_runtime);
                ev->nvcsw += BPF_CORE_READ(leader, nvcsw);
        }
        if (switch_enabled) {
                g = group_acct(p, false);
                if (g)
                        ev->acct = *g;
        }
        submit_event(ev, p, ring);
        return 0;
}

/* Fires from delayed_put_task_struct(), after release_task(): the task's
 * runtime is final and __exit_signal() has added every thread's runtime
 * and context switches, the leader's included, to signal->sum_sched_runtime
 * and signal->nvcsw. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(tracker_free, struct task_struct *p) {
        struct tracker_exit_event *ev;
        bool ring;
        struct tracker_group_acct *g;
        __u32 tgid;

        if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid))
                return 0;

        ev = reserve_event(p, TRACKER_EV_FREE, &ring);
        if (!ev)
                return 0;
        __builtin_memset(&ev->acct, 0, sizeof(ev->acct));
        ev->kind = TRACKER_EV_FREE;
        ev->pad = 0;
        ev->cpu_ns = BPF_CORE_READ(p, signal, sum_sched_runtime);
        ev->nvcsw = BPF_CORE_READ(p, signal, nvcsw);
        if (switch_enabled) {
                g = group_acct(p, false);
                if (g) {
                        ev->acct = *g;
                        tgid = BPF_CORE_READ(p, tgid);
                        bpf_map_delete_elem(&groups, &tgid);
                }
        }
        submit_event(ev, p, ring);
        return 0;
}
