/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl report: energy per process (or comm, unit, user) over a time range.
 *
 * Intervals are selected by their end time: since < end_ns <= until.
 *
 * JSON (DESIGN.md, plus "estimated"):
 *   since, until        ISO 8601 UTC; without --since, the first selected
 *                       interval's start
 *   by                  "process" | "comm" | "unit" | "user"
 *   estimated           true when any source in the range is estimated
 *   sources             [{domain, source, estimated}]
 *   totals              {measured_joules, attributed_joules, idle_joules,
 *                        unattributed_joules, cpu_seconds}; energy over the
 *                        host-total domains only, so measured = attributed +
 *                        idle + unattributed
 *   rows                [{key, pid, start_time, comm, exe, unit, user, uid,
 *                        ppid, cpu_seconds, energy_joules, domains{name: J}}]
 *                       sorted by energy_joules then cpu_seconds, descending.
 *                       With --by comm|unit|user only key, cpu_seconds,
 *                       energy_joules and domains. An unknown unit is "-".
 *
 * CSV: a header row, then one line per row. Columns: key, [pid, start_time,
 * comm, exe, unit, user, uid, ppid,] cpu_seconds, energy_joules, estimated,
 * then one "joules:DOMAIN" column per domain in the range.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli-util.h"
#include "timeparse.h"
#include "util.h"
#include "report.h"
#include "verbs.h"

static const char *const report_by_names[_REPORT_BY_MAX] = {
        [REPORT_BY_PROCESS] = "process",
        [REPORT_BY_COMM] = "comm",
        [REPORT_BY_UNIT] = "unit",
        [REPORT_BY_USER] = "user",
        [REPORT_BY_SLICE] = "slice",
        [REPORT_BY_CONTAINER] = "container",
};

/* SQL expression that groups rows. */
static const char *const report_by_sql[_REPORT_BY_MAX] = {
        [REPORT_BY_PROCESS] = "p.id",
        /* attrib: kernel threads are one group of their own, "[kernel]". */
        [REPORT_BY_COMM] = "CASE WHEN p.kernel_thread THEN '[kernel]' ELSE p.comm END",
        [REPORT_BY_UNIT] = "CASE WHEN p.kernel_thread THEN '[kernel]' ELSE coalesce(p.unit, '-') END",
        [REPORT_BY_USER] = "CASE WHEN p.kernel_thread THEN '[kernel]' ELSE p.uid END",
        [REPORT_BY_SLICE] = "CASE WHEN p.kernel_thread THEN '[kernel]' ELSE coalesce(p.slice, '-') END",
        [REPORT_BY_CONTAINER] = "CASE WHEN p.kernel_thread THEN '[kernel]' ELSE coalesce(p.container_id, '-') END",
};

const char *report_by_sql_expr(ReportBy by) {
        return report_by_sql[by];
}

static void report_done(Report *r) {
        for (size_t i = 0; i < r->n_sources; i++) {
                free(r->sources[i].domain);
                free(r->sources[i].source);
                free(r->sources[i].idle_method);
        }
        free(r->sources);
        for (size_t i = 0; i < r->n_domains; i++)
                free(r->domains[i]);
        free(r->domains);
        for (size_t i = 0; i < r->n_rows; i++) {
                free(r->rows[i].key_text);
                free(r->rows[i].comm);
                free(r->rows[i].exe);
                free(r->rows[i].unit);
                free(r->rows[i].domain_j);
        }
        free(r->rows);
}

static void sqlite3_finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

static char *column_strdup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? strdup((const char *) t) : NULL;
}

static int prepare_range(sqlite3 *db, const char *sql, const Report *r, sqlite3_stmt **ret) {
        int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK) {
                fprintf(stderr, "joulectl: cannot query database: %s\n", sqlite3_errmsg(db));
                return store_errno(rc);
        }
        sqlite3_bind_int64(*ret, 1, (int64_t) r->since);
        sqlite3_bind_int64(*ret, 2, (int64_t) r->until);
        return 0;
}

static int step_error(sqlite3 *db, int rc) {
        fprintf(stderr, "joulectl: cannot read database: %s\n", sqlite3_errmsg(db));
        return store_errno(rc);
}

#define RANGE STORE_RANGE_SQL("i") /* storage: raw and rollups, nothing twice */

static int report_load(sqlite3 *db, Report *r) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[8192]; /* storage: STORE_RANGE_SQL is long */
        int rc, e;

        e = prepare_range(db, "SELECT coalesce(sum(" STORE_INTERVAL_COUNT_SQL("i") "), 0), min(i.start_ns), "
                          "coalesce(sum(" STORE_INTERVAL_DURATION_SQL("i") "), 0) "
                          "FROM intervals i WHERE " RANGE, r, &st);
        if (e < 0)
                return e;
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
                return step_error(db, rc);
        r->n_intervals = sqlite3_column_int64(st, 0);
        r->first_start = (uint64_t) sqlite3_column_int64(st, 1);
        r->duration_ns = (uint64_t) sqlite3_column_int64(st, 2);
        sqlite3_finalize(TAKE_PTR(st));

        e = prepare_range(db,
                          "SELECT total(idm.measured_j), total(idm.attributed_j), total(idm.idle_j), "
                          "total(idm.unattributed_j), total(idm.irq_j) FROM intervals i "
                          "JOIN interval_domains idm ON idm.interval_id = i.id "
                          "WHERE " RANGE " AND idm.host_total = 1",
                          r, &st);
        if (e < 0)
                return e;
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
                return step_error(db, rc);
        r->measured = sqlite3_column_double(st, 0);
        r->attributed = sqlite3_column_double(st, 1);
        r->idle = sqlite3_column_double(st, 2);
        r->unattributed = sqlite3_column_double(st, 3);
        r->irq = sqlite3_column_double(st, 4);
        sqlite3_finalize(TAKE_PTR(st));

        /* storage: the CPU total is the sum of the rows below (one pass over samples, not two). */
        r->cpu_ns = 0;

        /* Sources in the range; distinct domain names. */
        e = prepare_range(db,
                          "SELECT d.name, d.source, max(d.estimated), "
                          /* attrib: idle power, mean over the range and latest method */
                          "(SELECT avg(idm.idle_w) FROM intervals i JOIN interval_domains idm ON idm.interval_id = i.id "
                          "JOIN domains d2 ON d2.id = idm.domain_id WHERE " RANGE " AND d2.name = d.name AND d2.source = d.source), "
                          "(SELECT idm.idle_method FROM intervals i JOIN interval_domains idm ON idm.interval_id = i.id "
                          "JOIN domains d2 ON d2.id = idm.domain_id WHERE " RANGE " AND d2.name = d.name AND d2.source = d.source "
                          "AND idm.idle_method IS NOT NULL AND idm.idle_method != 'rollup' ORDER BY i.end_ns DESC LIMIT 1) "
                          "FROM domains d WHERE d.id IN "
                          "(SELECT idm.domain_id FROM intervals i JOIN interval_domains idm "
                          "ON idm.interval_id = i.id WHERE " RANGE ") "
                          "GROUP BY d.name, d.source ORDER BY d.name, d.source",
                          r, &st);
        if (e < 0)
                return e;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                SourceRow *p = realloc(r->sources, (r->n_sources + 1) * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                r->sources = p;
                p = &r->sources[r->n_sources++];
                p->domain = column_strdup(st, 0);
                p->source = column_strdup(st, 1);
                p->estimated = sqlite3_column_int(st, 2);
                p->idle_w = sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3);
                p->idle_method = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : column_strdup(st, 4);
                if (!p->domain || !p->source)
                        return -ENOMEM;
                r->estimated = r->estimated || p->estimated;
                if (r->n_domains == 0 || strcmp(r->domains[r->n_domains - 1], p->domain) != 0) {
                        char **d = realloc(r->domains, (r->n_domains + 1) * sizeof(*d));
                        if (!d)
                                return -ENOMEM;
                        r->domains = d;
                        d[r->n_domains] = strdup(p->domain);
                        if (!d[r->n_domains])
                                return -ENOMEM;
                        r->n_domains++;
                }
        }
        if (rc != SQLITE_DONE)
                return step_error(db, rc);
        sqlite3_finalize(TAKE_PTR(st));

        /* Rows, ordered by key so the per-domain query can be merged in. */
        /* Per key and interval first, so that a group's presence counts each
         * interval once (active_ns) however many processes it had then. By
         * process, a process has one sample per interval: sum per process id
         * first, join the processes once per process (storage: 3x faster). */
        if (r->by == REPORT_BY_PROCESS)
                snprintf(sql, sizeof(sql),
                 "SELECT x.k, x.c, x.e, x.dur, p.pid, p.start_ns, p.comm, p.exe, p.unit, p.uid, p.ppid, x.w FROM "
                 "(SELECT s.process_id AS k, sum(" STORE_SAMPLE_ACTIVE_SQL("s", "i") ") AS dur, sum(s.cpu_ns) AS c, "
                 "total(s.energy_j) AS e, sum(s.wakeups) AS w FROM intervals i JOIN samples s ON s.interval_id = i.id "
                 "WHERE " RANGE " GROUP BY s.process_id) x JOIN processes p ON p.id = x.k ORDER BY x.k");
        else
                snprintf(sql, sizeof(sql),
                 "SELECT k, sum(c), total(e), sum(dur), pid, start_ns, comm, exe, unit, uid, ppid, sum(w) FROM "
                 "(SELECT %s AS k, max(" STORE_SAMPLE_ACTIVE_SQL("s", "i") ") AS dur, sum(s.cpu_ns) AS c, total(s.energy_j) AS e, "
                 "sum(s.wakeups) AS w, "
                 "p.pid AS pid, p.start_ns AS start_ns, p.comm AS comm, p.exe AS exe, p.unit AS unit, "
                 "p.uid AS uid, p.ppid AS ppid FROM intervals i JOIN samples s ON s.interval_id = i.id "
                 "JOIN processes p ON p.id = s.process_id WHERE " RANGE " GROUP BY 1, i.id) "
                 "GROUP BY k ORDER BY k",
                 report_by_sql[r->by]);
        e = prepare_range(db, sql, r, &st);
        if (e < 0)
                return e;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                ReportRow *p = realloc(r->rows, (r->n_rows + 1) * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                r->rows = p;
                p = &r->rows[r->n_rows++];
                *p = (ReportRow) {};
                if (sqlite3_column_type(st, 0) == SQLITE_TEXT) {
                        p->key_text = column_strdup(st, 0);
                        if (!p->key_text)
                                return -ENOMEM;
                } else
                        p->key_int = sqlite3_column_int64(st, 0);
                p->cpu_ns = (uint64_t) sqlite3_column_int64(st, 1);
                r->cpu_ns += p->cpu_ns;
                p->energy_j = sqlite3_column_double(st, 2);
                p->active_ns = (uint64_t) sqlite3_column_int64(st, 3);
                p->pid = sqlite3_column_int64(st, 4);
                p->start_ns = sqlite3_column_int64(st, 5);
                p->comm = column_strdup(st, 6);
                p->exe = column_strdup(st, 7);
                p->unit = column_strdup(st, 8);
                p->uid = sqlite3_column_int64(st, 9);
                p->ppid = sqlite3_column_int64(st, 10);
                p->wakeups = (uint64_t) sqlite3_column_int64(st, 11);
                p->domain_j = calloc(MAX(r->n_domains, (size_t) 1), sizeof(double));
                if (!p->domain_j)
                        return -ENOMEM;
        }
        if (rc != SQLITE_DONE)
                return step_error(db, rc);
        sqlite3_finalize(TAKE_PTR(st));

        snprintf(sql, sizeof(sql),
                 /* storage: summed per (process, domain) first, then joined */
                 "SELECT %s, d.name, total(x.e) FROM "
                 "(SELECT sd.process_id AS pid, sd.domain_id AS did, total(sd.energy_j) AS e FROM intervals i "
                 "JOIN sample_domains sd ON sd.interval_id = i.id WHERE " RANGE " GROUP BY 1, 2) x "
                 "JOIN processes p ON p.id = x.pid JOIN domains d ON d.id = x.did "
                 "GROUP BY 1, 2 ORDER BY 1, 2",
                 report_by_sql[r->by]);
        e = prepare_range(db, sql, r, &st);
        if (e < 0)
                return e;
        size_t row = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 1);
                bool text = sqlite3_column_type(st, 0) == SQLITE_TEXT;
                const char *kt = text ? (const char *) sqlite3_column_text(st, 0) : NULL;
                int64_t ki = text ? 0 : sqlite3_column_int64(st, 0);

                /* Both queries are ordered by the same key: walk forward. */
                while (row < r->n_rows &&
                       !(text ? streq_ptr(r->rows[row].key_text, kt) : (!r->rows[row].key_text && r->rows[row].key_int == ki)))
                        row++;
                if (row >= r->n_rows)
                        break;
                for (size_t d = 0; name && d < r->n_domains; d++)
                        if (strcmp(r->domains[d], name) == 0) {
                                r->rows[row].domain_j[d] += sqlite3_column_double(st, 2);
                                break;
                        }
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return step_error(db, rc);
        return 0;
}

double report_row_watts(const ReportRow *row) {
        return row->active_ns > 0 ? row->energy_j / ((double) row->active_ns / 1e9) : 0;
}

static int cmp_desc_double(double a, double b) {
        return a == b ? 0 : a < b ? 1 : -1;
}

static int cmp_desc_u64(uint64_t a, uint64_t b) {
        return a == b ? 0 : a < b ? 1 : -1;
}

static ReportSort sort_key;   /* for qsort */

static int row_compare(const void *a, const void *b) {
        const ReportRow *x = a, *y = b;
        int c = 0;

        switch (sort_key) {
        case SORT_CPU:
                c = cmp_desc_u64(x->cpu_ns, y->cpu_ns);
                break;
        case SORT_POWER:
                c = cmp_desc_double(report_row_watts(x), report_row_watts(y));
                break;
        default:
                break;
        }
        if (c == 0)
                c = cmp_desc_double(x->energy_j, y->energy_j);
        if (c == 0)
                c = cmp_desc_u64(x->cpu_ns, y->cpu_ns);
        if (c == 0)
                c = x->pid < y->pid ? -1 : x->pid > y->pid;
        if (c == 0)
                c = strcmp(x->key_text ? x->key_text : "", y->key_text ? y->key_text : "");
        if (c == 0)
                c = x->key_int < y->key_int ? -1 : x->key_int > y->key_int;
        return c;
}

/* The row's key as text: pid, comm, unit or user name. */
const char *report_row_key(const Report *r, const ReportRow *row, char *buf, size_t size) {
        switch (r->by) {
        case REPORT_BY_PROCESS:
                snprintf(buf, size, "%" PRIi64, row->pid);
                return buf;
        case REPORT_BY_USER:
                if (row->key_text)
                        return row->key_text;   /* "[kernel]" */
                return cli_user_name((uint32_t) row->key_int);
        default:
                return row->key_text ? row->key_text : "-";
        }
}

/* Wakeups per second while the row was present (0 when never). */
double report_row_wakeups_per_second(const ReportRow *row) {
        return row->active_ns > 0 ? (double) row->wakeups / ((double) row->active_ns / 1e9) : 0;
}

static json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static void report_print_json(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                              const char *until_s) {
        json_object *o = json_object_new_object(), *a, *t;
        char buf[64];

        json_object_object_add(o, "since", json_object_new_string(since_s));
        json_object_object_add(o, "until", json_object_new_string(until_s));
        json_object_object_add(o, "by", json_object_new_string(report_by_names[r->by]));
        json_object_object_add(o, "estimated", json_object_new_boolean(r->estimated));

        a = json_object_new_array();
        for (size_t i = 0; i < r->n_sources; i++) {
                json_object *s = json_object_new_object();
                json_object_object_add(s, "domain", json_object_new_string(r->sources[i].domain));
                json_object_object_add(s, "source", json_object_new_string(r->sources[i].source));
                json_object_object_add(s, "estimated", json_object_new_boolean(r->sources[i].estimated));
                json_object_object_add(s, "idle_w", isfinite(r->sources[i].idle_w) ? json_double_exact(r->sources[i].idle_w) : NULL);
                json_object_object_add(s, "idle_method", json_string_or_null(r->sources[i].idle_method));
                json_object_array_add(a, s);
        }
        json_object_object_add(o, "sources", a);

        t = json_object_new_object();
        json_object_object_add(t, "measured_joules", json_double_exact(r->measured));
        json_object_object_add(t, "attributed_joules", json_double_exact(r->attributed));
        json_object_object_add(t, "idle_joules", json_double_exact(r->idle));
        json_object_object_add(t, "unattributed_joules", json_double_exact(r->unattributed));
        json_object_object_add(t, "irq_joules", json_double_exact(r->irq));
        json_object_object_add(t, "cpu_seconds", json_seconds_from_ns(r->cpu_ns));
        json_object_object_add(t, "co2e_grams", json_double_exact(carbon_grams(carbon, r->measured)));
        json_object_object_add(o, "totals", t);

        t = json_object_new_object();
        json_object_object_add(t, "intensity_g_per_kwh", json_double_exact(carbon->g_per_kwh));
        json_object_object_add(t, "origin", json_object_new_string(carbon->origin));
        json_object_object_add(o, "carbon", t);
        json_object_object_add(o, "sort", json_object_new_string(r->sort == SORT_CPU     ? "cpu"
                                                                 : r->sort == SORT_POWER ? "power"
                                                                                         : "energy"));

        a = json_object_new_array();
        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];
                json_object *j = json_object_new_object(), *d;

                json_object_object_add(j, "key", json_object_new_string(report_row_key(r, row, buf, sizeof(buf))));
                if (r->by == REPORT_BY_PROCESS) {
                        json_object_object_add(j, "pid", json_object_new_int64(row->pid));
                        json_object_object_add(j, "start_time", json_object_new_string(
                                format_iso8601((uint64_t) row->start_ns, true, buf, sizeof(buf))));
                        json_object_object_add(j, "comm", json_string_or_null(row->comm));
                        json_object_object_add(j, "exe", json_string_or_null(row->exe));
                        json_object_object_add(j, "unit", json_string_or_null(row->unit));
                        json_object_object_add(j, "user", json_object_new_string(cli_user_name((uint32_t) row->uid)));
                        json_object_object_add(j, "uid", json_object_new_int64(row->uid));
                        json_object_object_add(j, "ppid", json_object_new_int64(row->ppid));
                }
                json_object_object_add(j, "cpu_seconds", json_seconds_from_ns(row->cpu_ns));
                json_object_object_add(j, "energy_joules", json_double_exact(row->energy_j));
                json_object_object_add(j, "power_watts", json_double_exact(report_row_watts(row)));
                json_object_object_add(j, "wakeups", json_object_new_int64((int64_t) row->wakeups));
                json_object_object_add(j, "wakeups_per_second", json_double_exact(report_row_wakeups_per_second(row)));
                json_object_object_add(j, "co2e_grams", json_double_exact(carbon_grams(carbon, row->energy_j)));
                d = json_object_new_object();
                for (size_t k = 0; k < r->n_domains; k++)
                        if (row->domain_j[k] != 0)
                                json_object_object_add(d, r->domains[k], json_double_exact(row->domain_j[k]));
                json_object_object_add(j, "domains", d);
                json_object_array_add(a, j);
        }
        json_object_object_add(o, "rows", a);
        /* attrib: interrupt and softirq time, a part of unattributed: not in
         * rows, which add up to attributed. */
        t = json_object_new_object();
        json_object_object_add(t, "key", json_object_new_string("[irq]"));
        json_object_object_add(t, "energy_joules", json_double_exact(r->irq));
        json_object_object_add(o, "irq", t);

        json_print(o);
        json_object_put(o);
}

static void report_print_csv(const Report *r, const Carbon *carbon, size_t limit) {
        char buf[64];

        fputs("key", stdout);
        if (r->by == REPORT_BY_PROCESS)
                fputs(",pid,start_time,comm,exe,unit,user,uid,ppid", stdout);
        fputs(",cpu_seconds,energy_joules,estimated,power_watts,co2e_grams", stdout);
        for (size_t k = 0; k < r->n_domains; k++) {
                char h[128];
                snprintf(h, sizeof(h), "joules:%s", r->domains[k]);
                fputc(',', stdout);
                csv_field(stdout, h);
        }
        fputs("\r\n", stdout);

        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];

                csv_field(stdout, report_row_key(r, row, buf, sizeof(buf)));
                if (r->by == REPORT_BY_PROCESS) {
                        printf(",%" PRIi64 ",", row->pid);
                        csv_field(stdout, format_iso8601((uint64_t) row->start_ns, true, buf, sizeof(buf)));
                        fputc(',', stdout);
                        csv_field(stdout, row->comm);
                        fputc(',', stdout);
                        csv_field(stdout, row->exe);
                        fputc(',', stdout);
                        csv_field(stdout, row->unit);
                        fputc(',', stdout);
                        csv_field(stdout, cli_user_name((uint32_t) row->uid));
                        printf(",%" PRIi64 ",%" PRIi64, row->uid, row->ppid);
                }
                printf(",%s", format_ns_as_seconds(row->cpu_ns, buf, sizeof(buf)));
                printf(",%s", format_double(row->energy_j, buf, sizeof(buf)));
                printf(",%s", r->estimated ? "true" : "false");
                printf(",%s", format_double(report_row_watts(row), buf, sizeof(buf)));
                printf(",%s", format_double(carbon_grams(carbon, row->energy_j), buf, sizeof(buf)));
                for (size_t k = 0; k < r->n_domains; k++)
                        printf(",%s", format_double(row->domain_j[k], buf, sizeof(buf)));
                fputs("\r\n", stdout);
        }
}

static void report_print_table(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                               const char *until_s) {
        const char *est = r->estimated ? " (estimated)" : "";
        char e1[64], e2[64], e3[64], e4[64], buf[128];
        double secs = (double) r->duration_ns / 1e9;

        printf("Energy from %s to %s, %" PRIi64 " interval%s\n", since_s, until_s, r->n_intervals,
               r->n_intervals == 1 ? "" : "s");
        printf("Sources: ");
        if (r->n_sources == 0)
                printf("none");
        for (size_t i = 0; i < r->n_sources; i++)
                printf("%s%s (%s%s)", i > 0 ? ", " : "", r->sources[i].domain, r->sources[i].source,
                       r->sources[i].estimated ? ", estimated" : "");
        printf("\n");
        printf("Measured%s %s = attributed %s + idle %s + unattributed %s; CPU %.1f s\n", est,
               format_energy(r->measured, true, e1, sizeof(e1)), format_energy(r->attributed, false, e2, sizeof(e2)),
               format_energy(r->idle, false, e3, sizeof(e3)), format_energy(r->unattributed, false, e4, sizeof(e4)),
               (double) r->cpu_ns / 1e9);
        printf("Mean power %.2f W; carbon %s (%s)\n", secs > 0 ? r->measured / secs : 0.0,
               format_co2(carbon_grams(carbon, r->measured), e1, sizeof(e1)),
               format_carbon_origin(carbon, buf, sizeof(buf)));
        printf("\n");

        if (r->n_rows == 0) {
                printf("No process activity recorded in this range.\n");
                return;
        }

        if (r->by == REPORT_BY_PROCESS)
                printf("%7s %-15s %-20s %-8s %8s %8s %10s %11s %8s%s\n", "PID", "COMM", "UNIT", "USER", "CPU(s)", "AVG(W)",
                       "ENERGY", "gCO2e", "WAKE/S", est);
        else
                printf("%-36s %8s %8s %10s %11s %8s%s\n",
                       r->by == REPORT_BY_COMM ? "COMM" : r->by == REPORT_BY_UNIT ? "UNIT" : r->by == REPORT_BY_SLICE ? "SLICE"
                       : r->by == REPORT_BY_CONTAINER ? "CONTAINER" : "USER", "CPU(s)", "AVG(W)",
                       "ENERGY", "gCO2e", "WAKE/S", est);

        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];
                double cpu = (double) row->cpu_ns / 1e9;
                double g = carbon_grams(carbon, row->energy_j);

                format_energy(row->energy_j, false, e1, sizeof(e1));
                snprintf(e2, sizeof(e2), g > 0 && g < 0.001 ? "%.2e" : "%.3f", g);
                if (r->by == REPORT_BY_PROCESS)
                        printf("%7" PRIi64 " %-15.15s %-20.20s %-8.8s %8.2f %8.2f %10s %11s %8.1f\n", row->pid,
                               row->comm ? row->comm : "-", row->unit ? row->unit : "-",
                               cli_user_name((uint32_t) row->uid), cpu, report_row_watts(row), e1, e2,
                               report_row_wakeups_per_second(row));
                else
                        printf("%-36.36s %8.2f %8.2f %10s %11s %8.1f\n", report_row_key(r, row, buf, sizeof(buf)), cpu,
                               report_row_watts(row), e1, e2, report_row_wakeups_per_second(row));
        }
        if (r->n_rows > limit)
                printf("(%zu more; use --limit)\n", r->n_rows - limit);
        /* attrib: interrupt and softirq time, its own row (part of unattributed). */
        if (r->irq > 0)
                printf("%s%-*s %10s   (interrupts and softirqs; part of unattributed)\n",
                       r->by == REPORT_BY_PROCESS ? "      - " : "", r->by == REPORT_BY_PROCESS ? 62 : 54, "[irq]",
                       format_energy(r->irq, false, e1, sizeof(e1)));
}

int verb_report(int argc, char **argv, const CliGlobals *g_in) {
        enum { ARG_SINCE = 0x100, ARG_UNTIL, ARG_BY, ARG_LIMIT, ARG_JSON, ARG_CSV, ARG_HTML, ARG_SORT, ARG_CARBON };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "by", required_argument, NULL, ARG_BY },
                { "sort", required_argument, NULL, ARG_SORT },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "json", no_argument, NULL, ARG_JSON },
                { "csv", no_argument, NULL, ARG_CSV },
                { "html", required_argument, NULL, ARG_HTML },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        static const char *const sort_names[_SORT_MAX] = {
                [SORT_ENERGY] = "energy", [SORT_CPU] = "cpu", [SORT_POWER] = "power"
        };
        _cleanup_(store_freep) Store *store = NULL;
        CliGlobals g = *g_in;
        Report r = { .by = REPORT_BY_PROCESS, .sort = SORT_ENERGY };
        uint64_t now = now_ns(CLOCK_REALTIME), boot = cli_boot_realtime();
        bool have_since = false, have_until = false, have_limit = false;
        ReportFormat format = FORMAT_TABLE;
        char since_s[64], until_s[64];
        const char *until_arg = NULL, *html_path = NULL;
        uint64_t limit = 0;
        Carbon carbon;
        int c, e, ret;

        r.since = 0;
        r.until = (uint64_t) INT64_MAX;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SINCE:
                        if (parse_time_spec(optarg, now, boot, &r.since) < 0)
                                return cli_usage_time("--since", optarg);
                        have_since = true;
                        break;
                case ARG_UNTIL:
                        if (parse_time_spec(optarg, now, boot, &r.until) < 0)
                                return cli_usage_time("--until", optarg);
                        have_until = true;
                        until_arg = optarg;
                        break;
                case ARG_BY: {
                        ReportBy by = _REPORT_BY_INVALID;
                        for (int i = 0; i < _REPORT_BY_MAX; i++)
                                if (strcmp(optarg, report_by_names[i]) == 0)
                                        by = (ReportBy) i;
                        if (by == _REPORT_BY_INVALID) {
                                fprintf(stderr, "joulectl: invalid --by '%s': expected process, comm, unit, user, slice or container\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        r.by = by;
                        break;
                }
                case ARG_SORT: {
                        ReportSort so = _SORT_INVALID;
                        for (int i = 0; i < _SORT_MAX; i++)
                                if (strcmp(optarg, sort_names[i]) == 0)
                                        so = (ReportSort) i;
                        if (so == _SORT_INVALID) {
                                fprintf(stderr, "joulectl: invalid --sort '%s': expected energy, cpu or power\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        r.sort = so;
                        break;
                }
                case ARG_LIMIT:
                        if (parse_u64(optarg, &limit) < 0 || limit > 100000000) {
                                fprintf(stderr,
                                        "joulectl: invalid --limit '%s': expected a whole number of rows "
                                        "(0 for all)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        have_limit = true;
                        break;
                case ARG_JSON:
                case ARG_CSV:
                case ARG_HTML: {
                        ReportFormat f = c == ARG_JSON ? FORMAT_JSON : c == ARG_CSV ? FORMAT_CSV : FORMAT_HTML;
                        if (format != FORMAT_TABLE && format != f) {
                                fprintf(stderr, "joulectl: --json, --csv and --html cannot be combined; choose one\n");
                                return EXIT_USAGE;
                        }
                        if (c == ARG_HTML) {
                                if (!*optarg) {
                                        fprintf(stderr, "joulectl: invalid --html '': expected an output file "
                                                        "name (- for standard output)\n");
                                        return EXIT_USAGE;
                                }
                                html_path = optarg;
                        }
                        format = f;
                        break;
                }
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl report [--since T] [--until T] [--by process|comm|unit|user|slice|container]\n"
                               "                       [--sort energy|cpu|power] [--limit N]\n"
                               "                       [--json|--csv|--html FILE] [--carbon-intensity G]\n");
                        return 0;
                default:
                        return cli_option_error(c, argv, "report",
                                                "--since, --until, --by, --sort, --limit, --json, --csv, --html, "
                                                "--carbon-intensity");
                }
        }
        if (cli_no_arguments(argc, argv, "report", NULL) != 0)
                return EXIT_USAGE;
        if (have_since && have_until && r.since >= r.until) {
                fprintf(stderr, "joulectl: invalid --until '%s': must be later than --since\n", until_arg);
                return EXIT_USAGE;
        }
        if (!have_limit)
                limit = format == FORMAT_TABLE ? 20 : format == FORMAT_HTML ? 50 : 0;
        if (limit == 0)
                limit = SIZE_MAX;
        if (g.parse_only)
                return 0;

        ret = cli_open_store(&g, &store);
        if (ret != 0)
                return ret;
        /* Schema 4 brought slices and container ids: older rows have none. */
        if (r.by == REPORT_BY_SLICE)
                ret = cli_require_schema(store, 4, "report --by slice");
        else if (r.by == REPORT_BY_CONTAINER)
                ret = cli_require_schema(store, 4, "report --by container");
        if (ret != 0)
                return ret;
        cli_carbon_resolve(&g, store, &carbon);

        e = report_load(store_db(store), &r);
        if (e < 0) {
                if (e == -ENOMEM)
                        fprintf(stderr, "joulectl: out of memory\n");
                report_done(&r);
                return 1;
        }
        sort_key = r.sort;
        if (r.n_rows > 0) /* storage: UBSan, qsort(NULL, 0) */
                qsort(r.rows, r.n_rows, sizeof(r.rows[0]), row_compare);

        format_iso8601(have_since ? r.since : r.n_intervals > 0 ? r.first_start : (have_until ? r.until : now),
                       false, since_s, sizeof(since_s));
        format_iso8601(have_until ? r.until : now, false, until_s, sizeof(until_s));

        switch (format) {
        case FORMAT_JSON:
                report_print_json(&r, &carbon, (size_t) limit, since_s, until_s);
                break;
        case FORMAT_CSV:
                report_print_csv(&r, &carbon, (size_t) limit);
                break;
        case FORMAT_HTML: {
                bool to_stdout = strcmp(html_path, "-") == 0;
                FILE *f = to_stdout ? stdout : fopen(html_path, "we");
                if (!f) {
                        fprintf(stderr, "joulectl: cannot write --html '%s': %s\n", html_path, strerror(errno));
                        report_done(&r);
                        return 1;
                }
                e = report_write_html(store_db(store), &r, &carbon, (size_t) limit, since_s, until_s, f);
                if (!to_stdout && fclose(f) != 0 && e >= 0)
                        e = -errno;
                if (e < 0) {
                        fprintf(stderr, "joulectl: cannot write --html '%s': %s\n", html_path, strerror(-e));
                        report_done(&r);
                        return 1;
                }
                break;
        }
        default:
                report_print_table(&r, &carbon, (size_t) limit, since_s, until_s);
        }
        report_done(&r);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "joulectl: cannot write output: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}
