/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/* joulectl report: the loaded report, shared by the table/JSON/CSV printers
 * (report.c) and the HTML report (report-html.c). */

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli-util.h"

typedef enum ReportBy {
        REPORT_BY_PROCESS,
        REPORT_BY_COMM,
        REPORT_BY_UNIT,
        REPORT_BY_USER,
        REPORT_BY_SLICE,
        REPORT_BY_CONTAINER,
        _REPORT_BY_MAX,
        _REPORT_BY_INVALID = -1,
} ReportBy;

/* SQL expression that groups rows (p: processes). */
const char *report_by_sql_expr(ReportBy by);

typedef enum ReportFormat {
        FORMAT_TABLE,
        FORMAT_JSON,
        FORMAT_CSV,
        FORMAT_HTML,
} ReportFormat;

typedef enum ReportSort {
        SORT_ENERGY,             /* energy, then CPU */
        SORT_CPU,                /* CPU, then energy */
        SORT_POWER,              /* mean power while present, then energy */
        _SORT_MAX,
        _SORT_INVALID = -1,
} ReportSort;

typedef struct SourceRow {
        char *domain, *source;
        bool estimated;
        double idle_w;           /* mean idle power estimate over the range (NAN: none) */
        char *idle_method;       /* the latest (not rollup) method, NULL if none */
} SourceRow;

typedef struct ReportRow {
        int64_t key_int;
        char *key_text;          /* for comm/unit; NULL for integer keys */
        int64_t pid, start_ns, uid, ppid;
        char *comm, *exe, *unit;
        uint64_t cpu_ns;
        uint64_t active_ns;      /* length of the intervals it appears in */
        uint64_t wakeups;        /* voluntary context switches of its threads */
        double energy_j;
        double *domain_j;        /* one per Report.domains name */
} ReportRow;

typedef struct Report {
        ReportBy by;
        ReportSort sort;
        uint64_t since, until;   /* selection: since < end_ns <= until */
        uint64_t first_start;
        int64_t n_intervals;
        uint64_t duration_ns;    /* total length of the selected intervals */
        double measured, attributed, idle, unattributed;
        double irq;              /* part of unattributed: interrupt and softirq time's energy ("[irq]") */
        uint64_t cpu_ns;
        bool estimated;

        SourceRow *sources;
        size_t n_sources;
        char **domains;          /* distinct domain names, sorted */
        size_t n_domains;

        ReportRow *rows;
        size_t n_rows;
} Report;

/* Mean power of a row while it was present, in watts (0 when never). */
double report_row_watts(const ReportRow *row);
/* Wakeups per second while the row was present (0 when never). */
double report_row_wakeups_per_second(const ReportRow *row);

/* Write the self-contained HTML report (inline SVG charts, no scripts, no
 * network) of r to f. db is read again for the power-over-time chart.
 * Returns 0 or negative errno (of a failed query; printed). */
int report_write_html(sqlite3 *db, const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                      const char *until_s, FILE *f);
/* The row's key as text: pid, comm, unit or user name. */
const char *report_row_key(const Report *r, const ReportRow *row, char *buf, size_t size);
