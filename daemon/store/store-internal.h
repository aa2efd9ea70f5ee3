/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <assert.h>

/* What the store's files share: the Store object and its prepared
 * statements. Not for use outside daemon/store/. */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sqlite-util.h"
#include "store.h"

/* The WAL (4 KiB pages): a checkpoint is asked for once it holds
 * STORE_WAL_CHECKPOINT_FRAMES pages, one that waits for readers (at most
 * STORE_WAL_TRUNCATE_WAIT_MS) past STORE_WAL_TRUNCATE_FRAMES; the file is
 * cut back to STORE_WAL_SIZE_LIMIT bytes after a full checkpoint. */
#define STORE_WAL_CHECKPOINT_FRAMES 256
#define STORE_WAL_TRUNCATE_FRAMES   1024
#define STORE_WAL_TRUNCATE_WAIT_MS  100
#define STORE_WAL_SIZE_LIMIT        2097152
#define STORE_BUSY_TIMEOUT_MS       5000
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Every statement the writer runs, prepared once by store_open(). Each file
 * lists the SQL of those it runs. */
typedef enum StoreStatement {
        /* Transactions */
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        /* Interval write path, daemon state (store-write.c) */
        STMT_INSERT_INTERVAL,
        STMT_SET_INTERVAL_RATES,
        STMT_UPSERT_DOMAIN,
        STMT_INSERT_INTERVAL_DOMAIN,
        STMT_UPSERT_BOOT,
        STMT_INSERT_PROCESS,
        STMT_PROCESS_LABELS,
        STMT_UPDATE_PROCESS,
        STMT_LOOKUP_LABELS,
        STMT_INSERT_LABELS,
        STMT_INSERT_SAMPLE,
        STMT_INSERT_SAMPLE_DOMAIN,
        STMT_SET_STATE,
        STMT_DELETE_PROBES,
        STMT_INSERT_PROBE,
        /* Rollups and retention (store-maintain.c) */
        STMT_ROLLUP_STATE,
        STMT_NEXT_BUCKET,
        STMT_ROLLUP_INTERVAL,
        STMT_ROLLUP_RAW_SAMPLE_DOMAINS,
        STMT_ROLLUP_RAW_SAMPLES,
        STMT_ROLLUP_SAMPLES,
        STMT_ROLLUP_SAMPLE_DOMAINS,
        STMT_ROLLUP_INTERVAL_DOMAINS,
        STMT_SET_DONE,
        STMT_PRUNE,
        STMT_SET_FROM,
        STMT_MAX_END,
        STMT_PRUNE_PROCESSES,
        STMT_MARK_SEEN,
        STMT_FOLD_FIND,
        STMT_FOLD_NEW,
        STMT_FOLD_INTERVAL,
        STMT_FOLD_SAMPLES,
        STMT_FOLD_SAMPLE_DOMAINS,
        STMT_FOLD_INTERVAL_DOMAINS,
        _STMT_MAX,
} StoreStatement;

typedef struct StoreStatementSql {
        StoreStatement id;
        const char *sql;
} StoreStatementSql;

extern const StoreStatementSql store_write_statements[];      /* store-write.c */
extern const size_t store_write_n_statements;
extern const StoreStatementSql store_maintain_statements[];   /* store-maintain.c */
extern const size_t store_maintain_n_statements;

/* A domain row the writer knows the id of, with what that row says. */
typedef struct DomainCacheEntry {
        char name[DOMAIN_NAME_MAX];
        char source[32];
        bool estimated, host_total;
        DomainKind kind;
        int64_t id;
} DomainCacheEntry;

/* One interval waiting in the write-failure queue (store-queue.c). */
typedef struct QueuedInterval QueuedInterval;
/* A deep copy of an interval that could not be written yet (store-queue.c). */
struct QueuedInterval {
        IntervalRecord rec;
        EnergyDomain *edomains;
        DomainRecord *domains;
        char **strings;               /* source and idle_method copies */
        ProcessInfo *infos;
        ProcessDelta *procs;
        double *proc_j;               /* n_procs × n_domains dynamic energies, then as many idle shares */
        uint64_t bytes;
        QueuedInterval *next;
};


struct Store {
        sqlite3 *db;
        char *path;
        StoreFlags flags;
        int lock_fd;                  /* PATH.lock, locked (writers), else -1 */
        dev_t dev;                    /* the database file open now */
        ino_t ino;
        char boot_id[64];
        /* Generation of the process and label set ids cached in ProcessInfo:
         * a new one for each store and each database file. */
        uint64_t gen;
        /* Process rows whose last raw sample ended at or before it may have
         * been pruned: a cached id of a process last written then is looked
         * up again. */
        uint64_t procs_pruned_upto_ns;
        int64_t boot_row;             /* boots.id of boot_id, valid for generation boot_row_gen */
        uint64_t boot_row_gen;
        int compat_version;           /* reader of an older schema: the version its views are for */
        sqlite3_stmt *stmt[_STMT_MAX];

        DomainCacheEntry *domains;
        size_t n_domains, n_domains_alloc;

        uint64_t retention_ns[3];     /* raw, minute, hour; 0: forever */

        /* Write-failure queue (store-queue.c) */
        uint64_t queue_max_bytes;
        QueuedInterval *queue_head, *queue_tail;
        StoreQueueStats qstats;

        /* Maintenance (store-maintain.c) */
        uint64_t step_t0, step_est_ns; /* store_maintain(): start of the step, longest recent one */
        unsigned steps_in_call;

        /* WAL checkpoints run in a thread of their own, on a connection of
         * their own: copying a minute of WAL into the database (and syncing
         * it) took up to hundreds of ms, too long for the event loop.
         * Writers go on meanwhile (a PASSIVE checkpoint takes no write lock). */
        sqlite3 *ckpt_db;
        pthread_t ckpt_thread;
        bool ckpt_started, ckpt_quit, ckpt_running;
        int ckpt_requested;           /* SQLITE_CHECKPOINT_* asked for, -1: none */
        uint64_t ckpt_done;           /* checkpoints the thread ran */
        pthread_mutex_t ckpt_lock;
        pthread_cond_t ckpt_cond;
};

/* store.c */
/* A generation no store used before (never 0). */
uint64_t store_generation_new(void);
int store_exec(Store *s, const char *sql);
/* Run prepared statement `which` (see sqlite_stmt_run()). */
int store_stmt_run(Store *s, StoreStatement which, int64_t *ret_id);
/* Run lookup statement `which` (see sqlite_stmt_lookup()). */
int store_stmt_lookup(Store *s, StoreStatement which, int64_t *ret);
/* BEGIN IMMEDIATE; store_end() commits when r >= 0, else rolls back, and
 * returns r or the commit's error. */
int store_begin(Store *s);
int store_end(Store *s, int r);
/* Ask the checkpoint thread for a checkpoint (SQLITE_CHECKPOINT_PASSIVE or
 * _TRUNCATE); false when there is no thread (the caller checkpoints itself). */
bool store_checkpoint_request(Store *s, int mode);
/* Start the checkpoint thread (once; store_maintain() does, see store.c). */
void store_start_checkpointer(Store *s);
/* The checkpoint connection, opened with the database (store.c), and the
 * thread's end and the connection's close, at close. */
void store_open_checkpointer(Store *s);
void store_stop_checkpointer(Store *s);
/* Registered with sqlite3_wal_hook(): keeps the WAL small. */
int store_wal_hook(void *userdata, sqlite3 *db, const char *name, int n_frames);

/* store-write.c */
/* -EINVAL for a record store_write_interval() would refuse. */
int store_interval_validate(const IntervalRecord *rec);
/* "package", "core", ... as stored in domains.kind. */
const char *store_domain_kind_name(DomainKind k);

/* store-maintain.c */
/* Raw interval raw_id (ending at end_ns) was just written, in the caller's
 * transaction: when it ends at or before what is rolled up already (the
 * wall clock went back), add it to the rollup rows of its minute, hour and
 * day, so that readers, who read those rows there, count it. */
int store_fold_late(Store *s, int64_t raw_id, uint64_t end_ns);

/* store-queue.c */
void store_queue_clear(Store *s);
/* Start of the oldest interval waiting in the queue; false when it is empty. */
static inline bool store_queue_oldest_start(Store *s, uint64_t *ret_start_ns) {
        assert(s);
        assert(ret_start_ns);
        if (!s->queue_head)
                return false;
        *ret_start_ns = s->queue_head->rec.start_ns;
        return true;
}
