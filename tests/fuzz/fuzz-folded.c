/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the folded-stack reader of `joulectl profile --diff`, and
 * what is built from what it reads (rounding, frame tree, functions, the
 * folded writer). */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "profile-render.h"
#include "profile-stacks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Profile p = {};
        size_t line = 0, n = 0;
        ProfileFunction *f = NULL;
        ProfileNode *tree;
        uint64_t *uj, sum = 0;
        double total;
        FILE *null;

        if (profile_parse_folded(&p, (const char *) data, size, &line) < 0) {
                if (line == 0)
                        abort();   /* a refusal names its line */
                profile_done(&p);
                return 0;
        }
        total = profile_total_uj(&p);
        uj = profile_round_uj(&p);
        if (uj) {
                for (size_t i = 0; i < p.n_stacks; i++)
                        sum += uj[i];
                /* Integer weights read back are kept exactly (below 2^53). */
                if (total < 9e15 && (double) sum != total)
                        abort();
                free(uj);
        }
        tree = profile_tree(&p, &p, "all");
        profile_node_free(tree);
        if (profile_functions(&p, &p, 1, &f, &n) == 0)
                profile_functions_free(f, n);
        null = fopen("/dev/null", "we");
        if (null) {
                ProfileMeta meta = { .diff = true };
                (void) profile_write_folded(&p, null);
                (void) profile_write_svg(&p, &p, &meta, null);
                (void) profile_write_json(&p, &p, &meta, null);
                fclose(null);
        }
        profile_done(&p);
        return 0;
}
