/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "procfs.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

static uint64_t ticks_to_ns(uint64_t ticks, uint64_t hz) {
        /* Exact, and without overflowing ticks × 1e9. */
        return ticks / hz * NSEC_PER_SEC + ticks % hz * NSEC_PER_SEC / hz;
}

/* Parse the numbers after "cpu" or "cpuN": user nice system idle iowait irq
 * softirq steal guest guest_nice (older kernels have fewer; at least 4). */
static int parse_cpu_fields(const char *p, uint64_t hz, ProcStatTimes *ret) {
        uint64_t v[10] = {};
        size_t n = 0;

        assert(p);
        assert(ret);

        while (n < ELEMENTSOF(v)) {
                char *end;
                unsigned long long x;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == 0 || *p == '\n')
                        break;
                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                errno = 0;
                x = strtoull(p, &end, 10);
                if (errno != 0 || end == p)
                        return -EBADMSG;
                v[n++] = x;
                p = end;
        }
        if (n < 4)
                return -EBADMSG;
        *ret = (ProcStatTimes) {
                .user_ns = ticks_to_ns(v[0], hz),
                .nice_ns = ticks_to_ns(v[1], hz),
                .system_ns = ticks_to_ns(v[2], hz),
                .idle_ns = ticks_to_ns(v[3], hz),
                .iowait_ns = ticks_to_ns(v[4], hz),
                .irq_ns = ticks_to_ns(v[5], hz),
                .softirq_ns = ticks_to_ns(v[6], hz),
                .steal_ns = ticks_to_ns(v[7], hz),
        };
        return 0;
}

static uint64_t times_busy_ns(const ProcStatTimes *t) {
        return t->user_ns + t->nice_ns + t->system_ns + t->irq_ns + t->softirq_ns;
}

static uint64_t times_idle_ns(const ProcStatTimes *t) {
        return t->idle_ns + t->iowait_ns;
}

void proc_stat_done(ProcStat *s) {
        if (!s)
                return;
        free(s->cpu_ids);
        free(s->cpu_busy_ns);
        free(s->cpu_idle_ns);
        free(s->cpu_steal_ns);
        free(s->cpu_times);
        *s = (ProcStat) {};
}

static int proc_stat_grow(ProcStat *s, size_t n) {
        int *ids;
        uint64_t *b, *i, *st;
        ProcStatTimes *t;

        assert(s);

        ids = reallocarray(s->cpu_ids, n, sizeof(int));
        if (!ids)
                return -ENOMEM;
        s->cpu_ids = ids;
        b = reallocarray(s->cpu_busy_ns, n, sizeof(uint64_t));
        if (!b)
                return -ENOMEM;
        s->cpu_busy_ns = b;
        i = reallocarray(s->cpu_idle_ns, n, sizeof(uint64_t));
        if (!i)
                return -ENOMEM;
        s->cpu_idle_ns = i;
        st = reallocarray(s->cpu_steal_ns, n, sizeof(uint64_t));
        if (!st)
                return -ENOMEM;
        s->cpu_steal_ns = st;
        t = reallocarray(s->cpu_times, n, sizeof(ProcStatTimes));
        if (!t)
                return -ENOMEM;
        s->cpu_times = t;
        return 0;
}

/* One "cpuN ..." line (line points after "cpu"). */
static int proc_stat_add_cpu(ProcStat *s, const char *line, uint64_t hz) {
        ProcStatTimes t;
        char *end;
        unsigned long id;
        int r;

        errno = 0;
        id = strtoul(line, &end, 10);
        if (errno != 0 || (*end != ' ' && *end != '\t') || id > INT32_MAX)
                return -EBADMSG;
        r = parse_cpu_fields(end, hz, &t);
        if (r < 0)
                return r;
        r = proc_stat_grow(s, s->n_cpus + 1);
        if (r < 0)
                return r;
        s->cpu_ids[s->n_cpus] = (int) id;
        s->cpu_times[s->n_cpus] = t;
        s->cpu_busy_ns[s->n_cpus] = times_busy_ns(&t);
        s->cpu_idle_ns[s->n_cpus] = times_idle_ns(&t);
        s->cpu_steal_ns[s->n_cpus] = t.steal_ns;
        s->n_cpus++;
        return 0;
}

int procfs_read_stat(const char *proc_root, ProcStat *ret) {
        _cleanup_(proc_stat_done) ProcStat s = {};
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0;
        bool have_total = false;
        long hz;
        int r;

        assert(ret);

        hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
                hz = 100;

        path = path_join(proc_root ?: "/proc", "stat");
        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;

        for (;;) {
                ssize_t k;

                errno = 0;
                k = getline(&line, &cap, f);
                if (k < 0) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                if (startswith(line, "ctxt ")) {
                        if (sscanf(line + 5, "%" SCNu64, &s.ctxt) == 1)
                                s.have_ctxt = true;
                        continue;
                }
                if (!startswith(line, "cpu"))
                        continue; /* intr, btime, processes & co. */
                if (line[3] == ' ') {
                        r = parse_cpu_fields(line + 3, (uint64_t) hz, &s.total);
                        if (r < 0)
                                return r;
                        s.busy_ns = times_busy_ns(&s.total);
                        s.idle_ns = times_idle_ns(&s.total);
                        s.steal_ns = s.total.steal_ns;
                        have_total = true;
                } else if (line[3] >= '0' && line[3] <= '9') {
                        r = proc_stat_add_cpu(&s, line + 3, (uint64_t) hz);
                        if (r < 0)
                                return r;
                }
        }
        if (!have_total || s.n_cpus == 0)
                return -EBADMSG;

        *ret = s;
        s = (ProcStat) {};
        return 0;
}

int procfs_read_tasks(const char *proc_root, uint64_t *ret_tasks) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        const char *p;
        int r;

        assert(ret_tasks);

        path = path_join(proc_root ?: "/proc", "loadavg");
        if (!path)
                return -ENOMEM;
        r = read_small_file(path, 256, &buf);
        if (r < 0)
                return r;
        p = strchr(buf, '/');
        if (!p || sscanf(p + 1, "%" SCNu64, ret_tasks) != 1)
                return -EBADMSG;
        return 0;
}
