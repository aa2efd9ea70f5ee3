/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "idle.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* Utilisation must vary by at least this much (standard deviation) before a
 * regression line is trusted. */
#define MIN_UTIL_STDDEV 0.02
#define MIN_POINTS 10

static const char *const idle_method_table[_IDLE_METHOD_MAX] = {
        [IDLE_METHOD_NONE] = "none",
        [IDLE_METHOD_CONFIGURED] = "configured",
        [IDLE_METHOD_REGRESSION] = "regression",
        [IDLE_METHOD_MINIMUM] = "minimum",
};

const char *idle_method_to_string(IdleMethod m) {
        if (m < 0 || m >= _IDLE_METHOD_MAX)
                return NULL;
        return idle_method_table[m];
}

void idle_estimator_init(IdleEstimator *e, double configured_w) {
        assert(e);

        memset(e, 0, sizeof(*e));
        e->configured_w = configured_w;
}

void idle_estimator_add(IdleEstimator *e, double utilisation, double power_w) {
        assert(e);

        if (!isfinite(utilisation) || !isfinite(power_w) || power_w < 0)
                return;
        if (utilisation < 0)
                utilisation = 0;
        if (utilisation > 1)
                utilisation = 1;
        e->util[e->next] = utilisation;
        e->power[e->next] = power_w;
        e->next = (e->next + 1) % IDLE_WINDOW;
        if (e->n < IDLE_WINDOW)
                e->n++;
}

double idle_estimator_get(const IdleEstimator *e, IdleMethod *ret_method) {
        double min_p = INFINITY, su = 0, sp = 0, suu = 0, sup = 0;
        size_t n;

        assert(e);
        n = e->n;

        if (e->configured_w >= 0) {
                if (ret_method)
                        *ret_method = IDLE_METHOD_CONFIGURED;
                return e->configured_w;
        }
        if (n == 0) {
                if (ret_method)
                        *ret_method = IDLE_METHOD_NONE;
                return 0;
        }

        for (size_t i = 0; i < n; i++) {
                min_p = fmin(min_p, e->power[i]);
                su += e->util[i];
                sp += e->power[i];
        }
        double mu = su / (double) n, mp = sp / (double) n;
        for (size_t i = 0; i < n; i++) {
                double du = e->util[i] - mu;
                suu += du * du;
                sup += du * (e->power[i] - mp);
        }

        if (n >= MIN_POINTS && sqrt(suu / (double) n) >= MIN_UTIL_STDDEV) {
                double slope = sup / suu;
                double intercept = mp - slope * mu;
                double sse = 0;
                for (size_t i = 0; i < n; i++) {
                        double res = e->power[i] - (intercept + slope * e->util[i]);
                        sse += res * res;
                }
                /* A sane fit: power grows with use, and idle is not above the
                 * least power ever seen by more than the noise of the fit. */
                if (slope > 0 && intercept >= 0 && intercept <= min_p + 3 * sqrt(sse / (double) n) + 1e-9) {
                        if (ret_method)
                                *ret_method = IDLE_METHOD_REGRESSION;
                        return intercept;
                }
        }
        if (ret_method)
                *ret_method = IDLE_METHOD_MINIMUM;
        return min_p;
}
