/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's lifetime: open (create, check, migrate, prepare), the WAL
 * checkpoint thread, options, close. Writing is in store-write.c, the
 * write-failure queue in store-queue.c, rollups and retention in
 * store-maintain.c. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "schema.h"
#include "store-compat.h"
#include "store-internal.h"
#include "util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define STORE_GROUP "jouled"

static const StoreStatementSql transaction_statements[] = {
        { STMT_BEGIN, "BEGIN IMMEDIATE" },
        { STMT_COMMIT, "COMMIT" },
        { STMT_ROLLBACK, "ROLLBACK" },
};

int store_latest_schema_version(void) {
        int v = 0;
        for (size_t i = 0; i < SCHEMA_N_MIGRATIONS; i++)
                v = MAX(v, schema_migrations[i].version);
        return v;
}

int store_schema_version(Store *s) {
        int64_t v = 0;
        int r;

        if (!s)
                return -EINVAL;
        r = sqlite_query_int(s->db, "PRAGMA user_version", &v);
        return r < 0 ? r : (int) v;
}

sqlite3 *store_db(Store *s) {
        int64_t v = 0;

        if (!s)
                return NULL;
        /* A reader of an older schema: if jouled migrated the file meanwhile,
         * the views are made again for what it is now (none when newest). */
        if (s->compat_version > 0 && sqlite_query_int(s->db, "PRAGMA user_version", &v) >= 0 &&
            v != s->compat_version && v <= store_latest_schema_version()) {
                int r1 = store_compat_views_drop(s->db);
                int r2 = r1 >= 0 ? store_compat_views(s->db, (int) v) : 0;
                if (r1 >= 0 && r2 >= 0)
                        s->compat_version = v < store_latest_schema_version() ? (int) v : 0;
        }
        return s->db;
}

const char *store_path(Store *s) {
        return s ? s->path : NULL;
}

static void *checkpoint_thread(void *userdata) {
        Store *s = userdata;

        assert(s);
        pthread_mutex_lock(&s->ckpt_lock);
        for (;;) {
                while (!s->ckpt_quit && !s->ckpt_requested)
                        pthread_cond_wait(&s->ckpt_cond, &s->ckpt_lock);
                if (s->ckpt_quit)
                        break;
                s->ckpt_requested = false;
                pthread_mutex_unlock(&s->ckpt_lock);
                /* Errors (busy, full disk) are retried at the next request;
                 * the writer's wal_autocheckpoint is the safety net. */
                (void) sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
                pthread_mutex_lock(&s->ckpt_lock);
        }
        pthread_mutex_unlock(&s->ckpt_lock);
        return NULL;
}

/* Best effort: without the thread, store_maintain() checkpoints inline. */
static void store_start_checkpointer(Store *s) {
        int persist = 1;

        assert(s);
        if (sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
                sqlite3_close(s->ckpt_db);
                s->ckpt_db = NULL;
                return;
        }
        (void) sqlite3_file_control(s->ckpt_db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        pthread_mutex_init(&s->ckpt_lock, NULL);
        pthread_cond_init(&s->ckpt_cond, NULL);
        if (pthread_create(&s->ckpt_thread, NULL, checkpoint_thread, s) != 0) {
                pthread_cond_destroy(&s->ckpt_cond);
                pthread_mutex_destroy(&s->ckpt_lock);
                sqlite3_close(s->ckpt_db);
                s->ckpt_db = NULL;
                return;
        }
        s->ckpt_started = true;
}

static void store_stop_checkpointer(Store *s) {
        assert(s);
        if (!s->ckpt_started)
                return;
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_quit = true;
        pthread_cond_signal(&s->ckpt_cond);
        pthread_mutex_unlock(&s->ckpt_lock);
        pthread_join(s->ckpt_thread, NULL);
        pthread_cond_destroy(&s->ckpt_cond);
        pthread_mutex_destroy(&s->ckpt_lock);
        sqlite3_close(s->ckpt_db);
        s->ckpt_db = NULL;
        s->ckpt_started = false;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        store_stop_checkpointer(s);
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        if (s->db && !(s->flags & STORE_READ_ONLY)) {
                /* The -wal stays (PERSIST_WAL) but empty: everything is in the
                 * database file itself, so that a later open judges that file
                 * alone (a damaged file is refused, not masked by the WAL). */
                sqlite3_busy_timeout(s->db, 200);
                (void) sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        }
        if (s->db)
                sqlite3_close(s->db);
        free(s->domains);
        free(s->path);
        store_queue_clear(s);
        free(s);
        return NULL;
}

static int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        char *slash;

        assert(path);
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        slash = strrchr(p, '/');
        if (!slash || slash == p)
                return 0;
        *slash = 0;
        for (char *q = p + 1; *q; q++) {
                if (*q != '/')
                        continue;
                *q = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *q = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
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

bool store_checkpoint_request(Store *s) {
        assert(s);
        if (!s->ckpt_started)
                return false;
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_requested = true;
        pthread_cond_signal(&s->ckpt_cond);
        pthread_mutex_unlock(&s->ckpt_lock);
        return true;
}

static int store_migrate(Store *s, int from) {
        int r;

        assert(s);
        for (size_t i = 0; i < SCHEMA_N_MIGRATIONS; i++) {
                char pragma[64];
                int v = schema_migrations[i].version;

                if (v <= from)
                        continue;
                r = store_exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return log_error_errno(r, "Failed to begin migration %s of %s: %m",
                                               schema_migrations[i].name, s->path);
                r = store_exec(s, schema_migrations[i].sql);
                if (r >= 0) {
                        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
                        r = store_exec(s, pragma);
                }
                if (r >= 0)
                        r = store_exec(s, "COMMIT");
                if (r < 0) {
                        const char *msg = sqlite3_errmsg(s->db);
                        (void) store_exec(s, "ROLLBACK");
                        return log_error_errno(r, "Failed to apply migration %s to %s: %s",
                                               schema_migrations[i].name, s->path, msg);
                }
                log_debug("Applied schema migration %s to %s", schema_migrations[i].name, s->path);
        }
        return 0;
}

/* Prepare every statement of the writer, once. */
static int store_prepare(Store *s) {
        const struct {
                const StoreStatementSql *statements;
                size_t n;
        } lists[] = {
                { transaction_statements, ELEMENTSOF(transaction_statements) },
                { store_write_statements, store_write_n_statements },
                { store_maintain_statements, store_maintain_n_statements },
        };

        assert(s);
        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (size_t i = 0; i < lists[l].n; i++) {
                        const StoreStatementSql *q = &lists[l].statements[i];
                        int rc;

                        assert(q->id >= 0 && q->id < _STMT_MAX && !s->stmt[q->id]);
                        rc = sqlite3_prepare_v3(s->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[q->id],
                                                NULL);
                        if (rc != SQLITE_OK)
                                return store_errno_db(s->db, rc);
                }
        for (size_t i = 0; i < _STMT_MAX; i++)
                assert(s->stmt[i]);
        return 0;
}

/* Is this a database of ours, at a version we understand? Logs why not. */
static int store_check(Store *s, int *ret_version) {
        int64_t version = 0, n_tables = 0, n_ours = 0;
        int latest = store_latest_schema_version();
        int r;

        assert(s);
        assert(ret_version);
        r = sqlite_query_int(s->db, "PRAGMA user_version", &version);
        if (r == -EBADMSG)
                return log_error_errno(r, "File %s is not a jouled database (not SQLite, or corrupt); "
                                       "refusing to use it, leaving it untouched", s->path);
        if (r < 0)
                return log_error_errno(r, "Failed to read schema version of database %s: %m", s->path);
        r = sqlite_query_int(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &n_tables);
        if (r >= 0)
                r = sqlite_query_int(s->db,
                              "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                              "name IN ('intervals', 'domains', 'processes', 'samples')",
                              &n_ours);
        if (r == -EBADMSG)
                return log_error_errno(r, "File %s is not a jouled database (corrupt); "
                                       "refusing to use it, leaving it untouched", s->path);
        if (r < 0)
                return log_error_errno(r, "Failed to read schema of database %s: %m", s->path);

        if (version > latest) {
                /* Readers are joulectl, which comes in the same package. */
                const char *who = s->flags & STORE_READ_ONLY ? "joulectl" : "jouled";
                return log_error_errno(-EPROTO,
                                       "database %s has schema version %" PRIi64
                                       ", newer than this %s understands (%d); upgrade %s",
                                       s->path, version, who, latest, who);
        }
        if ((version == 0 && n_tables > 0) || (version > 0 && n_ours < 4))
                return log_error_errno(-EBADMSG,
                                       "File %s is an SQLite database of another program "
                                       "(schema version %" PRIi64 ", %" PRIi64 " tables, not jouled's); "
                                       "refusing to use it, leaving it untouched",
                                       s->path, version, n_tables);
        *ret_version = (int) version;
        return 0;
}

/* A new database belongs to the "jouled" group when it exists, so that its
 * members can read it with joulectl (0640); root stays the owner. */
static void store_chown_group(int fd, const char *path) {
        struct group *gr = getgrnam(STORE_GROUP);

        assert(path);
        if (!gr)
                return;
        if (fchown(fd, (uid_t) -1, gr->gr_gid) < 0)
                log_debug_errno(-errno, "Failed to give %s to group %s, ignoring: %m", path, STORE_GROUP);
}

int store_open(const char *path, StoreFlags flags, Store **ret) {
        _cleanup_(store_freep) Store *s = NULL;
        bool ro = flags & STORE_READ_ONLY;
        int version = 0, open_flags, rc, r;
        struct stat st;

        if (!path || !*path || !ret)
                return -EINVAL;
        if (ro && (flags & STORE_CREATE))
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->flags = flags;
        s->retention_ns[0] = STORE_DEFAULT_RAW_RETENTION_NS;
        s->retention_ns[1] = STORE_DEFAULT_MINUTE_RETENTION_NS;
        s->retention_ns[2] = STORE_DEFAULT_HOUR_RETENTION_NS;
        s->queue_max_bytes = STORE_DEFAULT_QUEUE_MAX_BYTES;
        s->path = strdup(path);
        if (!s->path)
                return log_oom();

        /* A reader without permission is not logged either: the caller
         * words it (how to get access). */
        if (ro && access(path, R_OK) < 0 && (errno == EACCES || errno == EPERM))
                return -EACCES;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT || ro)
                        /* A reader's missing file is not logged: the caller words it. */
                        return ro && errno == ENOENT ? -ENOENT
                                                     : log_error_errno(-errno, "Cannot open database %s: %m", path);
                if (!(flags & STORE_CREATE))
                        return log_error_errno(-ENOENT, "Cannot open database %s: %m", path);

                r = mkdir_parents(path, 0755);
                if (r < 0)
                        return log_error_errno(r, "Failed to create directory for database %s: %m", path);
                _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0640);
                if (fd < 0 && errno != EEXIST)
                        return log_error_errno(-errno, "Failed to create database %s: %m", path);
                if (fd >= 0 && fchmod(fd, 0640) < 0)
                        return log_error_errno(-errno, "Failed to set mode of database %s: %m", path);
                if (fd >= 0)
                        store_chown_group(fd, path);
        } else if (!S_ISREG(st.st_mode))
                return log_error_errno(S_ISDIR(st.st_mode) ? -EISDIR : -EBADMSG,
                                       "Database %s is not a regular file, refusing", path);

        open_flags = (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
        rc = sqlite3_open_v2(path, &s->db, open_flags, NULL);
        if (rc != SQLITE_OK) {
                r = store_errno_db(s->db, rc);
                return log_error_errno(r, "Cannot open database %s: %s", path,
                                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        }
        sqlite3_extended_result_codes(s->db, 0);
        sqlite3_busy_timeout(s->db, 5000);

        /* Look before writing anything: a file that is not ours stays byte-identical. */
        r = store_check(s, &version);
        if (r < 0)
                return r;

        if (ro) {
                if (version < 1)
                        return log_error_errno(-EBADMSG, "Database %s holds no jouled data yet (empty)", path);
                r = store_exec(s, "PRAGMA foreign_keys = ON");
                if (r < 0)
                        return log_error_errno(r, "Failed to configure database %s: %m", path);
                /* An older schema is read as the newest, never migrated. */
                r = store_compat_views(s->db, version);
                if (r < 0)
                        return log_error_errno(r, "Failed to read database %s of schema version %d: %m",
                                               path, version);
                if (version < store_latest_schema_version())
                        s->compat_version = version;
                *ret = TAKE_PTR(s);
                return 0;
        }

        r = store_exec(s, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = store_exec(s, "PRAGMA synchronous = NORMAL");
        /* Checkpoints run in store_maintain(), not in an interval's commit
         * (they made one write in a hundred take 15 ms); this bound is a safety
         * net for a daemon that never gets to maintenance. */
        if (r >= 0)
                r = store_exec(s, "PRAGMA wal_autocheckpoint = 20000");
        if (r >= 0)
                r = store_exec(s, "PRAGMA foreign_keys = ON");
        if (r < 0)
                return log_error_errno(r, "Failed to configure database %s: %s", path, sqlite3_errmsg(s->db));
        /* Keep -wal and -shm (same mode and group as the database) when the
         * daemon stops: a reader without write access to the directory, a
         * member of group jouled, cannot create them, and SQLite needs them
         * to read a WAL database. */
        {
                int persist = 1;
                (void) sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        }

        r = store_migrate(s, version);
        if (r < 0)
                return r;

        r = store_prepare(s);
        if (r < 0)
                return log_error_errno(r, "Failed to prepare statement on %s: %s", path, sqlite3_errmsg(s->db));

        store_start_checkpointer(s);

        {
                _cleanup_free_ char *b = NULL;
                if (read_small_file(BOOT_ID_PATH, 63, &b) >= 0)
                        strscpy(s->boot_id, sizeof(s->boot_id), b);
                else
                        strscpy(s->boot_id, sizeof(s->boot_id), "unknown");
        }

        *ret = TAKE_PTR(s);
        return 0;
}

void store_options_init(StoreOptions *o) {
        assert(o);
        *o = (StoreOptions) {
                .raw_retention_ns = STORE_DEFAULT_RAW_RETENTION_NS,
                .minute_retention_ns = STORE_DEFAULT_MINUTE_RETENTION_NS,
                .hour_retention_ns = STORE_DEFAULT_HOUR_RETENTION_NS,
                .queue_max_bytes = STORE_DEFAULT_QUEUE_MAX_BYTES,
        };
}

int store_set_options(Store *s, const StoreOptions *o) {
        if (!s || !o)
                return -EINVAL;
        s->retention_ns[0] = o->raw_retention_ns;
        s->retention_ns[1] = o->minute_retention_ns;
        s->retention_ns[2] = o->hour_retention_ns;
        s->queue_max_bytes = o->queue_max_bytes > 0 ? o->queue_max_bytes : STORE_DEFAULT_QUEUE_MAX_BYTES;
        return 0;
}

