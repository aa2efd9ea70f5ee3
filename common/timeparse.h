/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* Parse a time for --since/--until into CLOCK_REALTIME nanoseconds.
 * Accepted: "30s", "15m", "1h", "2d", "1w" (that long ago; "ago" suffix
 * allowed), "now", "today", "yesterday" (local midnight), "boot"
 * (boot_realtime_ns), ISO 8601 "2026-11-22", "2026-11-22T10:00",
 * "2026-11-22T10:00:00", with "Z" or "+HH:MM" (no zone: local time),
 * or "@EPOCHSECONDS". Returns 0 or -EINVAL. */
int parse_time_spec(const char *s, uint64_t now_realtime_ns, uint64_t boot_realtime_ns, uint64_t *ret);

/* "1.5" → 1.5 seconds; also "200ms", "2s", "1m". Positive only. */
int parse_duration_s(const char *s, double *ret);
