/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* joulectl verbs. Each returns the process exit status:
 * 0 success, 1 runtime failure, 2 bad usage (after printing a one-line
 * message naming the bad argument and what is accepted). */

#define EXIT_USAGE 2

typedef struct CliGlobals {
        const char *db_path;
} CliGlobals;

int verb_status(int argc, char **argv, const CliGlobals *g);
int verb_report(int argc, char **argv, const CliGlobals *g);
