/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sanitize.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* A growing buffer for the writers below. */
typedef struct Buf {
        char *p;
        size_t n, cap;
        bool oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 32;
                while (cap < b->n + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
}

static char *buf_done(Buf *b) {
        if (b->oom || !b->p) {
                if (!b->oom)
                        return strdup("");
                free(b->p);
                return NULL;
        }
        return b->p;
}

size_t utf8_char_len(const char *s) {
        const unsigned char *u = (const unsigned char *) s;
        uint32_t cp;
        size_t n;

        assert(s);
        if (u[0] < 0x80)
                return u[0] ? 1 : 0;
        if (u[0] >= 0xc2 && u[0] <= 0xdf) {
                n = 2;
                cp = u[0] & 0x1f;
        } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
                n = 3;
                cp = u[0] & 0x0f;
        } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
                n = 4;
                cp = u[0] & 0x07;
        } else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((u[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (u[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

bool utf8_is_valid(const char *s) {
        assert(s);
        while (*s) {
                size_t n = utf8_char_len(s);
                if (n == 0)
                        return false;
                s += n;
        }
        return true;
}

char *utf8_sanitize(const char *s) {
        Buf b = {};

        if (!s)
                return NULL;
        while (*s) {
                size_t n = utf8_char_len(s);
                if (n == 0) {
                        buf_add(&b, "\xef\xbf\xbd", 3);
                        s++;
                } else {
                        buf_add(&b, s, n);
                        s += n;
                }
        }
        return buf_done(&b);
}

/* Code point of the valid UTF-8 character at s (n bytes). */
static uint32_t utf8_decode(const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        uint32_t cp = n == 1 ? u[0] : n == 2 ? u[0] & 0x1f : n == 3 ? u[0] & 0x0f : u[0] & 0x07;
        for (size_t i = 1; i < n; i++)
                cp = (cp << 6) | (u[i] & 0x3f);
        return cp;
}

static void text_escape_to(Buf *b, const char *s) {
        static const char hex[] = "0123456789abcdef";

        while (*s) {
                size_t n = utf8_char_len(s);
                uint32_t cp = n ? utf8_decode(s, n) : 0;
                if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
                        /* Control characters and invalid bytes: visible and unambiguous. */
                        size_t k = n ? n : 1;
                        if (n == 1 && cp == '\n')
                                buf_add(b, "\\n", 2);
                        else if (n == 1 && cp == '\t')
                                buf_add(b, "\\t", 2);
                        else if (n == 1 && cp == 0x1b)
                                buf_add(b, "\\e", 2);
                        else
                                for (size_t i = 0; i < k; i++) {
                                        unsigned char c = (unsigned char) s[i];
                                        char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
                                        buf_add(b, esc, 4);
                                }
                        s += k;
                } else if (cp == '\\') {
                        buf_add(b, "\\\\", 2);
                        s++;
                } else {
                        buf_add(b, s, n);
                        s += n;
                }
        }
}

char *text_escape(const char *s) {
        Buf b = {};

        if (!s)
                return NULL;
        text_escape_to(&b, s);
        return buf_done(&b);
}

char *csv_escape(const char *s) {
        Buf b = {}, e = {};

        if (!s)
                return NULL;
        text_escape_to(&e, s);
        if (e.oom) {
                free(e.p);
                return NULL;
        }
        const char *t = e.p ? e.p : "";
        bool formula = strchr("=+-@", t[0]) && t[0];
        size_t len = strlen(t);
        bool quote = strpbrk(t, ",\"") || (len > 0 && (t[0] == ' ' || t[len - 1] == ' '));
        if (quote)
                buf_add(&b, "\"", 1);
        if (formula)
                buf_add(&b, "'", 1);
        for (const char *p = t; *p; p++) {
                if (*p == '"')
                        buf_add(&b, "\"\"", 2);
                else
                        buf_add(&b, p, 1);
        }
        if (quote)
                buf_add(&b, "\"", 1);
        free(e.p);
        return buf_done(&b);
}

/* Columns of one valid character. */
static size_t char_width(uint32_t cp) {
        int w = wcwidth((wchar_t) cp);
        if (w >= 0)
                return (size_t) w;
        /* wcwidth() needs a UTF-8 locale; without one, a fair guess: wide
         * East Asian blocks 2, combining marks 0, the rest 1. */
        if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f))
                return 0;
        if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
            (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
            (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
            (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
            (cp >= 0x20000 && cp <= 0x3fffd))
                return 2;
        return 1;
}

size_t text_width(const char *s) {
        size_t w = 0;

        if (!s)
                return 0;
        while (*s) {
                size_t n = utf8_char_len(s);
                if (n == 0) {
                        w += 4;   /* \xNN */
                        s++;
                        continue;
                }
                w += char_width(utf8_decode(s, n));
                s += n;
        }
        return w;
}

size_t text_fit(const char *s, size_t columns) {
        size_t w = 0, len = 0;

        if (!s)
                return 0;
        while (s[len]) {
                size_t n = utf8_char_len(s + len);
                size_t cw = n ? char_width(utf8_decode(s + len, n)) : 4;
                if (w + cw > columns)
                        break;
                w += cw;
                len += n ? n : 1;
        }
        return len;
}

void fputs_text(const char *s, FILE *f) {
        Buf b = {};

        assert(f);
        if (!s)
                return;
        text_escape_to(&b, s);
        if (!b.oom && b.p)
                fputs(b.p, f);
        free(b.p);
}

void fputs_csv(const char *s, FILE *f) {
        assert(f);
        if (!s)
                return;
        char *e = csv_escape(s);
        if (e)
                fputs(e, f);
        free(e);
}

void fputs_prom_label(const char *s, FILE *f) {
        assert(f);
        if (!s)
                return;
        while (*s) {
                size_t n = utf8_char_len(s);
                if (n == 0) {
                        fputs("\xef\xbf\xbd", f);
                        s++;
                        continue;
                }
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '"')
                        fputs("\\\"", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fwrite(s, 1, n, f);
                s += n;
        }
}
