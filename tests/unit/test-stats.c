/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl's statistics (cli/stats.c) and the benchmark verbs' energy
 * argument (measure_parse_energy). Reference p-values were computed by
 * integrating the t density numerically (Simpson, step 0.0025). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "measure.h"
#include "stats.h"
#include "test-helpers.h"

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void test_summary(void **state) {
        const double v[] = { 2, 4, 4, 4, 5, 5, 7, 9 };
        StatsSummary s;

        (void) state;
        stats_summary(v, ELEMENTS(v), &s);
        assert_int_equal(s.n, 8);
        assert_double_equal(s.mean, 5, 1e-15);
        assert_double_equal(s.stddev, sqrt(32.0 / 7), 1e-15);
        assert_double_equal(s.min, 2, 0);
        assert_double_equal(s.max, 9, 0);
        stats_summary(v, 1, &s);
        assert_double_equal(s.stddev, 0, 0);
        stats_summary(NULL, 0, &s);
        assert_int_equal(s.n, 0);
}

static void test_incomplete_beta(void **state) {
        (void) state;
        /* Closed forms: I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b, I_½(a, a) = ½. */
        for (double x = 0.05; x < 1; x += 0.1) {
                assert_double_equal(stats_incomplete_beta(3.5, 1, x), pow(x, 3.5), 1e-13);
                assert_double_equal(stats_incomplete_beta(1, 7.25, x), 1 - pow(1 - x, 7.25), 1e-13);
        }
        assert_double_equal(stats_incomplete_beta(12.5, 12.5, 0.5), 0.5, 1e-13);
        assert_double_equal(stats_incomplete_beta(2, 3, 0), 0, 0);
        assert_double_equal(stats_incomplete_beta(2, 3, 1), 1, 0);
        /* I_x(2, 2) = 3x² - 2x³ */
        assert_double_equal(stats_incomplete_beta(2, 2, 0.3), 3 * 0.09 - 2 * 0.027, 1e-14);
        assert_true(isnan(stats_incomplete_beta(0, 1, 0.5)));
        assert_true(isnan(stats_incomplete_beta(1, 1, 1.5)));
}

static void test_t_cdf(void **state) {
        (void) state;
        /* df 1 is Cauchy's, df 2 has a closed form too. */
        for (double t = -20; t <= 20; t += 0.7) {
                assert_double_equal(stats_t_cdf(t, 1), 0.5 + atan(t) / M_PI, 1e-12);
                assert_double_equal(stats_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-12);
        }
        /* Table values: two-sided p of t = 2.228 at df 10, of t = 3 at df 5. */
        assert_double_equal(2 * stats_t_cdf(-2.228, 10), 0.0500117718, 1e-8);
        assert_double_equal(2 * (1 - stats_t_cdf(3.0, 5)), 0.0300992479, 1e-8);
        /* Large df: the normal distribution. */
        assert_double_equal(stats_t_cdf(1.959963984540054, 1e9), 0.975, 1e-7);
        assert_double_equal(stats_t_cdf(0, 3.3), 0.5, 1e-15);
        assert_double_equal(stats_t_cdf(INFINITY, 3), 1, 0);
}

static void test_t_quantile(void **state) {
        (void) state;
        /* Table critical values (two-sided 95%). */
        assert_double_equal(stats_t_quantile(0.975, 1), 12.706204736, 1e-8);
        assert_double_equal(stats_t_quantile(0.975, 5), 2.570581836, 1e-8);
        assert_double_equal(stats_t_quantile(0.975, 10), 2.228138852, 1e-8);
        assert_double_equal(stats_t_quantile(0.025, 10), -2.228138852, 1e-8);
        /* Cornish–Fisher at df 1000: z + (z³ + z) / 4ν + (5z⁵ + 16z³ + 3z) / 96ν². */
        assert_double_equal(stats_t_quantile(0.975, 1000), 1.9623391, 1e-6);
        for (double df = 0.5; df < 60; df *= 1.7)
                for (double p = 0.01; p < 1; p += 0.07)
                        assert_double_equal(stats_t_cdf(stats_t_quantile(p, df), df), p, 1e-12);
        assert_true(isnan(stats_t_quantile(0, 3)));
        assert_true(isnan(stats_t_quantile(1, 3)));
}

/* Welch's example on Wikipedia's "Welch's t-test" page (A1, A2 of 15 each). */
static void test_welch_known(void **state) {
        const double a1[] = { 27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4 };
        const double a2[] = { 27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4 };
        StatsSummary s1, s2;
        StatsWelch w;

        (void) state;
        stats_summary(a1, ELEMENTS(a1), &s1);
        stats_summary(a2, ELEMENTS(a2), &s2);
        assert_int_equal(stats_welch(s2.mean, s2.stddev, s2.n, s1.mean, s1.stddev, s1.n, &w), 0);
        assert_double_equal(w.t, -2.45535639828601, 1e-10);
        assert_double_equal(w.df, 24.98852929023142, 1e-9);
        assert_double_equal(w.p_value, 0.02137800146, 1e-8);
        /* Order does not change p. */
        assert_int_equal(stats_welch(s1.mean, s1.stddev, s1.n, s2.mean, s2.stddev, s2.n, &w), 0);
        assert_double_equal(w.p_value, 0.02137800146, 1e-8);
        /* Constant samples. */
        assert_int_equal(stats_welch(1, 0, 3, 1, 0, 3, &w), 0);
        assert_double_equal(w.p_value, 1, 0);
        assert_int_equal(stats_welch(1, 0, 3, 2, 0, 3, &w), 0);
        assert_double_equal(w.p_value, 0, 0);
        assert_int_equal(stats_welch(1, 0, 1, 2, 0, 3, &w), -EINVAL);
}

static void test_ratio(void **state) {
        const double a[] = { 1.00, 1.05, 0.95, 1.02, 0.98, 1.00 };
        const double b[] = { 2.00, 2.10, 1.90, 2.04, 1.96, 2.00 };
        const double c[] = { 1.01, 0.97, 1.03, 0.99, 1.00, 1.00 };
        const double z[] = { 0, 0.1, 0, 0.2, 0.1, 0 };
        StatsRatio r;

        (void) state;
        /* b is 2 × a: ratio 2, an interval around it of geometric centre 2
         * (exp of the difference of the log means), p ≈ 0. The samples are
         * not paired: the interval's width comes from each one's spread. */
        assert_int_equal(stats_ratio(a, 6, b, 6, &r), 0);
        assert_double_equal(r.ratio, 2, 1e-12);
        assert_true(r.log_scale);
        assert_double_equal(sqrt(r.ci_low * r.ci_high), 2, 1e-12);
        assert_true(r.ci_low > 1.85 && r.ci_low < 2 && r.ci_high > 2 && r.ci_high < 2.15);
        assert_true(r.p_value < 1e-9 && r.significant);
        assert_double_equal(r.ratio_sd, 2 * sqrt(2) * sqrt(0.0058 / 5), 1e-12);
        /* Same distribution: ratio ≈ 1, interval around 1, not significant. */
        assert_int_equal(stats_ratio(a, 6, c, 6, &r), 0);
        assert_true(r.ci_low < 1 && r.ci_high > 1);
        assert_true(r.p_value > 0.5 && !r.significant);
        /* A zero value: the test on raw values, the delta method's interval. */
        assert_int_equal(stats_ratio(a, 6, z, 6, &r), 0);
        assert_false(r.log_scale);
        assert_double_equal(r.ratio, 0.4 / 6 / 1.0, 1e-12);
        assert_true(r.significant && r.ci_high < 1);
        assert_int_equal(stats_ratio(z, 6, a, 6, &r), 0);
        assert_int_equal(stats_ratio(a, 1, b, 6, &r), -EINVAL);
        {
                const double zeros[] = { 0, 0 };
                assert_int_equal(stats_ratio(zeros, 2, a, 6, &r), -EDOM);
        }
}

/* A deterministic generator: xorshift64*, and normal deviates (Box–Muller). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static double uniform(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return ((double) ((rng_state * 0x2545F4914F6CDD1DULL) >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) {
        return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* The 95% interval of the ratio covers the true ratio about 95% of the time
 * on log-normal data of 6 runs each, with equal or unequal spreads; and the
 * test rejects a true ratio of 1 about 5% of the time. */
static void test_ratio_coverage(void **state) {
        const int trials = 4000;
        const struct {
                double true_ratio, sd_a, sd_b;
        } cases[] = {
                { 2.0, 0.05, 0.05 },
                { 1.3, 0.10, 0.02 },
                { 1.0, 0.08, 0.08 },
        };

        (void) state;
        for (size_t k = 0; k < ELEMENTS(cases); k++) {
                int covered = 0, rejected = 0;
                for (int i = 0; i < trials; i++) {
                        double a[6], b[6];
                        StatsRatio r;
                        /* Log-normal: the ratio of the geometric means is true_ratio;
                         * the ratio of arithmetic means differs by the spreads' term. */
                        for (int j = 0; j < 6; j++) {
                                a[j] = 10 * exp(cases[k].sd_a * normal());
                                b[j] = 10 * cases[k].true_ratio * exp(cases[k].sd_b * normal());
                        }
                        assert_int_equal(stats_ratio(a, 6, b, 6, &r), 0);
                        covered += r.ci_low <= cases[k].true_ratio && cases[k].true_ratio <= r.ci_high;
                        rejected += r.significant;
                }
                double coverage = (double) covered / trials;
                if (coverage < 0.93 || coverage > 0.975)
                        fail_msg("case %zu: coverage %.4f, want about 0.95", k, coverage);
                if (cases[k].true_ratio == 1.0) {
                        double rate = (double) rejected / trials;
                        if (rate < 0.025 || rate > 0.07)
                                fail_msg("false positive rate %.4f, want about 0.05", rate);
                } else if (rejected < trials * 99 / 100)
                        fail_msg("case %zu: a true ratio of %.1f found significant in only %d of %d", k,
                                 cases[k].true_ratio, rejected, trials);
        }
}

static void expect_energy(const char *s, double want) {
        double got = -1;
        int r = measure_parse_energy(s, &got);
        if (r != 0)
                fail_msg("measure_parse_energy(\"%s\") = %d, wanted success", s, r);
        assert_double_equal(got, want, want * 1e-15);
}

static void test_energy_units(void **state) {
        (void) state;
        expect_energy("5", 5);
        expect_energy("5J", 5);
        expect_energy("1.5e3", 1500);
        expect_energy("2kJ", 2000);
        expect_energy("2 kJ", 2000);
        expect_energy("250mJ", 0.25);
        expect_energy("3MJ", 3e6);
        expect_energy("1Wh", 3600);
        expect_energy("0.5mWh", 1.8);
        expect_energy("2kWh", 7.2e6);
        expect_energy("0", 0);
        double v;
        const char *bad[] = { "", "J", "-1J", "5 joules", "5j", "nan", "inf", "5kj", "5 J x", "1e999" };
        for (size_t i = 0; i < ELEMENTS(bad); i++)
                if (measure_parse_energy(bad[i], &v) != -EINVAL)
                        fail_msg("measure_parse_energy(\"%s\") accepted", bad[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_summary),       cmocka_unit_test(test_incomplete_beta),
                cmocka_unit_test(test_t_cdf),         cmocka_unit_test(test_t_quantile),
                cmocka_unit_test(test_welch_known),   cmocka_unit_test(test_ratio),
                cmocka_unit_test(test_ratio_coverage), cmocka_unit_test(test_energy_units),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
