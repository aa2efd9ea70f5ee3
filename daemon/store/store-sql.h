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

/* Schema 6: raw rows (raw_samples, alias s, of interval i) carry no energy;
 * each is its CPU time (or memory) times its interval's rates, plus its own
 * per-domain rows (raw_sample_domains) where a domain has no rate. */
/* Its energy and idle share over the interval's host-total domains. */
#define STORE_RAW_HOST_SQL_(s, i, col, basis)                                                          \
        "(" s ".cpu_ns * coalesce(" i "." basis ", 0) + "                                             \
        "(SELECT total(x." col ") FROM raw_sample_domains x JOIN interval_domains xd "                 \
        "ON xd.interval_id = x.interval_id AND xd.domain_id = x.domain_id WHERE x.interval_id = " s    \
        ".interval_id AND x.process_id = " s ".process_id AND x.labels_id = " s ".labels_id "         \
        "AND xd.host_total = 1))"
#define STORE_RAW_ENERGY_SQL(s, i)                                                                    \
        "(coalesce(" s ".rss_kib, 0) * coalesce(" i ".rss_rate, 0) + "                                \
        STORE_RAW_HOST_SQL_(s, i, "energy_j", "cpu_rate") ")"
#define STORE_RAW_IDLE_SQL(s, i) STORE_RAW_HOST_SQL_(s, i, "idle_share_j", "idle_rate")
/* Joined with interval_domains d of its interval and LEFT JOINed with its
 * own row x of that domain (STORE_RAW_DOMAIN_JOIN_SQL): its figures in d. */
#define STORE_RAW_DOMAIN_JOIN_SQL(s, d, x)                                                            \
        "JOIN interval_domains " d " ON " d ".interval_id = " s ".interval_id "                       \
        "LEFT JOIN raw_sample_domains " x " ON " x ".interval_id = " s ".interval_id AND "            \
        x ".process_id = " s ".process_id AND " x ".labels_id = " s ".labels_id AND "                 \
        x ".domain_id = " d ".domain_id"
#define STORE_RAW_DOMAIN_ENERGY_SQL(s, d, x)                                                          \
        "(" s ".cpu_ns * coalesce(" d ".cpu_rate, 0) + coalesce(" s ".rss_kib, 0) * "                 \
        "coalesce(" d ".rss_rate, 0) + coalesce(" x ".energy_j, 0))"
#define STORE_RAW_DOMAIN_IDLE_SQL(s, d, x)                                                            \
        "(" s ".cpu_ns * coalesce(" d ".idle_rate, 0) + coalesce(" x ".idle_share_j, 0))"
