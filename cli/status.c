/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl status: what jouled measures, how, and the state of its database.
 *
 * JSON fields (stable):
 *   database        {path, size_bytes (main file), wal_bytes, schema_version,
 *                    schema_latest (this joulectl's; older ones are read as it)}
 *   daemon          {running, pid, last_pid, version, started, interval_s,
 *                    last_sample, last_sample_age_seconds}: running says
 *                    whether the jouled that owns the database runs now;
 *                    pid is its PID while it does (else null), last_pid the
 *                    one it recorded; the rest as the daemon stored them
 *                    (strings), age computed now; null when unknown
 *   power           {host_watts, interval_end}: the host's power over the
 *                    host-total domains in the newest raw interval
 *   idle            [{domain, watts, band_watts, method}]: jouled's idle
 *                    estimate per domain (daemon_state idle_estimate.*),
 *                    else the one stored with the newest interval
 *                    (band_watts null: not known)
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
#include "string-table.h"
#include "util.h"
#include "verbs.h"

typedef struct StateValue {
        const char *key;
        char *value;
} StateValue;

typedef enum StateKey {
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
        _ST_INVALID = -1,
} StateKey;

static const char *const state_key_table[] = {
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
DEFINE_PRIVATE_STRING_TABLE_LOOKUP(state_key, StateKey, ST);

#define SELF_WINDOW_NS (3600 * NSEC_PER_SEC)

#define PROCFS_NOTE "short-lived processes may be missed"

typedef struct StatusIdle {
        char domain[64];
        double w, band_w;            /* band_w NAN: not known */
        char method[32];
} StatusIdle;

typedef struct Status {
        char *state[_ST_MAX];
        bool running;                /* the daemon that owns the database runs */
        int64_t live_pid;            /* its PID while it runs, else 0 */
        double host_w;               /* host power of the newest raw interval (NAN: none) */
        uint64_t host_end_ns;
        StatusIdle *idle;
        size_t n_idle;
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
        free(s->idle);
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
        for (size_t j = 0; j < n_state; j++) {
                StateKey k = state_key_from_string(state[j].key);
                if (k != _ST_INVALID && !s->state[k])
                        s->state[k] = TAKE_PTR(state[j].value);
                else if (state[j].key && startswith(state[j].key, "idle_estimate.") && state[j].value) {
                        /* "W BAND METHOD" per domain, as jouled keeps it. */
                        StatusIdle *v = realloc(s->idle, (s->n_idle + 1) * sizeof(*v));
                        char method[32];
                        double w, band;
                        if (!v) {
                                store_state_entries_free(state, n_state);
                                return -ENOMEM;
                        }
                        s->idle = v;
                        v = &s->idle[s->n_idle];
                        *v = (StatusIdle) { .w = NAN, .band_w = NAN };
                        if (sscanf(state[j].value, "%lf %lf %31s", &w, &band, method) == 3) {
                                v->w = w, v->band_w = band;
                                strscpy(v->method, sizeof(v->method), method);
                        }
                        strscpy(v->domain, sizeof(v->domain), state[j].key + strlen("idle_estimate."));
                        s->n_idle++;
                }
        }
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

        /* The host's power in the newest raw interval, and the idle
         * estimate stored with it where jouled keeps none of its own. */
        s->host_w = NAN;
        uint64_t last_raw = 0;
        r = store_query_last_end(store, true, &last_raw);
        if (r < 0)
                return r;
        if (r > 0) {
                StoreWindow w;
                r = store_query_window(store, last_raw - 1, last_raw, &w);
                if (r < 0)
                        return r;
                if (w.duration_ns > 0)
                        s->host_w = w.measured_j / ((double) w.duration_ns / 1e9);
                s->host_end_ns = last_raw;
                if (s->n_idle == 0) {
                        StoreIdle *src = NULL;
                        size_t n_src = 0;
                        r = store_query_idle(store, last_raw - 1, last_raw, &src, &n_src);
                        if (r < 0)
                                return r;
                        s->idle = calloc(MAX(n_src, (size_t) 1), sizeof(StatusIdle));
                        if (!s->idle) {
                                store_idle_free(src, n_src);
                                return -ENOMEM;
                        }
                        for (size_t i = 0; i < n_src; i++) {
                                if (!isfinite(src[i].idle_w))
                                        continue;
                                StatusIdle *v = &s->idle[s->n_idle++];
                                *v = (StatusIdle) { .w = src[i].idle_w,
                                                    .band_w = cli_idle_band_w(src[i].method, src[i].band_w) };
                                strscpy(v->domain, sizeof(v->domain), src[i].domain);
                                strscpy(v->method, sizeof(v->method), src[i].method ? src[i].method : "");
                        }
                        store_idle_free(src, n_src);
                }
        }

        /* Whether the daemon that owns the database runs: a stale PID is
         * not shown as if it were live. */
        double interval_s = 0;
        if (!s->state[ST_INTERVAL] || parse_double(s->state[ST_INTERVAL], &interval_s) < 0 || !(interval_s > 0) ||
            interval_s > 3600)
                interval_s = 1;
        r = store_query_owner(store, (uint64_t) ((3 * interval_s + 2) * 1e9), &s->live_pid, &s->running);
        if (r < 0)
                return r;

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
        json_object_object_add(x, "running", json_object_new_boolean(s->running));
        json_object_object_add(x, "pid", s->running && s->live_pid > 0 ? json_object_new_int64(s->live_pid) : NULL);
        json_object_object_add(x, "last_pid", json_int_from_state(s->state[ST_PID]));
        json_object_object_add(x, "version", json_string_or_null(s->state[ST_VERSION]));
        json_object_object_add(x, "started", json_string_or_null(s->state[ST_STARTED]));
        json_object_object_add(x, "interval_s", json_string_or_null(s->state[ST_INTERVAL]));
        json_object_object_add(x, "last_sample", json_string_or_null(last_sample(s, buf, sizeof(buf))));
        json_object_object_add(x, "last_sample_age_seconds", age >= 0 ? json_double_exact(round(age * 1000) / 1000) : NULL);
        json_object_object_add(o, "daemon", x);

        x = json_object_new_object();
        json_object_object_add(x, "host_watts", isfinite(s->host_w) ? json_double_exact(s->host_w) : NULL);
        json_object_object_add(x, "interval_end", s->host_end_ns ? json_object_new_string(format_iso8601(
                                                          s->host_end_ns, true, buf, sizeof(buf))) : NULL);
        json_object_object_add(o, "power", x);
        a = json_object_new_array();
        for (size_t i = 0; i < s->n_idle; i++) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "domain", json_string_safe(s->idle[i].domain));
                json_object_object_add(e, "watts", json_double_exact(s->idle[i].w));
                json_object_object_add(e, "band_watts", json_double_exact(s->idle[i].band_w));
                json_object_object_add(e, "method", s->idle[i].method[0] ? json_string_safe(s->idle[i].method) : NULL);
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "idle", a);

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
        if (s->running && s->live_pid > 0)
                fprintf(f, "Daemon:      running, pid %" PRIi64 ", version %s, started %s, interval %s s\n",
                        s->live_pid, OR_DASH(s->state[ST_VERSION]), OR_DASH(s->state[ST_STARTED]),
                        OR_DASH(s->state[ST_INTERVAL]));
        else
                fprintf(f, "Daemon:      %s (version %s, started %s, interval %s s)\n",
                        s->running ? "running" : "not running", OR_DASH(s->state[ST_VERSION]),
                        OR_DASH(s->state[ST_STARTED]), OR_DASH(s->state[ST_INTERVAL]));
        if (isfinite(s->host_w))
                fprintf(f, "Power:       host %.2f W%s in the newest interval (ending %s)\n", s->host_w,
                        any_estimated(s) ? " (estimated)" : "",
                        format_iso8601(s->host_end_ns, false, b3, sizeof(b3)));
        for (size_t i = 0; i < s->n_idle; i++) {
                char band[32] = "";
                if (isfinite(s->idle[i].band_w))
                        snprintf(band, sizeof(band), " \u00b1 %.2f", s->idle[i].band_w);
                fprintf(f, "%s %s %.2f%s W (%s%s)\n", i == 0 ? "Idle:       " : "            ", s->idle[i].domain,
                        s->idle[i].w, band, s->idle[i].method[0] ? s->idle[i].method : "method unknown",
                        cli_idle_provisional(s->idle[i].method) ? ", provisional: the data have not identified "
                                                                  "idle power yet" : "");
        }
        if (age >= 0)
                fprintf(f, "Last sample: %s (%s ago)\n", OR_DASH(last_sample(s, b3, sizeof(b3))),
                        format_age(age, b1, sizeof(b1)));
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
