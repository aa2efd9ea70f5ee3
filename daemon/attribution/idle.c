/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "idle.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "util.h"

#define DEFAULT_MIN_INTERVAL_S 0.05
#define DEFAULT_HALF_LIFE_S (6.0 * 3600)
/* A bin takes part in the fit once it holds this much data... */
#define BIN_MIN_S 5.0
/* ...and counts fully (weight → 1) once it holds well over BIN_SATURATE_S. */
#define BIN_SATURATE_S 20.0
/* A near-idle bin: utilisation below this. */
#define NEAR_IDLE_UTIL 0.05
/* The fit needs the data to cover at least this much utilisation. */
#define MIN_SPAN 0.15
/* ...and reach 0 within this many times the range they cover. */
#define MAX_EXTRAPOLATION_RATIO 1.5
/* Allowance for the curvature of real power curves when the intercept is
 * extrapolated: this fraction of the slope times the distance to 0. */
#define CURVATURE_ALLOWANCE 0.1
/* Thin adjacent bins pooled into one point: at most this many (20%). */
#define POOL_MAX_BINS 4
#define HUBER_K 1.345
#define HUBER_ROUNDS 5

static const char *const idle_method_table[_IDLE_METHOD_MAX] = {
        [IDLE_METHOD_NONE] = "none",
        [IDLE_METHOD_CONFIGURED] = "configured",
        [IDLE_METHOD_SOURCE] = "source",
        [IDLE_METHOD_MEASURED_IDLE] = "measured-idle",
        [IDLE_METHOD_REGRESSION] = "regression",
        [IDLE_METHOD_PERSISTED] = "persisted",
        [IDLE_METHOD_PRIOR] = "prior",
};

const char *idle_method_to_string(IdleMethod m) {
        if (m < 0 || m >= _IDLE_METHOD_MAX)
                return NULL;
        return idle_method_table[m];
}

IdleMethod idle_method_from_string(const char *s) {
        if (!s)
                return _IDLE_METHOD_INVALID;
        for (int i = 0; i < _IDLE_METHOD_MAX; i++)
                if (streq_ptr(idle_method_table[i], s))
                        return (IdleMethod) i;
        return _IDLE_METHOD_INVALID;
}

void idle_estimator_init(IdleEstimator *e) {
        assert(e);
        memset(e, 0, sizeof(*e));
        e->configured_w = e->source_w = e->persisted_w = e->prior_w = -1;
        e->min_interval_s = DEFAULT_MIN_INTERVAL_S;
        e->half_life_s = DEFAULT_HALF_LIFE_S;
}

static double valid_or_unset(double w) {
        return isfinite(w) && w >= 0 ? w : -1;
}

void idle_estimator_set_configured(IdleEstimator *e, double w) {
        assert(e);
        e->configured_w = valid_or_unset(w);
}

void idle_estimator_set_source(IdleEstimator *e, double w) {
        assert(e);
        e->source_w = valid_or_unset(w);
}

void idle_estimator_set_persisted(IdleEstimator *e, double w, double band_w) {
        assert(e);
        e->persisted_w = valid_or_unset(w);
        e->persisted_band_w = isfinite(band_w) && band_w >= 0 ? band_w : 0;
}

void idle_estimator_set_prior(IdleEstimator *e, double w, double band_w) {
        assert(e);
        e->prior_w = valid_or_unset(w);
        e->prior_band_w = isfinite(band_w) && band_w >= 0 ? band_w : 0;
}

void idle_estimator_set_prior_fraction(IdleEstimator *e, double fraction, double band_fraction) {
        assert(e);
        e->prior_fraction = isfinite(fraction) && fraction > 0 && fraction < 1 ? fraction : 0;
        e->prior_band_fraction = isfinite(band_fraction) && band_fraction >= 0 ? band_fraction : 0;
}

void idle_estimator_set_min_interval(IdleEstimator *e, double s) {
        assert(e);
        if (isfinite(s) && s >= 0)
                e->min_interval_s = s;
}

void idle_estimator_add(IdleEstimator *e, double dt_s, double utilisation, double energy_j) {
        assert(e);
        if (!isfinite(dt_s) || !isfinite(utilisation) || !isfinite(energy_j) || energy_j < 0 || dt_s <= 0)
                return;
        if (dt_s < e->min_interval_s)
                return;
        utilisation = fmin(fmax(utilisation, 0), 1);

        double f = exp2(-dt_s / e->half_life_s);
        for (size_t i = 0; i < IDLE_BINS; i++) {
                IdleBin *b = &e->bins[i];
                b->t *= f;
                b->n *= f;
                b->su *= f;
                b->sp *= f;
                b->spp *= f;
        }

        size_t k = (size_t) (utilisation * IDLE_BINS);
        if (k >= IDLE_BINS)
                k = IDLE_BINS - 1;
        double p = energy_j / dt_s;
        IdleBin *b = &e->bins[k];
        b->t += dt_s;
        b->n += 1;
        b->su += dt_s * utilisation;
        b->sp += dt_s * p;
        b->spp += dt_s * p * p;
}

typedef struct BinPoint {
        double u, p, w, se;   /* mean utilisation, mean power, fit weight, standard error of p */
} BinPoint;

typedef struct Fit {
        double intercept, slope, se_intercept;
} Fit;

/* Weighted least squares of p on u; weights w × h. Returns false when the
 * utilisation does not vary. */
static bool wls(const BinPoint *pt, const double *h, size_t n, Fit *ret) {
        double sw = 0, su = 0, sp = 0;
        for (size_t i = 0; i < n; i++) {
                double w = pt[i].w * h[i];
                sw += w;
                su += w * pt[i].u;
                sp += w * pt[i].p;
        }
        if (sw <= 0)
                return false;
        double mu = su / sw, mp = sp / sw, suu = 0, sup = 0;
        for (size_t i = 0; i < n; i++) {
                double w = pt[i].w * h[i], du = pt[i].u - mu;
                suu += w * du * du;
                sup += w * du * (pt[i].p - mp);
        }
        if (suu <= 1e-12)
                return false;
        ret->slope = sup / suu;
        ret->intercept = mp - ret->slope * mu;

        /* Residual variance of a bin, with the two fitted parameters taken
         * off the bins' effective count. */
        double ssr = 0;
        for (size_t i = 0; i < n; i++) {
                double r = pt[i].p - (ret->intercept + ret->slope * pt[i].u);
                ssr += pt[i].w * h[i] * r * r;
        }
        double var = n > 2 ? ssr / sw * (double) n / (double) (n - 2) : 0;
        ret->se_intercept = sqrt(var * (1.0 / sw + mu * mu / suu));
        return true;
}

static double median(double *v, size_t n) {
        /* n ≤ IDLE_BINS: insertion sort. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
                        double t = v[j];
                        v[j] = v[j - 1];
                        v[j - 1] = t;
                }
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Huber-weighted fit over the bins: a bin far off the line (a burst of
 * turbo, another device waking) loses weight instead of bending the line. */
static bool robust_fit(const BinPoint *pt, size_t n, Fit *ret) {
        double h[IDLE_BINS], r[IDLE_BINS];
        for (size_t i = 0; i < n; i++)
                h[i] = 1;
        if (!wls(pt, h, n, ret))
                return false;
        for (int round = 0; round < HUBER_ROUNDS && n > 2; round++) {
                for (size_t i = 0; i < n; i++)
                        r[i] = fabs(pt[i].p - (ret->intercept + ret->slope * pt[i].u));
                double scale = 1.4826 * median(r, n);
                if (scale <= 1e-9)
                        break;
                for (size_t i = 0; i < n; i++) {
                        double a = fabs(pt[i].p - (ret->intercept + ret->slope * pt[i].u));
                        h[i] = a <= HUBER_K * scale ? 1 : HUBER_K * scale / a;
                }
                if (!wls(pt, h, n, ret))
                        return false;
        }
        return true;
}

/* Every bin with at least min_s of data, each a point by itself (no
 * pooling), into pt[IDLE_BINS]; returns how many. */
static size_t thin_points(const IdleEstimator *e, double min_s, BinPoint *pt) {
        size_t n = 0;

        for (size_t i = 0; i < IDLE_BINS; i++) {
                const IdleBin *b = &e->bins[i];
                if (b->t < min_s)
                        continue;
                double p = b->sp / b->t;
                pt[n++] = (BinPoint) {
                        .u = b->su / b->t,
                        .p = p,
                        .w = b->t / (b->t + BIN_SATURATE_S),
                        .se = sqrt(fmax(b->spp / b->t - p * p, 0) / fmax(b->n, 1)),
                };
        }
        return n;
}

/* The slope of power on utilisation from every bin with some data (at
 * least THIN_MIN_S), for the small correction of a near-idle bin while the
 * bins further up are too thin for the fit (the first seconds of a load):
 * 0 when they say nothing. */
#define THIN_MIN_S 0.5
static double thin_slope(const IdleEstimator *e) {
        BinPoint pt[IDLE_BINS];
        double h[IDLE_BINS];
        size_t n = thin_points(e, THIN_MIN_S, pt);
        Fit f;

        for (size_t i = 0; i < n; i++)
                h[i] = 1;
        if (n < 2 || !wls(pt, h, n, &f) || !(f.slope > 0))
                return 0;
        return f.slope;
}

/* While the bins are too thin for the fit (a host busy since start that has
 * just reached a new utilisation level), a line through the bins with at
 * least THIN_FIT_MIN_S each, held to the same limits on extrapolation. Its
 * band adds THIN_FIT_ALLOWANCE of the intercept to the fit's. It is this
 * run's data, not provisional: the band says how sure it is. */
#define THIN_FIT_MIN_S 0.95   /* about a second (less what the decay took) */
#define THIN_FIT_ALLOWANCE 0.05
static IdleEstimate thin_regression(const IdleEstimator *e) {
        BinPoint pt[IDLE_BINS];
        double h[IDLE_BINS], u_lo = 1, u_hi = 0, p_min = INFINITY, se_max = 0;
        size_t n = thin_points(e, THIN_FIT_MIN_S, pt);
        Fit f;

        for (size_t i = 0; i < n; i++) {
                h[i] = 1;
                u_lo = fmin(u_lo, pt[i].u);
                u_hi = fmax(u_hi, pt[i].u);
                p_min = fmin(p_min, pt[i].p);
                se_max = fmax(se_max, pt[i].se);
        }
        if (n < 2 || u_hi - u_lo < MIN_SPAN || u_lo > IDLE_MAX_EXTRAPOLATION ||
            u_lo > MAX_EXTRAPOLATION_RATIO * (u_hi - u_lo) || !wls(pt, h, n, &f) || !(f.slope > 0) ||
            f.intercept < 0)
                return (IdleEstimate) { .method = _IDLE_METHOD_INVALID };
        double w = fmin(f.intercept, p_min);
        return (IdleEstimate) {
                .w = w,
                .band_w = 2 * sqrt(f.se_intercept * f.se_intercept + se_max * se_max) +
                          CURVATURE_ALLOWANCE * f.slope * u_lo + THIN_FIT_ALLOWANCE * w,
                .method = IDLE_METHOD_REGRESSION,
        };
}

static IdleEstimate fixed(double w, double band_w, IdleMethod m, bool provisional) {
        return (IdleEstimate) { .w = w, .band_w = band_w, .method = m, .provisional = provisional };
}

IdleEstimate idle_estimator_get(const IdleEstimator *e) {
        assert(e);
        if (e->configured_w >= 0)
                return fixed(e->configured_w, 0, IDLE_METHOD_CONFIGURED, false);
        if (e->source_w >= 0)
                return fixed(e->source_w, 0, IDLE_METHOD_SOURCE, false);

        BinPoint pt[IDLE_BINS];
        size_t n = 0;
        double p_min = INFINITY, p_max = 0, se_max = 0, u_lo = 1, u_hi = 0;
        /* Every bin with data, however little: whether the prior is
         * contradicted is known from the first intervals on. */
        double p_min_any = INFINITY, p_max_any = 0;
        /* A bin with BIN_MIN_S of data is a point by itself. Adjacent bins
         * with less are pooled, up to POOL_MAX_BINS of them, until the pool
         * holds that much: a host whose utilisation wanders (others' load)
         * spreads a level over a few bins, none of which would fill alone.
         * Pooled sums average points of the same line, so the line is kept. */
        IdleBin pool = {};
        size_t pooled = 0;
        for (size_t i = 0; i < IDLE_BINS; i++) {
                const IdleBin *b = &e->bins[i];
                if (b->t > 0) {
                        p_min_any = fmin(p_min_any, b->sp / b->t);
                        p_max_any = fmax(p_max_any, b->sp / b->t);
                }
                if (b->t < BIN_MIN_S) {
                        if (b->t <= 0 || pooled == POOL_MAX_BINS) {
                                pool = (IdleBin) {};
                                pooled = 0;
                                if (b->t <= 0)
                                        continue;
                        }
                        pool.t += b->t;
                        pool.n += b->n;
                        pool.su += b->su;
                        pool.sp += b->sp;
                        pool.spp += b->spp;
                        pooled++;
                        if (pool.t < BIN_MIN_S)
                                continue;
                        b = &pool;
                }
                double p = b->sp / b->t;
                double var = fmax(b->spp / b->t - p * p, 0);
                pt[n] = (BinPoint) {
                        .u = b->su / b->t,
                        .p = p,
                        .w = b->t / (b->t + BIN_SATURATE_S),
                        .se = sqrt(var / fmax(b->n, 1)),
                };
                p_min = fmin(p_min, p);
                p_max = fmax(p_max, p);
                se_max = fmax(se_max, pt[n].se);
                u_lo = fmin(u_lo, pt[n].u);
                u_hi = fmax(u_hi, pt[n].u);
                n++;
                pool = (IdleBin) {};
                pooled = 0;
        }

        IdleEstimate fit = { .method = _IDLE_METHOD_INVALID };
        Fit f = {};
        bool have_fit = n >= 2 && u_hi - u_lo >= MIN_SPAN && robust_fit(pt, n, &f) && f.slope > 0;
        if (n > 0 && u_lo < NEAR_IDLE_UTIL) {
                /* Idle was seen: the near-idle bin itself, less the little
                 * its utilisation still adds (the fit's slope); the curve's
                 * shape further up does not matter. */
                const BinPoint *lo = &pt[0];
                for (size_t i = 1; i < n; i++)
                        if (pt[i].u < lo->u)
                                lo = &pt[i];
                double slope = have_fit ? f.slope : thin_slope(e);
                fit = fixed(fmax(lo->p - slope * lo->u, 0),
                            2 * lo->se + (CURVATURE_ALLOWANCE + (have_fit ? 0 : 1)) * fmax(slope, lo->p) * lo->u +
                            0.005 * lo->p,
                            IDLE_METHOD_MEASURED_IDLE, false);
        } else if (have_fit && f.intercept >= 0 && u_lo <= IDLE_MAX_EXTRAPOLATION &&
                   u_lo <= MAX_EXTRAPOLATION_RATIO * (u_hi - u_lo)) {
                /* Extrapolated to 0 from the range the data cover. */
                fit = fixed(fmin(f.intercept, p_min),
                            2 * sqrt(f.se_intercept * f.se_intercept + se_max * se_max) +
                            CURVATURE_ALLOWANCE * f.slope * u_lo,
                            IDLE_METHOD_REGRESSION, false);
        }

        /* A prior at or above the lowest power the domain ever drew is
         * contradicted by the data (the maximum it was derived from is a
         * plausibility bound, not the domain's power): cut to the lowest
         * power, it would book all the work of a busy host as idle. Where a
         * fraction is set, that fraction of the highest power seen stands
         * instead. */
        bool prior_contradicted = e->prior_w >= 0 && e->prior_fraction > 0 && p_max_any > 0 &&
                                  e->prior_w >= p_min_any;
        double p_top = n > 0 ? p_max : p_max_any;

        IdleEstimate r;
        if (fit.method != _IDLE_METHOD_INVALID &&
            !(e->persisted_w >= 0 && e->persisted_band_w < fit.band_w))
                r = fit;
        else if (e->persisted_w >= 0)
                r = fixed(e->persisted_w, e->persisted_band_w, IDLE_METHOD_PERSISTED, true);
        else if (e->prior_w >= 0 && !prior_contradicted)
                r = fixed(e->prior_w, e->prior_band_w, IDLE_METHOD_PRIOR, true);
        else if (e->prior_fraction > 0 && p_top > 0)
                r = fixed(e->prior_fraction * p_top, e->prior_band_fraction * e->prior_fraction * p_top,
                          IDLE_METHOD_PRIOR, true);
        else
                r = fixed(0, 0, IDLE_METHOD_NONE, true);
        if (r.method == IDLE_METHOD_PRIOR || r.method == IDLE_METHOD_NONE || r.method == IDLE_METHOD_PERSISTED) {
                /* The thin data's line: this run's data beat a prior (whose
                 * band is a convention, not a measured spread); an earlier
                 * run's fit only where the line is surer, as for the full fit. */
                IdleEstimate thin = thin_regression(e);
                if (thin.method != _IDLE_METHOD_INVALID &&
                    (r.method != IDLE_METHOD_PERSISTED || thin.band_w <= r.band_w))
                        r = thin;
        }

        /* A domain never draws less than its idle power. */
        if (n > 0 && r.w > p_min) {
                r.band_w = fmin(r.band_w, p_min);
                r.w = p_min;
        }
        if (n > 0) {
                r.util_lo = u_lo;
                r.util_hi = u_hi;
        }
        return r;
}
