/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Idle (static) power of one energy domain, estimated online. Pure: no I/O,
 * no clock; the caller feeds one point per interval.
 *
 * The estimate is, in this order:
 *  - "configured": the value the administrator set, exact by definition;
 *  - "source": the value the source itself states (the model source knows
 *    its own idle power exactly: the estimator never second-guesses it);
 *  - "measured-idle" / "regression": a line of power on utilisation fitted
 *    to the data, when the data identify it. Intervals are weighted by their
 *    length and those shorter than min_interval_s are ignored; points are
 *    gathered into utilisation bins of 5% that forget with a half-life of
 *    hours (a long horizon, constant memory), and each bin counts at most
 *    once in the fit, so thousands of intervals at full load do not outvote
 *    the few at low load. The fit is robust (Huber weights over the bins).
 *    "measured-idle" when the data include a near-idle bin (utilisation
 *    below 5%: its power less what that utilisation adds), "regression" when the intercept is extrapolated from higher
 *    utilisation, which is allowed only as far as the data support it (the
 *    distance to 0 must be at most 1.5 times the utilisation range seen,
 *    and the lowest utilisation seen at most IDLE_MAX_EXTRAPOLATION);
 *  - "persisted": the last estimate for this domain kept in the database by
 *    an earlier run, when the data cannot identify idle power yet;
 *  - "prior": a documented default (see docs/attribution.md), when nothing
 *    else is known;
 *  - "none": no default either and no data (0 W).
 * In every case the idle figure is at most the lowest power the data show
 * (a domain never draws less than its idle power), so a busy host's work is
 * never booked as idle: with no idle observed, idle is bounded by the prior.
 *
 * Each estimate carries an uncertainty band (± W, about 95%) and whether the
 * split it gives is provisional (persisted or prior: the data have not
 * confirmed it). */

#define IDLE_BINS 20
/* The default prior: idle power as this fraction of a domain's maximum power,
 * ± half of it. 0.74 W idle over 3.5 W at full load per vCPU is the Cloud
 * Carbon Footprint methodology's SPECpower_ssj2008-derived ratio, the one the
 * model source uses (docs/attribution.md). */
#define IDLE_PRIOR_FRACTION (0.74 / 3.5)
#define IDLE_PRIOR_BAND_FRACTION 0.5
#define IDLE_MAX_EXTRAPOLATION 0.6

typedef enum IdleMethod {
        IDLE_METHOD_NONE,
        IDLE_METHOD_CONFIGURED,
        IDLE_METHOD_SOURCE,
        IDLE_METHOD_MEASURED_IDLE,
        IDLE_METHOD_REGRESSION,
        IDLE_METHOD_PERSISTED,
        IDLE_METHOD_PRIOR,
        _IDLE_METHOD_MAX,
        _IDLE_METHOD_INVALID = -1,
} IdleMethod;

typedef struct IdleEstimate {
        double w;              /* idle power, W */
        double band_w;         /* uncertainty, ± W (0 when exact) */
        IdleMethod method;
        bool provisional;      /* persisted or prior: not confirmed by this run's data */
        double util_lo, util_hi; /* utilisation range the data cover (0, 0 when none) */
} IdleEstimate;

typedef struct IdleBin {
        double t;              /* seconds of data (decayed) */
        double n;              /* intervals (decayed) */
        double su, sp, spp;    /* Σ dt·u, Σ dt·P, Σ dt·P² */
} IdleBin;

typedef struct IdleEstimator {
        double configured_w;   /* < 0: none */
        double source_w;       /* < 0: none */
        double persisted_w, persisted_band_w; /* persisted_w < 0: none */
        double prior_w, prior_band_w;         /* prior_w < 0: none */
        double prior_fraction, prior_band_fraction; /* prior_w unset: this fraction of the highest
                                                     * power seen (0: none), ± this fraction of it */
        double min_interval_s; /* shorter intervals are ignored */
        double half_life_s;    /* how fast old data are forgotten */
        IdleBin bins[IDLE_BINS];
} IdleEstimator;

/* No configured, source, persisted or prior value; intervals under 50 ms
 * ignored; a half-life of 6 hours. */
void idle_estimator_init(IdleEstimator *e);
void idle_estimator_set_configured(IdleEstimator *e, double w);        /* < 0: unset */
void idle_estimator_set_source(IdleEstimator *e, double w);            /* < 0: unset */
void idle_estimator_set_persisted(IdleEstimator *e, double w, double band_w);
void idle_estimator_set_prior(IdleEstimator *e, double w, double band_w);
void idle_estimator_set_min_interval(IdleEstimator *e, double s);
/* Where no prior is set: `fraction` of the highest mean power the data show,
 * ± `band_fraction` of that (a domain with no stated maximum). */
void idle_estimator_set_prior_fraction(IdleEstimator *e, double fraction, double band_fraction);

/* One interval: its length, the domain's utilisation (busy fraction of its
 * CPUs, clamped to 0..1) and the energy measured over it. Junk (not finite,
 * negative energy, dt <= 0) and intervals shorter than the minimum are
 * ignored. */
void idle_estimator_add(IdleEstimator *e, double dt_s, double utilisation, double energy_j);

IdleEstimate idle_estimator_get(const IdleEstimator *e);

const char *idle_method_to_string(IdleMethod m);
IdleMethod idle_method_from_string(const char *s);
