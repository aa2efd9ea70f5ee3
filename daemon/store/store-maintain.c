/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Maintenance: roll complete minutes, hours and days up, prune what is past
 * its retention (interval rows, then process rows nothing refers to), and
 * checkpoint the WAL, in small transactions within a time budget. */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "cleanup.h"
#include "store-internal.h"
#include "util.h"

const StoreStatementSql store_maintain_statements[] = {
        { STMT_ROLLUP_STATE,
                "SELECT minute_done_ns, hour_done_ns, raw_from_ns, minute_from_ns FROM rollup_state" },
        /* The first row of level ?1 ending after ?2 (its end, to find its bucket). */
        { STMT_NEXT_BUCKET,
                "SELECT min(end_ns) FROM intervals WHERE level = ?1 AND end_ns > ?2" },
        /* Roll level ?4 rows ending in (?1, ?2] up into one row of level ?3. */
        { STMT_ROLLUP_INTERVAL,
                "INSERT INTO intervals (start_ns, end_ns, level, n_raw, duration_ns) "
                "SELECT ?1, ?2, ?3, sum(coalesce(n_raw, 1)), sum(coalesce(duration_ns, end_ns - start_ns)) "
                "FROM intervals WHERE level = ?4 AND end_ns > ?1 AND end_ns <= ?2 HAVING count(*) > 0 "
                "RETURNING id" },
        /* Minutes from raw rows, per label set and domain: each raw
         * interval's rates times its label sets' CPU time (or memory), plus
         * the per-process rows of domains without a rate. Before
         * STMT_ROLLUP_RAW_SAMPLES, which sums these rows. */
        { STMT_ROLLUP_RAW_SAMPLE_DOMAINS,
                "INSERT INTO rollup_sample_domains (interval_id, labels_id, domain_id, energy_j, idle_share_j) "
                "SELECT ?3, x.l, x.d, total(x.e), total(x.ie) FROM "
                "(SELECT s.labels_id AS l, d.domain_id AS d, "
                "sum(s.cpu_ns) * coalesce(d.cpu_rate, 0) + total(coalesce(s.rss_kib, 0)) * coalesce(d.rss_rate, 0) AS e, "
                "sum(s.cpu_ns) * coalesce(d.idle_rate, 0) AS ie "
                "FROM intervals i JOIN interval_domains d ON d.interval_id = i.id JOIN raw_samples s ON s.interval_id = i.id "
                "WHERE i.level = 0 AND i.end_ns > ?1 AND i.end_ns <= ?2 "
                "AND (d.cpu_rate IS NOT NULL OR d.rss_rate IS NOT NULL OR d.idle_rate IS NOT NULL) "
                "GROUP BY i.id, d.domain_id, s.labels_id "
                "UNION ALL SELECT x.labels_id, x.domain_id, total(x.energy_j), total(x.idle_share_j) "
                "FROM intervals i JOIN raw_sample_domains x ON x.interval_id = i.id "
                "WHERE i.level = 0 AND i.end_ns > ?1 AND i.end_ns <= ?2 GROUP BY x.labels_id, x.domain_id) x "
                "GROUP BY x.l, x.d HAVING total(x.e) != 0 OR total(x.ie) != 0" },
        /* Per label set: raw rows (per process) are summed per process first,
         * so that n_procs counts distinct processes and active_ns is the
         * longest any one of them ran. Energies: the sums of the minute's
         * per-domain rows over its host-total domains. After
         * STMT_ROLLUP_INTERVAL_DOMAINS and STMT_ROLLUP_RAW_SAMPLE_DOMAINS. */
        { STMT_ROLLUP_RAW_SAMPLES,
                "INSERT INTO rollup_samples (interval_id, labels_id, cpu_ns, wakeups, active_ns, n_procs, energy_j, "
                "idle_share_j) "
                "SELECT ?3, x.l, sum(x.c), sum(x.w), max(x.dur), count(*), "
                "(SELECT total(rd.energy_j) FROM rollup_sample_domains rd JOIN interval_domains d "
                "ON d.interval_id = rd.interval_id AND d.domain_id = rd.domain_id "
                "WHERE rd.interval_id = ?3 AND rd.labels_id = x.l AND d.host_total = 1), "
                "(SELECT total(rd.idle_share_j) FROM rollup_sample_domains rd JOIN interval_domains d "
                "ON d.interval_id = rd.interval_id AND d.domain_id = rd.domain_id "
                "WHERE rd.interval_id = ?3 AND rd.labels_id = x.l AND d.host_total = 1) FROM "
                "(SELECT s.labels_id AS l, sum(s.cpu_ns) AS c, sum(i.end_ns - i.start_ns) AS dur, sum(s.wakeups) AS w "
                "FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                "WHERE i.level = 0 AND i.end_ns > ?1 AND i.end_ns <= ?2 GROUP BY s.labels_id, s.process_id) x "
                "GROUP BY x.l" },
        /* Hours from minutes, days from hours: sums of the rollup rows. */
        { STMT_ROLLUP_SAMPLES,
                "INSERT INTO rollup_samples (interval_id, labels_id, cpu_ns, wakeups, active_ns, n_procs, energy_j, "
                "idle_share_j) "
                "SELECT ?3, s.labels_id, sum(s.cpu_ns), sum(s.wakeups), sum(s.active_ns), sum(coalesce(s.n_procs, 1)), "
                "total(s.energy_j), total(s.idle_share_j) "
                "FROM intervals i JOIN rollup_samples s ON s.interval_id = i.id "
                "WHERE i.level = ?4 AND i.end_ns > ?1 AND i.end_ns <= ?2 GROUP BY s.labels_id" },
        { STMT_ROLLUP_SAMPLE_DOMAINS,
                "INSERT INTO rollup_sample_domains (interval_id, labels_id, domain_id, energy_j, idle_share_j) "
                "SELECT ?3, sd.labels_id, sd.domain_id, total(sd.energy_j), total(sd.idle_share_j) "
                "FROM intervals i JOIN rollup_sample_domains sd ON sd.interval_id = i.id "
                "WHERE i.level = ?4 AND i.end_ns > ?1 AND i.end_ns <= ?2 "
                "GROUP BY sd.labels_id, sd.domain_id" },
        { STMT_ROLLUP_INTERVAL_DOMAINS,
                "INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, "
                "attributed_j, unattributed_j, idle_w, idle_method, irq_j, idle_band_w) "
                "SELECT ?3, d.domain_id, max(d.host_total), total(d.measured_j), total(d.idle_j), "
                "total(d.attributed_j), total(d.unattributed_j), avg(d.idle_w), 'rollup', total(d.irq_j), "
                "avg(d.idle_band_w) "
                "FROM intervals i JOIN interval_domains d ON d.interval_id = i.id "
                "WHERE i.level = ?4 AND i.end_ns > ?1 AND i.end_ns <= ?2 GROUP BY d.domain_id" },
        /* ?1: level (1 minute, 2 hour), ?2: done up to. */
        { STMT_SET_DONE,
                "UPDATE rollup_state SET "
                "minute_done_ns = CASE WHEN ?1 = 1 THEN ?2 ELSE minute_done_ns END, "
                "hour_done_ns = CASE WHEN ?1 = 2 THEN ?2 ELSE hour_done_ns END" },
        /* Delete up to ?3 rows of level ?1 ending at or before ?2 (cascades to
         * their figures): small batches keep each transaction short. */
        { STMT_PRUNE,
                "DELETE FROM intervals WHERE id IN (SELECT id FROM intervals WHERE level = ?1 "
                "AND end_ns <= ?2 ORDER BY level, end_ns LIMIT ?3)" },
        /* ?1: level (0 raw, 1 minute), ?2: pruned up to. */
        { STMT_SET_FROM,
                "UPDATE rollup_state SET "
                "raw_from_ns = CASE WHEN ?1 = 0 THEN ?2 ELSE raw_from_ns END, "
                "minute_from_ns = CASE WHEN ?1 = 1 THEN ?2 ELSE minute_from_ns END" },
        /* The end of the last row of level ?1 (days: how far they are rolled up). */
        { STMT_MAX_END,
                "SELECT coalesce(max(end_ns), 0) FROM intervals WHERE level = ?1" },
        /* Up to ?3 processes last seen (minute rollups) at or before ?1, the
         * end of what raw rows are kept for, that no raw row not yet rolled
         * up (ending after ?2, minute_done) refers to. The row with the
         * highest id is never deleted, so that ids are never reused. */
        { STMT_PRUNE_PROCESSES,
                "DELETE FROM procs WHERE id IN (SELECT id FROM procs WHERE last_ns <= ?1 "
                "AND id < (SELECT max(id) FROM procs) ORDER BY last_ns LIMIT ?3) "
                "AND id NOT IN (SELECT s.process_id FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                "WHERE i.level = 0 AND i.end_ns > ?2)" },
        /* Minute (?1, ?2]: the processes with raw rows in it were seen then. */
        { STMT_MARK_SEEN,
                "UPDATE procs SET last_ns = ?2 WHERE id IN "
                "(SELECT s.process_id FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                "WHERE i.level = 0 AND i.end_ns > ?1 AND i.end_ns <= ?2) AND coalesce(last_ns, 0) < ?2" },
        /* Late raw intervals (a backward clock step) folded into rollups. */
        { STMT_FOLD_FIND,
                "SELECT id FROM intervals WHERE level = ?1 AND start_ns = ?2 AND end_ns = ?3" },
        { STMT_FOLD_NEW,
                "INSERT INTO intervals (start_ns, end_ns, level, n_raw, duration_ns) "
                "VALUES (?2, ?3, ?1, 0, 0) RETURNING id" },
        /* ?1: the rollup row, ?2: the raw interval. */
        { STMT_FOLD_INTERVAL,
                "UPDATE intervals SET n_raw = coalesce(n_raw, 1) + 1, duration_ns = coalesce(duration_ns, "
                "end_ns - start_ns) + (SELECT end_ns - start_ns FROM intervals WHERE id = ?2) WHERE id = ?1" },
        /* Per label set and domain, as the minute rollups are (rates times
         * CPU time or memory, plus per-process rows). */
        { STMT_FOLD_SAMPLE_DOMAINS,
                "INSERT INTO rollup_sample_domains (interval_id, labels_id, domain_id, energy_j, idle_share_j) "
                "SELECT ?1, x.l, x.d, total(x.e), total(x.ie) FROM "
                "(SELECT s.labels_id AS l, d.domain_id AS d, "
                "sum(s.cpu_ns) * coalesce(d.cpu_rate, 0) + total(coalesce(s.rss_kib, 0)) * coalesce(d.rss_rate, 0) AS e, "
                "sum(s.cpu_ns) * coalesce(d.idle_rate, 0) AS ie "
                "FROM interval_domains d JOIN raw_samples s ON s.interval_id = d.interval_id WHERE d.interval_id = ?2 "
                "GROUP BY d.domain_id, s.labels_id "
                "UNION ALL SELECT labels_id, domain_id, total(energy_j), total(idle_share_j) FROM raw_sample_domains "
                "WHERE interval_id = ?2 GROUP BY labels_id, domain_id) x "
                "GROUP BY x.l, x.d HAVING total(x.e) != 0 OR total(x.ie) != 0 "
                "ON CONFLICT (interval_id, labels_id, domain_id) DO UPDATE SET "
                "energy_j = energy_j + excluded.energy_j, idle_share_j = idle_share_j + excluded.idle_share_j" },
        /* Its processes of the raw interval are added to n_procs (one may be
         * counted twice); energies over the raw interval's host-total domains. */
        { STMT_FOLD_SAMPLES,
                "INSERT INTO rollup_samples (interval_id, labels_id, cpu_ns, wakeups, active_ns, n_procs, energy_j, "
                "idle_share_j) "
                "SELECT ?1, s.labels_id, sum(s.cpu_ns), sum(s.wakeups), max(i.end_ns - i.start_ns), count(*), "
                "sum(s.cpu_ns) * coalesce(i.cpu_rate, 0) + total(coalesce(s.rss_kib, 0)) * coalesce(i.rss_rate, 0) + "
                "(SELECT total(x.energy_j) FROM raw_sample_domains x JOIN interval_domains xd "
                "ON xd.interval_id = x.interval_id AND xd.domain_id = x.domain_id "
                "WHERE x.interval_id = ?2 AND x.labels_id = s.labels_id AND xd.host_total = 1), "
                "sum(s.cpu_ns) * coalesce(i.idle_rate, 0) + "
                "(SELECT total(x.idle_share_j) FROM raw_sample_domains x JOIN interval_domains xd "
                "ON xd.interval_id = x.interval_id AND xd.domain_id = x.domain_id "
                "WHERE x.interval_id = ?2 AND x.labels_id = s.labels_id AND xd.host_total = 1) "
                "FROM raw_samples s JOIN intervals i ON i.id = s.interval_id WHERE s.interval_id = ?2 "
                "GROUP BY s.labels_id "
                "ON CONFLICT (interval_id, labels_id) DO UPDATE SET cpu_ns = cpu_ns + excluded.cpu_ns, "
                "energy_j = energy_j + excluded.energy_j, idle_share_j = idle_share_j + excluded.idle_share_j, "
                "active_ns = coalesce(active_ns, 0) + excluded.active_ns, wakeups = wakeups + excluded.wakeups, "
                "n_procs = coalesce(n_procs, 0) + excluded.n_procs" },
        { STMT_FOLD_INTERVAL_DOMAINS,
                "INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, "
                "attributed_j, unattributed_j, idle_w, idle_method, irq_j, idle_band_w) "
                "SELECT ?1, domain_id, host_total, measured_j, idle_j, attributed_j, unattributed_j, idle_w, "
                "'rollup', irq_j, idle_band_w FROM interval_domains WHERE interval_id = ?2 "
                "ON CONFLICT (interval_id, domain_id) DO UPDATE SET host_total = max(host_total, excluded.host_total), "
                "measured_j = measured_j + excluded.measured_j, idle_j = idle_j + excluded.idle_j, "
                "attributed_j = attributed_j + excluded.attributed_j, "
                "unattributed_j = unattributed_j + excluded.unattributed_j, "
                "irq_j = coalesce(irq_j, 0) + coalesce(excluded.irq_j, 0)" },
};
const size_t store_maintain_n_statements = ELEMENTSOF(store_maintain_statements);

typedef struct RollupState {
        int64_t minute_done, hour_done, raw_from, minute_from;
} RollupState;

static int store_rollup_state(Store *s, RollupState *ret) {
        sqlite3_stmt *st;
        int rc, r = 0;

        assert(s);
        assert(ret);
        st = s->stmt[STMT_ROLLUP_STATE];
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = (RollupState) {
                        .minute_done = sqlite3_column_int64(st, 0),
                        .hour_done = sqlite3_column_int64(st, 1),
                        .raw_from = sqlite3_column_int64(st, 2),
                        .minute_from = sqlite3_column_int64(st, 3),
                };
        else
                r = rc == SQLITE_DONE ? -EBADMSG : store_errno_db(s->db, rc);
        sqlite3_reset(st);
        return r;
}

/* End of the first row of `level` ending after `after`, 0 when none. */
static int store_next_end(Store *s, int level, int64_t after, int64_t *ret) {
        assert(s);
        assert(ret);
        sqlite3_bind_int(s->stmt[STMT_NEXT_BUCKET], 1, level);
        sqlite3_bind_int64(s->stmt[STMT_NEXT_BUCKET], 2, after);
        return store_stmt_lookup(s, STMT_NEXT_BUCKET, ret);   /* NULL → 0 */
}

/* Run a rollup statement: ?1, ?2 the bucket (b, e], ?3 the level or the new
 * row's id, ?4 the level rolled up. */
static int stmt_bucket(Store *s, StoreStatement which, int64_t b, int64_t e, int64_t a3, int a4, int64_t *ret_id) {
        sqlite3_stmt *st;

        assert(s);
        st = s->stmt[which];
        sqlite3_bind_int64(st, 1, b);
        sqlite3_bind_int64(st, 2, e);
        sqlite3_bind_int64(st, 3, a3);
        sqlite3_bind_int(st, 4, a4);
        return store_stmt_run(s, which, ret_id);
}

/* Run a statement of ?1 a level and ?2 a time. */
static int stmt_level_value(Store *s, StoreStatement which, int level, int64_t v) {
        sqlite3_stmt *st;

        assert(s);
        st = s->stmt[which];
        sqlite3_bind_int(st, 1, level);
        sqlite3_bind_int64(st, 2, v);
        return store_stmt_run(s, which, NULL);
}

/* Roll the bucket (b, b + size] of level - 1 up into one row of `level`,
 * and record that everything up to b + size is done, in one transaction. */
static int store_rollup_bucket(Store *s, int level, int64_t b, int64_t size) {
        int64_t id = 0;
        int r;

        r = store_begin(s);
        if (r < 0)
                return r;
        r = stmt_bucket(s, STMT_ROLLUP_INTERVAL, b, b + size, level, level - 1, &id);
        if (r >= 0 && id > 0) {
                /* Minutes: the per-domain rows first, the label sets' totals
                 * are their sums over the minute's host-total domains. */
                r = stmt_bucket(s, STMT_ROLLUP_INTERVAL_DOMAINS, b, b + size, id, level - 1, NULL);
                if (r >= 0)
                        r = stmt_bucket(s, level == 1 ? STMT_ROLLUP_RAW_SAMPLE_DOMAINS : STMT_ROLLUP_SAMPLE_DOMAINS,
                                        b, b + size, id, level - 1, NULL);
                if (r >= 0)
                        r = stmt_bucket(s, level == 1 ? STMT_ROLLUP_RAW_SAMPLES : STMT_ROLLUP_SAMPLES, b, b + size,
                                        id, level - 1, NULL);
                if (r >= 0 && level == 1) {
                        /* When its processes were last seen, for pruning them with the raw rows. */
                        sqlite3_stmt *st = s->stmt[STMT_MARK_SEEN];
                        sqlite3_bind_int64(st, 1, b);
                        sqlite3_bind_int64(st, 2, b + size);
                        r = store_stmt_run(s, STMT_MARK_SEEN, NULL);
                }
        }
        if (r >= 0 && level <= 2)
                r = stmt_level_value(s, STMT_SET_DONE, level, b + size);
        return store_end(s, r);
}

/* Delete at most `batch` rows of `level` ending at or before `upto` (with
 * their figures) in one transaction. Returns how many went, or negative errno. */
static int store_prune_batch(Store *s, int level, int64_t upto, int batch) {
        sqlite3_stmt *st;
        int r, n;

        assert(s);
        st = s->stmt[STMT_PRUNE];
        r = store_begin(s);
        if (r < 0)
                return r;
        sqlite3_bind_int(st, 1, level);
        sqlite3_bind_int64(st, 2, upto);
        sqlite3_bind_int(st, 3, batch);
        r = store_stmt_run(s, STMT_PRUNE, NULL);
        n = r >= 0 ? sqlite3_changes(s->db) : 0;
        r = store_end(s, r);
        return r < 0 ? r : n;
}

static int store_set_from(Store *s, int level, int64_t v) {
        int r = store_begin(s);
        if (r < 0)
                return r;
        return store_end(s, stmt_level_value(s, STMT_SET_FROM, level, v));
}

static int store_max_end(Store *s, int level, int64_t *ret) {
        assert(s);
        assert(ret);
        sqlite3_bind_int(s->stmt[STMT_MAX_END], 1, level);
        return store_stmt_lookup(s, STMT_MAX_END, ret);
}

static int64_t floor_to(int64_t v, int64_t unit) {
        return v <= 0 ? 0 : v / unit * unit;
}

int store_fold_late(Store *s, int64_t raw_id, uint64_t end_ns) {
        static const int64_t size[4] = { 0, (int64_t) STORE_MINUTE_NS, (int64_t) STORE_HOUR_NS, (int64_t) STORE_DAY_NS };
        static const StoreStatement fold[] = {
                STMT_FOLD_INTERVAL, STMT_FOLD_SAMPLES, STMT_FOLD_SAMPLE_DOMAINS, STMT_FOLD_INTERVAL_DOMAINS,
        };
        RollupState rs = {};
        int64_t day_done = 0, end = (int64_t) end_ns;
        int r;

        assert(s);
        r = store_rollup_state(s, &rs);
        if (r < 0)
                return r;
        if (end > rs.minute_done)
                return 0; /* the usual case: rolled up later */
        r = store_max_end(s, 3, &day_done);
        if (r < 0)
                return r;
        for (int level = 1; level <= 3; level++) {
                int64_t done = level == 1 ? rs.minute_done : level == 2 ? rs.hour_done : day_done;
                int64_t b = floor_to(end - 1, size[level]), id = 0;
                sqlite3_stmt *st;

                if (end > done)
                        break;
                st = s->stmt[STMT_FOLD_FIND];
                sqlite3_bind_int(st, 1, level);
                sqlite3_bind_int64(st, 2, b);
                sqlite3_bind_int64(st, 3, b + size[level]);
                r = store_stmt_lookup(s, STMT_FOLD_FIND, &id);
                if (r < 0)
                        return r;
                if (id <= 0) {
                        st = s->stmt[STMT_FOLD_NEW];
                        sqlite3_bind_int(st, 1, level);
                        sqlite3_bind_int64(st, 2, b);
                        sqlite3_bind_int64(st, 3, b + size[level]);
                        r = store_stmt_run(s, STMT_FOLD_NEW, &id);
                        if (r < 0)
                                return r;
                }
                for (size_t i = 0; i < ELEMENTSOF(fold); i++) {
                        st = s->stmt[fold[i]];
                        sqlite3_bind_int64(st, 1, id);
                        sqlite3_bind_int64(st, 2, raw_id);
                        r = store_stmt_run(s, fold[i], NULL);
                        if (r < 0)
                                return r;
                }
                if (level == 1) {
                        /* Its processes were seen in that minute (pruned with the raw rows). */
                        st = s->stmt[STMT_MARK_SEEN];
                        sqlite3_bind_int64(st, 1, b);
                        sqlite3_bind_int64(st, 2, b + size[level]);
                        r = store_stmt_run(s, STMT_MARK_SEEN, NULL);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Called before each step of store_maintain(): is there time left for one
 * more? The first step of a call always runs (progress); later ones only when
 * the longest recent step (a decaying maximum) still fits before the deadline,
 * so that a call ends near its budget, not one long step past it. */
static bool over_budget(Store *s, uint64_t deadline) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);

        assert(s);
        if (s->step_t0 > 0) {
                uint64_t d = now - s->step_t0;
                s->step_est_ns = MAX(d, s->step_est_ns - s->step_est_ns / 8);
        }
        s->step_t0 = now;
        if (s->steps_in_call++ == 0)
                return false;
        return now + s->step_est_ns >= deadline;
}

/* Rows per prune transaction: a raw interval of 200 processes is ~600 rows. */
#define PRUNE_BATCH 8

/* Process rows deleted per prune transaction. */
#define PROCESS_PRUNE_BATCH 512

/* Delete process rows nothing refers to any more: only raw rows refer to a
 * process (rollups are per label set), so a process goes once its last
 * minute with raw rows, `cutoff`, is past the raw retention. The writer looks
 * again the ids it cached of processes it last wrote at or before it. */
static int store_prune_processes(Store *s, const RollupState *rs, int64_t cutoff, uint64_t deadline) {
        sqlite3_stmt *st;
        int r;

        assert(s);
        assert(rs);
        st = s->stmt[STMT_PRUNE_PROCESSES];
        for (;;) {
                int n;

                if (over_budget(s, deadline))
                        return 1;
                r = store_begin(s);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, cutoff);
                sqlite3_bind_int64(st, 2, rs->minute_done);
                sqlite3_bind_int(st, 3, PROCESS_PRUNE_BATCH);
                r = store_stmt_run(s, STMT_PRUNE_PROCESSES, NULL);
                n = r >= 0 ? sqlite3_changes(s->db) : 0;
                r = store_end(s, r);
                if (r < 0)
                        return r;
                if (n > 0)
                        s->procs_pruned_upto_ns = MAX(s->procs_pruned_upto_ns, (uint64_t) cutoff);
                if (n < PROCESS_PRUNE_BATCH)
                        return 0;
        }
}

int store_maintain(Store *s, uint64_t now_realtime_ns, unsigned budget_ms) {
        static const int64_t size[4] = { 0, (int64_t) STORE_MINUTE_NS, (int64_t) STORE_HOUR_NS, (int64_t) STORE_DAY_NS };
        uint64_t deadline;
        int64_t now, limit, day_done = 0;
        uint64_t queued_start;
        RollupState rs = {};
        int r, rc;

        if (!s)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;
        if (sqlite_check_u64(now_realtime_ns) < 0)
                return -ERANGE;
        deadline = now_ns(CLOCK_MONOTONIC) + (budget_ms > 0 ? budget_ms : 50) * NSEC_PER_MSEC;
        now = (int64_t) now_realtime_ns;
        s->step_t0 = 0;
        s->steps_in_call = 0;

        r = store_rollup_state(s, &rs);
        if (r >= 0)
                r = store_max_end(s, 3, &day_done);
        if (r < 0)
                return r;

        /* Roll up complete buckets: minutes from raw, hours from minutes, days
         * from hours. Never past an interval still waiting in the buffer: it
         * would land in a bucket already rolled up and be hidden from readers.
         * One bucket per transaction, each a few milliseconds. */
        limit = now;
        if (store_queue_oldest_start(s, &queued_start))
                limit = MIN(limit, (int64_t) queued_start);
        for (int level = 1; level <= 3; level++) {
                int64_t *done = level == 1 ? &rs.minute_done : level == 2 ? &rs.hour_done : &day_done;

                if (level == 2)
                        limit = rs.minute_done;
                else if (level == 3)
                        limit = rs.hour_done;
                for (;;) {
                        int64_t end, b;

                        r = store_next_end(s, level - 1, *done, &end);
                        if (r < 0)
                                return r;
                        if (end <= 0)
                                break;
                        b = floor_to(end - 1, size[level]);
                        if (b + size[level] > limit)
                                break;
                        if (over_budget(s, deadline))
                                return 1;
                        r = store_rollup_bucket(s, level, b, size[level]);
                        if (r < 0)
                                return r;
                        *done = b + size[level];
                }
        }

        /* Prune raw and minute rows past their retention. First the readers'
         * boundary moves (raw_from/minute_from: rows of that level ending at
         * or before it are no longer read, the coarser level stands for them),
         * then the hidden rows go in small batches, resumed on the next call. */
        for (int level = 0; level <= 1; level++) {
                int64_t covered = level == 0 ? rs.minute_done : rs.hour_done;
                int64_t *from = level == 0 ? &rs.raw_from : &rs.minute_from;

                if (s->retention_ns[level] != 0 && (int64_t) s->retention_ns[level] < now) {
                        int64_t target = MIN(floor_to(now - (int64_t) s->retention_ns[level], size[level + 1]), covered);
                        if (*from < target) {
                                r = store_set_from(s, level, target);
                                if (r < 0)
                                        return r;
                                *from = target;
                        }
                }
                for (;;) {
                        if (over_budget(s, deadline))
                                return 1;
                        r = store_prune_batch(s, level, *from, PRUNE_BATCH);
                        if (r < 0)
                                return r;
                        if (r < PRUNE_BATCH)
                                break;
                }
        }
        /* Hours and days past the hour retention, then the processes that
         * no raw row refers to any more. */
        if (s->retention_ns[2] > 0 && (int64_t) s->retention_ns[2] < now) {
                int64_t cutoff = now - (int64_t) s->retention_ns[2];

                for (int level = 2; level <= 3; level++)
                        for (;;) {
                                if (over_budget(s, deadline))
                                        return 1;
                                /* A day goes with its first hour. */
                                r = store_prune_batch(s, level, level == 3 ? cutoff + size[3] - size[2] : cutoff,
                                                      PRUNE_BATCH);
                                if (r < 0)
                                        return r;
                                if (r < PRUNE_BATCH)
                                        break;
                        }
        }
        if (rs.raw_from > 0) {
                r = store_prune_processes(s, &rs, rs.raw_from, deadline);
                if (r != 0)
                        return r;
        }
        if (over_budget(s, deadline))
                return 1;
        /* Move the WAL into the database (never waits for readers), in the
         * checkpoint thread when there is one. */
        store_start_checkpointer(s);
        if (store_checkpoint_request(s, SQLITE_CHECKPOINT_PASSIVE))
                return 0;
        rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
                return store_errno_db(s->db, rc);
        return 0;
}
