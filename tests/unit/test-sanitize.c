/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sanitize.h"

static void check_str(char *got, const char *want) {
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

static void test_utf8_validity(void **state) {
        assert_true(utf8_is_valid(""));
        assert_true(utf8_is_valid("make"));
        assert_true(utf8_is_valid("\xc3\xa4\xc3\xa4"));                 /* ää */
        assert_true(utf8_is_valid("\xe6\xbc\xa2\xf0\x9f\x94\xa5"));     /* 漢🔥 */
        assert_false(utf8_is_valid("\xff\xfe"));
        assert_false(utf8_is_valid("\xc3\xa4\xc3"));                     /* cut mid-character */
        assert_false(utf8_is_valid("\xc0\xaf"));                         /* overlong / */
        assert_false(utf8_is_valid("\xe0\x80\xaf"));                     /* overlong, 3 bytes */
        assert_false(utf8_is_valid("\xed\xa0\x80"));                     /* surrogate */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80"));                 /* > U+10FFFF */
        assert_int_equal(utf8_char_len("\xc3\xa4"), 2);
        assert_int_equal(utf8_char_len(""), 0);
}

static void test_utf8_sanitize(void **state) {
        check_str(utf8_sanitize("ok"), "ok");
        check_str(utf8_sanitize("\xff\xfe" "a"), "\xef\xbf\xbd\xef\xbf\xbd" "a");
        /* The kernel cut "ääääääää" at 15 bytes: the last byte is half a character. */
        check_str(utf8_sanitize("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3"),
                  "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xef\xbf\xbd");
        assert_null(utf8_sanitize(NULL));
}

static void test_text_escape(void **state) {
        check_str(text_escape("bash"), "bash");
        check_str(text_escape("\x1b[31mred\x1b[0m"), "\\e[31mred\\e[0m");
        check_str(text_escape("a\nb\tc\r"), "a\\nb\\tc\\x0d");
        check_str(text_escape("back\\slash"), "back\\\\slash");
        check_str(text_escape("\xff\xfe"), "\\xff\\xfe");
        check_str(text_escape("\xc2\x9b" "1J"), "\\xc2\\x9b1J");               /* C1 CSI */
        check_str(text_escape("\x7f"), "\\x7f");
        check_str(text_escape("\xc3\xa4"), "\xc3\xa4");                         /* kept */
        char *e = text_escape("\x01\x1b\x7f\xff");
        for (const char *p = e; *p; p++)
                assert_true((unsigned char) *p >= 0x20 && (unsigned char) *p < 0x7f);
        free(e);
}

static void test_csv_field(void **state) {
        check_str(csv_escape("make"), "make");
        check_str(csv_escape("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        check_str(csv_escape("+1"), "'+1");
        check_str(csv_escape("-cmd"), "'-cmd");
        check_str(csv_escape("@sum"), "'@sum");
        check_str(csv_escape("a,b"), "\"a,b\"");
        check_str(csv_escape("line\nbreak"), "line\\nbreak");
        check_str(csv_escape(""), "");
        check_str(csv_escape(" padded "), "\" padded \"");
}

static void test_width(void **state) {
        assert_int_equal(text_width("make"), 4);
        assert_int_equal(text_width("\xc3\xa4\xc3\xa4"), 2);          /* ää */
        assert_int_equal(text_width("\xe6\xbc\xa2\xe5\xad\x97"), 4);  /* 漢字 */
        assert_int_equal(text_width("\xff"), 4);
        /* Fit at a character boundary, never mid-character. */
        assert_int_equal(text_fit("\xc3\xa4\xc3\xa4\xc3\xa4", 2), 4);
        assert_int_equal(text_fit("\xe6\xbc\xa2\xe5\xad\x97", 3), 3);
        assert_int_equal(text_fit("abc", 10), 3);
}

static void test_prom_label(void **state) {
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);
        assert_non_null(f);
        fputs_prom_label("a\"b\\c\nd\xff\xc3", f);
        fclose(f);
        assert_string_equal(out, "a\\\"b\\\\c\\nd\xef\xbf\xbd\xef\xbf\xbd");
        assert_true(utf8_is_valid(out));
        free(out);

        f = open_memstream(&out, &n);
        fputs_text("\x1b]0;pwned\x07", f);
        fclose(f);
        assert_string_equal(out, "\\e]0;pwned\\x07");
        free(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8_validity),
                cmocka_unit_test(test_utf8_sanitize),
                cmocka_unit_test(test_text_escape),
                cmocka_unit_test(test_csv_field),
                cmocka_unit_test(test_width),
                cmocka_unit_test(test_prom_label),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
