/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's transactions and statements, under everything else in the
 * store: the write path, the queue and the maintenance call these, and they
 * call nothing of the store's above them. */

#include <assert.h>
#include <sqlite3.h>

#include "sqlite-util.h"
#include "store-internal.h"

uint64_t store_generation_new(void) {
        static uint64_t next = 0;
        return __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
}

int store_exec(Store *s, const char *sql) {
        assert(s);
        return sqlite_exec_sql(s->db, sql);
}

int store_stmt_run(Store *s, StoreStatement which, int64_t *ret_id) {
        assert(s);
        assert(which >= 0 && which < _STMT_MAX);
        return sqlite_stmt_run(s->db, s->stmt[which], ret_id);
}

int store_stmt_lookup(Store *s, StoreStatement which, int64_t *ret) {
        assert(s);
        assert(which >= 0 && which < _STMT_MAX);
        return sqlite_stmt_lookup(s->db, s->stmt[which], ret);
}

int store_begin(Store *s) {
        return store_stmt_run(s, STMT_BEGIN, NULL);
}

int store_end(Store *s, int r) {
        assert(s);
        if (r >= 0)
                r = store_stmt_run(s, STMT_COMMIT, NULL);
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void) store_stmt_run(s, STMT_ROLLBACK, NULL);
        return r;
}
