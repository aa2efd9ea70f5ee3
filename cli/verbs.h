/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* joulectl verbs. Each returns the process exit status:
 * 0 success, 1 runtime failure, 2 bad usage (after printing a one-line
 * message naming the bad argument and what is accepted), 4 database schema
 * too old for the query. */

#define EXIT_USAGE 2
/* joulectl run --budget: the mean energy exceeded the budget. */
#define EXIT_OVER_BUDGET 3
/* The database's schema is older than a query needs (jouled has not yet
 * restarted and migrated it after an upgrade). */
#define EXIT_OLD_SCHEMA 4

typedef struct CliGlobals {
        const char *db_path;
        /* --carbon-intensity or $JOULED_CARBON_INTENSITY; NULL: the daemon's
         * configured figure (daemon_state carbon_g_per_kwh), else the default. */
        const char *carbon_arg;
        /* Fuzzing: parse and validate the arguments, then return without
         * touching the database, the terminal or running anything. */
        bool parse_only;
} CliGlobals;

int verb_status(int argc, char **argv, const CliGlobals *g);
int verb_report(int argc, char **argv, const CliGlobals *g);
int verb_top(int argc, char **argv, const CliGlobals *g);
int verb_run(int argc, char **argv, const CliGlobals *g);
int verb_export(int argc, char **argv, const CliGlobals *g);
int verb_profile(int argc, char **argv, const CliGlobals *g);

/* The whole of joulectl's main(), for the program and the argument fuzzer.
 * parse_only: see CliGlobals. */
int joulectl_main(int argc, char **argv, bool parse_only);
