/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: joulectl's whole argument parsing (global options, verbs and
 * their options), in parse-only mode: nothing is opened, run or drawn.
 * Input: arguments separated by NUL bytes. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf, *argv[MAX_ARGS + 2];
        int argc = 0, r;
        size_t start = 0;

        if (size > 4096)
                return 0;
        buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = 0;

        argv[argc++] = (char *) "joulectl";
        for (size_t i = 0; i <= size && argc < MAX_ARGS + 1; i++)
                if (i == size || buf[i] == 0) {
                        if (i > start || i < size)
                                argv[argc++] = buf + start;
                        start = i + 1;
                }
        argv[argc] = NULL;

        r = joulectl_main(argc, argv, true);
        if (r != 0 && r != 1 && r != EXIT_USAGE)
                abort();
        fflush(stdout);
        free(buf);
        return 0;
}
