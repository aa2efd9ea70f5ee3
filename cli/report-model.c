/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "report-model.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-util.h"
#include "string-table.h"
#include "util.h"

static const char *const report_sort_table[_SORT_MAX] = {
        [SORT_ENERGY] = "energy", [SORT_CPU] = "cpu", [SORT_POWER] = "power",
        [SORT_NAME] = "name", [SORT_WAKEUPS] = "wakeups",
};
DEFINE_STRING_TABLE_LOOKUP(report_sort, ReportSort, SORT);

void report_done(Report *r) {
        store_sources_free(r->sources, r->n_sources);
        r->sources = NULL;
        r->n_sources = 0;
        store_idle_free(r->idle_est, r->n_idle_est);
        r->idle_est = NULL;
        r->n_idle_est = 0;
        for (size_t i = 0; i < r->n_domains; i++)
                free(r->domains[i]);
        free(r->domains);
        r->domains = NULL;
        r->n_domains = 0;
        for (size_t i = 0; i < r->n_rows; i++) {
                free(r->rows[i].key_text);
                free(r->rows[i].comm);
                free(r->rows[i].exe);
                free(r->rows[i].unit);
                free(r->rows[i].domain_j);
        }
        free(r->rows);
        r->rows = NULL;
        r->n_rows = 0;
}

/* The distinct domain names of the sources (sorted by domain). */
static int report_domains(Report *r) {
        for (size_t i = 0; i < r->n_sources; i++) {
                const StoreSource *p = &r->sources[i];

                /* A domain or source without a name: the file is not jouled's. */
                if (!p->domain || !p->source)
                        return -ENOMEM;
                r->estimated = r->estimated || p->estimated;
                if (r->n_domains == 0 || strcmp(r->domains[r->n_domains - 1], p->domain) != 0) {
                        char **d = realloc(r->domains, (r->n_domains + 1) * sizeof(*d));
                        if (!d)
                                return -ENOMEM;
                        r->domains = d;
                        d[r->n_domains] = strdup(p->domain);
                        if (!d[r->n_domains])
                                return -ENOMEM;
                        r->n_domains++;
                }
        }
        return 0;
}

/* The rows, taking over the strings of the store's. */
static int report_rows(Report *r, StoreGroupRow *g, size_t n) {
        if (n == 0)
                return 0;
        r->rows = calloc(n, sizeof(ReportRow));
        if (!r->rows)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ReportRow *p = &r->rows[r->n_rows++];

                *p = (ReportRow) {
                        .key_int = g[i].key.i,
                        .key_text = TAKE_PTR(g[i].key.text),
                        .pid = g[i].pid,
                        .start_ns = g[i].start_ns,
                        .uid = g[i].uid,
                        .ppid = g[i].ppid,
                        .comm = TAKE_PTR(g[i].comm),
                        .exe = TAKE_PTR(g[i].exe),
                        .unit = TAKE_PTR(g[i].unit),
                        .cpu_ns = g[i].cpu_ns,
                        .active_ns = g[i].active_ns,
                        .wakeups = g[i].wakeups,
                        .energy_j = g[i].energy_j,
                        .idle_share_j = g[i].idle_share_j,
                };
                r->cpu_ns += p->cpu_ns;
                r->rows_j += p->energy_j;
                r->rows_idle_share_j += p->idle_share_j;
                p->domain_j = calloc(MAX(r->n_domains, (size_t) 1), sizeof(double));
                if (!p->domain_j)
                        return -ENOMEM;
        }
        return 0;
}

static bool row_has_key(const ReportRow *row, const StoreKey *k) {
        StoreKey rk = { .i = row->key_int, .text = row->key_text };
        return store_key_equal(&rk, k);
}

/* Merge the per-domain energy in: both lists are ordered by the same key. */
static void report_merge_domains(Report *r, const StoreGroupDomain *v, size_t n) {
        size_t row = 0;

        for (size_t i = 0; i < n; i++) {
                while (row < r->n_rows && !row_has_key(&r->rows[row], &v[i].key))
                        row++;
                if (row >= r->n_rows)
                        break;
                for (size_t d = 0; v[i].domain && d < r->n_domains; d++)
                        if (strcmp(r->domains[d], v[i].domain) == 0) {
                                r->rows[row].domain_j[d] += v[i].energy_j;
                                break;
                        }
        }
}

double report_row_watts(const ReportRow *row) {
        return row->active_ns > 0 ? row->energy_j / ((double) row->active_ns / 1e9) : 0;
}

double report_row_wakeups_per_second(const ReportRow *row) {
        return row->active_ns > 0 ? (double) row->wakeups / ((double) row->active_ns / 1e9) : 0;
}

static int cmp_desc_double(double a, double b) {
        return a == b ? 0 : a < b ? 1 : -1;
}

static int cmp_desc_u64(uint64_t a, uint64_t b) {
        return a == b ? 0 : a < b ? 1 : -1;
}

static int row_compare(const void *a, const void *b, void *userdata) {
        const ReportRow *x = a, *y = b;
        const Report *r = userdata;
        char bx[64], by[64], tmp[64];
        int c = 0;

        switch (r->sort) {
        case SORT_NAME:
                if (r->by == GROUP_BY_PROCESS)
                        c = strcmp(x->comm ? x->comm : "", y->comm ? y->comm : "");
                else {
                        /* A copy: a user name comes from a cache the second call may reuse. */
                        strscpy(bx, sizeof(bx), report_row_key(r, x, tmp, sizeof(tmp)));
                        c = strcmp(bx, report_row_key(r, y, by, sizeof(by)));
                }
                break;
        case SORT_WAKEUPS:
                c = cmp_desc_u64(x->wakeups, y->wakeups);
                break;
        case SORT_CPU:
                c = cmp_desc_u64(x->cpu_ns, y->cpu_ns);
                break;
        case SORT_POWER:
                c = cmp_desc_double(report_row_watts(x), report_row_watts(y));
                break;
        default:
                break;
        }
        if (c == 0)
                c = cmp_desc_double(x->energy_j, y->energy_j);
        if (c == 0)
                c = cmp_desc_u64(x->cpu_ns, y->cpu_ns);
        if (c == 0)
                c = x->pid < y->pid ? -1 : x->pid > y->pid;
        if (c == 0)
                c = strcmp(x->key_text ? x->key_text : "", y->key_text ? y->key_text : "");
        if (c == 0)
                c = x->key_int < y->key_int ? -1 : x->key_int > y->key_int;
        return c;
}

int report_load(Store *store, Report *r) {
        StoreGroupRow *groups = NULL;
        StoreGroupDomain *gd = NULL;
        size_t n_groups = 0, n_gd = 0;
        StoreTotals t;
        int e;

        assert(store);
        assert(r);

        e = store_query_totals(store, r->since, r->until, &t);
        if (e < 0)
                return e;
        r->n_intervals = t.n_intervals;
        r->first_start = t.first_start_ns;
        r->duration_ns = t.duration_ns;
        r->measured = t.measured_j;
        r->attributed = t.attributed_j;
        r->idle = t.idle_j;
        r->unattributed = t.unattributed_j;
        r->irq = t.irq_j;
        r->process_detail_pruned = t.process_detail_pruned;
        /* The CPU total is the sum of the rows (one pass over samples, not two). */
        r->cpu_ns = 0;
        r->rows_j = 0;
        r->rows_idle_share_j = 0;
        r->idle_share = t.idle_share_j;

        e = store_query_idle(store, r->since, r->until, &r->idle_est, &r->n_idle_est);
        if (e < 0)
                return e;
        r->idle_band = r->n_idle_est > 0 ? 0 : NAN;
        r->idle_provisional = false;
        for (size_t i = 0; i < r->n_idle_est; i++) {
                const StoreIdle *p = &r->idle_est[i];
                /* No band stored: none for the methods exact by definition, else unknown. */
                double band_j = isfinite(p->band_j) ? p->band_j
                                                    : cli_idle_band_w(p->method, NAN) == 0 ? 0 : NAN;
                r->idle_band += band_j;
                r->idle_provisional = r->idle_provisional || cli_idle_provisional(p->method);
        }

        e = store_query_sources(store, r->since, r->until, &r->sources, &r->n_sources);
        if (e < 0)
                return e;
        e = report_domains(r);
        if (e < 0)
                return e;

        e = store_query_groups(store, r->by, r->filter, r->since, r->until, &groups, &n_groups);
        if (e < 0)
                return e;
        e = report_rows(r, groups, n_groups);
        store_group_rows_free(groups, n_groups);
        if (e < 0)
                return e;

        e = store_query_group_domains(store, r->by, r->filter, r->since, r->until, &gd, &n_gd);
        if (e < 0)
                return e;
        report_merge_domains(r, gd, n_gd);
        store_group_domains_free(gd, n_gd);

        if (r->n_rows > 0)
                qsort_r(r->rows, r->n_rows, sizeof(r->rows[0]), row_compare, r);
        return 0;
}

const char *report_row_key(const Report *r, const ReportRow *row, char *buf, size_t size) {
        switch (r->by) {
        case GROUP_BY_PROCESS:
                snprintf(buf, size, "%" PRIi64, row->pid);
                return buf;
        case GROUP_BY_USER:
                if (row->key_text)
                        return row->key_text;   /* "[kernel]" */
                return cli_user_name((uint32_t) row->key_int);
        default:
                return row->key_text ? row->key_text : "-";
        }
}

/* ---- Power over time --------------------------------------------------- */

typedef struct SeriesLoad {
        const Report *r;
        ReportSeries *s;
} SeriesLoad;

/* Add energy spread over [start, end) to v[bucket * stride + k] by overlap. */
static void series_spread(const ReportSeries *s, uint64_t start, uint64_t end, double energy, double *v,
                          size_t stride, size_t k) {
        double span = (double) (s->t1 - s->t0), width = span / (double) s->n_buckets;
        double a, b;
        size_t first, last;

        if (s->t1 <= s->t0)
                return;
        start = MAX(start, s->t0);
        end = MIN(end, s->t1);
        if (end <= start) {
                /* Outside the axis or empty: the nearest bucket keeps it. */
                size_t bk = start >= s->t1 ? s->n_buckets - 1 : 0;
                v[bk * stride + k] += energy;
                return;
        }
        a = (double) (start - s->t0);
        b = (double) (end - s->t0);
        first = MIN((size_t) (a / width), s->n_buckets - 1);
        last = MIN((size_t) (b / width), s->n_buckets - 1);
        for (size_t bk = first; bk <= last; bk++) {
                double lo = MAX(a, (double) bk * width), hi = MIN(b, (double) (bk + 1) * width);
                if (hi > lo)
                        v[bk * stride + k] += energy * (hi - lo) / (b - a);
        }
}

static int series_add_host(const StoreEnergyPoint *p, void *userdata) {
        ReportSeries *s = userdata;
        series_spread(s, p->start_ns, p->end_ns, p->energy_j, s->host, 1, 0);
        series_spread(s, p->start_ns, p->end_ns, p->idle_j, s->idle, 1, 0);
        return 0;
}

static int series_add_group(const StoreEnergyPoint *p, void *userdata) {
        SeriesLoad *l = userdata;
        ReportSeries *s = l->s;
        size_t k = s->n_series - 1;   /* "other" unless one of the top rows */

        for (size_t i = 0; i + 1 < s->n_series; i++)
                if (row_has_key(&l->r->rows[i], &p->key)) {
                        k = i;
                        break;
                }
        series_spread(s, p->start_ns, p->end_ns, p->energy_j, s->energy, s->n_series, k);
        return 0;
}

int report_series_load(Store *store, const Report *r, size_t n_top, size_t max_buckets, ReportSeries *s) {
        SeriesLoad l = { .r = r, .s = s };
        int e;

        assert(store);
        assert(r);
        assert(s);

        *s = (ReportSeries) {};
        s->n_series = MIN(r->n_rows, n_top) + 1;
        s->n_buckets = (size_t) MIN((uint64_t) max_buckets, (uint64_t) MAX(r->n_intervals, (int64_t) 1));
        s->energy = calloc(s->n_buckets * s->n_series, sizeof(double));
        s->host = calloc(s->n_buckets, sizeof(double));
        s->idle = calloc(s->n_buckets, sizeof(double));
        if (!s->energy || !s->host || !s->idle)
                return -ENOMEM;

        e = store_query_span(store, r->since, r->until, &s->t0, &s->t1);
        if (e < 0)
                return e;
        if (s->t1 <= s->t0)
                return 0;
        e = store_query_host_energy(store, r->since, r->until, series_add_host, s);
        if (e < 0)
                return e;
        return store_query_group_energy(store, r->by, r->filter, r->since, r->until, series_add_group, &l);
}

void report_series_done(ReportSeries *s) {
        free(s->energy);
        free(s->host);
        free(s->idle);
        *s = (ReportSeries) {};
}
