/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "group-by.h"
#include "store-query.h"
#include "verbs.h"

/* The database when neither --db nor $JOULED_DB names one: the one a
 * running jouled recorded in $JOULED_RUNTIME_DIR/db (default /run/jouled/db)
 * while that file exists, else CLI_DEFAULT_DB. */
#define CLI_DEFAULT_DB "/var/lib/jouled/jouled.db"
const char *cli_default_db(void);
/* Whether a process named jouled runs (any database). */
bool cli_jouled_running(void);

/* Open the database read-only for a verb. Prints the one-line error itself,
 * naming the reason (no database: whether jouled runs; no permission: the
 * group to join, the file's own or else "jouled", only where that group
 * exists, else sudo), and returns 0 or the exit status 1; store_open() logs
 * its own refusals. */
int cli_open_store(const CliGlobals *g, Store **ret);
/* What needs schema `needed` (e.g. "report --by slice"): 0 when the
 * database has it, else prints "joulectl: WHAT needs database schema NEEDED:
 * database schema N is older than this joulectl (M): restart jouled to
 * upgrade it" and returns EXIT_OLD_SCHEMA. Older schemas are otherwise read
 * as the newest (store_compat_views()). */
int cli_require_schema(Store *store, int needed, const char *what);
/* cli_require_schema() for "VERB --by BY", where the grouping needs a newer
 * schema than the oldest read (slice, container). */
int cli_require_group_by_schema(Store *store, const char *verb, GroupBy by);
/* Prints why a query failed: "joulectl: out of memory" (-ENOMEM) or
 * "joulectl: cannot read database: WHAT SQLITE SAID". */
void cli_store_error(Store *store, int error);

/* Shortest text that reads back as exactly v ("0.1", "3.0", "1e+300"). */
char *format_double(double v, char *buf, size_t size);
/* ns as exact decimal seconds: 1500000000 → "1.5", 3000000000 → "3.0". */
char *format_ns_as_seconds(uint64_t ns, char *buf, size_t size);
/* v with an SI prefix and 3 significant digits, never in scientific
 * notation: format_si(0.0125, "J", -6, 9) = "12.5 mJ". The prefix's
 * exponent stays within [min_exp, max_exp] (multiples of 3, -9..12). */
char *format_si(double v, const char *unit, int min_exp, int max_exp, char *buf, size_t size);
/* Human energy: "24.0 µJ", "5.20 mJ", "812 J", "12.3 kJ (3.42 Wh)", "4.56 MJ (1.27 kWh)". */
char *format_energy(double joules, bool with_wh, char *buf, size_t size);
/* Mean ± standard deviation of energies in the mean's unit: "3.97 ± 0.65 J",
 * "812 ± 41 mJ". */
char *format_energy_pm(double mean, double stddev, char *buf, size_t size);
/* Human size: "512 B", "1.2 KiB", "3.4 MiB". */
char *format_bytes(uint64_t bytes, char *buf, size_t size);

/* json-c values that print exactly. */
json_object *json_double_exact(double v);
json_object *json_seconds_from_ns(uint64_t ns);
/* Print an object (pretty, no slash escaping) and a newline on stdout. */
void json_print(json_object *o);

/* User name of uid (cached), or the uid in decimal when unknown. */
const char *cli_user_name(uint32_t uid);

/* Write s as one CSV field: escaped and guarded by csv_escape() (a field
 * beginning with = + - @ gets a leading '), quoted when needed. A field that
 * is just "-" (an unknown unit) is written as it is: it is no formula. */
void csv_field(FILE *f, const char *s);

/* ---- Names from outside, made safe (sanitize.h) ------------------------ */

/* A JSON string of s with invalid UTF-8 replaced by U+FFFD; NULL gives
 * JSON null. */
json_object *json_string_safe(const char *s);
/* s for a table cell on a terminal: control characters and invalid bytes
 * escaped visibly (text_escape()), cut at a character boundary to `width`
 * display columns and padded with spaces to exactly `width` columns (on the
 * left when right_align). width 0: escaped only. Returns buf. */
char *text_cell(const char *s, size_t width, bool right_align, char *buf, size_t size);
/* An argument echoed in an error message, escaped for the terminal (one of
 * four static buffers, so up to four in one message). */
const char *cli_safe(const char *s);
/* Print text, each line escaped with text_escape() (newlines kept). For
 * verbs whose output is assembled whole (status). */
void fputs_text_lines(const char *text, FILE *f);

/* ---- Carbon ------------------------------------------------------------ */

/* The default intensity and its source, jouled's defaults (carbon.h). */
#include "carbon.h"

typedef struct Carbon {
        double g_per_kwh;
        char origin[96];     /* where the figure comes from, for humans */
} Carbon;

/* "480", "52.5": gCO2e per kWh, 0..10000. ret may be NULL (validate only). */
int cli_carbon_parse(const char *s, double *ret);
/* Prints the one-line usage error for --carbon-intensity; returns EXIT_USAGE. */
int cli_carbon_usage(const char *arg);
/* The figure to use: g->carbon_arg, else daemon_state carbon_g_per_kwh of
 * store (may be NULL), else the default. */
void cli_carbon_resolve(const CliGlobals *g, Store *store, Carbon *ret);
static inline double carbon_grams(const Carbon *c, double joules) {
        return joules / 3.6e6 * c->g_per_kwh;
}
/* "1.23 gCO2e", "4.50 kgCO2e", "12.0 mgCO2e", "248 µgCO2e". */
char *format_co2(double grams, char *buf, size_t size);
/* "CO2e at 480 g/kWh, Ember 2024 world average": the one wording of the
 * carbon figure's source, in every verb. */
char *format_carbon_origin(const Carbon *c, char *buf, size_t size);

/* ---- Shared option parsing --------------------------------------------- */

/* "45 s", "12 min", "3.5 h", "1093 d": how long ago, for people. */
char *format_age(double seconds, char *buf, size_t size);
/* One-line error for a bad time argument; returns EXIT_USAGE. */
int cli_usage_time(const char *opt, const char *arg);
/* CLOCK_REALTIME of boot. */
uint64_t cli_boot_realtime(void);

/* ---- Option handling shared by joulectl and its verbs ------------------ */

/* Levenshtein distance of a and b (SIZE_MAX for words of 64 bytes or more). */
size_t edit_distance(const char *a, const char *b);
/* The candidate nearest to word within an edit distance of 2, copied to buf,
 * or NULL. candidates: "a, b, c" or "--db PATH, --help" (each item's first
 * word counts). */
const char *cli_did_you_mean(const char *word, const char *candidates, char *buf, size_t size);

/* The end of a getopt_long() switch (opterr = 0, optstring starting with
 * ':'): c ':' prints "joulectl: option 'OPT' of VERB needs an argument",
 * anything else "joulectl: unknown option 'OPT' for VERB (accepted:
 * ACCEPTED)", OPT being argv[optind - 1], with "; did you mean 'NEAR'?"
 * after OPT or VERB where an accepted option is within an edit distance of
 * 2. verb NULL: joulectl's own
 * options ("option 'OPT' needs an argument", "unknown option 'OPT' (global
 * options: ACCEPTED)"). Returns EXIT_USAGE. */
int cli_option_error(int c, char **argv, const char *verb, const char *accepted);
/* --carbon-intensity G: sets g->carbon_arg, or prints the one-line usage
 * error. Returns 0 or EXIT_USAGE. */
int cli_carbon_option(CliGlobals *g, const char *arg);
/* After the options: 0 when none are left, else prints "joulectl:
 * unexpected argument 'ARG' for VERB (accepted: ACCEPTED)" (accepted NULL:
 * "(it takes options only)") and returns EXIT_USAGE. */
int cli_no_arguments(int argc, char **argv, const char *verb, const char *accepted);
/* A path-like option value: 0 when arg is not empty, else prints "joulectl:
 * invalid OPT '': expected EXPECTED" and returns EXIT_USAGE. */
int cli_nonempty_option(const char *opt, const char *arg, const char *expected);
/* --repeat N / --warmup N: a whole number of runs from min to 10000 in *ret,
 * else prints the one-line usage error and returns EXIT_USAGE. */
/* In a forked child that could not start its command: write the errno e to
 * fd (the parent's error pipe) and exit 127. */
_Noreturn void cli_child_fail(int fd, int e);
int cli_runs_option(const char *opt, const char *arg, uint64_t min, uint64_t *ret);

/* A daemon_state value (allocated), or NULL. */
char *cli_state_get(Store *store, const char *key);

/* The ± band in W of an idle estimate made by method: band_w when known
 * (finite); else 0 for the methods exact by definition ("configured",
 * "source"); else NAN (unknown). */
double cli_idle_band_w(const char *method, double band_w);
/* Whether an idle estimate by method leaves the split between idle and
 * dynamic energy provisional: "persisted" and "prior" (the data did not
 * identify idle power). */
bool cli_idle_provisional(const char *method);
