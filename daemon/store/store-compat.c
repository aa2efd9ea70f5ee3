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
 * keeps reading right: main's table now has the column too, t.* brings it
 * first and a column name resolves to its first match. (rollup_state, a
 * view for schema 1 only, would then still read zeros; top does not read it.)
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
};

/* Tables a migration created, as the rows it inserted. */
static const struct {
        int version;
        const char *table;
        const char *select;
} compat_tables[] = {
        { 2, "rollup_state",
          "SELECT 1 AS id, 0 AS minute_done_ns, 0 AS hour_done_ns, 0 AS raw_from_ns, 0 AS minute_from_ns" },
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
        fprintf(f, "CREATE TEMP VIEW \"%s\" AS SELECT t.*", table);
        for (size_t i = 0; i < ELEMENTSOF(compat_columns); i++) {
                const CompatColumn *c = &compat_columns[i];
                if (c->version <= version || strcmp(c->table, table) != 0)
                        continue;
                fprintf(f, ", %s", compat_expr(c, version));
                any = true;
        }
        fprintf(f, " FROM main.\"%s\" AS t", table);
        if (fclose(f) != 0)
                return -ENOMEM;
        return any ? compat_exec(db, sql) : 0;
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
        for (size_t i = 0; i < ELEMENTSOF(compat_tables); i++) {
                _cleanup_free_ char *sql = NULL;
                if (compat_tables[i].version <= version)
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
