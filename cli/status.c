/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl status: what jouled measures, how, and the state of its database.
 *
 * JSON fields (stable):
 *   database        {path, size_bytes (main file), wal_bytes, schema_version,
 *                    schema_latest (this joulectl's; older ones are read as it)}
 *   daemon          {pid, version, started, interval_s, last_sample,
 *                    last_sample_age_seconds}: values as the daemon stored
 *                    them (strings), age computed now; null when unknown
 *   tracker         {mode: "bpf"|"procfs"|null, note: string|null,
 *                    fallback_reason: string|null, accounting:
 *                    "iterator"|"per-switch"|null (BPF: how CPU time is
 *                    read now, see jouled.conf(5) TrackerAccounting=)}; in procfs mode note
 *                    says that short-lived processes may be missed, and
 *                    fallback_reason why BPF was not used
 *   estimated       true when any source in use is estimated
 *   sources         [{name, status ("usable", "missing", "permission",
 *                    "unsupported"), estimated, in_use, reason}]
 *   domains         [{domain, source, estimated}] of the latest interval
 *   processes_tracked   integer (daemon's live table) or null
 *   processes_stored    integer (rows in the database)
 *   intervals_stored    integer
 *   counters        {exits_lost, exits_early_only, vanished, write_errors,
 *                    intervals_buffered, intervals_dropped,
 *                    counters_discarded}: integers or null
 *   attribution     {basis: "cpu-time"|"cycles"|null, per_package:
 *                    true|false|null}: daemon_state attribution_basis and
 *                    attribution_per_package ("yes"/"no")
 *   self            {pid (daemon_state self_pid, else pid; null when
 *                    unknown), cpu_seconds, energy_joules, estimated,
 *                    window_seconds (3600)}: jouled's own CPU time and
 *                    attributed energy over the last hour (now - 3600 s,
 *                    now], from the samples of its processes row (the
 *                    latest started process with that pid); 0 when none
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "cli-util.h"
#include "util.h"
#include "verbs.h"

typedef struct StateValue {
        const char *key;
        char *value;
} StateValue;

enum {
        ST_TRACKER_MODE,
        ST_TRACKER_NOTE,
        ST_LAST_SAMPLE,
        ST_PID,
        ST_INTERVAL,
        ST_VERSION,
        ST_PROCESSES_TRACKED,
        ST_EXITS_LOST,
        ST_VANISHED,
        ST_STARTED,
        ST_TRACKER_FALLBACK,
        ST_WRITE_ERRORS,
        ST_INTERVALS_BUFFERED, /* write buffer and counter guard */
        ST_INTERVALS_DROPPED,
        ST_COUNTERS_DISCARDED,
        ST_EXITS_EARLY_ONLY,
        ST_ATTRIBUTION_BASIS,
        ST_ATTRIBUTION_PER_PACKAGE,
        ST_SELF_PID,
        ST_TRACKER_ACCOUNTING,
        _ST_MAX,
};

static const char *const state_keys[_ST_MAX] = {
        [ST_TRACKER_MODE] = "tracker_mode",
        [ST_TRACKER_NOTE] = "tracker_note",
        [ST_LAST_SAMPLE] = "last_sample",
        [ST_PID] = "pid",
        [ST_INTERVAL] = "interval_s",
        [ST_VERSION] = "version",
        [ST_PROCESSES_TRACKED] = "processes_tracked",
        [ST_EXITS_LOST] = "exits_lost",
        [ST_VANISHED] = "vanished",
        [ST_STARTED] = "started",
        [ST_TRACKER_FALLBACK] = "tracker_fallback_reason",
        [ST_WRITE_ERRORS] = "write_errors",
        [ST_INTERVALS_BUFFERED] = "intervals_buffered",
        [ST_INTERVALS_DROPPED] = "intervals_dropped",
        [ST_COUNTERS_DISCARDED] = "counters_discarded",
        [ST_EXITS_EARLY_ONLY] = "exits_early_only",
        [ST_ATTRIBUTION_BASIS] = "attribution_basis",
        [ST_ATTRIBUTION_PER_PACKAGE] = "attribution_per_package",
        [ST_SELF_PID] = "self_pid",
        [ST_TRACKER_ACCOUNTING] = "tracker_accounting",
};

#define SELF_WINDOW_NS (3600 * NSEC_PER_SEC)

#define PROCFS_NOTE "short-lived processes may be missed"

typedef struct Status {
        char *state[_ST_MAX];
        StoreProbe *probes;
        size_t n_probes;
        StoreSource *domains;        /* of the newest raw interval */
        size_t n_domains;
        int64_t processes_stored, intervals_stored;
        int64_t last_end_ns;
        int64_t self_pid;            /* -1: unknown */
        uint64_t self_cpu_ns;        /* jouled's own, over the last hour */
        double self_energy_j;
        int schema_version;
        uint64_t size_bytes, wal_bytes;
} Status;

static void status_done(Status *s) {
        for (size_t i = 0; i < _ST_MAX; i++)
                free(s->state[i]);
        store_probes_free(s->probes, s->n_probes);
        store_sources_free(s->domains, s->n_domains);
}

static int status_load(Store *store, Status *s) {
        StoreStateEntry *state = NULL;
        StoreCounts counts;
        size_t n_state = 0;
        int r;

        s->schema_version = store_schema_version(store);

        r = store_query_state_all(store, &state, &n_state);
        if (r < 0)
                return r;
        for (size_t j = 0; j < n_state; j++)
                for (size_t i = 0; state[j].key && i < _ST_MAX; i++)
                        if (strcmp(state[j].key, state_keys[i]) == 0 && !s->state[i])
                                s->state[i] = TAKE_PTR(state[j].value);
        store_state_entries_free(state, n_state);

        r = store_query_probes(store, &s->probes, &s->n_probes);
        if (r < 0)
                return r;
        r = store_query_latest_domains(store, &s->domains, &s->n_domains);
        if (r < 0)
                return r;
        r = store_query_counts(store, &counts);
        if (r < 0)
                return r;
        s->processes_stored = counts.processes;
        s->intervals_stored = counts.intervals;
        s->last_end_ns = counts.last_end_ns;

        /* jouled's own cost over the last hour, from the samples of its
         * processes row. */
        s->self_pid = -1;
        const char *pid = s->state[ST_SELF_PID] ? s->state[ST_SELF_PID] : s->state[ST_PID];
        uint64_t v, now = now_ns(CLOCK_REALTIME);
        if (!pid || parse_u64(pid, &v) < 0 || v > INT32_MAX || s->schema_version < STORE_SCHEMA_SELF_USAGE)
                return 0;
        s->self_pid = (int64_t) v;
        return store_query_process_usage(store, s->self_pid, now > SELF_WINDOW_NS ? now - SELF_WINDOW_NS : 0, now,
                                         &s->self_cpu_ns, &s->self_energy_j);
}

static uint64_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? 0 : (uint64_t) st.st_size;
}

static json_object *json_int_from_state(const char *v) {
        uint64_t n;
        if (!v || parse_u64(v, &n) < 0 || n > (uint64_t) INT64_MAX)
                return NULL;
        return json_object_new_int64((int64_t) n);
}

static json_object *json_string_or_null(const char *s) {
        return json_string_safe(s);
}

/* attribution_per_package: "yes" / "no" → true / false, else null. */
static json_object *per_package_json(const char *v) {
        if (streq_ptr(v, "yes"))
                return json_object_new_boolean(true);
        if (streq_ptr(v, "no"))
                return json_object_new_boolean(false);
        return NULL;
}

static const char *tracker_note(const Status *s) {
        if (s->state[ST_TRACKER_NOTE] && *s->state[ST_TRACKER_NOTE])
                return s->state[ST_TRACKER_NOTE];
        if (streq_ptr(s->state[ST_TRACKER_MODE], "procfs"))
                return PROCFS_NOTE;
        return NULL;
}

static bool any_estimated(const Status *s) {
        for (size_t i = 0; i < s->n_probes; i++)
                if (s->probes[i].in_use && s->probes[i].estimated)
                        return true;
        for (size_t i = 0; i < s->n_domains; i++)
                if (s->domains[i].estimated)
                        return true;
        return false;
}

/* Seconds since the last stored interval, or -1 when none. */
static double last_sample_age(const Status *s) {
        uint64_t now = now_ns(CLOCK_REALTIME);
        if (s->last_end_ns <= 0)
                return -1;
        return now > (uint64_t) s->last_end_ns ? (double) (now - (uint64_t) s->last_end_ns) / 1e9 : 0;
}

/* The daemon's last_sample, else the end of the last stored interval. */
static const char *last_sample(const Status *s, char *buf, size_t size) {
        if (s->state[ST_LAST_SAMPLE] && *s->state[ST_LAST_SAMPLE])
                return s->state[ST_LAST_SAMPLE];
        if (s->last_end_ns <= 0)
                return NULL;
        return format_iso8601((uint64_t) s->last_end_ns, false, buf, size);
}

static void status_print_json(const Status *s, const char *path) {
        json_object *o = json_object_new_object(), *x, *a;
        double age = last_sample_age(s);
        char buf[64];

        x = json_object_new_object();
        json_object_object_add(x, "path", json_string_safe(path));
        json_object_object_add(x, "size_bytes", json_object_new_int64((int64_t) s->size_bytes));
        json_object_object_add(x, "wal_bytes", json_object_new_int64((int64_t) s->wal_bytes));
        json_object_object_add(x, "schema_version", json_object_new_int(s->schema_version));
        json_object_object_add(x, "schema_latest", json_object_new_int(store_latest_schema_version()));
        json_object_object_add(o, "database", x);

        x = json_object_new_object();
        json_object_object_add(x, "pid", json_int_from_state(s->state[ST_PID]));
        json_object_object_add(x, "version", json_string_or_null(s->state[ST_VERSION]));
        json_object_object_add(x, "started", json_string_or_null(s->state[ST_STARTED]));
        json_object_object_add(x, "interval_s", json_string_or_null(s->state[ST_INTERVAL]));
        json_object_object_add(x, "last_sample", json_string_or_null(last_sample(s, buf, sizeof(buf))));
        json_object_object_add(x, "last_sample_age_seconds", age >= 0 ? json_double_exact(round(age * 1000) / 1000) : NULL);
        json_object_object_add(o, "daemon", x);

        x = json_object_new_object();
        json_object_object_add(x, "mode", json_string_or_null(s->state[ST_TRACKER_MODE]));
        json_object_object_add(x, "note", json_string_or_null(tracker_note(s)));
        json_object_object_add(x, "fallback_reason", json_string_or_null(s->state[ST_TRACKER_FALLBACK] && *s->state[ST_TRACKER_FALLBACK]
                                                                            ? s->state[ST_TRACKER_FALLBACK] : NULL));
        json_object_object_add(x, "accounting", json_string_or_null(s->state[ST_TRACKER_ACCOUNTING] && *s->state[ST_TRACKER_ACCOUNTING]
                                                                       ? s->state[ST_TRACKER_ACCOUNTING] : NULL));
        json_object_object_add(o, "tracker", x);

        json_object_object_add(o, "estimated", json_object_new_boolean(any_estimated(s)));

        a = json_object_new_array();
        for (size_t i = 0; i < s->n_probes; i++) {
                const StoreProbe *p = &s->probes[i];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "name", json_string_or_null(p->name));
                json_object_object_add(j, "status", json_string_or_null(p->status));
                json_object_object_add(j, "estimated", json_object_new_boolean(p->estimated));
                json_object_object_add(j, "in_use", json_object_new_boolean(p->in_use));
                json_object_object_add(j, "reason", json_string_or_null(p->reason));
                json_object_array_add(a, j);
        }
        json_object_object_add(o, "sources", a);

        a = json_object_new_array();
        for (size_t i = 0; i < s->n_domains; i++) {
                json_object *j = json_object_new_object();
                json_object_object_add(j, "domain", json_string_or_null(s->domains[i].domain));
                json_object_object_add(j, "source", json_string_or_null(s->domains[i].source));
                json_object_object_add(j, "estimated", json_object_new_boolean(s->domains[i].estimated));
                json_object_array_add(a, j);
        }
        json_object_object_add(o, "domains", a);

        json_object_object_add(o, "processes_tracked", json_int_from_state(s->state[ST_PROCESSES_TRACKED]));
        json_object_object_add(o, "processes_stored", json_object_new_int64(s->processes_stored));
        json_object_object_add(o, "intervals_stored", json_object_new_int64(s->intervals_stored));

        x = json_object_new_object();
        json_object_object_add(x, "exits_lost", json_int_from_state(s->state[ST_EXITS_LOST]));
        json_object_object_add(x, "exits_early_only", json_int_from_state(s->state[ST_EXITS_EARLY_ONLY]));
        json_object_object_add(x, "vanished", json_int_from_state(s->state[ST_VANISHED]));
        json_object_object_add(x, "write_errors", json_int_from_state(s->state[ST_WRITE_ERRORS]));
        json_object_object_add(x, "intervals_buffered", json_int_from_state(s->state[ST_INTERVALS_BUFFERED]));
        json_object_object_add(x, "intervals_dropped", json_int_from_state(s->state[ST_INTERVALS_DROPPED]));
        json_object_object_add(x, "counters_discarded", json_int_from_state(s->state[ST_COUNTERS_DISCARDED]));
        json_object_object_add(o, "counters", x);

        x = json_object_new_object();
        json_object_object_add(x, "basis", json_string_or_null(s->state[ST_ATTRIBUTION_BASIS]));
        json_object_object_add(x, "per_package", per_package_json(s->state[ST_ATTRIBUTION_PER_PACKAGE]));
        json_object_object_add(o, "attribution", x);

        x = json_object_new_object();
        json_object_object_add(x, "pid", s->self_pid >= 0 ? json_object_new_int64(s->self_pid) : NULL);
        json_object_object_add(x, "cpu_seconds", json_seconds_from_ns(s->self_cpu_ns));
        json_object_object_add(x, "energy_joules", json_double_exact(s->self_energy_j));
        json_object_object_add(x, "estimated", json_object_new_boolean(any_estimated(s)));
        json_object_object_add(x, "window_seconds", json_object_new_int64((int64_t) (SELF_WINDOW_NS / NSEC_PER_SEC)));
        json_object_object_add(o, "self", x);

        json_print(o);
        json_object_put(o);
}

#define OR_DASH(x) ((x) ? (x) : "-")

/* "0.8 J", "12.3 J", "0 J"; kJ and up as format_energy(). */
static char *format_self_energy(double j, char *buf, size_t size) {
        if (j < 1000) {
                snprintf(buf, size, "%.3g J", j);
                return buf;
        }
        return format_energy(j, false, buf, size);
}

static void status_print_text(const Status *s, const char *path, FILE *f) {
        char b1[32], b2[32], b3[64];
        double age = last_sample_age(s);
        const char *note = tracker_note(s);

        fprintf(f, "Database:    %s (%s + %s WAL, schema %d)\n", path, format_bytes(s->size_bytes, b1, sizeof(b1)),
               format_bytes(s->wal_bytes, b2, sizeof(b2)), s->schema_version);
        if (s->schema_version < store_latest_schema_version())
                fprintf(f, "             database schema %d is older than this joulectl (%d): restart jouled to upgrade it\n",
                       s->schema_version, store_latest_schema_version());
        fprintf(f, "Daemon:      pid %s, version %s, started %s, interval %s s\n", OR_DASH(s->state[ST_PID]),
               OR_DASH(s->state[ST_VERSION]), OR_DASH(s->state[ST_STARTED]), OR_DASH(s->state[ST_INTERVAL]));
        if (age >= 0)
                fprintf(f, "Last sample: %s (%.0f s ago)\n", OR_DASH(last_sample(s, b3, sizeof(b3))), age);
        else
                fprintf(f, "Last sample: %s (no interval stored)\n", OR_DASH(last_sample(s, b3, sizeof(b3))));
        fprintf(f, "Tracker:     %s%s%s%s%s%s\n", OR_DASH(s->state[ST_TRACKER_MODE]),
               s->state[ST_TRACKER_ACCOUNTING] && *s->state[ST_TRACKER_ACCOUNTING] ? ", CPU time read " : "",
               s->state[ST_TRACKER_ACCOUNTING] && *s->state[ST_TRACKER_ACCOUNTING]
                       ? (streq_ptr(s->state[ST_TRACKER_ACCOUNTING], "per-switch") ? "at each context switch"
                                                                                   : "by a task walk each interval")
                       : "",
               note ? " (" : "", note ? note : "", note ? ")" : "");
        if (s->state[ST_TRACKER_FALLBACK] && *s->state[ST_TRACKER_FALLBACK])
                fprintf(f, "             BPF not used: %s\n", s->state[ST_TRACKER_FALLBACK]);

        fprintf(f, "Sources:\n");
        if (s->n_probes == 0)
                fprintf(f, "  (no probe results stored)\n");
        for (size_t i = 0; i < s->n_probes; i++) {
                const StoreProbe *p = &s->probes[i];
                const char *what = p->in_use ? (p->estimated ? "in use, estimated" : "in use, measured")
                                             : streq_ptr(p->status, "usable") ? "usable, not used"
                                                                              : OR_DASH(p->status);
                fprintf(f, "  %-10s %-20s %s\n", OR_DASH(p->name), what, p->reason ? p->reason : "");
        }
        fprintf(f, "Domains:     ");
        if (s->n_domains == 0)
                fprintf(f, "none");
        for (size_t i = 0; i < s->n_domains; i++)
                fprintf(f, "%s%s (%s%s)", i > 0 ? ", " : "", OR_DASH(s->domains[i].domain), OR_DASH(s->domains[i].source),
                       s->domains[i].estimated ? ", estimated" : "");
        fprintf(f, "\n");
        fprintf(f, "Processes:   %s tracked now, %" PRIi64 " stored; %" PRIi64 " intervals stored\n",
               OR_DASH(s->state[ST_PROCESSES_TRACKED]), s->processes_stored, s->intervals_stored);
        fprintf(f, "Attribution: basis %s, per package %s\n", OR_DASH(s->state[ST_ATTRIBUTION_BASIS]),
               OR_DASH(s->state[ST_ATTRIBUTION_PER_PACKAGE]));
        if (s->self_pid >= 0)
                fprintf(f, "Overhead:    jouled itself: %.2f CPU-s, %s%s over the last hour\n",
                       (double) s->self_cpu_ns / 1e9, format_self_energy(s->self_energy_j, b3, sizeof(b3)),
                       any_estimated(s) ? " (estimated)" : "");
        fprintf(f, "Counters:    exits_lost %s, exits_early_only %s, vanished %s, write_errors %s\n",
               OR_DASH(s->state[ST_EXITS_LOST]), OR_DASH(s->state[ST_EXITS_EARLY_ONLY]),
               OR_DASH(s->state[ST_VANISHED]), OR_DASH(s->state[ST_WRITE_ERRORS]));
        fprintf(f, "             intervals_buffered %s, intervals_dropped %s, counters_discarded %s\n",
               OR_DASH(s->state[ST_INTERVALS_BUFFERED]), OR_DASH(s->state[ST_INTERVALS_DROPPED]),
               OR_DASH(s->state[ST_COUNTERS_DISCARDED]));
}

int verb_status(int argc, char **argv, const CliGlobals *g) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_free_ char *wal = NULL;
        Status s = {};
        bool json = false;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                case 'h':
                        printf("Usage: joulectl status [--json]\n");
                        return 0;
                default:
                        return cli_option_error(c, argv, "status", "--json");
                }
        }
        if (cli_no_arguments(argc, argv, "status", "--json") != 0)
                return EXIT_USAGE;
        if (g->parse_only)
                return 0;

        r = cli_open_store(g, &store);
        if (r != 0)
                return r;

        if (asprintf(&wal, "%s-wal", g->db_path) < 0) {
                fprintf(stderr, "joulectl: out of memory\n");
                return 1;
        }
        s.size_bytes = file_size(g->db_path);
        s.wal_bytes = file_size(wal);

        r = status_load(store, &s);
        if (r < 0) {
                cli_store_error(store, r);
                status_done(&s);
                return 1;
        }
        if (json)
                status_print_json(&s, g->db_path);
        else {
                /* Assembled whole, then every line escaped for the terminal:
                 * names and reasons come from outside. */
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&text, &size);
                if (!f) {
                        fprintf(stderr, "joulectl: out of memory\n");
                        status_done(&s);
                        return 1;
                }
                status_print_text(&s, g->db_path, f);
                if (fclose(f) != 0 || !text) {
                        fprintf(stderr, "joulectl: out of memory\n");
                        status_done(&s);
                        return 1;
                }
                fputs_text_lines(text, stdout);
        }
        status_done(&s);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "joulectl: cannot write output: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}
