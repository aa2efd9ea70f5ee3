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

static void store_disconnect(Store *s);

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        store_disconnect(s);
        free(s->domains);
        free(s->path);
        store_queue_clear(s);
        closep(&s->lock_fd);
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
                              "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND "
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

/* The writer's lock: an open-file-description lock on PATH.lock, so that
 * two opens conflict even within one process, and released only when the
 * file is closed (store_free()). The file holds the holder's PID. */
static int store_lock(Store *s) {
        _cleanup_free_ char *lock_path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char buf[32];
        int n;

        assert(s);
        if (asprintf(&lock_path, "%s.lock", s->path) < 0)
                return log_oom();
        fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0 && errno == ELOOP)
                return log_error_errno(-ELOOP, "Lock file %s is a symbolic link, refusing", lock_path);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to open lock file %s: %m", lock_path);
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
                pid_t pid = 0;
                bool running = false;

                if (errno != EAGAIN && errno != EACCES)
                        return log_error_errno(-errno, "Failed to lock %s: %m", lock_path);
                (void) store_owner(s->path, &pid, &running);
                if (pid > 0)
                        return log_error_errno(-EBUSY, "Database %s is in use by another jouled (PID %d), refusing "
                                               "to write it too", s->path, (int) pid);
                return log_error_errno(-EBUSY, "Database %s is in use by another jouled, refusing to write it too",
                                       s->path);
        }
        store_chown_group(fd, lock_path);
        (void) fchmod(fd, 0640);
        n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n)
                log_debug_errno(-errno, "Failed to write the PID into %s, ignoring: %m", lock_path);
        s->lock_fd = TAKE_FD(fd);
        return 0;
}

int store_owner(const char *path, pid_t *ret_pid, bool *ret_running) {
        _cleanup_free_ char *lock_path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char buf[32] = {};
        ssize_t n;
        long pid;

        if (!path || !ret_pid || !ret_running)
                return -EINVAL;
        *ret_pid = 0;
        *ret_running = false;
        if (asprintf(&lock_path, "%s.lock", path) < 0)
                return -ENOMEM;
        fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* F_OFD_GETLK takes no lock; it says whether one is held. */
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                return -errno;
        if (fl.l_type == F_UNLCK)
                return 0;
        *ret_running = true;
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0 && sscanf(buf, "%ld", &pid) == 1 && pid > 0 && pid <= INT32_MAX)
                *ret_pid = (pid_t) pid;
        return 0;
}

/* Before anything is written: refuse a symbolic link at the path, find (or,
 * with STORE_CREATE_PARENTS, make) its directory, take the lock, create the
 * file when it is missing. */
static int store_prepare_file(Store *s) {
        struct stat st;
        int r;

        assert(s);
        if (lstat(s->path, &st) >= 0) {
                if (S_ISLNK(st.st_mode))
                        return log_error_errno(-ELOOP, "Database %s is a symbolic link, refusing (give the path of "
                                               "the file itself)", s->path);
                if (!S_ISREG(st.st_mode))
                        return log_error_errno(S_ISDIR(st.st_mode) ? -EISDIR : -EBADMSG,
                                               "Database %s is not a regular file, refusing", s->path);
        } else if (errno != ENOENT)
                return log_error_errno(-errno, "Cannot open database %s: %m", s->path);
        else if (!(s->flags & STORE_CREATE))
                return log_error_errno(-ENOENT, "Cannot open database %s: %m", s->path);
        else if (s->flags & STORE_CREATE_PARENTS) {
                r = mkdir_parents(s->path, 0755);
                if (r < 0)
                        return log_error_errno(r, "Failed to create directory for database %s: %m", s->path);
        } else {
                _cleanup_free_ char *dir = strdup(s->path);
                char *slash;

                if (!dir)
                        return log_oom();
                slash = strrchr(dir, '/');
                if (slash && slash != dir) {
                        *slash = 0;
                        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                                return log_error_errno(-ENOENT, "Directory %s of database %s does not exist "
                                                       "(jouled does not create it)", dir, s->path);
                }
        }

        if (s->lock_fd < 0) {
                r = store_lock(s);
                if (r < 0)
                        return r;
        }

        _cleanup_close_ int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create database %s: %m", s->path);
        if (fd >= 0 && fchmod(fd, 0640) < 0)
                return log_error_errno(-errno, "Failed to set mode of database %s: %m", s->path);
        if (fd >= 0)
                store_chown_group(fd, s->path);
        return 0;
}

/* Open the connection of a writer: check, configure, migrate, prepare. */
static int store_connect(Store *s) {
        int version = 0, rc, r;
        struct stat st;

        assert(s);
        rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                             NULL);
        if (rc != SQLITE_OK) {
                r = store_errno_db(s->db, rc);
                return log_error_errno(r, "Cannot open database %s: %s", s->path,
                                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        }
        sqlite3_extended_result_codes(s->db, 0);
        sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
        /* The file SQLite opened (by a path that is no symbolic link, under
         * our lock): store_verify_file() compares the path with it. */
        if (stat(s->path, &st) < 0)
                return log_error_errno(-errno, "Cannot open database %s: %m", s->path);
        s->dev = st.st_dev;
        s->ino = st.st_ino;

        /* Look before writing anything: a file that is not ours stays byte-identical. */
        r = store_check(s, &version);
        if (r < 0)
                return r;

        r = store_exec(s, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = store_exec(s, "PRAGMA synchronous = NORMAL");
        /* Where the WAL file is cut back to after a checkpoint moved it all. */
        if (r >= 0)
                r = store_exec(s, "PRAGMA journal_size_limit = " STRINGIFY(STORE_WAL_SIZE_LIMIT));
        if (r >= 0)
                r = store_exec(s, "PRAGMA foreign_keys = ON");
        /* A page cache of 1 MiB: writes touch the newest pages only, and a
         * daemon that runs for months keeps a flat memory footprint. */
        if (r >= 0)
                r = store_exec(s, "PRAGMA cache_size = -1024");
        if (r < 0)
                return log_error_errno(r, "Failed to configure database %s: %s", s->path, sqlite3_errmsg(s->db));
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
                return log_error_errno(r, "Failed to prepare statement on %s: %s", s->path, sqlite3_errmsg(s->db));

        store_open_checkpointer(s);
        /* Replaces SQLite's wal_autocheckpoint, which checkpoints inside
         * the commit that crosses its bound (one write in a hundred took
         * 15 ms): checkpoints go to the thread when there is one. */
        sqlite3_wal_hook(s->db, store_wal_hook, s);
        return 0;
}

static void store_disconnect(Store *s) {
        assert(s);
        store_stop_checkpointer(s);
        for (size_t i = 0; i < _STMT_MAX; i++) {
                sqlite3_finalize(s->stmt[i]);
                s->stmt[i] = NULL;
        }
        if (s->db && !(s->flags & STORE_READ_ONLY)) {
                /* The -wal stays (PERSIST_WAL) but empty: everything is in the
                 * database file itself, so that a later open judges that file
                 * alone (a damaged file is refused, not masked by the WAL). */
                sqlite3_busy_timeout(s->db, 200);
                (void) sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        }
        sqlite3_close(s->db);
        s->db = NULL;
        s->n_domains = 0;
}

int store_verify_file(Store *s) {
        struct stat st;
        int r;

        if (!s)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return 0;
        if (s->db && stat(s->path, &st) >= 0 && st.st_dev == s->dev && st.st_ino == s->ino)
                return 0;
        if (s->db) {
                /* Process and label set ids cached by the caller name rows of
                 * the old file: a new generation makes the writer look again. */
                s->gen = store_generation_new();
                store_disconnect(s);
                /* -wal and -shm at the path are the old file's: a new database
                 * must not start from them. */
                for (size_t i = 0; i < 2; i++) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s%s", s->path, i == 0 ? "-wal" : "-shm") < 0)
                                return -ENOMEM;
                        (void) unlink(p);
                }
        }
        r = store_prepare_file(s);
        if (r >= 0)
                r = store_connect(s);
        if (r < 0) {
                store_disconnect(s);
                return r;
        }
        return 1;
}

int store_open(const char *path, StoreFlags flags, Store **ret) {
        _cleanup_(store_freep) Store *s = NULL;
        bool ro = flags & STORE_READ_ONLY;
        int version = 0, rc, r;
        struct stat st;

        if (!path || !*path || !ret)
                return -EINVAL;
        if (ro && (flags & (STORE_CREATE | STORE_CREATE_PARENTS)))
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->flags = flags;
        s->lock_fd = -EBADF;
        s->retention_ns[0] = STORE_DEFAULT_RAW_RETENTION_NS;
        s->retention_ns[1] = STORE_DEFAULT_MINUTE_RETENTION_NS;
        s->retention_ns[2] = STORE_DEFAULT_HOUR_RETENTION_NS;
        s->queue_max_bytes = STORE_DEFAULT_QUEUE_MAX_BYTES;
        s->path = strdup(path);
        if (!s->path)
                return log_oom();

        if (!ro) {
                r = store_prepare_file(s);
                if (r < 0)
                        return r;
                r = store_connect(s);
                if (r < 0)
                        return r;
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

        /* A reader without permission is not logged either: the caller
         * words it (how to get access). */
        if (access(path, R_OK) < 0 && (errno == EACCES || errno == EPERM))
                return -EACCES;
        if (stat(path, &st) < 0)
                /* A reader's missing file is not logged: the caller words it. */
                return errno == ENOENT ? -ENOENT : log_error_errno(-errno, "Cannot open database %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(S_ISDIR(st.st_mode) ? -EISDIR : -EBADMSG,
                                       "Database %s is not a regular file, refusing", path);

        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
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
        if (version < 1)
                return log_error_errno(-EBADMSG, "Database %s holds no jouled data yet (empty)", path);
        r = store_exec(s, "PRAGMA foreign_keys = ON");
        if (r < 0)
                return log_error_errno(r, "Failed to configure database %s: %m", path);
        /* An older schema is read as the newest, never migrated. */
        r = store_compat_views(s->db, version);
        if (r < 0)
                return log_error_errno(r, "Failed to read database %s of schema version %d: %m", path, version);
        if (version < store_latest_schema_version())
                s->compat_version = version;
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

