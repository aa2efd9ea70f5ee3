/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a database of an older schema without migrating it.
 *
 * joulectl opens the database read-only and never migrates it: after a
 * package upgrade the new joulectl meets the old daemon's database until
 * jouled restarts and migrates it. So that every reader's SQL is written for
 * the newest schema only, a reader's connection gets TEMP views, one per
 * table the newer migrations changed, named like the table: an unqualified
 * name finds the temp schema first, so "samples" reads the view and the view
 * reads main.samples. Each view adds the missing columns with exactly the
 * values the migration would give the rows already there, so a reader
 * answers on the old file what it will answer once jouled has migrated it.
 * The views live in the connection's in-memory temp schema: the database
 * file is never written (it may be read-only, and it is the daemon's).
 *
 * A reader that stays open (joulectl top) while jouled migrates the file
 * keeps reading right: store_db() notices the new user_version and makes
 * the views again for it (none once it is the newest). Until then, main's
 * table has the column too, t.* brings it first and a column name resolves
 * to its first match.
 *
 * A new migration that adds a column or table must add it here as well;
 * test-store-compat compares every view with the migrated table. */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "sqlite-util.h"
#include "store-compat.h"

typedef struct CompatColumn {
        int version;         /* the migration that added it */
        const char *table;
        const char *expr;    /* its value for the rows already there, "... AS name" */
} CompatColumn;

/* In migration order, so that the views' columns come in the migrated
 * tables' order (ALTER TABLE ADD COLUMN appends). `t` is the main table. */
static const CompatColumn compat_columns[] = {
        /* 0002-rollups.sql */
        { 2, "intervals", "0 AS level" },
        { 2, "intervals", "NULL AS n_raw" },
        { 2, "intervals", "NULL AS duration_ns" },
        { 2, "samples", "NULL AS active_ns" },
        { 2, "processes", "NULL AS cmdline" },
        /* 0003-process-pruning.sql: last_ns as its UPDATE sets it (no hour
         * rollups before 0002, so NULL there; see compat_expr()). */
        { 3, "processes",
          "(SELECT max(ci.end_ns) FROM main.intervals ci JOIN main.samples cs ON cs.interval_id = ci.id "
          "WHERE ci.level = 2 AND cs.process_id = t.id) AS last_ns" },
        /* 0004-attribution.sql */
        { 4, "samples", "0 AS wakeups" },
        { 4, "processes", "NULL AS cgroup_path" },
        { 4, "processes", "NULL AS slice" },
        { 4, "processes", "NULL AS container_id" },
        { 4, "interval_domains", "0.0 AS irq_j" },
        /* 0005-labels.sql (also rebuilds samples, sample_domains and
         * processes: see compat_labels_sql) */
        { 5, "interval_domains", "NULL AS idle_band_w" },
        /* 0006-derived-raw.sql: no rates (every per-process figure is in
         * its own row); the tables it made are in compat_tables. */
        { 6, "interval_domains", "NULL AS cpu_rate" },
        { 6, "interval_domains", "NULL AS rss_rate" },
        { 6, "interval_domains", "NULL AS idle_rate" },
        { 6, "intervals", "NULL AS cpu_rate" },
        { 6, "intervals", "NULL AS rss_rate" },
        { 6, "intervals", "NULL AS idle_rate" },
};

/* Tables 0005 rebuilt: before it, their generic views (the columns up to
 * schema 4) get a helper's name, and the views named like the tables show
 * what the migration makes of them: label sets from the process rows, raw
 * samples with their process's labels, per-process rollups summed per label
 * set, process rows that raw samples refer to. */
static const char *const compat_rebuilt_5[] = { "processes", "samples", "sample_domains" };

#define COMPAT_LABEL_COLUMNS "comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread"
static const char *const compat_labels_sql[] = {
        "CREATE TEMP VIEW labels AS SELECT min(id) AS id, " COMPAT_LABEL_COLUMNS
        " FROM compat4_processes GROUP BY " COMPAT_LABEL_COLUMNS,
        "CREATE TEMP VIEW compat_process_labels AS SELECT p.id AS process_id, l.id AS labels_id "
        "FROM compat4_processes p JOIN labels l ON l.comm = p.comm AND l.exe IS p.exe AND l.uid = p.uid "
        "AND l.cgroup_path IS p.cgroup_path AND l.unit IS p.unit AND l.slice IS p.slice "
        "AND l.container_id IS p.container_id AND l.kernel_thread = p.kernel_thread",
        "CREATE TEMP VIEW samples AS "
        "SELECT s.interval_id, s.process_id, s.cpu_ns, s.energy_j, s.active_ns, s.wakeups, pl.labels_id, "
        "0.0 AS idle_share_j, NULL AS n_procs FROM compat4_samples s JOIN intervals i ON i.id = s.interval_id "
        "JOIN compat_process_labels pl ON pl.process_id = s.process_id WHERE i.level = 0 "
        "UNION ALL SELECT s.interval_id, 0, sum(s.cpu_ns), total(s.energy_j), max(s.active_ns), sum(s.wakeups), "
        "pl.labels_id, 0.0, count(*) FROM compat4_samples s JOIN intervals i ON i.id = s.interval_id "
        "JOIN compat_process_labels pl ON pl.process_id = s.process_id WHERE i.level > 0 "
        "GROUP BY s.interval_id, pl.labels_id",
        "CREATE TEMP VIEW sample_domains AS "
        "SELECT sd.interval_id, sd.process_id, sd.domain_id, sd.energy_j, pl.labels_id, 0.0 AS idle_share_j "
        "FROM compat4_sample_domains sd JOIN intervals i ON i.id = sd.interval_id "
        "JOIN compat_process_labels pl ON pl.process_id = sd.process_id WHERE i.level = 0 "
        "UNION ALL SELECT sd.interval_id, 0, sd.domain_id, total(sd.energy_j), pl.labels_id, 0.0 "
        "FROM compat4_sample_domains sd JOIN intervals i ON i.id = sd.interval_id "
        "JOIN compat_process_labels pl ON pl.process_id = sd.process_id WHERE i.level > 0 "
        "GROUP BY sd.interval_id, pl.labels_id, sd.domain_id",
        "CREATE TEMP VIEW processes AS SELECT t.id, t.boot_id, t.pid, t.start_boot_ns, t.start_ns, t.comm, t.exe, "
        "t.uid, t.ppid, t.cgroup_id, t.unit, t.kernel_thread, t.cmdline, "
        "coalesce((SELECT max(i.end_ns) FROM intervals i JOIN compat4_samples s ON s.interval_id = i.id "
        "WHERE i.level = 0 AND s.process_id = t.id), t.last_ns) AS last_ns, "
        "t.cgroup_path, t.slice, t.container_id FROM compat4_processes t "
        "WHERE t.id = (SELECT max(id) FROM main.processes) OR t.id IN "
        "(SELECT s.process_id FROM compat4_samples s JOIN intervals i ON i.id = s.interval_id WHERE i.level = 0)",
};

/* Tables a migration created, as the rows it inserted. 0006's read
 * "samples" and "sample_domains": schema 5's tables, or before 5 the views
 * above that show them as 0005 makes them. */
#define COMPAT_LABELS_MATCH(l, p)                                                                     \
        l ".comm = " p ".comm AND " l ".exe IS " p ".exe AND " l ".uid = " p ".uid AND "              \
        l ".cgroup_path IS " p ".cgroup_path AND " l ".unit IS " p ".unit AND " l ".slice IS " p      \
        ".slice AND " l ".container_id IS " p ".container_id AND " l ".kernel_thread = " p ".kernel_thread"
static const struct {
        int version;
        int from;            /* only for databases of this version or newer */
        const char *table;
        const char *select;
} compat_tables[] = {
        { 2, 0, "rollup_state",
          "SELECT 1 AS id, 0 AS minute_done_ns, 0 AS hour_done_ns, 0 AS raw_from_ns, 0 AS minute_from_ns" },
        /* 0006: a schema 5 file's process rows whose label set no sample
         * had get one (before 5, the view labels has every process's). */
        { 6, 5, "labels",
          "SELECT id, comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread FROM main.labels "
          "UNION ALL SELECT (SELECT coalesce(max(id), 0) FROM main.labels) + row_number() OVER (ORDER BY min(p.id)), "
          "p.comm, p.exe, p.uid, p.cgroup_path, p.unit, p.slice, p.container_id, p.kernel_thread "
          "FROM main.processes p WHERE NOT EXISTS (SELECT 1 FROM main.labels l WHERE "
          COMPAT_LABELS_MATCH("l", "p") ") "
          "GROUP BY p.comm, p.exe, p.uid, p.cgroup_path, p.unit, p.slice, p.container_id, p.kernel_thread" },
        { 6, 0, "boots",
          "SELECT row_number() OVER (ORDER BY boot_id) AS id, boot_id FROM (SELECT DISTINCT boot_id FROM processes)" },
        { 6, 0, "procs",
          "SELECT p.id, b.id AS boot, p.pid, p.start_boot_ns, p.start_ns, l.id AS labels_id, p.ppid, p.cgroup_id, "
          "p.last_ns, p.cmdline FROM processes p JOIN boots b ON b.boot_id = p.boot_id "
          "JOIN labels l ON " COMPAT_LABELS_MATCH("l", "p") },
        { 6, 0, "raw_samples",
          "SELECT interval_id, process_id, labels_id, cpu_ns, wakeups, NULL AS rss_kib FROM samples "
          "WHERE process_id > 0" },
        { 6, 0, "raw_sample_domains",
          "SELECT interval_id, process_id, labels_id, domain_id, energy_j, idle_share_j FROM sample_domains "
          "WHERE process_id > 0" },
        { 6, 0, "rollup_samples",
          "SELECT interval_id, labels_id, cpu_ns, wakeups, active_ns, n_procs, energy_j, idle_share_j FROM samples "
          "WHERE process_id = 0" },
        { 6, 0, "rollup_sample_domains",
          "SELECT interval_id, labels_id, domain_id, energy_j, idle_share_j FROM sample_domains "
          "WHERE process_id = 0" },
};

/* The newest migration that added anything above: a database at that
 * version or newer needs no view. */
static int compat_newest_version(void) {
        int v = 0;

        for (size_t i = 0; i < ELEMENTSOF(compat_columns); i++)
                v = MAX(v, compat_columns[i].version);
        for (size_t i = 0; i < ELEMENTSOF(compat_tables); i++)
                v = MAX(v, compat_tables[i].version);
        return v;
}

static const char *compat_expr(const CompatColumn *c, int version) {
        assert(c);
        if (c->version == 3 && version < 2)
                return "NULL AS last_ns";   /* no intervals.level, no rollups */
        return c->expr;
}

static int compat_exec(sqlite3 *db, const char *sql) {
        assert(db);
        assert(sql);
        return store_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static bool compat_is_rebuilt(const char *table, int version) {
        if (version >= 5)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(compat_rebuilt_5); i++)
                if (strcmp(table, compat_rebuilt_5[i]) == 0)
                        return true;
        return false;
}

static int compat_view(sqlite3 *db, const char *table, int version) {
        _cleanup_free_ char *sql = NULL;
        size_t size = 0;
        FILE *f;
        bool any = false;

        assert(db);
        assert(table);
        f = open_memstream(&sql, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "CREATE TEMP VIEW \"%s%s\" AS SELECT t.*", compat_is_rebuilt(table, version) ? "compat4_" : "",
                table);
        /* A table 0005 rebuilt always gets its helper view. */
        any = compat_is_rebuilt(table, version);
        for (size_t i = 0; i < ELEMENTSOF(compat_columns); i++) {
                const CompatColumn *c = &compat_columns[i];
                if (c->version <= version || (c->version > 4 && compat_is_rebuilt(table, version)) ||
                    strcmp(c->table, table) != 0)
                        continue;
                fprintf(f, ", %s", compat_expr(c, version));
                any = true;
        }
        fprintf(f, " FROM main.\"%s\" AS t", table);
        if (fclose(f) != 0)
                return -ENOMEM;
        return any ? compat_exec(db, sql) : 0;
}

int store_compat_views_drop(sqlite3 *db) {
        _cleanup_free_ char *sql = NULL;
        size_t size = 0;
        sqlite3_stmt *st = NULL;
        FILE *f;
        int rc, r;

        if (!db)
                return -EINVAL;
        f = open_memstream(&sql, &size);
        if (!f)
                return -ENOMEM;
        rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_temp_master WHERE type = 'view'", -1, &st, NULL);
        if (rc == SQLITE_OK)
                while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                        fprintf(f, "DROP VIEW IF EXISTS temp.\"%s\";", (const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (rc != SQLITE_DONE)
                return store_errno(rc) ?: -EIO;
        r = compat_exec(db, sql);
        return r;
}

int store_compat_views(sqlite3 *db, int version) {
        int r;

        if (!db || version < 1)
                return -EINVAL;
        if (version >= compat_newest_version())
                return 0;
        /* Temp objects in memory: nothing is written anywhere. */
        r = compat_exec(db, "PRAGMA temp_store = MEMORY");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(compat_columns); i++) {
                bool seen = false;
                /* One view per table, made at its first column. */
                for (size_t j = 0; j < i; j++)
                        if (strcmp(compat_columns[j].table, compat_columns[i].table) == 0)
                                seen = true;
                if (seen)
                        continue;
                r = compat_view(db, compat_columns[i].table, version);
                if (r < 0)
                        return r;
        }
        if (version < 5) {
                /* sample_domains has no column of its own above: its helper view. */
                r = compat_view(db, "sample_domains", version);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ELEMENTSOF(compat_labels_sql); i++) {
                        r = compat_exec(db, compat_labels_sql[i]);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(compat_tables); i++) {
                _cleanup_free_ char *sql = NULL;
                if (compat_tables[i].version <= version || compat_tables[i].from > version)
                        continue;
                if (asprintf(&sql, "CREATE TEMP VIEW \"%s\" AS %s", compat_tables[i].table,
                             compat_tables[i].select) < 0)
                        return -ENOMEM;
                r = compat_exec(db, sql);
                if (r < 0)
                        return r;
        }
        return 0;
}
