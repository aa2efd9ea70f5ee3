/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "stats.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "cleanup.h"

void stats_summary(const double *v, size_t n, StatsSummary *ret) {
        double m = 0, s = 0;

        assert(ret);
        *ret = (StatsSummary) { .n = n };
        if (n == 0)
                return;
        assert(v);
        ret->min = ret->max = v[0];
        for (size_t i = 0; i < n; i++) {
                m += v[i];
                ret->min = fmin(ret->min, v[i]);
                ret->max = fmax(ret->max, v[i]);
        }
        m /= (double) n;
        for (size_t i = 0; i < n; i++)
                s += (v[i] - m) * (v[i] - m);
        ret->mean = m;
        ret->stddev = n > 1 ? sqrt(s / (double) (n - 1)) : 0;
}

#define LENTZ_TINY 1e-300

/* One term aa of a continued fraction (modified Lentz): updates c and d,
 * returns the factor for the running product. */
static double lentz_step(double aa, double *c, double *d) {
        *d = 1 + aa * *d;
        if (fabs(*d) < LENTZ_TINY)
                *d = LENTZ_TINY;
        *c = 1 + aa / *c;
        if (fabs(*c) < LENTZ_TINY)
                *c = LENTZ_TINY;
        *d = 1 / *d;
        return *d * *c;
}

/* The continued fraction of I_x(a, b) (modified Lentz), converging fast for
 * x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x) {
        const double eps = 1e-15;
        double c = 1, d = 1 - (a + b) * x / (a + 1), h;

        if (fabs(d) < LENTZ_TINY)
                d = LENTZ_TINY;
        d = 1 / d;
        h = d;
        for (int m = 1; m <= 10000; m++) {
                double m2 = 2.0 * m, del;

                h *= lentz_step(m * (b - m) * x / ((a - 1 + m2) * (a + m2)), &c, &d);
                del = lentz_step(-(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2)), &c, &d);
                h *= del;
                if (fabs(del - 1) < eps)
                        break;
        }
        return h;
}

double stats_incomplete_beta(double a, double b, double x) {
        double front;

        if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
                return NAN;
        if (x == 0 || x == 1)
                return x;
        front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
        if (x < (a + 1) / (a + b + 2))
                return front * beta_cf(a, b, x) / a;
        return 1 - front * beta_cf(b, a, 1 - x) / b;
}

double stats_t_cdf(double t, double df) {
        double tail;

        if (isnan(t) || !(df > 0))
                return NAN;
        if (isinf(t))
                return t > 0 ? 1 : 0;
        /* P(|T| > |t|) = I_{df / (df + t²)}(df / 2, 1 / 2) */
        tail = stats_incomplete_beta(df / 2, 0.5, df / (df + t * t));
        return t >= 0 ? 1 - tail / 2 : tail / 2;
}

double stats_t_quantile(double p, double df) {
        double lo = 0, hi = 1, q;
        bool upper;

        if (!(p > 0) || !(p < 1) || !(df > 0))
                return NAN;
        if (p == 0.5)
                return 0;
        /* Symmetric: find the upper quantile of max(p, 1 - p) by bisection. */
        upper = p > 0.5;
        q = upper ? p : 1 - p;
        while (stats_t_cdf(hi, df) < q && hi < 1e300)
                hi *= 2;
        for (int i = 0; i < 200 && hi - lo > 1e-14 * fmax(1, hi); i++) {
                double mid = (lo + hi) / 2;
                if (stats_t_cdf(mid, df) < q)
                        lo = mid;
                else
                        hi = mid;
        }
        return upper ? (lo + hi) / 2 : -(lo + hi) / 2;
}

int stats_welch(double mean1, double sd1, size_t n1, double mean2, double sd2, size_t n2, StatsWelch *ret) {
        double v1, v2;

        assert(ret);
        if (n1 < 2 || n2 < 2)
                return -EINVAL;
        v1 = sd1 * sd1 / (double) n1;
        v2 = sd2 * sd2 / (double) n2;
        *ret = (StatsWelch) { .diff = mean2 - mean1, .se = sqrt(v1 + v2) };
        if (ret->se == 0 || !isfinite(ret->se)) {
                ret->df = (double) (n1 + n2 - 2);
                ret->t = ret->diff == 0 ? NAN : copysign(INFINITY, ret->diff);
                ret->p_value = ret->diff == 0 ? 1 : 0;
                return 0;
        }
        ret->df = (v1 + v2) * (v1 + v2) /
                  (v1 * v1 / (double) (n1 - 1) + v2 * v2 / (double) (n2 - 1));
        ret->t = ret->diff / ret->se;
        ret->p_value = 2 * stats_t_cdf(-fabs(ret->t), ret->df);
        ret->p_value = fmin(ret->p_value, 1);
        return 0;
}

int stats_ratio(const double *a, size_t na, const double *b, size_t nb, StatsRatio *ret) {
        StatsSummary sa, sb;
        StatsWelch w;
        bool positive = true;
        double tq;
        int r;

        assert(a);
        assert(b);
        assert(ret);
        if (na < 2 || nb < 2)
                return -EINVAL;
        stats_summary(a, na, &sa);
        stats_summary(b, nb, &sb);
        if (!(sa.mean > 0))
                return -EDOM;
        *ret = (StatsRatio) {
                .ratio = sb.mean / sa.mean,
        };
        ret->ratio_sd = ret->ratio * hypot(sa.stddev / sa.mean, sb.mean != 0 ? sb.stddev / sb.mean : 0);

        for (size_t i = 0; i < na; i++)
                positive = positive && a[i] > 0;
        for (size_t i = 0; i < nb; i++)
                positive = positive && b[i] > 0;

        if (positive) {
                _cleanup_free_ double *la = malloc(na * sizeof(double)), *lb = malloc(nb * sizeof(double));
                StatsSummary sla, slb;

                if (!la || !lb)
                        return -ENOMEM;
                for (size_t i = 0; i < na; i++)
                        la[i] = log(a[i]);
                for (size_t i = 0; i < nb; i++)
                        lb[i] = log(b[i]);
                stats_summary(la, na, &sla);
                stats_summary(lb, nb, &slb);
                r = stats_welch(sla.mean, sla.stddev, na, slb.mean, slb.stddev, nb, &w);
                if (r < 0)
                        return r;
                tq = stats_t_quantile(1 - STATS_ALPHA / 2, w.df);
                ret->ci_low = exp(w.diff - tq * w.se);
                ret->ci_high = exp(w.diff + tq * w.se);
                ret->log_scale = true;
        } else {
                double rel;

                r = stats_welch(sa.mean, sa.stddev, na, sb.mean, sb.stddev, nb, &w);
                if (r < 0)
                        return r;
                tq = stats_t_quantile(1 - STATS_ALPHA / 2, w.df);
                rel = hypot(sa.stddev / sqrt((double) na) / sa.mean,
                            sb.mean != 0 ? sb.stddev / sqrt((double) nb) / sb.mean : 0);
                ret->ci_low = ret->ratio - tq * ret->ratio * rel;
                ret->ci_high = ret->ratio + tq * ret->ratio * rel;
                if (sb.mean == 0) {
                        /* Relative error of b undefined: its absolute error over mean(a). */
                        double h = tq * sb.stddev / sqrt((double) nb) / sa.mean;
                        ret->ci_low = -h;
                        ret->ci_high = h;
                }
        }
        ret->p_value = w.p_value;
        ret->significant = ret->p_value < STATS_ALPHA;
        return 0;
}
