/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "idle.h"
#include "test-helpers.h"

/* A simulated meter: P = idle + slope × u (+ curvature × u²), with noise. */
typedef struct Meter {
        double idle, slope, curve, noise;
        unsigned seed;
} Meter;

static double rnd(unsigned *seed) {
        *seed = *seed * 1103515245u + 12345u;
        return (double) ((*seed >> 8) % 100000) / 100000.0;
}

static void feed(IdleEstimator *e, Meter *m, double dt, double u) {
        double p = m->idle + m->slope * u + m->curve * u * u + (rnd(&m->seed) - 0.5) * 2 * m->noise;
        idle_estimator_add(e, dt, u, p * dt);
}

static void assert_within(double got, double want, double rel) {
        if (fabs(got - want) > rel * fabs(want))
                fail_msg("got %.4f, want %.4f ± %.1f%%", got, want, rel * 100);
}

static void test_nothing_known(void **state) {
        IdleEstimator e;
        idle_estimator_init(&e);
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_NONE);
        assert_double_equal(r.w, 0, 0);
        assert_true(r.provisional);
}

static void test_configured_then_source_win(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 5, .slope = 20, .noise = 0.1, .seed = 1 };

        idle_estimator_init(&e);
        for (int i = 0; i < 600; i++)
                feed(&e, &m, 1.0, (i % 10) / 10.0);
        idle_estimator_set_source(&e, 4.0);
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_SOURCE);
        assert_double_equal(r.w, 4.0, 0);
        assert_double_equal(r.band_w, 0, 0);
        assert_false(r.provisional);

        idle_estimator_set_configured(&e, 3.5);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_CONFIGURED);
        assert_double_equal(r.w, 3.5, 0);
        assert_string_equal(idle_method_to_string(r.method), "configured");
}

/* Phases idle / one CPU / all CPUs of a 2-CPU host: idle was seen. */
static void test_measured_idle(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.3, .seed = 7 };

        idle_estimator_init(&e);
        for (int i = 0; i < 60; i++)
                feed(&e, &m, 1.0, 0.01 + 0.02 * rnd(&m.seed));
        for (int i = 0; i < 60; i++)
                feed(&e, &m, 1.0, 0.5 + 0.02 * rnd(&m.seed));
        for (int i = 0; i < 60; i++)
                feed(&e, &m, 1.0, 0.97 + 0.03 * rnd(&m.seed));
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_MEASURED_IDLE);
        assert_within(r.w, 6.0, 0.05);
        assert_true(fabs(r.w - 6.0) <= r.band_w);
        assert_false(r.provisional);
}

/* Busy on one CPU of two from the start, other work on top: never idle,
 * utilisation 0.5..1. The intercept is extrapolated, within its band. */
static void test_regression_never_idle(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 5, .slope = 24, .noise = 0.2, .seed = 3 };

        idle_estimator_init(&e);
        for (int i = 0; i < 900; i++)
                feed(&e, &m, 0.5, 0.5 + 0.5 * rnd(&m.seed));
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_REGRESSION);
        assert_within(r.w, 5.0, 0.05);
        assert_true(fabs(r.w - 5.0) <= r.band_w);
        assert_true(r.util_lo < 0.55 && r.util_hi > 0.95);
}

/* Thousands of intervals at full load and a few near idle: each bin counts
 * at most once, so the cluster does not outvote the low bins even when the
 * real curve bends. */
static void test_cluster_does_not_outvote(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 34, .curve = -4, .noise = 0.2, .seed = 11 };

        idle_estimator_init(&e);
        for (int i = 0; i < 40; i++)
                feed(&e, &m, 1.0, 0.02);
        for (int i = 0; i < 40; i++)
                feed(&e, &m, 1.0, 0.3);
        for (int i = 0; i < 5000; i++)
                feed(&e, &m, 1.0, 0.95 + 0.05 * rnd(&m.seed));
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_MEASURED_IDLE);
        assert_within(r.w, 6.0, 0.05);
}

/* A main loop that fell behind writes intervals of a few ms, some reading
 * 0 J: they are ignored, not taken for idle. */
static void test_short_intervals_ignored(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.2, .seed = 5 };

        idle_estimator_init(&e);
        idle_estimator_set_min_interval(&e, 0.5);
        for (int i = 0; i < 300; i++)
                feed(&e, &m, 1.0, 0.5 + 0.5 * rnd(&m.seed));
        IdleEstimate before = idle_estimator_get(&e);
        for (int i = 0; i < 500; i++)
                idle_estimator_add(&e, 0.002 + 0.2 * rnd(&m.seed), 0.0, 0.0);
        IdleEstimate after = idle_estimator_get(&e);
        assert_double_equal(before.w, after.w, 1e-9);
        assert_int_equal(after.method, IDLE_METHOD_REGRESSION);
        /* Junk. */
        idle_estimator_add(&e, 1.0, NAN, 1.0);
        idle_estimator_add(&e, 1.0, 0.5, -1.0);
        idle_estimator_add(&e, -1.0, 0.5, 1.0);
        idle_estimator_add(&e, INFINITY, 0.5, 1.0);
        assert_double_equal(idle_estimator_get(&e).w, after.w, 1e-9);
}

/* Saturated from the start: the data cannot identify idle power. The prior
 * stands, provisional, never above the lowest power seen; without a prior
 * nothing is booked as idle. */
static void test_saturated_uses_prior(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 5, .slope = 20, .noise = 0.1, .seed = 9 };

        idle_estimator_init(&e);
        for (int i = 0; i < 600; i++)
                feed(&e, &m, 1.0, 0.97 + 0.03 * rnd(&m.seed));
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_NONE);
        assert_double_equal(r.w, 0, 0);

        idle_estimator_set_prior(&e, 6.0, 3.0);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PRIOR);
        assert_double_equal(r.w, 6.0, 0);
        assert_double_equal(r.band_w, 3.0, 0);
        assert_true(r.provisional);

        /* A prior above what the meter ever read is cut to the lowest power seen. */
        idle_estimator_set_prior(&e, 40.0, 20.0);
        r = idle_estimator_get(&e);
        assert_true(r.w < 25.5 && r.w > 24.0);

        /* A persisted estimate beats the prior. */
        idle_estimator_set_prior(&e, 6.0, 3.0);
        idle_estimator_set_persisted(&e, 5.1, 0.4);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PERSISTED);
        assert_double_equal(r.w, 5.1, 0);
        assert_true(r.provisional);
}

/* A prior from a "maximum power" that is only a plausibility bound (RAPL
 * with no power limit: 1000 W) on a host busy from start: cut to the lowest
 * power seen it would book nearly all the energy as idle (the harness saw
 * 36 of 36 W as idle, every workload −98%). The data contradict it from the
 * first interval; the fraction of the power seen stands instead. */
static void test_contradicted_prior(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.2, .seed = 11 };

        idle_estimator_init(&e);
        idle_estimator_set_prior(&e, IDLE_PRIOR_FRACTION * 1000, IDLE_PRIOR_BAND_FRACTION * IDLE_PRIOR_FRACTION * 1000);
        idle_estimator_set_prior_fraction(&e, IDLE_PRIOR_FRACTION, IDLE_PRIOR_BAND_FRACTION);
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PRIOR);         /* no data yet: the prior as stated */
        assert_double_equal(r.w, IDLE_PRIOR_FRACTION * 1000, 1e-9);

        feed(&e, &m, 0.5, 1.0);                                /* the first interval */
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PRIOR);
        assert_within(r.w, IDLE_PRIOR_FRACTION * 36, 0.02);
        for (int i = 0; i < 600; i++)
                feed(&e, &m, 0.5, 0.98 + 0.02 * rnd(&m.seed));
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PRIOR);
        assert_true(r.provisional);
        assert_within(r.w, IDLE_PRIOR_FRACTION * 36, 0.02);
        assert_true(fabs(r.w - m.idle) <= r.band_w);          /* the band holds the truth */

        /* A prior below the lowest power seen is not contradicted: it stands. */
        idle_estimator_set_prior(&e, 10.0, 5.0);
        r = idle_estimator_get(&e);
        assert_double_equal(r.w, 10.0, 0);
}

/* Others' load makes the utilisation wander: 8 s around 0.55 spread over four
 * 5% bins (2 s each, none filling alone), then 8 s near full load. The
 * harness saw the prior (+27%) here; thin adjacent bins pooled give the
 * line, and the intercept within its band. */
static void test_wandering_utilisation_pooled(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.3, .seed = 5 };

        idle_estimator_init(&e);
        idle_estimator_set_min_interval(&e, 0.25);
        idle_estimator_set_prior_fraction(&e, IDLE_PRIOR_FRACTION, IDLE_PRIOR_BAND_FRACTION);
        for (int i = 0; i < 16; i++)
                feed(&e, &m, 0.5, 0.45 + 0.2 * (i % 4) / 4.0 + 0.01 * rnd(&m.seed));
        for (int i = 0; i < 16; i++)
                feed(&e, &m, 0.5, 0.97 + 0.03 * rnd(&m.seed));
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_REGRESSION);
        assert_false(r.provisional);
        assert_within(r.w, m.idle, 0.05);
        assert_true(fabs(r.w - m.idle) <= r.band_w);

        /* More than four thin bins are not pooled into one point. */
        idle_estimator_init(&e);
        for (int i = 0; i < 10; i++)
                feed(&e, &m, 0.5, 0.05 * i + 0.01);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_NONE);
}

/* A restart: the persisted estimate stands until the data give a better one. */
static void test_persisted_until_data_identify(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.1, .seed = 13 };

        idle_estimator_init(&e);
        idle_estimator_set_persisted(&e, 6.1, 2.0);
        assert_int_equal(idle_estimator_get(&e).method, IDLE_METHOD_PERSISTED);
        for (int i = 0; i < 60; i++)
                feed(&e, &m, 1.0, 0.01);
        for (int i = 0; i < 60; i++)
                feed(&e, &m, 1.0, 0.9);
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_MEASURED_IDLE);
        assert_true(r.band_w < 2.0);
        assert_within(r.w, 6.0, 0.05);
}

/* One bin far off the line (turbo burst, a device waking) barely moves it. */
static void test_robust_to_outlier_bin(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.1, .seed = 17 };

        idle_estimator_init(&e);
        for (int k = 0; k < 10; k++)
                for (int i = 0; i < 30; i++)
                        feed(&e, &m, 1.0, k / 10.0 + 0.01);
        for (int i = 0; i < 30; i++)
                idle_estimator_add(&e, 1.0, 0.62, 6 + 30 * 0.62 + 40);
        IdleEstimate r = idle_estimator_get(&e);
        assert_within(r.w, 6.0, 0.05);
}

/* Old data fade with the half-life. */
static void test_forgets(void **state) {
        IdleEstimator e;
        Meter a = { .idle = 10, .slope = 30, .noise = 0.1, .seed = 19 };
        Meter b = { .idle = 4, .slope = 30, .noise = 0.1, .seed = 23 };

        idle_estimator_init(&e);
        for (int i = 0; i < 600; i++)
                feed(&e, &a, 1.0, (i % 10) / 10.0);
        assert_within(idle_estimator_get(&e).w, 10.0, 0.05);
        for (int i = 0; i < 48 * 60; i++)
                feed(&e, &b, 60.0, (i % 10) / 10.0);
        assert_within(idle_estimator_get(&e).w, 4.0, 0.05);
}

/* Utilisation that barely varies, far from 0: no extrapolation. */
static void test_no_extrapolation_from_narrow_range(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 5, .slope = 20, .noise = 0.05, .seed = 29 };

        idle_estimator_init(&e);
        idle_estimator_set_prior(&e, 4.0, 2.0);
        for (int i = 0; i < 900; i++)
                feed(&e, &m, 1.0, 0.8 + 0.15 * rnd(&m.seed));
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PRIOR);
        assert_double_equal(r.w, 4.0, 0);
}

static void test_method_names(void **state) {
        for (int i = 0; i < _IDLE_METHOD_MAX; i++)
                assert_int_equal(idle_method_from_string(idle_method_to_string((IdleMethod) i)), i);
        assert_int_equal(idle_method_from_string("minimum"), _IDLE_METHOD_INVALID);
        assert_int_equal(idle_method_from_string(NULL), _IDLE_METHOD_INVALID);
        assert_null(idle_method_to_string(_IDLE_METHOD_MAX));
}

/* The first seconds of a load after an idle phase: the bin further up is
 * too thin for the fit, yet its slope already corrects the near-idle bin
 * (whose utilisation is not quite 0). */
static void test_measured_idle_early_load(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.05, .seed = 31 };

        idle_estimator_init(&e);
        for (int i = 0; i < 30; i++)
                feed(&e, &m, 0.5, 0.03);
        for (int i = 0; i < 4; i++)
                feed(&e, &m, 0.5, 0.5);
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_MEASURED_IDLE);
        assert_within(r.w, 6.0, 0.03);
}

/* Busy on one of two CPUs since start, then a second level for the first
 * time: once each level has a second of data, the line through them beats
 * the prior (its band, wider than the full fit's, holding the truth); before
 * that the prior stands, and a persisted estimate surer than the line. */
static void test_busy_since_start_new_level(void **state) {
        IdleEstimator e;
        Meter m = { .idle = 6, .slope = 30, .noise = 0.05, .seed = 37 };

        idle_estimator_init(&e);
        idle_estimator_set_prior_fraction(&e, IDLE_PRIOR_FRACTION, IDLE_PRIOR_BAND_FRACTION);
        for (int i = 0; i < 24; i++)
                feed(&e, &m, 0.5, 0.5);
        feed(&e, &m, 0.5, 1.0);
        IdleEstimate r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PRIOR);
        assert_true(r.provisional);

        feed(&e, &m, 0.5, 1.0);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_REGRESSION);
        assert_false(r.provisional);
        assert_within(r.w, 6.0, 0.03);
        assert_true(fabs(r.w - 6.0) <= r.band_w);
        double thin_band = r.band_w;

        /* The full fit, once the new level has enough data: a narrower band. */
        for (int i = 0; i < 10; i++)
                feed(&e, &m, 0.5, 1.0);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_REGRESSION);
        assert_within(r.w, 6.0, 0.03);
        assert_true(r.band_w < thin_band);

        /* A persisted estimate surer than the thin line stands. */
        idle_estimator_init(&e);
        idle_estimator_set_persisted(&e, 5.9, 0.2);
        for (int i = 0; i < 24; i++)
                feed(&e, &m, 0.5, 0.5);
        for (int i = 0; i < 3; i++)
                feed(&e, &m, 0.5, 1.0);
        r = idle_estimator_get(&e);
        assert_int_equal(r.method, IDLE_METHOD_PERSISTED);
        assert_double_equal(r.w, 5.9, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nothing_known),
                cmocka_unit_test(test_configured_then_source_win),
                cmocka_unit_test(test_measured_idle),
                cmocka_unit_test(test_measured_idle_early_load),
                cmocka_unit_test(test_regression_never_idle),
                cmocka_unit_test(test_cluster_does_not_outvote),
                cmocka_unit_test(test_short_intervals_ignored),
                cmocka_unit_test(test_saturated_uses_prior),
                cmocka_unit_test(test_contradicted_prior),
                cmocka_unit_test(test_wandering_utilisation_pooled),
                cmocka_unit_test(test_persisted_until_data_identify),
                cmocka_unit_test(test_robust_to_outlier_bin),
                cmocka_unit_test(test_forgets),
                cmocka_unit_test(test_no_extrapolation_from_narrow_range),
                cmocka_unit_test(test_method_names),
                cmocka_unit_test(test_busy_since_start_new_level),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
