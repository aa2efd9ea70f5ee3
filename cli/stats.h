/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Pure statistics for joulectl's benchmark verbs (run, compare): no I/O, no
 * global state. */

#include <stdbool.h>
#include <stddef.h>

/* The level of every test here: a difference is significant when p < 0.05,
 * and intervals are 95%. */
#define STATS_ALPHA 0.05

typedef struct StatsSummary {
        size_t n;
        double mean;
        double stddev;          /* sample standard deviation (n - 1); 0 when n < 2 */
        double min, max;
} StatsSummary;

/* Summary of v[0..n). n == 0 gives all zeros. */
void stats_summary(const double *v, size_t n, StatsSummary *ret);

/* The regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]
 * (continued fraction, Lentz's method). NaN outside the domain. */
double stats_incomplete_beta(double a, double b, double x);

/* Student's t distribution with df > 0 degrees of freedom (df need not be
 * whole): P(T <= t), and the t with P(T <= t) = p for 0 < p < 1. */
double stats_t_cdf(double t, double df);
double stats_t_quantile(double p, double df);

/* Welch's unequal-variances t-test of mean2 - mean1 from summaries
 * (each n >= 2). */
typedef struct StatsWelch {
        double diff;            /* mean2 - mean1 */
        double se;              /* standard error of diff */
        double df;              /* Welch–Satterthwaite degrees of freedom */
        double t;               /* diff / se (±inf or NaN when se == 0) */
        double p_value;         /* two-sided */
} StatsWelch;
/* Returns 0, or -EINVAL when a sample has fewer than 2 values. With
 * se == 0 (both samples constant) p is 1 when the means are equal, else 0. */
int stats_welch(double mean1, double sd1, size_t n1, double mean2, double sd2, size_t n2, StatsWelch *ret);

/* Ratio of sample b to sample a (b / a, e.g. energy of B over energy of A).
 *
 * ratio: mean(b) / mean(a), the ratio of the arithmetic means.
 * ci95 and p_value: Welch's t-test on the natural logarithms of the values,
 * the 95% interval being exp(diff ± t(0.975, df) · se) of the difference of
 * the log means (the ratio of the geometric means). Energies are positive and
 * their noise multiplicative, so logs make the two samples' spreads
 * comparable and the interval asymmetric as a ratio's should be. Where a
 * value is not positive, the test runs on the values themselves and the
 * interval is the delta method's: ratio ± t · ratio · sqrt((se_a/mean_a)² +
 * (se_b/mean_b)²).
 * ratio_sd: the ratio's spread as hyperfine shows it (from the standard
 * deviations: ratio · sqrt((sd_a/mean_a)² + (sd_b/mean_b)²)).
 * significant: p_value < STATS_ALPHA. */
typedef struct StatsRatio {
        double ratio;
        double ratio_sd;
        double ci_low, ci_high;
        double p_value;
        bool significant;
        bool log_scale;         /* whether the test ran on logs */
} StatsRatio;
/* Returns 0, -EINVAL when a sample has fewer than 2 values, -EDOM when the
 * mean of a is not positive (no ratio). */
int stats_ratio(const double *a, size_t na, const double *b, size_t nb, StatsRatio *ret);
