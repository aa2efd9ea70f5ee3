/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "timeparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "util.h"

#define MAX_NS ((uint64_t) INT64_MAX)

/* Read exactly n digits. */
static int read_digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

/* Read a run of 1..18 digits as an unsigned value. */
static int read_number(const char **p, uint64_t *ret) {
        uint64_t v = 0;
        int n = 0;

        while (isdigit((unsigned char) **p)) {
                if (++n > 18)
                        return -EINVAL;
                v = v * 10 + (uint64_t) (**p - '0');
                (*p)++;
        }
        if (n == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* ".123456789" → nanoseconds (1 to 9 digits). */
static int read_fraction(const char **p, uint64_t *ret) {
        uint64_t ns = 0, scale = NSEC_PER_SEC / 10;
        int n = 0;

        if (**p != '.' && **p != ',') {
                *ret = 0;
                return 0;
        }
        (*p)++;
        while (isdigit((unsigned char) **p)) {
                if (++n > 9)
                        return -EINVAL;
                ns += (uint64_t) (**p - '0') * scale;
                scale /= 10;
                (*p)++;
        }
        if (n == 0)
                return -EINVAL;
        *ret = ns;
        return 0;
}

static bool is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
        static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static int seconds_to_ns(int64_t secs, uint64_t frac_ns, uint64_t *ret) {
        if (secs < 0)
                return -EINVAL;
        if ((uint64_t) secs > (MAX_NS - frac_ns) / NSEC_PER_SEC)
                return -EINVAL;
        *ret = (uint64_t) secs * NSEC_PER_SEC + frac_ns;
        return 0;
}

/* Local midnight of the day of `now`, shifted by day_offset days. */
static int local_midnight(uint64_t now_realtime_ns, int day_offset, uint64_t *ret) {
        time_t t = (time_t) (now_realtime_ns / NSEC_PER_SEC);
        struct tm tm;
        time_t m;

        if (!localtime_r(&t, &tm))
                return -EINVAL;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_mday += day_offset;
        tm.tm_isdst = -1;
        m = mktime(&tm);
        if (m == (time_t) -1)
                return -EINVAL;
        return seconds_to_ns((int64_t) m, 0, ret);
}

static int parse_iso8601(const char *s, uint64_t *ret) {
        const char *p = s;
        int year, mon, day, hour = 0, min = 0, sec = 0;
        uint64_t frac = 0;
        bool utc = false, has_zone = false;
        int zone_s = 0;
        struct tm tm = {};
        int64_t secs;

        if (read_digits(&p, 4, &year) < 0 || *p++ != '-' || read_digits(&p, 2, &mon) < 0 || *p++ != '-' ||
            read_digits(&p, 2, &day) < 0)
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || year < 1970)
                return -EINVAL;

        if (*p == 'T' || *p == 't' || *p == ' ') {
                p++;
                if (read_digits(&p, 2, &hour) < 0 || *p++ != ':' || read_digits(&p, 2, &min) < 0)
                        return -EINVAL;
                if (*p == ':') {
                        p++;
                        if (read_digits(&p, 2, &sec) < 0 || read_fraction(&p, &frac) < 0)
                                return -EINVAL;
                }
                if (hour > 23 || min > 59 || sec > 59)
                        return -EINVAL;

                if (*p == 'Z' || *p == 'z') {
                        utc = has_zone = true;
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p == '-' ? -1 : 1, zh, zm;
                        p++;
                        if (read_digits(&p, 2, &zh) < 0)
                                return -EINVAL;
                        if (*p == ':')
                                p++;
                        if (read_digits(&p, 2, &zm) < 0 || zh > 23 || zm > 59)
                                return -EINVAL;
                        zone_s = sign * (zh * 3600 + zm * 60);
                        has_zone = true;
                }
        }
        if (*p != 0)
                return -EINVAL;

        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        if (has_zone) {
                time_t t = timegm(&tm);
                if (t == (time_t) -1)
                        return -EINVAL;
                secs = (int64_t) t - (utc ? 0 : zone_s);
        } else {
                time_t t;
                tm.tm_isdst = -1;
                t = mktime(&tm);
                if (t == (time_t) -1)
                        return -EINVAL;
                secs = (int64_t) t;
        }
        return seconds_to_ns(secs, frac, ret);
}

/* A whole-number duration, optionally followed by "ago" or " ago": that long
 * before now. */
static int parse_ago(const char *s, uint64_t now_realtime_ns, uint64_t *ret) {
        _cleanup_free_ char *d = NULL;
        size_t n = strlen(s);
        uint64_t ns;

        if (endswith(s, "ago")) {
                n -= 3;
                if (n > 0 && s[n - 1] == ' ')
                        n--;
        }
        d = strndup(s, n);
        if (!d)
                return -ENOMEM;
        if (parse_duration_ns(d, DURATION_NO_FRACTION, &ns) < 0)
                return -EINVAL;
        if (ns > now_realtime_ns)
                return -EINVAL;   /* before the epoch */
        *ret = now_realtime_ns - ns;
        return 0;
}

int parse_time_spec(const char *s, uint64_t now_realtime_ns, uint64_t boot_realtime_ns, uint64_t *ret) {
        uint64_t v;
        int r;

        if (!s || !*s || !ret)
                return -EINVAL;

        if (strcmp(s, "now") == 0)
                v = now_realtime_ns;
        else if (strcmp(s, "today") == 0) {
                r = local_midnight(now_realtime_ns, 0, &v);
                if (r < 0)
                        return r;
        } else if (strcmp(s, "yesterday") == 0) {
                r = local_midnight(now_realtime_ns, -1, &v);
                if (r < 0)
                        return r;
        } else if (strcmp(s, "boot") == 0)
                v = boot_realtime_ns;
        else if (s[0] == '@') {
                const char *p = s + 1;
                uint64_t secs, frac;
                if (read_number(&p, &secs) < 0 || read_fraction(&p, &frac) < 0 || *p != 0)
                        return -EINVAL;
                if (secs > (uint64_t) INT64_MAX)
                        return -EINVAL;
                r = seconds_to_ns((int64_t) secs, frac, &v);
                if (r < 0)
                        return r;
        } else if (strlen(s) >= 10 && s[4] == '-') {
                r = parse_iso8601(s, &v);
                if (r < 0)
                        return r;
        } else {
                r = parse_ago(s, now_realtime_ns, &v);
                if (r < 0)
                        return r;
        }

        if (v > MAX_NS)
                return -EINVAL;
        *ret = v;
        return 0;
}

static const struct {
        const char *suffix;
        uint64_t ns;
} duration_units[] = {
        { "ms", NSEC_PER_MSEC },
        { "s", NSEC_PER_SEC },
        { "m", 60 * NSEC_PER_SEC },
        { "min", 60 * NSEC_PER_SEC },
        { "h", 3600 * NSEC_PER_SEC },
        { "d", 86400 * NSEC_PER_SEC },
        { "w", 7 * 86400 * NSEC_PER_SEC },
        { "y", 365 * 86400 * NSEC_PER_SEC },
};

int parse_duration_ns(const char *s, DurationFlags flags, uint64_t *ret_ns) {
        const char *p, *frac = NULL, *frac_end = NULL;
        uint64_t whole = 0, unit = 0, step, v;
        bool digits = false, too_long = false;

        if (!s || !ret_ns)
                return -EINVAL;
        if ((flags & DURATION_INFINITY) && (strcmp(s, "infinity") == 0 || strcmp(s, "forever") == 0)) {
                *ret_ns = DURATION_INFINITE;
                return 0;
        }

        for (p = s; isdigit((unsigned char) *p); p++) {
                digits = true;
                if (whole > (UINT64_MAX - 9) / 10)
                        too_long = true;   /* read on: a syntax error still says -EINVAL */
                else
                        whole = whole * 10 + (uint64_t) (*p - '0');
        }
        if (*p == '.') {
                if (flags & DURATION_NO_FRACTION)
                        return -EINVAL;
                frac = ++p;
                while (isdigit((unsigned char) *p))
                        p++;
                frac_end = p;
                digits = digits || frac_end > frac;
        }
        if (!digits)
                return -EINVAL;

        if (*p == 0) {
                if (!(flags & DURATION_PLAIN_SECONDS))
                        return -EINVAL;
                unit = NSEC_PER_SEC;
        } else
                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                        if (strcmp(p, duration_units[i].suffix) == 0) {
                                unit = duration_units[i].ns;
                                break;
                        }
        if (unit == 0)
                return -EINVAL;

        if (too_long || whole > (uint64_t) INT64_MAX / unit)
                return -ERANGE;
        v = whole * unit;
        /* Each fraction digit is worth a tenth of the one before, down to 1 ns
         * (every unit is a whole number of milliseconds, so this is exact). */
        step = unit;
        for (const char *q = frac; q && q < frac_end && step % 10 == 0; q++) {
                step /= 10;
                v += (uint64_t) (*q - '0') * step;
        }
        if (v > (uint64_t) INT64_MAX)   /* v < INT64_MAX + unit: no wrap */
                return -ERANGE;
        if (v == 0 && (flags & DURATION_POSITIVE))
                return -EINVAL;
        *ret_ns = v;
        return 0;
}

int parse_duration_sec(const char *s, DurationFlags flags, double *ret_s) {
        uint64_t ns;
        int r;

        if (!ret_s)
                return -EINVAL;
        r = parse_duration_ns(s, flags, &ns);
        if (r < 0)
                return r;
        /* Exact integer over an exact power of ten: correctly rounded, so
         * "0.2" and "200ms" both give the double nearest 0.2. */
        *ret_s = ns == DURATION_INFINITE ? INFINITY : (double) ns / (double) NSEC_PER_SEC;
        return 0;
}

int parse_duration_s(const char *s, double *ret) {
        return parse_duration_sec(s, DURATION_PLAIN_SECONDS | DURATION_POSITIVE, ret);
}

int parse_retention_ns(const char *s, uint64_t *ret_ns) {
        uint64_t v;
        int r;

        if (!ret_ns)
                return -EINVAL;
        r = parse_duration_ns(s, DURATION_PLAIN_SECONDS | DURATION_INFINITY | DURATION_NO_FRACTION, &v);
        if (r < 0)
                return r;
        if (v == DURATION_INFINITE)
                v = 0;   /* 0: keep forever */
        else if (v > UINT64_C(100) * 365 * 86400 * NSEC_PER_SEC)
                return -ERANGE;
        *ret_ns = v;
        return 0;
}
