/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the duration grammar (every flag), the retention parser and
 * the time parser of --since/--until/--delay. */

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeparse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_duration(const char *s, DurationFlags flags) {
        uint64_t v = 0;
        double d = -1;
        int r = parse_duration_ns(s, flags, &v);

        if (r != 0 && r != -EINVAL && r != -ERANGE)
                abort();
        if (r == 0) {
                if (v == DURATION_INFINITE ? !(flags & DURATION_INFINITY) : v > (uint64_t) INT64_MAX)
                        abort();   /* the contract: fits in int64 (SQLite), or infinity where allowed */
                if ((flags & DURATION_POSITIVE) && v == 0)
                        abort();
                if ((flags & DURATION_NO_FRACTION) && strchr(s, '.'))
                        abort();
        }
        /* The seconds variant agrees with the nanoseconds one. */
        if (parse_duration_sec(s, flags, &d) != r)
                abort();
        if (r == 0 && v != DURATION_INFINITE && d != (double) v / 1e9)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        uint64_t v, now = UINT64_C(1700000000) * NSEC_PER_SEC;
        double d;
        int r;

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
        for (unsigned flags = 0; flags <= (DURATION_PLAIN_SECONDS | DURATION_POSITIVE | DURATION_INFINITY |
                                           DURATION_NO_FRACTION); flags++)
                check_duration(s, (DurationFlags) flags);
        r = parse_retention_ns(s, &v);
        if (r == 0 && v > UINT64_C(100) * 365 * 86400 * NSEC_PER_SEC)
                abort();   /* at most 100 years, else -ERANGE */
        if (r != 0 && r != -EINVAL && r != -ERANGE)
                abort();
        free(s);
        return 0;
}
