/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RAPL through the perf "power" PMU (arch/x86/events/rapl.c):
 *
 *   SYS_ROOT/bus/event_source/devices/power/type          PMU type for perf_event_attr.type
 *   SYS_ROOT/bus/event_source/devices/power/cpumask       one CPU per package to open on
 *   SYS_ROOT/bus/event_source/devices/power/events/energy-pkg        "event=0x02" (config)
 *   SYS_ROOT/bus/event_source/devices/power/events/energy-pkg.scale  joules per count
 *   SYS_ROOT/bus/event_source/devices/power/events/energy-pkg.unit   "Joules"
 *
 * Events: energy-pkg → package-P, energy-cores → core-P, energy-gpu →
 * uncore-P, energy-ram → dram-P, energy-psys → psys (once). The counts are
 * 64-bit: the kernel folds the 32-bit hardware counter into them, so no wrap
 * is ever seen here. Counts are accumulated and converted exactly with the
 * scale as a reduced fraction (2.3283064365386962890625e-10 J = 2^-32 J gives
 * 15625 / 2^26 µJ per count): µJ = floor(counts × num / den).
 *
 * Preferred over powercap where both exist: same hardware counters, no wrap
 * handling needed, and no root-only sysfs file (CAP_PERFMON or
 * perf_event_paranoid ≤ 0 suffices). */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "source.h"
#include "topology.h"
#include "util.h"

typedef struct PerfCounter {
        int fd;
        bool have_prev;
        bool failing;
        uint64_t prev;
        uint64_t counts;            /* since the baseline */
        uint64_t num, den;          /* µJ per count */
} PerfCounter;

typedef struct PerfScan {
        EnergyDomain *domains;
        PerfCounter *counters;      /* one per domain */
        size_t n;
} PerfScan;

static const struct {
        const char *event;
        const char *prefix;
        DomainKind kind;
} perf_events[] = {
        { "energy-pkg", "package", DOMAIN_PACKAGE },
        { "energy-cores", "core", DOMAIN_CORE },
        { "energy-gpu", "uncore", DOMAIN_UNCORE },
        { "energy-ram", "dram", DOMAIN_DRAM },
        { "energy-psys", "psys", DOMAIN_PSYS },
};

static int sys_perf_event_open(void *attr, int pid, int cpu, int group_fd, unsigned long flags) {
        long r = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
        return r < 0 ? -errno : (int) r;
}

static unsigned __int128 gcd128(unsigned __int128 a, unsigned __int128 b) {
        while (b) {
                unsigned __int128 t = a % b;
                a = b;
                b = t;
        }
        return a;
}

int perf_scale_parse(const char *scale, uint64_t *ret_num, uint64_t *ret_den) {
        unsigned __int128 mant = 0, num, den = 1, g;
        const char *p = scale;
        int exp10 = 0, digits = 0;
        bool any = false;

        if (!scale)
                return -EINVAL;
        p += strspn(p, " \t");
        for (; *p >= '0' && *p <= '9'; p++, any = true)
                if (mant > 0 || *p != '0') {
                        if (++digits > 36)
                                return -EINVAL;
                        mant = mant * 10 + (unsigned) (*p - '0');
                }
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++, any = true) {
                        if (mant > 0 || *p != '0') {
                                if (++digits > 36)
                                        return -EINVAL;
                                mant = mant * 10 + (unsigned) (*p - '0');
                        }
                        exp10--;
                }
        if (!any)
                return -EINVAL;
        if (*p == 'e' || *p == 'E') {
                int sign = 1, e = 0;
                p++;
                if (*p == '-' || *p == '+')
                        sign = *p++ == '-' ? -1 : 1;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++)
                        if ((e = e * 10 + (*p - '0')) > 1000)
                                return -EINVAL;
                exp10 += sign * e;
        }
        p += strspn(p, " \t\n");
        if (*p || mant == 0)
                return -EINVAL;

        /* µJ per count = mant × 10^(exp10 + 6). */
        exp10 += 6;
        while (exp10 < 0 && mant % 10 == 0)
                mant /= 10, exp10++;
        num = mant;
        for (; exp10 > 0; exp10--) {
                if (num > UINT64_MAX)
                        return -EINVAL;
                num *= 10;
        }
        for (; exp10 < 0; exp10++) {
                if (den > (((unsigned __int128) 1) << 120))
                        return -EINVAL;
                den *= 10;
        }
        g = gcd128(num, den);
        num /= g;
        den /= g;
        if (num > UINT64_MAX || den > UINT64_MAX)
                return -EINVAL;
        *ret_num = (uint64_t) num;
        *ret_den = (uint64_t) den;
        return 0;
}

static int power_dir(const SourceContext *ctx, char **ret) {
        assert(ret);

        return asprintf(ret, "%s/bus/event_source/devices/power", ctx && ctx->sys_root ? ctx->sys_root : "/sys") < 0
                       ? -ENOMEM : 0;
}

/* "event=0x02" (possibly with more terms: refused, the power PMU has none). */
static int parse_event_config(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        assert(s);
        assert(ret);

        if (!startswith(s, "event="))
                return -EINVAL;
        errno = 0;
        v = strtoull(s + 6, &end, 0);
        if (errno || end == s + 6 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void perf_scan_done(PerfScan *s) {
        assert(s);

        for (size_t i = 0; i < s->n; i++)
                if (s->counters[i].fd >= 0)
                        close(s->counters[i].fd);
        free(s->counters);
        free(s->domains);
        *s = (PerfScan) {};
}

static int perf_scan_add(PerfScan *s, const char *name, DomainKind kind, int pkg, int fd, uint64_t num, uint64_t den) {
        EnergyDomain *d;
        PerfCounter *c;

        assert(s);
        assert(name);

        d = reallocarray(s->domains, s->n + 1, sizeof(EnergyDomain));
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        s->domains = d;
        c = reallocarray(s->counters, s->n + 1, sizeof(PerfCounter));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        s->counters = c;
        s->domains[s->n] = (EnergyDomain) { .kind = kind, .package = kind == DOMAIN_PSYS ? -1 : pkg,
                                            .whole_system = kind == DOMAIN_PSYS };
        strscpy(s->domains[s->n].name, sizeof(s->domains[s->n].name), name);
        s->counters[s->n] = (PerfCounter) { .fd = fd, .num = num, .den = den };
        s->n++;
        return 0;
}

/* Open every event on every CPU of cpumask. Returns 0, or -errno with reason
 * filled. */
static int perf_scan(const SourceContext *ctx, PerfScan *ret, char *reason, size_t reason_size) {
        _cleanup_(perf_scan_done) PerfScan s = {};
        _cleanup_(topology_done) Topology topo = {};
        _cleanup_free_ char *dir = NULL, *type_path = NULL, *mask_path = NULL, *mask = NULL;
        _cleanup_free_ int *cpus = NULL;
        size_t n_cpus = 0;
        uint64_t type;
        int (*open_fn)(void *, int, int, int, unsigned long) =
                ctx && ctx->perf_event_open ? ctx->perf_event_open : sys_perf_event_open;
        int r, first_err = 0, have_topo;
        char first_msg[200] = "";

        assert(ret);
        assert(reason);

        r = power_dir(ctx, &dir);
        if (r < 0)
                return r;
        type_path = path_join(dir, "type");
        mask_path = path_join(dir, "cpumask");
        if (!type_path || !mask_path)
                return -ENOMEM;
        r = read_u64_file(type_path, &type);
        if (r == -ENOENT || r == -ENOTDIR) {
                snprintf(reason, reason_size, "no perf power PMU (%s)", dir);
                return -ENOENT;
        }
        if (r < 0 || type > UINT32_MAX) {
                snprintf(reason, reason_size, "%s does not hold a PMU type number", type_path);
                return -EOPNOTSUPP;
        }
        r = read_small_file(mask_path, 4096, &mask);
        if (r >= 0)
                r = cpu_list_parse(mask, &cpus, &n_cpus);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || n_cpus == 0) {
                snprintf(reason, reason_size, "%s is missing or not a CPU list", mask_path);
                return -EOPNOTSUPP;
        }
        have_topo = topology_read_full(ctx ? ctx->sys_root : NULL, ctx ? ctx->topology : NULL, &topo);
        if (have_topo == -ENOMEM)
                return have_topo;

        for (size_t e = 0; e < ELEMENTSOF(perf_events); e++) {
                _cleanup_free_ char *ev = NULL, *ev_path = NULL, *scale = NULL, *unit = NULL, *sp = NULL, *up = NULL;
                uint64_t config, num, den;

                if (asprintf(&ev_path, "%s/events/%s", dir, perf_events[e].event) < 0 ||
                    asprintf(&sp, "%s.scale", ev_path) < 0 || asprintf(&up, "%s.unit", ev_path) < 0)
                        return -ENOMEM;
                if (read_small_file(ev_path, 256, &ev) < 0)
                        continue; /* not on this CPU */
                if (parse_event_config(ev, &config) < 0) {
                        log_object(LOG_DEBUG, "perf", NULL, "perf: %s: unexpected \"%s\", ignoring the event.", ev_path, ev);
                        continue;
                }
                if (read_small_file(sp, 256, &scale) < 0 || perf_scale_parse(scale, &num, &den) < 0) {
                        log_object(LOG_DEBUG, "perf", NULL, "perf: %s missing or not a decimal scale, ignoring the event.", sp);
                        continue;
                }
                if (read_small_file(up, 64, &unit) >= 0 && !streq_ptr(unit, "Joules")) {
                        log_object(LOG_DEBUG, "perf", NULL, "perf: %s is \"%s\", not Joules, ignoring the event.", up, unit);
                        continue;
                }

                for (size_t i = 0; i < n_cpus; i++) {
                        struct perf_event_attr attr = {
                                .type = (uint32_t) type,
                                .size = sizeof(struct perf_event_attr),
                                .config = config,
                        };
                        char name[DOMAIN_NAME_MAX];
                        int pkg = have_topo >= 0 ? topology_cpu_package(&topo, cpus[i]) : (int) i, fd;

                        if (pkg < 0)
                                pkg = (int) i;
                        if (perf_events[e].kind == DOMAIN_PSYS) {
                                if (i > 0)
                                        break;
                                snprintf(name, sizeof(name), "psys");
                        } else
                                snprintf(name, sizeof(name), "%s-%d", perf_events[e].prefix, pkg);

                        fd = open_fn(&attr, -1, cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
                        if (fd < 0) {
                                if (!first_err) {
                                        first_err = fd;
                                        snprintf(first_msg, sizeof(first_msg), "perf_event_open(%s, cpu %d): %s",
                                                 perf_events[e].event, cpus[i], strerror(-fd));
                                }
                                continue;
                        }
                        r = perf_scan_add(&s, name, perf_events[e].kind, pkg, fd, num, den);
                        if (r < 0)
                                return r;
                }
        }

        if (s.n == 0) {
                if (first_err == -EACCES || first_err == -EPERM) {
                        snprintf(reason, reason_size, "%s: needs root or CAP_PERFMON (or perf_event_paranoid <= 0)",
                                 first_msg);
                        return first_err;
                }
                if (first_err)
                        snprintf(reason, reason_size, "%s", first_msg);
                else
                        snprintf(reason, reason_size, "perf power PMU %s has no usable energy-* event", dir);
                return -EOPNOTSUPP;
        }
        *ret = s;
        s = (PerfScan) {};
        return 0;
}

static SourceStatus perf_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        _cleanup_(perf_scan_done) PerfScan s = {};
        size_t off;
        int r;

        assert(reason);

        r = perf_scan(ctx, &s, reason, reason_size);
        if (r < 0)
                return source_status_from_scan(r, "the perf power PMU", reason, reason_size);
        off = (size_t) snprintf(reason, reason_size, "perf power PMU:");
        for (size_t i = 0; i < s.n && off < reason_size; i++)
                off += (size_t) snprintf(reason + off, reason_size - off, " %s", s.domains[i].name);
        return SOURCE_USABLE;
}

static void perf_close(EnergySource *s) {
        PerfCounter *c;

        if (!s)
                return;
        c = s->userdata;
        for (size_t i = 0; c && i < s->n_domains; i++)
                if (c[i].fd >= 0)
                        close(c[i].fd);
        free(c);
        free(s->domains);
        free(s);
}

static int perf_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        _cleanup_(perf_scan_done) PerfScan scan = {};
        EnergySource *s;
        int r;

        assert(reason);
        assert(ret);

        r = perf_scan(ctx, &scan, reason, reason_size);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(EnergySource));
        if (!s)
                return -ENOMEM;
        s->ops = &perf_source_ops;
        s->n_domains = scan.n;
        s->domains = TAKE_PTR(scan.domains);
        s->userdata = TAKE_PTR(scan.counters);
        scan.n = 0;
        *ret = s;
        return 0;
}

static void perf_drop_domain(EnergySource *s, size_t i) {
        PerfCounter *c;

        assert(s);

        c = s->userdata;
        if (i >= s->n_domains)
                return;
        if (c[i].fd >= 0)
                close(c[i].fd);
        source_array_remove(c, s->n_domains, sizeof(PerfCounter), i);
        source_array_remove(s->domains, s->n_domains, sizeof(EnergyDomain), i);
        s->n_domains--;
}

static int perf_read(EnergySource *s, uint64_t *ret_uj) {
        PerfCounter *cs;

        if (!s || s->ops != &perf_source_ops || !ret_uj)
                return -EINVAL;
        cs = s->userdata;
        for (size_t i = 0; i < s->n_domains; i++) {
                PerfCounter *c = &cs[i];
                uint64_t v;
                ssize_t n = read(c->fd, &v, sizeof(v));

                if (n != (ssize_t) sizeof(v)) {
                        if (!c->failing)
                                log_object(LOG_WARNING, "perf", s->domains[i].name,
                                           "perf domain %s: cannot read its counter: %s.", s->domains[i].name,
                                           n < 0 ? strerror(errno) : "short read");
                        c->failing = true;
                        ret_uj[i] = ENERGY_READ_FAILED;
                        continue;
                }
                if (c->failing) {
                        log_object(LOG_INFO, "perf", s->domains[i].name, "perf domain %s is readable again.",
                                   s->domains[i].name);
                        c->failing = false;
                }
                if (c->have_prev)
                        c->counts += v - c->prev; /* 64-bit, folded by the kernel */
                c->prev = v;
                c->have_prev = true;
                ret_uj[i] = (uint64_t) ((unsigned __int128) c->counts * c->num / c->den);
        }
        return 0;
}

const EnergySourceOps perf_source_ops = {
        .name = "perf",
        .estimated = false,
        .probe = perf_probe,
        .open = perf_open,
        .read = perf_read,
        .close = perf_close,
        .drop_domain = perf_drop_domain,
};
