/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC  UINT64_C(1000000000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define USEC_PER_SEC  UINT64_C(1000000)

/* Nanoseconds on the given clock (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME). */
uint64_t now_ns(clockid_t clock);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer,
 * with trailing newlines removed. Returns 0 or negative errno (-EFBIG if larger). */
int read_small_file(const char *path, size_t max, char **ret);

/* Read a file holding one unsigned decimal integer (sysfs style).
 * Returns 0, -errno from open/read, or -EINVAL when the content is not a number. */
int read_u64_file(const char *path, uint64_t *ret);

/* Strict parsers: the whole string must be consumed. Return 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *ret);
int parse_double(const char *s, double *ret);

/* "a" + "/" + "b", allocated. NULL on OOM. */
char *path_join(const char *a, const char *b);

/* Format realtime nanoseconds as ISO 8601 UTC ("2026-11-22T10:00:00Z" or with
 * ".123Z" milliseconds when ms is true) into buf. Returns buf. */
char *format_iso8601(uint64_t realtime_ns, bool ms, char *buf, size_t size);

bool streq_ptr(const char *a, const char *b);
bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);

/* Copy with truncation, always NUL-terminated. */
void strscpy(char *dst, size_t size, const char *src);

/* qsort() of n elements at base, which may be NULL when n is 0 (qsort()'s
 * base must not be NULL, even for no elements). */
static inline void qsort_safe(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        if (n > 1)
                qsort(base, n, size, cmp);
}
