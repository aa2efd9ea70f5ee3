/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU → package topology from sysfs, or an override for tests. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "topology.h"
#include "util.h"

void topology_done(Topology *t) {
        if (!t)
                return;
        free(t->cpus);
        free(t->packages);
        *t = (Topology) {};
}

static int cmp_cpu(const void *a, const void *b) {
        const TopologyCpu *x = a, *y = b;
        return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

static int parse_int(const char *s, const char **ret_end, int *ret) {
        long v = 0;
        const char *p = s;

        assert(s);
        assert(ret_end);
        assert(ret);

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (*p - '0');
                if (v > INT_MAX / 2)
                        return -EINVAL;
        }
        *ret = (int) v;
        *ret_end = p;
        return 0;
}

static int topology_add(Topology *t, int cpu, int package, int core) {
        TopologyCpu *c;

        assert(t);

        for (size_t i = 0; i < t->n_cpus; i++)
                if (t->cpus[i].cpu == cpu)
                        return -EINVAL; /* twice */
        c = reallocarray(t->cpus, t->n_cpus + 1, sizeof(TopologyCpu));
        if (!c)
                return -ENOMEM;
        t->cpus = c;
        t->cpus[t->n_cpus++] = (TopologyCpu) { .cpu = cpu, .package = package, .core = core };
        return 0;
}

static int topology_finish(Topology *t) {
        assert(t);

        if (t->n_cpus == 0)
                return -ENOENT;
        qsort(t->cpus, t->n_cpus, sizeof(TopologyCpu), cmp_cpu);
        t->packages = calloc(t->n_cpus, sizeof(int));
        if (!t->packages)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cpus; i++) {
                bool seen = false;
                for (size_t j = 0; j < t->n_packages; j++)
                        if (t->packages[j] == t->cpus[i].package)
                                seen = true;
                if (!seen)
                        t->packages[t->n_packages++] = t->cpus[i].package;
        }
        qsort(t->packages, t->n_packages, sizeof(int), cmp_int);
        return 0;
}

static int topology_parse_override(const char *s, Topology *t) {
        const char *p = s;
        int r;

        assert(s);
        assert(t);

        for (;;) {
                int cpu, pkg;

                p += strspn(p, " \t");
                r = parse_int(p, &p, &cpu);
                if (r < 0 || *p != ':')
                        return -EINVAL;
                r = parse_int(p + 1, &p, &pkg);
                if (r < 0)
                        return -EINVAL;
                r = topology_add(t, cpu, pkg, -1);
                if (r < 0)
                        return r;
                p += strspn(p, " \t");
                if (*p == 0)
                        return 0;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }
}

static int read_int_file(const char *path, int *ret) {
        _cleanup_free_ char *v = NULL;
        const char *end;
        const char *p;
        int r, neg = 0, x;

        assert(path);
        assert(ret);

        r = read_small_file(path, 32, &v);
        if (r < 0)
                return r;
        p = v;
        if (*p == '-')
                neg = 1, p++;
        r = parse_int(p, &end, &x);
        if (r < 0 || *end != 0)
                return -EINVAL;
        *ret = neg ? -x : x;
        return 0;
}

int topology_read_full(const char *sys_root, const char *override, Topology *ret) {
        _cleanup_(topology_done) Topology t = {};
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        assert(ret);

        if (!override || !*override)
                override = getenv("JOULED_TOPOLOGY");
        if (override && *override) {
                r = topology_parse_override(override, &t);
                if (r < 0)
                        return r;
        } else {
                if (asprintf(&dir, "%s/devices/system/cpu", sys_root ?: "/sys") < 0)
                        return -ENOMEM;
                d = opendir(dir);
                if (!d)
                        return -errno;
                while ((de = readdir(d))) {
                        _cleanup_free_ char *pp = NULL, *cp = NULL;
                        const char *end;
                        int cpu, pkg, core;

                        if (!startswith(de->d_name, "cpu") || parse_int(de->d_name + 3, &end, &cpu) < 0 || *end)
                                continue;
                        if (asprintf(&pp, "%s/%s/topology/physical_package_id", dir, de->d_name) < 0 ||
                            asprintf(&cp, "%s/%s/topology/core_id", dir, de->d_name) < 0)
                                return -ENOMEM;
                        if (read_int_file(pp, &pkg) < 0 || pkg < 0)
                                continue;
                        if (read_int_file(cp, &core) < 0)
                                core = -1;
                        r = topology_add(&t, cpu, pkg, core);
                        if (r < 0)
                                return r;
                }
        }
        r = topology_finish(&t);
        if (r < 0)
                return r;
        *ret = t;
        t = (Topology) {};
        return 0;
}

int topology_read(const char *sys_root, Topology *ret) {
        return topology_read_full(sys_root, NULL, ret);
}

int topology_cpu_package(const Topology *t, int cpu) {
        for (size_t i = 0; t && i < t->n_cpus; i++)
                if (t->cpus[i].cpu == cpu)
                        return t->cpus[i].package;
        return -1;
}

int topology_package_first_cpu(const Topology *t, int package) {
        for (size_t i = 0; t && i < t->n_cpus; i++)
                if (t->cpus[i].package == package)
                        return t->cpus[i].cpu;
        return -1;
}

int cpu_list_parse(const char *s, int **ret, size_t *ret_n) {
        _cleanup_free_ int *v = NULL;
        size_t n = 0;
        const char *p = s;

        assert(ret);
        assert(ret_n);

        if (!s)
                return -EINVAL;
        for (;;) {
                int a, b;

                p += strspn(p, " \t\n");
                if (parse_int(p, &p, &a) < 0)
                        return -EINVAL;
                b = a;
                if (*p == '-' && (parse_int(p + 1, &p, &b) < 0 || b < a || b - a > 65536))
                        return -EINVAL;
                for (int c = a; c <= b; c++) {
                        int *nv = reallocarray(v, n + 1, sizeof(int));
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                        v[n++] = c;
                }
                p += strspn(p, " \t\n");
                if (*p == 0)
                        break;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }
        qsort(v, n, sizeof(int), cmp_int);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int cpuinfo_field(const char *proc_root, const char *key, char **ret) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0, kl;

        assert(key);
        assert(ret);

        kl = strlen(key);
        path = path_join(proc_root ?: "/proc", "cpuinfo");
        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                char *p = line, *v;
                size_t l;

                if (strncmp(p, key, kl) != 0)
                        continue;
                p += kl;
                p += strspn(p, " \t");
                if (*p != ':')
                        continue;
                p++;
                p += strspn(p, " \t");
                l = strcspn(p, "\n");
                while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
                        l--;
                v = strndup(p, l);
                if (!v)
                        return -ENOMEM;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}
