/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl: read jouled's database. Thin: everything is in joulectl-main.c. */

#include "verbs.h"

int main(int argc, char **argv) {
        return joulectl_main(argc, argv, false);
}
