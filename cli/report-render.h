/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/* The renderers of a loaded report: at most limit rows, the range as
 * since_s and until_s (ISO 8601). */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli-util.h"
#include "report-model.h"

void report_print_table(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                        const char *until_s);
/* The table's parts: the summary lines, and the rows with their header. */
void report_print_table_header(const Report *r, const Carbon *carbon, const char *since_s, const char *until_s);
void report_print_table_rows(const Report *r, const Carbon *carbon, size_t limit);
void report_print_json(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                       const char *until_s);
/* The JSON object report_print_json() prints (for the buckets of --every). */
json_object *report_json(const Report *r, const Carbon *carbon, size_t limit, const char *since_s,
                         const char *until_s);
void report_print_csv(const Report *r, const Carbon *carbon, size_t limit);
/* CSV with a first column "bucket" holding bucket (the bucket's start, ISO
 * 8601) on every row; the header row only when header. bucket NULL: no such
 * column. */
void report_print_csv_bucket(const Report *r, const Carbon *carbon, size_t limit, const char *bucket, bool header);

/* The self-contained HTML report (inline SVG charts, no scripts, no network)
 * of r, its power chart drawn from series, to f. Returns 0 or -EIO. */
int report_write_html(const Report *r, const ReportSeries *series, const Carbon *carbon, size_t limit,
                      const char *since_s, const char *until_s, FILE *f);
