/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Battery discharge as a whole-system meter
 * (Documentation/ABI/testing/sysfs-class-power):
 * SYS_ROOT/class/power_supply/NAME/ with type "Battery":
 *   power_now (µW), or current_now (µA) × voltage_now (µV) / 10^6 when the
 *   driver has no power_now; counted only while status is "Discharging"
 *   (on AC the battery figure says nothing about what the machine draws).
 * Every battery is summed into one domain "battery" (kind battery,
 * whole-system, integrated from power with the trapezoid rule in exact
 * integer arithmetic). Some drivers report a negative current or power while
 * discharging: the magnitude is used. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "power-integrator.h"
#include "source.h"
#include "util.h"

typedef struct Battery {
        char **dirs;
        size_t n_dirs;
        PowerIntegrator integ;
        bool failing;
} Battery;

static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int read_i64_file(const char *path, int64_t *ret) {
        _cleanup_free_ char *v = NULL;
        uint64_t u;
        int r;

        assert(path);
        assert(ret);

        r = read_small_file(path, 64, &v);
        if (r < 0)
                return r;
        if (v[0] == '-') {
                r = parse_u64(v + 1, &u);
                if (r < 0 || u > INT64_MAX)
                        return -EINVAL;
                *ret = -(int64_t) u;
                return 0;
        }
        r = parse_u64(v, &u);
        if (r < 0 || u > INT64_MAX)
                return -EINVAL;
        *ret = (int64_t) u;
        return 0;
}

static uint64_t abs64(int64_t v) {
        return v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
}

/* Discharge power of one battery in µW (0 when not discharging). Returns 0,
 * -ENODATA when it has neither power_now nor current_now + voltage_now, or
 * -errno. */
static int battery_power_uw(const char *dir, uint64_t *ret_uw, bool *ret_discharging) {
        _cleanup_free_ char *sp = NULL, *status = NULL, *pp = NULL, *cp = NULL, *vp = NULL;
        int64_t p, c, v;
        int r;

        assert(dir);
        assert(ret_uw);
        assert(ret_discharging);

        sp = path_join(dir, "status");
        pp = path_join(dir, "power_now");
        cp = path_join(dir, "current_now");
        vp = path_join(dir, "voltage_now");
        if (!sp || !pp || !cp || !vp)
                return -ENOMEM;
        r = read_i64_file(pp, &p);
        if (r == -ENOENT) {
                r = read_i64_file(cp, &c);
                if (r >= 0)
                        r = read_i64_file(vp, &v);
                if (r == -ENOENT)
                        return -ENODATA;
                if (r < 0)
                        return r;
                p = (int64_t) ((unsigned __int128) abs64(c) * abs64(v) / 1000000u);
        } else if (r < 0)
                return r;
        r = read_small_file(sp, 64, &status);
        if (r < 0)
                return r;
        *ret_discharging = streq_ptr(status, "Discharging");
        *ret_uw = *ret_discharging ? abs64(p) : 0;
        return 0;
}

static int battery_scan(const SourceContext *ctx, char ***ret, size_t *ret_n, char *dir, size_t dir_size) {
        struct dirent **names = NULL;
        char **v = NULL;
        size_t n_v = 0;
        int n, r = 0;

        assert(ret);
        assert(ret_n);
        assert(dir);

        snprintf(dir, dir_size, "%s/class/power_supply", ctx && ctx->sys_root ? ctx->sys_root : "/sys");
        n = scandir(dir, &names, NULL, versionsort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *d = NULL, *tp = NULL, *type = NULL;

                if (r >= 0 && names[i]->d_name[0] != '.') {
                        d = path_join(dir, names[i]->d_name);
                        tp = d ? path_join(d, "type") : NULL;
                        if (!tp)
                                r = -ENOMEM;
                        else if (read_small_file(tp, 64, &type) >= 0 && streq_ptr(type, "Battery")) {
                                char **nv = reallocarray(v, n_v + 1, sizeof(char *));
                                if (!nv)
                                        r = -ENOMEM;
                                else {
                                        v = nv;
                                        v[n_v++] = TAKE_PTR(d);
                                }
                        }
                }
                free(names[i]);
        }
        free(names);
        if (r < 0) {
                strv_free_n(v, n_v);
                return r;
        }
        *ret = v;
        *ret_n = n_v;
        return 0;
}

static SourceStatus battery_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        char **dirs = NULL, dir[512];
        size_t n = 0, n_ok = 0;
        bool any_discharging = false;
        SourceStatus st = SOURCE_USABLE;
        int r;

        assert(reason);

        r = battery_scan(ctx, &dirs, &n, dir, sizeof(dir));
        if (r == -ENOMEM) {
                snprintf(reason, reason_size, "out of memory while probing batteries");
                return SOURCE_UNSUPPORTED;
        }
        if (r < 0 || n == 0) {
                snprintf(reason, reason_size, "no battery under %s", dir);
                return SOURCE_MISSING;
        }
        for (size_t i = 0; i < n; i++) {
                uint64_t uw;
                bool dis = false;
                r = battery_power_uw(dirs[i], &uw, &dis);
                if (r >= 0) {
                        n_ok++;
                        any_discharging |= dis;
                } else if (n_ok == 0) {
                        if (r == -EACCES || r == -EPERM) {
                                snprintf(reason, reason_size, "cannot read %s: %s", dirs[i], strerror(-r));
                                st = SOURCE_PERMISSION;
                        } else {
                                snprintf(reason, reason_size, "battery %s has no power_now nor current_now and "
                                         "voltage_now", dirs[i]);
                                st = SOURCE_UNSUPPORTED;
                        }
                }
        }
        if (n_ok > 0) {
                st = SOURCE_USABLE;
                snprintf(reason, reason_size, "%zu batter%s under %s, %s", n_ok, n_ok == 1 ? "y" : "ies", dir,
                         any_discharging ? "discharging (integrated from power)"
                                         : "not discharging now: counts only while discharging");
        }
        strv_free_n(dirs, n);
        return st;
}

static void battery_close(EnergySource *s) {
        Battery *b;

        if (!s)
                return;
        b = s->userdata;
        if (b) {
                strv_free_n(b->dirs, b->n_dirs);
                free(b);
        }
        free(s->domains);
        free(s);
}

static int battery_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        _cleanup_free_ Battery *b = NULL;
        _cleanup_free_ EnergyDomain *d = NULL;
        EnergySource *s;
        char dir[512];
        int r;

        assert(reason);
        assert(ret);

        b = calloc(1, sizeof(Battery));
        d = calloc(1, sizeof(EnergyDomain));
        if (!b || !d)
                return -ENOMEM;
        r = battery_scan(ctx, &b->dirs, &b->n_dirs, dir, sizeof(dir));
        if (r == -ENOMEM)
                return r;
        if (r < 0 || b->n_dirs == 0) {
                strv_free_n(b->dirs, b->n_dirs);
                snprintf(reason, reason_size, "no battery under %s", dir);
                return -ENODEV;
        }
        *d = (EnergyDomain) { .kind = DOMAIN_BATTERY, .package = -1, .integrated = true, .whole_system = true };
        strscpy(d->name, sizeof(d->name), "battery");
        s = calloc(1, sizeof(EnergySource));
        if (!s) {
                strv_free_n(b->dirs, b->n_dirs);
                return -ENOMEM;
        }
        s->ops = &battery_source_ops;
        s->n_domains = 1;
        s->domains = TAKE_PTR(d);
        s->userdata = TAKE_PTR(b);
        *ret = s;
        return 0;
}

int battery_source_read_at(EnergySource *s, uint64_t now, uint64_t *ret_uj) {
        Battery *b;
        uint64_t total = 0;
        size_t n_ok = 0;

        if (!s || s->ops != &battery_source_ops || !ret_uj)
                return -EINVAL;
        b = s->userdata;
        for (size_t i = 0; i < b->n_dirs; i++) {
                uint64_t uw;
                bool dis;
                int r = battery_power_uw(b->dirs[i], &uw, &dis);
                if (r < 0) {
                        log_object_errno(LOG_DEBUG, r, "battery", "battery", "Battery %s: no reading: %m", b->dirs[i]);
                        continue;
                }
                total += uw;
                n_ok++;
        }
        if (n_ok == 0) {
                if (!b->failing)
                        log_object(LOG_WARNING, "battery", "battery", "Battery domain: no battery could be read.");
                b->failing = true;
                power_integrator_gap(&b->integ);
                ret_uj[0] = ENERGY_READ_FAILED;
                return 0;
        }
        if (b->failing) {
                log_object(LOG_INFO, "battery", "battery", "Battery domain is readable again.");
                b->failing = false;
        }
        ret_uj[0] = power_integrator_add(&b->integ, total, now);
        return 0;
}

static int battery_read(EnergySource *s, uint64_t *ret_uj) {
        return battery_source_read_at(s, now_ns(CLOCK_MONOTONIC), ret_uj);
}

const EnergySourceOps battery_source_ops = {
        .name = "battery",
        .estimated = false,
        .probe = battery_probe,
        .open = battery_open,
        .read = battery_read,
        .close = battery_close,
};
