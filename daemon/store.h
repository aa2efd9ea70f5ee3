/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "process.h"
#include "source.h"

/* The store: one SQLite file, WAL, schema from schema/NNNN-*.sql applied as
 * numbered migrations tracked by PRAGMA user_version. All functions return 0
 * or negative errno (SQLite result codes are converted here) and do not log,
 * except store_open(), which logs why a file was refused. */

typedef enum StoreFlags {
        STORE_READ_ONLY = 1 << 0,  /* joulectl: never writes, never migrates */
        STORE_CREATE    = 1 << 1,  /* jouled: create the file (0640) and its directory */
} StoreFlags;

typedef struct Store Store;

/* Open (STORE_CREATE: create, migrate) or open read-only (never creates,
 * never migrates). Logs why it failed, with one exception: a reader's missing
 * file returns -ENOENT silently so that the caller can word it. Refusals:
 * a newer schema (-EPROTO), a file that is not SQLite or is another
 * program's SQLite database (-EBADMSG); such files are left untouched. */
int store_open(const char *path, StoreFlags flags, Store **ret);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
sqlite3 *store_db(Store *s);
int store_schema_version(Store *s);       /* PRAGMA user_version */
int store_latest_schema_version(void);    /* what this program knows */
const char *store_path(Store *s);
/* SQLite result code → negative errno (0 for OK/ROW/DONE). */
int store_errno(int sqlite_rc);
/* "package", "core", ... as stored in domains.kind. */
const char *store_domain_kind_name(DomainKind k);

/* One domain's figures for one interval. */
typedef struct DomainRecord {
        const EnergyDomain *domain;
        const char *source;          /* "rapl", "model", ... */
        bool host_total;             /* counts in the host total */
        bool valid;                  /* false: not read this interval (no row written) */
        double measured_j, idle_j, attributed_j, unattributed_j;
        double idle_w;
        const char *idle_method;
} DomainRecord;

typedef struct IntervalRecord {
        uint64_t start_ns, end_ns;   /* CLOCK_REALTIME */
        uint64_t boot_realtime_ns;   /* realtime of boot: converts start_time_ns to wall time */
        size_t n_domains;
        const DomainRecord *domains;
        size_t n_procs;
        const ProcessDelta *procs;
        const double *proc_domain_j; /* n_procs × n_domains, row-major by process */
} IntervalRecord;

/* Write one interval in one transaction. Sets procs[i].info->store_id of
 * every process that gets a sample row; a process with no CPU time and no
 * energy in the interval gets none. Domains with valid=false are skipped
 * (no interval_domains row, their per-process figures ignored). On failure
 * nothing of the interval is kept and ids handed out in it are reset to 0. */
int store_write_interval(Store *s, const IntervalRecord *rec);

/* Daemon state shown by `joulectl status` (key/value, replaced). */
int store_set_state(Store *s, const char *key, const char *value);
/* Replace the source probe table. in_use[i] says whether probes[i] feeds a domain. */
int store_set_probes(Store *s, const SourceProbe *probes, const bool *in_use, size_t n);
