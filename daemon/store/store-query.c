/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store-query.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "store-sql.h"
#include "util.h"

#define RANGE STORE_RANGE_SQL("i")
/* Where an interval's measured time begins: a rollup whose bucket was only
 * partly measured (the daemon started within it) is drawn over its measured
 * time, at its end, not spread over the whole bucket. */
#define MEASURED_START(i) "max(" i ".start_ns, " i ".end_ns - " STORE_INTERVAL_DURATION_SQL(i) ")"
#define RAW_RANGE STORE_RAW_RANGE_SQL("i")
/* A raw sample s of interval i: its energy and idle share (host-total domains). */
#define RAW_ENERGY STORE_RAW_ENERGY_SQL("s", "i")
#define RAW_IDLE STORE_RAW_IDLE_SQL("s", "i")
/* Its figures in domain dd (STORE_RAW_DOMAIN_JOIN_SQL joins dd and xx). */
#define RAW_DOMAIN_JOIN STORE_RAW_DOMAIN_JOIN_SQL("s", "dd", "xx")
#define RAW_DOMAIN_ENERGY STORE_RAW_DOMAIN_ENERGY_SQL("s", "dd", "xx")
#define RAW_DOMAIN_IDLE STORE_RAW_DOMAIN_IDLE_SQL("s", "dd", "xx")

/* Samples grouped by the labels of each interval (l: the sample's label set,
 * labels_id) or, by process, by the process (raw samples only: rollups are
 * per label set). Kernel threads are one group of their own, "[kernel]",
 * under every grouping but process. */
static const char *group_by_sql(GroupBy by) {
        static const char *const sql[_GROUP_BY_MAX] = {
                [GROUP_BY_PROCESS] = "s.process_id",
                [GROUP_BY_COMM] = "CASE WHEN l.kernel_thread THEN '[kernel]' ELSE l.comm END",
                [GROUP_BY_UNIT] = "CASE WHEN l.kernel_thread THEN '[kernel]' ELSE coalesce(l.unit, '-') END",
                [GROUP_BY_USER] = "CASE WHEN l.kernel_thread THEN '[kernel]' ELSE l.uid END",
                [GROUP_BY_SLICE] = "CASE WHEN l.kernel_thread THEN '[kernel]' ELSE coalesce(l.slice, '-') END",
                [GROUP_BY_CONTAINER] =
                        "CASE WHEN l.kernel_thread THEN '[kernel]' ELSE coalesce(l.container_id, '-') END",
        };
        assert(by >= 0 && by < _GROUP_BY_MAX);
        return sql[by];
}

int store_group_by_schema(GroupBy by) {
        return by == GROUP_BY_SLICE || by == GROUP_BY_CONTAINER ? STORE_SCHEMA_GROUPS : 0;
}

const char *store_query_error(Store *s) {
        assert(s);
        return sqlite3_errmsg(store_db(s));
}

static void stmt_finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static int prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        return store_errno(sqlite3_prepare_v2(store_db(s), sql, -1, ret, NULL));
}

/* Prepare sql and bind ?1, ?2 to the bounds of a range or window. */
static int prepare_range(Store *s, const char *sql, uint64_t from, uint64_t to, sqlite3_stmt **ret) {
        int r = prepare(s, sql, ret);
        if (r < 0)
                return r;
        sqlite3_bind_int64(*ret, 1, (int64_t) from);
        sqlite3_bind_int64(*ret, 2, (int64_t) to);
        return 0;
}

/* A step that must return a row. */
static int step_row(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EIO : store_errno(rc);
}

/* The end of a loop of steps: 0 when it ended with DONE. */
static int step_done(int rc) {
        if (rc == SQLITE_DONE)
                return 0;
        return store_errno(rc) < 0 ? store_errno(rc) : -EIO;
}

static int column_strdup(sqlite3_stmt *st, int i, char **ret) {
        const unsigned char *t = sqlite3_column_text(st, i);
        if (!t) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup((const char *) t);
        return *ret ? 0 : -ENOMEM;
}

static const char *column_text(sqlite3_stmt *st, int i) {
        return (const char *) sqlite3_column_text(st, i);
}

static int column_key(sqlite3_stmt *st, int i, StoreKey *ret) {
        *ret = (StoreKey) {};
        if (sqlite3_column_type(st, i) == SQLITE_TEXT)
                return column_strdup(st, i, &ret->text);
        ret->i = sqlite3_column_int64(st, i);
        return 0;
}

/* Room for one more element of an array of n. */
static void *grow(void *v, size_t n, size_t size) {
        if (n >= SIZE_MAX / size - 1)
                return NULL;
        return realloc(v, (n + 1) * size);
}

/* A column's double, NAN where it is NULL. */
static double column_double_or_nan(sqlite3_stmt *st, int i) {
        return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Sets one array element (zeroed) from the statement's current row. */
typedef int (*RowFillFn)(sqlite3_stmt *st, void *item, void *userdata);
/* Frees an array of n elements and what they own. */
typedef void (*RowsFreeFn)(void *v, size_t n);

/* Every row of st as an element of a new array of `size`-byte elements,
 * stored in *ret_array (a pointer to the caller's typed array pointer):
 * fill() sets each; on failure, the elements so far go with free_rows(). */
static int read_rows(sqlite3_stmt *st, size_t size, RowFillFn fill, void *userdata, RowsFreeFn free_rows,
                     void *ret_array, size_t *ret_n) {
        void *v = NULL;
        size_t n = 0;
        int rc, r;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                void *p = grow(v, n, size);
                if (!p) {
                        free_rows(v, n);
                        return -ENOMEM;
                }
                v = p;
                p = (char *) v + n++ * size;
                memset(p, 0, size);
                r = fill(st, p, userdata);
                if (r < 0) {
                        free_rows(v, n);
                        return r;
                }
        }
        r = step_done(rc);
        if (r < 0) {
                free_rows(v, n);
                return r;
        }
        memcpy(ret_array, &v, sizeof(v));
        *ret_n = n;
        return 0;
}

/* ---- Filters ----------------------------------------------------------- */

static bool patterns_match(char *const *patterns, const char *s) {
        if (!patterns || !patterns[0])
                return true;
        for (size_t i = 0; patterns[i]; i++)
                if (fnmatch(patterns[i], s ? s : "", 0) == 0)
                        return true;
        return false;
}

/* jouled_filter(comm, unit, uid, pid): whether a label set (comm not NULL:
 * comm, unit and user are matched) or a process (pid not NULL: the pid is
 * matched) passes the filter registered with it. */
static void sql_filter(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
        const StoreFilter *f = sqlite3_user_data(ctx);
        const char *comm = (const char *) sqlite3_value_text(argv[0]);
        const char *unit = (const char *) sqlite3_value_text(argv[1]);
        int64_t uid = sqlite3_value_int64(argv[2]), pid = sqlite3_value_int64(argv[3]);
        char uid_s[32], pid_s[32];
        bool ok = true;

        assert(argc == 4);
        if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
                snprintf(uid_s, sizeof(uid_s), "%" PRIi64, uid);
                ok = patterns_match(f->comms, comm) && patterns_match(f->units, unit ? unit : "-") &&
                     (patterns_match(f->users, uid_s) ||
                      (f->user_name && patterns_match(f->users, f->user_name((uint32_t) uid))));
        }
        if (ok && sqlite3_value_type(argv[3]) != SQLITE_NULL) {
                snprintf(pid_s, sizeof(pid_s), "%" PRIi64, pid);
                ok = patterns_match(f->pids, pid_s);
        }
        sqlite3_result_int(ctx, ok);
}

/* The condition on a sample's label set (labels_col) and process
 * (process_col) that applies filter: "1" when there is none, else registers
 * jouled_filter() with it for the next query. comm, unit and user are those
 * of the sample's label set (the labels of that interval); a pid is its
 * process's, so that rollups (per label set, no process) never match one. */
static int filter_sql(Store *s, const StoreFilter *f, const char *process_col, const char *labels_col, char *buf,
                      size_t size) {
        bool pids;
        int rc;

        if (store_filter_is_empty(f)) {
                snprintf(buf, size, "1");
                return 0;
        }
        rc = sqlite3_create_function_v2(store_db(s), "jouled_filter", 4, SQLITE_UTF8, (void *) f, sql_filter, NULL,
                                        NULL, NULL);
        if (rc != SQLITE_OK)
                return store_errno(rc);
        pids = f->pids && f->pids[0];
        /* Uncorrelated: SQLite evaluates each once per query. */
        snprintf(buf, size,
                 "%s IN (SELECT fl.id FROM labels fl WHERE jouled_filter(fl.comm, fl.unit, fl.uid, NULL))%s%s%s",
                 labels_col, pids ? " AND " : "", pids ? process_col : "",
                 pids ? " IN (SELECT fp.id FROM procs fp WHERE jouled_filter(NULL, NULL, NULL, fp.pid))" : "");
        return 0;
}

/* Whether part of (since, until] is older than the raw rows kept: rolled-up
 * rows (per label set) end there, so per-process detail is gone. */
static int process_detail_pruned(Store *s, uint64_t since, uint64_t until, bool *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = prepare_range(s,
                          "SELECT EXISTS (SELECT 1 FROM intervals WHERE level > 0 AND end_ns > ?1 "
                          "AND end_ns <= min(?2, (SELECT raw_from_ns FROM rollup_state)))",
                          since, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        *ret = sqlite3_column_int(st, 0);
        return 0;
}

/* By process over a range older than the raw rows: the label sets instead
 * (keyed by label set id), read like the other groupings. */
static int group_by_resolve(Store *s, GroupBy by, uint64_t since, uint64_t until, bool *ret_label_sets) {
        bool pruned = false;
        int r;

        *ret_label_sets = false;
        if (by != GROUP_BY_PROCESS)
                return 0;
        r = process_detail_pruned(s, since, until, &pruned);
        if (r < 0)
                return r;
        *ret_label_sets = pruned;
        return 0;
}

/* ---- A range ----------------------------------------------------------- */

int store_query_totals(Store *s, uint64_t since, uint64_t until, StoreTotals *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StoreTotals t = {};
        int r;

        assert(s);
        assert(ret);

        r = prepare_range(s,
                          "SELECT coalesce(sum(" STORE_INTERVAL_COUNT_SQL("i") "), 0), min(i.start_ns), "
                          "coalesce(sum(" STORE_INTERVAL_DURATION_SQL("i") "), 0) "
                          "FROM intervals i WHERE " RANGE,
                          since, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        t.n_intervals = sqlite3_column_int64(st, 0);
        t.first_start_ns = (uint64_t) sqlite3_column_int64(st, 1);
        t.duration_ns = (uint64_t) sqlite3_column_int64(st, 2);
        sqlite3_finalize(TAKE_PTR(st));

        r = prepare_range(s,
                          "SELECT total(idm.measured_j), total(idm.attributed_j), total(idm.idle_j), "
                          "total(idm.unattributed_j), total(idm.irq_j) FROM intervals i "
                          "JOIN interval_domains idm ON idm.interval_id = i.id "
                          "WHERE " RANGE " AND idm.host_total = 1",
                          since, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        t.measured_j = sqlite3_column_double(st, 0);
        t.attributed_j = sqlite3_column_double(st, 1);
        t.idle_j = sqlite3_column_double(st, 2);
        t.unattributed_j = sqlite3_column_double(st, 3);
        t.irq_j = sqlite3_column_double(st, 4);
        sqlite3_finalize(TAKE_PTR(st));

        r = prepare_range(s,
                          "SELECT total(x) FROM (SELECT " RAW_IDLE " AS x FROM intervals i "
                          "JOIN raw_samples s ON s.interval_id = i.id WHERE " RANGE " "
                          "UNION ALL SELECT s.idle_share_j FROM intervals i JOIN rollup_samples s "
                          "ON s.interval_id = i.id WHERE " RANGE ")",
                          since, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        t.idle_share_j = sqlite3_column_double(st, 0);

        r = process_detail_pruned(s, since, until, &t.process_detail_pruned);
        if (r < 0)
                return r;

        *ret = t;
        return 0;
}

void store_sources_free(StoreSource *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].domain);
                free(v[i].source);
                free(v[i].idle_method);
        }
        free(v);
}

/* Rows of (domain, source, estimated[, idle_w, idle_method]). */
static int source_fill(sqlite3_stmt *st, void *item, void *userdata) {
        StoreSource *p = item;
        bool with_idle = *(const bool *) userdata;
        int r;

        p->idle_w = NAN;
        if ((r = column_strdup(st, 0, &p->domain)) < 0 || (r = column_strdup(st, 1, &p->source)) < 0)
                return r;
        p->estimated = sqlite3_column_int(st, 2);
        if (with_idle) {
                p->idle_w = column_double_or_nan(st, 3);
                if (sqlite3_column_type(st, 4) != SQLITE_NULL && (r = column_strdup(st, 4, &p->idle_method)) < 0)
                        return r;
        }
        return 0;
}

static void sources_free(void *v, size_t n) {
        store_sources_free(v, n);
}

static int sources_read(sqlite3_stmt *st, bool with_idle, StoreSource **ret, size_t *ret_n) {
        return read_rows(st, sizeof(StoreSource), source_fill, &with_idle, sources_free, ret, ret_n);
}

int store_query_sources(Store *s, uint64_t since, uint64_t until, StoreSource **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = prepare_range(s,
                          "SELECT d.name, d.source, max(d.estimated), "
                          /* idle power: mean over the range, and the latest method */
                          "(SELECT avg(idm.idle_w) FROM intervals i JOIN interval_domains idm ON idm.interval_id = i.id "
                          "JOIN domains d2 ON d2.id = idm.domain_id WHERE " RANGE " AND d2.name = d.name AND d2.source = d.source), "
                          "(SELECT idm.idle_method FROM intervals i JOIN interval_domains idm ON idm.interval_id = i.id "
                          "JOIN domains d2 ON d2.id = idm.domain_id WHERE " RANGE " AND d2.name = d.name AND d2.source = d.source "
                          "AND idm.idle_method IS NOT NULL AND idm.idle_method != 'rollup' ORDER BY i.end_ns DESC LIMIT 1) "
                          "FROM domains d WHERE d.id IN "
                          "(SELECT idm.domain_id FROM intervals i JOIN interval_domains idm "
                          "ON idm.interval_id = i.id WHERE " RANGE ") "
                          "GROUP BY d.name, d.source ORDER BY d.name, d.source",
                          since, until, &st);
        if (r < 0)
                return r;
        return sources_read(st, true, ret, ret_n);
}

void store_group_rows_free(StoreGroupRow *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].key.text);
                free(v[i].comm);
                free(v[i].exe);
                free(v[i].unit);
        }
        free(v);
}

/* Rows of (key, cpu, energy, active, pid, start_ns, comm, exe, unit, uid,
 * ppid, wakeups, idle_share); a window's have no start_ns, exe, ppid or
 * active time: (key, cpu, energy, pid, comm, unit, uid, wakeups, idle_share). */
static int group_fill(sqlite3_stmt *st, void *item, void *userdata) {
        StoreGroupRow *p = item;
        bool window = *(const bool *) userdata;
        int r;

        if ((r = column_key(st, 0, &p->key)) < 0)
                return r;
        p->cpu_ns = (uint64_t) sqlite3_column_int64(st, 1);
        p->energy_j = sqlite3_column_double(st, 2);
        if (window) {
                p->pid = sqlite3_column_int64(st, 3);
                if ((r = column_strdup(st, 4, &p->comm)) < 0 || (r = column_strdup(st, 5, &p->unit)) < 0)
                        return r;
                p->uid = sqlite3_column_int64(st, 6);
                p->wakeups = (uint64_t) sqlite3_column_int64(st, 7);
                p->idle_share_j = sqlite3_column_double(st, 8);
                return 0;
        }
        p->active_ns = (uint64_t) sqlite3_column_int64(st, 3);
        p->pid = sqlite3_column_int64(st, 4);
        p->start_ns = sqlite3_column_int64(st, 5);
        if ((r = column_strdup(st, 6, &p->comm)) < 0 || (r = column_strdup(st, 7, &p->exe)) < 0 ||
            (r = column_strdup(st, 8, &p->unit)) < 0)
                return r;
        p->uid = sqlite3_column_int64(st, 9);
        p->ppid = sqlite3_column_int64(st, 10);
        p->wakeups = (uint64_t) sqlite3_column_int64(st, 11);
        p->idle_share_j = sqlite3_column_double(st, 12);
        return 0;
}

static void group_rows_free(void *v, size_t n) {
        store_group_rows_free(v, n);
}

static int groups_read(sqlite3_stmt *st, bool window, StoreGroupRow **ret, size_t *ret_n) {
        return read_rows(st, sizeof(StoreGroupRow), group_fill, &window, group_rows_free, ret, ret_n);
}

int store_query_groups(Store *s, GroupBy by, const StoreFilter *filter, uint64_t since, uint64_t until,
                       StoreGroupRow **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[16384], where[512], where_rollup[512];
        bool label_sets;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = group_by_resolve(s, by, since, until, &label_sets);
        if (r < 0)
                return r;
        r = filter_sql(s, filter, "s.process_id", "s.labels_id", where, sizeof(where));
        if (r < 0)
                return r;
        /* Rollups (per label set) have no process: a pid never matches one. */
        r = filter_sql(s, filter, "0", "s.labels_id", where_rollup, sizeof(where_rollup));
        if (r < 0)
                return r;

        /* Per key and interval first, so that a group's presence counts each
         * interval once (active_ns) however many processes it had then. By
         * process (raw samples only), a process has one sample per interval:
         * sum per process id first, then join the processes once per process
         * (3x faster). Other groupings read each sample's label set; pid,
         * start and ppid are one raw sample's process (none for rollups). */
        if (by == GROUP_BY_PROCESS && !label_sets)
                snprintf(sql, sizeof(sql),
                 "SELECT x.k, x.c, x.e, x.dur, p.pid, p.start_ns, l.comm, l.exe, l.unit, l.uid, p.ppid, x.w, x.ie FROM "
                 "(SELECT s.process_id AS k, sum(" STORE_INTERVAL_DURATION_SQL("i") ") AS dur, sum(s.cpu_ns) AS c, "
                 "total(" RAW_ENERGY ") AS e, sum(s.wakeups) AS w, total(" RAW_IDLE ") AS ie, max(s.labels_id) AS lid "
                 "FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                 "WHERE " RAW_RANGE " AND %s GROUP BY s.process_id) x JOIN procs p ON p.id = x.k "
                 "JOIN labels l ON l.id = x.lid ORDER BY x.k", where);
        else {
                const char *key = label_sets ? "l.id" : group_by_sql(by);
                snprintf(sql, sizeof(sql),
                 "SELECT k, sum(c), total(e), sum(dur), pid, start_ns, comm, exe, unit, uid, ppid, sum(w), total(ie) FROM "
                 "(SELECT %s AS k, max(" STORE_INTERVAL_DURATION_SQL("i") ") AS dur, sum(s.cpu_ns) AS c, "
                 "total(" RAW_ENERGY ") AS e, sum(s.wakeups) AS w, total(" RAW_IDLE ") AS ie, "
                 "%s AS pid, %s AS start_ns, l.comm AS comm, l.exe AS exe, l.unit AS unit, "
                 "l.uid AS uid, %s AS ppid FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                 "JOIN labels l ON l.id = s.labels_id LEFT JOIN procs p ON p.id = s.process_id "
                 "WHERE " RANGE " AND %s GROUP BY 1, i.id "
                 "UNION ALL SELECT %s, max(" STORE_SAMPLE_ACTIVE_SQL("s", "i") "), sum(s.cpu_ns), total(s.energy_j), "
                 "sum(s.wakeups), total(s.idle_share_j), NULL, NULL, l.comm, l.exe, l.unit, l.uid, NULL "
                 "FROM intervals i JOIN rollup_samples s ON s.interval_id = i.id JOIN labels l ON l.id = s.labels_id "
                 "WHERE " RANGE " AND %s GROUP BY 1, i.id) "
                 "GROUP BY k ORDER BY k",
                 /* Label sets standing for processes name none. */
                 key, label_sets ? "NULL" : "p.pid", label_sets ? "NULL" : "p.start_ns",
                 label_sets ? "NULL" : "p.ppid", where, key, where_rollup);
        }
        r = prepare_range(s, sql, since, until, &st);
        if (r < 0)
                return r;
        return groups_read(st, false, ret, ret_n);
}

void store_group_domains_free(StoreGroupDomain *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].key.text);
                free(v[i].domain);
        }
        free(v);
}

static int group_domain_fill(sqlite3_stmt *st, void *item, void *userdata) {
        StoreGroupDomain *p = item;
        int r;

        if ((r = column_key(st, 0, &p->key)) < 0 || (r = column_strdup(st, 1, &p->domain)) < 0)
                return r;
        p->energy_j = sqlite3_column_double(st, 2);
        return 0;
}

static void group_domains_free(void *v, size_t n) {
        store_group_domains_free(v, n);
}

int store_query_group_domains(Store *s, GroupBy by, const StoreFilter *filter, uint64_t since, uint64_t until,
                              StoreGroupDomain **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[16384], where[512], where_rollup[512];
        bool label_sets;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = group_by_resolve(s, by, since, until, &label_sets);
        if (r < 0)
                return r;
        r = filter_sql(s, filter, "s.process_id", "s.labels_id", where, sizeof(where));
        if (r < 0)
                return r;
        r = filter_sql(s, filter, "0", "sd.labels_id", where_rollup, sizeof(where_rollup));
        if (r < 0)
                return r;

        /* Summed per (label set or process, domain) first, then joined. A
         * raw sample has a figure in a domain where its energy or idle share
         * there is not 0 (as rows were written before schema 6). */
#define RAW_DOMAIN_ROWS "FROM intervals i JOIN raw_samples s ON s.interval_id = i.id " RAW_DOMAIN_JOIN " "
#define RAW_DOMAIN_NONZERO "(" RAW_DOMAIN_ENERGY " != 0 OR " RAW_DOMAIN_IDLE " != 0)"
        if (by == GROUP_BY_PROCESS && !label_sets)
                snprintf(sql, sizeof(sql),
                 "SELECT x.pid, d.name, total(x.e) FROM "
                 "(SELECT s.process_id AS pid, dd.domain_id AS did, total(" RAW_DOMAIN_ENERGY ") AS e "
                 RAW_DOMAIN_ROWS "WHERE " RAW_RANGE " AND " RAW_DOMAIN_NONZERO " AND %s GROUP BY 1, 2) x "
                 "JOIN domains d ON d.id = x.did GROUP BY 1, 2 ORDER BY 1, 2", where);
        else
                snprintf(sql, sizeof(sql),
                 "SELECT %s, d.name, total(x.e) FROM "
                 "(SELECT s.labels_id AS lid, dd.domain_id AS did, total(" RAW_DOMAIN_ENERGY ") AS e "
                 RAW_DOMAIN_ROWS "WHERE " RANGE " AND " RAW_DOMAIN_NONZERO " AND %s GROUP BY 1, 2 "
                 "UNION ALL SELECT sd.labels_id, sd.domain_id, total(sd.energy_j) FROM intervals i "
                 "JOIN rollup_sample_domains sd ON sd.interval_id = i.id WHERE " RANGE " AND %s GROUP BY 1, 2) x "
                 "JOIN labels l ON l.id = x.lid JOIN domains d ON d.id = x.did "
                 "GROUP BY 1, 2 ORDER BY 1, 2",
                 label_sets ? "l.id" : group_by_sql(by), where, where_rollup);
        r = prepare_range(s, sql, since, until, &st);
        if (r < 0)
                return r;
        return read_rows(st, sizeof(StoreGroupDomain), group_domain_fill, NULL, group_domains_free, ret, ret_n);
}

int store_query_span(Store *s, uint64_t since, uint64_t until, uint64_t *ret_start_ns, uint64_t *ret_end_ns) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret_start_ns);
        assert(ret_end_ns);

        r = prepare_range(s, "SELECT min(" MEASURED_START("i") "), max(i.end_ns) FROM intervals i "
                          "WHERE i.end_ns > ?1 AND i.end_ns <= ?2",
                          since, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        *ret_start_ns = (uint64_t) sqlite3_column_int64(st, 0);
        *ret_end_ns = (uint64_t) sqlite3_column_int64(st, 1);
        return 0;
}

/* Rows of ([key,] start_ns, end_ns, energy[, idle]). */
static int energy_points(sqlite3_stmt *st, bool keyed, StoreEnergyPointFn fn, void *userdata) {
        int rc, r, c = keyed ? 1 : 0;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreEnergyPoint p = {
                        .start_ns = (uint64_t) sqlite3_column_int64(st, c),
                        .end_ns = (uint64_t) sqlite3_column_int64(st, c + 1),
                        .energy_j = sqlite3_column_double(st, c + 2),
                        .idle_j = sqlite3_column_count(st) > c + 3 ? sqlite3_column_double(st, c + 3) : 0,
                };
                if (keyed) {
                        if (sqlite3_column_type(st, 0) == SQLITE_TEXT)
                                p.key.text = (char *) column_text(st, 0);
                        else
                                p.key.i = sqlite3_column_int64(st, 0);
                }
                r = fn(&p, userdata);
                if (r < 0)
                        return r;
        }
        return step_done(rc);
}

int store_query_host_energy(Store *s, uint64_t since, uint64_t until, StoreEnergyPointFn fn, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(fn);

        r = prepare_range(s,
                          "SELECT " MEASURED_START("i") ", i.end_ns, total(idm.measured_j), total(idm.idle_j) "
                          "FROM intervals i "
                          "JOIN interval_domains idm ON idm.interval_id = i.id "
                          "WHERE " RANGE " AND idm.host_total = 1 GROUP BY i.id",
                          since, until, &st);
        if (r < 0)
                return r;
        return energy_points(st, false, fn, userdata);
}

int store_query_group_energy(Store *s, GroupBy by, const StoreFilter *filter, uint64_t since, uint64_t until,
                             StoreEnergyPointFn fn, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[16384], where[512], where_rollup[512];
        bool label_sets;
        int r;

        assert(s);
        assert(fn);

        r = group_by_resolve(s, by, since, until, &label_sets);
        if (r < 0)
                return r;
        r = filter_sql(s, filter, "s.process_id", "s.labels_id", where, sizeof(where));
        if (r < 0)
                return r;
        r = filter_sql(s, filter, "0", "s.labels_id", where_rollup, sizeof(where_rollup));
        if (r < 0)
                return r;

        /* By process (raw rows only) there is no rollup part. */
        snprintf(sql, sizeof(sql),
                 "SELECT k, start_ns, end_ns, total(e) FROM "
                 "(SELECT %s AS k, i.id AS iid, " MEASURED_START("i") " AS start_ns, i.end_ns AS end_ns, "
                 RAW_ENERGY " AS e "
                 "FROM intervals i JOIN raw_samples s ON s.interval_id = i.id JOIN labels l ON l.id = s.labels_id "
                 "WHERE %s AND %s "
                 "UNION ALL SELECT %s, i.id, " MEASURED_START("i") ", i.end_ns, s.energy_j FROM intervals i "
                 "JOIN rollup_samples s ON s.interval_id = i.id JOIN labels l ON l.id = s.labels_id "
                 "WHERE %s AND %s) GROUP BY k, iid ORDER BY k, iid",
                 label_sets ? "l.id" : group_by_sql(by), by == GROUP_BY_PROCESS && !label_sets ? RAW_RANGE : RANGE,
                 where, by == GROUP_BY_PROCESS && !label_sets ? "0" : label_sets ? "l.id" : group_by_sql(by),
                 by == GROUP_BY_PROCESS && !label_sets ? "0" : RANGE, where_rollup);
        r = prepare_range(s, sql, since, until, &st);
        if (r < 0)
                return r;
        return energy_points(st, true, fn, userdata);
}

/* The rows of `intervals` (alias i) ending in (?1, ?2] at the finest level
 * kept for their time: raw intervals after raw_from_ns (the older ones were
 * pruned), minutes between minute_from_ns and it, hours before that, days
 * where no hour is left. */
#define FINEST_RANGE_SQL(i)                                                                            \
        "(" i ".end_ns > ?1 AND " i ".end_ns <= ?2 AND CASE " i ".level "                             \
        "WHEN 0 THEN " i ".end_ns > (SELECT raw_from_ns FROM rollup_state) "                          \
        "WHEN 1 THEN " i ".end_ns <= (SELECT raw_from_ns FROM rollup_state) AND "                     \
        i ".end_ns > (SELECT minute_from_ns FROM rollup_state) "                                      \
        "WHEN 2 THEN " i ".end_ns <= (SELECT minute_from_ns FROM rollup_state) "                      \
        "ELSE " i ".end_ns <= (SELECT coalesce(min(start_ns), 9223372036854775807) FROM intervals "   \
        "WHERE level = 2) END)"

int store_query_export(Store *s, uint64_t since, uint64_t until, StoreExportFn fn, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        assert(s);
        assert(fn);

        r = prepare_range(s,
                          /* Raw samples with a row per domain where their energy or
                           * idle share is not 0 (one with no domain where none is),
                           * then the rollups' rows per label set and domain. */
                          "SELECT i.start_ns, i.end_ns, coalesce(p.pid, 0), coalesce(p.start_ns, 0), l.comm, l.exe, "
                          "l.unit, l.uid, coalesce(p.ppid, 0), s.cpu_ns, "
                          "d.name, d.source, d.estimated, " RAW_DOMAIN_ENERGY ", dd.host_total, i.level, "
                          STORE_INTERVAL_DURATION_SQL("i") ", s.process_id, l.id, " RAW_DOMAIN_IDLE " "
                          "FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                          "JOIN labels l ON l.id = s.labels_id LEFT JOIN procs p ON p.id = s.process_id "
                          "LEFT JOIN interval_domains dd ON dd.interval_id = s.interval_id AND "
                          "(s.cpu_ns * coalesce(dd.cpu_rate, 0) + coalesce(s.rss_kib, 0) * coalesce(dd.rss_rate, 0) != 0 "
                          "OR s.cpu_ns * coalesce(dd.idle_rate, 0) != 0 OR EXISTS (SELECT 1 FROM raw_sample_domains y "
                          "WHERE y.interval_id = s.interval_id AND y.process_id = s.process_id AND "
                          "y.labels_id = s.labels_id AND y.domain_id = dd.domain_id)) "
                          "LEFT JOIN raw_sample_domains xx ON xx.interval_id = s.interval_id AND "
                          "xx.process_id = s.process_id AND xx.labels_id = s.labels_id AND xx.domain_id = dd.domain_id "
                          "LEFT JOIN domains d ON d.id = dd.domain_id "
                          "WHERE " FINEST_RANGE_SQL("i") " "
                          "UNION ALL SELECT i.start_ns, i.end_ns, 0, 0, l.comm, l.exe, l.unit, l.uid, 0, s.cpu_ns, "
                          "d.name, d.source, d.estimated, sd.energy_j, idm.host_total, i.level, "
                          STORE_INTERVAL_DURATION_SQL("i") ", 0, l.id, sd.idle_share_j "
                          "FROM intervals i JOIN rollup_samples s ON s.interval_id = i.id "
                          "JOIN labels l ON l.id = s.labels_id "
                          "LEFT JOIN rollup_sample_domains sd ON sd.interval_id = i.id AND sd.labels_id = s.labels_id "
                          "LEFT JOIN domains d ON d.id = sd.domain_id "
                          "LEFT JOIN interval_domains idm ON idm.interval_id = i.id AND idm.domain_id = sd.domain_id "
                          "WHERE " FINEST_RANGE_SQL("i") " ORDER BY 2, 3, 18, 19, 11",
                          since, until, &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                bool has_domain = sqlite3_column_type(st, 10) != SQLITE_NULL;
                StoreExportRecord rec = {
                        .interval_start_ns = (uint64_t) sqlite3_column_int64(st, 0),
                        .interval_end_ns = (uint64_t) sqlite3_column_int64(st, 1),
                        .pid = sqlite3_column_int64(st, 2),
                        .start_ns = (uint64_t) sqlite3_column_int64(st, 3),
                        .comm = column_text(st, 4),
                        .exe = column_text(st, 5),
                        .unit = column_text(st, 6),
                        .uid = (uint32_t) sqlite3_column_int64(st, 7),
                        .ppid = sqlite3_column_int64(st, 8),
                        .cpu_ns = (uint64_t) sqlite3_column_int64(st, 9),
                        .domain = has_domain ? column_text(st, 10) : NULL,
                        .source = has_domain ? column_text(st, 11) : NULL,
                        .estimated = sqlite3_column_int(st, 12),
                        .energy_j = has_domain ? sqlite3_column_double(st, 13) : 0,
                        .host_total = sqlite3_column_int(st, 14),
                        .level = sqlite3_column_int(st, 15),
                        .duration_ns = (uint64_t) sqlite3_column_int64(st, 16),
                        .idle_share_j = has_domain ? sqlite3_column_double(st, 19) : 0,
                };
                r = fn(&rec, userdata);
                if (r < 0)
                        return r;
        }
        return step_done(rc);
}

/* ---- Raw intervals ----------------------------------------------------- */

int store_query_last_end(Store *s, bool raw_only, uint64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);

        r = prepare(s, raw_only ? "SELECT max(end_ns) FROM intervals WHERE level = 0" : "SELECT max(end_ns) FROM intervals",
                    &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                return 0;
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 1;
}

int store_query_window(Store *s, uint64_t after, uint64_t until, StoreWindow *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StoreWindow w = {};
        int r;

        assert(s);
        assert(ret);

        r = prepare_range(s,
                          "SELECT count(*), coalesce(sum(end_ns - start_ns), 0) FROM intervals "
                          "WHERE end_ns > ?1 AND end_ns <= ?2 AND level = 0",
                          after, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        w.n_intervals = (size_t) sqlite3_column_int64(st, 0);
        w.duration_ns = (uint64_t) sqlite3_column_int64(st, 1);
        sqlite3_finalize(TAKE_PTR(st));

        r = prepare_range(s,
                          "SELECT total(idm.measured_j), total(idm.idle_j) FROM intervals i "
                          "JOIN interval_domains idm ON idm.interval_id = i.id "
                          "WHERE i.end_ns > ?1 AND i.end_ns <= ?2 AND i.level = 0 AND idm.host_total = 1",
                          after, until, &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        w.measured_j = sqlite3_column_double(st, 0);
        w.idle_j = sqlite3_column_double(st, 1);
        *ret = w;
        return 0;
}

int store_query_window_sources(Store *s, uint64_t after, uint64_t until, StoreSource **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = prepare_range(s,
                          "SELECT d.name, d.source, max(d.estimated) FROM domains d WHERE d.id IN "
                          "(SELECT idm.domain_id FROM intervals i JOIN interval_domains idm "
                          "ON idm.interval_id = i.id WHERE i.end_ns > ?1 AND i.end_ns <= ?2 "
                          "AND i.level = 0 AND idm.host_total = 1) GROUP BY 1, 2 ORDER BY 1, 2",
                          after, until, &st);
        if (r < 0)
                return r;
        return sources_read(st, false, ret, ret_n);
}

int store_query_window_groups(Store *s, GroupBy by, uint64_t after, uint64_t until, StoreGroupRow **ret,
                              size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[4096];
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        snprintf(sql, sizeof(sql),
                 "SELECT %s, sum(s.cpu_ns), total(" RAW_ENERGY "), p.pid, l.comm, l.unit, l.uid, sum(s.wakeups), "
                 "total(" RAW_IDLE ") FROM intervals i JOIN raw_samples s ON s.interval_id = i.id "
                 "JOIN labels l ON l.id = s.labels_id LEFT JOIN procs p ON p.id = s.process_id "
                 "WHERE i.end_ns > ?1 AND i.end_ns <= ?2 AND i.level = 0 GROUP BY 1",
                 group_by_sql(by));
        r = prepare_range(s, sql, after, until, &st);
        if (r < 0)
                return r;
        return groups_read(st, true, ret, ret_n);
}

int store_query_host_dynamic(Store *s, uint64_t t0, uint64_t t1, StoreHostDynamicFn fn, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        assert(s);
        assert(fn);

        r = prepare_range(s,
                          "SELECT i.start_ns, i.end_ns, idm.measured_j - idm.idle_j, d.name, d.source, "
                          "d.estimated, idm.idle_j, idm.idle_w, idm.idle_band_w, idm.idle_method "
                          "FROM intervals i JOIN interval_domains idm ON idm.interval_id = i.id "
                          "JOIN domains d ON d.id = idm.domain_id "
                          "WHERE idm.host_total = 1 AND i.level = 0 AND i.end_ns > ?1 AND i.start_ns < ?2",
                          t0, t1, &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreHostDynamic d = {
                        .start_ns = (uint64_t) sqlite3_column_int64(st, 0),
                        .end_ns = (uint64_t) sqlite3_column_int64(st, 1),
                        .dynamic_j = sqlite3_column_double(st, 2),
                        .domain = column_text(st, 3),
                        .source = column_text(st, 4),
                        .estimated = sqlite3_column_int(st, 5),
                        .idle_j = sqlite3_column_double(st, 6),
                        .idle_w = column_double_or_nan(st, 7),
                        .band_w = column_double_or_nan(st, 8),
                        .method = column_text(st, 9),
                };
                r = fn(&d, userdata);
                if (r < 0)
                        return r;
        }
        return step_done(rc);
}

/* ---- Daemon status ----------------------------------------------------- */

/* The writer's lock PATH.lock: 1 and the PID when held, 0 when there is no
 * lock file or nobody holds it, negative errno. */
static int owner_from_lock(const char *path, int64_t *ret_pid) {
        _cleanup_free_ char *lock_path = NULL;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char buf[32] = {};
        long pid;
        int fd, r = 0;

        if (asprintf(&lock_path, "%s.lock", path) < 0)
                return -ENOMEM;
        fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* F_OFD_GETLK takes no lock; it says whether one is held. */
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                r = -errno;
        else if (fl.l_type != F_UNLCK) {
                r = 1;
                *ret_pid = 0;
                if (pread(fd, buf, sizeof(buf) - 1, 0) > 0 && sscanf(buf, "%ld", &pid) == 1 && pid > 0)
                        *ret_pid = pid;
        }
        close(fd);
        return r;
}

/* Whether process pid is a jouled with the file at path open: 1 yes, 0 no,
 * -EACCES when its open files may not be read. */
static int pid_has_open(int64_t pid, const char *path) {
        _cleanup_free_ char *real = realpath(path, NULL);
        char dir[64], comm[32] = "";
        struct dirent *de;
        DIR *d;
        FILE *f;
        int r = 0;

        snprintf(dir, sizeof(dir), "/proc/%" PRIi64 "/comm", pid);
        f = fopen(dir, "re");
        if (!f)
                return 0;
        if (!fgets(comm, sizeof(comm), f))
                comm[0] = 0;
        fclose(f);
        if (strcmp(comm, "jouled\n") != 0 || !real)
                return 0;
        snprintf(dir, sizeof(dir), "/proc/%" PRIi64 "/fd", pid);
        d = opendir(dir);
        if (!d)
                return errno == EACCES || errno == EPERM ? -EACCES : 0;
        while (r == 0 && (de = readdir(d))) {
                char link[160], target[4096];
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(link, sizeof(link), "%s/%.40s", dir, de->d_name);
                n = readlink(link, target, sizeof(target) - 1);
                if (n < 0)
                        continue;
                target[n] = 0;
                r = strcmp(target, real) == 0;
        }
        closedir(d);
        return r;
}

int store_query_owner(Store *s, uint64_t recent_ns, int64_t *ret_pid, bool *ret_running) {
        _cleanup_free_ char *pid_s = NULL;
        uint64_t last = 0, now = now_ns(CLOCK_REALTIME);
        int64_t pid = 0;
        char *end;
        int r;

        assert(s);
        assert(ret_pid);
        assert(ret_running);

        *ret_pid = 0;
        *ret_running = false;
        r = owner_from_lock(store_path(s), &pid);
        if (r > 0) {
                *ret_pid = pid;
                *ret_running = true;
                return 0;
        }
        r = store_query_state(s, "pid", &pid_s);
        if (r < 0)
                return r;
        if (!pid_s)
                return 0;
        errno = 0;
        pid = strtoll(pid_s, &end, 10);
        if (errno != 0 || *end || pid <= 0 || pid > INT32_MAX)
                return 0;
        r = pid_has_open(pid, store_path(s));
        if (r == -EACCES) {
                r = store_query_last_end(s, false, &last);
                if (r < 0)
                        return r;
                r = r > 0 && last + recent_ns >= now;
        }
        if (r > 0) {
                *ret_pid = pid;
                *ret_running = true;
        }
        return 0;
}

int store_query_state(Store *s, const char *key, char **ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        assert(s);
        assert(key);
        assert(ret);

        r = prepare(s, "SELECT value FROM daemon_state WHERE key = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return column_strdup(st, 0, ret);
        r = step_done(rc);
        if (r < 0)
                return r;
        *ret = NULL;
        return 0;
}

void store_state_entries_free(StoreStateEntry *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                free(v[i].value);
        }
        free(v);
}

static int state_entry_fill(sqlite3_stmt *st, void *item, void *userdata) {
        StoreStateEntry *p = item;
        int r;

        if ((r = column_strdup(st, 0, &p->key)) < 0 || (r = column_strdup(st, 1, &p->value)) < 0)
                return r;
        return 0;
}

static void state_entries_free(void *v, size_t n) {
        store_state_entries_free(v, n);
}

int store_query_state_all(Store *s, StoreStateEntry **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = prepare(s, "SELECT key, value FROM daemon_state", &st);
        if (r < 0)
                return r;
        return read_rows(st, sizeof(StoreStateEntry), state_entry_fill, NULL, state_entries_free, ret, ret_n);
}

void store_probes_free(StoreProbe *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].status);
                free(v[i].reason);
        }
        free(v);
}

static int probe_fill(sqlite3_stmt *st, void *item, void *userdata) {
        StoreProbe *p = item;
        int r;

        if ((r = column_strdup(st, 0, &p->name)) < 0 || (r = column_strdup(st, 1, &p->status)) < 0 ||
            (r = column_strdup(st, 4, &p->reason)) < 0)
                return r;
        p->estimated = sqlite3_column_int(st, 2);
        p->in_use = sqlite3_column_int(st, 3);
        return 0;
}

static void probes_free(void *v, size_t n) {
        store_probes_free(v, n);
}

int store_query_probes(Store *s, StoreProbe **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = prepare(s, "SELECT name, status, estimated, in_use, reason FROM source_probes ORDER BY rowid", &st);
        if (r < 0)
                return r;
        return read_rows(st, sizeof(StoreProbe), probe_fill, NULL, probes_free, ret, ret_n);
}

int store_query_latest_domains(Store *s, StoreSource **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = prepare(s,
                    "SELECT d.name, d.source, d.estimated FROM interval_domains idm "
                    "JOIN domains d ON d.id = idm.domain_id "
                    "WHERE idm.interval_id = (SELECT max(id) FROM intervals WHERE level = 0) ORDER BY d.name",
                    &st);
        if (r < 0)
                return r;
        return sources_read(st, false, ret, ret_n);
}

int store_query_counts(Store *s, StoreCounts *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);

        r = prepare(s,
                    "SELECT (SELECT count(*) FROM procs), (SELECT count(*) FROM intervals), "
                    "(SELECT max(end_ns) FROM intervals)",
                    &st);
        if (r < 0)
                return r;
        r = step_row(st);
        if (r < 0)
                return r;
        *ret = (StoreCounts) {
                .processes = sqlite3_column_int64(st, 0),
                .intervals = sqlite3_column_int64(st, 1),
                .last_end_ns = sqlite3_column_int64(st, 2),
        };
        return 0;
}

int store_query_process_usage(Store *s, int64_t pid, uint64_t since, uint64_t until, uint64_t *ret_cpu_ns,
                              double *ret_energy_j) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret_cpu_ns);
        assert(ret_energy_j);

        /* The latest started process with that pid: an older one of another
         * boot is another program. */
        r = prepare_range(s,
                          "SELECT coalesce(sum(s.cpu_ns), 0), total(" RAW_ENERGY ") FROM intervals i "
                          "JOIN raw_samples s ON s.interval_id = i.id WHERE " RAW_RANGE " AND s.process_id = "
                          "(SELECT id FROM procs WHERE pid = ?3 ORDER BY start_ns DESC LIMIT 1)",
                          since, until, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 3, pid);
        r = step_row(st);
        if (r < 0)
                return r;
        *ret_cpu_ns = (uint64_t) sqlite3_column_int64(st, 0);
        *ret_energy_j = sqlite3_column_double(st, 1);
        return 0;
}

/* ---- Idle estimates ---------------------------------------------------- */

void store_idle_free(StoreIdle *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].domain);
                free(v[i].source);
                free(v[i].method);
        }
        free(v);
}

static int idle_fill(sqlite3_stmt *st, void *item, void *userdata) {
        StoreIdle *p = item;
        int r;

        p->idle_j = sqlite3_column_double(st, 2);
        p->idle_w = column_double_or_nan(st, 3);
        p->band_w = column_double_or_nan(st, 4);
        p->band_j = column_double_or_nan(st, 5);
        if ((r = column_strdup(st, 0, &p->domain)) < 0 || (r = column_strdup(st, 1, &p->source)) < 0)
                return r;
        if (sqlite3_column_type(st, 6) != SQLITE_NULL && (r = column_strdup(st, 6, &p->method)) < 0)
                return r;
        return 0;
}

static void idles_free(void *v, size_t n) {
        store_idle_free(v, n);
}

int store_query_idle(Store *s, uint64_t since, uint64_t until, StoreIdle **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        /* The method: the newest raw interval's, a rollup's ("rollup") only
         * when the range holds no raw one. */
        r = prepare_range(s,
                          "SELECT d.name, d.source, total(idm.idle_j), avg(idm.idle_w), avg(idm.idle_band_w), "
                          "sum(idm.idle_band_w * " STORE_INTERVAL_DURATION_SQL("i") " / 1e9), "
                          "(SELECT idm2.idle_method FROM intervals i2 JOIN interval_domains idm2 "
                          "ON idm2.interval_id = i2.id WHERE idm2.domain_id = d.id AND idm2.host_total = 1 "
                          "AND i2.end_ns > ?1 AND i2.end_ns <= ?2 AND idm2.idle_method IS NOT NULL "
                          "ORDER BY idm2.idle_method = 'rollup', i2.end_ns DESC LIMIT 1) "
                          "FROM intervals i JOIN interval_domains idm ON idm.interval_id = i.id "
                          "JOIN domains d ON d.id = idm.domain_id "
                          "WHERE " RANGE " AND idm.host_total = 1 GROUP BY d.id ORDER BY d.name, d.source",
                          since, until, &st);
        if (r < 0)
                return r;
        return read_rows(st, sizeof(StoreIdle), idle_fill, NULL, idles_free, ret, ret_n);
}
