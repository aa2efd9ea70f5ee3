/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* SQL fragments of the store's read queries (store-query.c): which rows of
 * `intervals` stand for a time range, and how long each row lasts. Private
 * to daemon/store/: readers outside it use store-query.h. */

/* SQL condition selecting the rows of `intervals` (alias i) to read for the
 * range (?1, ?2] in CLOCK_REALTIME ns: raw intervals and rollups, each moment
 * from exactly one level (the coarsest bucket that lies wholly inside the
 * range, else the finest that is left), so that sums over it never count
 * anything twice. Use it in place of "i.end_ns > ?1 AND i.end_ns <= ?2".
 * Rows of a finer level already stood for by the coarser one (ending at or
 * before raw_from_ns / minute_from_ns) are never read: store_maintain()
 * deletes them in small batches after moving those marks. Days (level 3)
 * are rolled up in order: every day ending at or before the last day row
 * is rolled up. Needs schema version >= 2 (level 3 rows come with 3). */
/* The candidates of STORE_RANGE_SQL, found by the (level, end_ns) index: all
 * day rows in the range, and rows of a finer level only within one coarser
 * bucket of either edge (or past what the coarser level holds). A superset,
 * small: a month reads ~30 days and the edges instead of every minute row. */
#define STORE_RANGE_CANDIDATES_SQL                                                                    \
        "SELECT id FROM intervals WHERE level = 3 AND end_ns > ?1 AND end_ns <= ?2 "                  \
        "UNION ALL SELECT id FROM intervals WHERE level = 2 AND end_ns > ?1 AND end_ns <= min(?2, ?1 + 86400000000000) " \
        "UNION ALL SELECT id FROM intervals WHERE level = 2 AND end_ns > max(?1, min(?2, "            \
        "(SELECT coalesce(max(end_ns), 0) FROM intervals WHERE level = 3)) - 86400000000000) AND end_ns <= ?2 " \
        "UNION ALL SELECT id FROM intervals WHERE level = 1 AND end_ns > ?1 AND end_ns <= min(?2, ?1 + 3600000000000) " \
        "UNION ALL SELECT id FROM intervals WHERE level = 1 AND end_ns > max(?1, min(?2, "            \
        "(SELECT hour_done_ns FROM rollup_state)) - 3600000000000) AND end_ns <= ?2 "                 \
        "UNION ALL SELECT id FROM intervals WHERE level = 0 AND end_ns > ?1 AND end_ns <= min(?2, ?1 + 60000000000) " \
        "UNION ALL SELECT id FROM intervals WHERE level = 0 AND end_ns > max(?1, min(?2, "            \
        "(SELECT minute_done_ns FROM rollup_state)) - 60000000000) AND end_ns <= ?2"
#define STORE_RANGE_SQL(i)                                                                            \
        "(" i ".id IN (" STORE_RANGE_CANDIDATES_SQL ") AND "                                          \
        i ".end_ns > ?1 AND " i ".end_ns <= ?2 AND CASE " i ".level "                                 \
        "WHEN 0 THEN " i ".end_ns > (SELECT raw_from_ns FROM rollup_state) AND "                      \
        "NOT ((" i ".end_ns - 1) / 60000000000 * 60000000000 >= ?1 AND "                              \
        "(" i ".end_ns - 1) / 60000000000 * 60000000000 + 60000000000 <= "                            \
        "min(?2, (SELECT minute_done_ns FROM rollup_state))) "                                        \
        "WHEN 1 THEN " i ".end_ns > (SELECT minute_from_ns FROM rollup_state) AND "                   \
        "(" i ".start_ns >= ?1 OR " i ".start_ns < (SELECT raw_from_ns FROM rollup_state)) "          \
        "AND NOT (" i ".start_ns / 3600000000000 * 3600000000000 + 3600000000000 <= "                 \
        "min(?2, (SELECT hour_done_ns FROM rollup_state)) AND "                                       \
        "(" i ".start_ns / 3600000000000 * 3600000000000 >= ?1 OR "                                   \
        i ".start_ns < (SELECT minute_from_ns FROM rollup_state))) "                                  \
        "WHEN 2 THEN (" i ".start_ns >= ?1 OR " i ".start_ns < (SELECT minute_from_ns FROM rollup_state)) " \
        "AND NOT (" i ".start_ns / 86400000000000 * 86400000000000 >= ?1 AND "                        \
        i ".start_ns / 86400000000000 * 86400000000000 + 86400000000000 <= "                          \
        "min(?2, (SELECT coalesce(max(end_ns), 0) FROM intervals WHERE level = 3))) "                 \
        "ELSE " i ".start_ns >= ?1 END)"
/* The raw intervals (alias i) of the range (?1, ?2] that are still kept:
 * per-process rows exist for these only (rollups are per label set). */
#define STORE_RAW_RANGE_SQL(i)                                                                        \
        "(" i ".level = 0 AND " i ".end_ns > ?1 AND " i ".end_ns <= ?2 AND "                           \
        i ".end_ns > (SELECT raw_from_ns FROM rollup_state))"
/* Raw intervals an intervals row stands for, and the time they cover. */
#define STORE_INTERVAL_COUNT_SQL(i)    "coalesce(" i ".n_raw, 1)"
#define STORE_INTERVAL_DURATION_SQL(i) "coalesce(" i ".duration_ns, " i ".end_ns - " i ".start_ns)"
/* Time process sample s (of interval i) was active: the interval's duration for raw rows. */
#define STORE_SAMPLE_ACTIVE_SQL(s, i)  "coalesce(" s ".active_ns, " STORE_INTERVAL_DURATION_SQL(i) ")"
