/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl export: raw interval data for notebooks and spreadsheets.
 *
 * One record per interval, process and domain ("long" format, so that any
 * set of domains fits one fixed set of columns). A process with CPU time but
 * no energy in an interval gets one record with an empty domain and 0 J.
 * Intervals are selected by their end: since < interval_end <= until;
 * without --since, all stored data. Raw intervals while they are kept, then
 * the rollups that stand for the older ones (one minute, hour or day each):
 * every record says its level and the time it covers.
 *
 * Fields (CSV columns in this order; JSON: an array of objects with these
 * keys, numbers exact, times ISO 8601 UTC with milliseconds):
 *   interval_start, interval_end, duration_seconds, pid, start_time, comm,
 *   exe, unit, user, uid, ppid, cpu_seconds (the process's CPU time in the
 *   interval, repeated on each of its domain records), domain, source,
 *   estimated, host_total (whether the domain counts in the host total:
 *   summing energy_joules over host_total records gives no double counting),
 *   energy_joules (the dynamic energy attributed to the process),
 *   energy_with_idle_joules (energy_joules plus the process's CPU-time share
 *   of the domain's idle energy), level ("raw", "minute", "hour" or "day").
 *   duration_seconds is the time the record's interval covers (for a
 *   rollup, the sum of its raw intervals', at most interval_end -
 *   interval_start).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-util.h"
#include "string-table.h"
#include "timeparse.h"
#include "util.h"
#include "verbs.h"

typedef enum ExportFormat {
        EXPORT_FORMAT_CSV,
        EXPORT_FORMAT_JSON,
        _EXPORT_FORMAT_MAX,
        _EXPORT_FORMAT_INVALID = -1,
} ExportFormat;

static const char *const export_format_table[] = {
        [EXPORT_FORMAT_CSV] = "csv",
        [EXPORT_FORMAT_JSON] = "json",
};
DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(export_format, ExportFormat, EXPORT_FORMAT);

static const char *text_or(const char *s, const char *fallback) {
        return s ? s : fallback;
}

static const char *level_name(int level) {
        static const char *const names[] = { "raw", "minute", "hour", "day" };
        return level >= 0 && level < (int) ELEMENTSOF(names) ? names[level] : "unknown";
}

typedef struct ExportOutput {
        bool json, first;
} ExportOutput;

static int export_record(const StoreExportRecord *rec, void *userdata) {
        ExportOutput *out = userdata;
        uint64_t start = rec->interval_start_ns, end = rec->interval_end_ns;
        bool has_domain = rec->domain;
        char b1[64], b2[64], b3[64], b4[64];

        if (out->json) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "interval_start",
                                       json_object_new_string(format_iso8601(start, true, b1, sizeof(b1))));
                json_object_object_add(o, "interval_end",
                                       json_object_new_string(format_iso8601(end, true, b1, sizeof(b1))));
                json_object_object_add(o, "duration_seconds", json_seconds_from_ns(rec->duration_ns));
                json_object_object_add(o, "level", json_object_new_string(level_name(rec->level)));
                json_object_object_add(o, "pid", json_object_new_int64(rec->pid));
                json_object_object_add(o, "start_time",
                                       json_object_new_string(format_iso8601(rec->start_ns, true, b1, sizeof(b1))));
                json_object_object_add(o, "comm", json_string_safe(text_or(rec->comm, "")));
                json_object_object_add(o, "exe", json_string_safe(rec->exe));
                json_object_object_add(o, "unit", json_string_safe(rec->unit));
                json_object_object_add(o, "user", json_string_safe(cli_user_name(rec->uid)));
                json_object_object_add(o, "uid", json_object_new_int64(rec->uid));
                json_object_object_add(o, "ppid", json_object_new_int64(rec->ppid));
                json_object_object_add(o, "cpu_seconds", json_seconds_from_ns(rec->cpu_ns));
                json_object_object_add(o, "domain", has_domain ? json_string_safe(text_or(rec->domain, "")) : NULL);
                json_object_object_add(o, "source", has_domain ? json_string_safe(text_or(rec->source, "")) : NULL);
                json_object_object_add(o, "estimated", json_object_new_boolean(rec->estimated));
                json_object_object_add(o, "host_total", json_object_new_boolean(rec->host_total));
                json_object_object_add(o, "energy_joules", json_double_exact(rec->energy_j));
                json_object_object_add(o, "energy_with_idle_joules", json_double_exact(rec->energy_j + rec->idle_share_j));
                printf("%s\n%s", out->first ? "" : ",",
                       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                printf("%s,%s,%s,%" PRIi64 ",%s,", format_iso8601(start, true, b1, sizeof(b1)),
                       format_iso8601(end, true, b2, sizeof(b2)),
                       format_ns_as_seconds(rec->duration_ns, b3, sizeof(b3)), rec->pid,
                       format_iso8601(rec->start_ns, true, b4, sizeof(b4)));
                csv_field(stdout, text_or(rec->comm, ""));
                fputc(',', stdout);
                csv_field(stdout, text_or(rec->exe, ""));
                fputc(',', stdout);
                csv_field(stdout, text_or(rec->unit, ""));
                fputc(',', stdout);
                csv_field(stdout, cli_user_name(rec->uid));
                printf(",%" PRIu32 ",%" PRIi64 ",%s,", rec->uid, rec->ppid, format_ns_as_seconds(rec->cpu_ns, b1, sizeof(b1)));
                csv_field(stdout, text_or(rec->domain, ""));
                fputc(',', stdout);
                csv_field(stdout, text_or(rec->source, ""));
                printf(",%s,%s,%s,%s,%s\r\n", rec->estimated ? "true" : "false", rec->host_total ? "true" : "false",
                       format_double(rec->energy_j, b1, sizeof(b1)),
                       format_double(rec->energy_j + rec->idle_share_j, b2, sizeof(b2)), level_name(rec->level));
        }
        out->first = false;
        return 0;
}

static int export_run(Store *store, uint64_t since, uint64_t until, bool json) {
        ExportOutput out = { .json = json, .first = true };
        int r;

        if (json)
                fputs("[", stdout);
        else
                fputs("interval_start,interval_end,duration_seconds,pid,start_time,comm,exe,unit,user,uid,ppid,"
                      "cpu_seconds,domain,source,estimated,host_total,energy_joules,energy_with_idle_joules,level\r\n",
                      stdout);

        r = store_query_export(store, since, until, export_record, &out);
        if (json)
                fputs(out.first ? "]\n" : "\n]\n", stdout);
        if (r < 0) {
                cli_store_error(store, r);
                return 1;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "joulectl: cannot write output: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}

int verb_export(int argc, char **argv, const CliGlobals *g) {
        enum { ARG_SINCE = 0x100, ARG_UNTIL, ARG_FORMAT };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(store_freep) Store *store = NULL;
        uint64_t now = now_ns(CLOCK_REALTIME), boot = cli_boot_realtime();
        uint64_t since = 0, until = (uint64_t) INT64_MAX;
        const char *since_arg = NULL, *until_arg = NULL;
        bool json = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SINCE:
                        if (parse_time_spec(optarg, now, boot, &since) < 0)
                                return cli_usage_time("--since", optarg);
                        since_arg = optarg;
                        break;
                case ARG_UNTIL:
                        if (parse_time_spec(optarg, now, boot, &until) < 0)
                                return cli_usage_time("--until", optarg);
                        until_arg = optarg;
                        break;
                case ARG_FORMAT: {
                        ExportFormat f = export_format_from_string(optarg);
                        if (f == _EXPORT_FORMAT_INVALID) {
                                fprintf(stderr, "joulectl: invalid --format '%s': expected csv or json\n", cli_safe(optarg));
                                return EXIT_USAGE;
                        }
                        json = f == EXPORT_FORMAT_JSON;
                        break;
                }
                case 'h':
                        printf("Usage: joulectl export [--since T] [--until T] [--format csv|json]\n"
                               "One record per interval, process and domain; without --since, all data.\n"
                               "Raw intervals while they are kept, then rollups; each record says its level.\n");
                        return 0;
                default:
                        return cli_option_error(c, argv, "export", "--since, --until, --format");
                }
        }
        if (cli_no_arguments(argc, argv, "export", NULL) != 0)
                return EXIT_USAGE;
        if (since_arg && since > now) {
                fprintf(stderr, "joulectl: invalid --since '%s': it is in the future\n", cli_safe(since_arg));
                return EXIT_USAGE;
        }
        if (until_arg && since >= until) {
                fprintf(stderr, "joulectl: invalid --until '%s': must be later than --since\n", cli_safe(until_arg));
                return EXIT_USAGE;
        }
        if (g->parse_only)
                return 0;

        r = cli_open_store(g, &store);
        if (r != 0)
                return r;
        return export_run(store, since, until, json);
}
