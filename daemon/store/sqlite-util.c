/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sqlite-util.h"

#include <assert.h>
#include <errno.h>

int store_errno(int sqlite_rc) {
        switch (sqlite_rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return errno == EACCES || errno == EPERM ? -EACCES : -ENOENT;
        default:
                return -EIO;
        }
}

int store_errno_db(sqlite3 *db, int sqlite_rc) {
        if ((sqlite_rc & 0xff) == SQLITE_CANTOPEN && db) {
                int e = sqlite3_system_errno(db);
                return e == EACCES || e == EPERM ? -EACCES : -ENOENT;
        }
        return store_errno(sqlite_rc);
}

int sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *v) {
        assert(st);
        return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int sqlite_stmt_run(sqlite3 *db, sqlite3_stmt *st, int64_t *ret_id) {
        int rc, r = 0;

        assert(db);
        assert(st);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                if (ret_id)
                        *ret_id = sqlite3_column_int64(st, 0);
                rc = sqlite3_step(st);
        } else if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = store_errno_db(db, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

int sqlite_stmt_lookup(sqlite3 *db, sqlite3_stmt *st, int64_t *ret) {
        int rc, r = 0;

        assert(db);
        assert(st);
        assert(ret);
        rc = sqlite3_step(st);
        *ret = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = store_errno_db(db, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

int sqlite_exec_sql(sqlite3 *db, const char *sql) {
        assert(db);
        assert(sql);
        return store_errno_db(db, sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int sqlite_query_int(sqlite3 *db, const char *sql, int64_t *ret) {
        _cleanup_sqlite_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        assert(db);
        assert(sql);
        assert(ret);
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno_db(db, rc);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                return 0;
        }
        if (rc == SQLITE_DONE) {
                *ret = 0;
                return 0;
        }
        return store_errno_db(db, rc);
}
