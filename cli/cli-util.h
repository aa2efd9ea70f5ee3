/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "verbs.h"

/* Open the database read-only for a verb. Prints the one-line error itself
 * (store_open() logs its own refusals) and returns 0 or the exit status 1. */
int cli_open_store(const CliGlobals *g, Store **ret);

/* Shortest text that reads back as exactly v ("0.1", "3.0", "1e+300"). */
char *format_double(double v, char *buf, size_t size);
/* ns as exact decimal seconds: 1500000000 → "1.5", 3000000000 → "3.0". */
char *format_ns_as_seconds(uint64_t ns, char *buf, size_t size);
/* Human energy: "5.2 mJ", "812 J", "12.3 kJ (3.42 Wh)", "4.56 MJ (1.27 kWh)". */
char *format_energy(double joules, bool with_wh, char *buf, size_t size);
/* Human size: "512 B", "1.2 KiB", "3.4 MiB". */
char *format_bytes(uint64_t bytes, char *buf, size_t size);

/* json-c values that print exactly. */
json_object *json_double_exact(double v);
json_object *json_seconds_from_ns(uint64_t ns);
/* Print an object (pretty, no slash escaping) and a newline on stdout. */
void json_print(json_object *o);

/* User name of uid (cached), or the uid in decimal when unknown. */
const char *cli_user_name(uint32_t uid);

/* Shared JSON/CSV field: write s as one CSV field (quoted when needed). */
void csv_field(FILE *f, const char *s);
