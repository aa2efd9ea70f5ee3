/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
/* Locations are passed explicitly (sd_journal_sendv_with_location()). */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

static int max_level = LOG_INFO;
static bool use_journal = false;
static const char *prefix = NULL;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_open_journal(void) {
        use_journal = true;
}

void log_set_prefix(const char *p) {
        prefix = p;
}

__attribute__((format(printf, 8, 0)))
static int log_dispatch(int level, int error, const char *file, int line, const char *func,
                        const char *source, const char *domain, const char *format, va_list ap) {
        int saved_errno = errno;
        char buf[2048];

        assert(file);
        assert(func);
        assert(format);

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        /* Make %m print the error we were given, not whatever errno holds. */
        errno = error;
        vsnprintf(buf, sizeof(buf), format, ap);

        if (use_journal) {
                char f[5][2100], code_file[PATH_MAX + 16], code_line[32];
                struct iovec iov[5];
                int n = 0;
#define FIELD(...)                                                                \
                do {                                                              \
                        snprintf(f[n], sizeof(f[n]), __VA_ARGS__);                \
                        iov[n] = (struct iovec) { .iov_base = f[n], .iov_len = strlen(f[n]) }; \
                        n++;                                                      \
                } while (0)
                FIELD("MESSAGE=%s", buf);
                FIELD("PRIORITY=%d", level);
                if (error != 0)
                        FIELD("ERRNO=%d", error);
                if (source)
                        FIELD("JOULED_SOURCE=%s", source);
                if (domain)
                        FIELD("JOULED_DOMAIN=%s", domain);
#undef FIELD
                /* The caller's location, not this function's: the plain
                 * sd_journal_sendv() macro would add log.c's as well. */
                snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file);
                snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
                sd_journal_sendv_with_location(code_file, code_line, func, iov, n);
        } else {
                const char *tag = level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "";
                if (prefix)
                        fprintf(stderr, "%s: %s%s\n", prefix, tag, buf);
                else
                        fprintf(stderr, "%s%s\n", tag, buf);
        }

        errno = saved_errno;
        return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_dispatch(level, error, file, line, func, NULL, NULL, format, ap);
        va_end(ap);
        return r;
}

int log_object_internal(int level, int error, const char *file, int line, const char *func,
                        const char *source, const char *domain, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_dispatch(level, error, file, line, func, source, domain, format, ap);
        va_end(ap);
        return r;
}
