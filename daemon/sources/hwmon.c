/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hwmon power and energy sensors (Documentation/hwmon/sysfs-interface.rst):
 * SYS_ROOT/class/hwmon/hwmonN/{name, powerK_input|powerK_average (µW),
 * energyK_input (µJ), powerK_label, energyK_label}.
 *
 * Which sensors are used, by driver name:
 *   power_meter (ACPI power meter, ACPI0000): the whole machine at its input
 *     → "system" (then "system-1", ...), kind psys, whole-system;
 *   PSU drivers (corsairpsu, dps920ab, ibm-cffps, bel-pfe, fsp3y, pmbus and
 *     any name containing "psu"): their input power (label "pin", "power in",
 *     "input power", "power total", or the only power sensor) → "psu-K",
 *     whole-system (the PSUs together feed the machine);
 *   amd_energy: the per-socket counters (label "EsocketN") → package-N
 *     (energy counters; the per-core ones are inside their socket, unused).
 * Other sensors (GPUs, VRMs, chips we cannot place in the domain hierarchy)
 * are counted in the probe reason but not used.
 *
 * Power sensors are integrated over time (trapezoid rule, exact µW × ns
 * integer arithmetic, power-integrator.h): their domains are marked
 * `integrated`. Energy sensors are counters: a decrease is taken for a
 * reset and that interval is discarded. */

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

typedef struct HwmonSensor {
        char *path;                 /* powerK_input / powerK_average / energyK_input */
        bool energy;
        bool failing;
        bool reset_warned;
        bool have_prev;
        uint64_t prev_uj;           /* energy counters */
        uint64_t total_uj;
        PowerIntegrator integ;      /* power sensors */
} HwmonSensor;

typedef struct HwmonScan {
        EnergyDomain *domains;
        HwmonSensor *sensors;       /* one per domain */
        size_t n;
        size_t n_ignored;
        size_t n_chips;
} HwmonScan;

static void hwmon_scan_done(HwmonScan *s) {
        assert(s);

        for (size_t i = 0; i < s->n; i++)
                free(s->sensors[i].path);
        free(s->sensors);
        free(s->domains);
        *s = (HwmonScan) {};
}

static bool is_psu_driver(const char *name) {
        static const char *const psus[] = { "corsairpsu", "dps920ab", "ibm-cffps", "bel-pfe", "fsp3y", "pmbus" };
        for (size_t i = 0; i < ELEMENTSOF(psus); i++)
                if (streq_ptr(name, psus[i]))
                        return true;
        return strstr(name, "psu") != NULL;
}

static bool is_input_label(const char *label) {
        return label && (strcasecmp(label, "pin") == 0 || strcasecmp(label, "power in") == 0 ||
                         strcasecmp(label, "input power") == 0 || strcasecmp(label, "power total") == 0);
}

static int hwmon_scan_add(HwmonScan *s, const char *name, DomainKind kind, int pkg, bool whole_system,
                          const char *path, bool energy) {
        EnergyDomain *d;
        HwmonSensor *h;
        char *p;

        assert(s);
        assert(name);
        assert(path);

        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->domains[i].name, name) == 0) {
                        log_object(LOG_DEBUG, "hwmon", name, "hwmon: %s gives %s a second time, ignoring.", path, name);
                        return 0;
                }
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        d = reallocarray(s->domains, s->n + 1, sizeof(EnergyDomain));
        if (!d) {
                free(p);
                return -ENOMEM;
        }
        s->domains = d;
        h = reallocarray(s->sensors, s->n + 1, sizeof(HwmonSensor));
        if (!h) {
                free(p);
                return -ENOMEM;
        }
        s->sensors = h;
        s->domains[s->n] = (EnergyDomain) { .kind = kind, .package = pkg, .integrated = !energy,
                                            .whole_system = whole_system };
        strscpy(s->domains[s->n].name, sizeof(s->domains[s->n].name), name);
        s->sensors[s->n] = (HwmonSensor) { .path = p, .energy = energy };
        s->n++;
        return 0;
}

static int read_label(const char *dir, const char *type, unsigned k, char **ret) {
        _cleanup_free_ char *p = NULL;

        assert(dir);
        assert(type);
        assert(ret);

        *ret = NULL;
        if (asprintf(&p, "%s/%s%u_label", dir, type, k) < 0)
                return -ENOMEM;
        (void) read_small_file(p, 128, ret);
        return 0;
}

/* Power sensor K of dir: powerK_input, else powerK_average. */
static int power_path(const char *dir, unsigned k, char **ret) {
        _cleanup_free_ char *in = NULL, *avg = NULL;
        uint64_t v;

        assert(dir);
        assert(ret);

        if (asprintf(&in, "%s/power%u_input", dir, k) < 0 || asprintf(&avg, "%s/power%u_average", dir, k) < 0)
                return -ENOMEM;
        if (read_u64_file(in, &v) != -ENOENT) {
                *ret = TAKE_PTR(in);
                return 1;
        }
        if (read_u64_file(avg, &v) != -ENOENT) {
                *ret = TAKE_PTR(avg);
                return 1;
        }
        return 0;
}

static int hwmon_scan_chip(HwmonScan *s, const char *dir, unsigned *n_system, unsigned *n_psu) {
        _cleanup_free_ char *name_path = NULL, *name = NULL;
        unsigned n_power = 0;
        int r;

        assert(s);
        assert(dir);
        assert(n_system);
        assert(n_psu);

        name_path = path_join(dir, "name");
        if (!name_path)
                return -ENOMEM;
        if (read_small_file(name_path, 64, &name) < 0)
                return 0;
        s->n_chips++;

        for (unsigned k = 0; k <= 32; k++) {
                _cleanup_free_ char *p = NULL;
                r = power_path(dir, k, &p);
                if (r < 0)
                        return r;
                n_power += r;
        }

        for (unsigned k = 0; k <= 32; k++) {
                _cleanup_free_ char *p = NULL, *label = NULL;
                char dname[DOMAIN_NAME_MAX];

                r = power_path(dir, k, &p);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                r = read_label(dir, "power", k, &label);
                if (r < 0)
                        return r;
                if (streq_ptr(name, "power_meter")) {
                        if (*n_system == 0)
                                snprintf(dname, sizeof(dname), "system");
                        else
                                snprintf(dname, sizeof(dname), "system-%u", *n_system);
                        (*n_system)++;
                        r = hwmon_scan_add(s, dname, DOMAIN_PSYS, -1, true, p, false);
                } else if (is_psu_driver(name) && (is_input_label(label) || (!label && n_power == 1))) {
                        snprintf(dname, sizeof(dname), "psu-%u", (*n_psu)++);
                        r = hwmon_scan_add(s, dname, DOMAIN_PSYS, -1, true, p, false);
                } else {
                        log_object(LOG_DEBUG, "hwmon", NULL, "hwmon: %s (%s, label %s) not placed in any domain, ignoring.",
                                   p, name, label ?: "none");
                        s->n_ignored++;
                        r = 0;
                }
                if (r < 0)
                        return r;
        }

        for (unsigned k = 0; k <= 512; k++) {
                _cleanup_free_ char *p = NULL, *label = NULL;
                char dname[DOMAIN_NAME_MAX];
                uint64_t v, sock;

                if (asprintf(&p, "%s/energy%u_input", dir, k) < 0)
                        return -ENOMEM;
                if (read_u64_file(p, &v) == -ENOENT)
                        continue;
                r = read_label(dir, "energy", k, &label);
                if (r < 0)
                        return r;
                if (streq_ptr(name, "amd_energy") && label && startswith(label, "Esocket") &&
                    parse_u64(label + strlen("Esocket"), &sock) >= 0 && sock < 4096) {
                        snprintf(dname, sizeof(dname), "package-%" PRIu64, sock);
                        r = hwmon_scan_add(s, dname, DOMAIN_PACKAGE, (int) sock, false, p, true);
                        if (r < 0)
                                return r;
                } else if (streq_ptr(name, "amd_energy") && label && startswith(label, "Ecore")) {
                        continue; /* inside its socket */
                } else {
                        log_object(LOG_DEBUG, "hwmon", NULL, "hwmon: %s (%s, label %s) not placed in any domain, ignoring.",
                                   p, name, label ?: "none");
                        s->n_ignored++;
                }
        }
        return 0;
}

static int hwmon_scan(const SourceContext *ctx, HwmonScan *ret, char *dir, size_t dir_size) {
        _cleanup_(hwmon_scan_done) HwmonScan s = {};
        struct dirent **names = NULL;
        unsigned n_system = 0, n_psu = 0;
        int n, r = 0;

        assert(ret);
        assert(dir);

        snprintf(dir, dir_size, "%s/class/hwmon", ctx && ctx->sys_root ? ctx->sys_root : "/sys");
        n = scandir(dir, &names, NULL, versionsort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                if (r >= 0 && startswith(names[i]->d_name, "hwmon")) {
                        _cleanup_free_ char *chip = path_join(dir, names[i]->d_name);
                        r = chip ? hwmon_scan_chip(&s, chip, &n_system, &n_psu) : -ENOMEM;
                }
                free(names[i]);
        }
        free(names);
        if (r < 0)
                return r;
        *ret = s;
        s = (HwmonScan) {};
        return 0;
}

static SourceStatus hwmon_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        _cleanup_(hwmon_scan_done) HwmonScan s = {};
        char dir[512];
        size_t off;
        int r;

        assert(reason);

        r = hwmon_scan(ctx, &s, dir, sizeof(dir));
        if (r == -ENOMEM) {
                snprintf(reason, reason_size, "out of memory while probing hwmon");
                return SOURCE_UNSUPPORTED;
        }
        if (r < 0 || s.n_chips == 0) {
                snprintf(reason, reason_size, "no hwmon devices under %s", dir);
                return SOURCE_MISSING;
        }
        if (s.n == 0) {
                snprintf(reason, reason_size, "%zu hwmon devices under %s, none with a system, PSU input or "
                         "socket energy sensor (%zu other power/energy sensors ignored)", s.n_chips, dir, s.n_ignored);
                return SOURCE_MISSING;
        }
        for (size_t i = 0; i < s.n; i++) {
                uint64_t v;
                r = read_u64_file(s.sensors[i].path, &v);
                if (r == -EACCES || r == -EPERM) {
                        snprintf(reason, reason_size, "cannot read %s: %s", s.sensors[i].path, strerror(-r));
                        return SOURCE_PERMISSION;
                }
                if (r < 0) {
                        snprintf(reason, reason_size, "cannot read %s: %s", s.sensors[i].path,
                                 r == -EINVAL ? "not a number" : strerror(-r));
                        return SOURCE_UNSUPPORTED;
                }
        }
        off = (size_t) snprintf(reason, reason_size, "hwmon under %s:", dir);
        for (size_t i = 0; i < s.n && off < reason_size; i++)
                off += (size_t) snprintf(reason + off, reason_size - off, " %s%s", s.domains[i].name,
                                         s.domains[i].integrated ? " (integrated from power)" : "");
        if (s.n_ignored > 0 && off < reason_size)
                snprintf(reason + off, reason_size - off, "; %zu other sensors ignored", s.n_ignored);
        return SOURCE_USABLE;
}

static void hwmon_close(EnergySource *s) {
        HwmonSensor *h;

        if (!s)
                return;
        h = s->userdata;
        for (size_t i = 0; h && i < s->n_domains; i++)
                free(h[i].path);
        free(h);
        free(s->domains);
        free(s);
}

static int hwmon_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        _cleanup_(hwmon_scan_done) HwmonScan scan = {};
        EnergySource *s;
        char dir[512];
        int r;

        assert(reason);
        assert(ret);

        r = hwmon_scan(ctx, &scan, dir, sizeof(dir));
        if (r == -ENOMEM)
                return r;
        if (r < 0 || scan.n == 0) {
                snprintf(reason, reason_size, "no usable hwmon power or energy sensor under %s", dir);
                return -ENODEV;
        }
        s = calloc(1, sizeof(EnergySource));
        if (!s)
                return -ENOMEM;
        s->ops = &hwmon_source_ops;
        s->n_domains = scan.n;
        s->domains = TAKE_PTR(scan.domains);
        s->userdata = TAKE_PTR(scan.sensors);
        scan.n = 0;
        *ret = s;
        return 0;
}

static void hwmon_drop_domain(EnergySource *s, size_t i) {
        HwmonSensor *h;

        assert(s);

        h = s->userdata;
        if (i >= s->n_domains)
                return;
        free(h[i].path);
        source_array_remove(h, s->n_domains, sizeof(HwmonSensor), i);
        source_array_remove(s->domains, s->n_domains, sizeof(EnergyDomain), i);
        s->n_domains--;
}

int hwmon_source_read_at(EnergySource *s, uint64_t now, uint64_t *ret_uj) {
        HwmonSensor *hs;

        if (!s || s->ops != &hwmon_source_ops || !ret_uj)
                return -EINVAL;
        hs = s->userdata;
        for (size_t i = 0; i < s->n_domains; i++) {
                HwmonSensor *h = &hs[i];
                uint64_t v;
                int r = read_u64_file(h->path, &v);

                if (r < 0) {
                        if (!h->failing)
                                log_object_errno(LOG_WARNING, r, "hwmon", s->domains[i].name,
                                                 "hwmon domain %s: cannot read %s: %m", s->domains[i].name, h->path);
                        h->failing = true;
                        power_integrator_gap(&h->integ);
                        ret_uj[i] = ENERGY_READ_FAILED;
                        continue;
                }
                if (h->failing) {
                        log_object(LOG_INFO, "hwmon", s->domains[i].name, "hwmon domain %s is readable again.",
                                   s->domains[i].name);
                        h->failing = false;
                }
                if (!h->energy) {
                        ret_uj[i] = power_integrator_add(&h->integ, v, now);
                        continue;
                }
                if (h->have_prev && v < h->prev_uj) {
                        if (!h->reset_warned)
                                log_object(LOG_WARNING, "hwmon", s->domains[i].name,
                                           "hwmon domain %s went back from %" PRIu64 " to %" PRIu64 " µJ: "
                                           "taking it for a reset, interval discarded.", s->domains[i].name,
                                           h->prev_uj, v);
                        h->reset_warned = true;
                        h->prev_uj = v;
                        s->n_discarded++; /* counted in `joulectl status` */
                        ret_uj[i] = ENERGY_READ_FAILED;
                        continue;
                }
                if (h->have_prev)
                        h->total_uj += v - h->prev_uj;
                h->prev_uj = v;
                h->have_prev = true;
                ret_uj[i] = h->total_uj;
        }
        return 0;
}

static int hwmon_read(EnergySource *s, uint64_t *ret_uj) {
        return hwmon_source_read_at(s, now_ns(CLOCK_MONOTONIC), ret_uj);
}

const EnergySourceOps hwmon_source_ops = {
        .name = "hwmon",
        .estimated = false,
        .probe = hwmon_probe,
        .open = hwmon_open,
        .read = hwmon_read,
        .close = hwmon_close,
        .drop_domain = hwmon_drop_domain,
};
