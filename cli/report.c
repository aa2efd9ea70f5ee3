/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl report: energy per process (or comm, unit, user) over a time range.
 *
 * Intervals are selected by their end time: since < end_ns <= until.
 *
 * JSON:
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
 *
 * Filters (--unit, --comm, --user, --pid; glob patterns, fnmatch(3); each
 * repeatable, any of its patterns; all given filters together) choose the
 * processes the rows hold; the totals stay the host's, totals.rows_joules
 * is the rows' energy, and the JSON says the patterns in filter {unit, comm,
 * user, pid}.
 *
 * --every D cuts the range into buckets of D aligned on multiples of D since
 * the epoch (UTC): the table prints one block per bucket, the CSV has a first
 * column "bucket" (its start), and the JSON is {since, until, by, sort,
 * every_seconds, carbon, buckets: [the object above for each bucket]}.
 * Buckets without any interval are left out.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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
/* --every: at most this many buckets. */
#define MAX_TIME_BUCKETS 100000

static int patterns_add(char ***list, size_t *n, const char *opt, const char *pattern) {
        char **l;

        if (!*pattern) {
                fprintf(stderr, "joulectl: invalid %s '': expected a name or a glob pattern\n", opt);
                return EXIT_USAGE;
        }
        l = realloc(*list, (*n + 2) * sizeof(char *));
        if (!l) {
                fprintf(stderr, "joulectl: out of memory\n");
                return 1;
        }
        l[(*n)++] = (char *) pattern;
        l[*n] = NULL;
        *list = l;
        return 0;
}

typedef struct ReportOutput {
        ReportFormat format;
        const Carbon *carbon;
        size_t limit;
        json_object *buckets;    /* --every --json */
        size_t n_printed;        /* buckets printed so far */
} ReportOutput;

/* One bucket of --every: loaded, then printed (or added to the JSON). */
static int report_bucket(Store *store, const Report *base, uint64_t since, uint64_t until, ReportOutput *out) {
        Report r = *base;
        char since_s[64], until_s[64];
        int e;

        r.since = since;
        r.until = until;
        r.sources = NULL, r.n_sources = 0, r.domains = NULL, r.n_domains = 0, r.rows = NULL, r.n_rows = 0;
        e = report_load(store, &r);
        if (e < 0) {
                cli_store_error(store, e);
                report_done(&r);
                return 1;
        }
        if (r.n_intervals == 0) {
                report_done(&r);
                return 0;
        }
        format_iso8601(since, false, since_s, sizeof(since_s));
        format_iso8601(until, false, until_s, sizeof(until_s));
        switch (out->format) {
        case FORMAT_JSON:
                json_object_array_add(out->buckets, report_json(&r, out->carbon, out->limit, since_s, until_s));
                break;
        case FORMAT_CSV:
                report_print_csv_bucket(&r, out->carbon, out->limit, since_s, out->n_printed == 0);
                break;
        default:
                if (out->n_printed > 0)
                        printf("\n");
                report_print_table(&r, out->carbon, out->limit, since_s, until_s);
        }
        out->n_printed++;
        report_done(&r);
        return 0;
}

static int report_every(Store *store, const Report *r, uint64_t every, ReportFormat format, const Carbon *carbon,
                        size_t limit, const char *since_s, const char *until_s) {
        ReportOutput out = { .format = format, .carbon = carbon, .limit = limit };
        uint64_t t0, t1;
        int e, ret = 0;

        e = store_query_span(store, r->since, r->until, &t0, &t1);
        if (e < 0) {
                cli_store_error(store, e);
                return 1;
        }
        if (format == FORMAT_JSON)
                out.buckets = json_object_new_array();
        if (t1 > 0) {
                /* Intervals count in the bucket holding their end. */
                uint64_t first = MAX(r->since, t0) / every * every, last = MIN(r->until, t1);
                if ((last - first) / every > MAX_TIME_BUCKETS) {
                        fprintf(stderr, "joulectl: --every would make %" PRIu64 " buckets (at most %d): "
                                "choose a longer bucket or a shorter range\n",
                                (last - first) / every, MAX_TIME_BUCKETS);
                        json_object_put(out.buckets);
                        return EXIT_USAGE;
                }
                for (uint64_t b = first; b < last && ret == 0; b += every)
                        ret = report_bucket(store, r, MAX(b, r->since), MIN(b + every, r->until), &out);
        }
        if (format == FORMAT_JSON) {
                json_object *o = json_object_new_object(), *c = json_object_new_object();
                json_object_object_add(o, "since", json_object_new_string(since_s));
                json_object_object_add(o, "until", json_object_new_string(until_s));
                json_object_object_add(o, "by", json_object_new_string(group_by_to_string(r->by)));
                json_object_object_add(o, "sort", json_object_new_string(report_sort_to_string(r->sort)));
                json_object_object_add(o, "every_seconds", json_seconds_from_ns(every));
                json_object_object_add(c, "intensity_g_per_kwh", json_double_exact(carbon->g_per_kwh));
                json_object_object_add(c, "origin", json_string_safe(carbon->origin));
                json_object_object_add(o, "carbon", c);
                json_object_object_add(o, "buckets", out.buckets);
                if (ret == 0)
                        json_print(o);
                json_object_put(o);
        } else if (format == FORMAT_TABLE && out.n_printed == 0 && ret == 0)
                printf("No intervals recorded from %s to %s.\n", since_s, until_s);
        return ret;
}

int verb_report(int argc, char **argv, const CliGlobals *g_in) {
        enum {
                ARG_SINCE = 0x100, ARG_UNTIL, ARG_BY, ARG_LIMIT, ARG_JSON, ARG_CSV, ARG_HTML, ARG_SORT, ARG_CARBON,
                ARG_UNIT, ARG_COMM, ARG_USER, ARG_PID, ARG_EVERY,
        };
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
                { "unit", required_argument, NULL, ARG_UNIT },
                { "comm", required_argument, NULL, ARG_COMM },
                { "user", required_argument, NULL, ARG_USER },
                { "pid", required_argument, NULL, ARG_PID },
                { "every", required_argument, NULL, ARG_EVERY },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_free_ char **units = NULL, **comms = NULL, **users = NULL, **pids = NULL;
        size_t n_units = 0, n_comms = 0, n_users = 0, n_pids = 0;
        StoreFilter filter = { .user_name = cli_user_name };
        CliGlobals g = *g_in;
        Report r = { .by = GROUP_BY_PROCESS, .sort = SORT_ENERGY };
        uint64_t now = now_ns(CLOCK_REALTIME), boot = cli_boot_realtime();
        bool have_since = false, have_until = false, have_limit = false;
        ReportFormat format = FORMAT_TABLE;
        char since_s[64], until_s[64];
        const char *since_arg = NULL, *until_arg = NULL, *html_path = NULL;
        uint64_t limit = 0, every = 0;
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
                        since_arg = optarg;
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
                                        cli_safe(optarg));
                                return EXIT_USAGE;
                        }
                        r.by = by;
                        break;
                }
                case ARG_SORT: {
                        ReportSort so = report_sort_from_string(optarg);
                        if (so == _SORT_INVALID) {
                                fprintf(stderr, "joulectl: invalid --sort '%s': expected energy, cpu, power, name "
                                                "or wakeups\n",
                                        cli_safe(optarg));
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
                                        cli_safe(optarg));
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
                case ARG_UNIT:
                case ARG_COMM:
                case ARG_USER:
                case ARG_PID:
                        ret = c == ARG_UNIT   ? patterns_add(&units, &n_units, "--unit", optarg)
                              : c == ARG_COMM ? patterns_add(&comms, &n_comms, "--comm", optarg)
                              : c == ARG_USER ? patterns_add(&users, &n_users, "--user", optarg)
                                              : patterns_add(&pids, &n_pids, "--pid", optarg);
                        if (ret != 0)
                                return ret;
                        break;
                case ARG_EVERY:
                        if (parse_duration_ns(optarg, DURATION_POSITIVE | DURATION_NO_FRACTION, &every) < 0 ||
                            every < NSEC_PER_SEC) {
                                fprintf(stderr, "joulectl: invalid --every '%s': expected a bucket length of at "
                                                "least 1s, %s\n",
                                        cli_safe(optarg), DURATION_ACCEPTED);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        printf("Usage: joulectl report [--since T] [--until T] [--by process|comm|unit|user|slice|container]\n"
                               "                       [--sort energy|cpu|power|name|wakeups] [--limit N]\n"
                               "                       [--unit GLOB]... [--comm GLOB]... [--user GLOB]... [--pid GLOB]...\n"
                               "                       [--every DURATION] [--json|--csv|--html FILE]\n"
                               "                       [--carbon-intensity G]\n");
                        return 0;
                default:
                        return cli_option_error(c, argv, "report",
                                                "--since, --until, --by, --sort, --limit, --unit, --comm, --user, "
                                                "--pid, --every, --json, --csv, --html, --carbon-intensity");
                }
        }
        if (cli_no_arguments(argc, argv, "report", NULL) != 0)
                return EXIT_USAGE;
        if (have_since && r.since > now) {
                fprintf(stderr, "joulectl: invalid --since '%s': it is in the future\n", cli_safe(since_arg));
                return EXIT_USAGE;
        }
        if (have_since && have_until && r.since >= r.until) {
                fprintf(stderr, "joulectl: invalid --until '%s': must be later than --since\n", cli_safe(until_arg));
                return EXIT_USAGE;
        }
        if (every > 0 && format == FORMAT_HTML) {
                fprintf(stderr, "joulectl: --every cannot be combined with --html (the chart is over time already)\n");
                return EXIT_USAGE;
        }
        filter.units = units, filter.comms = comms, filter.users = users, filter.pids = pids;
        r.filter = store_filter_is_empty(&filter) ? NULL : &filter;
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

        if (every > 0) {
                format_iso8601(have_since ? r.since : 0, false, since_s, sizeof(since_s));
                format_iso8601(have_until ? r.until : now, false, until_s, sizeof(until_s));
                if (!have_since) {
                        uint64_t t0 = 0, t1 = 0;
                        if (store_query_span(store, r.since, r.until, &t0, &t1) >= 0 && t1 > 0)
                                format_iso8601(t0, false, since_s, sizeof(since_s));
                }
                ret = report_every(store, &r, every, format, &carbon, (size_t) limit, since_s, until_s);
                if (ret == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
                        fprintf(stderr, "joulectl: cannot write output: %s\n", strerror(errno));
                        return 1;
                }
                return ret;
        }

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
                        fprintf(stderr, "joulectl: cannot write --html '%s': %s\n", cli_safe(html_path), strerror(errno));
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
                        fprintf(stderr, "joulectl: cannot write --html '%s': %s\n", cli_safe(html_path), strerror(-e));
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
