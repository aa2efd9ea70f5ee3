/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl report --html FILE: one self-contained HTML file. The charts are
 * SVG drawn here (no scripts, no fonts or styles fetched from anywhere):
 *   1. power over time: the host's idle power as the bottom band, stacked
 *      areas of the top consumers above it (up to 6 rows of the report, in
 *      its sort order), "other processes", and the host's measured power as
 *      a line (unattributed power is the gap between the stack and the line);
 *   2. energy share by group: one bar per row, as a share of the energy
 *      attributed to processes (idle and unattributed energy belong to none);
 *   3. the table of the report (its --limit, 50 by default).
 * The time axis is cut into at most 240 buckets; each stored row (raw
 * interval or rollup) is spread over the buckets it covers, so the chart is
 * right across rollups; a bucket's power is its energy over its length. The
 * host line carries its bucket powers in data-watts (for tests and tools).
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "report-render.h"
#include "sanitize.h"
#include "util.h"

#define CHART_W 1000
#define CHART_H 320
#define PAD_L 70
#define PAD_R 20
#define PAD_T 20
#define PAD_B 40

/* 20 distinct colours (no repeat within the top 20 rows); idle its own. */
static const char *const palette[] = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79",
        "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#637939",
};
#define IDLE_COLOUR "#d0d0d0"

/* The grouping's name for people. */
static const char *group_title(GroupBy by) {
        static const char *const t[_GROUP_BY_MAX] = {
                [GROUP_BY_PROCESS] = "Process", [GROUP_BY_COMM] = "Command", [GROUP_BY_UNIT] = "Unit",
                [GROUP_BY_USER] = "User", [GROUP_BY_SLICE] = "Slice", [GROUP_BY_CONTAINER] = "Container",
        };
        return by >= 0 && by < _GROUP_BY_MAX ? t[by] : "Group";
}

/* v with at most 4 significant digits, never in scientific notation:
 * 15.625 → "15.63", 0.000408 → "0.000408", 123456 → "123500". */
static char *format_sig4(double v, char *buf, size_t size) {
        double a = fabs(v);
        int mag, decimals;

        if (!isfinite(v) || a == 0) {
                snprintf(buf, size, "%s", isfinite(v) ? "0" : "-");
                return buf;
        }
        mag = (int) floor(log10(a));
        decimals = MAX(0, 3 - mag);
        if (decimals > 12) {
                snprintf(buf, size, "0");
                return buf;
        }
        if (mag >= 4) {
                double q = pow(10, mag - 3);
                snprintf(buf, size, "%.0f", round(v / q) * q);
                return buf;
        }
        snprintf(buf, size, "%.*f", decimals, v);
        /* No trailing zeros after the point ("15.60" → "15.6"). */
        if (strchr(buf, '.')) {
                size_t n = strlen(buf);
                while (n > 0 && buf[n - 1] == '0')
                        buf[--n] = 0;
                if (n > 0 && buf[n - 1] == '.')
                        buf[--n] = 0;
        }
        return buf;
}

static void html_escape(FILE *f, const char *s_in) {
        /* Invalid UTF-8 replaced first: the document says charset=utf-8. */
        _cleanup_free_ char *u = s_in ? utf8_sanitize(s_in) : NULL;
        const char *s = u;

        for (; s && *s; s++)
                switch (*s) {
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '&': fputs("&amp;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&#39;", f); break;
                default:
                        /* Control characters would make the document invalid. */
                        if ((unsigned char) *s < 0x20 && *s != '\t' && *s != '\n')
                                fputc('?', f);
                        else
                                fputc(*s, f);
                }
}

/* A "nice" axis maximum ≥ v: 1, 2, 5 × 10^k. */
static double nice_max(double v) {
        double p;
        if (!(v > 0) || !isfinite(v))
                return 1;
        p = pow(10, floor(log10(v)));
        if (v <= p)
                return p;
        if (v <= 2 * p)
                return 2 * p;
        if (v <= 5 * p)
                return 5 * p;
        return 10 * p;
}

static double bucket_stack(const ReportSeries *s, size_t b, size_t upto) {
        double sum = s->idle[b];
        for (size_t j = 0; j < upto; j++)
                sum += s->energy[b * s->n_series + j];
        return sum;
}

/* One band of the stack: from the sum of the first `lower` layers to that
 * of the first `upper` ones (layer 0 is idle, layer k + 1 series k). */
static void write_band(FILE *f, const ReportSeries *s, size_t upper, const char *colour, double bucket_s, double ymax) {
        double pw = CHART_W - PAD_L - PAD_R, ph = CHART_H - PAD_T - PAD_B;

        fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.85\" stroke=\"none\" d=\"", colour);
        /* Top edge left to right, then bottom edge right to left. */
        for (size_t b = 0; b < s->n_buckets; b++) {
                double top = upper == 0 ? s->idle[b] : bucket_stack(s, b, upper);
                double x0 = PAD_L + pw * (double) b / (double) s->n_buckets;
                double x1 = PAD_L + pw * (double) (b + 1) / (double) s->n_buckets;
                double y = PAD_T + ph - ph * MIN(top / bucket_s / ymax, 1.0);
                fprintf(f, "%s%.1f %.1f L%.1f %.1f ", b == 0 ? "M" : "L", x0, y, x1, y);
        }
        for (size_t b = s->n_buckets; b-- > 0;) {
                double bottom = upper == 0 ? 0 : upper == 1 ? s->idle[b] : bucket_stack(s, b, upper - 1);
                double x0 = PAD_L + pw * (double) b / (double) s->n_buckets;
                double x1 = PAD_L + pw * (double) (b + 1) / (double) s->n_buckets;
                double y = PAD_T + ph - ph * MIN(bottom / bucket_s / ymax, 1.0);
                fprintf(f, "L%.1f %.1f L%.1f %.1f ", x1, y, x0, y);
        }
        fputs("Z\"/>\n", f);
}

static void write_power_chart(FILE *f, const Report *r, const ReportSeries *s) {
        double bucket_s = (double) (s->t1 - s->t0) / 1e9 / (double) s->n_buckets;
        double ymax = 0, pw = CHART_W - PAD_L - PAD_R, ph = CHART_H - PAD_T - PAD_B;
        char buf[128];

        if (s->t1 <= s->t0 || bucket_s <= 0) {
                fputs("<p>No intervals in this range.</p>\n", f);
                return;
        }
        for (size_t b = 0; b < s->n_buckets; b++)
                ymax = MAX(ymax, MAX(bucket_stack(s, b, s->n_series), s->host[b]) / bucket_s);
        ymax = nice_max(ymax);

        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "role=\"img\" aria-label=\"power over time\">\n",
                CHART_W, CHART_H, CHART_W, CHART_H);
        fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", CHART_W, CHART_H);
        /* Grid and y labels. */
        for (int i = 0; i <= 4; i++) {
                double y = PAD_T + ph - ph * i / 4.0;
                fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", PAD_L, y,
                        CHART_W - PAD_R, y);
                fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">%s W</text>\n",
                        PAD_L - 6, y + 4, format_sig4(ymax * i / 4.0, buf, sizeof(buf)));
        }
        /* Idle at the bottom, then the stacked series. */
        write_band(f, s, 0, IDLE_COLOUR, bucket_s, ymax);
        for (size_t k = 0; k < s->n_series; k++)
                write_band(f, s, k + 1, palette[k % ELEMENTSOF(palette)], bucket_s, ymax);
        /* Host measured power, with its values. */
        fputs("<polyline class=\"host\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\" data-watts=\"", f);
        for (size_t b = 0; b < s->n_buckets; b++)
                fprintf(f, "%s%.6g", b ? " " : "", s->host[b] / bucket_s);
        fputs("\" points=\"", f);
        for (size_t b = 0; b < s->n_buckets; b++) {
                double x = PAD_L + pw * ((double) b + 0.5) / (double) s->n_buckets;
                double y = PAD_T + ph - ph * MIN(s->host[b] / bucket_s / ymax, 1.0);
                fprintf(f, "%.1f,%.1f ", x, y);
        }
        fputs("\"/>\n", f);
        /* Axes and time labels. */
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333333\"/>\n", PAD_L, PAD_T + ph,
                CHART_W - PAD_R, PAD_T + ph);
        for (int i = 0; i <= 4; i++) {
                uint64_t t = s->t0 + (uint64_t) ((double) (s->t1 - s->t0) * i / 4.0);
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" font-size=\"12\">%s</text>\n",
                        PAD_L + pw * i / 4.0, CHART_H - 12, i == 0 ? "start" : i == 4 ? "end" : "middle",
                        format_iso8601(t, false, buf, sizeof(buf)));
        }
        /* The idle band's legend says how it was obtained: each domain's method. */
        fprintf(f, "</svg>\n<div class=\"legend\"><span><i style=\"background:%s\"></i>idle (estimate", IDLE_COLOUR);
        for (size_t i = 0; i < r->n_idle_est; i++) {
                fputs(i == 0 ? ": " : ", ", f);
                html_escape(f, r->idle_est[i].domain);
                fputs(" ", f);
                html_escape(f, r->idle_est[i].method ? r->idle_est[i].method : "method unknown");
        }
        fputs(")</span> ", f);
        for (size_t k = 0; k < s->n_series; k++) {
                fprintf(f, "<span><i style=\"background:%s\"></i>", palette[k % ELEMENTSOF(palette)]);
                if (k + 1 < s->n_series) {
                        html_escape(f, report_row_key(r, &r->rows[k], buf, sizeof(buf)));
                        if (r->by == GROUP_BY_PROCESS && r->rows[k].comm) {
                                fputs(" ", f);
                                html_escape(f, r->rows[k].comm);
                        }
                } else
                        fputs("other processes", f);
                fputs("</span> ", f);
        }
        fputs("<span><i style=\"background:#000000;height:3px\"></i>host measured (includes idle)</span></div>\n", f);
}

static void write_share_chart(FILE *f, const Report *r, size_t limit) {
        size_t n = MIN(MIN(r->n_rows, limit), (size_t) 20);
        /* Over the energy attributed to processes: idle and unattributed
         * energy belong to no row. */
        double total = MAX(r->attributed, r->rows_j), max_share = 0;
        int h = (int) n * 24 + 10, label_w = 260, bar_w = CHART_W - label_w - 120;
        char buf[128], e[64];

        if (n == 0 || total <= 0) {
                fputs("<p>No energy attributed in this range.</p>\n", f);
                return;
        }
        for (size_t i = 0; i < n; i++)
                max_share = MAX(max_share, r->rows[i].energy_j / total);
        max_share = max_share > 0 ? max_share : 1;

        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "role=\"img\" aria-label=\"share of attributed energy\">\n",
                CHART_W, h, CHART_W, h);
        for (size_t i = 0; i < n; i++) {
                const ReportRow *row = &r->rows[i];
                double share = row->energy_j / total;
                int y = 5 + (int) i * 24;
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"13\">", label_w - 8, y + 15);
                html_escape(f, report_row_key(r, row, buf, sizeof(buf)));
                if (r->by == GROUP_BY_PROCESS && row->comm) {
                        fputs(" ", f);
                        html_escape(f, row->comm);
                }
                fputs("</text>\n", f);
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"%s\"/>\n", label_w, y + 2,
                        MAX(1.0, bar_w * share / max_share), palette[i % ELEMENTSOF(palette)]);
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%.1f%% (%s)</text>\n",
                        label_w + MAX(1.0, bar_w * share / max_share) + 6, y + 15, share * 100,
                        format_energy(row->energy_j, false, e, sizeof(e)));
        }
        fputs("</svg>\n", f);
}

/* The idle figure with its uncertainty, each host-total domain's estimate
 * with its band and method, and the processes' share of it. */
static void write_idle_row(FILE *f, const Report *r) {
        char e1[96], e2[64];

        if (isfinite(r->idle_band))
                format_energy_pm(r->idle, r->idle_band, e1, sizeof(e1));
        else
                snprintf(e1, sizeof(e1), "%s \u00b1 ?", format_energy(r->idle, false, e2, sizeof(e2)));
        fprintf(f, "<tr class=\"idle\"><td>Idle</td><td>%s", e1);
        for (size_t i = 0; i < r->n_idle_est; i++) {
                const StoreIdle *p = &r->idle_est[i];
                double band = cli_idle_band_w(p->method, p->band_w);

                fputs(i == 0 ? " (" : "; ", f);
                html_escape(f, p->domain);
                if (isfinite(p->idle_w) && isfinite(band))
                        fprintf(f, " %.2f \u00b1 %.2f W ", p->idle_w, band);
                else if (isfinite(p->idle_w))
                        fprintf(f, " %.2f \u00b1 ? W ", p->idle_w);
                else
                        fputs(" ? W ", f);
                fputs("<span class=\"idle-method\">", f);
                html_escape(f, p->method ? p->method : "method unknown");
                fputs("</span>", f);
        }
        fprintf(f, "%s; processes' CPU-time share of it %s", r->n_idle_est > 0 ? ")" : "",
                format_energy(r->idle_share, false, e2, sizeof(e2)));
        if (r->idle_provisional)
                fputs("; <span class=\"est\">provisional</span>: the data have not identified idle power yet, so "
                      "the split between idle and dynamic energy is the prior's",
                      f);
        fputs("</td></tr>\n", f);
}

int report_write_html(const Report *r, const ReportSeries *s, const Carbon *carbon, size_t limit,
                      const char *since_s, const char *until_s, FILE *f) {
        char e1[64], e2[64], e3[64], e4[64], buf[128];
        double secs = (double) r->duration_ns / 1e9;

        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width\">\n<title>jouled energy report</title>\n"
              "<style>body{font-family:sans-serif;margin:24px;color:#222;background:#fafafa}"
              "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
              "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd}"
              "td.n,th.n{text-align:right}.legend span{margin-right:14px;font-size:13px}"
              ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}"
              ".est{color:#b35900;font-weight:bold}.summary td{border:none}</style>\n</head><body>\n",
              f);
        fputs("<h1>jouled energy report</h1>\n<table class=\"summary\">\n", f);
        fprintf(f, "<tr><td>Range</td><td>%s to %s (%" PRIi64 " intervals, %.0f s)</td></tr>\n", since_s, until_s,
                r->n_intervals, secs);
        fputs("<tr><td>Sources</td><td>", f);
        if (r->n_sources == 0)
                fputs("none", f);
        for (size_t i = 0; i < r->n_sources; i++) {
                fputs(i > 0 ? ", " : "", f);
                html_escape(f, r->sources[i].domain);
                fputs(" (", f);
                html_escape(f, r->sources[i].source);
                fputs(r->sources[i].estimated ? ", <span class=\"est\">estimated</span>)" : ")", f);
        }
        fputs("</td></tr>\n", f);
        fprintf(f, "<tr><td>%s</td><td>%s = attributed %s + idle %s + unattributed %s</td></tr>\n",
                r->estimated ? "Energy <span class=\"est\">(estimated)</span>" : "Measured",
                format_energy(r->measured, true, e1, sizeof(e1)), format_energy(r->attributed, false, e2, sizeof(e2)),
                format_energy(r->idle, false, e3, sizeof(e3)), format_energy(r->unattributed, false, e4, sizeof(e4)));
        write_idle_row(f, r);
        fprintf(f, "<tr><td>Mean power</td><td>%.2f W; CPU %.1f s</td></tr>\n", secs > 0 ? r->measured / secs : 0.0,
                (double) r->cpu_ns / 1e9);
        fprintf(f, "<tr><td>Carbon</td><td>%s (", format_co2(carbon_grams(carbon, r->measured), e1, sizeof(e1)));
        html_escape(f, format_carbon_origin(carbon, buf, sizeof(buf)));
        fputs(")</td></tr>\n</table>\n", f);

        fputs("<h2>Power over time</h2>\n", f);
        write_power_chart(f, r, s);
        fprintf(f, "<h2>Share of attributed energy by %s</h2>\n", group_by_to_string(r->by));
        write_share_chart(f, r, limit);

        fputs("<h2>Table</h2>\n<table>\n<tr>", f);
        if (r->by == GROUP_BY_PROCESS)
                fputs("<th class=\"n\">PID</th><th>Command</th><th>Unit</th><th>User</th>", f);
        else
                fprintf(f, "<th>%s</th>", group_title(r->by));
        fprintf(f, "<th class=\"n\">CPU (s)</th><th class=\"n\">Mean power (W)</th><th class=\"n\">Energy (J)%s</th>"
                   "<th class=\"n\">Energy with idle (J)</th><th class=\"n\">CO2e (g)</th><th class=\"n\">Wakeups (/s)</th><th>Figures</th></tr>\n",
                r->estimated ? " <span class=\"est\">estimated</span>" : "");
        for (size_t i = 0; i < r->n_rows && i < limit; i++) {
                const ReportRow *row = &r->rows[i];
                char n1[32], n2[32], n3[32], n4[32], n5[32], n6[32];
                fputs(r->estimated ? "<tr class=\"estimated\">" : "<tr>", f);
                if (r->by == GROUP_BY_PROCESS) {
                        fprintf(f, "<td class=\"n\">%" PRIi64 "</td><td>", row->pid);
                        html_escape(f, row->comm ? row->comm : "-");
                        fputs("</td><td>", f);
                        html_escape(f, row->unit ? row->unit : "-");
                        fputs("</td><td>", f);
                        html_escape(f, cli_user_name((uint32_t) row->uid));
                        fputs("</td>", f);
                } else {
                        fputs("<td>", f);
                        html_escape(f, report_row_key(r, row, buf, sizeof(buf)));
                        fputs("</td>", f);
                }
                fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                           "<td class=\"n with-idle\">%s</td>"
                           "<td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td></tr>\n",
                        format_sig4((double) row->cpu_ns / 1e9, n1, sizeof(n1)),
                        format_sig4(report_row_watts(row), n2, sizeof(n2)),
                        format_sig4(row->energy_j, n3, sizeof(n3)),
                        format_sig4(row->energy_j + row->idle_share_j, n6, sizeof(n6)),
                        format_sig4(carbon_grams(carbon, row->energy_j), n4, sizeof(n4)),
                        format_sig4(report_row_wakeups_per_second(row), n5, sizeof(n5)),
                        r->estimated ? "<span class=\"est\">estimated</span>" : "measured");
        }
        fputs("</table>\n", f);
        if (r->n_rows > limit)
                fprintf(f, "<p>%zu more rows; use --limit.</p>\n", r->n_rows - limit);
        fputs("<p style=\"font-size:12px;color:#666\">Generated by joulectl. Energy of a row is the dynamic "
              "energy attributed to it by CPU time; energy with idle adds its CPU-time share of idle energy. "
              "Idle energy is an estimate (method and uncertainty above); unattributed energy belongs to no row.</p>\n</body></html>\n",
              f);
        if (ferror(f))
                return -EIO;
        return 0;
}
