/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "schema.h"
#include "cgroup-path.h"
#include "util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define STORE_GROUP "jouled"
#define CMDLINE_MAX 4096

typedef enum StoreStatement {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_INSERT_INTERVAL,
        STMT_UPSERT_DOMAIN,
        STMT_INSERT_INTERVAL_DOMAIN,
        STMT_UPSERT_PROCESS,
        STMT_INSERT_SAMPLE,
        STMT_INSERT_SAMPLE_DOMAIN,
        STMT_SET_STATE,
        STMT_DELETE_PROBES,
        STMT_INSERT_PROBE,
        /* issue 7: rollups and retention */
        STMT_ROLLUP_STATE,
        STMT_NEXT_BUCKET,
        STMT_ROLLUP_INTERVAL,
        STMT_ROLLUP_SAMPLES,
        STMT_ROLLUP_SAMPLE_DOMAINS,
        STMT_ROLLUP_INTERVAL_DOMAINS,
        STMT_SET_DONE,
        STMT_PRUNE,
        STMT_SET_FROM,
        STMT_MAX_END,
        STMT_PRUNE_PROCESSES,
        STMT_MARK_SEEN,
        _STMT_MAX,
} StoreStatement;

static const char *const statement_sql[_STMT_MAX] = {
        [STMT_BEGIN] = ("BEGIN IMMEDIATE"),
        [STMT_COMMIT] = ("COMMIT"),
        [STMT_ROLLBACK] = ("ROLLBACK"),
        [STMT_INSERT_INTERVAL] =
                ("INSERT INTO intervals (start_ns, end_ns) VALUES (?1, ?2)"),
        [STMT_UPSERT_DOMAIN] =
                ("INSERT INTO domains (name, kind, source, estimated, host_total) "
                "VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (name, source) DO UPDATE SET kind = excluded.kind, "
                "estimated = excluded.estimated, host_total = excluded.host_total "
                "RETURNING id"),
        [STMT_INSERT_INTERVAL_DOMAIN] =
                ("INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, "
                "idle_j, attributed_j, unattributed_j, idle_w, idle_method, irq_j) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        [STMT_UPSERT_PROCESS] =
                ("INSERT INTO processes (boot_id, pid, start_boot_ns, start_ns, comm, exe, uid, "
                "ppid, cgroup_id, unit, kernel_thread, cmdline, cgroup_path, slice, container_id) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
                "ON CONFLICT (boot_id, pid, start_boot_ns) DO UPDATE SET "
                "comm = excluded.comm, exe = coalesce(excluded.exe, exe), uid = excluded.uid, "
                "ppid = excluded.ppid, cgroup_id = excluded.cgroup_id, "
                "unit = coalesce(excluded.unit, unit), kernel_thread = excluded.kernel_thread, "
                "cmdline = coalesce(excluded.cmdline, cmdline), "
                "cgroup_path = coalesce(excluded.cgroup_path, cgroup_path), "
                "slice = coalesce(excluded.slice, slice), container_id = coalesce(excluded.container_id, container_id) "
                "RETURNING id"),
        [STMT_INSERT_SAMPLE] =
                ("INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j, wakeups) "
                "VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (interval_id, process_id) DO UPDATE SET "
                "cpu_ns = cpu_ns + excluded.cpu_ns, energy_j = energy_j + excluded.energy_j, "
                "wakeups = wakeups + excluded.wakeups"),
        [STMT_INSERT_SAMPLE_DOMAIN] =
                ("INSERT INTO sample_domains (interval_id, process_id, domain_id, energy_j) "
                "VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (interval_id, process_id, domain_id) DO UPDATE SET "
                "energy_j = energy_j + excluded.energy_j"),
        [STMT_SET_STATE] =
                ("INSERT INTO daemon_state (key, value, updated_ns) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_ns = excluded.updated_ns"),
        [STMT_DELETE_PROBES] = ("DELETE FROM source_probes"),
        [STMT_INSERT_PROBE] =
                ("INSERT INTO source_probes (name, status, estimated, in_use, reason) "
                "VALUES (?1, ?2, ?3, ?4, ?5)"),
        [STMT_ROLLUP_STATE] =
                ("SELECT minute_done_ns, hour_done_ns, raw_from_ns, minute_from_ns FROM rollup_state"),
        /* The first row of level ?1 ending after ?2 (its end, to find its bucket). */
        [STMT_NEXT_BUCKET] =
                ("SELECT min(end_ns) FROM intervals WHERE level = ?1 AND end_ns > ?2"),
        /* Roll level ?4 rows ending in (?1, ?2] up into one row of level ?3. */
        [STMT_ROLLUP_INTERVAL] =
                ("INSERT INTO intervals (start_ns, end_ns, level, n_raw, duration_ns) "
                "SELECT ?1, ?2, ?3, sum(coalesce(n_raw, 1)), sum(coalesce(duration_ns, end_ns - start_ns)) "
                "FROM intervals WHERE level = ?4 AND end_ns > ?1 AND end_ns <= ?2 HAVING count(*) > 0 "
                "RETURNING id"),
        [STMT_ROLLUP_SAMPLES] =
                ("INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j, active_ns, wakeups) "
                "SELECT ?3, s.process_id, sum(s.cpu_ns), total(s.energy_j), "
                "sum(coalesce(s.active_ns, coalesce(i.duration_ns, i.end_ns - i.start_ns))), sum(s.wakeups) "
                "FROM intervals i JOIN samples s ON s.interval_id = i.id "
                "WHERE i.level = ?4 AND i.end_ns > ?1 AND i.end_ns <= ?2 GROUP BY s.process_id"),
        [STMT_ROLLUP_SAMPLE_DOMAINS] =
                ("INSERT INTO sample_domains (interval_id, process_id, domain_id, energy_j) "
                "SELECT ?3, sd.process_id, sd.domain_id, total(sd.energy_j) "
                "FROM intervals i JOIN sample_domains sd ON sd.interval_id = i.id "
                "WHERE i.level = ?4 AND i.end_ns > ?1 AND i.end_ns <= ?2 "
                "GROUP BY sd.process_id, sd.domain_id"),
        [STMT_ROLLUP_INTERVAL_DOMAINS] =
                ("INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, "
                "attributed_j, unattributed_j, idle_w, idle_method, irq_j) "
                "SELECT ?3, d.domain_id, max(d.host_total), total(d.measured_j), total(d.idle_j), "
                "total(d.attributed_j), total(d.unattributed_j), avg(d.idle_w), 'rollup', total(d.irq_j) "
                "FROM intervals i JOIN interval_domains d ON d.interval_id = i.id "
                "WHERE i.level = ?4 AND i.end_ns > ?1 AND i.end_ns <= ?2 GROUP BY d.domain_id"),
        /* ?1: level (1 minute, 2 hour), ?2: done up to. */
        [STMT_SET_DONE] =
                ("UPDATE rollup_state SET "
                "minute_done_ns = CASE WHEN ?1 = 1 THEN ?2 ELSE minute_done_ns END, "
                "hour_done_ns = CASE WHEN ?1 = 2 THEN ?2 ELSE hour_done_ns END"),
        /* Delete up to ?3 rows of level ?1 ending at or before ?2 (cascades to
         * their figures): small batches keep each transaction short. */
        [STMT_PRUNE] =
                ("DELETE FROM intervals WHERE id IN (SELECT id FROM intervals WHERE level = ?1 "
                "AND end_ns <= ?2 ORDER BY level, end_ns LIMIT ?3)"),
        /* ?1: level (0 raw, 1 minute), ?2: pruned up to. */
        [STMT_SET_FROM] =
                ("UPDATE rollup_state SET "
                "raw_from_ns = CASE WHEN ?1 = 0 THEN ?2 ELSE raw_from_ns END, "
                "minute_from_ns = CASE WHEN ?1 = 1 THEN ?2 ELSE minute_from_ns END"),
        /* The end of the last row of level ?1 (days: how far they are rolled up). */
        [STMT_MAX_END] =
                ("SELECT coalesce(max(end_ns), 0) FROM intervals WHERE level = ?1"),
        /* Processes with id in (?1, ?2) last seen (hour rollups) or, never
         * rolled up, started at or before ?3, that no row not yet rolled up
         * into hours refers to (?4: hour_done, ?5: minute_done). The row with
         * the highest id is never deleted, so that ids are never reused. */
        [STMT_PRUNE_PROCESSES] =
                ("DELETE FROM processes WHERE id > ?1 AND id < ?2 "
                "AND id < (SELECT max(id) FROM processes) "
                "AND coalesce(last_ns, start_ns) <= ?3 "
                "AND id NOT IN (SELECT s.process_id FROM intervals i JOIN samples s ON s.interval_id = i.id "
                "WHERE (i.level = 1 AND i.end_ns > ?4) OR (i.level = 0 AND i.end_ns > ?5))"),
        /* Hour rollup ?1 ending at ?2: its processes were seen then. */
        [STMT_MARK_SEEN] =
                ("UPDATE processes SET last_ns = ?2 WHERE id IN "
                "(SELECT process_id FROM samples WHERE interval_id = ?1) AND coalesce(last_ns, 0) < ?2"),
};

typedef struct DomainCacheEntry {
        char name[DOMAIN_NAME_MAX];
        char source[32];
        bool estimated, host_total;
        DomainKind kind;
        int64_t id;
} DomainCacheEntry;

typedef struct QueuedInterval QueuedInterval;

struct Store {
        sqlite3 *db;
        char *path;
        StoreFlags flags;
        char boot_id[64];
        sqlite3_stmt *stmt[_STMT_MAX];

        DomainCacheEntry *domains;
        size_t n_domains, n_domains_alloc;

        /* issue 7 */
        uint64_t retention_ns[3];     /* raw, minute, hour; 0: forever */
        uint64_t queue_max_bytes;
        char *cmdline_proc_root;
        QueuedInterval *queue_head, *queue_tail;
        StoreQueueStats qstats;
        int64_t proc_prune_cursor;    /* process ids below it were examined in this pass */
        int64_t proc_pruned_upto;     /* the last full pass pruned up to this cutoff */
        uint64_t step_t0, step_est_ns; /* store_maintain(): start of the step, longest recent one */
        unsigned steps_in_call;

        /* WAL checkpoints run in a thread of their own, on a connection of
         * their own: copying a minute of WAL into the database (and syncing
         * it) took up to hundreds of ms, too long for the event loop.
         * Writers go on meanwhile (a PASSIVE checkpoint takes no write lock). */
        sqlite3 *ckpt_db;
        pthread_t ckpt_thread;
        bool ckpt_started, ckpt_requested, ckpt_quit;
        pthread_mutex_t ckpt_lock;
        pthread_cond_t ckpt_cond;
};

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

static int store_errno_db(sqlite3 *db, int rc) {
        if ((rc & 0xff) == SQLITE_CANTOPEN && db) {
                int e = sqlite3_system_errno(db);
                return e == EACCES || e == EPERM ? -EACCES : -ENOENT;
        }
        return store_errno(rc);
}

const char *store_domain_kind_name(DomainKind k) {
        return domain_kind_to_string(k) ?: "unknown";
}

static const char *probe_status_name(SourceStatus s) {
        return source_status_to_string(s) ?: "unknown";
}

int store_latest_schema_version(void) {
        int v = 0;
        for (size_t i = 0; i < SCHEMA_N_MIGRATIONS; i++)
                v = MAX(v, schema_migrations[i].version);
        return v;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *ret) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno_db(db, rc);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
                *ret = 0;
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        return store_errno_db(db, rc);
}

int store_schema_version(Store *s) {
        int64_t v = 0;
        int r = query_int(s->db, "PRAGMA user_version", &v);
        return r < 0 ? r : (int) v;
}

sqlite3 *store_db(Store *s) {
        return s ? s->db : NULL;
}

const char *store_path(Store *s) {
        return s ? s->path : NULL;
}

static void store_queue_clear(Store *s);

static void *checkpoint_thread(void *userdata) {
        Store *s = userdata;

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
        free(s->cmdline_proc_root);
        free(s);
        return NULL;
}

static int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        char *slash;

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

static int store_exec(Store *s, const char *sql) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        return store_errno_db(s->db, rc);
}

static int store_migrate(Store *s, int from) {
        int r;

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

/* Is this a database of ours, at a version we understand? Logs why not. */
static int store_check(Store *s, int *ret_version) {
        int64_t version = 0, n_tables = 0, n_ours = 0;
        int latest = store_latest_schema_version();
        int r;

        r = query_int(s->db, "PRAGMA user_version", &version);
        if (r == -EBADMSG)
                return log_error_errno(r, "File %s is not a jouled database (not SQLite, or corrupt); "
                                       "refusing to use it, leaving it untouched", s->path);
        if (r < 0)
                return log_error_errno(r, "Failed to read schema version of database %s: %m", s->path);
        r = query_int(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &n_tables);
        if (r >= 0)
                r = query_int(s->db,
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

        for (size_t i = 0; i < _STMT_MAX; i++) {
                rc = sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
                if (rc != SQLITE_OK)
                        return log_error_errno(store_errno_db(s->db, rc), "Failed to prepare statement on %s: %s",
                                               path, sqlite3_errmsg(s->db));
        }

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

/* Step a prepared statement that returns nothing (or one row we ignore / read). */
static int stmt_run(Store *s, sqlite3_stmt *st, int64_t *ret_id) {
        int rc = sqlite3_step(st);
        int r = 0;

        if (rc == SQLITE_ROW) {
                if (ret_id)
                        *ret_id = sqlite3_column_int64(st, 0);
                rc = sqlite3_step(st);
        } else if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = store_errno_db(s->db, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *v) {
        return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int check_u64(uint64_t v) {
        return v > (uint64_t) INT64_MAX ? -ERANGE : 0;
}

static int store_domain_id(Store *s, const DomainRecord *d, int64_t *ret) {
        sqlite3_stmt *st = s->stmt[STMT_UPSERT_DOMAIN];
        const char *source = d->source ? d->source : "unknown";
        DomainCacheEntry *e = NULL;
        int64_t id = 0;
        int r;

        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, d->domain->name) == 0 && strcmp(s->domains[i].source, source) == 0) {
                        e = &s->domains[i];
                        break;
                }
        if (e && e->estimated == d->domain->estimated && e->host_total == d->host_total &&
            e->kind == d->domain->kind) {
                *ret = e->id;
                return 0;
        }

        sqlite3_bind_text(st, 1, d->domain->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, store_domain_kind_name(d->domain->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, d->domain->estimated);
        sqlite3_bind_int(st, 5, d->host_total);
        r = stmt_run(s, st, &id);
        if (r < 0)
                return r;

        if (!e) {
                if (s->n_domains == s->n_domains_alloc) {
                        size_t n = MAX(s->n_domains_alloc * 2, (size_t) 8);
                        DomainCacheEntry *p = realloc(s->domains, n * sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        s->domains = p;
                        s->n_domains_alloc = n;
                }
                e = &s->domains[s->n_domains++];
                strscpy(e->name, sizeof(e->name), d->domain->name);
                strscpy(e->source, sizeof(e->source), source);
        }
        e->estimated = d->domain->estimated;
        e->host_total = d->host_total;
        e->kind = d->domain->kind;
        e->id = id;
        *ret = id;
        return 0;
}

/* /proc/PID/cmdline with the NULs between arguments turned into spaces;
 * NULL (not an error) for a process without one. */
static int read_cmdline(const char *proc_root, uint32_t pid, char **ret) {
        char path[PATH_MAX], buf[CMDLINE_MAX];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        *ret = NULL;
        snprintf(path, sizeof(path), "%s/%" PRIu32 "/cmdline", proc_root, pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        while (n > 0 && buf[n - 1] == 0)
                n--;
        if (n == 0)
                return 0;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == 0)
                        buf[i] = ' ';
        buf[n] = 0;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

static int store_process_id(Store *s, const IntervalRecord *rec, ProcessInfo *p, bool *ret_assigned) {
        sqlite3_stmt *st = s->stmt[STMT_UPSERT_PROCESS];
        _cleanup_free_ char *cmdline = NULL;
        _cleanup_(cgroup_info_done) CgroupInfo cg = {};
        uint64_t start_ns;
        int64_t id = 0;
        int r;

        *ret_assigned = false;
        if (p->store_id > 0)
                return 0;
        if (s->cmdline_proc_root && !p->kernel_thread)
                (void) read_cmdline(s->cmdline_proc_root, p->pid, &cmdline);
        if (check_u64(p->start_time_ns) < 0 || check_u64(rec->boot_realtime_ns) < 0)
                return -ERANGE;
        start_ns = rec->boot_realtime_ns + p->start_time_ns;
        if (check_u64(start_ns) < 0)
                return -ERANGE;

        sqlite3_bind_text(st, 1, s->boot_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->pid);
        sqlite3_bind_int64(st, 3, (int64_t) p->start_time_ns);
        sqlite3_bind_int64(st, 4, (int64_t) start_ns);
        sqlite3_bind_text(st, 5, p->comm, (int) strnlen(p->comm, sizeof(p->comm)), SQLITE_STATIC);
        bind_text_or_null(st, 6, p->exe);
        sqlite3_bind_int64(st, 7, p->uid);
        sqlite3_bind_int64(st, 8, p->ppid);
        sqlite3_bind_int64(st, 9, (int64_t) (p->cgroup_id & INT64_MAX));
        /* attrib: the nearest .service/.scope of the cgroup path, else the leaf. */
        if (p->cgroup_path && cgroup_path_parse(p->cgroup_path, &cg) == -ENOMEM)
                return -ENOMEM;
        bind_text_or_null(st, 10, cg.unit ?: p->unit);
        sqlite3_bind_int(st, 11, p->kernel_thread);
        bind_text_or_null(st, 12, cmdline);
        bind_text_or_null(st, 13, p->cgroup_path);
        bind_text_or_null(st, 14, cg.slice);
        bind_text_or_null(st, 15, cg.container_id);
        r = stmt_run(s, st, &id);
        if (r < 0)
                return r;
        p->store_id = id;
        *ret_assigned = true;
        return 0;
}

static int store_write_interval_locked(Store *s, const IntervalRecord *rec, int64_t *domain_ids,
                                       bool *assigned) {
        sqlite3_stmt *st;
        int64_t interval_id = 0;
        int r;

        st = s->stmt[STMT_INSERT_INTERVAL];
        sqlite3_bind_int64(st, 1, (int64_t) rec->start_ns);
        sqlite3_bind_int64(st, 2, (int64_t) rec->end_ns);
        r = stmt_run(s, st, &interval_id);
        if (r < 0)
                return r;

        for (size_t j = 0; j < rec->n_domains; j++) {
                const DomainRecord *d = &rec->domains[j];

                domain_ids[j] = 0;
                if (!d->valid)
                        continue;
                r = store_domain_id(s, d, &domain_ids[j]);
                if (r < 0)
                        return r;

                st = s->stmt[STMT_INSERT_INTERVAL_DOMAIN];
                sqlite3_bind_int64(st, 1, interval_id);
                sqlite3_bind_int64(st, 2, domain_ids[j]);
                sqlite3_bind_int(st, 3, d->host_total);
                sqlite3_bind_double(st, 4, d->measured_j);
                sqlite3_bind_double(st, 5, d->idle_j);
                sqlite3_bind_double(st, 6, d->attributed_j);
                sqlite3_bind_double(st, 7, d->unattributed_j);
                sqlite3_bind_double(st, 8, d->idle_w);
                bind_text_or_null(st, 9, d->idle_method);
                sqlite3_bind_double(st, 10, d->irq_j);
                r = stmt_run(s, st, NULL);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < rec->n_procs; i++) {
                const ProcessDelta *pd = &rec->procs[i];
                const double *row = rec->proc_domain_j ? rec->proc_domain_j + i * rec->n_domains : NULL;
                double energy = 0;
                bool any = pd->cpu_ns > 0 || pd->wakeups > 0;

                for (size_t j = 0; row && j < rec->n_domains; j++) {
                        if (!rec->domains[j].valid)
                                continue;
                        if (row[j] != 0)
                                any = true;
                        if (rec->domains[j].host_total)
                                energy += row[j];
                }
                if (!any)
                        continue;   /* nothing happened to it: no row */

                r = store_process_id(s, rec, pd->info, &assigned[i]);
                if (r < 0)
                        return r;

                for (int attempt = 0;; attempt++) {
                        st = s->stmt[STMT_INSERT_SAMPLE];
                        sqlite3_bind_int64(st, 1, interval_id);
                        sqlite3_bind_int64(st, 2, pd->info->store_id);
                        sqlite3_bind_int64(st, 3, (int64_t) pd->cpu_ns);
                        sqlite3_bind_double(st, 4, energy);
                        sqlite3_bind_int64(st, 5, (int64_t) (pd->wakeups & INT64_MAX));
                        r = stmt_run(s, st, NULL);
                        if (r >= 0)
                                break;
                        /* The cached id's row was pruned (idle for the whole
                         * retention): write the process again, under a new id. */
                        if (attempt > 0 || sqlite3_errcode(s->db) != SQLITE_CONSTRAINT)
                                return r;
                        pd->info->store_id = 0;
                        r = store_process_id(s, rec, pd->info, &assigned[i]);
                        if (r < 0)
                                return r;
                }

                for (size_t j = 0; row && j < rec->n_domains; j++) {
                        if (!rec->domains[j].valid || row[j] == 0)
                                continue;
                        st = s->stmt[STMT_INSERT_SAMPLE_DOMAIN];
                        sqlite3_bind_int64(st, 1, interval_id);
                        sqlite3_bind_int64(st, 2, pd->info->store_id);
                        sqlite3_bind_int64(st, 3, domain_ids[j]);
                        sqlite3_bind_double(st, 4, row[j]);
                        r = stmt_run(s, st, NULL);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int validate_interval(const IntervalRecord *rec) {
        if (rec->end_ns < rec->start_ns || check_u64(rec->end_ns) < 0)
                return -EINVAL;
        if ((rec->n_domains > 0 && !rec->domains) || (rec->n_procs > 0 && !rec->procs))
                return -EINVAL;
        for (size_t j = 0; j < rec->n_domains; j++) {
                const DomainRecord *d = &rec->domains[j];
                if (!d->domain)
                        return -EINVAL;
                if (!d->valid)
                        continue;
                if (!isfinite(d->measured_j) || !isfinite(d->idle_j) || !isfinite(d->attributed_j) ||
                    !isfinite(d->unattributed_j) || !isfinite(d->idle_w))
                        return -EINVAL;
        }
        for (size_t i = 0; i < rec->n_procs; i++) {
                if (!rec->procs[i].info || check_u64(rec->procs[i].cpu_ns) < 0)
                        return -EINVAL;
                for (size_t j = 0; rec->proc_domain_j && j < rec->n_domains; j++)
                        if (rec->domains[j].valid && !isfinite(rec->proc_domain_j[i * rec->n_domains + j]))
                                return -EINVAL;
        }
        return 0;
}

int store_write_interval(Store *s, const IntervalRecord *rec) {
        _cleanup_free_ int64_t *domain_ids = NULL;
        _cleanup_free_ bool *assigned = NULL;
        int r;

        if (!s || !rec)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;
        r = validate_interval(rec);
        if (r < 0)
                return r;

        domain_ids = calloc(MAX(rec->n_domains, (size_t) 1), sizeof(int64_t));
        assigned = calloc(MAX(rec->n_procs, (size_t) 1), sizeof(bool));
        if (!domain_ids || !assigned)
                return -ENOMEM;

        r = stmt_run(s, s->stmt[STMT_BEGIN], NULL);
        if (r < 0)
                return r;

        r = store_write_interval_locked(s, rec, domain_ids, assigned);
        if (r >= 0)
                r = stmt_run(s, s->stmt[STMT_COMMIT], NULL);
        if (r < 0) {
                /* Nothing of this interval exists: forget the ids handed out in it. */
                if (!sqlite3_get_autocommit(s->db))
                        (void) stmt_run(s, s->stmt[STMT_ROLLBACK], NULL);
                for (size_t i = 0; i < rec->n_procs; i++)
                        if (assigned[i])
                                rec->procs[i].info->store_id = 0;
                s->n_domains = 0;
                return r;
        }
        return 0;
}

int store_set_state(Store *s, const char *key, const char *value) {
        sqlite3_stmt *st;

        if (!s || !key || !*key)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;
        st = s->stmt[STMT_SET_STATE];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, value);
        sqlite3_bind_int64(st, 3, (int64_t) now_ns(CLOCK_REALTIME));
        return stmt_run(s, st, NULL);
}

int store_set_probes(Store *s, const SourceProbe *probes, const bool *in_use, size_t n) {
        int r;

        if (!s || (n > 0 && !probes))
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;

        r = stmt_run(s, s->stmt[STMT_BEGIN], NULL);
        if (r < 0)
                return r;
        r = stmt_run(s, s->stmt[STMT_DELETE_PROBES], NULL);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                sqlite3_stmt *st = s->stmt[STMT_INSERT_PROBE];
                if (!probes[i].name) {
                        r = -EINVAL;
                        break;
                }
                sqlite3_bind_text(st, 1, probes[i].name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, probe_status_name(probes[i].status), -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 3, probes[i].estimated);
                sqlite3_bind_int(st, 4, in_use ? in_use[i] : false);
                sqlite3_bind_text(st, 5, probes[i].reason,
                                  (int) strnlen(probes[i].reason, sizeof(probes[i].reason)), SQLITE_STATIC);
                r = stmt_run(s, st, NULL);
        }
        if (r >= 0)
                r = stmt_run(s, s->stmt[STMT_COMMIT], NULL);
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void) stmt_run(s, s->stmt[STMT_ROLLBACK], NULL);
        return r;
}

/* ---- Options ------------------------------------------------------------ */

void store_options_init(StoreOptions *o) {
        *o = (StoreOptions) {
                .raw_retention_ns = STORE_DEFAULT_RAW_RETENTION_NS,
                .minute_retention_ns = STORE_DEFAULT_MINUTE_RETENTION_NS,
                .hour_retention_ns = STORE_DEFAULT_HOUR_RETENTION_NS,
                .queue_max_bytes = STORE_DEFAULT_QUEUE_MAX_BYTES,
        };
}

int store_set_options(Store *s, const StoreOptions *o) {
        char *root = NULL;

        if (!s || !o)
                return -EINVAL;
        if (o->cmdline_proc_root && !(root = strdup(o->cmdline_proc_root)))
                return -ENOMEM;
        free(s->cmdline_proc_root);
        s->cmdline_proc_root = root;
        s->retention_ns[0] = o->raw_retention_ns;
        s->retention_ns[1] = o->minute_retention_ns;
        s->retention_ns[2] = o->hour_retention_ns;
        s->queue_max_bytes = o->queue_max_bytes > 0 ? o->queue_max_bytes : STORE_DEFAULT_QUEUE_MAX_BYTES;
        return 0;
}

/* ---- The buffer of intervals that could not be written ------------------ */

struct QueuedInterval {
        IntervalRecord rec;
        EnergyDomain *edomains;
        DomainRecord *domains;
        char **strings;               /* source and idle_method copies */
        ProcessInfo *infos;
        ProcessDelta *procs;
        double *proc_j;
        uint64_t bytes;
        QueuedInterval *next;
};

static QueuedInterval *queued_free(QueuedInterval *q) {
        if (!q)
                return NULL;
        for (size_t i = 0; q->infos && i < q->rec.n_procs; i++) {
                free(q->infos[i].exe);
                free(q->infos[i].unit);
                free(q->infos[i].cgroup_path);
        }
        for (size_t j = 0; q->strings && j < 2 * q->rec.n_domains; j++)
                free(q->strings[j]);
        free(q->strings);
        free(q->edomains);
        free(q->domains);
        free(q->infos);
        free(q->procs);
        free(q->proc_j);
        free(q);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(QueuedInterval *, queued_free);

static bool proc_gets_row(const IntervalRecord *rec, size_t i) {
        if (rec->procs[i].cpu_ns > 0 || rec->procs[i].wakeups > 0)
                return true;
        for (size_t j = 0; rec->proc_domain_j && j < rec->n_domains; j++)
                if (rec->domains[j].valid && rec->proc_domain_j[i * rec->n_domains + j] != 0)
                        return true;
        return false;
}

static int dup_str(const char *src, char **dst) {
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

/* A deep copy of what store_write_interval() needs, processes without a row left out. */
static int queued_new(const IntervalRecord *rec, QueuedInterval **ret) {
        _cleanup_(queued_freep) QueuedInterval *q = NULL;
        size_t nd = rec->n_domains, np = 0, k = 0;

        for (size_t i = 0; i < rec->n_procs; i++)
                np += proc_gets_row(rec, i);

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->edomains = calloc(MAX(nd, (size_t) 1), sizeof(EnergyDomain));
        q->domains = calloc(MAX(nd, (size_t) 1), sizeof(DomainRecord));
        q->strings = calloc(MAX(2 * nd, (size_t) 1), sizeof(char *));
        q->infos = calloc(MAX(np, (size_t) 1), sizeof(ProcessInfo));
        q->procs = calloc(MAX(np, (size_t) 1), sizeof(ProcessDelta));
        q->proc_j = calloc(MAX(np * nd, (size_t) 1), sizeof(double));
        if (!q->edomains || !q->domains || !q->strings || !q->infos || !q->procs || !q->proc_j)
                return -ENOMEM;
        q->rec = *rec;
        q->rec.n_domains = nd;
        q->rec.domains = q->domains;
        q->rec.procs = q->procs;
        q->rec.proc_domain_j = q->proc_j;
        q->rec.n_procs = 0; /* grows as infos are filled, so that queued_free() frees just those */
        q->bytes = sizeof(*q) + nd * (sizeof(EnergyDomain) + sizeof(DomainRecord)) +
                   np * (sizeof(ProcessInfo) + sizeof(ProcessDelta) + nd * sizeof(double));

        for (size_t j = 0; j < nd; j++) {
                q->domains[j] = rec->domains[j];
                q->edomains[j] = *rec->domains[j].domain;
                q->domains[j].domain = &q->edomains[j];
                if (dup_str(rec->domains[j].source, &q->strings[2 * j]) < 0 ||
                    dup_str(rec->domains[j].idle_method, &q->strings[2 * j + 1]) < 0)
                        return -ENOMEM;
                q->domains[j].source = q->strings[2 * j];
                q->domains[j].idle_method = q->strings[2 * j + 1];
        }
        for (size_t i = 0; i < rec->n_procs; i++) {
                ProcessInfo *info;

                if (!proc_gets_row(rec, i))
                        continue;
                info = &q->infos[k];
                *info = *rec->procs[i].info;
                info->exe = info->unit = info->cgroup_path = NULL;
                q->rec.n_procs = k + 1;
                if (dup_str(rec->procs[i].info->exe, &info->exe) < 0 ||
                    dup_str(rec->procs[i].info->unit, &info->unit) < 0 ||
                    dup_str(rec->procs[i].info->cgroup_path, &info->cgroup_path) < 0)
                        return -ENOMEM;
                q->bytes += (info->exe ? strlen(info->exe) + 1 : 0) + (info->unit ? strlen(info->unit) + 1 : 0);
                /* The process row is looked up again (same identity → same id). */
                info->store_id = 0;
                q->procs[k] = (ProcessDelta) { .info = info, .cpu_ns = rec->procs[i].cpu_ns,
                                               .wakeups = rec->procs[i].wakeups };
                if (rec->proc_domain_j)
                        memcpy(q->proc_j + k * nd, rec->proc_domain_j + i * nd, nd * sizeof(double));
                k++;
        }
        q->rec.n_procs = k;
        *ret = TAKE_PTR(q);
        return 0;
}

static void store_queue_drop_head(Store *s) {
        QueuedInterval *q = s->queue_head;

        if (!q)
                return;
        s->queue_head = q->next;
        if (!s->queue_head)
                s->queue_tail = NULL;
        s->qstats.queued--;
        s->qstats.queued_bytes -= q->bytes;
        queued_free(q);
}

static void store_queue_clear(Store *s) {
        while (s->queue_head)
                store_queue_drop_head(s);
}

static int store_queue_push(Store *s, const IntervalRecord *rec) {
        QueuedInterval *q = NULL;
        int r;

        r = queued_new(rec, &q);
        if (r < 0) {
                s->qstats.dropped++;
                return r;
        }
        s->qstats.buffered_total++;
        while (s->queue_head && s->qstats.queued_bytes + q->bytes > s->queue_max_bytes) {
                store_queue_drop_head(s);
                s->qstats.dropped++;
        }
        if (s->queue_tail)
                s->queue_tail->next = q;
        else
                s->queue_head = q;
        s->queue_tail = q;
        s->qstats.queued++;
        s->qstats.queued_bytes += q->bytes;
        return 0;
}

/* Errors worth retrying later; anything else would fail again forever. */
static bool write_error_retryable(int r) {
        return r == -ENOSPC || r == -EROFS || r == -EBUSY || r == -EIO || r == -EACCES || r == -ENOMEM ||
               r == -ENOENT;
}

static int store_queue_flush(Store *s) {
        while (s->queue_head) {
                int r = store_write_interval(s, &s->queue_head->rec);
                if (r < 0 && write_error_retryable(r))
                        return r;
                if (r < 0)
                        s->qstats.dropped++;
                else
                        s->qstats.written_late++;
                store_queue_drop_head(s);
        }
        return 0;
}

int store_write_buffered(Store *s, const IntervalRecord *rec) {
        int r;

        if (!s || !rec)
                return -EINVAL;
        r = store_queue_flush(s);
        if (r >= 0) {
                r = store_write_interval(s, rec);
                if (r >= 0 || !write_error_retryable(r))
                        return r;
        } else if (validate_interval(rec) < 0)
                return -EINVAL;
        (void) store_queue_push(s, rec);
        return r;
}

void store_queue_stats(Store *s, StoreQueueStats *ret) {
        if (!s) {
                *ret = (StoreQueueStats) {};
                return;
        }
        *ret = s->qstats;
}

/* ---- Rollups and retention ---------------------------------------------- */

typedef struct RollupState {
        int64_t minute_done, hour_done, raw_from, minute_from;
} RollupState;

static int store_rollup_state(Store *s, RollupState *ret) {
        sqlite3_stmt *st = s->stmt[STMT_ROLLUP_STATE];
        int rc = sqlite3_step(st), r = 0;

        if (rc == SQLITE_ROW)
                *ret = (RollupState) {
                        .minute_done = sqlite3_column_int64(st, 0),
                        .hour_done = sqlite3_column_int64(st, 1),
                        .raw_from = sqlite3_column_int64(st, 2),
                        .minute_from = sqlite3_column_int64(st, 3),
                };
        else
                r = rc == SQLITE_DONE ? -EBADMSG : store_errno_db(s->db, rc);
        sqlite3_reset(st);
        return r;
}

/* End of the first row of `level` ending after `after`, 0 when none. */
static int store_next_end(Store *s, int level, int64_t after, int64_t *ret) {
        sqlite3_stmt *st = s->stmt[STMT_NEXT_BUCKET];
        int64_t v = 0;
        int rc, r = 0;

        sqlite3_bind_int(st, 1, level);
        sqlite3_bind_int64(st, 2, after);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0); /* NULL → 0 */
        else
                r = store_errno_db(s->db, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        *ret = v;
        return r;
}

static int store_begin(Store *s) {
        return stmt_run(s, s->stmt[STMT_BEGIN], NULL);
}

static int store_end(Store *s, int r) {
        if (r >= 0)
                r = stmt_run(s, s->stmt[STMT_COMMIT], NULL);
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void) stmt_run(s, s->stmt[STMT_ROLLBACK], NULL);
        return r;
}

static int stmt_bucket(Store *s, StoreStatement which, int64_t b, int64_t e, int64_t a3, int a4, int64_t *ret_id) {
        sqlite3_stmt *st = s->stmt[which];
        sqlite3_bind_int64(st, 1, b);
        sqlite3_bind_int64(st, 2, e);
        sqlite3_bind_int64(st, 3, a3);
        sqlite3_bind_int(st, 4, a4);
        return stmt_run(s, st, ret_id);
}

static int stmt_level_value(Store *s, StoreStatement which, int level, int64_t v) {
        sqlite3_stmt *st = s->stmt[which];
        sqlite3_bind_int(st, 1, level);
        sqlite3_bind_int64(st, 2, v);
        return stmt_run(s, st, NULL);
}

/* Roll the bucket (b, b + size] of level - 1 up into one row of `level`,
 * and record that everything up to b + size is done, in one transaction. */
static int store_rollup_bucket(Store *s, int level, int64_t b, int64_t size) {
        int64_t id = 0;
        int r;

        r = store_begin(s);
        if (r < 0)
                return r;
        r = stmt_bucket(s, STMT_ROLLUP_INTERVAL, b, b + size, level, level - 1, &id);
        if (r >= 0 && id > 0) {
                r = stmt_bucket(s, STMT_ROLLUP_SAMPLES, b, b + size, id, level - 1, NULL);
                if (r >= 0)
                        r = stmt_bucket(s, STMT_ROLLUP_SAMPLE_DOMAINS, b, b + size, id, level - 1, NULL);
                if (r >= 0)
                        r = stmt_bucket(s, STMT_ROLLUP_INTERVAL_DOMAINS, b, b + size, id, level - 1, NULL);
                if (r >= 0 && level == 2) {
                        /* When its processes were last seen, for pruning them much later. */
                        sqlite3_stmt *st = s->stmt[STMT_MARK_SEEN];
                        sqlite3_bind_int64(st, 1, id);
                        sqlite3_bind_int64(st, 2, b + size);
                        r = stmt_run(s, st, NULL);
                }
        }
        if (r >= 0 && level <= 2)
                r = stmt_level_value(s, STMT_SET_DONE, level, b + size);
        return store_end(s, r);
}

/* Delete at most `batch` rows of `level` ending at or before `upto` (with
 * their figures) in one transaction. Returns how many went, or negative errno. */
static int store_prune_batch(Store *s, int level, int64_t upto, int batch) {
        sqlite3_stmt *st = s->stmt[STMT_PRUNE];
        int r, n;

        r = store_begin(s);
        if (r < 0)
                return r;
        sqlite3_bind_int(st, 1, level);
        sqlite3_bind_int64(st, 2, upto);
        sqlite3_bind_int(st, 3, batch);
        r = stmt_run(s, st, NULL);
        n = r >= 0 ? sqlite3_changes(s->db) : 0;
        r = store_end(s, r);
        return r < 0 ? r : n;
}

static int store_set_from(Store *s, int level, int64_t v) {
        int r = store_begin(s);
        if (r < 0)
                return r;
        return store_end(s, stmt_level_value(s, STMT_SET_FROM, level, v));
}

static int store_max_end(Store *s, int level, int64_t *ret) {
        sqlite3_stmt *st = s->stmt[STMT_MAX_END];
        int rc, r = 0;

        sqlite3_bind_int(st, 1, level);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        else
                r = store_errno_db(s->db, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

static int64_t floor_to(int64_t v, int64_t unit) {
        return v <= 0 ? 0 : v / unit * unit;
}

/* Called before each step of store_maintain(): is there time left for one
 * more? The first step of a call always runs (progress); later ones only when
 * the longest recent step (a decaying maximum) still fits before the deadline,
 * so that a call ends near its budget, not one long step past it. */
static bool over_budget_step(Store *s, uint64_t deadline) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);

        if (s->step_t0 > 0) {
                uint64_t d = now - s->step_t0;
                s->step_est_ns = MAX(d, s->step_est_ns - s->step_est_ns / 8);
        }
        s->step_t0 = now;
        if (s->steps_in_call++ == 0)
                return false;
        return now + s->step_est_ns >= deadline;
}
#define over_budget(deadline) over_budget_step(s, deadline)

/* Rows per prune transaction: a raw interval of 200 processes is ~600 rows. */
#define PRUNE_BATCH 8
/* Process ids examined per prune transaction. */
#define PROCESS_PRUNE_IDS 4096

/* Delete process rows nothing refers to any more: last seen in an hour
 * rollup (or started, if never rolled up) at or before `cutoff`, the end of
 * what the hour retention keeps. A live process whose cached id goes is
 * written again under a new id (store_write_interval() retries). Runs with
 * foreign keys off: checking them would scan samples once per row, and the
 * rows deleted are not referred to by construction. */
static int store_prune_processes(Store *s, const RollupState *rs, int64_t cutoff, uint64_t deadline) {
        sqlite3_stmt *st = s->stmt[STMT_PRUNE_PROCESSES];
        int64_t max_id = 0;
        int r = 0;

        if (cutoff <= s->proc_pruned_upto)
                return 0;
        r = query_int(s->db, "SELECT coalesce(max(id), 0) FROM processes", &max_id);
        if (r < 0)
                return r;
        r = store_exec(s, "PRAGMA foreign_keys = OFF");
        if (r < 0)
                return r;
        while (s->proc_prune_cursor < max_id) {
                int64_t next = s->proc_prune_cursor + PROCESS_PRUNE_IDS;

                if (over_budget(deadline)) {
                        r = 1;
                        break;
                }
                r = store_begin(s);
                if (r < 0)
                        break;
                sqlite3_bind_int64(st, 1, s->proc_prune_cursor);
                sqlite3_bind_int64(st, 2, next + 1);
                sqlite3_bind_int64(st, 3, cutoff);
                sqlite3_bind_int64(st, 4, rs->hour_done);
                sqlite3_bind_int64(st, 5, rs->minute_done);
                r = store_end(s, stmt_run(s, st, NULL));
                if (r < 0)
                        break;
                s->proc_prune_cursor = next;
        }
        if (r == 0) {
                /* A full pass: the next one when the cutoff has moved on an hour. */
                s->proc_pruned_upto = cutoff + (int64_t) STORE_HOUR_NS;
                s->proc_prune_cursor = 0;
        }
        {
                int k = store_exec(s, "PRAGMA foreign_keys = ON");
                if (k < 0)
                        return k;
        }
        return r;
}

int store_maintain(Store *s, uint64_t now_realtime_ns, unsigned budget_ms) {
        static const int64_t size[4] = { 0, (int64_t) STORE_MINUTE_NS, (int64_t) STORE_HOUR_NS, (int64_t) STORE_DAY_NS };
        uint64_t deadline;
        int64_t now, limit, day_done = 0;
        RollupState rs = {};
        int r, rc;

        if (!s)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;
        if (check_u64(now_realtime_ns) < 0)
                return -ERANGE;
        deadline = now_ns(CLOCK_MONOTONIC) + (budget_ms > 0 ? budget_ms : 50) * NSEC_PER_MSEC;
        now = (int64_t) now_realtime_ns;
        s->step_t0 = 0;
        s->steps_in_call = 0;

        r = store_rollup_state(s, &rs);
        if (r >= 0)
                r = store_max_end(s, 3, &day_done);
        if (r < 0)
                return r;

        /* Roll up complete buckets: minutes from raw, hours from minutes, days
         * from hours. Never past an interval still waiting in the buffer: it
         * would land in a bucket already rolled up and be hidden from readers.
         * One bucket per transaction, each a few milliseconds. */
        limit = now;
        if (s->queue_head)
                limit = MIN(limit, (int64_t) s->queue_head->rec.start_ns);
        for (int level = 1; level <= 3; level++) {
                int64_t *done = level == 1 ? &rs.minute_done : level == 2 ? &rs.hour_done : &day_done;

                if (level == 2)
                        limit = rs.minute_done;
                else if (level == 3)
                        limit = rs.hour_done;
                for (;;) {
                        int64_t end, b;

                        r = store_next_end(s, level - 1, *done, &end);
                        if (r < 0)
                                return r;
                        if (end <= 0)
                                break;
                        b = floor_to(end - 1, size[level]);
                        if (b + size[level] > limit)
                                break;
                        if (over_budget(deadline))
                                return 1;
                        r = store_rollup_bucket(s, level, b, size[level]);
                        if (r < 0)
                                return r;
                        *done = b + size[level];
                }
        }

        /* Prune raw and minute rows past their retention. First the readers'
         * boundary moves (raw_from/minute_from: rows of that level ending at
         * or before it are no longer read, the coarser level stands for them),
         * then the hidden rows go in small batches, resumed on the next call. */
        for (int level = 0; level <= 1; level++) {
                int64_t covered = level == 0 ? rs.minute_done : rs.hour_done;
                int64_t *from = level == 0 ? &rs.raw_from : &rs.minute_from;

                if (s->retention_ns[level] != 0 && (int64_t) s->retention_ns[level] < now) {
                        int64_t target = MIN(floor_to(now - (int64_t) s->retention_ns[level], size[level + 1]), covered);
                        if (*from < target) {
                                r = store_set_from(s, level, target);
                                if (r < 0)
                                        return r;
                                *from = target;
                        }
                }
                for (;;) {
                        if (over_budget(deadline))
                                return 1;
                        r = store_prune_batch(s, level, *from, PRUNE_BATCH);
                        if (r < 0)
                                return r;
                        if (r < PRUNE_BATCH)
                                break;
                }
        }
        /* Hours and days past the hour retention, then the processes that
         * nothing refers to any more. */
        if (s->retention_ns[2] > 0 && (int64_t) s->retention_ns[2] < now) {
                int64_t cutoff = now - (int64_t) s->retention_ns[2];

                for (int level = 2; level <= 3; level++)
                        for (;;) {
                                if (over_budget(deadline))
                                        return 1;
                                /* A day goes with its first hour. */
                                r = store_prune_batch(s, level, level == 3 ? cutoff + size[3] - size[2] : cutoff,
                                                      PRUNE_BATCH);
                                if (r < 0)
                                        return r;
                                if (r < PRUNE_BATCH)
                                        break;
                        }
                r = store_prune_processes(s, &rs, floor_to(cutoff, size[2]), deadline);
                if (r != 0)
                        return r;
        }
        if (over_budget(deadline))
                return 1;
        /* Move the WAL into the database (never waits for readers), in the
         * checkpoint thread when there is one. */
        if (s->ckpt_started) {
                pthread_mutex_lock(&s->ckpt_lock);
                s->ckpt_requested = true;
                pthread_cond_signal(&s->ckpt_cond);
                pthread_mutex_unlock(&s->ckpt_lock);
                return 0;
        }
        rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
                return store_errno_db(s->db, rc);
        return 0;
}
