/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Names from outside (process names, executable paths, cgroup names, command
 * lines) made harmless for each output. Any user can choose those bytes: a
 * comm of "\xff\xfe", a UTF-8 name the kernel cut mid-character, an escape
 * sequence, a newline. One layer, used by every output:
 *
 *  - text for people (tables, logs, the terminal): valid UTF-8 printable
 *    characters as they are; control characters (C0, DEL, C1) and bytes that
 *    are not valid UTF-8 shown visibly as \n, \t, \e, \xNN (as `ps` and
 *    systemd do); a backslash doubled so the output is unambiguous;
 *  - UTF-8 for machines (JSON strings, Prometheus label values): invalid
 *    sequences replaced by U+FFFD, everything else kept (the JSON or
 *    exposition-format escaping is then done by the writer);
 *  - CSV fields: the text form, then a field beginning with = + - @ (a
 *    formula to spreadsheets) gets a leading ', and a field holding a comma
 *    or a quote, or beginning or ending with a space, is quoted.
 *
 * Functions returning char * return a new string (free() it) or NULL on
 * ENOMEM; NULL input gives NULL. They do not log. */

/* Whether s is entirely valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF). */
bool utf8_is_valid(const char *s);
/* Length of the valid UTF-8 character at s (1..4), 0 when s starts with an
 * invalid sequence or at the terminating NUL. */
size_t utf8_char_len(const char *s);

/* Invalid sequences replaced by U+FFFD (EF BF BD), one per bad byte. */
char *utf8_sanitize(const char *s);
/* The text form described above. */
char *text_escape(const char *s);
/* The CSV form described above. */
char *csv_escape(const char *s);

/* Display width of a string in terminal columns (East Asian wide characters
 * count 2, combining marks 0), after text_escape() (what it prints). */
size_t text_width(const char *s);
/* The longest prefix of s (already text_escape()d) that fits in `columns`
 * columns, cut at a character boundary: its length in bytes. */
size_t text_fit(const char *s, size_t columns);

/* Writers: the same forms, written to f. */
void fputs_text(const char *s, FILE *f);
void fputs_csv(const char *s, FILE *f);
/* A Prometheus label value: UTF-8 sanitised, then \\, \" and \n escaped
 * (the exposition format's escapes). */
void fputs_prom_label(const char *s, FILE *f);
