/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "timeparse.h"
#include "util.h"

#define S(x) ((uint64_t) (x) * NSEC_PER_SEC)

/* 2026-11-22T10:30:15.25Z */
#define NOW (S(1795343415) + 250 * NSEC_PER_MSEC)
#define BOOT S(1795300000)

static void set_tz(const char *tz) {
        setenv("TZ", tz, 1);
        tzset();
}

static void expect_time(const char *s, uint64_t want) {
        uint64_t got = 0;
        int r = parse_time_spec(s, NOW, BOOT, &got);
        if (r != 0)
                fail_msg("parse_time_spec(\"%s\") = %d, wanted success", s, r);
        if (got != want)
                fail_msg("parse_time_spec(\"%s\") = %llu, wanted %llu", s, (unsigned long long) got,
                         (unsigned long long) want);
}

static void expect_reject(const char *s) {
        uint64_t got = 12345;
        int r = parse_time_spec(s, NOW, BOOT, &got);
        if (r != -EINVAL)
                fail_msg("parse_time_spec(\"%s\") = %d (%llu), wanted -EINVAL", s, r, (unsigned long long) got);
        assert_int_equal(got, 12345); /* untouched on error */
}

static void test_sanity_of_now(void **state) {
        char buf[64];
        assert_string_equal(format_iso8601(NOW, true, buf, sizeof(buf)), "2026-11-22T10:30:15.250Z");
}

static void test_durations(void **state) {
        set_tz("UTC");
        expect_time("30s", NOW - S(30));
        expect_time("15m", NOW - S(15 * 60));
        expect_time("1h", NOW - S(3600));
        expect_time("2d", NOW - S(2 * 86400));
        expect_time("1w", NOW - S(7 * 86400));
        expect_time("0s", NOW);
        expect_time("90m", NOW - S(90 * 60));
        expect_time("2d ago", NOW - S(2 * 86400));
        expect_time("2dago", NOW - S(2 * 86400));
        expect_time("45s ago", NOW - S(45));
}

static void test_keywords(void **state) {
        set_tz("UTC");
        expect_time("now", NOW);
        expect_time("boot", BOOT);
        expect_time("today", S(1795305600));                /* 2026-11-22T00:00:00Z */
        expect_time("yesterday", S(1795305600 - 86400));

        /* Local midnight, not UTC midnight. EST5: UTC-5, no DST. */
        set_tz("EST5");
        expect_time("today", S(1795305600 + 5 * 3600));     /* 2026-11-22T05:00:00Z */
        expect_time("yesterday", S(1795305600 + 5 * 3600 - 86400));
        set_tz("UTC");
}

static void test_iso8601(void **state) {
        set_tz("UTC");
        expect_time("2026-11-22", S(1795305600));
        expect_time("2026-11-22T10:00", S(1795341600));
        expect_time("2026-11-22T10:00:00", S(1795341600));
        expect_time("2026-11-22T10:00:00Z", S(1795341600));
        expect_time("2026-11-22 10:00:00Z", S(1795341600));
        expect_time("2026-11-22T10:00Z", S(1795341600));
        expect_time("2026-11-22T10:00:00.5Z", S(1795341600) + 500 * NSEC_PER_MSEC);
        expect_time("2026-11-22T10:00:00.123456789Z", S(1795341600) + 123456789);
        expect_time("2026-11-22T10:00:00+02:00", S(1795341600 - 2 * 3600));
        expect_time("2026-11-22T10:00:00-05:30", S(1795341600 + 5 * 3600 + 30 * 60));
        expect_time("2026-11-22T10:00+0100", S(1795341600 - 3600));
        expect_time("2024-02-29T00:00:00Z", S(1709164800));
        expect_time("1970-01-01T00:00:00Z", 0);

        /* No zone: local time. */
        set_tz("EST5");
        expect_time("2026-11-22T10:00", S(1795341600 + 5 * 3600));
        expect_time("2026-11-22", S(1795305600 + 5 * 3600));
        expect_time("2026-11-22T10:00:00Z", S(1795341600));
        set_tz("UTC");
}

static void test_epoch(void **state) {
        expect_time("@0", 0);
        expect_time("@1700000000", S(1700000000));
        expect_time("@1700000000.25", S(1700000000) + 250 * NSEC_PER_MSEC);
}

static void test_rejects(void **state) {
        static const char *const bad[] = {
                "", " ", "3x", "30", "s", "-1h", "+1h", "1.5h", "1h ", " 1h", "1 h", "1hago now",
                "1h ag", "ago", "1H", "1d2h", "nowx", "Now", "today ", "tomorrow", "bootx",
                "2026-11-22T", "2026-11-22T10", "2026-11-22T10:0", "2026-13-01", "2026-00-10", "2026-02-29",
                "2026-11-31", "2026-11-22T24:00", "2026-11-22T10:60", "2026-11-22T10:00:61",
                "2026-11-22T10:00:00+25:00", "2026-11-22T10:00:00+02", "2026-11-22T10:00:00ZZ",
                "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00.1234567890Z", "2026-11-22junk",
                "1969-12-31T23:59:59Z", "26-11-22", "2026/11/22", "@", "@-1", "@1e9", "@12x", "@1.",
                "@99999999999999999999", "@9300000000", "99999999999999999999s", "999999999999999999w",
                "100000d", /* before the epoch */
        };
        set_tz("UTC");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                expect_reject(bad[i]);
        uint64_t v;
        assert_int_equal(parse_time_spec(NULL, NOW, BOOT, &v), -EINVAL);
}

static void expect_duration(const char *s, double want) {
        double got = -1;
        int r = parse_duration_s(s, &got);
        if (r != 0)
                fail_msg("parse_duration_s(\"%s\") = %d", s, r);
        if (got != want)
                fail_msg("parse_duration_s(\"%s\") = %.17g, wanted %.17g", s, got, want);
}

static void test_duration_s(void **state) {
        expect_duration("1.5", 1.5);
        expect_duration("0.2", 0.2);
        expect_duration("2", 2);
        expect_duration("2s", 2);
        expect_duration("200ms", 0.2);
        expect_duration("1m", 60);
        expect_duration("1h", 3600);

        static const char *const bad[] = { "", "0", "0.0", "-1", "+1", " 1", "1 ", "1x", "ms", ".", "1e3",
                                           "inf", "nan", "0x10", "1.5.2", "0ms" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                double v = -1;
                if (parse_duration_s(bad[i], &v) != -EINVAL)
                        fail_msg("parse_duration_s(\"%s\") accepted: %g", bad[i], v);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sanity_of_now), cmocka_unit_test(test_durations),
                cmocka_unit_test(test_keywords),      cmocka_unit_test(test_iso8601),
                cmocka_unit_test(test_epoch),         cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_duration_s),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
