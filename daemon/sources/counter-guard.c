/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "counter-guard.h"

#include <assert.h>
#include <errno.h>
#include <math.h>

int energy_delta_check(uint64_t last_uj, uint64_t cur_uj, double dt_s, double max_power_w, double *ret_j) {
        double j;

        assert(ret_j);

        if (cur_uj < last_uj)
                return -ERANGE;
        j = (double) (cur_uj - last_uj) / 1e6;
        if (isfinite(max_power_w) && max_power_w > 0 && isfinite(dt_s) && dt_s > 0 &&
            j > max_power_w * dt_s * ENERGY_GUARD_FACTOR + 1e-3)
                return -E2BIG;
        *ret_j = j;
        return 0;
}
