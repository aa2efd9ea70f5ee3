/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sqlite3.h>

/* For a reader of a database older than the newest schema (store_open() with
 * STORE_READ_ONLY calls it): TEMP views named like the tables the newer
 * migrations changed, with the columns and rows those migrations would add,
 * so that readers' SQL is written for the newest schema only. Writes nothing
 * to the database file. Returns 0 or negative errno; does not log. */
int store_compat_views(sqlite3 *db, int version);

/* Drop every TEMP view of the connection (before making them again for the
 * version a migration left). Returns 0 or negative errno; does not log. */
int store_compat_views_drop(sqlite3 *db);
