/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        int saved_errno = errno;
        char buf[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        /* Make %m print the error we were given, not whatever errno holds. */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (use_journal) {
                char line_s[16];
                snprintf(line_s, sizeof(line_s), "%d", line);
                if (error != 0)
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", level, "ERRNO=%d", error,
                                        "CODE_FILE=%s", file, "CODE_LINE=%s", line_s,
                                        "CODE_FUNC=%s", func, NULL);
                else
                        sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", level,
                                        "CODE_FILE=%s", file, "CODE_LINE=%s", line_s,
                                        "CODE_FUNC=%s", func, NULL);
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
