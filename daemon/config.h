/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attribution.h"
#include "carbon.h"
#include "model-defaults.h" /* [Model] watts fall back to these */

#define CONFIG_MAX_IDLE_OVERRIDES 32

typedef struct IdleOverride {
        char domain[32];
        double watts;
} IdleOverride;

/* Everything jouled can be told, from the configuration file and the command
 * line (the command line wins). Strings are owned. */
typedef struct JouledConfig {
        char *db_path;
        double interval_s;
        char *powercap_root;
        char *proc_root;
        char *sys_root;
        char *dev_root;
        char *source_spec;            /* "auto" or comma list */
        char *metrics_listen;         /* NULL: off */
        char *metrics_textfile;       /* NULL: off */
        bool print;                   /* print per-interval figures on stdout */
        bool probe_only;
        char *tracker;                /* "auto", "bpf", "procfs" */
        int tracker_accounting;       /* [Daemon] TrackerAccounting=: TRACKER_ACCOUNTING_* (auto, iterator, per-switch) */
        double model_min_w;           /* per logical CPU; 0: not configured (CPU table or defaults) */
        double model_max_w;
        IdlePolicy idle_policy;
        IdleOverride idle[CONFIG_MAX_IDLE_OVERRIDES];
        size_t n_idle;
        double carbon_g_per_kwh;
        char *carbon_source;          /* where the intensity figure comes from, shown beside gCO2e */
        /* Service and metrics settings. */
        char *user;                   /* [Daemon] User=, --user: run as this user after start; NULL: stay root */
        size_t metrics_top_processes; /* [Metrics] TopProcesses=: N of the top N processes exported */
        size_t metrics_max_series;    /* [Metrics] MaxSeries=: cap on the series of one output */
        uint64_t metrics_idle_expiry_ns; /* [Metrics] SeriesIdleTimeout=: a series idle this long goes */
        /* Retention (0: forever) and command lines. */
        uint64_t raw_retention_ns;    /* [Storage] RawRetention=, default 24h */
        uint64_t minute_retention_ns; /* [Storage] MinuteRetention=, default 7d */
        uint64_t hour_retention_ns;   /* [Storage] HourRetention=, default 730d */
        bool store_cmdline;           /* [Daemon] StoreCommandLine=, default no */
} JouledConfig;

void config_init_defaults(JouledConfig *c);
void config_done(JouledConfig *c);
/* A deep copy (strings duplicated). Returns 0 or -ENOMEM (dst left empty). */
int config_copy(JouledConfig *dst, const JouledConfig *src);

/* Parse one file (systemd-style [Section] Key=Value, comments on lines of
 * their own or after a blank, see jouled.conf(5)). Only a regular file is
 * read. On a bad line, key or value logs "FILE:LINE: …" and returns -EINVAL;
 * on a file that is not a regular file or too large, "FILE: …" and -EINVAL.
 * A missing file returns -ENOENT without logging. */
int config_parse_file(JouledConfig *c, const char *path);
/* Parse path and then path.d/\*.conf in lexical order. A missing main file is fine. */
int config_load(JouledConfig *c, const char *path);
/* Set one value by key name ("Interval", "Database", ...); used by the parser. */
int config_set(JouledConfig *c, const char *section, const char *key, const char *value);

/* A line longer than this (without its newline), or a file larger than this,
 * is refused with FILE:LINE, never cut. */
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)

/* The keys the files accept, with what each accepts (NULL where the key's
 * name says enough); section names compare without case, keys with. */
typedef struct ConfigKey {
        const char *section;
        const char *key;
        const char *accepted;
} ConfigKey;
extern const ConfigKey config_keys[];
extern const size_t config_keys_count;
const ConfigKey *config_key_find(const char *section, const char *key);

/* "auto" alone, or a comma list of known sources: 0, -EINVAL, -ENOMEM. */
int config_check_source_spec(const char *value);
#define CONFIG_SOURCE_ACCEPTED "auto, or a comma list of perf, rapl, msr, hwmon, battery, nvml, model"

/* [Daemon] Interval=, --interval: seconds between samples. */
#define CONFIG_INTERVAL_MIN_S 0.05
#define CONFIG_INTERVAL_MAX_S 3600.0
/* The units of DURATION_ACCEPTED that fit the range. */
#define CONFIG_INTERVAL_ACCEPTED \
        "a duration from 50ms to 1h: seconds (1, 0.2) or a number and a unit (ms, s, m or min, h), e.g. 500ms, 1.5s, 2min"

