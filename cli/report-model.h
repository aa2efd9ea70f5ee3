/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/* joulectl report: a report loaded from the store and sorted, read by the
 * text, CSV, JSON (report-text.c) and HTML (report-html.c) renderers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "group-by.h"
#include "store-query.h"

typedef enum ReportSort {
        SORT_ENERGY,             /* energy, then CPU */
        SORT_CPU,                /* CPU, then energy */
        SORT_POWER,              /* mean power while present, then energy */
        SORT_NAME,               /* the key (comm when by process), ascending, then energy */
        SORT_WAKEUPS,            /* wakeups, then energy */
        _SORT_MAX,
        _SORT_INVALID = -1,
} ReportSort;

typedef struct ReportRow {
        int64_t key_int;
        char *key_text;          /* for comm/unit; NULL for integer keys */
        int64_t pid, start_ns, uid, ppid;
        char *comm, *exe, *unit;
        uint64_t cpu_ns;
        uint64_t active_ns;      /* length of the intervals it appears in */
        uint64_t wakeups;        /* voluntary context switches of its threads */
        double energy_j;         /* dynamic (marginal) energy */
        double idle_share_j;     /* its CPU-time share of idle energy: energy_j + this is "with idle" */
        double *domain_j;        /* one per Report.domains name */
} ReportRow;

const char *report_sort_to_string(ReportSort s);
ReportSort report_sort_from_string(const char *s);

typedef struct Report {
        GroupBy by;
        ReportSort sort;
        const StoreFilter *filter;   /* which processes the rows hold (NULL: all) */
        uint64_t since, until;   /* selection: since < end_ns <= until */
        uint64_t first_start;
        int64_t n_intervals;
        uint64_t duration_ns;    /* total length of the selected intervals */
        double measured, attributed, idle, unattributed;
        double irq;              /* part of unattributed: interrupt and softirq time's energy ("[irq]") */
        uint64_t cpu_ns;         /* of the rows */
        double rows_j;           /* energy of the rows: attributed, or the filter's part of it */
        double idle_share;       /* every process's share of idle (≤ idle; = idle when processes ran in
                                  * every interval) */
        double rows_idle_share_j;/* the rows' part of idle_share: Σ energy with idle = rows_j + this */
        double idle_band;        /* ± J on idle: Σ of each domain's band × time (NAN: unknown) */
        bool idle_provisional;   /* an idle method of the range is persisted or prior */
        bool estimated;
        bool process_detail_pruned; /* part of the range is past the raw retention: by process, rows are label sets */

        StoreSource *sources;
        size_t n_sources;
        StoreIdle *idle_est;     /* the host-total domains' idle figures, method and band */
        size_t n_idle_est;
        char **domains;          /* distinct domain names, sorted */
        size_t n_domains;

        ReportRow *rows;
        size_t n_rows;
} Report;

/* Load the report of r->by over (r->since, r->until] and sort its rows by
 * r->sort. Returns 0 or negative errno (store_query_error() says why when
 * it is not -ENOMEM). */
int report_load(Store *store, Report *r);
void report_done(Report *r);

/* Mean power of a row while it was present, in watts (0 when never). */
double report_row_watts(const ReportRow *row);
/* Wakeups per second while the row was present (0 when never). */
double report_row_wakeups_per_second(const ReportRow *row);
/* The row's key as text: pid, comm, unit, slice, container or user name. */
const char *report_row_key(const Report *r, const ReportRow *row, char *buf, size_t size);

/* Energy over time of the report's first n_top rows, the other rows
 * together, and the host's measured and idle energy, in at most max_buckets
 * buckets of equal length. Each stored row (a raw interval or a rollup) is
 * spread over the buckets it covers in proportion to the overlap, so that a
 * minute rollup is drawn over its minute, not as a spike in one bucket. */
typedef struct ReportSeries {
        size_t n_buckets, n_series;     /* n_series = top rows + "other" */
        uint64_t t0, t1;
        double *energy;                 /* [bucket][series] */
        double *host;                   /* [bucket] measured */
        double *idle;                   /* [bucket] idle part of host */
} ReportSeries;

int report_series_load(Store *store, const Report *r, size_t n_top, size_t max_buckets, ReportSeries *ret);
void report_series_done(ReportSeries *s);
