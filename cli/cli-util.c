/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli-util.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "sanitize.h"
#include "timeparse.h"
#include "util.h"

bool cli_jouled_running(void) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        struct dirent *de;

        if (!d)
                return false;
        while ((de = readdir(d))) {
                char path[300], comm[32] = "";
                FILE *f;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (!fgets(comm, sizeof(comm), f))
                        comm[0] = 0;
                fclose(f);
                if (strcmp(comm, "jouled\n") == 0)
                        return true;
        }
        return false;
}

/* The group that may read the database at path: the file's own when it can
 * be seen and is not root's, else "jouled" where that group exists, else
 * none (NULL). */
static const char *reader_group(const char *path, char *buf, size_t size) {
        struct group *gr = NULL;
        struct stat st;

        if (stat(path, &st) >= 0 && st.st_gid != 0)
                gr = getgrgid(st.st_gid);
        if (!gr)
                gr = getgrnam("jouled");
        if (!gr || !gr->gr_name)
                return NULL;
        strscpy(buf, size, gr->gr_name);
        return buf;
}

int cli_open_store(const CliGlobals *g, Store **ret) {
        char group[64];
        int r = store_open(g->db_path, STORE_READ_ONLY, ret);

        if (r == -ENOENT) {
                fprintf(stderr, "joulectl: cannot open database %s: %s; %s\n", cli_safe(g->db_path), strerror(ENOENT),
                        cli_jouled_running() ? "jouled is running but writes another database (use --db PATH)"
                                             : "jouled is not running (start it, or use --db PATH)");
                return 1;
        }
        if (r == -EACCES) {
                /* A group named only where one exists that may read it. */
                if (reader_group(g->db_path, group, sizeof(group)))
                        fprintf(stderr, "joulectl: cannot read DB: %s; add yourself to the '%s' group "
                                "(usermod -aG %s $USER) or use sudo\n", strerror(EACCES), group, group);
                else
                        fprintf(stderr, "joulectl: cannot read DB: %s; %s is readable by root only: use sudo\n",
                                strerror(EACCES), cli_safe(g->db_path));
                return 1;
        }
        /* Everything else was logged by store_open(), as one line. */
        return r < 0 ? 1 : 0;
}

const char *cli_default_db(void) {
        static char path[4096];
        const char *dir = getenv("JOULED_RUNTIME_DIR");
        _cleanup_free_ char *file = path_join(dir && *dir ? dir : "/run/jouled", "db"), *v = NULL;

        /* The database a running jouled recorded, while it exists. */
        if (file && read_small_file(file, sizeof(path) - 1, &v) >= 0 && v[0] == '/' && access(v, F_OK) >= 0) {
                strscpy(path, sizeof(path), v);
                return path;
        }
        return CLI_DEFAULT_DB;
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

char *format_si(double v, const char *unit, int min_exp, int max_exp, char *buf, size_t size) {
        static const char *const prefixes[] = { "n", "\u00b5", "m", "", "k", "M", "G", "T" };
        double a = fabs(v), m;
        int e;

        if (!isfinite(v)) {
                snprintf(buf, size, "%s %s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", unit);
                return buf;
        }
        if (a == 0) {
                snprintf(buf, size, "0 %s", unit);
                return buf;
        }
        e = (int) floor(log10(a) / 3) * 3;
        e = MAX(min_exp, MIN(max_exp, e));
        m = a / pow(10, e);
        /* 999.96 rounds to "1000": the next prefix up. */
        if (m >= 999.5 && e + 3 <= max_exp) {
                e += 3;
                m /= 1000;
        }
        snprintf(buf, size, "%s%.*f %s%s", v < 0 ? "-" : "", m < 9.995 ? 2 : m < 99.95 ? 1 : 0, m,
                 prefixes[e / 3 + 3], unit);
        return buf;
}

char *format_energy(double j, bool with_wh, char *buf, size_t size) {
        char e[32], wh[32];

        format_si(j, "J", -6, 9, e, sizeof(e));
        if (with_wh && fabs(j) >= 360.0) {
                snprintf(buf, size, "%s (%s)", e, format_si(j / 3600.0, "Wh", -3, 9, wh, sizeof(wh)));
                return buf;
        }
        snprintf(buf, size, "%s", e);
        return buf;
}

char *format_energy_pm(double mean, double stddev, char *buf, size_t size) {
        static const char *const prefixes[] = { "\u00b5", "m", "", "k", "M", "G" };
        double a = fabs(mean) > 0 ? fabs(mean) : fabs(stddev);
        int e = a > 0 ? (int) floor(log10(a) / 3) * 3 : 0;
        double scale;

        /* One prefix for both, the mean's: "3.97 ± 0.65 J", not "3.97 J ± 653 mJ". */
        e = MAX(-6, MIN(9, e));
        scale = pow(10, e);
        snprintf(buf, size, "%.*f \u00b1 %.*f %sJ", fabs(mean / scale) < 9.995 ? 2 : fabs(mean / scale) < 99.95 ? 1 : 0,
                 mean / scale, fabs(mean / scale) < 9.995 ? 2 : fabs(mean / scale) < 99.95 ? 1 : 0, stddev / scale,
                 prefixes[e / 3 + 2]);
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
        if (strcmp(s, "-") == 0) {
                fputs(s, f);
                return;
        }
        fputs_csv(s, f);
}

json_object *json_string_safe(const char *s) {
        _cleanup_free_ char *u = NULL;

        if (!s)
                return NULL;
        if (utf8_is_valid(s))
                return json_object_new_string(s);
        u = utf8_sanitize(s);
        return u ? json_object_new_string(u) : json_object_new_string("");
}

char *text_cell(const char *s, size_t width, bool right_align, char *buf, size_t size) {
        _cleanup_free_ char *e = text_escape(s ? s : "");
        size_t len, w, pad;

        assert(buf);
        assert(size > 0);
        if (!e) {
                buf[0] = 0;
                return buf;
        }
        len = width > 0 ? text_fit(e, width) : strlen(e);
        len = MIN(len, size - 1);
        /* A cut by size must not split a character either. */
        while (len > 0 && len < strlen(e) && (e[len] & 0xc0) == 0x80)
                len--;
        /* Nor an escape: "\xff" stays whole or goes. */
        for (size_t i = 0; i < len; i++)
                if (e[i] == '\\') {
                        size_t n = e[i + 1] == 'x' ? 4 : 2;
                        if (i + n > len) {
                                len = i;
                                break;
                        }
                        i += n - 1;
                }
        e[len] = 0;
        w = text_width(e);
        pad = width > w ? MIN(width - w, size - 1 - len) : 0;
        if (right_align) {
                memset(buf, ' ', pad);
                memcpy(buf + pad, e, len + 1);
        } else {
                memcpy(buf, e, len);
                memset(buf + len, ' ', pad);
                buf[len + pad] = 0;
        }
        return buf;
}

const char *cli_safe(const char *s) {
        static char bufs[4][512];
        static unsigned next;
        char *b = bufs[next++ % ELEMENTSOF(bufs)];

        return text_cell(s, 0, false, b, sizeof(bufs[0]));
}

void fputs_text_lines(const char *text, FILE *f) {
        assert(f);
        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                _cleanup_free_ char *line = strndup(p, n);
                if (line)
                        fputs_text(line, f);
                if (!nl)
                        break;
                fputc('\n', f);
                p = nl + 1;
        }
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
                cli_safe(arg));
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
        strscpy(ret->origin, sizeof(ret->origin), CARBON_DEFAULT_SOURCE);

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
        return format_si(g, "gCO2e", -6, 6, buf, size);
}

char *format_carbon_origin(const Carbon *c, char *buf, size_t size) {
        snprintf(buf, size, "CO2e at %g g/kWh, %s", c->g_per_kwh, c->origin);
        return buf;
}

int cli_usage_time(const char *opt, const char *arg) {
        fprintf(stderr,
                "joulectl: invalid %s '%s': expected a duration ago (" DURATION_ACCEPTED ", whole numbers), "
                "an ISO 8601 time, today, yesterday, boot or @EPOCH\n",
                opt, cli_safe(arg));
        return EXIT_USAGE;
}

char *format_age(double s, char *buf, size_t size) {
        if (s < 120)
                snprintf(buf, size, "%.0f s", s);
        else if (s < 7200)
                snprintf(buf, size, "%.0f min", s / 60);
        else if (s < 2 * 86400)
                snprintf(buf, size, "%.1f h", s / 3600);
        else
                snprintf(buf, size, "%.0f d", s / 86400);
        return buf;
}

uint64_t cli_boot_realtime(void) {
        uint64_t rt = now_ns(CLOCK_REALTIME), bt = now_ns(CLOCK_BOOTTIME);
        return rt > bt ? rt - bt : 0;
}

size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        size_t row[64];

        if (lb >= ELEMENTSOF(row) || la >= 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
                        diag = up;
                }
        }
        return row[lb];
}

const char *cli_did_you_mean(const char *word, const char *candidates, char *buf, size_t size) {
        size_t best = 3;   /* within an edit distance of 2 */

        buf[0] = 0;
        if (!word || !candidates)
                return NULL;
        /* Items separated by ", "; an item's first word is its name. */
        for (const char *p = candidates; *p;) {
                size_t item = strcspn(p, ","), n = MIN(strcspn(p, " ,"), item);
                char cand[64];

                if (n > 0 && n < sizeof(cand)) {
                        memcpy(cand, p, n);
                        cand[n] = 0;
                        size_t d = edit_distance(word, cand);
                        if (d > 0 && d < best) {
                                best = d;
                                strscpy(buf, size, cand);
                        }
                }
                p += item;
                while (*p == ',' || *p == ' ')
                        p++;
        }
        return buf[0] ? buf : NULL;
}

int cli_option_error(int c, char **argv, const char *verb, const char *accepted) {
        _cleanup_free_ char *name = NULL;
        const char *opt = cli_safe(argv[optind - 1]);
        char near[64], hint[96] = "";

        /* "--sinse=2h": the option's name. */
        name = strndup(argv[optind - 1], strcspn(argv[optind - 1], "="));
        if (c != ':' && name && cli_did_you_mean(name, accepted, near, sizeof(near)))
                snprintf(hint, sizeof(hint), "; did you mean '%s'?", near);

        if (!verb) {
                if (c == ':')
                        fprintf(stderr, "joulectl: option '%s' needs an argument\n", opt);
                else
                        fprintf(stderr, "joulectl: unknown option '%s'%s (global options: %s)\n", opt, hint,
                                accepted);
        } else if (c == ':')
                fprintf(stderr, "joulectl: option '%s' of %s needs an argument\n", opt, verb);
        else
                fprintf(stderr, "joulectl: unknown option '%s' for %s%s (accepted: %s)\n", opt, verb, hint, accepted);
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
                fprintf(stderr, "joulectl: unexpected argument '%s' for %s (accepted: %s)\n", cli_safe(argv[optind]), verb,
                        accepted);
        else
                fprintf(stderr, "joulectl: unexpected argument '%s' for %s (it takes options only)\n", cli_safe(argv[optind]),
                        verb);
        return EXIT_USAGE;
}

int cli_nonempty_option(const char *opt, const char *arg, const char *expected) {
        assert(opt);
        assert(arg);
        if (*arg)
                return 0;
        fprintf(stderr, "joulectl: invalid %s '': expected %s\n", opt, expected);
        return EXIT_USAGE;
}

int cli_runs_option(const char *opt, const char *arg, uint64_t min, uint64_t *ret) {
        assert(opt);
        assert(ret);
        if (parse_u64(arg, ret) < 0 || *ret < min || *ret > 10000) {
                fprintf(stderr, "joulectl: invalid %s '%s': expected a whole number of runs from %" PRIu64
                                " to 10000\n",
                        opt, arg, min);
                return EXIT_USAGE;
        }
        return 0;
}

_Noreturn void cli_child_fail(int fd, int e) {
        (void) !write(fd, &e, sizeof(e));
        _exit(127);
}

double cli_idle_band_w(const char *method, double band_w) {
        if (isfinite(band_w))
                return band_w;
        if (method && (strcmp(method, "configured") == 0 || strcmp(method, "source") == 0))
                return 0;
        return NAN;
}

bool cli_idle_provisional(const char *method) {
        return method && (strcmp(method, "persisted") == 0 || strcmp(method, "prior") == 0);
}
