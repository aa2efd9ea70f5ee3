/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <syslog.h>

/* Logging: stderr by default, the journal (structured) when log_open_journal()
 * was called because we run under systemd. Functions named log_*_errno return
 * the negative errno they were given, so callers can `return log_error_errno(r, …)`.
 * "%m" in a format prints strerror of that errno. In the journal an entry's
 * CODE_FILE=, CODE_LINE= and CODE_FUNC= are the caller's (where the log_*()
 * macro is written), once. */

void log_set_max_level(int level);
int log_get_max_level(void);
void log_open_journal(void);
void log_set_prefix(const char *prefix);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) __attribute__((format(printf, 6, 7)));

/* The same, with the journal fields JOULED_SOURCE= and JOULED_DOMAIN=
 * (either may be NULL) for messages about an energy source or a domain, so
 * `journalctl JOULED_DOMAIN=package-0` finds them. On stderr they are not shown.
 * Every message about a source or a domain goes through these. */
int log_object_internal(int level, int error, const char *file, int line, const char *func,
                        const char *source, const char *domain,
                        const char *format, ...) __attribute__((format(printf, 8, 9)));
#define log_object_errno(level, error, source, domain, ...) \
        log_object_internal((level), (error), __FILE__, __LINE__, __func__, (source), (domain), __VA_ARGS__)
#define log_object(level, source, domain, ...) \
        log_object_errno((level), 0, (source), (domain), __VA_ARGS__)

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
