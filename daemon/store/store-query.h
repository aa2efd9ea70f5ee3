/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "group-by.h"
#include "store.h"

/* Reading the store: typed results, the SQL stays inside daemon/store/.
 *
 * A range (since, until] in CLOCK_REALTIME ns selects intervals by their end
 * time, raw intervals and rollups mixed so that nothing is counted twice
 * (each moment from exactly one level). A window (after, until] selects raw
 * intervals only (what `joulectl top` and `run` show live).
 *
 * Every function returns 0 (or 1 where said) or negative errno and does not
 * log; after a failure store_query_error() says what SQLite reported. Arrays
 * handed out are freed with the matching *_free(). A store opened on an older
 * schema is read through its compatibility views; the few queries that need
 * data older schemas lack say so with their STORE_SCHEMA_* constant. */

/* Schema versions that brought what some queries need. */
#define STORE_SCHEMA_SELF_USAGE 2   /* rollup_state: store_query_process_usage() */
#define STORE_SCHEMA_GROUPS     4   /* slices, container ids and wakeups */

/* The schema a grouping needs: slice and container came with schema 4. */
int store_group_by_schema(GroupBy by);

/* What SQLite said about the last failed query of s. */
const char *store_query_error(Store *s);

/* ---- A range: report and export ---------------------------------------- */

/* Which processes a group query reads: each list, when not empty, must
 * match (fnmatch() glob patterns, any of the list); the lists together must
 * all match. NULL or an empty filter: every process. user_name gives the
 * name a --user pattern is also matched against (the uid in decimal always
 * is). The filter must outlive the query. */
typedef struct StoreFilter {
        char **units, **comms, **users, **pids;   /* NULL-terminated, or NULL */
        const char *(*user_name)(uint32_t uid);
} StoreFilter;

static inline bool store_filter_is_empty(const StoreFilter *f) {
        return !f || ((!f->units || !f->units[0]) && (!f->comms || !f->comms[0]) && (!f->users || !f->users[0]) &&
                      (!f->pids || !f->pids[0]));
}

typedef struct StoreTotals {
        int64_t n_intervals;          /* raw intervals the selected rows stand for */
        uint64_t first_start_ns;      /* start of the earliest selected row (0: none) */
        uint64_t duration_ns;         /* total length of the selected rows */
        /* Over the host-total domains: measured = attributed + idle + unattributed. */
        double measured_j, attributed_j, idle_j, unattributed_j;
        double irq_j;                 /* part of unattributed: interrupt and softirq time */
        double idle_share_j;          /* the processes' shares of idle energy (≤ idle_j) */
        bool process_detail_pruned;   /* part of the range is older than the raw retention: per-process
                                       * detail is no longer kept there, and grouping by process
                                       * gives the label sets instead (key: label set id, pid 0) */
} StoreTotals;

int store_query_totals(Store *s, uint64_t since, uint64_t until, StoreTotals *ret);

/* A domain and the source that measured it. */
typedef struct StoreSource {
        char *domain, *source;
        bool estimated;
        double idle_w;                /* mean idle power estimate (NAN: none) */
        char *idle_method;            /* the latest (not rollup) method, NULL if none */
} StoreSource;

void store_sources_free(StoreSource *v, size_t n);

/* The domains with data in the range, sorted by domain then source. */
int store_query_sources(Store *s, uint64_t since, uint64_t until, StoreSource **ret, size_t *ret_n);

/* A group's key: the text one (comm, unit, slice, container, "[kernel]")
 * or, when text is NULL, the integer one (process id in the store, uid). */
typedef struct StoreKey {
        int64_t i;
        char *text;
} StoreKey;

static inline bool store_key_equal(const StoreKey *a, const StoreKey *b) {
        if (!a->text || !b->text)
                return !a->text && !b->text && a->i == b->i;
        return strcmp(a->text, b->text) == 0;
}

/* One group over a range or window. The process fields are one process of
 * the group (the process itself when grouped by process); pid, start_ns and
 * ppid are 0 where the group's rows are rollups (per label set). Groups
 * other than process read the labels each process had in each interval.
 * By process, raw intervals are read; for a range older than the raw
 * rows kept (StoreTotals.process_detail_pruned), the groups are the label
 * sets instead (comm, exe, uid, cgroup; key: the label set's id, pid 0), the
 * same in store_query_group_domains() and store_query_group_energy(). */
typedef struct StoreGroupRow {
        StoreKey key;
        int64_t pid, start_ns, uid, ppid;
        char *comm, *exe, *unit;      /* NULL when unknown; exe is not read for a window */
        uint64_t cpu_ns;
        uint64_t active_ns;           /* length of the intervals it appears in (range only) */
        uint64_t wakeups;             /* voluntary context switches of its threads */
        double energy_j;              /* dynamic energy */
        double idle_share_j;          /* its share of idle energy by CPU time (energy_j + this: with idle) */
} StoreGroupRow;

void store_group_rows_free(StoreGroupRow *v, size_t n);

/* The groups with samples in the range, ordered by key. */
/* filter: see StoreFilter (NULL: all). */
int store_query_groups(Store *s, GroupBy by, const StoreFilter *filter, uint64_t since, uint64_t until,
                       StoreGroupRow **ret, size_t *ret_n);

/* A group's energy in one domain. */
typedef struct StoreGroupDomain {
        StoreKey key;
        char *domain;
        double energy_j;
} StoreGroupDomain;

void store_group_domains_free(StoreGroupDomain *v, size_t n);

/* Energy per group and domain over the range, ordered by key then domain
 * (the order of store_query_groups(), so that both can be merged). */
int store_query_group_domains(Store *s, GroupBy by, const StoreFilter *filter, uint64_t since, uint64_t until,
                              StoreGroupDomain **ret, size_t *ret_n);

/* First start and last end of the rows of every level that end in the range
 * (both 0 when none): the time axis of a chart. */
int store_query_span(Store *s, uint64_t since, uint64_t until, uint64_t *ret_start_ns, uint64_t *ret_end_ns);

/* Energy of one selected row: the host's measured energy (key unused), or a
 * group's. */
typedef struct StoreEnergyPoint {
        StoreKey key;
        uint64_t start_ns, end_ns;
        double energy_j;
        double idle_j;                /* the host's idle part of energy_j (0 for a group) */
} StoreEnergyPoint;

/* Called for each point; a negative return stops the query and is returned. */
typedef int (*StoreEnergyPointFn)(const StoreEnergyPoint *p, void *userdata);

int store_query_host_energy(Store *s, uint64_t since, uint64_t until, StoreEnergyPointFn fn, void *userdata);
int store_query_group_energy(Store *s, GroupBy by, const StoreFilter *filter, uint64_t since, uint64_t until,
                             StoreEnergyPointFn fn, void *userdata);

/* One export record: an interval, a process (a label set in rollups: pid,
 * start_ns and ppid 0) and a domain. A process with
 * CPU time but no energy in the interval has one record with domain and
 * source NULL, estimated and host_total false and 0 J. */
typedef struct StoreExportRecord {
        uint64_t interval_start_ns, interval_end_ns;
        uint64_t duration_ns;            /* time covered: less than end - start for a rollup with gaps */
        int level;                       /* 0 raw interval, 1 minute, 2 hour, 3 day rollup */
        int64_t pid;
        uint64_t start_ns;
        const char *comm, *exe, *unit;   /* NULL when unknown */
        uint32_t uid;
        int64_t ppid;
        uint64_t cpu_ns;
        const char *domain, *source;
        bool estimated, host_total;
        double energy_j;
        double idle_share_j;             /* its share of the domain's idle energy by CPU time */
} StoreExportRecord;

typedef int (*StoreExportFn)(const StoreExportRecord *rec, void *userdata);

/* The records of the range in order of interval end, pid, process, domain:
 * unlike the sums of a report, the finest level kept for each moment (raw
 * intervals while they are kept, then minute, hour and day rollups). */
int store_query_export(Store *s, uint64_t since, uint64_t until, StoreExportFn fn, void *userdata);

/* ---- Raw intervals: top and run ---------------------------------------- */

/* End of the newest interval: raw intervals only, or every level. Returns 1
 * and sets *ret, or 0 when the store holds none. */
int store_query_last_end(Store *s, bool raw_only, uint64_t *ret);

typedef struct StoreWindow {
        size_t n_intervals;
        uint64_t duration_ns;
        double measured_j, idle_j;    /* of the host-total domains */
} StoreWindow;

int store_query_window(Store *s, uint64_t after, uint64_t until, StoreWindow *ret);
/* The host-total domains with data in the window, sorted (idle_w NAN, no
 * idle_method). */
int store_query_window_sources(Store *s, uint64_t after, uint64_t until, StoreSource **ret, size_t *ret_n);
/* The groups with samples in the window (no exe, no active_ns). */
int store_query_window_groups(Store *s, GroupBy by, uint64_t after, uint64_t until, StoreGroupRow **ret,
                              size_t *ret_n);

/* One host-total domain's dynamic energy (measured less idle) in one raw
 * interval. */
/* One raw interval of one host-total domain: its dynamic energy, and its
 * idle energy with the estimate it came from. */
typedef struct StoreHostDynamic {
        uint64_t start_ns, end_ns;
        double dynamic_j;
        const char *domain, *source;
        bool estimated;
        double idle_j, idle_w;
        double band_w;                /* NAN: none stored */
        const char *method;           /* NULL: none stored */
} StoreHostDynamic;

typedef int (*StoreHostDynamicFn)(const StoreHostDynamic *d, void *userdata);

/* The raw intervals that overlap (t0, t1), per host-total domain. */
int store_query_host_dynamic(Store *s, uint64_t t0, uint64_t t1, StoreHostDynamicFn fn, void *userdata);

/* ---- Daemon status ----------------------------------------------------- */

/* Whether the jouled that writes s's database runs now: *ret_running, and
 * *ret_pid its PID when it does (else 0). The writer's lock PATH.lock, held
 * with its PID in it, where the store takes one; else the PID jouled recorded
 * (daemon_state pid) when that process runs, is named jouled and has the
 * database open, or, where its open files may not be read, wrote an interval
 * ending within recent_ns of now. */
int store_query_owner(Store *s, uint64_t recent_ns, int64_t *ret_pid, bool *ret_running);

/* A daemon_state value (allocated) in *ret, NULL when the key is not set. */
int store_query_state(Store *s, const char *key, char **ret);

typedef struct StoreStateEntry {
        char *key, *value;
} StoreStateEntry;

void store_state_entries_free(StoreStateEntry *v, size_t n);
/* Every daemon_state key and value. */
int store_query_state_all(Store *s, StoreStateEntry **ret, size_t *ret_n);

typedef struct StoreProbe {
        char *name, *status, *reason;
        bool estimated, in_use;
} StoreProbe;

void store_probes_free(StoreProbe *v, size_t n);
/* The source probes in the order jouled recorded them. */
int store_query_probes(Store *s, StoreProbe **ret, size_t *ret_n);

/* The domains of the newest raw interval, sorted by domain (idle_w NAN, no
 * idle_method). */
int store_query_latest_domains(Store *s, StoreSource **ret, size_t *ret_n);

typedef struct StoreCounts {
        int64_t processes, intervals;   /* rows stored */
        int64_t last_end_ns;            /* newest interval's end, any level (0: none) */
} StoreCounts;

int store_query_counts(Store *s, StoreCounts *ret);

/* CPU time and energy over the range of the latest started process with
 * this pid. Needs STORE_SCHEMA_SELF_USAGE. */
int store_query_process_usage(Store *s, int64_t pid, uint64_t since, uint64_t until, uint64_t *ret_cpu_ns,
                              double *ret_energy_j);

/* ---- Idle estimates ---------------------------------------------------- */

/* A host-total domain's idle figure over a range: its energy, the mean
 * estimate, the uncertainty the daemon stated with it, and how it was made. */
typedef struct StoreIdle {
        char *domain, *source;
        double idle_j;                /* idle energy */
        double idle_w;                /* mean idle power estimate (NAN: none) */
        double band_w;                /* mean ± band of the estimate, W (NAN: none stored) */
        double band_j;                /* Σ band × interval length: ± J on idle_j (NAN: none stored) */
        char *method;                 /* the latest method of a raw interval (NULL: none) */
} StoreIdle;

void store_idle_free(StoreIdle *v, size_t n);
/* The host-total domains' idle figures over the range (levels mixed as
 * for the totals), sorted by domain then source. */
int store_query_idle(Store *s, uint64_t since, uint64_t until, StoreIdle **ret, size_t *ret_n);

/* One host-total domain's idle estimate in one raw interval. */
