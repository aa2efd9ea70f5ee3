/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli-util.h"

#include <errno.h>
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
        /* Everything else was logged by store_open(), as one line. */
        return r < 0 ? 1 : 0;
}

char *format_double(double v, char *buf, size_t size) {
        if (!isfinite(v)) {
                snprintf(buf, size, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
                return buf;
        }
        if (v == 0)
                v = 0;   /* no "-0.0" */
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
