/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A reader of an older schema (daemon/store-compat.c): for every older
 * version, the read-only store shows every table of the newest schema with
 * the same columns and the same rows as the same file once migrated, and
 * the file stays byte-identical. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cleanup.h"
#include "schema.h"
#include "source.h"
#include "store.h"
#include "store-compat.h"
#include "store-query.h"
#include "util.h"
#include "test-fixture.h"

#define T0 "1700000000000000000"

static void exec_ok(sqlite3 *db, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK)
                fail_msg("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

/* A database as jouled `version` left it: migrations 1..version, a few rows. */
static void make_old_db(const char *path, int version) {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        for (size_t i = 0; i < SCHEMA_N_MIGRATIONS; i++) {
                char pragma[64];
                if (schema_migrations[i].version > version)
                        continue;
                exec_ok(db, schema_migrations[i].sql);
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", schema_migrations[i].version);
                exec_ok(db, pragma);
        }
        exec_ok(db,
                "INSERT INTO domains VALUES (1, 'package-0', 'package', 'rapl', 0, 1);"
                "INSERT INTO processes (id, boot_id, pid, start_boot_ns, start_ns, comm, exe, uid, ppid, unit) "
                "  VALUES (1, 'b', 100, 5, " T0 ", 'make', '/usr/bin/make', 0, 1, 'session-1.scope'),"
                "         (2, 'b', 200, 6, " T0 ", 'cc1', NULL, 1000, 100, NULL);"
                "INSERT INTO intervals (id, start_ns, end_ns) VALUES (1, " T0 ", " T0 " + 1000000000);"
                "INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, "
                "  attributed_j, unattributed_j) VALUES (1, 1, 1, 8, 5, 2.5, 0.5);"
                "INSERT INTO daemon_state VALUES ('tracker_mode', 'bpf', " T0 ");"
                "INSERT INTO source_probes VALUES ('rapl', 'usable', 0, 1, NULL);");
        if (version >= 5) {
                /* Samples with their label sets, an hour rollup per label set. */
                exec_ok(db,
                        "INSERT INTO labels (id, comm, exe, uid, unit) VALUES (1, 'make', '/usr/bin/make', 0, "
                        "  'session-1.scope'), (2, 'cc1', NULL, 1000, NULL);"
                        "INSERT INTO samples (interval_id, process_id, labels_id, cpu_ns, energy_j, idle_share_j) "
                        "  VALUES (1, 1, 1, 100000000, 2.0, 4.0), (1, 2, 2, 25000000, 0.5, 1.0);"
                        "INSERT INTO sample_domains (interval_id, process_id, labels_id, domain_id, energy_j, idle_share_j) "
                        "  VALUES (1, 1, 1, 1, 2.0, 4.0), (1, 2, 2, 1, 0.5, 1.0);"
                        "INSERT INTO intervals (id, start_ns, end_ns, level, n_raw, duration_ns) "
                        "  VALUES (2, 1699999200000000000, 1700002800000000000, 2, 3600, 3600000000000);"
                        "INSERT INTO samples (interval_id, process_id, labels_id, cpu_ns, energy_j, active_ns, n_procs) "
                        "  VALUES (2, 0, 1, 300000000, 6.0, 3000000000, 2);"
                        "INSERT INTO sample_domains (interval_id, process_id, labels_id, domain_id, energy_j) "
                        "  VALUES (2, 0, 1, 1, 6.0);"
                        "UPDATE rollup_state SET hour_done_ns = 1700002800000000000;");
                assert_int_equal(sqlite3_close(db), SQLITE_OK);
                return;
        }
        exec_ok(db,
                "INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j) VALUES (1, 1, 100000000, 2.0), (1, 2, 25000000, 0.5);"
                "INSERT INTO sample_domains VALUES (1, 1, 1, 2.0), (1, 2, 1, 0.5);");
        if (version >= 2)
                /* An hour rollup: process 1's last_ns (0003) comes from it. */
                exec_ok(db,
                        "INSERT INTO intervals (id, start_ns, end_ns, level, n_raw, duration_ns) "
                        "  VALUES (2, 1699999200000000000, 1700002800000000000, 2, 3600, 3600000000000);"
                        "INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j, active_ns) "
                        "  VALUES (2, 1, 300000000, 6.0, 3000000000);"
                        "UPDATE rollup_state SET hour_done_ns = 1700002800000000000;");
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int64_t sql_int(Store *s, const char *sql) {
        sqlite3_stmt *st = NULL;
        int64_t v;

        if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(store_db(s)));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static char *read_all(const char *path, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0, n;
        FILE *in = fopen(path, "re"), *out = open_memstream(&buf, &size);
        char chunk[4096];

        assert_non_null(in);
        assert_non_null(out);
        while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
                assert_int_equal(fwrite(chunk, 1, n, out), n);
        assert_int_equal(fclose(in), 0);
        assert_int_equal(fclose(out), 0);
        *ret_size = size;
        return buf;
}

/* Every row of table, every column named and typed, in one string. */
static char *dump_table(sqlite3 *db, const char *table) {
        char *sql = NULL, *buf = NULL;
        size_t size = 0;
        sqlite3_stmt *st = NULL;
        FILE *out = open_memstream(&buf, &size);
        int rc;

        assert_non_null(out);
        assert_true(asprintf(&sql, "SELECT * FROM \"%s\" ORDER BY 1, 2", table) > 0);
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        for (int c = 0; c < sqlite3_column_count(st); c++)
                fprintf(out, "%s ", sqlite3_column_name(st, c));
        fputc('\n', out);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                for (int c = 0; c < sqlite3_column_count(st); c++) {
                        const unsigned char *v = sqlite3_column_text(st, c);
                        /* 0 and 0.0 differ in type; the migrated file has the declared affinity. */
                        fprintf(out, "%d:%s ", sqlite3_column_type(st, c) == SQLITE_NULL ? 0 : 1,
                                v ? (const char *) v : "NULL");
                }
                fputc('\n', out);
        }
        assert_int_equal(rc, SQLITE_DONE);
        sqlite3_finalize(st);
        free(sql);
        assert_int_equal(fclose(out), 0);
        return buf;
}

static void test_old_schemas_read_as_migrated(void **state) {
        int latest = store_latest_schema_version();

        assert_true(latest >= 2);
        for (int v = 1; v < latest; v++) {
                _cleanup_(store_freep) Store *reader = NULL, *writer = NULL;
                _cleanup_free_ char *before = NULL, *after = NULL;
                char old[64], migrated[64], cmd[256];
                size_t n_before, n_after;
                sqlite3_stmt *st = NULL;
                int n_tables = 0;

                snprintf(old, sizeof(old), "v%d.db", v);
                snprintf(migrated, sizeof(migrated), "v%d-migrated.db", v);
                make_old_db(fx_path(old), v);
                snprintf(cmd, sizeof(cmd), "cp %s %s", fx_path(old), fx_path(migrated));
                assert_int_equal(system(cmd), 0);
                before = read_all(fx_path(old), &n_before);

                assert_int_equal(store_open(fx_path(old), STORE_READ_ONLY, &reader), 0);
                assert_int_equal(store_schema_version(reader), v);
                assert_int_equal(store_open(fx_path(migrated), STORE_CREATE, &writer), 0);
                assert_int_equal(store_schema_version(writer), latest);

                /* Every table of the newest schema, as the migrated file has it. */
                assert_int_equal(sqlite3_prepare_v2(store_db(writer),
                                                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                                                    -1, &st, NULL),
                                 SQLITE_OK);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        const char *t = (const char *) sqlite3_column_text(st, 0);
                        _cleanup_free_ char *want = dump_table(store_db(writer), t);
                        _cleanup_free_ char *got = dump_table(store_db(reader), t);
                        if (strcmp(want, got) != 0)
                                fail_msg("schema %d, table %s:\nmigrated:\n%sread old:\n%s", v, t, want, got);
                        n_tables++;
                }
                sqlite3_finalize(st);
                assert_true(n_tables >= 8);

                reader = store_free(reader);
                after = read_all(fx_path(old), &n_after);
                assert_int_equal(n_before, n_after);
                assert_memory_equal(before, after, n_before);
        }
}

/* The views are the reader's own: a reader of the newest schema gets none,
 * and a reader of an old one finds main's tables unchanged underneath. */
static void test_views_only_where_needed(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        sqlite3_stmt *st = NULL;

        make_old_db(fx_path("v3.db"), 3);
        assert_int_equal(store_open(fx_path("v3.db"), STORE_READ_ONLY, &s), 0);
        assert_int_equal(sqlite3_prepare_v2(store_db(s),
                                            "SELECT group_concat(name, ',') FROM "
                                            "(SELECT name FROM sqlite_temp_master WHERE type = 'view' "
                                            "AND name NOT LIKE 'compat%' ORDER BY name)",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0),
                            "boots,interval_domains,intervals,labels,processes,procs,raw_sample_domains,raw_samples,"
                            "rollup_sample_domains,rollup_samples,sample_domains,samples");
        sqlite3_finalize(st);
        /* main.samples itself still lacks the column. */
        assert_int_not_equal(sqlite3_prepare_v2(store_db(s), "SELECT wakeups FROM main.samples", -1, &st, NULL),
                             SQLITE_OK);
        sqlite3_finalize(st);
        s = store_free(s);

        assert_int_equal(store_compat_views(NULL, 1), -EINVAL);
}

/* joulectl top stays open while jouled restarts and migrates the file: the
 * reader then reads the real columns (its views are made again for the
 * migrated version), so new figures are not hidden by the views' defaults. */
static void test_reader_open_across_migration(void **state) {
        _cleanup_(store_freep) Store *reader = NULL, *writer = NULL;

        make_old_db(fx_path("live.db"), 3);
        assert_int_equal(store_open(fx_path("live.db"), STORE_READ_ONLY, &reader), 0);
        assert_int_equal(sql_int(reader, "SELECT sum(wakeups) FROM samples"), 0);

        assert_int_equal(store_open(fx_path("live.db"), STORE_CREATE, &writer), 0);
        assert_int_equal(store_schema_version(writer), store_latest_schema_version());
        exec_ok(store_db(writer), "UPDATE raw_samples SET wakeups = 7; UPDATE rollup_samples SET wakeups = 7; "
                                  "UPDATE interval_domains SET irq_j = 0.25");

        assert_int_equal(sql_int(reader, "SELECT sum(s.wakeups) FROM samples s"), 3 * 7);
        assert_int_equal(sql_int(reader, "SELECT sum(idm.irq_j) * 4 FROM interval_domains idm"), 1);
}


/* Per-process rollups of schema 4, several processes per label set at
 * every level (day, hours, minutes) and raw rows: every grouping reads the
 * same totals (CPU exactly, energy per domain) from the old file (through
 * the views) as once migrated, and both equal the sums over the old rows. */
#define DAY0 "1699920000000000000"   /* a UTC day start */
static void make_rollup_db(const char *path) {
        sqlite3 *db = NULL;
        char *sql = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&sql, &size);
        int64_t day = INT64_C(86400000000000), hour = INT64_C(3600000000000), minute = INT64_C(60000000000);
        int64_t d0 = INT64_C(1699920000000000000), iid = 0;
        /* id, pid, comm, exe, uid, unit, slice, container */
        static const struct { const char *comm, *exe, *unit, *slice, *container; int uid; } p[6] = {
                { "cc1", "/usr/lib/cc1", "build.scope", "user.slice", NULL, 1000 },
                { "cc1", "/usr/lib/cc1", "build.scope", "user.slice", NULL, 1000 },
                { "cc1", "/usr/lib/cc1", "build.scope", "user.slice", NULL, 1000 },
                { "make", NULL, "build.scope", "user.slice", NULL, 1000 },
                { "sshd", "/usr/sbin/sshd", "sshd.service", "system.slice", NULL, 0 },
                { "sshd", "/usr/sbin/sshd", NULL, NULL, "c0ffee", 0 },
        };

        assert_non_null(f);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        for (size_t i = 0; i < SCHEMA_N_MIGRATIONS; i++) {
                char pragma[64];
                if (schema_migrations[i].version > 4)
                        continue;
                exec_ok(db, schema_migrations[i].sql);
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", schema_migrations[i].version);
                exec_ok(db, pragma);
        }
        fprintf(f, "INSERT INTO domains VALUES (1, 'package-0', 'package', 'rapl', 0, 1), (2, 'dram-0', 'dram', 'rapl', 0, 1);");
        for (int i = 0; i < 6; i++)
                fprintf(f, "INSERT INTO processes (id, boot_id, pid, start_boot_ns, start_ns, comm, exe, uid, ppid, unit, "
                           "slice, container_id) VALUES (%d, 'b', %d, %d, 0, '%s', %s%s%s, %d, 1, %s%s%s, %s%s%s, %s%s%s);",
                        i + 1, 100 + i, i, p[i].comm, p[i].exe ? "'" : "", p[i].exe ?: "NULL", p[i].exe ? "'" : "",
                        p[i].uid, p[i].unit ? "'" : "", p[i].unit ?: "NULL", p[i].unit ? "'" : "",
                        p[i].slice ? "'" : "", p[i].slice ?: "NULL", p[i].slice ? "'" : "",
                        p[i].container ? "'" : "", p[i].container ?: "NULL", p[i].container ? "'" : "");
        /* level, start, end, n_raw, duration: a day, 2 hours, 3 minutes (rollups), 5 raw seconds */
        struct { int level; int64_t start, end; } rows[11];
        size_t nrows = 0;
        rows[nrows++] = (typeof(rows[0])) { 3, d0, d0 + day };
        for (int h = 0; h < 2; h++)
                rows[nrows++] = (typeof(rows[0])) { 2, d0 + day + h * hour, d0 + day + (h + 1) * hour };
        for (int m = 0; m < 3; m++)
                rows[nrows++] = (typeof(rows[0])) { 1, d0 + day + 2 * hour + m * minute, d0 + day + 2 * hour + (m + 1) * minute };
        for (int k = 0; k < 5; k++)
                rows[nrows++] = (typeof(rows[0])) { 0, d0 + day + 2 * hour + 3 * minute + k * INT64_C(1000000000),
                                                    d0 + day + 2 * hour + 3 * minute + (k + 1) * INT64_C(1000000000) };
        for (size_t r = 0; r < nrows; r++) {
                iid++;
                if (rows[r].level > 0)
                        fprintf(f, "INSERT INTO intervals (id, start_ns, end_ns, level, n_raw, duration_ns) VALUES "
                                   "(%" PRId64 ", %" PRId64 ", %" PRId64 ", %d, 10, %" PRId64 ");",
                                iid, rows[r].start, rows[r].end, rows[r].level, rows[r].end - rows[r].start);
                else
                        fprintf(f, "INSERT INTO intervals (id, start_ns, end_ns) VALUES (%" PRId64 ", %" PRId64 ", %" PRId64 ");",
                                iid, rows[r].start, rows[r].end);
                fprintf(f, "INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, "
                           "attributed_j, unattributed_j) VALUES (%" PRId64 ", 1, 1, 20, 5, 12, 3), (%" PRId64 ", 2, 1, 4, 1, 2, 1);",
                        iid, iid);
                for (int i = 0; i < 6; i++) {
                        if ((r + (size_t) i) % 4 == 3)
                                continue; /* not every process in every row */
                        double pkg = 0.125 * (double) (1 + (r * 3 + (size_t) i) % 9), dram = 0.0625 * (double) (1 + i);
                        fprintf(f, "INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j, active_ns, wakeups) "
                                   "VALUES (%" PRId64 ", %d, %d, %.17g, %s, %d);",
                                iid, i + 1, 1000003 * (int) (r + 1) * (i + 1), pkg + dram,
                                rows[r].level > 0 ? "1000000000" : "NULL", (int) r + i);
                        fprintf(f, "INSERT INTO sample_domains VALUES (%" PRId64 ", %d, 1, %.17g), (%" PRId64 ", %d, 2, %.17g);",
                                iid, i + 1, pkg, iid, i + 1, dram);
                }
        }
        fprintf(f, "UPDATE rollup_state SET minute_done_ns = %" PRId64 ", hour_done_ns = %" PRId64 ";",
                d0 + day + 2 * hour + 3 * minute, d0 + day + 2 * hour);
        assert_int_equal(fclose(f), 0);
        exec_ok(db, sql);
        free(sql);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Sums of the old rows, per key of `by`: the old processes' columns, or
 * (labels) those of each sample's label set (schema 5). */
static void old_sums(sqlite3 *db, bool labels, GroupBy by, const char *key, int64_t *ret_cpu, double *ret_pkg,
                     double *ret_dram, int64_t *ret_wakeups) {
        static const char *const col[_GROUP_BY_MAX] = {
                [GROUP_BY_COMM] = "p.comm", [GROUP_BY_UNIT] = "coalesce(p.unit, '-')", [GROUP_BY_USER] = "p.uid",
                [GROUP_BY_SLICE] = "coalesce(p.slice, '-')", [GROUP_BY_CONTAINER] = "coalesce(p.container_id, '-')",
        };
        const char *j = labels ? "JOIN labels p ON p.id = s.labels_id" : "JOIN processes p ON p.id = s.process_id";
        const char *jd = labels ? "JOIN labels p ON p.id = sd.labels_id" : "JOIN processes p ON p.id = sd.process_id";
        char sql[2048];
        sqlite3_stmt *st = NULL;

        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT sum(s.cpu_ns) FROM samples s %s WHERE %s = ?1), "
                 "(SELECT total(sd.energy_j) FROM sample_domains sd %s "
                 "WHERE %s = ?1 AND sd.domain_id = 1), "
                 "(SELECT total(sd.energy_j) FROM sample_domains sd %s "
                 "WHERE %s = ?1 AND sd.domain_id = 2), "
                 "(SELECT sum(s.wakeups) FROM samples s %s WHERE %s = ?1)",
                 j, col[by], jd, col[by], jd, col[by], j, col[by]);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        *ret_cpu = sqlite3_column_int64(st, 0);
        *ret_pkg = sqlite3_column_double(st, 1);
        *ret_dram = sqlite3_column_double(st, 2);
        *ret_wakeups = sqlite3_column_int64(st, 3);
        sqlite3_finalize(st);
}

static void check_groups(Store *s, sqlite3 *old, bool labels, GroupBy by, size_t want_groups) {
        StoreGroupRow *rows = NULL;
        StoreGroupDomain *dv = NULL;
        size_t n = 0, nd = 0;

        assert_int_equal(store_query_groups(s, by, NULL, 0, INT64_MAX, &rows, &n), 0);
        assert_int_equal(n, want_groups);
        assert_int_equal(store_query_group_domains(s, by, NULL, 0, INT64_MAX, &dv, &nd), 0);
        for (size_t i = 0; i < n; i++) {
                char key[64];
                int64_t cpu, w;
                double pkg, dram, gp = 0, gd = 0;

                if (rows[i].key.text)
                        snprintf(key, sizeof(key), "%s", rows[i].key.text);
                else
                        snprintf(key, sizeof(key), "%" PRId64, rows[i].key.i);
                old_sums(old, labels, by, key, &cpu, &pkg, &dram, &w);
                assert_int_equal((int64_t) rows[i].cpu_ns, cpu);
                assert_int_equal((int64_t) rows[i].wakeups, w);
                assert_true(fabs(rows[i].energy_j - (pkg + dram)) < 1e-9);
                for (size_t j = 0; j < nd; j++)
                        if (store_key_equal(&dv[j].key, &rows[i].key)) {
                                if (strcmp(dv[j].domain, "package-0") == 0)
                                        gp += dv[j].energy_j;
                                else
                                        gd += dv[j].energy_j;
                        }
                assert_true(fabs(gp - pkg) < 1e-9);
                assert_true(fabs(gd - dram) < 1e-9);
        }
        store_group_rows_free(rows, n);
        store_group_domains_free(dv, nd);
}

static void test_migration_keeps_group_totals(void **state) {
        _cleanup_(store_freep) Store *reader = NULL, *writer = NULL;
        static const size_t want[_GROUP_BY_MAX] = {
                [GROUP_BY_COMM] = 3, [GROUP_BY_UNIT] = 3, [GROUP_BY_USER] = 2, [GROUP_BY_SLICE] = 3,
                [GROUP_BY_CONTAINER] = 2,
        };
        sqlite3 *old = NULL;
        char cmd[256];

        make_rollup_db(fx_path("r4.db"));
        snprintf(cmd, sizeof(cmd), "cp %s %s", fx_path("r4.db"), fx_path("r4-migrated.db"));
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sqlite3_open_v2(fx_path("r4.db"), &old, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

        assert_int_equal(store_open(fx_path("r4.db"), STORE_READ_ONLY, &reader), 0);
        assert_int_equal(store_open(fx_path("r4-migrated.db"), STORE_CREATE, &writer), 0);
        /* Folded: one row per label set and rollup, not per process. */
        assert_int_equal(sql_int(writer, "SELECT count(*) FROM samples WHERE process_id = 0 AND n_procs > 1"), 6);
        assert_int_equal(sql_int(writer, "SELECT count(*) FROM labels"), 4);
        for (GroupBy by = GROUP_BY_COMM; by < _GROUP_BY_MAX; by++) {
                check_groups(reader, old, false, by, want[by]);
                check_groups(writer, old, false, by, want[by]);
        }
        /* Process rows: those raw rows refer to. */
        assert_int_equal(sql_int(writer, "SELECT count(*) FROM processes"), 6);
        sqlite3_close(old);
}

/* Schema 5 (label sets, rollups per label set) to 6 (raw rows and rollups
 * in tables of their own, process rows referring to boots and labels): a
 * process that exec'd (two label sets in its life), per-domain rows that
 * follow no rate: every grouping reads the same totals from the old file
 * (through the views) as once migrated, and both equal the sums over the
 * old rows; the process rows read the same. */
static void test_migration_5_keeps_group_totals(void **state) {
        _cleanup_(store_freep) Store *reader = NULL, *writer = NULL;
        static const size_t want[_GROUP_BY_MAX] = {
                [GROUP_BY_COMM] = 4, [GROUP_BY_UNIT] = 3, [GROUP_BY_USER] = 2, [GROUP_BY_SLICE] = 3,
                [GROUP_BY_CONTAINER] = 2,
        };
        sqlite3 *old = NULL;
        char cmd[256];

        make_rollup_db(fx_path("r5.db"));
        assert_int_equal(sqlite3_open(fx_path("r5.db"), &old), SQLITE_OK);
        for (size_t i = 0; i < SCHEMA_N_MIGRATIONS; i++)
                if (schema_migrations[i].version == 5)
                        exec_ok(old, schema_migrations[i].sql);
        exec_ok(old, "PRAGMA user_version = 5;"
                /* cc1 (process 1) exec's ld in a sixth raw interval. */
                "INSERT INTO labels (id, comm, exe, uid, unit, slice) "
                "  VALUES (100, 'ld', '/usr/bin/ld', 1000, 'build.scope', 'user.slice');"
                "INSERT INTO intervals (id, start_ns, end_ns) VALUES (12, " DAY0 " + 93785000000000, " DAY0 " + 93786000000000);"
                "INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, attributed_j, "
                "  unattributed_j) VALUES (12, 1, 1, 20, 5, 12, 3), (12, 2, 1, 4, 1, 2, 1);"
                "INSERT INTO samples (interval_id, process_id, labels_id, cpu_ns, energy_j, wakeups, idle_share_j) "
                "  VALUES (12, 1, 100, 7000007, 1.375, 3, 0.5);"
                "INSERT INTO sample_domains (interval_id, process_id, labels_id, domain_id, energy_j, idle_share_j) "
                "  VALUES (12, 1, 100, 1, 1.25, 0.25), (12, 1, 100, 2, 0.125, 0.25);");
        assert_int_equal(sqlite3_close(old), SQLITE_OK);
        snprintf(cmd, sizeof(cmd), "cp %s %s", fx_path("r5.db"), fx_path("r5-migrated.db"));
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sqlite3_open_v2(fx_path("r5.db"), &old, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

        assert_int_equal(store_open(fx_path("r5.db"), STORE_READ_ONLY, &reader), 0);
        assert_int_equal(store_schema_version(reader), 5);
        assert_int_equal(store_open(fx_path("r5-migrated.db"), STORE_CREATE, &writer), 0);
        for (GroupBy by = GROUP_BY_COMM; by < _GROUP_BY_MAX; by++) {
                check_groups(reader, old, true, by, want[by]);
                check_groups(writer, old, true, by, want[by]);
        }
        /* The rows of the views are the old tables' rows. */
        {
                static const char *const q[] = {
                        "SELECT count(*), sum(cpu_ns), total(energy_j), total(idle_share_j), sum(wakeups), "
                        "sum(coalesce(n_procs, 0)), sum(coalesce(active_ns, 0)) FROM samples",
                        "SELECT count(*), total(energy_j), total(idle_share_j), sum(domain_id * labels_id) FROM sample_domains",
                        "SELECT count(*), sum(pid), group_concat(comm || coalesce(exe, '') || coalesce(unit, '') || "
                        "coalesce(slice, '') || boot_id, ',') FROM (SELECT * FROM processes ORDER BY id)",
                };
                for (size_t i = 0; i < ELEMENTSOF(q); i++) {
                        sqlite3_stmt *a = NULL, *b = NULL;
                        assert_int_equal(sqlite3_prepare_v2(old, q[i], -1, &a, NULL), SQLITE_OK);
                        assert_int_equal(sqlite3_prepare_v2(store_db(writer), q[i], -1, &b, NULL), SQLITE_OK);
                        assert_int_equal(sqlite3_step(a), SQLITE_ROW);
                        assert_int_equal(sqlite3_step(b), SQLITE_ROW);
                        for (int c = 0; c < sqlite3_column_count(a); c++)
                                assert_string_equal((const char *) sqlite3_column_text(a, c) ?: "NULL",
                                                    (const char *) sqlite3_column_text(b, c) ?: "NULL");
                        sqlite3_finalize(a);
                        sqlite3_finalize(b);
                }
        }
        sqlite3_close(old);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_old_schemas_read_as_migrated, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_views_only_where_needed, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_reader_open_across_migration, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_migration_keeps_group_totals, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_migration_5_keeps_group_totals, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
