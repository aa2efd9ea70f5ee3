/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* Plausibility of one energy counter step, for every source.
 * Sources hand the manager monotonic microjoule counters (wraps already
 * unfolded); a step that goes backwards, or that is more than the domain's
 * maximum power could have used in dt_s (with a margin for timer jitter),
 * is a glitch and must not be stored as energy.
 *
 * Returns 0 and sets *ret_j to the step in joules; -ERANGE when the counter
 * went backwards; -E2BIG when the step exceeds the bound (max_power_w > 0
 * and dt_s > 0 only: otherwise there is no bound). Does not log. */
int energy_delta_check(uint64_t last_uj, uint64_t cur_uj, double dt_s, double max_power_w, double *ret_j);

/* Margin over max_power_w × dt_s before a step counts as implausible. */
#define ENERGY_GUARD_FACTOR 2.0
