/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Helpers for BPF code only: map and counter idioms, and the kernel layouts
 * that changed across versions, each read through a local "flavour" of the
 * kernel's struct (the ___suffix is dropped when libbpf matches it against
 * the running kernel's BTF) and chosen at load time with
 * bpf_core_field_exists() / bpf_core_type_exists(). The branch a kernel does
 * not take is removed by the verifier, its unresolved reads with it.
 *
 * Include after vmlinux.h and <bpf/bpf_core_read.h>. */

#define PF_KTHREAD 0x00200000
#ifndef EEXIST
#define EEXIST 17
#endif

/* enum mm counter indexes (include/linux/mm_types_task.h), stable since 4.x. */
#define MM_FILEPAGES  0
#define MM_ANONPAGES  1
#define MM_SHMEMPAGES 3
#define MM_COUNTERS   4

/* Linux >= 6.2: one percpu_counter per kind of page. */
struct mm_struct___new {
        struct percpu_counter rss_stat[MM_COUNTERS];
} __attribute__((preserve_access_index));

/* Linux < 6.2: a struct of atomic counters (plus per-thread caches folded
 * in now and then, so the figure is approximate either way). */
struct mm_rss_stat___pre62 {
        atomic_long_t count[MM_COUNTERS];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
        struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

/* Resident pages (file + anon + shmem) of task's address space; 0 for a
 * kernel thread or one whose mm is gone. task must be a BTF-typed pointer:
 * the counters are read with direct loads, as this runs at every published
 * context switch in per-switch mode, where a probe-read helper call per
 * counter costs more than the rest. The percpu_counter's count is its
 * approximate total (per-CPU deltas not folded in yet are left out). */
static __always_inline __u64 rss_pages(struct task_struct *task) {
        struct mm_struct *mm = task->mm;
        __s64 tot;

        if (!mm)
                return 0;
        if (bpf_core_field_exists(((struct mm_struct___new *) mm)->rss_stat)) {
                struct mm_struct___new *m = (void *) mm;

                tot = m->rss_stat[MM_FILEPAGES].count + m->rss_stat[MM_ANONPAGES].count +
                      m->rss_stat[MM_SHMEMPAGES].count;
        } else if (bpf_core_type_exists(struct mm_rss_stat___pre62)) {
                struct mm_struct___pre62 *m = (void *) mm;

                tot = m->rss_stat.count[MM_FILEPAGES].counter + m->rss_stat.count[MM_ANONPAGES].counter +
                      m->rss_stat.count[MM_SHMEMPAGES].counter;
        } else
                return 0;
        return tot > 0 ? (__u64) tot : 0;
}

/* The value under key, created from *init if there is none. BPF_NOEXIST
 * then a second lookup: of two CPUs creating it at once, one inserts and
 * both get that one entry (BPF_ANY would let the second replace the first's
 * entry, and with it whatever was already added to it). NULL if the map is
 * full. */
static __always_inline void *map_lookup_or_try_init(void *map, const void *key, const void *init) {
        void *val;
        long err;

        val = bpf_map_lookup_elem(map, key);
        if (val)
                return val;
        err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
        if (err && err != -EEXIST)
                return NULL;
        return bpf_map_lookup_elem(map, key);
}

/* What a counter advanced since *last, claimed atomically: when two
 * programs look at the same thread at once, only one of them counts each
 * nanosecond. */
static __always_inline __u64 take_delta(__u64 *last, __u64 cur) {
        __u64 old = *last;

        if (cur <= old)
                return 0;
        if (__sync_val_compare_and_swap(last, old, cur) != old)
                return 0;
        return cur - old;
}
