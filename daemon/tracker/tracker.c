/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tracker core: the process table, identity (pid, start time) →
 * ProcessInfo, filled from what a back-end (tracker-backend.h) observes;
 * per-interval CPU deltas; the end of each process (exit, free, late free). */
#include "tracker.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "cgroup-util.h"
#include "cleanup.h"
#include "hashmap.h"
#include "log.h"
#include "tracker-backend.h"
#include "util.h"

/* An exited process whose free event has not come after this many rounds
 * (and that is no zombie) is finished with its exit-time counters. */
#define TRACKER_EXITING_ROUNDS_MAX 4
/* ...but its entry stays (hidden) this many more rounds, so that a free
 * event that comes late adds only what the exit-time counters missed,
 * instead of being taken for a new process and counted in full again. */
#define TRACKER_LATE_FREE_ROUNDS_MAX 600
/* Where the back-end reports only processes that ran (BPF), an entry not
 * seen for this many rounds is looked up in /proc, and dropped if gone (its
 * exit event never came). */
#define TRACKER_LIVENESS_ROUNDS 30
/* Lost exit events are logged at most this often (with the count since the
 * last warning). */
#define TRACKER_LOST_WARN_NS (60 * NSEC_PER_SEC)
/* The most of /proc/PID/cmdline that is kept. */
#define TRACKER_CMDLINE_MAX 4096

typedef struct TrackerEntry {
        ProcessInfo info;       /* first member: a ProcessInfo* is a TrackerEntry* */
        uint64_t pending_ns;    /* CPU time not yet handed out */
        uint64_t pending_wakeups, pending_cycles;
        uint64_t pending_pkg[PROCESS_MAX_PKGS];
        unsigned missed;        /* rounds not seen while not exited */
        bool exiting;           /* exit-time counters seen, the free event not yet */
        bool early_done;        /* exiting, no free event in time: its exit-time counters stood
                                 * (handed out as exited; the entry stays a while, for a late free event) */
        bool announced;         /* handed out as exited */
        bool reported;          /* exited and handed out: freed at the next sample */
        bool unit_from_path;    /* info.unit is the nearest .service/.scope of the cgroup path */
} TrackerEntry;

struct Tracker {
        const TrackerBackendOps *ops;
        TrackerBackend *backend;
        char *fallback_reason;
        char *proc_root;
        bool keep_cmdline;
        uint64_t start_boottime_ns;
        uint64_t generation;
        Hashmap *table;         /* (pid, start_time_ns) → TrackerEntry */
        Hashmap *by_pid;        /* (pid, 0) → newest TrackerEntry with that pid */
        Hashmap *cgroups;       /* (cgroup id, 0) → its path (char *), a cache */
        int cgroup_fd;          /* the cgroup v2 mount, for open_by_handle_at(); -1 if not open */
        char *cgroup_mount;     /* its mount point ("/sys/fs/cgroup", or ".../unified" on hybrid hosts) */
        ProcessDelta *out;
        size_t out_alloc;
        TrackerStats stats;
        uint64_t lost_warned;     /* exits_lost at the last warning */
        uint64_t lost_warned_ns;  /* CLOCK_MONOTONIC of the last warning (0: none yet) */
        bool last_sample;         /* tracker_sample_last(): losses since the last warning are said now */
};

static HashKey entry_key(const ProcessInfo *p) {
        return (HashKey) { .a = p->pid, .b = p->start_time_ns };
}

static HashKey pid_key(uint32_t pid) {
        return (HashKey) { .a = pid, .b = 0 };
}

static void entry_free(TrackerEntry *e) {
        if (!e)
                return;
        free(e->info.exe);
        free(e->info.unit);
        free(e->info.cgroup_path);
        free(e->info.slice);
        free(e->info.container_id);
        free(e->info.cmdline);
        free(e);
}

/* Keep path as the path of cgroup id; returns it, or NULL (out of memory).
 * The cache starts over when full: on a host where units come and go by the
 * thousand, jouled's memory stays flat (a path is read again when needed). */
#define CGROUP_CACHE_MAX 1024
static const char *cgroup_cache_put(Tracker *t, uint64_t id, char *path) {
        if (hashmap_size(t->cgroups) >= CGROUP_CACHE_MAX) {
                size_t state = 0;
                void *v;
                HashKey k;
                while (hashmap_iterate(t->cgroups, &state, &k, &v)) {
                        hashmap_remove(t->cgroups, k);
                        free(v);
                        state = 0;
                }
        }
        if (hashmap_put(t->cgroups, (HashKey) { .a = id }, path) < 0) {
                free(path);
                return NULL;
        }
        return path;
}

/* The path of cgroup id through a file handle on the cgroup mount: works
 * after the process is gone, as long as the cgroup is, but needs
 * CAP_DAC_READ_SEARCH (dropped after start-up). Allocated; NULL if unknown. */
static char *cgroup_path_by_handle(Tracker *t, uint64_t id) {
        union {
                struct file_handle fh;
                uint8_t space[sizeof(struct file_handle) + sizeof(uint64_t)];
        } h = {};
        char link[64], buf[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (t->cgroup_fd < 0)
                return NULL;
        h.fh.handle_bytes = sizeof(uint64_t);
        h.fh.handle_type = 0xfe;   /* FILEID_KERNFS */
        memcpy(h.fh.f_handle, &id, sizeof(id));
        fd = open_by_handle_at(t->cgroup_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, buf, sizeof(buf) - 1);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        /* The link names the mount's own path: keep what is below it. */
        size_t ml = t->cgroup_mount ? strlen(t->cgroup_mount) : 0;
        const char *rel = buf + (ml > 0 && strncmp(buf, t->cgroup_mount, ml) == 0 ? ml : 0);
        return strdup(*rel ? rel : "/");
}

/* The cgroup v2 path of process pid, from proc_root/PID/cgroup (readable
 * without privileges); its id is the inode number of its directory in the
 * cgroup mount, stat()ed (search permission only). The path is cached under
 * that id. Returns the cached path if its id is id, else NULL. */
static const char *cgroup_path_by_proc(Tracker *t, uint64_t id, uint32_t pid) {
        _cleanup_free_ char *buf = NULL, *path = NULL, *full = NULL;
        char file[PATH_MAX];
        const char *line, *cached;
        struct stat st;

        if (pid == 0 || !t->cgroup_mount)
                return NULL;
        if ((size_t) snprintf(file, sizeof(file), "%s/%u/cgroup", t->proc_root, pid) >= sizeof(file))
                return NULL;
        if (read_small_file(file, 64 * 1024, &buf) < 0)
                return NULL;
        for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, "0::", 3) == 0)
                        break;
        if (!line || !*line || line[3] != '/')
                return NULL;
        path = strndup(line + 3, strcspn(line + 3, "\n"));
        if (!path)
                return NULL;
        if (asprintf(&full, "%s%s", t->cgroup_mount, path) < 0) {
                full = NULL;
                return NULL;
        }
        if (stat(full, &st) < 0 || !S_ISDIR(st.st_mode))
                return NULL;
        cached = hashmap_get(t->cgroups, (HashKey) { .a = st.st_ino });
        if (!cached)
                cached = cgroup_cache_put(t, st.st_ino, TAKE_PTR(path));
        return (uint64_t) st.st_ino == id ? cached : NULL;
}

/* A cgroup v2 id (its kernfs node id) → its path, NULL when unknown.
 * Cached. By file handle where jouled may (before the privilege drop);
 * then from /proc: the process's own cgroup file, or, for a process already
 * gone, its parent's (a short-lived process is most often in its parent's
 * cgroup), each checked against the id. */
static const char *cgroup_path_of(Tracker *t, uint64_t id, uint32_t pid, uint32_t ppid) {
        const char *path;
        char *p;

        if (id == 0 || !t->cgroups)
                return NULL;
        path = hashmap_get(t->cgroups, (HashKey) { .a = id });
        if (path)
                return path;
        p = cgroup_path_by_handle(t, id);
        if (p)
                return cgroup_cache_put(t, id, p);
        path = cgroup_path_by_proc(t, id, pid);
        if (!path && ppid != pid)
                path = cgroup_path_by_proc(t, id, ppid);
        return path;
}

static int set_str(char **dst, const char *src) {
        char *n;

        if (streq_ptr(*dst, src))
                return 0;
        if (src) {
                n = strdup(src);
                if (!n)
                        return -ENOMEM;
        } else
                n = NULL;
        free(*dst);
        *dst = n;
        return 0;
}

/* The entry's cgroup path from its cgroup id, with the slice and container
 * id that path names (cgroup_path_parse()). Left as it was when unknown or
 * out of memory. */
static void entry_set_cgroup(Tracker *t, TrackerEntry *e) {
        _cleanup_(cgroup_info_done) CgroupInfo cg = {};
        const char *path = cgroup_path_of(t, e->info.cgroup_id, e->info.pid, e->info.ppid);
        char *n;

        if (!path || streq_ptr(path, e->info.cgroup_path))
                return;
        if (cgroup_path_parse(path, &cg) == -ENOMEM)
                return;
        n = strdup(path);
        if (!n)
                return;
        free(e->info.cgroup_path);
        e->info.cgroup_path = n;
        free(e->info.slice);
        e->info.slice = TAKE_PTR(cg.slice);
        free(e->info.container_id);
        e->info.container_id = TAKE_PTR(cg.container_id);
        /* The unit is the nearest .service/.scope of the path; the
         * back-ends' leaf name stands only where the path names none. */
        bool named = cg.unit;
        if (named || e->unit_from_path) {
                free(e->info.unit);
                e->info.unit = TAKE_PTR(cg.unit);
        }
        e->unit_from_path = named;
}

/* A unit name reported by a back-end: the cgroup's leaf directory. */
static int entry_set_leaf_unit(TrackerEntry *e, const char *unit) {
        if (!unit || !*unit || e->unit_from_path)
                return 0;
        return set_str(&e->info.unit, unit);
}

/* Unlink from both maps and free. */
static void entry_drop(Tracker *t, TrackerEntry *e) {
        hashmap_remove(t->table, entry_key(&e->info));
        if (hashmap_get(t->by_pid, pid_key(e->info.pid)) == e)
                hashmap_remove(t->by_pid, pid_key(e->info.pid));
        entry_free(e);
}


/* proc_root/PID/exe, resolved; NULL if unreadable. */
static char *read_exe(const Tracker *t, uint32_t pid) {
        char path[PATH_MAX], buf[PATH_MAX];
        ssize_t n;

        if ((size_t) snprintf(path, sizeof(path), "%s/%u/exe", t->proc_root, pid) >= sizeof(path))
                return NULL;
        n = readlink(path, buf, sizeof(buf) - 1);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}

/* proc_root/PID/cmdline, its NULs turned into spaces; NULL if unreadable or
 * empty (kernel threads, zombies). */
static char *read_cmdline(const Tracker *t, uint32_t pid) {
        char path[PATH_MAX], buf[TRACKER_CMDLINE_MAX];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if ((size_t) snprintf(path, sizeof(path), "%s/%u/cmdline", t->proc_root, pid) >= sizeof(path))
                return NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        while (n > 0 && buf[n - 1] == 0)
                n--;
        if (n == 0)
                return NULL;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == 0)
                        buf[i] = ' ';
        buf[n] = 0;
        return strdup(buf);
}

/* Cumulative counters only go up: a smaller reading (a thread released while
 * we read) waits until it is passed. A new entry's counters are a baseline,
 * unless the process started after we did (then all of it is ours). */
static void entry_count(Tracker *t, TrackerEntry *e, const TrackerObservation *o, bool is_new) {
        bool ours = !is_new || o->all_ours || o->start_time_ns > t->start_boottime_ns;
        ProcessInfo *p = &e->info;

#define COUNT(total, pending, value)                                    \
        do {                                                            \
                if (is_new) {                                           \
                        (total) = (value);                              \
                        if (ours)                                       \
                                (pending) = (value);                    \
                } else if ((value) > (total)) {                         \
                        (pending) += (value) - (total);                 \
                        (total) = (value);                              \
                }                                                       \
        } while (0)
        COUNT(p->cpu_ns_total, e->pending_ns, o->cpu_ns);
        COUNT(p->nvcsw_total, e->pending_wakeups, o->nvcsw);
        COUNT(p->cycles_total, e->pending_cycles, o->cycles);
        for (size_t k = 0; k < PROCESS_MAX_PKGS; k++)
                COUNT(p->pkg_ns_total[k], e->pending_pkg[k], o->pkg_ns[k]);
#undef COUNT
}

static TrackerEntry *entry_new(Tracker *t, const TrackerObservation *o) {
        TrackerEntry *e, *old;

        e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->info.pid = o->pid;
        e->info.ppid = o->ppid;
        e->info.uid = o->uid;
        e->info.start_time_ns = o->start_time_ns;
        e->info.cgroup_id = o->cgroup_id;
        e->info.kernel_thread = o->kernel_thread;
        strscpy(e->info.comm, sizeof(e->info.comm), o->comm ?: "");
        if (entry_set_leaf_unit(e, o->unit) < 0 ||
            (o->exe && *o->exe && set_str(&e->info.exe, o->exe) < 0) ||
            hashmap_put(t->table, entry_key(&e->info), e) < 0) {
                entry_free(e);
                return NULL;
        }
        entry_set_cgroup(t, e);
        old = hashmap_get(t->by_pid, pid_key(o->pid));
        if (old)
                hashmap_remove(t->by_pid, pid_key(o->pid));
        if (hashmap_put(t->by_pid, pid_key(o->pid), e) < 0) {
                hashmap_remove(t->table, entry_key(&e->info));
                entry_free(e);
                return NULL;
        }
        return e;
}

/* A live process was seen in this round. Returns 1 when its entry was
 * created now, 0 when it was known, or -ENOMEM. */
static int observe_live(Tracker *t, const TrackerObservation *o) {
        TrackerEntry *e;

        e = hashmap_get(t->table, (HashKey) { .a = o->pid, .b = o->start_time_ns });
        if (!e) {
                e = entry_new(t, o);
                if (!e)
                        return -ENOMEM;
                /* CPU time from before we started measuring is not ours to attribute. */
                entry_count(t, e, o, true);
                e->info.rss_bytes = o->rss_bytes;
                e->info.generation = t->generation;
                if (!e->info.kernel_thread) {
                        if (!e->info.exe)
                                e->info.exe = read_exe(t, e->info.pid);
                        if (t->keep_cmdline)
                                e->info.cmdline = read_cmdline(t, e->info.pid);
                }
                return 1;
        }
        if (e->info.exited)
                return 0;   /* cannot happen (the iterator skips dead groups); ignore */

        /* Counters can go backwards when a thread is released while we read:
         * keep the larger baseline and wait until it is passed. */
        entry_count(t, e, o, false);
        e->info.rss_bytes = o->rss_bytes;
        e->info.generation = t->generation;
        e->missed = 0;
        e->info.ppid = o->ppid;
        if (o->uid != TRACKER_UID_UNKNOWN)
                e->info.uid = o->uid;
        if (o->cgroup_id && o->cgroup_id != e->info.cgroup_id) {
                e->info.cgroup_id = o->cgroup_id;
                entry_set_cgroup(t, e);
        }
        if (entry_set_leaf_unit(e, o->unit) < 0)
                return -ENOMEM;
        if (o->comm && strncmp(o->comm, e->info.comm, sizeof(e->info.comm) - 1) != 0) {
                /* exec'd something else: the exe changed too */
                strscpy(e->info.comm, sizeof(e->info.comm), o->comm);
                if (!e->info.kernel_thread) {
                        free(e->info.exe);
                        e->info.exe = read_exe(t, o->pid);
                }
        }
        return 0;
}

/* Identity read by the back-end for a process just created by observe_live(). */
static int observe_identity(Tracker *t, const TrackerObservation *o) {
        TrackerEntry *e = hashmap_get(t->table, (HashKey) { .a = o->pid, .b = o->start_time_ns });

        if (!e)
                return 0;
        if (o->uid != TRACKER_UID_UNKNOWN)
                e->info.uid = o->uid;
        if (entry_set_leaf_unit(e, o->unit) < 0)
                return -ENOMEM;
        if (o->exe && *o->exe && set_str(&e->info.exe, o->exe) < 0)
                return -ENOMEM;
        return 0;
}

/* New cumulative counters of a known live process (all ours). Returns 1, or
 * 0 if the process is unknown. */
static int observe_counters(Tracker *t, const TrackerObservation *o) {
        TrackerEntry *e = hashmap_get(t->table, (HashKey) { .a = o->pid, .b = o->start_time_ns });
        TrackerObservation c = { .pid = o->pid, .start_time_ns = o->start_time_ns, .cpu_ns = o->cpu_ns, .nvcsw = o->nvcsw };

        if (!e)
                return 0;
        if (e->info.exited)
                return 1;
        /* Keep what only the package-split program counts. */
        c.cycles = e->info.cycles_total;
        memcpy(c.pkg_ns, e->info.pkg_ns_total, sizeof(c.pkg_ns));
        entry_count(t, e, &c, false);
        if (!e->exiting)
                e->info.rss_bytes = o->rss_bytes;
        e->info.generation = t->generation;
        e->missed = 0;
        return 1;
}

/* The end of a process: its exit-time counters (final = false: the free
 * event may follow, with the final ones) or its final counters (final = true).
 * A process first seen here gets an entry with all of them. */
static int observe_end(Tracker *t, const TrackerObservation *o, bool final) {
        TrackerEntry *e;

        e = hashmap_get(t->table, (HashKey) { .a = o->pid, .b = o->start_time_ns });
        if (!e) {
                e = entry_new(t, o);
                if (!e)
                        return -ENOMEM;
                entry_count(t, e, o, true);
        } else {
                if (e->early_done) {
                        if (!final)
                                return 0;
                        /* The free event came after all, late: what the exit-time
                         * counters missed is handed out, then the entry goes. */
                        e->early_done = false;
                        e->announced = false;
                        if (t->stats.exits_early_only > 0)
                                t->stats.exits_early_only--;
                } else if (e->info.exited)
                        return 0;
                entry_count(t, e, o, false);
                /* The kernel's exec file name is the name exec was given
                 * (maybe relative, or a symlink); /proc's exe is the resolved
                 * file. The kernel's is taken only where no exe was read
                 * since the last exec (the comm changed since): an exe label
                 * does not change at exit. */
                bool exec_since = o->comm && *o->comm &&
                                  strncmp(o->comm, e->info.comm, sizeof(e->info.comm) - 1) != 0;
                if ((!e->info.exe || exec_since) && o->exe && *o->exe && set_str(&e->info.exe, o->exe) < 0)
                        return -ENOMEM;
                if (o->comm && *o->comm)
                        strscpy(e->info.comm, sizeof(e->info.comm), o->comm);
        }
        e->info.rss_bytes = 0;
        if (final)
                e->info.exited = true;
        else {
                e->exiting = true;
                e->missed = 0;
        }
        return 0;
}

/* The observer callback given to the back-end: the only way in which what
 * it sees reaches the table. */
static int tracker_observe(void *userdata, TrackerEvent event, const TrackerObservation *o) {
        Tracker *t = userdata;

        assert(t);
        assert(o);
        switch (event) {
        case TRACKER_EVENT_LIVE:
                return observe_live(t, o);
        case TRACKER_EVENT_IDENTITY:
                return observe_identity(t, o);
        case TRACKER_EVENT_COUNTERS:
                return observe_counters(t, o);
        case TRACKER_EVENT_EXITING:
                return observe_end(t, o, false);
        case TRACKER_EVENT_FREED:
                t->stats.exits_seen++;
                return observe_end(t, o, true);
        default:
                return -EINVAL;
        }
}

static int tracker_consume(Tracker *t) {
        return t->ops->consume(t->backend);
}

void tracker_set_host_stat(Tracker *t, const ProcStat *st) {
        assert(t);
        if (t->ops->set_host_stat)
                t->ops->set_host_stat(t->backend, st);
}

static int tracker_scan(Tracker *t) {
        int r;

        t->generation++;
        r = t->ops->scan(t->backend);
        if (r < 0)
                t->stats.iter_errors++;
        return r;
}

typedef enum EntryState {
        ENTRY_GONE,
        ENTRY_ALIVE,
        ENTRY_ZOMBIE,   /* exited, not reaped yet: its free event comes when it is */
} EntryState;

/* Whether the process of an entry not seen lately is still there, from
 * /proc/PID/stat: same pid and a start time within a tick of ours. */
static EntryState entry_state(Tracker *t, const TrackerEntry *e) {
        char path[PATH_MAX], comm[PROCESS_COMM_MAX], state = 0;
        _cleanup_free_ char *buf = NULL;
        uint64_t flags, cpu, start, ours;
        uint32_t ppid;
        long tck = sysconf(_SC_CLK_TCK);

        if ((size_t) snprintf(path, sizeof(path), "%s/%u/stat", t->proc_root, e->info.pid) >= sizeof(path))
                return ENTRY_GONE;
        if (read_small_file(path, 4096, &buf) < 0)
                return ENTRY_GONE;
        if (tracker_procfs_parse_stat(buf, comm, &ppid, &flags, &cpu, &start, &state) < 0)
                return ENTRY_GONE;
        if (tck <= 0)
                tck = 100;
        ours = e->info.start_time_ns / (NSEC_PER_SEC / (uint64_t) tck);
        if (start + 1 < ours || start > ours + 1)
                return ENTRY_GONE;   /* the pid was reused */
        return state == 'Z' || state == 'X' ? ENTRY_ZOMBIE : ENTRY_ALIVE;
}

static void tracker_sweep(Tracker *t) {
        size_t state = 0;
        void *v;

        while (hashmap_iterate(t->table, &state, NULL, &v)) {
                TrackerEntry *e = v;

                if (e->early_done) {
                        if (++e->missed >= TRACKER_EXITING_ROUNDS_MAX + TRACKER_LATE_FREE_ROUNDS_MAX)
                                entry_drop(t, e);
                        continue;
                }
                if (e->info.exited || e->info.generation == t->generation)
                        continue;
                if (e->exiting) {
                        /* Its exit-time counters are in. The free event comes once
                         * the parent reaped it; if it never does (a zombie is still
                         * waited for), those counters are the final ones. */
                        if (entry_state(t, e) == ENTRY_ZOMBIE || ++e->missed < TRACKER_EXITING_ROUNDS_MAX)
                                continue;
                        t->stats.exits_early_only++;
                        e->early_done = true;
                        e->info.exited = true;   /* its end is handed out now */
                        continue;
                }
                if (t->ops->reports_only_active) {
                        /* Only what ran is reported: not seen means idle, most
                         * likely. Every TRACKER_LIVENESS_ROUNDS, ask /proc. */
                        if (++e->missed % TRACKER_LIVENESS_ROUNDS != 0)
                                continue;
                        if (entry_state(t, e) != ENTRY_GONE)
                                continue;
                }
                t->stats.vanished++;
                entry_drop(t, e);
        }
}

/* Processes that exited without exec carry their parent's exe. */
static void tracker_inherit_exe(Tracker *t, TrackerEntry *e) {
        TrackerEntry *parent;

        if (e->info.exe || e->info.kernel_thread || e->info.ppid == 0)
                return;
        parent = hashmap_get(t->by_pid, pid_key(e->info.ppid));
        if (!parent || !parent->info.exe || parent->info.start_time_ns > e->info.start_time_ns)
                return;
        e->info.exe = strdup(parent->info.exe);
}

/* Say in the log, not only in the stats, when exit events were lost: the
 * CPU time of those processes may be missing. Rate-limited, with counts;
 * at the last sample, whatever the rate limit held back. */
static void tracker_warn_lost(Tracker *t) {
        TrackerStats st = {};
        uint64_t now;

        t->ops->get_stats(t->backend, &st);
        if (st.exits_lost <= t->lost_warned)
                return;
        now = now_ns(CLOCK_MONOTONIC);
        if (t->lost_warned_ns != 0 && now - t->lost_warned_ns < TRACKER_LOST_WARN_NS && !t->last_sample)
                return;
        log_warning("Process tracker: %" PRIu64 " exit events lost %s (%" PRIu64 " in all; %" PRIu64
                    " more waited in the overflow map): processes ended faster than they could be read, "
                    "and the CPU time of some of them may be missing.",
                    st.exits_lost - t->lost_warned,
                    t->lost_warned_ns ? "since the last warning" : "so far", st.exits_lost, st.exits_folded);
        t->lost_warned = st.exits_lost;
        t->lost_warned_ns = now;
}

int tracker_sample(Tracker *t, ProcessDelta **ret, size_t *ret_n) {
        size_t state = 0, n = 0, size;
        void *v;
        int r;

        assert(t);
        assert(ret);
        assert(ret_n);
        /* Exited entries handed out last time go now. */
        while (hashmap_iterate(t->table, &state, NULL, &v)) {
                TrackerEntry *e = v;
                if (e->reported)
                        entry_drop(t, e);
        }

        r = tracker_consume(t);
        if (r < 0)
                log_debug_errno(r, "Failed to consume exit events, ignoring: %m");
        r = tracker_scan(t);
        if (r < 0)
                return r;
        /* Exits that came during the walk: a process seen alive by it may be
         * gone already, and its exit event says what it ran (and its exe). */
        r = tracker_consume(t);
        if (r < 0)
                log_debug_errno(r, "Failed to consume exit events, ignoring: %m");
        tracker_sweep(t);
        tracker_warn_lost(t);

        size = hashmap_size(t->table);
        if (size > t->out_alloc) {
                size_t a = MAX(size * 2, (size_t) 64);
                ProcessDelta *o = realloc(t->out, a * sizeof(*o));
                if (!o)
                        return -ENOMEM;
                t->out = o;
                t->out_alloc = a;
        }

        state = 0;
        while (hashmap_iterate(t->table, &state, NULL, &v)) {
                TrackerEntry *e = v;

                if (e->info.exited || e->exiting)
                        tracker_inherit_exe(t, e);
                else if (!e->info.exe && !e->info.kernel_thread && (e->pending_ns || e->pending_wakeups))
                        e->info.exe = read_exe(t, e->info.pid);   /* it was not readable when first seen */
                if (e->info.exited && !e->early_done)
                        e->reported = true;
                /* An exited process comes once more, with what is left (maybe
                 * nothing): its end is news too. */
                if (e->pending_ns == 0 && e->pending_wakeups == 0 && (!e->info.exited || e->announced))
                        continue;
                if (e->info.exited)
                        e->announced = true;
                ProcessDelta *d = &t->out[n++];
                *d = (ProcessDelta) {
                        .info = &e->info,
                        .cpu_ns = e->pending_ns,
                        .wakeups = e->pending_wakeups,
                        .cycles = e->pending_cycles,
                        .rss_bytes = e->info.exited ? 0 : e->info.rss_bytes,
                };
                memcpy(d->pkg_cpu_ns, e->pending_pkg, sizeof(d->pkg_cpu_ns));
                e->pending_ns = e->pending_wakeups = e->pending_cycles = 0;
                memset(e->pending_pkg, 0, sizeof(e->pending_pkg));
        }

        *ret = t->out;
        *ret_n = n;
        return 0;
}

bool tracker_per_package(const Tracker *t) {
        assert(t);
        return t->ops->per_package(t->backend);
}

AttributionBasis tracker_basis(const Tracker *t) {
        assert(t);
        return t->ops->basis(t->backend);
}

int tracker_sample_last(Tracker *t, ProcessDelta **ret, size_t *ret_n) {
        assert(t);
        if (t->ops->last_scan)
                t->ops->last_scan(t->backend);
        t->last_sample = true;
        return tracker_sample(t, ret, ret_n);
}

int tracker_force_per_switch(Tracker *t, bool on) {
        assert(t);
        if (!t->ops->force_per_switch)
                return -EOPNOTSUPP;
        return t->ops->force_per_switch(t->backend, on);
}

int tracker_process_events(Tracker *t) {
        assert(t);
        int r = tracker_consume(t);
        return r < 0 ? r : 0;
}

ProcessInfo *tracker_find(Tracker *t, uint32_t pid) {
        assert(t);
        TrackerEntry *e = hashmap_get(t->by_pid, pid_key(pid));
        return e ? &e->info : NULL;
}

void tracker_get_stats(const Tracker *t, TrackerStats *ret) {
        size_t state = 0, live = 0;
        void *v;

        assert(t);
        assert(ret);
        *ret = t->stats;
        while (hashmap_iterate(t->table, &state, NULL, &v))
                if (!((TrackerEntry *) v)->info.exited && !((TrackerEntry *) v)->early_done)
                        live++;
        ret->processes_tracked = live;
        t->ops->get_stats(t->backend, ret);
}

static const char *const accounting_names[] = {
        [TRACKER_ACCOUNTING_AUTO] = "auto",
        [TRACKER_ACCOUNTING_ITERATOR] = "iterator",
        [TRACKER_ACCOUNTING_PER_SWITCH] = "per-switch",
};

TrackerAccounting tracker_accounting_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(accounting_names); i++)
                if (strcmp(s, accounting_names[i]) == 0)
                        return (TrackerAccounting) i;
        return _TRACKER_ACCOUNTING_INVALID;
}

const char *tracker_accounting_to_string(TrackerAccounting a) {
        return a >= 0 && (size_t) a < ELEMENTSOF(accounting_names) ? accounting_names[a] : NULL;
}

TrackerMode tracker_mode(const Tracker *t) {
        assert(t);
        return t->ops->mode;
}

const char *tracker_mode_to_string(TrackerMode m) {
        switch (m) {
        case TRACKER_BPF:
                return "bpf";
        case TRACKER_PROCFS:
                return "procfs";
        default:
                return NULL;
        }
}

const char *tracker_fallback_reason(const Tracker *t) {
        assert(t);
        return t->fallback_reason;
}

int tracker_get_fd(const Tracker *t) {
        assert(t);
        return t->ops->get_fd(t->backend);
}

Tracker *tracker_free(Tracker *t) {
        size_t state = 0;
        void *v;

        if (!t)
                return NULL;
        if (t->table)
                while (hashmap_iterate(t->table, &state, NULL, &v))
                        entry_free(v);
        hashmap_free(t->table);
        hashmap_free(t->by_pid);
        state = 0;
        if (t->cgroups)
                while (hashmap_iterate(t->cgroups, &state, NULL, &v))
                        free(v);
        hashmap_free(t->cgroups);
        if (t->cgroup_fd >= 0)
                close(t->cgroup_fd);
        free(t->cgroup_mount);
        if (t->ops)
                t->ops->free(t->backend);
        free(t->out);
        free(t->proc_root);
        free(t->fallback_reason);
        free(t);
        return NULL;
}

static inline void tracker_freep(Tracker **t) {
        tracker_free(*t);
}

int tracker_new_with_backend(const TrackerConfig *cfg, const TrackerBackendOps *ops, Tracker **ret) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        TrackerMode force = cfg ? cfg->force_mode : _TRACKER_MODE_INVALID;
        TrackerBackendOptions bo = {
                .ringbuf_bytes = cfg && cfg->ringbuf_bytes ? cfg->ringbuf_bytes : TRACKER_RINGBUF_DEFAULT,
                .cpu_package = cfg ? cfg->cpu_package : NULL,
                .n_cpus = cfg && cfg->cpu_package ? cfg->n_cpus : 0,
                .per_switch = cfg ? cfg->per_switch : TRACKER_SWITCH_AUTO,
                .accounting = cfg ? cfg->accounting : TRACKER_ACCOUNTING_AUTO,
                .interval_ns = cfg && cfg->interval_ns ? cfg->interval_ns : NSEC_PER_SEC,
        };
        uint32_t rb = bo.ringbuf_bytes;
        int r;

        assert(ret);
        if (force != _TRACKER_MODE_INVALID && (force < 0 || force >= _TRACKER_MODE_MAX))
                return log_error_errno(-EINVAL, "Invalid tracker mode %d; accepted: bpf, procfs, or auto.", (int) force);
        if (rb < 4096 || (rb & (rb - 1)) != 0)
                return log_error_errno(-EINVAL, "Invalid tracker ring buffer size %u: must be a power of two of at least 4096 bytes.", rb);
        if (bo.accounting < 0 || bo.accounting >= _TRACKER_ACCOUNTING_MAX)
                return log_error_errno(-EINVAL, "Invalid tracker accounting %d; accepted: auto, iterator, per-switch.",
                                       (int) bo.accounting);

        t = calloc(1, sizeof(*t));
        if (!t)
                return log_oom();
        t->cgroup_fd = -1;
        t->proc_root = strdup(cfg && cfg->proc_root ? cfg->proc_root : "/proc");
        t->table = hashmap_new();
        t->by_pid = hashmap_new();
        t->cgroups = hashmap_new();
        if (!t->proc_root || !t->table || !t->by_pid || !t->cgroups)
                return log_oom();
        if (cgroup2_mount(NULL, &t->cgroup_mount) >= 0) /* none: cgroup paths stay unknown */
                t->cgroup_fd = open(t->cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        t->start_boottime_ns = now_ns(CLOCK_BOOTTIME);
        t->keep_cmdline = cfg && cfg->keep_cmdline;
        bo.proc_root = t->proc_root;
        bo.observer = (TrackerObserver) { .observe = tracker_observe, .userdata = t };

        if (ops) {
                _cleanup_free_ char *reason = NULL;

                r = ops->new(&bo, &t->backend, &reason);
                if (r < 0)
                        return log_error_errno(r, "Failed to start the %s process tracker (%s): %m",
                                               tracker_mode_to_string(ops->mode), reason ?: "no reason given");
                t->ops = ops;
        } else if (force != TRACKER_PROCFS) {
                _cleanup_free_ char *reason = NULL;

                r = tracker_bpf_ops.new(&bo, &t->backend, &reason);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0 && !reason) {
                        if (r == -EOPNOTSUPP && bo.accounting == TRACKER_ACCOUNTING_PER_SWITCH)
                                return log_error_errno(r, "Per-switch accounting needs a cpu-clock perf event on each CPU, "
                                                       "which cannot be opened here.");
                        return log_error_errno(r, "BPF process tracker unavailable: %m");
                }
                if (r < 0) {
                        if (force == TRACKER_BPF)
                                return log_error_errno(r, "BPF process tracker unavailable (%s).", reason);
                        log_warning("BPF process tracker unavailable (%s): falling back to /proc polling; "
                                    "processes shorter than one interval may be missed", reason);
                        t->fallback_reason = TAKE_PTR(reason);
                } else
                        t->ops = &tracker_bpf_ops;
        }
        if (!t->ops) {
                r = tracker_procfs_ops.new(&bo, &t->backend, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to start the /proc process tracker: %m");
                t->ops = &tracker_procfs_ops;
        }

        /* Baseline: what runs now was running before we measured. */
        r = tracker_scan(t);
        if (r < 0)
                return log_error_errno(r, "Failed to read the process list (%s): %m", tracker_mode_to_string(tracker_mode(t)));

        *ret = TAKE_PTR(t);
        return 0;
}

int tracker_new(const TrackerConfig *cfg, Tracker **ret) {
        return tracker_new_with_backend(cfg, NULL, ret);
}
