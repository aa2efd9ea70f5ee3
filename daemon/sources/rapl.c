/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RAPL energy counters through the kernel's powercap sysfs interface.
 *
 * Layout (Documentation/power/powercap/powercap.rst):
 *   POWERCAP_ROOT/intel-rapl:N            top-level zone, name "package-N", "psys"
 *                                         (some servers: "dram")
 *   POWERCAP_ROOT/intel-rapl:N/intel-rapl:N:M   subzone, name "core", "uncore", "dram"
 * /sys/class/powercap holds symlinks to the same zones several times
 * (intel-rapl:0:0 and intel-rapl/intel-rapl:0/intel-rapl:0:0): zones are
 * deduplicated by realpath() so nothing is counted twice. Any control type
 * named "*-rapl" is accepted (intel-rapl, and an amd-rapl style name should one
 * appear; AMD CPUs use the intel-rapl driver today); "*-rapl-mmio" zones are
 * skipped, they expose the same package counter again through MMIO.
 *
 * energy_uj values lie in [0, max_energy_range_uj]: after max_energy_range_uj
 * the counter goes back to 0, so one wrap between two reads is unfolded as
 * delta = (max_energy_range_uj - prev) + cur + 1. (The hardware counter steps
 * by one energy unit, 15.3 or 61 µJ, not by 1 µJ, so a wrap is exact to within
 * one energy unit.) Several wraps between two reads cannot be seen: with the
 * usual 262 kJ range that takes over 2 minutes at 2 kW, and jouled reads every
 * second or so.
 *
 * Files are re-opened on every read instead of kept open and pread() at
 * offset 0: that is a few µs per domain per second, and it keeps working when
 * a file is replaced (tests and fixture trees replace files atomically with
 * rename(), which would leave a kept-open fd on the old file forever). */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "source.h"
#include "util.h"

#define RAPL_DEFAULT_MAX_POWER_W 1000.0
/* The power limits a zone advertises are not a ceiling: PL2 turbo commonly
 * runs 2-4x above constraint_0 (long term) on laptops. The plausibility check
 * is only meant to catch counter resets and garbage (kW to MW), so the bound
 * is never below this. */
#define RAPL_MIN_MAX_POWER_W 1000.0
#define RAPL_JUMP_FACTOR 2.0
/* The counters update about every millisecond: never judge a delta over less
 * elapsed time than this. */
#define RAPL_MIN_ELAPSED_NS (10 * NSEC_PER_MSEC)
#define RAPL_MAX_CONSTRAINTS 8

typedef struct RaplDomainState {
        char *energy_path;
        uint64_t range_uj;          /* max_energy_range_uj, 0 when unknown */
        bool have_prev;
        uint64_t prev_raw;
        uint64_t prev_ns;
        uint64_t total_uj;
        bool read_warned;           /* current failure episode already logged */
        bool failing;
        bool jump_warned;
        bool garbage_warned;
} RaplDomainState;

typedef struct Rapl {
        char *root;
        RaplDomainState *state;     /* n_domains entries */
} Rapl;

/* One zone directory found while walking. */
typedef struct RaplZone {
        char *path;
        char *real;
        char id[NAME_MAX + 1];
        unsigned index;             /* N of "*-rapl:N[:M]" */
        int sub;                    /* M, or -1 for a top-level zone */
} RaplZone;

typedef struct RaplScan {
        RaplZone *zones;
        size_t n_zones;
        EnergyDomain *domains;
        RaplDomainState *state;
        size_t n_domains;
} RaplScan;

static const char *root_or_default(const SourceContext *ctx) {
        return ctx && ctx->powercap_root ? ctx->powercap_root : "/sys/class/powercap";
}

static int parse_uint_prefix(const char *s, unsigned *ret, const char **ret_end) {
        unsigned long v = 0;
        const char *p = s;

        assert(s);
        assert(ret);
        assert(ret_end);

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                v = v * 10 + (unsigned long) (*p - '0');
                if (v > INT_MAX)
                        return -ERANGE;
        }
        *ret = (unsigned) v;
        *ret_end = p;
        return 0;
}

/* "intel-rapl:0" → index 0, sub -1; "intel-rapl:0:2" → index 0, sub 2.
 * The control type before the first ':' must end in "-rapl" (so
 * "intel-rapl-mmio:0" is refused). */
static bool rapl_zone_id_parse(const char *id, unsigned *ret_index, int *ret_sub, size_t *ret_type_len) {
        const char *colon, *end;
        unsigned n, m;

        assert(id);
        assert(ret_index);
        assert(ret_sub);
        assert(ret_type_len);

        colon = strchr(id, ':');
        if (!colon || colon - id < 5 || strncmp(colon - 5, "-rapl", 5) != 0)
                return false;
        if (parse_uint_prefix(colon + 1, &n, &end) < 0)
                return false;
        if (*end == 0) {
                *ret_index = n;
                *ret_sub = -1;
        } else if (*end == ':') {
                const char *end2;
                if (parse_uint_prefix(end + 1, &m, &end2) < 0 || *end2 != 0)
                        return false;
                *ret_index = n;
                *ret_sub = (int) m;
        } else
                return false;
        *ret_type_len = (size_t) (colon - id);
        return true;
}

static void rapl_scan_done(RaplScan *s) {
        assert(s);

        for (size_t i = 0; i < s->n_zones; i++) {
                free(s->zones[i].path);
                free(s->zones[i].real);
        }
        free(s->zones);
        for (size_t i = 0; i < s->n_domains; i++)
                free(s->state[i].energy_path);
        free(s->state);
        free(s->domains);
        *s = (RaplScan) {};
}

static int rapl_scan_add_zone(RaplScan *s, const char *dir, const char *id, unsigned index, int sub) {
        _cleanup_free_ char *path = NULL, *real = NULL;
        RaplZone *z;

        assert(s);
        assert(dir);
        assert(id);

        path = path_join(dir, id);
        if (!path)
                return -ENOMEM;
        real = realpath(path, NULL);
        if (!real) {
                if (errno == ENOMEM)
                        return -ENOMEM;
                log_object_errno(LOG_DEBUG, errno, "rapl", NULL, "Cannot resolve %s, ignoring: %m", path);
                return 0;
        }
        for (size_t i = 0; i < s->n_zones; i++)
                if (streq_ptr(s->zones[i].real, real) || streq_ptr(s->zones[i].id, id))
                        return 0; /* the same zone seen through another link */

        z = reallocarray(s->zones, s->n_zones + 1, sizeof(RaplZone));
        if (!z)
                return -ENOMEM;
        s->zones = z;
        z = &s->zones[s->n_zones++];
        *z = (RaplZone) { .path = TAKE_PTR(path), .real = TAKE_PTR(real), .index = index, .sub = sub };
        strscpy(z->id, sizeof(z->id), id);
        return 1;
}

static int filter_visible(const struct dirent *de) {
        return de->d_name[0] != '.';
}

/* Add the zones directly inside dir (ids "*-rapl:N" and "*-rapl:N:M"); when
 * subzones, also look inside each top-level zone for its subzones; when types,
 * also inside control type directories ("*-rapl", one level only). */
static int rapl_scan_dir(RaplScan *s, const char *dir, bool subzones, bool types) {
        struct dirent **names = NULL;
        int n, r = 0;

        assert(s);
        assert(dir);

        n = scandir(dir, &names, filter_visible, alphasort);
        if (n < 0)
                return -errno;

        for (int i = 0; i < n; i++) {
                const char *id = names[i]->d_name;
                unsigned index;
                int sub;
                size_t type_len;

                if (r >= 0 && rapl_zone_id_parse(id, &index, &sub, &type_len)) {
                        int k = rapl_scan_add_zone(s, dir, id, index, sub);
                        if (k < 0)
                                r = k;
                        else if (k > 0 && subzones && sub < 0) {
                                _cleanup_free_ char *zdir = path_join(dir, id);
                                if (!zdir)
                                        r = -ENOMEM;
                                else {
                                        k = rapl_scan_dir(s, zdir, false, false);
                                        if (k == -ENOMEM)
                                                r = k;
                                }
                        }
                } else if (r >= 0 && types && endswith(id, "-rapl")) {
                        _cleanup_free_ char *tdir = path_join(dir, id);
                        if (!tdir)
                                r = -ENOMEM;
                        else {
                                int k = rapl_scan_dir(s, tdir, true, false);
                                if (k == -ENOMEM)
                                        r = k;
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}

static int read_zone_name(const RaplZone *z, char *buf, size_t size) {
        _cleanup_free_ char *p = NULL, *v = NULL;
        int r;

        assert(z);
        assert(buf);

        p = path_join(z->path, "name");
        if (!p)
                return -ENOMEM;
        r = read_small_file(p, 64, &v);
        if (r < 0)
                return r;
        strscpy(buf, size, v);
        return 0;
}

static double zone_max_power_w(const RaplZone *z) {
        double w = 0;

        for (unsigned k = 0; k < RAPL_MAX_CONSTRAINTS; k++) {
                char file[64];
                _cleanup_free_ char *p = NULL;
                uint64_t uw;

                snprintf(file, sizeof(file), "constraint_%u_max_power_uw", k);
                p = path_join(z->path, file);
                if (!p)
                        break;
                if (read_u64_file(p, &uw) < 0)
                        continue;
                w = MAX(w, (double) uw / 1e6);
        }
        if (w <= 0)
                return RAPL_DEFAULT_MAX_POWER_W;
        return MAX(w, RAPL_MIN_MAX_POWER_W);
}

static bool parse_package_name(const char *name, int *ret) {
        unsigned n;
        const char *end;

        if (!startswith(name, "package-"))
                return false;
        if (parse_uint_prefix(name + strlen("package-"), &n, &end) < 0 || *end != 0)
                return false;
        *ret = (int) n;
        return true;
}

static int rapl_scan_add_domain(RaplScan *s, const RaplZone *z, const char *name, DomainKind kind, int package) {
        EnergyDomain *d;
        RaplDomainState *st;
        _cleanup_free_ char *energy = NULL, *range_path = NULL;

        assert(s);
        assert(z);
        assert(name);

        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, name) == 0) {
                        log_object(LOG_DEBUG, "rapl", name, "RAPL zone %s is a second %s domain, ignoring.", z->path, name);
                        return 0;
                }

        energy = path_join(z->path, "energy_uj");
        range_path = path_join(z->path, "max_energy_range_uj");
        if (!energy || !range_path)
                return -ENOMEM;

        d = reallocarray(s->domains, s->n_domains + 1, sizeof(EnergyDomain));
        if (!d)
                return -ENOMEM;
        s->domains = d;
        st = reallocarray(s->state, s->n_domains + 1, sizeof(RaplDomainState));
        if (!st)
                return -ENOMEM;
        s->state = st;

        d = &s->domains[s->n_domains];
        st = &s->state[s->n_domains];
        *d = (EnergyDomain) { .kind = kind, .package = package, .estimated = false,
                              .max_power_w = zone_max_power_w(z) };
        strscpy(d->name, sizeof(d->name), name);
        *st = (RaplDomainState) { .energy_path = TAKE_PTR(energy) };
        if (read_u64_file(range_path, &st->range_uj) < 0) {
                log_object(LOG_DEBUG, "rapl", name, "Cannot read %s: a wrap of %s will be taken for a reset.",
                           range_path, name);
                st->range_uj = 0;
        }
        s->n_domains++;
        return 0;
}

static int domain_cmp(const EnergyDomain *a, const EnergyDomain *b) {
        int pa = a->package < 0 ? INT_MAX : a->package, pb = b->package < 0 ? INT_MAX : b->package;
        if (pa != pb)
                return pa < pb ? -1 : 1;
        if (a->kind != b->kind)
                return a->kind < b->kind ? -1 : 1;
        return strcmp(a->name, b->name);
}

/* Insertion sort of domains and their state together (a handful of entries). */
static void rapl_scan_sort(RaplScan *s) {
        assert(s);

        for (size_t i = 1; i < s->n_domains; i++)
                for (size_t j = i; j > 0 && domain_cmp(&s->domains[j - 1], &s->domains[j]) > 0; j--) {
                        EnergyDomain td = s->domains[j];
                        RaplDomainState ts = s->state[j];
                        s->domains[j] = s->domains[j - 1];
                        s->state[j] = s->state[j - 1];
                        s->domains[j - 1] = td;
                        s->state[j - 1] = ts;
                }
}

/* Walk root and build the domains. Returns 0 (possibly with no zones: check
 * n_zones and n_domains), -ENOENT/-ENOTDIR/... when root cannot be listed,
 * -ENOMEM. Does not log above debug level. */
static int rapl_scan(const char *root, RaplScan *ret) {
        _cleanup_(rapl_scan_done) RaplScan s = {};
        int r;

        assert(root);
        assert(ret);

        r = rapl_scan_dir(&s, root, true, true);
        if (r < 0)
                return r;

        /* Top-level zones first: they give the package index of their subzones. */
        for (size_t i = 0; i < s.n_zones; i++) {
                const RaplZone *z = &s.zones[i];
                char name[64], dname[DOMAIN_NAME_MAX];
                int pkg;

                if (z->sub >= 0)
                        continue;
                if (read_zone_name(z, name, sizeof(name)) < 0) {
                        log_object(LOG_DEBUG, "rapl", NULL, "RAPL zone %s has no readable name, ignoring.", z->path);
                        continue;
                }
                if (parse_package_name(name, &pkg))
                        r = rapl_scan_add_domain(&s, z, name, DOMAIN_PACKAGE, pkg);
                else if (streq_ptr(name, "psys"))
                        r = rapl_scan_add_domain(&s, z, "psys", DOMAIN_PSYS, -1);
                else if (streq_ptr(name, "dram")) {
                        snprintf(dname, sizeof(dname), "dram-%u", z->index);
                        r = rapl_scan_add_domain(&s, z, dname, DOMAIN_DRAM, (int) z->index);
                } else {
                        log_object(LOG_DEBUG, "rapl", NULL, "RAPL zone %s has unknown name \"%s\", ignoring.",
                                   z->path, name);
                        r = 0;
                }
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < s.n_zones; i++) {
                const RaplZone *z = &s.zones[i], *parent = NULL;
                char name[64], pname[64], dname[DOMAIN_NAME_MAX];
                const char *prefix;
                DomainKind kind;
                size_t type_len = strcspn(z->id, ":");
                int pkg;

                if (z->sub < 0)
                        continue;
                for (size_t j = 0; j < s.n_zones; j++)
                        if (s.zones[j].sub < 0 && s.zones[j].index == z->index &&
                            strncmp(s.zones[j].id, z->id, type_len + 1) == 0)
                                parent = &s.zones[j];
                if (!parent || read_zone_name(parent, pname, sizeof(pname)) < 0 ||
                    !parse_package_name(pname, &pkg)) {
                        log_object(LOG_DEBUG, "rapl", NULL, "RAPL subzone %s has no package parent, ignoring.", z->path);
                        continue;
                }
                if (read_zone_name(z, name, sizeof(name)) < 0) {
                        log_object(LOG_DEBUG, "rapl", NULL, "RAPL zone %s has no readable name, ignoring.", z->path);
                        continue;
                }
                if (streq_ptr(name, "core"))
                        prefix = "core", kind = DOMAIN_CORE;
                else if (streq_ptr(name, "uncore"))
                        prefix = "uncore", kind = DOMAIN_UNCORE;
                else if (streq_ptr(name, "dram"))
                        prefix = "dram", kind = DOMAIN_DRAM;
                else {
                        log_object(LOG_DEBUG, "rapl", NULL, "RAPL subzone %s has unknown name \"%s\", ignoring.",
                                   z->path, name);
                        continue;
                }
                snprintf(dname, sizeof(dname), "%s-%d", prefix, pkg);
                r = rapl_scan_add_domain(&s, z, dname, kind, pkg);
                if (r < 0)
                        return r;
        }

        rapl_scan_sort(&s);
        *ret = s;
        s = (RaplScan) {};
        return 0;
}

static void format_read_error(char *buf, size_t size, const char *path, int r) {
        assert(buf);
        assert(path);

        if (r == -EACCES || r == -EPERM)
                snprintf(buf, size, "energy_uj is readable by root only since Linux 5.10 (%s): run jouled as root", path);
        else if (r == -EINVAL || r == -ERANGE)
                snprintf(buf, size, "%s does not hold a decimal number of micro-joules", path);
        else
                snprintf(buf, size, "cannot read %s: %s", path, strerror(-r));
}

static SourceStatus rapl_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        const char *root = root_or_default(ctx);
        _cleanup_(rapl_scan_done) RaplScan s = {};
        char first_error[256] = "";
        size_t n_ok = 0, n_bad = 0, off;
        int r, perm = 0;

        assert(reason);

        r = rapl_scan(root, &s);
        if (r == -ENOMEM) {
                snprintf(reason, reason_size, "out of memory while probing RAPL");
                return SOURCE_UNSUPPORTED;
        }
        if (r < 0 || s.n_zones == 0) {
                snprintf(reason, reason_size, "no RAPL powercap zones under %s", root);
                return SOURCE_MISSING;
        }
        if (s.n_domains == 0) {
                snprintf(reason, reason_size, "RAPL zones under %s have no known domain (package-N, psys, core, uncore, dram)", root);
                return SOURCE_UNSUPPORTED;
        }

        for (size_t i = 0; i < s.n_domains; i++) {
                uint64_t v;
                r = read_u64_file(s.state[i].energy_path, &v);
                if (r >= 0 && s.state[i].range_uj > 0 && v > s.state[i].range_uj)
                        r = -ERANGE;
                if (r >= 0) {
                        n_ok++;
                        continue;
                }
                n_bad++;
                if (!perm && (r == -EACCES || r == -EPERM)) {
                        perm = r;
                        format_read_error(first_error, sizeof(first_error), s.state[i].energy_path, r);
                } else if (!first_error[0])
                        format_read_error(first_error, sizeof(first_error), s.state[i].energy_path, r);
        }

        if (perm) {
                snprintf(reason, reason_size, "%s", first_error);
                return SOURCE_PERMISSION;
        }
        if (n_ok == 0) {
                snprintf(reason, reason_size, "%s", first_error);
                return SOURCE_UNSUPPORTED;
        }

        off = (size_t) snprintf(reason, reason_size, "powercap under %s:", root);
        for (size_t i = 0; i < s.n_domains && off < reason_size; i++)
                off += (size_t) snprintf(reason + off, reason_size - off, " %s", s.domains[i].name);
        if (n_bad > 0 && off < reason_size)
                snprintf(reason + off, reason_size - off, "; %zu unreadable: %s", n_bad, first_error);
        return SOURCE_USABLE;
}

static void rapl_close(EnergySource *s) {
        Rapl *rapl;

        if (!s)
                return;
        rapl = s->userdata;
        if (rapl) {
                for (size_t i = 0; i < s->n_domains; i++)
                        free(rapl->state[i].energy_path);
                free(rapl->state);
                free(rapl->root);
                free(rapl);
        }
        free(s->domains);
        free(s);
}

static int rapl_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        const char *root = root_or_default(ctx);
        _cleanup_(rapl_scan_done) RaplScan scan = {};
        _cleanup_free_ Rapl *rapl = NULL;
        _cleanup_free_ char *root_copy = NULL;
        EnergySource *s;
        int r;

        assert(reason);
        assert(ret);

        r = rapl_scan(root, &scan);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || scan.n_domains == 0) {
                snprintf(reason, reason_size, "no RAPL powercap domains under %s", root);
                return -ENODEV;
        }

        rapl = calloc(1, sizeof(Rapl));
        root_copy = strdup(root);
        s = calloc(1, sizeof(EnergySource));
        if (!rapl || !root_copy || !s) {
                free(s);
                return -ENOMEM;
        }
        rapl->root = TAKE_PTR(root_copy);
        rapl->state = TAKE_PTR(scan.state);
        s->ops = &rapl_source_ops;
        s->n_domains = scan.n_domains;
        s->domains = TAKE_PTR(scan.domains);
        scan.n_domains = 0;
        s->userdata = TAKE_PTR(rapl);

        for (size_t i = 0; i < s->n_domains; i++)
                log_object(LOG_DEBUG, "rapl", s->domains[i].name, "RAPL domain %s from %s (range %" PRIu64 " µJ, bound %.0f W)",
                           s->domains[i].name, ((Rapl *) s->userdata)->state[i].energy_path,
                           ((Rapl *) s->userdata)->state[i].range_uj, s->domains[i].max_power_w);
        *ret = s;
        return 0;
}

static uint64_t rapl_domain_read(const EnergyDomain *d, RaplDomainState *st, uint64_t now, uint64_t *n_discarded) {
        uint64_t cur, delta, elapsed, bound_uj;
        int r;

        assert(d);
        assert(st);
        assert(n_discarded);

        r = read_u64_file(st->energy_path, &cur);
        if (r < 0) {
                char msg[512];
                format_read_error(msg, sizeof(msg), st->energy_path, r);
                log_object(st->read_warned ? LOG_DEBUG : LOG_WARNING, "rapl", d->name,
                           "RAPL domain %s has no reading: %s.", d->name, msg);
                st->read_warned = true;
                st->failing = true;
                return ENERGY_READ_FAILED;
        }
        if (st->range_uj > 0 && cur > st->range_uj) {
                if (!st->garbage_warned)
                        log_object(LOG_WARNING, "rapl", d->name,
                                   "RAPL domain %s: %s reads %" PRIu64 ", above max_energy_range_uj %" PRIu64 ", ignoring.",
                                   d->name, st->energy_path, cur, st->range_uj);
                st->garbage_warned = true;
                st->failing = true;
                return ENERGY_READ_FAILED;
        }
        if (st->failing) {
                log_object(LOG_INFO, "rapl", d->name, "RAPL domain %s is readable again.", d->name);
                st->failing = false;
                st->read_warned = false;
        }

        if (!st->have_prev) {
                st->have_prev = true;
                st->prev_raw = cur;
                st->prev_ns = now;
                return st->total_uj;
        }

        if (cur >= st->prev_raw)
                delta = cur - st->prev_raw;
        else if (st->range_uj > 0)
                delta = (st->range_uj - st->prev_raw) + cur + 1;
        else {
                if (!st->jump_warned)
                        log_object(LOG_WARNING, "rapl", d->name,
                                   "RAPL domain %s went back from %" PRIu64 " to %" PRIu64 " µJ and its range is unknown: "
                                   "taking it for a reset, interval discarded.", d->name, st->prev_raw, cur);
                st->jump_warned = true;
                st->prev_raw = cur;
                st->prev_ns = now;
                (*n_discarded)++; /* counted in `joulectl status` */
                return ENERGY_READ_FAILED;
        }

        elapsed = now > st->prev_ns ? now - st->prev_ns : 0;
        elapsed = MAX(elapsed, RAPL_MIN_ELAPSED_NS);
        /* W × ns = nJ; / 1000 = µJ. */
        bound_uj = (uint64_t) (d->max_power_w * RAPL_JUMP_FACTOR * ((double) elapsed / 1000.0));
        if (delta > bound_uj) {
                if (!st->jump_warned)
                        log_object(LOG_WARNING, "rapl", d->name,
                                   "RAPL domain %s: %" PRIu64 " µJ in %.3f s is above %.0f W × %.0f, "
                                   "interval discarded (a counter reset?).",
                                   d->name, delta, (double) elapsed / 1e9, d->max_power_w, RAPL_JUMP_FACTOR);
                else
                        log_object(LOG_DEBUG, "rapl", d->name, "RAPL domain %s: implausible delta %" PRIu64 " µJ discarded.",
                                   d->name, delta);
                st->jump_warned = true;
                st->prev_raw = cur;
                st->prev_ns = now;
                (*n_discarded)++; /* counted in `joulectl status` */
                return ENERGY_READ_FAILED;
        }

        st->total_uj += delta;
        st->prev_raw = cur;
        st->prev_ns = now;
        return st->total_uj;
}

static void rapl_drop_domain(EnergySource *s, size_t i) {
        Rapl *rapl;

        assert(s);

        rapl = s->userdata;
        if (i >= s->n_domains)
                return;
        free(rapl->state[i].energy_path);
        source_array_remove(rapl->state, s->n_domains, sizeof(RaplDomainState), i);
        source_array_remove(s->domains, s->n_domains, sizeof(EnergyDomain), i);
        s->n_domains--;
}

int rapl_source_read_at(EnergySource *s, uint64_t now, uint64_t *ret_uj) {
        Rapl *rapl;

        if (!s || s->ops != &rapl_source_ops || !ret_uj)
                return -EINVAL;
        rapl = s->userdata;
        for (size_t i = 0; i < s->n_domains; i++)
                ret_uj[i] = rapl_domain_read(&s->domains[i], &rapl->state[i], now, &s->n_discarded);
        return 0;
}

static int rapl_read(EnergySource *s, uint64_t *ret_uj) {
        return rapl_source_read_at(s, now_ns(CLOCK_MONOTONIC), ret_uj);
}

const EnergySourceOps rapl_source_ops = {
        .name = "rapl",
        .estimated = false,
        .probe = rapl_probe,
        .open = rapl_open,
        .read = rapl_read,
        .close = rapl_close,
        .drop_domain = rapl_drop_domain,
};
