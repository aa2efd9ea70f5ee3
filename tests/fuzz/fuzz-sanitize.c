/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the sanitising layer every output goes through. Whatever the
 * bytes of a name, the text form has no control byte and is valid UTF-8, the
 * machine form is valid UTF-8, a CSV field never starts a formula, and
 * widths and cuts stay within the string. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        abort();
        if (!utf8_is_valid(s))
                abort();
        /* No C1 control either (U+0080..U+009F is C2 80..C2 9F). */
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        char *u = utf8_sanitize(s), *t = text_escape(s), *c = csv_escape(s);
        if (!u || !t || !c)
                abort();
        if (!utf8_is_valid(u))
                abort();
        no_control(t);
        no_control(c);
        if (strchr("=+-@", c[0]) && c[0])
                abort();
        if (c[0] == '"' && strchr("=+-@", c[1]) && c[1])
                abort();
        size_t w = text_width(t), fit = text_fit(t, w / 2);
        if (fit > strlen(t) || text_fit(t, w) != strlen(t))
                abort();
        if (utf8_is_valid(s) && strcmp(u, s) != 0)
                abort();

        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        if (f) {
                fputs_prom_label(s, f);
                fclose(f);
                if (!utf8_is_valid(out) || strchr(out, '\n'))
                        abort();
                free(out);
        }
        free(u);
        free(t);
        free(c);
        free(s);
        return 0;
}
