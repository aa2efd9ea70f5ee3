/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Helpers for the cmocka unit tests (cmocka 1.1.5 has no double assertions). */
#include <math.h>
#include <stdio.h>

#define assert_double_equal(a, b, eps)                                                        \
        do {                                                                                  \
                double _a = (a), _b = (b);                                                    \
                if (!(fabs(_a - _b) <= (eps))) {                                              \
                        print_error("%s = %.17g, expected %.17g (±%g)\n", #a, _a, _b, (double) (eps)); \
                        fail();                                                               \
                }                                                                             \
        } while (0)
