/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics-defaults.h"
#include "store.h"

/* Prometheus exporter. The manager feeds every interval with
 * metrics_add_interval() (on the event loop's thread); the text is formatted
 * then, once, and the HTTP server (libmicrohttpd, its own thread) and the
 * textfile writer only copy that text under a mutex. So a scrape never walks
 * the tables the main thread updates, and costs a memcpy.
 *
 * Series are bounded, whatever churns on the host:
 *  - domains, the host total and the health figures: a fixed set;
 *  - processes: at most top_processes; a process that gets a series keeps it
 *    for its life (until it exits or stays idle for idle_expiry_ns), so no
 *    series comes and goes with a process's rank; labels pid, comm, unit,
 *    user;
 *  - units, users, slices and containers ("groups"): a group's series goes
 *    after idle_expiry_ns without CPU time; the groups with series share the
 *    slots left under max_series, ranked by recent energy (an exponentially
 *    decaying sum, time constant idle_expiry_ns); what is not exported is
 *    counted in each kind's `other` series (label value "other"), and so is
 *    the final value of every series that leaves. `other` therefore never
 *    goes down, and exported + other sums to everything attributed.
 * A counter grows for as long as its series exists; a group whose series
 * left and that comes back later starts a new series (from 0: to Prometheus
 * a counter reset, which rate() and increase() handle). */


typedef struct MetricsConfig {
        const char *listen;          /* "ADDR:PORT", "[ADDR]:PORT" or "PORT" (127.0.0.1); NULL: no HTTP */
        const char *textfile_dir;    /* write DIR/jouled.prom each interval; NULL: off */
        size_t top_processes;        /* N of the top N processes; 0: none */
        size_t max_series;           /* cap on the series of one output; 0: METRICS_DEFAULT_MAX_SERIES */
        uint64_t idle_expiry_ns;     /* idle time after which a series goes; 0: METRICS_DEFAULT_IDLE_EXPIRY_NS */
        const char *version;
        const char *tracker;         /* "bpf" or "procfs" */
        const char *idle_policy;     /* "separate" or "shared"; NULL: not shown */
        double model_min_w;          /* watts per CPU of the model source; both 0: not in use */
        double model_max_w;
} MetricsConfig;

/* The daemon's own health, handed over with each interval. */
typedef struct MetricsHealth {
        uint64_t now_ns;             /* CLOCK_MONOTONIC: expiry and ranking time */
        uint64_t exits_lost;         /* cumulative, the tracker's */
        uint64_t write_errors;       /* cumulative failed interval writes */
        uint64_t intervals_buffered; /* intervals waiting in the write buffer now */
        uint64_t intervals_dropped;  /* cumulative intervals dropped from the buffer */
        uint64_t counters_discarded; /* cumulative energy readings discarded as implausible */
} MetricsHealth;

typedef struct Metrics Metrics;

/* Does not log; copies what it needs of cfg. The HTTP server is not started yet. */
int metrics_new(const MetricsConfig *cfg, Metrics **ret);
Metrics *metrics_free(Metrics *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Metrics *, metrics_free);


/* Start the HTTP server when listen is set (no-op otherwise). Logs its errors.
 * -EOPNOTSUPP when jouled was built without libmicrohttpd. The server takes at
 * most METRICS_HTTP_CONNECTIONS connections, METRICS_HTTP_PER_IP of them from
 * one address, drops a connection idle for METRICS_HTTP_TIMEOUT_S, and logs
 * at most METRICS_LOG_BURST lines a minute. */
#define METRICS_HTTP_CONNECTIONS 64
#define METRICS_HTTP_PER_IP 8
#define METRICS_HTTP_TIMEOUT_S 5
int metrics_start(Metrics *m);
bool metrics_http_supported(void);

/* Add one interval (the same record the store wrote) with the daemon's
 * health (NULL: none known). Formats the text and, when configured, writes
 * the textfile (atomically: temp file + rename). Logs textfile failures once. */
int metrics_add_interval(Metrics *m, const IntervalRecord *rec, const MetricsHealth *health);

/* The current state in the Prometheus exposition format (format 0.0.4), a
 * new string. Pure: only formats state. */
int metrics_format(Metrics *m, char **ret_text, size_t *ret_len);

/* Series (sample lines) in the last formatted text. */
size_t metrics_series_count(Metrics *m);

/* Write DIR/jouled.prom from the current text: DIR/.jouled.prom.tmp, then rename. */
int metrics_write_textfile(Metrics *m, const char *dir);

/* Log rate limit: at most METRICS_LOG_BURST lines per METRICS_LOG_WINDOW_NS.
 * log_ratelimit_test() says whether a line may be written now; when a new
 * window starts after lines were suppressed, *ret_suppressed is set to how
 * many (the caller says so in one line), else 0. Pure. */
#define METRICS_LOG_BURST 10
#define METRICS_LOG_WINDOW_NS (UINT64_C(60) * UINT64_C(1000000000))
typedef struct LogRateLimit {
        uint64_t window_start_ns;
        unsigned n;
        uint64_t suppressed;
} LogRateLimit;
bool log_ratelimit_test(LogRateLimit *rl, uint64_t now_ns, uint64_t *ret_suppressed);
