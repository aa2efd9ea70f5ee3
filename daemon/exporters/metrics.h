/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics-defaults.h"
#include "store.h"

/* Prometheus exporter. Counters are cumulative since the daemon started and
 * kept here, in memory; they only grow. The manager feeds every interval with
 * metrics_add_interval() (on the event loop's thread); the text is formatted
 * then, once, and the HTTP server (libmicrohttpd, its own thread) and the
 * textfile writer only copy that text under a mutex. So a scrape never walks
 * the tables the main thread updates, and costs a memcpy.
 *
 * Cardinality is bounded: one series set per domain, per unit, per user, and
 * the top N processes by cumulative energy (N = top_processes). */


typedef struct MetricsConfig {
        const char *listen;          /* "ADDR:PORT", "[ADDR]:PORT" or "PORT" (127.0.0.1); NULL: no HTTP */
        const char *textfile_dir;    /* write DIR/jouled.prom each interval; NULL: off */
        size_t top_processes;        /* N of the top N processes; 0: none */
        const char *version;
        const char *tracker;         /* "bpf" or "procfs" */
} MetricsConfig;

typedef struct Metrics Metrics;

/* Does not log; copies what it needs of cfg. The HTTP server is not started yet. */
int metrics_new(const MetricsConfig *cfg, Metrics **ret);
Metrics *metrics_free(Metrics *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Metrics *, metrics_free);


/* Start the HTTP server when listen is set (no-op otherwise). Logs its errors.
 * -EOPNOTSUPP when jouled was built without libmicrohttpd. */
int metrics_start(Metrics *m);
bool metrics_http_supported(void);

/* Add one interval (the same record the store wrote). exits_lost is the
 * tracker's cumulative count. Formats the text and, when configured, writes
 * the textfile (atomically: temp file + rename). Logs textfile failures once. */
int metrics_add_interval(Metrics *m, const IntervalRecord *rec, uint64_t exits_lost);

/* The current text in the Prometheus exposition format (format 0.0.4), owned
 * by m until the next metrics_add_interval(). Pure: only formats state. */
int metrics_format(Metrics *m, char **ret_text, size_t *ret_len);

/* Write DIR/jouled.prom from the current text: DIR/.jouled.prom.tmp, then rename. */
int metrics_write_textfile(Metrics *m, const char *dir);
