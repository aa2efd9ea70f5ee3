/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* The store's defaults that the configuration starts from, apart from the
 * store's API. */

/* Default retention: raw intervals 24 h, minute rollups 7 days, hour
 * rollups 2 years (730 days). 0 means "keep forever". Minutes are most of
 * a month's file on a busy host (one row per label set and minute): kept 30
 * days they alone would pass 1 GB on the build-host benchmark
 * (bench/RESULTS.md, section 4); older ranges read hours and days, exactly. */
#define STORE_DEFAULT_RAW_RETENTION_NS    (UINT64_C(24) * UINT64_C(3600000000000))
#define STORE_DEFAULT_MINUTE_RETENTION_NS (UINT64_C(7) * 24 * UINT64_C(3600000000000))
#define STORE_DEFAULT_HOUR_RETENTION_NS   (UINT64_C(730) * 24 * UINT64_C(3600000000000))
