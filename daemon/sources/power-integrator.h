/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Energy from power readings, for sources that only have a power figure
 * (hwmon powerN_input, battery power_now, NVML power usage): the trapezoid
 * rule between consecutive readings, in exact integer arithmetic:
 * (P_prev + P_cur) [µW] × Δt [ns] = 2 × fJ; whole µJ are moved to total_uj
 * and the remainder is carried, so nothing drifts. */

#include <stdbool.h>
#include <stdint.h>

#define POWER_HALF_FJ_PER_UJ ((unsigned __int128) 2000000000u)

typedef struct PowerIntegrator {
        bool have_prev;
        uint64_t prev_uw;
        uint64_t prev_ns;
        uint64_t total_uj;
        uint64_t rem;               /* in units of 0.5 fJ, < 2e9 */
} PowerIntegrator;

/* Add a reading of uw micro-watts at now_ns; returns the cumulative µJ. The
 * first reading only sets the baseline. */
static inline uint64_t power_integrator_add(PowerIntegrator *p, uint64_t uw, uint64_t now_ns) {
        if (p->have_prev && now_ns > p->prev_ns) {
                unsigned __int128 h = ((unsigned __int128) p->prev_uw + uw) * (now_ns - p->prev_ns) + p->rem;
                p->total_uj += (uint64_t) (h / POWER_HALF_FJ_PER_UJ);
                p->rem = (uint64_t) (h % POWER_HALF_FJ_PER_UJ);
        }
        if (!p->have_prev || now_ns >= p->prev_ns) {
                p->prev_uw = uw;
                p->prev_ns = now_ns;
        }
        p->have_prev = true;
        return p->total_uj;
}

/* A reading failed: forget the previous reading, so the gap is not
 * integrated with a stale figure. */
static inline void power_integrator_gap(PowerIntegrator *p) {
        p->have_prev = false;
}
