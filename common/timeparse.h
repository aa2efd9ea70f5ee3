/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* One grammar for every duration the user writes (flags, configuration keys,
 * --since): a decimal number and a unit, no space between them:
 *
 *     ms   milliseconds        h   hours
 *     s    seconds             d   days
 *     m    minutes (also min)  w   weeks
 *                              y   years of 365 days
 *
 * e.g. "500ms", "1.5s", "90m", "90min", "2h", "1d", "1w", "1y". Units are
 * lower case; no sign, no exponent, no compound ("1h30m"). Fractions below a
 * nanosecond are dropped. The flags say what else a caller accepts. */
typedef enum DurationFlags {
        DURATION_PLAIN_SECONDS = 1 << 0, /* a number alone is seconds: "1.5" */
        DURATION_POSITIVE      = 1 << 1, /* zero is refused */
        DURATION_INFINITY      = 1 << 2, /* "infinity" and "forever" give DURATION_INFINITE */
        DURATION_NO_FRACTION   = 1 << 3, /* whole numbers only: "1.5h" is refused */
} DurationFlags;

#define DURATION_INFINITE UINT64_MAX

/* What the grammar accepts, for one-line error messages:
 * "expected " DURATION_ACCEPTED. */
#define DURATION_ACCEPTED "a number and a unit (ms, s, m or min, h, d, w, y), e.g. 500ms, 1.5s, 90min, 2h, 1d"

/* Parse a duration into nanoseconds; the whole string must be one. Returns 0,
 * -EINVAL when it is not a duration that the flags allow, -ERANGE when it is
 * longer than INT64_MAX ns (about 292 years). *ret_ns is untouched on error. */
int parse_duration_ns(const char *s, DurationFlags flags, uint64_t *ret_ns);

/* The same in seconds (infinity: INFINITY). */
int parse_duration_sec(const char *s, DurationFlags flags, double *ret_s);

/* A positive duration in seconds where a number is natural (an interval, a
 * delay): "1.5" → 1.5, "200ms", "2s", "90min", "1h" (PLAIN_SECONDS|POSITIVE). */
int parse_duration_s(const char *s, double *ret);

/* How long to keep data: "24h", "30d", "2w", "1y" (365 d), "90m", "3600"
 * (seconds), whole numbers only; "0", "forever" or "infinity" keep forever
 * and give 0. At most 100 years (beyond that, say "forever"). Returns 0,
 * -EINVAL, or -ERANGE when too large. */
int parse_retention_ns(const char *s, uint64_t *ret_ns);

#define RETENTION_ACCEPTED "a whole number and a unit (s, m or min, h, d, w, y), e.g. 24h, 30d, 2y, or forever"

/* Parse a time for --since/--until into CLOCK_REALTIME nanoseconds.
 * Accepted: a whole-number duration ("30s", "90min", "1h", "2d", "1w", "1y"),
 * that long ago ("ago" suffix allowed: "2d ago"), "now", "today",
 * "yesterday" (local midnight), "boot" (boot_realtime_ns), ISO 8601
 * "2026-11-22", "2026-11-22T10:00", "2026-11-22T10:00:00", with "Z" or
 * "+HH:MM" (no zone: local time), or "@EPOCHSECONDS". Returns 0, -EINVAL,
 * or -ENOMEM. */
int parse_time_spec(const char *s, uint64_t now_realtime_ns, uint64_t boot_realtime_ns, uint64_t *ret);
