/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BPF back-end of the process tracker: a task iterator walked once per
 * sample, and a ring buffer of exit events (see bpf/tracker.bpf.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/tracker.h"
#include "cleanup.h"
#include "hashmap.h"
#include "log.h"
#include "tracker-internal.h"
#include "tracker.skel.h"
#include "util.h"

struct TrackerBpf {
        struct tracker_bpf *skel;
        struct ring_buffer *rb;
        Tracker *consumer;      /* set while consuming */
        int consume_error;
        uint8_t *buf;           /* iterator output, kept across samples */
        size_t buf_alloc;
        bool per_switch, cycles;
        int *perf_fds;          /* cycle counters, one per CPU (while loaded) */
        size_t n_perf_fds;
};

/* While probing, libbpf's warnings are only debug noise: the caller logs one
 * clear warning of its own if BPF cannot be used. */
static bool libbpf_quiet;

_Pragma("GCC diagnostic push")
_Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        char buf[1024];
        size_t n;

        vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        log_full_errno(level == LIBBPF_WARN && !libbpf_quiet ? LOG_WARNING : LOG_DEBUG, 0, "libbpf: %s", buf);
        return 0;
}
_Pragma("GCC diagnostic pop")

static size_t page_size(void) {
        static size_t ps;
        if (ps == 0) {
                long v = sysconf(_SC_PAGESIZE);
                ps = v > 0 ? (size_t) v : 4096;
        }
        return ps;
}

TrackerBpf *tracker_bpf_free(TrackerBpf *b) {
        if (!b)
                return NULL;
        ring_buffer__free(b->rb);
        tracker_bpf__destroy(b->skel);
        for (size_t i = 0; i < b->n_perf_fds; i++)
                if (b->perf_fds[i] >= 0)
                        close(b->perf_fds[i]);
        free(b->perf_fds);
        free(b->buf);
        free(b);
        return NULL;
}

static inline void tracker_bpf_freep(TrackerBpf **b) {
        tracker_bpf_free(*b);
}

static void acct_to_observation(const struct tracker_group_acct *a, TrackerObservation *o) {
        o->cycles = a->cycles;
        for (size_t k = 0; k < PROCESS_MAX_PKGS && k < TRACKER_MAX_PKGS; k++)
                o->pkg_ns[k] = a->pkg_ns[k];
}

static void ident_to_observation(const struct tracker_ident *id, TrackerObservation *o) {
        o->pid = id->tgid;
        o->ppid = id->ppid;
        o->uid = id->uid;
        o->start_time_ns = id->start_time_ns;
        o->cgroup_id = id->cgroup_id;
        o->comm = id->comm;
        o->unit = id->unit;
        o->kernel_thread = id->flags & TRACKER_FLAG_KTHREAD;
}

static int handle_exit(void *ctx, void *data, size_t size) {
        TrackerBpf *b = ctx;
        struct tracker_exit_event ev;
        TrackerObservation o = {};
        int r;

        if (size < sizeof(ev))
                return 0;
        memcpy(&ev, data, sizeof(ev));
        ev.id.comm[sizeof(ev.id.comm) - 1] = 0;
        ev.id.unit[sizeof(ev.id.unit) - 1] = 0;
        ev.exe[sizeof(ev.exe) - 1] = 0;
        ident_to_observation(&ev.id, &o);
        acct_to_observation(&ev.acct, &o);
        o.cpu_ns = ev.cpu_ns;
        o.nvcsw = ev.nvcsw;
        o.exe = ev.exe;
        if (ev.kind == TRACKER_EV_EXIT)
                r = tracker_observe_exiting(b->consumer, &o);
        else
                r = tracker_observe_exit(b->consumer, &o);
        if (r < 0) {
                b->consume_error = r;
                return r;   /* stops consuming */
        }
        return 0;
}

static char *reason_from(const char *what, int r) {
        char *s = NULL;
        int k;

        if (r == -EPERM || r == -EACCES)
                k = asprintf(&s, "%s: %s (needs root, or CAP_BPF and CAP_PERFMON)", what, strerror(-r));
        else
                k = asprintf(&s, "%s: %s", what, strerror(-r));
        return k < 0 ? NULL : s;
}

/* One CPU-cycles counter per CPU, counting everything on that CPU. All or
 * nothing: returns 0 with b->perf_fds filled, or negative errno (no PMU on
 * most VMs: ENOENT/EOPNOTSUPP). */
static int open_cycle_counters(TrackerBpf *b, size_t n_cpus) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_HARDWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_HW_CPU_CYCLES,
        };

        b->perf_fds = calloc(MAX(n_cpus, (size_t) 1), sizeof(int));
        if (!b->perf_fds)
                return -ENOMEM;
        for (size_t i = 0; i < n_cpus; i++)
                b->perf_fds[i] = -1;
        b->n_perf_fds = n_cpus;
        for (size_t i = 0; i < n_cpus; i++) {
                long fd = syscall(SYS_perf_event_open, &attr, -1, (int) i, -1, PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        int r = -errno;
                        for (size_t j = 0; j < i; j++) {
                                close(b->perf_fds[j]);
                                b->perf_fds[j] = -1;
                        }
                        return r;
                }
                b->perf_fds[i] = (int) fd;
        }
        return 0;
}

bool tracker_bpf_per_switch(const TrackerBpf *b) {
        return b->per_switch;
}

bool tracker_bpf_cycles(const TrackerBpf *b) {
        return b->cycles;
}

/* Open, size, load and attach; on failure *ret_what names the step. */
static int tracker_bpf_setup(TrackerBpf *b, const TrackerBpfOptions *opts, const char **ret_what) {
        int r;

        *ret_what = "cannot open the BPF object";
        b->skel = tracker_bpf__open();
        if (!b->skel)
                return errno > 0 ? -errno : -EIO;
        *ret_what = "cannot size the ring buffer";
        r = bpf_map__set_max_entries(b->skel->maps.events, opts->ringbuf_bytes);
        if (r < 0)
                return r;

        /* The switch program costs something on every context switch: only
         * where it buys something (several packages, or cycle counters). */
        b->per_switch = opts->per_switch;
        if (b->per_switch && opts->try_cycles && opts->n_cpus > 0) {
                r = open_cycle_counters(b, opts->n_cpus);
                if (r == -ENOMEM)
                        return r;
                b->cycles = r >= 0;
                if (r < 0)
                        log_debug_errno(r, "No CPU cycle counters (%m): attributing by CPU time.");
        }
        b->skel->rodata->switch_enabled = b->per_switch;
        b->skel->rodata->cycles_enabled = b->cycles;
        b->skel->rodata->load_boottime_ns = now_ns(CLOCK_BOOTTIME);
        if (b->cycles) {
                r = bpf_map__set_max_entries(b->skel->maps.cycles_pmu, (uint32_t) opts->n_cpus);
                if (r < 0)
                        return r;
        }
        *ret_what = "cannot configure the BPF programs";
        r = bpf_program__set_autoload(b->skel->progs.tracker_switch, b->per_switch);
        if (r < 0)
                return r;

        *ret_what = "cannot load the BPF programs";
        r = tracker_bpf__load(b->skel);
        if (r < 0)
                return r;

        if (b->per_switch) {
                *ret_what = "cannot fill the CPU to package map";
                for (size_t i = 0; i < opts->n_cpus && i < TRACKER_MAX_CPUS; i++) {
                        uint32_t cpu = (uint32_t) i, pkg;
                        if (!opts->cpu_pkg_index || opts->cpu_pkg_index[i] < 0)
                                continue;
                        pkg = (uint32_t) opts->cpu_pkg_index[i];
                        r = bpf_map_update_elem(bpf_map__fd(b->skel->maps.cpu_pkg), &cpu, &pkg, BPF_ANY);
                        if (r < 0)
                                return -errno;
                }
                for (size_t i = 0; b->cycles && i < b->n_perf_fds; i++) {
                        uint32_t cpu = (uint32_t) i;
                        r = bpf_map_update_elem(bpf_map__fd(b->skel->maps.cycles_pmu), &cpu, &b->perf_fds[i], BPF_ANY);
                        if (r < 0)
                                return -errno;
                }
        }
        /* Attaches the tracepoints and makes the iterator's link, once. */
        *ret_what = "cannot attach the BPF programs";
        r = tracker_bpf__attach(b->skel);
        if (r < 0)
                return r;
        *ret_what = "cannot open the ring buffer";
        b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), handle_exit, b, NULL);
        if (!b->rb)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

int tracker_bpf_new(const TrackerBpfOptions *opts, TrackerBpf **ret, char **ret_reason) {
        _cleanup_(tracker_bpf_freep) TrackerBpf *b = NULL;
        const char *what = NULL;
        int r;

        libbpf_set_print(libbpf_print);

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;

        libbpf_quiet = true;
        r = tracker_bpf_setup(b, opts, &what);
        libbpf_quiet = false;
        if (r < 0) {
                log_debug_errno(r, "BPF tracker: %s: %m", what);
                if (r != -ENOMEM)
                        *ret_reason = reason_from(what, r);
                return r;
        }
        *ret = TAKE_PTR(b);
        return 0;
}

int tracker_bpf_get_fd(const TrackerBpf *b) {
        return ring_buffer__epoll_fd(b->rb);
}

uint64_t tracker_bpf_lost(const TrackerBpf *b) {
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info), zero = 0;
        uint64_t n = 0;

        /* Reservations that failed (ring buffer full)... */
        if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lost), &zero, &n) < 0)
                n = 0;
        /* ...and runs the kernel skipped (the program was already running on that CPU). */
        if (bpf_obj_get_info_by_fd(bpf_program__fd(b->skel->progs.tracker_free), &info, &len) == 0)
                n += info.recursion_misses;
        memset(&info, 0, sizeof(info));
        len = sizeof(info);
        if (bpf_obj_get_info_by_fd(bpf_program__fd(b->skel->progs.tracker_exit), &info, &len) == 0)
                n += info.recursion_misses;
        return n;
}

int tracker_bpf_consume(TrackerBpf *b, Tracker *t) {
        int r;

        b->consumer = t;
        b->consume_error = 0;
        r = ring_buffer__consume(b->rb);
        b->consumer = NULL;
        if (b->consume_error < 0)
                return b->consume_error;
        return r;
}

/* Read the whole iterator output into b->buf. Returns its size or negative errno. */
static ssize_t iter_read(TrackerBpf *b) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = 0;

        fd = bpf_iter_create(bpf_link__fd(b->skel->links.tracker_iter));
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (b->buf_alloc - len < 4096) {
                        size_t a = b->buf_alloc ? b->buf_alloc * 2 : 64 * 1024;
                        uint8_t *p = realloc(b->buf, a);
                        if (!p)
                                return -ENOMEM;
                        b->buf = p;
                        b->buf_alloc = a;
                }
                n = read(fd, b->buf + len, b->buf_alloc - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* EAGAIN: the task list changed under the iterator; start over */
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        return (ssize_t) len;
}

typedef struct Group {
        const struct tracker_proc_rec *rec;
        uint64_t cpu_ns;
        uint64_t nvcsw;
} Group;

int tracker_bpf_scan(TrackerBpf *b, Tracker *t) {
        _cleanup_free_ Group *groups = NULL;
        Hashmap *by_tgid = NULL;
        size_t n_groups = 0, i = 0, off;
        ssize_t len;
        int r = 0;

        len = iter_read(b);
        if (len < 0)
                return len;

        /* Pass 1: count the leaders. Records are 8-byte aligned multiples. */
        for (off = 0; off + sizeof(uint32_t) <= (size_t) len;) {
                uint32_t kind;
                memcpy(&kind, b->buf + off, sizeof(kind));
                if (kind == TRACKER_REC_PROCESS) {
                        n_groups++;
                        off += sizeof(struct tracker_proc_rec);
                } else if (kind == TRACKER_REC_THREAD)
                        off += sizeof(struct tracker_thread_rec);
                else
                        return -EBADMSG;
        }
        if (off != (size_t) len)
                return -EBADMSG;

        groups = calloc(MAX(n_groups, (size_t) 1), sizeof(Group));
        by_tgid = hashmap_new();
        if (!groups || !by_tgid) {
                hashmap_free(by_tgid);
                return -ENOMEM;
        }

        /* Pass 2: leaders carry the group's released threads and their own runtime. */
        for (off = 0; off < (size_t) len;) {
                uint32_t kind;
                memcpy(&kind, b->buf + off, sizeof(kind));
                if (kind == TRACKER_REC_PROCESS) {
                        const struct tracker_proc_rec *p = (const void *) (b->buf + off);
                        groups[i].rec = p;
                        groups[i].cpu_ns = p->sum_exec_runtime + p->sig_sum_sched_runtime;
                        groups[i].nvcsw = p->nvcsw;
                        r = hashmap_put(by_tgid, (HashKey) { .a = p->id.tgid }, &groups[i]);
                        if (r == -ENOMEM)
                                goto finish;
                        i++;
                        off += sizeof(*p);
                } else
                        off += sizeof(struct tracker_thread_rec);
        }

        /* Pass 3: add the other live threads. */
        for (off = 0; off < (size_t) len;) {
                uint32_t kind;
                memcpy(&kind, b->buf + off, sizeof(kind));
                if (kind == TRACKER_REC_THREAD) {
                        const struct tracker_thread_rec *th = (const void *) (b->buf + off);
                        Group *g = hashmap_get(by_tgid, (HashKey) { .a = th->tgid });
                        if (g) {
                                g->cpu_ns += th->sum_exec_runtime;
                                g->nvcsw += th->nvcsw;
                        }
                        off += sizeof(*th);
                } else
                        off += sizeof(struct tracker_proc_rec);
        }

        for (i = 0; i < n_groups; i++) {
                struct tracker_ident id = groups[i].rec->id;
                TrackerObservation o = {};
                ProcessInfo *p;
                bool is_new;

                id.comm[sizeof(id.comm) - 1] = 0;
                id.unit[sizeof(id.unit) - 1] = 0;
                ident_to_observation(&id, &o);
                acct_to_observation(&groups[i].rec->acct, &o);
                o.cpu_ns = groups[i].cpu_ns;
                o.nvcsw = groups[i].nvcsw;
                o.rss_bytes = groups[i].rec->rss_pages * (uint64_t) page_size();
                p = tracker_observe_live(t, &o, &is_new);
                if (!p) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (is_new && !p->kernel_thread && !p->exe)
                        p->exe = tracker_read_exe(t, p->pid);
        }
        r = 0;
finish:
        hashmap_free(by_tgid);
        return r;
}
