/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl's figures and safe names: SI prefixes without scientific
 * notation, table cells by display width, CSV guards, JSON UTF-8, and the
 * "did you mean" of a typo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli-util.h"
#include "sanitize.h"

static void test_format_si(void **state) {
        char b[64];

        assert_string_equal(format_energy(15.625, false, b, sizeof(b)), "15.6 J");
        assert_string_equal(format_energy(0.0125, false, b, sizeof(b)), "12.5 mJ");
        assert_string_equal(format_energy(2.4e-05, false, b, sizeof(b)), "24.0 \u00b5J");
        assert_string_equal(format_energy(0, false, b, sizeof(b)), "0 J");
        assert_string_equal(format_energy(12300, true, b, sizeof(b)), "12.3 kJ (3.42 Wh)");
        assert_string_equal(format_energy(4.56e6, true, b, sizeof(b)), "4.56 MJ (1.27 kWh)");
        assert_string_equal(format_energy(999.96, false, b, sizeof(b)), "1.00 kJ");
        assert_string_equal(format_energy(-3.5, false, b, sizeof(b)), "-3.50 J");
        assert_string_equal(format_co2(2.48e-04, b, sizeof(b)), "248 \u00b5gCO2e");
        assert_string_equal(format_co2(0.0277, b, sizeof(b)), "27.7 mgCO2e");
        assert_string_equal(format_co2(4500, b, sizeof(b)), "4.50 kgCO2e");
        assert_string_equal(format_si(2.399e-05, "Wh", -3, 9, b, sizeof(b)), "0.02 mWh");
        assert_string_equal(format_energy_pm(3.97, 0.653, b, sizeof(b)), "3.97 \u00b1 0.65 J");
        assert_string_equal(format_energy_pm(0.812, 0.041, b, sizeof(b)), "812 \u00b1 41 mJ");
        /* Never "e-": whatever the magnitude. */
        for (double v = 1e-12; v < 1e12; v *= 7.3) {
                format_energy(v, true, b, sizeof(b));
                assert_null(strchr(b, 'e'));
                format_co2(v, b, sizeof(b));
                assert_null(strstr(b, "e-"));
                assert_null(strstr(b, "e+"));
        }
}

static void test_text_cell(void **state) {
        char b[128];

        assert_string_equal(text_cell("make", 6, false, b, sizeof(b)), "make  ");
        assert_string_equal(text_cell("make", 6, true, b, sizeof(b)), "  make");
        assert_string_equal(text_cell("\x1b[31mred\nx", 0, false, b, sizeof(b)), "\\e[31mred\\nx");
        assert_string_equal(text_cell("\xff\xfe" "bad", 0, false, b, sizeof(b)), "\\xff\\xfebad");
        /* Cut at a character boundary, padded by columns. */
        assert_string_equal(text_cell("\xc3\xa4\xc3\xa4\xc3\xa4", 2, false, b, sizeof(b)), "\xc3\xa4\xc3\xa4");
        assert_string_equal(text_cell("\xc3\xa4", 3, false, b, sizeof(b)), "\xc3\xa4  ");
        assert_string_equal(text_cell("abcdef", 4, false, b, sizeof(b)), "abcd");
        /* An escape is not split either: "\xff" is 4 columns. */
        assert_string_equal(text_cell("a\xff", 3, false, b, sizeof(b)), "a  ");
        assert_string_equal(text_cell(NULL, 2, false, b, sizeof(b)), "  ");
}

static void test_csv_field(void **state) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        csv_field(f, "-");
        fputc('|', f);
        csv_field(f, "=HYPERLINK(\"x\")");
        fputc('|', f);
        csv_field(f, "+cmd");
        fputc('|', f);
        csv_field(f, "a,b");
        fputc('|', f);
        csv_field(f, "\x1b" "x\n");
        fclose(f);
        assert_string_equal(buf, "-|\"'=HYPERLINK(\"\"x\"\")\"|'+cmd|\"a,b\"|\\ex\\n");
        free(buf);
}

static void test_json_string_safe(void **state) {
        json_object *o = json_string_safe("\xff" "a\xc3");

        assert_string_equal(json_object_get_string(o), "\xef\xbf\xbd" "a\xef\xbf\xbd");
        json_object_put(o);
        assert_null(json_string_safe(NULL));
}

static void test_did_you_mean(void **state) {
        char b[64];

        assert_int_equal(edit_distance("report", "reprot"), 2);
        assert_int_equal(edit_distance("", "abc"), 3);
        assert_string_equal(cli_did_you_mean("reprot", "status, report, top, run, export", b, sizeof(b)), "report");
        assert_string_equal(cli_did_you_mean("--dv", "--db PATH, --carbon-intensity G, --help", b, sizeof(b)), "--db");
        assert_string_equal(cli_did_you_mean("--evry", "--since, --every, --json", b, sizeof(b)), "--every");
        assert_null(cli_did_you_mean("--zzzzzz", "--since, --every, --json", b, sizeof(b)));
        /* The word itself is no suggestion. */
        assert_null(cli_did_you_mean("top", "status, top", b, sizeof(b)));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_si),
                cmocka_unit_test(test_text_cell),
                cmocka_unit_test(test_csv_field),
                cmocka_unit_test(test_json_string_safe),
                cmocka_unit_test(test_did_you_mean),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
