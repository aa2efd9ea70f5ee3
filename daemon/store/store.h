/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "process.h"
#include "source.h"
#include "sqlite-util.h"
#include "store-defaults.h"

/* The store: one SQLite file, WAL, schema from schema/NNNN-*.sql applied as
 * numbered migrations tracked by PRAGMA user_version. All functions return 0
 * or negative errno (SQLite result codes are converted here) and do not log,
 * except store_open(), which logs why a file was refused. */

typedef enum StoreFlags {
        STORE_READ_ONLY = 1 << 0,  /* joulectl: never writes, never migrates */
        STORE_CREATE    = 1 << 1,  /* jouled: create the file (0640), never its directory */
        STORE_CREATE_PARENTS = 1 << 2, /* with STORE_CREATE: also create missing directories (0755) */
} StoreFlags;

typedef struct Store Store;

/* Open (STORE_CREATE: create, migrate) or open read-only (never creates,
 * never migrates, never locks). A writer first takes an exclusive lock on
 * "PATH.lock" (created 0640 beside the database, holding the writer's PID):
 * while another writer holds it, store_open() logs one line naming that PID
 * and returns -EBUSY. A symbolic link at PATH (or at PATH.lock) is refused
 * (-ELOOP), and so is a missing directory unless STORE_CREATE_PARENTS
 * (-ENOENT). Logs why it failed, with two exceptions: a reader's missing
 * file returns -ENOENT and a file it may not read -EACCES, silently, so that
 * the caller can word them. Refusals:
 * a newer schema (-EPROTO), a file that is not SQLite or is another
 * program's SQLite database (-EBADMSG); such files are left untouched. */
int store_open(const char *path, StoreFlags flags, Store **ret);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
/* The connection, for readers' own queries (store_errno() and the statement
 * cleanup of sqlite-util.h go with it). A database of an older schema reads
 * as the newest (store-compat.h). */
sqlite3 *store_db(Store *s);
int store_schema_version(Store *s);       /* PRAGMA user_version */

/* Is a writer (jouled) holding the database at path? ret_running: whether
 * the lock is held now; ret_pid: the holder's PID when it is, else 0. Takes
 * no lock (never in a writer's way). 0 with *ret_running false when there is
 * no lock file; -EACCES when it may not be read. Does not log. */
int store_owner(const char *path, pid_t *ret_pid, bool *ret_running);

/* Is the file at the database path still the one open? When it was deleted
 * or replaced, close it, drop its -wal and -shm (they belong to the old
 * file) and open the path again as at start (creating a new database, or
 * taking the replacement when it is a jouled database). Returns 0 when the
 * file is unchanged, 1 when a new one was opened, negative errno when that
 * failed (try again later: writes fail meanwhile). Does not log, except what
 * store_open() logs about a refused file. */
int store_verify_file(Store *s);
int store_latest_schema_version(void);    /* what this program knows */
const char *store_path(Store *s);

/* One domain's figures for one interval. */
typedef struct DomainRecord {
        const EnergyDomain *domain;
        const char *source;          /* "rapl", "model", ... */
        bool host_total;             /* counts in the host total */
        bool valid;                  /* false: not read this interval (no row written) */
        double measured_j, idle_j, attributed_j, unattributed_j;
        double irq_j;                /* part of unattributed_j that is irq + softirq time's energy */
        double idle_w;
        double idle_band_w;          /* the idle estimate's uncertainty, ± W; 0 or NAN: not given */
        const char *idle_method;     /* how idle_w was found: "configured", "regression", ... */
} DomainRecord;

typedef struct IntervalRecord {
        uint64_t start_ns, end_ns;   /* CLOCK_REALTIME */
        uint64_t boot_realtime_ns;   /* realtime of boot: converts start_time_ns to wall time */
        size_t n_domains;
        const DomainRecord *domains;
        size_t n_procs;
        const ProcessDelta *procs;
        const double *proc_domain_j; /* n_procs × n_domains, row-major by process: dynamic energy */
        /* n_procs × n_domains, row-major by process: each process's share of
         * the domain's idle energy by CPU time (the second view of a row:
         * dynamic + share of idle). Σ over processes = idle_j of the domain
         * when the whole idle energy is shared out. NULL: none (stored as 0). */
        const double *proc_idle_share_j;
} IntervalRecord;

/* Write one interval in one transaction. Sets procs[i].info->store_id of
 * every process that gets a sample row; a process with no CPU time and no
 * energy in the interval gets none. Each sample refers to the labels (comm,
 * exe, uid, cgroup path, unit, slice, container id, kernel thread) the
 * ProcessInfo holds at this write: a label change (exec, cgroup move) shows
 * from that interval on. Domains with valid=false are skipped
 * (no interval_domains row, their per-process figures ignored). On failure
 * nothing of the interval is kept and ids handed out in it are reset to 0.
 * A process row holds the ProcessInfo's strings (exe, unit, cgroup_path,
 * slice, container_id, cmdline) as given: the store derives nothing from
 * them; a NULL keeps what the row already has. */
int store_write_interval(Store *s, const IntervalRecord *rec);

/* Daemon state shown by `joulectl status` (key/value, replaced). */
int store_set_state(Store *s, const char *key, const char *value);
/* Replace the source probe table. in_use[i] says whether probes[i] feeds a domain. */
int store_set_probes(Store *s, const SourceProbe *probes, const bool *in_use, size_t n);

/* ---- Rollups, retention and the write-failure queue -------------------- */

/* Bucket sizes of the rollup levels (intervals.level 1 and 2). */
#define STORE_MINUTE_NS UINT64_C(60000000000)
#define STORE_HOUR_NS   UINT64_C(3600000000000)
#define STORE_DAY_NS    UINT64_C(86400000000000)   /* level 3 (schema 3): UTC days, kept as long as hours */

/* Default bound of the buffer of intervals that could not be written. */
#define STORE_DEFAULT_QUEUE_MAX_BYTES     (UINT64_C(32) * 1024 * 1024)

typedef struct StoreOptions {
        uint64_t raw_retention_ns, minute_retention_ns, hour_retention_ns; /* 0: forever */
        uint64_t queue_max_bytes;      /* 0: the default */
} StoreOptions;

void store_options_init(StoreOptions *o);    /* the defaults above */
int store_set_options(Store *s, const StoreOptions *o);

/* Roll complete minutes and hours up and prune what is past its retention,
 * in small transactions, for about budget_ms of wall time at most (0: 50 ms).
 * `now_realtime_ns` is the present (injected so tests and the benchmark can
 * simulate months). Never rolls up past an interval still in the write
 * buffer. Returns 0 when all is done, 1 when work is left (call again soon),
 * negative errno on failure (nothing half-done is kept). Does not log. */
int store_maintain(Store *s, uint64_t now_realtime_ns, unsigned budget_ms);

/* Write rec; if that fails (disk full, read-only, locked, I/O error), keep a
 * deep copy of it in a bounded in-memory buffer and write it, oldest first,
 * before the next interval once writes work again. Beyond the bound the oldest
 * buffered intervals are dropped and counted. Returns 0 when rec and every
 * buffered interval are on disk, otherwise the (first) write error; never
 * loses rec silently. rec NULL: only try to write what is buffered. The
 * counts of store_queue_stats() say what was buffered, written late and
 * dropped: the caller logs them. Does not log. */
int store_write_buffered(Store *s, const IntervalRecord *rec);

typedef struct StoreQueueStats {
        size_t queued;            /* intervals waiting in the buffer now */
        uint64_t queued_bytes;
        uint64_t buffered_total;  /* intervals that ever went through the buffer */
        uint64_t written_late;    /* ... and were written later */
        uint64_t dropped;         /* ... and were dropped (buffer full or refused by SQLite) */
} StoreQueueStats;
void store_queue_stats(Store *s, StoreQueueStats *ret);
