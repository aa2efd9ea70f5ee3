/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "idle.h"
#include "test-helpers.h"

static void test_none_then_minimum(void **state) {
        IdleEstimator e;
        IdleMethod m;

        idle_estimator_init(&e, -1);
        assert_double_equal(idle_estimator_get(&e, &m), 0, 0);
        assert_int_equal(m, IDLE_METHOD_NONE);

        /* Constant utilisation: no regression possible, lowest power wins. */
        for (int i = 0; i < 50; i++)
                idle_estimator_add(&e, 0.3, 10.0 + (i % 3));
        assert_double_equal(idle_estimator_get(&e, &m), 10.0, 1e-12);
        assert_int_equal(m, IDLE_METHOD_MINIMUM);
}

static void test_regression_recovers_intercept(void **state) {
        IdleEstimator e;
        IdleMethod m;

        /* P = 6 + 20 u, never idle: the minimum seen is above 6 W, the
         * regression finds 6 W. */
        idle_estimator_init(&e, -1);
        for (int i = 0; i < 200; i++) {
                double u = 0.2 + 0.6 * ((i * 37) % 100) / 100.0;
                idle_estimator_add(&e, u, 6.0 + 20.0 * u);
        }
        assert_double_equal(idle_estimator_get(&e, &m), 6.0, 1e-9);
        assert_int_equal(m, IDLE_METHOD_REGRESSION);
}

static void test_regression_with_noise(void **state) {
        IdleEstimator e;
        IdleMethod m;
        unsigned seed = 12345;

        idle_estimator_init(&e, -1);
        for (int i = 0; i < IDLE_WINDOW * 2; i++) {
                seed = seed * 1103515245u + 12345u;
                double u = (seed >> 8) % 1000 / 1000.0;
                seed = seed * 1103515245u + 12345u;
                double noise = ((double) ((seed >> 8) % 1000) / 1000.0 - 0.5) * 0.4; /* ±0.2 W */
                idle_estimator_add(&e, u, 4.0 + 10.0 * u + noise);
        }
        double idle = idle_estimator_get(&e, &m);
        assert_int_equal(m, IDLE_METHOD_REGRESSION);
        assert_true(fabs(idle - 4.0) < 0.05 * 4.0);
}

static void test_insane_fit_falls_back(void **state) {
        IdleEstimator e;
        IdleMethod m;

        /* Power falls as use rises: no sane line, use the minimum. */
        idle_estimator_init(&e, -1);
        for (int i = 0; i < 100; i++) {
                double u = (i % 10) / 10.0;
                idle_estimator_add(&e, u, 20.0 - 10.0 * u);
        }
        assert_double_equal(idle_estimator_get(&e, &m), 11.0, 1e-9);
        assert_int_equal(m, IDLE_METHOD_MINIMUM);
}

static void test_configured_wins(void **state) {
        IdleEstimator e;
        IdleMethod m;

        idle_estimator_init(&e, 3.5);
        for (int i = 0; i < 100; i++)
                idle_estimator_add(&e, (i % 10) / 10.0, 1.0 + (i % 10));
        assert_double_equal(idle_estimator_get(&e, &m), 3.5, 0);
        assert_int_equal(m, IDLE_METHOD_CONFIGURED);
        assert_string_equal(idle_method_to_string(m), "configured");
}

static void test_window_forgets(void **state) {
        IdleEstimator e;
        IdleMethod m;

        idle_estimator_init(&e, -1);
        idle_estimator_add(&e, 0.5, 1.0); /* an old low point */
        for (int i = 0; i < IDLE_WINDOW; i++)
                idle_estimator_add(&e, 0.5, 8.0);
        assert_double_equal(idle_estimator_get(&e, &m), 8.0, 0);
        /* Junk is ignored, utilisation clamped. */
        idle_estimator_add(&e, NAN, 1.0);
        idle_estimator_add(&e, 0.5, -1.0);
        idle_estimator_add(&e, 7.0, 8.0);
        assert_double_equal(idle_estimator_get(&e, &m), 8.0, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_none_then_minimum),
                cmocka_unit_test(test_regression_recovers_intercept),
                cmocka_unit_test(test_regression_with_noise),
                cmocka_unit_test(test_insane_fit_falls_back),
                cmocka_unit_test(test_configured_wins),
                cmocka_unit_test(test_window_forgets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
