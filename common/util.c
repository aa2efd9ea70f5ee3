/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

uint64_t now_ns(clockid_t clock) {
        struct timespec ts;
        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

int read_small_file(const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

int parse_u64(const char *s, uint64_t *ret) {
        char *end = NULL;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || !end || *end != 0)
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

int parse_double(const char *s, double *ret) {
        char *end = NULL;
        double v;

        if (!s || !*s || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || !end || *end != 0 || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

int read_u64_file(const char *path, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_small_file(path, 64, &s);
        if (r < 0)
                return r;
        return parse_u64(s, ret);
}

char *path_join(const char *a, const char *b) {
        char *p = NULL;
        size_t la = strlen(a);
        bool slash = la > 0 && a[la - 1] == '/';
        while (*b == '/' && (slash || la == 0))
                b++;
        if (asprintf(&p, "%s%s%s", a, (slash || la == 0 || *b == '/') ? "" : "/", b) < 0)
                return NULL;
        return p;
}

char *format_iso8601(uint64_t realtime_ns, bool ms, char *buf, size_t size) {
        time_t t = (time_t) (realtime_ns / NSEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
                strscpy(buf, size, "invalid");
                return buf;
        }
        if (ms) {
                char tmp[32];
                strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
                snprintf(buf, size, "%s.%03uZ", tmp, (unsigned) ((realtime_ns % NSEC_PER_SEC) / NSEC_PER_MSEC));
        } else
                strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

void strscpy(char *dst, size_t size, const char *src) {
        size_t n;
        if (size == 0)
                return;
        n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = 0;
}
