/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers every energy source uses while it scans its devices. They live
 * apart from source.c, which holds the table of sources and calls into each
 * of them: a source never calls back into the file that calls it. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "source.h"

SourceStatus source_status_from_scan(int r, const char *what, char *reason, size_t reason_size) {
        assert(what);
        assert(reason);

        if (r >= 0)
                return SOURCE_USABLE;
        if (r == -ENOMEM) {
                snprintf(reason, reason_size, "out of memory while probing %s", what);
                return SOURCE_UNSUPPORTED;
        }
        if (r == -ENOENT)
                return SOURCE_MISSING;
        if (r == -EACCES || r == -EPERM)
                return SOURCE_PERMISSION;
        return SOURCE_UNSUPPORTED;
}

/* Remove element i of an array of n elements of size sz. */
void source_array_remove(void *base, size_t n, size_t sz, size_t i) {
        assert(base);

        if (i + 1 < n)
                memmove((char *) base + i * sz, (char *) base + (i + 1) * sz, (n - i - 1) * sz);
}
