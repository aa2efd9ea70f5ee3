/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl report as a table, JSON or CSV (formats: report.c). */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "cleanup.h"
#include "cli-util.h"
#include "report-render.h"
#include "sanitize.h"
#include "timeparse.h"
#include "util.h"

static json_object *json_string_or_null(const char *s) {
        return json_string_safe(s);
}

/* The host-total domains' idle figures: [{domain, source, watts,
 * band_watts, joules, band_joules, method, provisional}]. */
static json_object *report_idle_json(const Report *r) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < r->n_idle_est; i++) {
                const StoreIdle *p = &r->idle_est[i];
                double band_w = cli_idle_band_w(p->method, p->band_w);
                double band_j = isfinite(p->band_j) ? p->band_j : band_w == 0 ? 0 : NAN;
                json_object *e = json_object_new_object();

                json_object_object_add(e, "domain", json_string_safe(p->domain));
                json_object_object_add(e, "source", json_string_safe(p->source));
                json_object_object_add(e, "watts", isfinite(p->idle_w) ? json_double_exact(p->idle_w) : NULL);
                json_object_object_add(e, "band_watts", isfinite(band_w) ? json_double_exact(band_w) : NULL);
                json_object_object_add(e, "joules", json_double_exact(p->idle_j));
                json_object_object_add(e, "band_joules", isfinite(band_j) ? json_double_exact(band_j) : NULL);
                json_object_object_add(e, "method", json_string_or_null(p->method));
                json_object_object_add(e, "provisional", json_object_new_boolean(cli_idle_provisional(p->method)));
                json_object_array_add(a, e);
        }
        return a;
}

json_object *report_json(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                         const char *until_s) {
        json_object *o = json_object_new_object(), *a, *t;
        char buf[64];

        json_object_object_add(o, "since", json_object_new_string(since_s));
        json_object_object_add(o, "until", json_object_new_string(until_s));
        json_object_object_add(o, "by", json_object_new_string(group_by_to_string(r->by)));
        if (r->by == GROUP_BY_PROCESS)
                /* false: the range is past the raw retention, the rows are label sets (pid 0). */
                json_object_object_add(o, "per_process_detail", json_object_new_boolean(!r->process_detail_pruned));
        json_object_object_add(o, "estimated", json_object_new_boolean(r->estimated));
        if (r->filter) {
                /* The patterns the rows were chosen by. */
                static const char *const names[] = { "unit", "comm", "user", "pid" };
                char **const lists[] = { r->filter->units, r->filter->comms, r->filter->users, r->filter->pids };
                t = json_object_new_object();
                for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                        if (!lists[k] || !lists[k][0])
                                continue;
                        a = json_object_new_array();
                        for (size_t i = 0; lists[k][i]; i++)
                                json_object_array_add(a, json_string_safe(lists[k][i]));
                        json_object_object_add(t, names[k], a);
                }
                json_object_object_add(o, "filter", t);
        }

        a = json_object_new_array();
        for (size_t i = 0; i < r->n_sources; i++) {
                json_object *s = json_object_new_object();
                json_object_object_add(s, "domain", json_string_safe(r->sources[i].domain));
                json_object_object_add(s, "source", json_string_safe(r->sources[i].source));
                json_object_object_add(s, "estimated", json_object_new_boolean(r->sources[i].estimated));
                json_object_object_add(s, "idle_w", isfinite(r->sources[i].idle_w) ? json_double_exact(r->sources[i].idle_w) : NULL);
                json_object_object_add(s, "idle_method", json_string_or_null(r->sources[i].idle_method));
                json_object_array_add(a, s);
        }
        json_object_object_add(o, "sources", a);
        json_object_object_add(o, "idle", report_idle_json(r));

        t = json_object_new_object();
        json_object_object_add(t, "measured_joules", json_double_exact(r->measured));
        json_object_object_add(t, "attributed_joules", json_double_exact(r->attributed));
        json_object_object_add(t, "idle_joules", json_double_exact(r->idle));
        json_object_object_add(t, "unattributed_joules", json_double_exact(r->unattributed));
        json_object_object_add(t, "irq_joules", json_double_exact(r->irq));
        json_object_object_add(t, "cpu_seconds", json_seconds_from_ns(r->cpu_ns));
        json_object_object_add(t, "co2e_grams", json_double_exact(carbon_grams(carbon, r->measured)));
        /* The energy of the rows: attributed_joules, or with a filter the
         * part of it the filtered processes had. */
        json_object_object_add(t, "rows_joules", json_double_exact(r->rows_j));
        /* The share-of-idle view: every process's CPU-time share of idle
         * (≤ idle_joules), the rows' part of it (Σ rows' energy_with_idle_joules
         * = rows_joules + this), and the idle figure's uncertainty. */
        json_object_object_add(t, "idle_share_joules", json_double_exact(r->idle_share));
        json_object_object_add(t, "rows_with_idle_joules", json_double_exact(r->rows_j + r->rows_idle_share_j));
        json_object_object_add(t, "idle_band_joules", isfinite(r->idle_band) ? json_double_exact(r->idle_band) : NULL);
        json_object_object_add(t, "idle_provisional", json_object_new_boolean(r->idle_provisional));
        json_object_object_add(o, "totals", t);

        t = json_object_new_object();
        json_object_object_add(t, "intensity_g_per_kwh", json_double_exact(carbon->g_per_kwh));
        json_object_object_add(t, "origin", json_string_safe(carbon->origin));
        json_object_object_add(o, "carbon", t);
        json_object_object_add(o, "sort", json_object_new_string(report_sort_to_string(r->sort)));

        a = json_object_new_array();
        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];
                json_object *j = json_object_new_object(), *d;

                json_object_object_add(j, "key", json_string_safe(report_row_key(r, row, buf, sizeof(buf))));
                if (r->by == GROUP_BY_PROCESS) {
                        json_object_object_add(j, "pid", json_object_new_int64(row->pid));
                        json_object_object_add(j, "start_time", json_object_new_string(
                                format_iso8601((uint64_t) row->start_ns, true, buf, sizeof(buf))));
                        json_object_object_add(j, "comm", json_string_or_null(row->comm));
                        json_object_object_add(j, "exe", json_string_or_null(row->exe));
                        json_object_object_add(j, "unit", json_string_or_null(row->unit));
                        json_object_object_add(j, "user", json_string_safe(cli_user_name((uint32_t) row->uid)));
                        json_object_object_add(j, "uid", json_object_new_int64(row->uid));
                        json_object_object_add(j, "ppid", json_object_new_int64(row->ppid));
                }
                json_object_object_add(j, "cpu_seconds", json_seconds_from_ns(row->cpu_ns));
                json_object_object_add(j, "energy_joules", json_double_exact(row->energy_j));
                /* The second view: with its CPU-time share of idle power. */
                json_object_object_add(j, "energy_with_idle_joules",
                                       json_double_exact(row->energy_j + row->idle_share_j));
                json_object_object_add(j, "power_watts", json_double_exact(report_row_watts(row)));
                json_object_object_add(j, "wakeups", json_object_new_int64((int64_t) row->wakeups));
                json_object_object_add(j, "wakeups_per_second", json_double_exact(report_row_wakeups_per_second(row)));
                json_object_object_add(j, "co2e_grams", json_double_exact(carbon_grams(carbon, row->energy_j)));
                d = json_object_new_object();
                for (size_t k = 0; k < r->n_domains; k++)
                        if (row->domain_j[k] != 0) {
                                /* A key is a string too: valid UTF-8. */
                                _cleanup_free_ char *key = utf8_sanitize(r->domains[k]);
                                json_object_object_add(d, key ? key : "", json_double_exact(row->domain_j[k]));
                        }
                json_object_object_add(j, "domains", d);
                json_object_array_add(a, j);
        }
        json_object_object_add(o, "rows", a);
        /* Interrupt and softirq time, a part of unattributed: not in
         * rows, which add up to attributed. */
        t = json_object_new_object();
        json_object_object_add(t, "key", json_object_new_string("[irq]"));
        json_object_object_add(t, "energy_joules", json_double_exact(r->irq));
        json_object_object_add(o, "irq", t);
        return o;
}

void report_print_json(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                       const char *until_s) {
        json_object *o = report_json(r, carbon, limit, since_s, until_s);

        json_print(o);
        json_object_put(o);
}

void report_print_csv(const Report *r, const Carbon *carbon, size_t limit) {
        report_print_csv_bucket(r, carbon, limit, NULL, true);
}

void report_print_csv_bucket(const Report *r, const Carbon *carbon, size_t limit, const char *bucket, bool header) {
        char buf[64];

        if (!header)
                goto rows;
        if (bucket)
                fputs("bucket,", stdout);
        fputs("key", stdout);
        if (r->by == GROUP_BY_PROCESS)
                fputs(",pid,start_time,comm,exe,unit,user,uid,ppid", stdout);
        fputs(",cpu_seconds,energy_joules,energy_with_idle_joules,estimated,power_watts,co2e_grams", stdout);
        for (size_t k = 0; k < r->n_domains; k++) {
                char h[128];
                snprintf(h, sizeof(h), "joules:%s", r->domains[k]);
                fputc(',', stdout);
                csv_field(stdout, h);
        }
        fputs("\r\n", stdout);
rows:
        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];

                if (bucket)
                        printf("%s,", bucket);
                csv_field(stdout, report_row_key(r, row, buf, sizeof(buf)));
                if (r->by == GROUP_BY_PROCESS) {
                        printf(",%" PRIi64 ",", row->pid);
                        csv_field(stdout, format_iso8601((uint64_t) row->start_ns, true, buf, sizeof(buf)));
                        fputc(',', stdout);
                        csv_field(stdout, row->comm);
                        fputc(',', stdout);
                        csv_field(stdout, row->exe);
                        fputc(',', stdout);
                        csv_field(stdout, row->unit);
                        fputc(',', stdout);
                        csv_field(stdout, cli_user_name((uint32_t) row->uid));
                        printf(",%" PRIi64 ",%" PRIi64, row->uid, row->ppid);
                }
                printf(",%s", format_ns_as_seconds(row->cpu_ns, buf, sizeof(buf)));
                printf(",%s", format_double(row->energy_j, buf, sizeof(buf)));
                printf(",%s", format_double(row->energy_j + row->idle_share_j, buf, sizeof(buf)));
                printf(",%s", r->estimated ? "true" : "false");
                printf(",%s", format_double(report_row_watts(row), buf, sizeof(buf)));
                printf(",%s", format_double(carbon_grams(carbon, row->energy_j), buf, sizeof(buf)));
                for (size_t k = 0; k < r->n_domains; k++)
                        printf(",%s", format_double(row->domain_j[k], buf, sizeof(buf)));
                fputs("\r\n", stdout);
        }
}

/* The header of a grouping's key column: its real name. */
static const char *key_header(GroupBy by) {
        static const char *const table[_GROUP_BY_MAX] = {
                [GROUP_BY_PROCESS] = "PID", [GROUP_BY_COMM] = "COMM", [GROUP_BY_UNIT] = "UNIT",
                [GROUP_BY_USER] = "USER", [GROUP_BY_SLICE] = "SLICE", [GROUP_BY_CONTAINER] = "CONTAINER",
        };
        return by >= 0 && by < _GROUP_BY_MAX ? table[by] : "KEY";
}

void report_print_table_rows(const Report *r, const Carbon *carbon, size_t limit) {
        const char *energy_header = r->estimated ? "ENERGY(est)" : "ENERGY";
        char e1[64], e2[64], e3[64], buf[128], c1[128], c2[128], c3[128], c4[128];

        if (r->n_rows == 0) {
                printf("No process activity recorded in this range.\n");
                return;
        }

        /* Names are escaped and fitted by display width (text_cell()); the
         * wakeups are counted, never estimated: WAKE/S stays unmarked. */
        if (r->by == GROUP_BY_PROCESS)
                printf("%7s %-15s %-20s %-8s %8s %8s %11s %11s %12s %8s\n", "PID", "COMM", "UNIT", "USER", "CPU(s)",
                       "AVG(W)", energy_header, "ENERGY+IDLE", "CO2e", "WAKE/S");
        else
                printf("%-36s %8s %8s %11s %11s %12s %8s\n", key_header(r->by), "CPU(s)", "AVG(W)", energy_header,
                       "ENERGY+IDLE", "CO2e", "WAKE/S");

        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];
                double cpu = (double) row->cpu_ns / 1e9;

                /* Right-aligned by display width: "µ" is one column, two bytes. */
                text_cell(format_energy(row->energy_j, false, buf, sizeof(buf)), 11, true, e1, sizeof(e1));
                text_cell(format_co2(carbon_grams(carbon, row->energy_j), buf, sizeof(buf)), 12, true, e2, sizeof(e2));
                text_cell(format_energy(row->energy_j + row->idle_share_j, false, buf, sizeof(buf)), 11, true, e3,
                          sizeof(e3));
                if (r->by == GROUP_BY_PROCESS)
                        printf("%7" PRIi64 " %s %s %s %8.2f %8.2f %s %s %s %8.1f\n", row->pid,
                               text_cell(row->comm ? row->comm : "-", 15, false, c1, sizeof(c1)),
                               text_cell(row->unit ? row->unit : "-", 20, false, c2, sizeof(c2)),
                               text_cell(cli_user_name((uint32_t) row->uid), 8, false, c3, sizeof(c3)), cpu,
                               report_row_watts(row), e1, e3, e2, report_row_wakeups_per_second(row));
                else
                        printf("%s %8.2f %8.2f %s %s %s %8.1f\n",
                               text_cell(report_row_key(r, row, buf, sizeof(buf)), 36, false, c4, sizeof(c4)), cpu,
                               report_row_watts(row), e1, e3, e2, report_row_wakeups_per_second(row));
        }
        if (r->n_rows > limit)
                printf("(%zu more; use --limit)\n", r->n_rows - limit);
        /* Interrupt and softirq time, its own row (part of unattributed):
         * no process's, so not under a filter. */
        if (r->irq > 0 && !r->filter)
                printf("%s%-*s %11s   (interrupts and softirqs; part of unattributed)\n",
                       r->by == GROUP_BY_PROCESS ? "      - " : "", r->by == GROUP_BY_PROCESS ? 62 : 54, "[irq]",
                       format_energy(r->irq, false, e1, sizeof(e1)));
}

/* The idle figure with its uncertainty and, per host-total domain, the
 * estimate, its band and method; then the processes' share of it. */
static void report_print_idle_line(const Report *r) {
        char e1[96], e2[64], c1[256], c2[256];

        if (isfinite(r->idle_band))
                format_energy_pm(r->idle, r->idle_band, e1, sizeof(e1));
        else
                snprintf(e1, sizeof(e1), "%s \u00b1 ?", format_energy(r->idle, false, e2, sizeof(e2)));
        printf("Idle %s", e1);
        for (size_t i = 0; i < r->n_idle_est; i++) {
                const StoreIdle *p = &r->idle_est[i];
                double band = cli_idle_band_w(p->method, p->band_w);
                char w[64] = "? W", b[32] = "";

                if (isfinite(p->idle_w))
                        snprintf(w, sizeof(w), "%.2f", p->idle_w);
                if (isfinite(p->idle_w))
                        snprintf(b, sizeof(b), isfinite(band) ? " \u00b1 %.2f W" : " \u00b1 ? W", band);
                printf("%s%s %s%s %s", i == 0 ? " (" : "; ", text_cell(p->domain, 0, false, c1, sizeof(c1)), w, b,
                       p->method ? text_cell(p->method, 0, false, c2, sizeof(c2)) : "method unknown");
        }
        printf("%s; processes' CPU-time share of it %s\n", r->n_idle_est > 0 ? ")" : "",
               format_energy(r->idle_share, false, e2, sizeof(e2)));
        if (r->idle_provisional)
                printf("The idle estimate is provisional (persisted or prior): the data have not identified idle "
                       "power yet,\nso the split between idle and dynamic energy is the prior's.\n");
}

void report_print_table_header(const Report *r, const Carbon *carbon, const char *since_s, const char *until_s) {
        char e1[64], e2[64], e3[64], e4[64], buf[160], c1[256];
        double secs = (double) r->duration_ns / 1e9;

        printf("Energy from %s to %s, %" PRIi64 " interval%s\n", since_s, until_s, r->n_intervals,
               r->n_intervals == 1 ? "" : "s");
        printf("Sources: ");
        if (r->n_sources == 0)
                printf("none");
        for (size_t i = 0; i < r->n_sources; i++) {
                printf("%s%s", i > 0 ? ", " : "", text_cell(r->sources[i].domain, 0, false, c1, sizeof(c1)));
                printf(" (%s%s)", text_cell(r->sources[i].source, 0, false, c1, sizeof(c1)),
                       r->sources[i].estimated ? ", estimated" : "");
        }
        printf("\n");
        printf("%s %s = attributed %s + idle %s + unattributed %s; CPU %.1f s\n",
               r->estimated ? "Energy (estimated)" : "Measured",
               format_energy(r->measured, true, e1, sizeof(e1)), format_energy(r->attributed, false, e2, sizeof(e2)),
               format_energy(r->idle, false, e3, sizeof(e3)), format_energy(r->unattributed, false, e4, sizeof(e4)),
               (double) r->cpu_ns / 1e9);
        report_print_idle_line(r);
        printf("Mean power %.2f W; carbon %s (%s)\n", secs > 0 ? r->measured / secs : 0.0,
               format_co2(carbon_grams(carbon, r->measured), e1, sizeof(e1)),
               text_cell(format_carbon_origin(carbon, buf, sizeof(buf)), 0, false, c1, sizeof(c1)));
}

void report_print_table(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                        const char *until_s) {
        report_print_table_header(r, carbon, since_s, until_s);
        printf("\n");
        if (r->by == GROUP_BY_PROCESS && r->process_detail_pruned)
                printf("Per-process detail is not kept past the raw retention: the rows are label sets\n"
                       "(comm, exe, user and cgroup; pid 0) for this range.\n\n");
        report_print_table_rows(r, carbon, limit);
}
