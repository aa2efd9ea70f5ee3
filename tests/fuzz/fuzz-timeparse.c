/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the time and duration parsers of --since/--until/--delay. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeparse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        uint64_t v, now = UINT64_C(1700000000) * NSEC_PER_SEC;
        double d;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (parse_time_spec(s, now, now - 3600 * NSEC_PER_SEC, &v) == 0 && v > (uint64_t) INT64_MAX)
                abort();   /* the contract: results fit in int64 (SQLite) */
        if (parse_time_spec(s, UINT64_MAX, 0, &v) == 0 && v > (uint64_t) INT64_MAX)
                abort();
        if (parse_duration_s(s, &d) == 0 && !(d > 0))
                abort();
        free(s);
        return 0;
}
