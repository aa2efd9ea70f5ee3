/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli-util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

int cli_open_store(const CliGlobals *g, Store **ret) {
        int r = store_open(g->db_path, STORE_READ_ONLY, ret);
        if (r == -ENOENT) {
                fprintf(stderr, "joulectl: cannot open database %s: %s (is jouled running? use --db)\n",
                        g->db_path, strerror(ENOENT));
                return 1;
        }
        if (r == -EACCES) { /* the database is 0640 root:jouled */
                fprintf(stderr, "joulectl: cannot read DB: %s; add yourself to the 'jouled' group "
                        "(usermod -aG jouled $USER) or use sudo\n", strerror(EACCES));
                return 1;
        }
        /* Everything else was logged by store_open(), as one line. */
        return r < 0 ? 1 : 0;
}

int cli_require_schema(Store *store, int needed, const char *what) {
        int v = store_schema_version(store);

        if (v >= needed)
                return 0;
        if (v < 0) {
                fprintf(stderr, "joulectl: cannot read the schema version of %s: %s\n", store_path(store),
                        strerror(-v));
                return 1;
        }
        fprintf(stderr,
                "joulectl: %s needs database schema %d: database schema %d is older than this joulectl (%d): "
                "restart jouled to upgrade it\n",
                what, needed, v, store_latest_schema_version());
        return EXIT_OLD_SCHEMA;
}

int cli_require_group_by_schema(Store *store, const char *verb, GroupBy by) {
        char what[64];
        int needed = store_group_by_schema(by);

        if (needed <= 0)
                return 0;
        snprintf(what, sizeof(what), "%s --by %s", verb, group_by_to_string(by));
        return cli_require_schema(store, needed, what);
}

void cli_store_error(Store *store, int error) {
        if (error == -ENOMEM)
                fprintf(stderr, "joulectl: out of memory\n");
        else
                fprintf(stderr, "joulectl: cannot read database: %s\n", store_query_error(store));
}

char *format_double(double v, char *buf, size_t size) {
        if (!isfinite(v)) {
                snprintf(buf, size, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
                return buf;
        }
        if (v == 0)
                v = 0;   /* no "-0.0" */
        if (fabs(v) < 1e15 && v == (double) (long long) v) {
                snprintf(buf, size, "%lld.0", (long long) v);   /* "480.0", not "4.8e+02" */
                return buf;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        if (!strpbrk(buf, ".e"))
                strncat(buf, ".0", size - strlen(buf) - 1);
        return buf;
}

char *format_ns_as_seconds(uint64_t ns, char *buf, size_t size) {
        char frac[16];
        size_t n;

        snprintf(frac, sizeof(frac), "%09" PRIu64, ns % NSEC_PER_SEC);
        n = strlen(frac);
        while (n > 1 && frac[n - 1] == '0')
                frac[--n] = 0;
        snprintf(buf, size, "%" PRIu64 ".%s", ns / NSEC_PER_SEC, frac);
        return buf;
}

char *format_energy(double j, bool with_wh, char *buf, size_t size) {
        double a = fabs(j);
        char wh[32] = "";

        if (with_wh && a >= 3600.0 * 1000)
                snprintf(wh, sizeof(wh), " (%.3g kWh)", j / 3.6e6);
        else if (with_wh && a >= 360.0)
                snprintf(wh, sizeof(wh), " (%.3g Wh)", j / 3600.0);

        if (a > 0 && a < 1)
                snprintf(buf, size, "%.*f mJ%s", a < 0.01 ? 2 : a < 0.1 ? 1 : 0, j * 1e3, wh);
        else if (a < 1e3)
                snprintf(buf, size, "%.*f J%s", a < 10 ? 2 : a < 100 ? 1 : 0, j, wh);
        else if (a < 1e6)
                snprintf(buf, size, "%.*f kJ%s", a < 1e4 ? 2 : a < 1e5 ? 1 : 0, j / 1e3, wh);
        else if (a < 1e9)
                snprintf(buf, size, "%.*f MJ%s", a < 1e7 ? 2 : a < 1e8 ? 1 : 0, j / 1e6, wh);
        else
                snprintf(buf, size, "%.3g GJ%s", j / 1e9, wh);
        return buf;
}

char *format_bytes(uint64_t b, char *buf, size_t size) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
        double v = (double) b;
        size_t u = 0;

        if (b < 1024) {
                snprintf(buf, size, "%" PRIu64 " B", b);
                return buf;
        }
        v /= 1024;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, size, "%.1f %s", v, units[u]);
        return buf;
}

json_object *json_double_exact(double v) {
        char buf[64];
        if (!isfinite(v))
                return NULL;   /* JSON null */
        return json_object_new_double_s(v, format_double(v, buf, sizeof(buf)));
}

json_object *json_seconds_from_ns(uint64_t ns) {
        char buf[64];
        return json_object_new_double_s((double) ns / 1e9, format_ns_as_seconds(ns, buf, sizeof(buf)));
}

void json_print(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

typedef struct UserCacheEntry {
        uint32_t uid;
        char name[64];
} UserCacheEntry;

const char *cli_user_name(uint32_t uid) {
        static UserCacheEntry cache[64];
        static size_t n, next;
        struct passwd *pw;
        UserCacheEntry *e;

        for (size_t i = 0; i < n; i++)
                if (cache[i].uid == uid)
                        return cache[i].name;
        e = n < ELEMENTSOF(cache) ? &cache[n++] : &cache[next++ % ELEMENTSOF(cache)];
        e->uid = uid;
        pw = getpwuid(uid);
        if (pw && pw->pw_name)
                strscpy(e->name, sizeof(e->name), pw->pw_name);
        else
                snprintf(e->name, sizeof(e->name), "%" PRIu32, uid);
        return e->name;
}

void csv_field(FILE *f, const char *s) {
        if (!s)
                return;
        if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (s[0] == 0 || s[strlen(s) - 1] != ' ')) {
                fputs(s, f);
                return;
        }
        fputc('"', f);
        for (const char *p = s; *p; p++) {
                if (*p == '"')
                        fputc('"', f);
                fputc(*p, f);
        }
        fputc('"', f);
}

int cli_carbon_parse(const char *s, double *ret) {
        double v;

        if (!s || parse_double(s, &v) < 0 || !isfinite(v) || v < 0 || v > 10000)
                return -EINVAL;
        if (ret)
                *ret = v;
        return 0;
}

int cli_carbon_usage(const char *arg) {
        fprintf(stderr,
                "joulectl: invalid --carbon-intensity '%s': expected gCO2e per kWh, a number from 0 to 10000\n",
                arg);
        return EXIT_USAGE;
}

char *cli_state_get(Store *store, const char *key) {
        char *v = NULL;

        if (!store || store_query_state(store, key, &v) < 0)
                return NULL;
        return v;
}

void cli_carbon_resolve(const CliGlobals *g, Store *store, Carbon *ret) {
        const char *env = getenv("JOULED_CARBON_INTENSITY");
        double v;

        *ret = (Carbon) { .g_per_kwh = CARBON_DEFAULT_G_PER_KWH };
        strscpy(ret->origin, sizeof(ret->origin), CARBON_DEFAULT_ORIGIN);

        if (g->carbon_arg && cli_carbon_parse(g->carbon_arg, &v) >= 0) {
                ret->g_per_kwh = v;
                strscpy(ret->origin, sizeof(ret->origin),
                        env && streq_ptr(env, g->carbon_arg) ? "$JOULED_CARBON_INTENSITY" : "--carbon-intensity");
                return;
        }
        _cleanup_free_ char *s = cli_state_get(store, "carbon_g_per_kwh");
        if (s && cli_carbon_parse(s, &v) >= 0) {
                _cleanup_free_ char *src = cli_state_get(store, "carbon_source");
                ret->g_per_kwh = v;
                if (src && src[0])
                        strscpy(ret->origin, sizeof(ret->origin), src);
                else if (v != CARBON_DEFAULT_G_PER_KWH)
                        strscpy(ret->origin, sizeof(ret->origin), "jouled.conf [Carbon] IntensityGramsPerKWh=");
        }
}

char *format_co2(double g, char *buf, size_t size) {
        double a = fabs(g);
        if (a > 0 && a < 1)
                snprintf(buf, size, "%.3g mgCO2e", g * 1e3);
        else if (a < 1e3)
                snprintf(buf, size, "%.3g gCO2e", g);
        else if (a < 1e6)
                snprintf(buf, size, "%.3g kgCO2e", g / 1e3);
        else
                snprintf(buf, size, "%.3g tCO2e", g / 1e6);
        return buf;
}

char *format_carbon_origin(const Carbon *c, char *buf, size_t size) {
        snprintf(buf, size, "gCO2e at %g g/kWh, %s", c->g_per_kwh, c->origin);
        return buf;
}

int cli_usage_time(const char *opt, const char *arg) {
        fprintf(stderr,
                "joulectl: invalid %s '%s': expected a duration like 30s, 15m, 1h, 2d, an ISO 8601 time, "
                "today, yesterday or boot\n",
                opt, arg);
        return EXIT_USAGE;
}

uint64_t cli_boot_realtime(void) {
        uint64_t rt = now_ns(CLOCK_REALTIME), bt = now_ns(CLOCK_BOOTTIME);
        return rt > bt ? rt - bt : 0;
}

int cli_option_error(int c, char **argv, const char *verb, const char *accepted) {
        const char *opt = argv[optind - 1];

        if (!verb) {
                if (c == ':')
                        fprintf(stderr, "joulectl: option '%s' needs an argument\n", opt);
                else
                        fprintf(stderr, "joulectl: unknown option '%s' (global options: %s)\n", opt, accepted);
        } else if (c == ':')
                fprintf(stderr, "joulectl: option '%s' of %s needs an argument\n", opt, verb);
        else
                fprintf(stderr, "joulectl: unknown option '%s' for %s (accepted: %s)\n", opt, verb, accepted);
        return EXIT_USAGE;
}

int cli_carbon_option(CliGlobals *g, const char *arg) {
        if (cli_carbon_parse(arg, NULL) < 0)
                return cli_carbon_usage(arg);
        g->carbon_arg = arg;
        return 0;
}

int cli_no_arguments(int argc, char **argv, const char *verb, const char *accepted) {
        if (optind >= argc)
                return 0;
        if (accepted)
                fprintf(stderr, "joulectl: unexpected argument '%s' for %s (accepted: %s)\n", argv[optind], verb,
                        accepted);
        else
                fprintf(stderr, "joulectl: unexpected argument '%s' for %s (it takes options only)\n", argv[optind],
                        verb);
        return EXIT_USAGE;
}
