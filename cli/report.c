/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl report: energy per process (or comm, unit, user) over a time range.
 *
 * Intervals are selected by their end time: since < end_ns <= until.
 *
 * JSON (DESIGN.md, plus "estimated"):
 *   since, until        ISO 8601 UTC; without --since, the first selected
 *                       interval's start
 *   by                  "process" | "comm" | "unit" | "user"
 *   estimated           true when any source in the range is estimated
 *   sources             [{domain, source, estimated}]
 *   totals              {measured_joules, attributed_joules, idle_joules,
 *                        unattributed_joules, cpu_seconds}; energy over the
 *                        host-total domains only, so measured = attributed +
 *                        idle + unattributed
 *   rows                [{key, pid, start_time, comm, exe, unit, user, uid,
 *                        ppid, cpu_seconds, energy_joules, domains{name: J}}]
 *                       sorted by energy_joules then cpu_seconds, descending.
 *                       With --by comm|unit|user only key, cpu_seconds,
 *                       energy_joules and domains. An unknown unit is "-".
 *
 * CSV: a header row, then one line per row. Columns: key, [pid, start_time,
 * comm, exe, unit, user, uid, ppid,] cpu_seconds, energy_joules, estimated,
 * then one "joules:DOMAIN" column per domain in the range.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli-util.h"
#include "report-model.h"
#include "report-render.h"
#include "timeparse.h"
#include "util.h"
#include "verbs.h"

typedef enum ReportFormat {
        FORMAT_TABLE,
        FORMAT_JSON,
        FORMAT_CSV,
        FORMAT_HTML,
} ReportFormat;

/* The HTML power chart: the first rows drawn, and the most buckets of time. */
#define HTML_TOP_SERIES 6
#define HTML_MAX_BUCKETS 240

int verb_report(int argc, char **argv, const CliGlobals *g_in) {
        enum { ARG_SINCE = 0x100, ARG_UNTIL, ARG_BY, ARG_LIMIT, ARG_JSON, ARG_CSV, ARG_HTML, ARG_SORT, ARG_CARBON };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "by", required_argument, NULL, ARG_BY },
                { "sort", required_argument, NULL, ARG_SORT },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "json", no_argument, NULL, ARG_JSON },
                { "csv", no_argument, NULL, ARG_CSV },
                { "html", required_argument, NULL, ARG_HTML },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        static const char *const sort_names[_SORT_MAX] = {
                [SORT_ENERGY] = "energy", [SORT_CPU] = "cpu", [SORT_POWER] = "power"
        };
        _cleanup_(store_freep) Store *store = NULL;
        CliGlobals g = *g_in;
        Report r = { .by = GROUP_BY_PROCESS, .sort = SORT_ENERGY };
        uint64_t now = now_ns(CLOCK_REALTIME), boot = cli_boot_realtime();
        bool have_since = false, have_until = false, have_limit = false;
        ReportFormat format = FORMAT_TABLE;
        char since_s[64], until_s[64];
        const char *until_arg = NULL, *html_path = NULL;
        uint64_t limit = 0;
        Carbon carbon;
        int c, e, ret;

        r.since = 0;
        r.until = (uint64_t) INT64_MAX;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SINCE:
                        if (parse_time_spec(optarg, now, boot, &r.since) < 0)
                                return cli_usage_time("--since", optarg);
                        have_since = true;
                        break;
                case ARG_UNTIL:
                        if (parse_time_spec(optarg, now, boot, &r.until) < 0)
                                return cli_usage_time("--until", optarg);
                        have_until = true;
                        until_arg = optarg;
                        break;
                case ARG_BY: {
                        GroupBy by = group_by_from_string(optarg);
                        if (by == _GROUP_BY_INVALID) {
                                fprintf(stderr, "joulectl: invalid --by '%s': expected process, comm, unit, user, slice or container\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        r.by = by;
                        break;
                }
                case ARG_SORT: {
                        ReportSort so = _SORT_INVALID;
                        for (int i = 0; i < _SORT_MAX; i++)
                                if (strcmp(optarg, sort_names[i]) == 0)
                                        so = (ReportSort) i;
                        if (so == _SORT_INVALID) {
                                fprintf(stderr, "joulectl: invalid --sort '%s': expected energy, cpu or power\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        r.sort = so;
                        break;
                }
                case ARG_LIMIT:
                        if (parse_u64(optarg, &limit) < 0 || limit > 100000000) {
                                fprintf(stderr,
                                        "joulectl: invalid --limit '%s': expected a whole number of rows "
                                        "(0 for all)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        have_limit = true;
                        break;
                case ARG_JSON:
                case ARG_CSV:
                case ARG_HTML: {
                        ReportFormat f = c == ARG_JSON ? FORMAT_JSON : c == ARG_CSV ? FORMAT_CSV : FORMAT_HTML;
                        if (format != FORMAT_TABLE && format != f) {
                                fprintf(stderr, "joulectl: --json, --csv and --html cannot be combined; choose one\n");
                                return EXIT_USAGE;
                        }
                        if (c == ARG_HTML) {
                                if (!*optarg) {
                                        fprintf(stderr, "joulectl: invalid --html '': expected an output file "
                                                        "name (- for standard output)\n");
                                        return EXIT_USAGE;
                                }
                                html_path = optarg;
                        }
                        format = f;
                        break;
                }
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl report [--since T] [--until T] [--by process|comm|unit|user|slice|container]\n"
                               "                       [--sort energy|cpu|power] [--limit N]\n"
                               "                       [--json|--csv|--html FILE] [--carbon-intensity G]\n");
                        return 0;
                default:
                        return cli_option_error(c, argv, "report",
                                                "--since, --until, --by, --sort, --limit, --json, --csv, --html, "
                                                "--carbon-intensity");
                }
        }
        if (cli_no_arguments(argc, argv, "report", NULL) != 0)
                return EXIT_USAGE;
        if (have_since && have_until && r.since >= r.until) {
                fprintf(stderr, "joulectl: invalid --until '%s': must be later than --since\n", until_arg);
                return EXIT_USAGE;
        }
        if (!have_limit)
                limit = format == FORMAT_TABLE ? 20 : format == FORMAT_HTML ? 50 : 0;
        if (limit == 0)
                limit = SIZE_MAX;
        if (g.parse_only)
                return 0;

        ret = cli_open_store(&g, &store);
        if (ret != 0)
                return ret;
        ret = cli_require_group_by_schema(store, "report", r.by);
        if (ret != 0)
                return ret;
        cli_carbon_resolve(&g, store, &carbon);

        e = report_load(store, &r);
        if (e < 0) {
                cli_store_error(store, e);
                report_done(&r);
                return 1;
        }

        format_iso8601(have_since ? r.since : r.n_intervals > 0 ? r.first_start : (have_until ? r.until : now),
                       false, since_s, sizeof(since_s));
        format_iso8601(have_until ? r.until : now, false, until_s, sizeof(until_s));

        switch (format) {
        case FORMAT_JSON:
                report_print_json(&r, &carbon, (size_t) limit, since_s, until_s);
                break;
        case FORMAT_CSV:
                report_print_csv(&r, &carbon, (size_t) limit);
                break;
        case FORMAT_HTML: {
                bool to_stdout = strcmp(html_path, "-") == 0;
                FILE *f = to_stdout ? stdout : fopen(html_path, "we");
                if (!f) {
                        fprintf(stderr, "joulectl: cannot write --html '%s': %s\n", html_path, strerror(errno));
                        report_done(&r);
                        return 1;
                }
                ReportSeries series;
                e = report_series_load(store, &r, HTML_TOP_SERIES, HTML_MAX_BUCKETS, &series);
                if (e < 0)
                        cli_store_error(store, e);
                else
                        e = report_write_html(&r, &series, &carbon, (size_t) limit, since_s, until_s, f);
                report_series_done(&series);
                if (!to_stdout && fclose(f) != 0 && e >= 0)
                        e = -errno;
                if (e < 0) {
                        fprintf(stderr, "joulectl: cannot write --html '%s': %s\n", html_path, strerror(-e));
                        report_done(&r);
                        return 1;
                }
                break;
        }
        default:
                report_print_table(&r, &carbon, (size_t) limit, since_s, until_s);
        }
        report_done(&r);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "joulectl: cannot write output: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}
