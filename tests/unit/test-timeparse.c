/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>

#include <cmocka.h>

#include "cleanup.h"
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

static void expect_ns(const char *s, DurationFlags flags, uint64_t want) {
        uint64_t got = 0;
        int r = parse_duration_ns(s, flags, &got);
        if (r != 0)
                fail_msg("parse_duration_ns(\"%s\", %d) = %d, wanted success", s, (int) flags, r);
        if (got != want)
                fail_msg("parse_duration_ns(\"%s\", %d) = %llu, wanted %llu", s, (int) flags,
                         (unsigned long long) got, (unsigned long long) want);
}

static void expect_ns_error(const char *s, DurationFlags flags, int want) {
        uint64_t got = 12345;
        int r = parse_duration_ns(s, flags, &got);
        if (r != want)
                fail_msg("parse_duration_ns(\"%s\", %d) = %d (%llu), wanted %d", s, (int) flags, r,
                         (unsigned long long) got, want);
        assert_int_equal(got, 12345); /* untouched on error */
}

#define MIN_NS (60 * NSEC_PER_SEC)
#define HOUR_NS (3600 * NSEC_PER_SEC)
#define DAY_NS (24 * HOUR_NS)

static void test_duration_ns_units(void **state) {
        expect_ns("500ms", 0, 500 * NSEC_PER_MSEC);
        expect_ns("1.5s", 0, 1500 * NSEC_PER_MSEC);
        expect_ns("90min", 0, 90 * MIN_NS);
        expect_ns("90m", 0, 90 * MIN_NS);
        expect_ns("2h", 0, 2 * HOUR_NS);
        expect_ns("1d", 0, DAY_NS);
        expect_ns("1w", 0, 7 * DAY_NS);
        expect_ns("1y", 0, 365 * DAY_NS);
        expect_ns("0s", 0, 0);
        expect_ns("0", DURATION_PLAIN_SECONDS, 0);
        expect_ns("007s", 0, 7 * NSEC_PER_SEC);

        /* Decimals in every unit, exact to the nanosecond. */
        expect_ns("1.5ms", 0, 1500000);
        expect_ns("0.000001ms", 0, 1);
        expect_ns("0.25s", 0, 250 * NSEC_PER_MSEC);
        expect_ns("0.123456789s", 0, 123456789);
        expect_ns("0.1234567891s", 0, 123456789);   /* below a nanosecond: dropped */
        expect_ns("1.5min", 0, 90 * NSEC_PER_SEC);
        expect_ns("1.5m", 0, 90 * NSEC_PER_SEC);
        expect_ns("0.5h", 0, 30 * MIN_NS);
        expect_ns("1.25d", 0, 30 * HOUR_NS);
        expect_ns("0.5w", 0, 84 * HOUR_NS);
        expect_ns("0.5y", 0, 365 * 12 * HOUR_NS);
        expect_ns(".5s", 0, 500 * NSEC_PER_MSEC);
        expect_ns("2.s", 0, 2 * NSEC_PER_SEC);
        expect_ns("1.5", DURATION_PLAIN_SECONDS, 1500 * NSEC_PER_MSEC);
        expect_ns("90", DURATION_PLAIN_SECONDS, 90 * NSEC_PER_SEC);

}

static void test_duration_ns_flags(void **state) {
        /* A number alone only where seconds are natural. */
        expect_ns_error("90", 0, -EINVAL);
        expect_ns_error("1.5", 0, -EINVAL);

        /* Zero refused where a positive duration is needed. */
        expect_ns_error("0", DURATION_PLAIN_SECONDS | DURATION_POSITIVE, -EINVAL);
        expect_ns_error("0s", DURATION_POSITIVE, -EINVAL);
        expect_ns_error("0.0ms", DURATION_POSITIVE, -EINVAL);
        expect_ns_error("0.0000000001s", DURATION_POSITIVE, -EINVAL);
        expect_ns("1ms", DURATION_POSITIVE, NSEC_PER_MSEC);

        /* Infinity only where the caller allows it. */
        expect_ns("infinity", DURATION_INFINITY, DURATION_INFINITE);
        expect_ns("forever", DURATION_INFINITY, DURATION_INFINITE);
        expect_ns_error("infinity", 0, -EINVAL);
        expect_ns_error("forever", DURATION_PLAIN_SECONDS, -EINVAL);
        expect_ns_error("Forever", DURATION_INFINITY, -EINVAL);
        expect_ns_error("infinite", DURATION_INFINITY, -EINVAL);
        expect_ns_error("inf", DURATION_INFINITY, -EINVAL);

        /* Whole numbers only where the caller says so. */
        expect_ns_error("1.5h", DURATION_NO_FRACTION, -EINVAL);
        expect_ns_error("1.0h", DURATION_NO_FRACTION, -EINVAL);
        expect_ns_error(".5h", DURATION_NO_FRACTION, -EINVAL);
        expect_ns("2h", DURATION_NO_FRACTION, 2 * HOUR_NS);
}

static void test_duration_ns_rejects(void **state) {
        static const char *const bad[] = {
                "", " ", "s", "ms", ".", ".s", "1x", "1H", "1S", "1Min", "1 s", " 1s", "1s ", "1s\n", "-1s",
                "+1s", "1e3s", "0x10s", "1.5.2s", "1..5s", "1,5s", "1h30m", "1hs", "1mins", "1sec", "1ns",
                "1us", "1d ago", "nan", "inf", "1ss", "1m s", "ms1",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                expect_ns_error(bad[i], 0, -EINVAL);
                expect_ns_error(bad[i], DURATION_PLAIN_SECONDS | DURATION_INFINITY, -EINVAL);
        }
        uint64_t v;
        assert_int_equal(parse_duration_ns(NULL, 0, &v), -EINVAL);
        assert_int_equal(parse_duration_ns("1s", 0, NULL), -EINVAL);
}

static void test_duration_ns_overflow(void **state) {
        /* Up to INT64_MAX ns (a little over 292 years); beyond: -ERANGE,
         * never a wrapped value. */
        expect_ns("9223372036s", 0, UINT64_C(9223372036) * NSEC_PER_SEC);
        expect_ns("9223372036.854775807s", 0, (uint64_t) INT64_MAX);
        expect_ns("9223372036854.775807ms", 0, (uint64_t) INT64_MAX);
        expect_ns("106751d", 0, UINT64_C(106751) * DAY_NS);
        expect_ns("292y", 0, UINT64_C(292) * 365 * DAY_NS);
        expect_ns_error("9223372036.854775808s", 0, -ERANGE);
        expect_ns_error("9223372037s", 0, -ERANGE);
        expect_ns_error("9223372036854775807ms", 0, -ERANGE);
        expect_ns_error("106752d", 0, -ERANGE);
        expect_ns_error("293y", 0, -ERANGE);
        expect_ns("15250w", 0, UINT64_C(15250) * 7 * DAY_NS);
        expect_ns_error("15251w", 0, -ERANGE);
        expect_ns_error("18446744073709551616s", 0, -ERANGE);
        expect_ns_error("99999999999999999999999999999999y", DURATION_NO_FRACTION, -ERANGE);
        expect_ns_error("9223372037", DURATION_PLAIN_SECONDS, -ERANGE);
        /* A syntax error is still one, however long the number. */
        expect_ns_error("99999999999999999999999999999999x", 0, -EINVAL);
        expect_ns_error("99999999999999999999999999999999.5h", DURATION_NO_FRACTION, -EINVAL);

        double d = -1;
        assert_int_equal(parse_duration_sec("293y", 0, &d), -ERANGE);
        assert_true(d == -1);
}

static void test_duration_sec(void **state) {
        double d = -1;
        assert_int_equal(parse_duration_sec("1.5s", 0, &d), 0);
        assert_true(d == 1.5);
        assert_int_equal(parse_duration_sec("200ms", 0, &d), 0);
        assert_true(d == 0.2);
        assert_int_equal(parse_duration_sec("90min", 0, &d), 0);
        assert_true(d == 5400);
        assert_int_equal(parse_duration_sec("forever", DURATION_INFINITY, &d), 0);
        assert_true(isinf(d) && d > 0);
        assert_int_equal(parse_duration_sec("1", 0, &d), -EINVAL);
        assert_int_equal(parse_duration_sec("1s", 0, NULL), -EINVAL);

        /* The forms --interval, Interval= and top --delay gained. */
        expect_duration("1.5s", 1.5);
        expect_duration("90min", 5400);
        expect_duration("0.5min", 30);
        expect_duration("50ms", 0.05);
        expect_duration("1d", 86400);
        expect_duration("1w", 7 * 86400);
        expect_duration(".5", 0.5);
        double v = -1;
        assert_int_equal(parse_duration_s("forever", &v), -EINVAL);
        assert_int_equal(parse_duration_s("infinity", &v), -EINVAL);
        assert_int_equal(parse_duration_s("0s", &v), -EINVAL);
        assert_int_equal(parse_duration_s("1H", &v), -EINVAL);
        assert_int_equal(parse_duration_s("293y", &v), -ERANGE);
        assert_true(v == -1);
}

/* Moved here with the retention parser (from the store's tests). */
static void test_parse_retention(void **state) {
        uint64_t v;
        assert_int_equal(parse_retention_ns("24h", &v), 0);
        assert_true(v == 24 * HOUR_NS);
        assert_int_equal(parse_retention_ns("30d", &v), 0);
        assert_true(v == 30 * 24 * HOUR_NS);
        assert_int_equal(parse_retention_ns("2w", &v), 0);
        assert_true(v == 14 * 24 * HOUR_NS);
        assert_int_equal(parse_retention_ns("90m", &v), 0);
        assert_true(v == 90 * MIN_NS);
        assert_int_equal(parse_retention_ns("forever", &v), 0);
        assert_true(v == 0);
        assert_int_equal(parse_retention_ns("1y", &v), 0);
        assert_true(v == 365 * 24 * HOUR_NS);
        assert_int_equal(parse_retention_ns("", &v), -EINVAL);
        assert_int_equal(parse_retention_ns("h", &v), -EINVAL);
        assert_int_equal(parse_retention_ns("-1d", &v), -EINVAL);
        assert_int_equal(parse_retention_ns("1.5d", &v), -EINVAL);
        assert_int_equal(parse_retention_ns("3 d", &v), -EINVAL);
        assert_int_equal(parse_retention_ns("99999999999999999999d", &v), -ERANGE);
        assert_int_equal(parse_retention_ns("1000y", &v), -ERANGE);
}

static void test_parse_retention_more(void **state) {
        uint64_t v = 1;
        assert_int_equal(parse_retention_ns("infinity", &v), 0);
        assert_true(v == 0);
        v = 1;
        assert_int_equal(parse_retention_ns("0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(parse_retention_ns("3600", &v), 0);
        assert_true(v == HOUR_NS);
        assert_int_equal(parse_retention_ns("90min", &v), 0);
        assert_true(v == 90 * MIN_NS);
        assert_int_equal(parse_retention_ns("100y", &v), 0);
        assert_true(v == UINT64_C(100) * 365 * DAY_NS);
        assert_int_equal(parse_retention_ns("36501d", &v), -ERANGE);
        assert_int_equal(parse_retention_ns("101y", &v), -ERANGE);
        assert_int_equal(parse_retention_ns("forever ", &v), -EINVAL);
        assert_int_equal(parse_retention_ns("1.5", &v), -EINVAL);
        assert_int_equal(parse_retention_ns(NULL, &v), -EINVAL);
}

/* --since gained the units of the common grammar. */
static void test_since_units(void **state) {
        set_tz("UTC");
        expect_time("90min", NOW - S(90 * 60));
        expect_time("90min ago", NOW - S(90 * 60));
        expect_time("1y", NOW - S(365 * 86400));
        expect_time("1y ago", NOW - S(365 * 86400));
        expect_time("1500ms", NOW - S(1) - 500 * NSEC_PER_MSEC);
        expect_reject("90 min");
        expect_reject("90min  ago");
        expect_reject("forever");
        expect_reject("infinity");
        expect_reject("293y");
        expect_reject("1.5min");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sanity_of_now), cmocka_unit_test(test_durations),
                cmocka_unit_test(test_keywords),      cmocka_unit_test(test_iso8601),
                cmocka_unit_test(test_epoch),         cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_duration_s),
                cmocka_unit_test(test_duration_ns_units),
                cmocka_unit_test(test_duration_ns_flags),
                cmocka_unit_test(test_duration_ns_rejects),
                cmocka_unit_test(test_duration_ns_overflow),
                cmocka_unit_test(test_duration_sec),
                cmocka_unit_test(test_parse_retention),
                cmocka_unit_test(test_parse_retention_more),
                cmocka_unit_test(test_since_units),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
