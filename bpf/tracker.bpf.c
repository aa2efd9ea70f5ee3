// SPDX-License-Identifier: GPL-2.0-or-later
/* The process tracker's kernel side: CPU time, voluntary switches, resident
 * memory and identity of each thread group, counted by two ways of reading
 * CPU time (user space picks one per interval) and sent on exit.
 *  - tracker_walk_tasks (iter/task), the task walk: run once per sample by
 *    user space. Each thread's runtime and voluntary switches since the last
 *    round are added to its group's totals (kept in the leader's task
 *    storage); only groups that changed are written out, so an idle process
 *    costs one look and no output;
 *  - tracker_count_switch (tp_btf/sched_switch), per-switch mode: counts the
 *    switched-out thread the same way and publishes its group's totals in
 *    `active`; attached by user space only in that mode;
 *  - tracker_count_tick (perf_event, a timer per CPU), per-switch mode:
 *    counts the thread running there, which may never switch out;
 *  - tracker_split_pkgs (tp_btf/sched_switch; autoload off unless the host
 *    needs it: more than one package, or hardware cycle counters): the
 *    switched-out thread's runtime since it was last split, added to its
 *    group's CPU time on that CPU's package, and the cycles it used;
 *  - tracker_note_exe (tp_btf/sched_process_exec): remembers the exec'd file
 *    name in task storage;
 *  - tracker_send_exit (tp_btf/sched_process_exit): counts a thread that
 *    leaves a live group; as the group's last thread exits, sends the
 *    group's counters (early figures: they reach user space in the interval
 *    the process ended, and stand in if the free event never comes);
 *  - tracker_send_final (tp_btf/sched_process_free): sends a thread group's
 *    final counters, so processes shorter than one interval are not lost.
 * Events go through one ring buffer (tracker.h: TRACKER_EV_*).
 *
 * Kernel structs are read with direct loads (task->signal->nvcsw): every
 * pointer here is BTF-typed (tp_btf arguments, the iterator's ctx->task,
 * bpf_get_current_task_btf() and the pointers reached from them), so the
 * verifier checks each load against BTF and a load that faults reads 0, as
 * BPF_CORE_READ() would, without its helper call per field; these programs
 * run per task walked and per context switch, where those calls cost more
 * than the rest. Offsets are relocated (CO-RE) either way: vmlinux.h marks
 * its structs preserve_access_index. BPF_CORE_READ() is for pointers that
 * are not BTF-typed (from a kprobe, a raw tracepoint, a probe-read); none at
 * present. Strings are copied with bpf_probe_read_kernel_str(). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tracker.bpf.h"
#include "tracker.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 switch_enabled = 0;    /* tracker_split_pkgs is loaded: `groups` is filled */
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

        id->tgid = task->tgid;
        id->ppid = task->real_parent->tgid;
        id->uid = task->cred->uid.val;
        id->flags = (task->flags & PF_KTHREAD) ? TRACKER_FLAG_KTHREAD : 0;
        id->start_time_ns = task->group_leader->start_boottime;
        kn = task->cgroups->dfl_cgrp->kn;
        id->cgroup_id = kn ? kn->id : 0;
        name = kn ? kn->name : NULL;
        if (!name || bpf_probe_read_kernel_str(id->unit, sizeof(id->unit), name) < 0)
                id->unit[0] = 0;
        bpf_probe_read_kernel_str(id->comm, sizeof(id->comm), task->group_leader->comm);
}

static __always_inline bool before_load(struct task_struct *t) {
        return t->start_boottime < load_boottime_ns;
}

/* The first look at a group (its leader's storage ls): what its released
 * threads ran before we were loaded is its base, not ours. */
static __always_inline void group_baseline(struct task_struct *leader, struct tracker_seen *ls) {
        __u64 ns, nv;

        if (ls->group_init || __sync_val_compare_and_swap(&ls->group_init, 0, 1) != 0)
                return;
        if (!before_load(leader))
                return;
        ns = leader->signal->sum_sched_runtime;
        nv = leader->signal->nvcsw;
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
                ns = t->se.sum_exec_runtime;
                nv = t->nvcsw;
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

        d = take_delta(&st->last_ns, t->se.sum_exec_runtime);
        dn = take_delta(&st->last_nvcsw, t->nvcsw);
        if (d)
                __sync_fetch_and_add(&ls->group_ns, d);
        if (dn)
                __sync_fetch_and_add(&ls->group_nvcsw, dn);
        return d || dn;
}

/* t's group's package split in `groups` (keyed by tgid; a different start
 * time is an older group's entry), created if create. NULL if there is none
 * or the map is full. */
static __always_inline struct tracker_group_acct *group_acct(struct task_struct *t, bool create) {
        __u32 tgid = t->tgid;
        __u64 start = t->group_leader->start_boottime;
        struct tracker_group_acct *g, init = {};

        g = bpf_map_lookup_elem(&groups, &tgid);
        if (g && g->start_time_ns == start)
                return g;
        if (!create)
                return NULL;
        /* A reused tgid whose free event was lost (ring buffer full): the
         * old group's entry goes. Two CPUs meeting the same stale entry at
         * once can still drop one credit here; that takes a lost event and
         * a reused tgid first. */
        if (g)
                bpf_map_delete_elem(&groups, &tgid);
        init.start_time_ns = start;
        g = map_lookup_or_try_init(&groups, &tgid, &init);
        return g && g->start_time_ns == start ? g : NULL;
}

/* Add t's runtime since it was last split to its group, on the package of
 * cpu. The compare-and-swap makes tracker_split_pkgs and the task walk
 * (which splits threads that are running right now) never count twice. */
static __always_inline void credit(struct task_struct *t, __u32 cpu, __u64 cycles) {
        struct tracker_thread_acct *st;
        struct tracker_group_acct *g;
        __u64 sum, old;
        __u32 *pkgp, pkg = 0;

        st = bpf_task_storage_get(&thread_acct, t, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!st)
                return;
        sum = t->se.sum_exec_runtime;
        old = st->last_sum;
        if (old == 0 && before_load(t)) {
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

static __always_inline void count_lost(__u32 slot) {
        __u64 *n = bpf_map_lookup_elem(&lost, &slot);

        if (n)
                __sync_fetch_and_add(n, 1);
}

/* Room for an event of p's group: in the ring buffer (*ring true), or where
 * the buffer is full, in `folded` (*ring false), which user space drains
 * after the buffer at every read. NULL (counted as lost) when neither has
 * room. */
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
        /* Folded in the kernel: an event of this group still waiting here
         * that this one supersedes (its identity and counters are in this
         * one, newer) makes room for it, so that a storm holds one element
         * per process here, not two or three, and user space reads each
         * process once. A copy user space has already taken is harmless:
         * the events come in the order they would have come anyway. */
        if (kind != TRACKER_EV_GROUP) {
                struct tracker_fold_key old = k;

                old.kind = TRACKER_EV_GROUP;
                bpf_map_delete_elem(&folded, &old);
                if (kind == TRACKER_EV_FREE) {
                        old.kind = TRACKER_EV_EXIT;
                        bpf_map_delete_elem(&folded, &old);
                }
        }
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

/* A thread group's counters to user space through the ring buffer, with its
 * identity, its before-load base and its exe: kind TRACKER_EV_EXIT (its last
 * thread exits), TRACKER_EV_FREE (final) or TRACKER_EV_GROUP (per-switch
 * mode: first sight of it). g is its package split, or NULL. Returns false
 * when the buffer is full (counted in `lost`). */
static __always_inline bool send_group_event(struct task_struct *p, __u32 kind, __u64 cpu_ns, __u64 nvcsw,
                                             const struct tracker_group_acct *g) {
        struct tracker_exit_event *ev;
        struct tracker_exe *e;
        struct tracker_seen *ls;
        __u64 flags = BPF_RB_NO_WAKEUP;
        bool ring;

        ev = reserve_event(p, kind, &ring);
        if (!ev)
                return false;
        ev->kind = kind;
        ev->pad = 0;
        ev->cpu_ns = cpu_ns;
        ev->nvcsw = nvcsw;
        if (g)
                ev->acct = *g;
        else
                __builtin_memset(&ev->acct, 0, sizeof(ev->acct));
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
                return true;
        }
        /* Wake the reader only when the buffer is filling up (an eighth
         * full: in a fork storm it then drains long before it is full);
         * user space consumes at every sample anyway. */
        if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 8)
                flags = BPF_RB_FORCE_WAKEUP;
        bpf_ringbuf_submit(ev, flags);
        return true;
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

/* The task walk: run by user space's read() of the iterator, once per
 * sample in walk mode (in per-switch mode, when `active` was full); writes
 * one record per group that changed. */
SEC("iter/task")
int tracker_walk_tasks(struct bpf_iter__task *ctx) {
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
                credit(task, task->thread_info.cpu, 0);
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

        /* A dead thread group's final total comes from its exit and free
         * events (as in the task walk): its last switch (after
         * sched_process_exit) sends no identity of its own, so a short
         * process costs two events, not three. */
        if (task->signal->live.counter == 0)
                return;
        if (!storages(task, &st, &ls))
                return;
        if (!thread_account(task, st, ls) && !ls->dirty)
                return;
        if (!ls->reported) {
                if (!send_group_event(task, TRACKER_EV_GROUP, ls->group_ns, ls->group_nvcsw, NULL)) {
                        ls->dirty = 1;
                        return;
                }
                ls->reported = 1;
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
int BPF_PROG(tracker_count_switch, bool preempt, struct task_struct *prev, struct task_struct *next) {
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
int tracker_count_tick(void *ctx) {
        struct task_struct *task = bpf_get_current_task_btf();

        if (task->pid == 0)
                return 0;
        account_active(task);
        return 0;
}

/* The package split (loaded only where the host needs it: several packages,
 * or cycle counters): the switched-out thread's runtime since it was last
 * split goes to its group's CPU time on this CPU's package, with the cycles
 * this CPU counted since its previous switch. */
SEC("tp_btf/sched_switch")
int BPF_PROG(tracker_split_pkgs, bool preempt, struct task_struct *prev, struct task_struct *next) {
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
        if (prev->pid == 0)
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

/* The file name given to exec, kept in the task's storage for its events. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(tracker_note_exe, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        struct tracker_exe *e;
        const char *filename;

        if (old_pid != p->pid)
                exec_from_thread(p);

        e = bpf_task_storage_get(&exes, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!e)
                return 0;
        filename = bprm->filename;
        if (!filename || bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), filename) < 0)
                e->exe[0] = 0;
        return 0;
}

/* A thread leaves a live group: what it ran since the last round is counted
 * now (what it runs from here on reaches the group's total at the group's
 * exit), and the group is written out at the next round. */
static __always_inline void account_thread_exit(struct task_struct *p) {
        struct tracker_seen *st, *ls;

        if (!storages(p, &st, &ls))
                return;
        if (thread_account(p, st, ls))
                ls->dirty = 1;
        if (p == p->group_leader && (ls->base_ns || ls->base_nvcsw)) {
                /* The leader leaves first: an exec from another thread may
                 * take its place, with storage of its own. */
                struct tracker_leader_base lb = {
                        .start_time_ns = p->start_boottime,
                        .base_ns = ls->base_ns,
                        .base_nvcsw = ls->base_nvcsw,
                };
                __u32 tgid = p->tgid;
                bpf_map_update_elem(&leader_bases, &tgid, &lb, BPF_ANY);
        }
}

/* A thread exits. If it is its group's last (group_dead), the group's
 * counters now, without waiting for the parent to reap it and for an RCU
 * grace period. What runs after this point (exit_mm, exit_files, ...) comes
 * with the free event. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(tracker_send_exit, struct task_struct *p, bool group_dead) {
        struct task_struct *leader = p->group_leader;
        __u64 cpu_ns, nvcsw;

        if (!group_dead) {
                account_thread_exit(p);
                return 0;
        }
        cpu_ns = p->signal->sum_sched_runtime + p->se.sum_exec_runtime;
        nvcsw = p->signal->nvcsw + p->nvcsw;
        if (leader && leader != p) {
                /* A zombie leader is not released yet: its runtime is its own. */
                cpu_ns += leader->se.sum_exec_runtime;
                nvcsw += leader->nvcsw;
        }
        send_group_event(p, TRACKER_EV_EXIT, cpu_ns, nvcsw, switch_enabled ? group_acct(p, false) : NULL);
        return 0;
}

/* Fires from delayed_put_task_struct(), after release_task(): the task's
 * runtime is final and __exit_signal() has added every thread's runtime
 * and context switches, the leader's included, to signal->sum_sched_runtime
 * and signal->nvcsw. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(tracker_send_final, struct task_struct *p) {
        struct tracker_group_acct *g;
        __u32 tgid = p->tgid;

        if (p->pid != tgid)
                return 0;
        g = switch_enabled ? group_acct(p, false) : NULL;
        if (send_group_event(p, TRACKER_EV_FREE, p->signal->sum_sched_runtime, p->signal->nvcsw, g) && g)
                bpf_map_delete_elem(&groups, &tgid);
        return 0;
}
