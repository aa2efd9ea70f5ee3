/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small helpers around SQLite shared by the store's files (and by readers of
 * store_db()). None of them logs. */

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>

#include "cleanup.h"

/* Finalize a statement when it goes out of scope:
 * _cleanup_sqlite_stmt_ sqlite3_stmt *st = NULL; */
static inline sqlite3_stmt *sqlite_stmt_free(sqlite3_stmt *st) {
        (void) sqlite3_finalize(st);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite_stmt_free);
#define _cleanup_sqlite_stmt_ _cleanup_(sqlite_stmt_freep)

/* SQLite result code → negative errno (0 for OK/ROW/DONE). */
int store_errno(int sqlite_rc);
/* The same, with the system errno SQLite saw on db for a file it could not open. */
int store_errno_db(sqlite3 *db, int sqlite_rc);

/* SQLite integers are signed: -ERANGE for a value above INT64_MAX. */
static inline int sqlite_check_u64(uint64_t v) {
        return v > (uint64_t) INT64_MAX ? -ERANGE : 0;
}

/* Bind v, or NULL when v is NULL (the text is not copied). */
int sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *v);

/* Step a prepared statement that returns nothing, or one row whose first
 * column goes to *ret_id (without a row: the last inserted rowid). Resets it
 * and clears its bindings for the next use. */
int sqlite_stmt_run(sqlite3 *db, sqlite3_stmt *st, int64_t *ret_id);

/* Step a prepared lookup: the first column of its first row in *ret (0 when
 * it returns no row, or NULL). Resets it and clears its bindings. */
int sqlite_stmt_lookup(sqlite3 *db, sqlite3_stmt *st, int64_t *ret);

/* Run sql (one or more statements, no result wanted). */
int sqlite_exec_sql(sqlite3 *db, const char *sql);

/* The first column of the first row of sql (0 when it returns no row). */
int sqlite_query_int(sqlite3 *db, const char *sql, int64_t *ret);
