/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Online estimate of a domain's idle (static) power, pure (no I/O).
 * Keeps a window of recent (utilisation, power) points. The estimate is:
 *  - the configured value, when one is set ("configured");
 *  - else the intercept at zero utilisation of a least-squares line of power
 *    on utilisation, when utilisation varied enough and the fit is sane
 *    (slope > 0, intercept between 0 and the lowest power seen plus three
 *    standard deviations of the fit's residuals) ("regression");
 *  - else the lowest power seen in the window ("minimum");
 *  - 0 before any point ("none"). */

#define IDLE_WINDOW 600

typedef enum IdleMethod {
        IDLE_METHOD_NONE,
        IDLE_METHOD_CONFIGURED,
        IDLE_METHOD_REGRESSION,
        IDLE_METHOD_MINIMUM,
        _IDLE_METHOD_MAX,
        _IDLE_METHOD_INVALID = -1,
} IdleMethod;

typedef struct IdleEstimator {
        double configured_w;          /* < 0: not configured */
        double util[IDLE_WINDOW];
        double power[IDLE_WINDOW];
        size_t n, next;
} IdleEstimator;

void idle_estimator_init(IdleEstimator *e, double configured_w);
void idle_estimator_add(IdleEstimator *e, double utilisation, double power_w);
double idle_estimator_get(const IdleEstimator *e, IdleMethod *ret_method);
const char *idle_method_to_string(IdleMethod m);
