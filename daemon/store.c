/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "schema.h"
#include "util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

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
                "idle_j, attributed_j, unattributed_j, idle_w, idle_method) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        [STMT_UPSERT_PROCESS] =
                ("INSERT INTO processes (boot_id, pid, start_boot_ns, start_ns, comm, exe, uid, "
                "ppid, cgroup_id, unit, kernel_thread) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                "ON CONFLICT (boot_id, pid, start_boot_ns) DO UPDATE SET "
                "comm = excluded.comm, exe = coalesce(excluded.exe, exe), uid = excluded.uid, "
                "ppid = excluded.ppid, cgroup_id = excluded.cgroup_id, "
                "unit = coalesce(excluded.unit, unit), kernel_thread = excluded.kernel_thread "
                "RETURNING id"),
        [STMT_INSERT_SAMPLE] =
                ("INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j) "
                "VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (interval_id, process_id) DO UPDATE SET "
                "cpu_ns = cpu_ns + excluded.cpu_ns, energy_j = energy_j + excluded.energy_j"),
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
};

typedef struct DomainCacheEntry {
        char name[DOMAIN_NAME_MAX];
        char source[32];
        bool estimated, host_total;
        DomainKind kind;
        int64_t id;
} DomainCacheEntry;

struct Store {
        sqlite3 *db;
        char *path;
        StoreFlags flags;
        char boot_id[64];
        sqlite3_stmt *stmt[_STMT_MAX];

        DomainCacheEntry *domains;
        size_t n_domains, n_domains_alloc;
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
        static const char *const names[_DOMAIN_KIND_MAX] = {
                [DOMAIN_PACKAGE] = "package", [DOMAIN_CORE] = "core",   [DOMAIN_UNCORE] = "uncore",
                [DOMAIN_DRAM] = "dram",       [DOMAIN_PSYS] = "psys",   [DOMAIN_GPU] = "gpu",
                [DOMAIN_BATTERY] = "battery",
        };
        if (k < 0 || k >= _DOMAIN_KIND_MAX)
                return "unknown";
        return names[k];
}

static const char *probe_status_name(SourceStatus s) {
        switch (s) {
        case SOURCE_USABLE:
                return "usable";
        case SOURCE_MISSING:
                return "missing";
        case SOURCE_PERMISSION:
                return "permission";
        case SOURCE_UNSUPPORTED:
                return "unsupported";
        default:
                return "unknown";
        }
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

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        if (s->db)
                sqlite3_close(s->db);
        free(s->domains);
        free(s->path);
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

        if (version > latest)
                return log_error_errno(-EPROTO,
                                       "database %s has schema version %" PRIi64
                                       ", newer than this jouled understands (%d); upgrade jouled",
                                       s->path, version, latest);
        if ((version == 0 && n_tables > 0) || (version > 0 && n_ours < 4))
                return log_error_errno(-EBADMSG,
                                       "File %s is an SQLite database of another program "
                                       "(schema version %" PRIi64 ", %" PRIi64 " tables, not jouled's); "
                                       "refusing to use it, leaving it untouched",
                                       s->path, version, n_tables);
        *ret_version = (int) version;
        return 0;
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
        s->path = strdup(path);
        if (!s->path)
                return log_oom();

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
                *ret = TAKE_PTR(s);
                return 0;
        }

        r = store_exec(s, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = store_exec(s, "PRAGMA synchronous = NORMAL");
        if (r >= 0)
                r = store_exec(s, "PRAGMA foreign_keys = ON");
        if (r < 0)
                return log_error_errno(r, "Failed to configure database %s: %s", path, sqlite3_errmsg(s->db));

        r = store_migrate(s, version);
        if (r < 0)
                return r;

        for (size_t i = 0; i < _STMT_MAX; i++) {
                rc = sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
                if (rc != SQLITE_OK)
                        return log_error_errno(store_errno_db(s->db, rc), "Failed to prepare statement on %s: %s",
                                               path, sqlite3_errmsg(s->db));
        }

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

static int store_process_id(Store *s, const IntervalRecord *rec, ProcessInfo *p, bool *ret_assigned) {
        sqlite3_stmt *st = s->stmt[STMT_UPSERT_PROCESS];
        uint64_t start_ns;
        int64_t id = 0;
        int r;

        *ret_assigned = false;
        if (p->store_id > 0)
                return 0;
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
        bind_text_or_null(st, 10, p->unit);
        sqlite3_bind_int(st, 11, p->kernel_thread);
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
                r = stmt_run(s, st, NULL);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < rec->n_procs; i++) {
                const ProcessDelta *pd = &rec->procs[i];
                const double *row = rec->proc_domain_j ? rec->proc_domain_j + i * rec->n_domains : NULL;
                double energy = 0;
                bool any = pd->cpu_ns > 0;

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

                st = s->stmt[STMT_INSERT_SAMPLE];
                sqlite3_bind_int64(st, 1, interval_id);
                sqlite3_bind_int64(st, 2, pd->info->store_id);
                sqlite3_bind_int64(st, 3, (int64_t) pd->cpu_ns);
                sqlite3_bind_double(st, 4, energy);
                r = stmt_run(s, st, NULL);
                if (r < 0)
                        return r;

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
