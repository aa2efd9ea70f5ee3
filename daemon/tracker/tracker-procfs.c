/* SPDX-License-Identifier: GPL-2.0-or-later */
/* /proc back-end of the process tracker: polls proc_root/PID/stat. Used only
 * where BPF cannot load; processes shorter than one interval may be missed. */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "tracker-backend.h"
#include "util.h"

#define PF_KTHREAD 0x00200000

struct TrackerBackend {
        char *proc_root;
        uint64_t ns_per_tick;
        TrackerObserver observer;
};

int tracker_procfs_parse_stat(const char *buf, char comm[static PROCESS_COMM_MAX], uint32_t *ret_ppid,
                              uint64_t *ret_flags, uint64_t *ret_cpu_ticks, uint64_t *ret_start_ticks,
                              char *ret_state) {
        const char *open, *close, *p;
        uint64_t v[20];
        size_t len;
        char state;

        assert(buf);
        assert(comm);
        assert(ret_ppid);
        assert(ret_flags);
        assert(ret_cpu_ticks);
        assert(ret_start_ticks);

        /* "pid (comm) state ppid …": comm may hold spaces and parentheses. */
        open = strchr(buf, '(');
        close = strrchr(buf, ')');
        if (!open || !close || close < open)
                return -EINVAL;
        len = MIN((size_t) (close - open - 1), (size_t) PROCESS_COMM_MAX - 1);

        p = close + 1;
        if (*p++ != ' ')
                return -EINVAL;
        state = *p++;
        if (!isalpha((unsigned char) state))
                return -EINVAL;
        /* Fields 4 (ppid) to 22 (starttime); some (tty_nr…) may be negative. */
        for (size_t i = 1; i < ELEMENTSOF(v); i++) {
                char *end;
                long long x;

                if (*p != ' ')
                        return -EINVAL;
                p++;
                errno = 0;
                x = strtoll(p, &end, 10);
                if (end == p || errno != 0)
                        return -EINVAL;
                v[i] = (uint64_t) x;
                p = end;
        }
        if (*p != ' ' && *p != '\n' && *p != 0)
                return -EINVAL;

        memcpy(comm, open + 1, len);
        comm[len] = 0;
        if (v[1] > UINT32_MAX)
                return -EINVAL;
        *ret_ppid = (uint32_t) v[1];
        *ret_flags = v[6];
        *ret_cpu_ticks = v[11] + v[12];
        *ret_start_ticks = v[19];
        if (ret_state)
                *ret_state = state;
        return 0;
}

int tracker_procfs_parse_cgroup(const char *buf, char **ret_unit) {
        const char *line = buf;

        assert(buf);
        assert(ret_unit);

        while (line && *line) {
                const char *eol = strchrnul(line, '\n');

                if (startswith(line, "0::")) {
                        const char *path = line + 3, *slash = path;
                        char *u;

                        for (const char *q = path; q < eol; q++)
                                if (*q == '/')
                                        slash = q + 1;
                        if (slash >= eol)
                                return -ENOENT;   /* the root cgroup has no name */
                        u = strndup(slash, (size_t) (eol - slash));
                        if (!u)
                                return -ENOMEM;
                        *ret_unit = u;
                        return 0;
                }
                line = *eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

static int read_uid(const char *dir, uint32_t *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        const char *l;
        uint64_t uid;
        char *end;
        int r;

        path = path_join(dir, "status");
        if (!path)
                return -ENOMEM;
        r = read_small_file(path, 64 * 1024, &buf);
        if (r < 0)
                return r;
        l = strstr(buf, "\nUid:");
        if (!l)
                return -EINVAL;
        l += 5;
        errno = 0;
        uid = strtoull(l, &end, 10);
        if (end == l || errno != 0 || uid > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) uid;
        return 0;
}

static char *read_unit(const char *dir) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        char *unit = NULL;

        path = path_join(dir, "cgroup");
        if (!path || read_small_file(path, 64 * 1024, &buf) < 0)
                return NULL;
        if (tracker_procfs_parse_cgroup(buf, &unit) < 0)
                return NULL;
        return unit;
}

/* Reports one process; a new one also gets its identity (uid, unit), read
 * only then. */
static int scan_one(TrackerBackend *b, uint32_t pid) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *buf = NULL, *unit = NULL;
        char name[16], comm[PROCESS_COMM_MAX];
        uint64_t flags, cpu, start;
        TrackerObservation o = {};
        int r;

        snprintf(name, sizeof(name), "%u", pid);
        dir = path_join(b->proc_root, name);
        path = dir ? path_join(dir, "stat") : NULL;
        if (!path)
                return -ENOMEM;
        r = read_small_file(path, 4096, &buf);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;   /* gone meanwhile */
        r = tracker_procfs_parse_stat(buf, comm, &o.ppid, &flags, &cpu, &start, NULL);
        if (r < 0) {
                log_debug("Cannot parse %s, ignoring.", path);
                return 0;
        }
        o.pid = pid;
        o.uid = TRACKER_UID_UNKNOWN;
        o.comm = comm;
        o.cpu_ns = cpu * b->ns_per_tick;
        o.start_time_ns = start * b->ns_per_tick;
        o.kernel_thread = flags & PF_KTHREAD;

        r = b->observer.observe(b->observer.userdata, TRACKER_EVENT_LIVE, &o);
        if (r <= 0)
                return r;
        (void) read_uid(dir, &o.uid);
        unit = read_unit(dir);
        o.unit = unit;
        return b->observer.observe(b->observer.userdata, TRACKER_EVENT_IDENTITY, &o);
}

static int procfs_scan(TrackerBackend *b) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        assert(b);
        d = opendir(b->proc_root);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                uint64_t pid;
                int r;

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                if (parse_u64(de->d_name, &pid) < 0 || pid == 0 || pid > UINT32_MAX)
                        continue;
                r = scan_one(b, (uint32_t) pid);
                if (r < 0)
                        return r;
        }
        return 0;
}

static TrackerBackend *procfs_free(TrackerBackend *b) {
        if (!b)
                return NULL;
        free(b->proc_root);
        free(b);
        return NULL;
}

static int procfs_new(const TrackerBackendOptions *opts, TrackerBackend **ret, char **ret_reason) {
        TrackerBackend *b;
        long tck = sysconf(_SC_CLK_TCK);

        assert(opts);
        assert(opts->observer.observe);
        assert(ret);
        (void) ret_reason;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->proc_root = strdup(opts->proc_root ?: "/proc");
        if (!b->proc_root) {
                free(b);
                return -ENOMEM;
        }
        b->ns_per_tick = NSEC_PER_SEC / (uint64_t) (tck > 0 ? tck : 100);
        b->observer = opts->observer;
        *ret = b;
        return 0;
}

/* Nothing comes between two scans. */
static int procfs_consume(TrackerBackend *b) {
        (void) b;
        return 0;
}

static int procfs_get_fd(const TrackerBackend *b) {
        (void) b;
        return -1;
}

static void procfs_get_stats(const TrackerBackend *b, TrackerStats *st) {
        (void) b;
        (void) st;
}

static bool procfs_per_package(const TrackerBackend *b) {
        (void) b;
        return false;
}

static AttributionBasis procfs_basis(const TrackerBackend *b) {
        (void) b;
        return ATTRIBUTION_BASIS_CPU_TIME;
}

const TrackerBackendOps tracker_procfs_ops = {
        .mode = TRACKER_PROCFS,
        .reports_only_active = false,
        .new = procfs_new,
        .scan = procfs_scan,
        .consume = procfs_consume,
        .get_fd = procfs_get_fd,
        .free = procfs_free,
        .get_stats = procfs_get_stats,
        .per_package = procfs_per_package,
        .basis = procfs_basis,
};
