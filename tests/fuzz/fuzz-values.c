/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the value parsers of outside input:
 * parse_u64()/parse_double() (sysfs, procfs, configuration), read_u64_file()
 * on the input as a file, parse_retention_ns(), and the energy counter
 * guard energy_delta_check() on numbers taken from the input. */

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "counter-guard.h"
#include "timeparse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_read_file(const uint8_t *data, size_t size) {
        char path[64];
        uint64_t v;
        int fd = memfd_create("fuzz-values", MFD_CLOEXEC);

        if (fd < 0)
                return;
        if (write(fd, data, size) == (ssize_t) size) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                (void) read_u64_file(path, &v);
        }
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s;
        uint64_t u, ns, a, b;
        double d, dt, maxw, j;
        int r;

        if (size > 4096)
                return 0;
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        (void) parse_u64(s, &u);
        if (parse_double(s, &d) == 0 && isnan(d) && 0)
                abort();
        r = parse_retention_ns(s, &ns);
        if (r == 0 && ns > UINT64_C(100) * 366 * 24 * 3600 * 1000000000)
                abort();  /* the contract: at most 100 years, else -ERANGE */
        if (r != 0 && r != -EINVAL && r != -ERANGE)
                abort();
        check_read_file(data, size);

        /* Two counters, dt and a maximum power from the raw bytes. */
        if (size >= 32) {
                memcpy(&a, data, 8);
                memcpy(&b, data + 8, 8);
                memcpy(&dt, data + 16, 8);
                memcpy(&maxw, data + 24, 8);
                r = energy_delta_check(a, b, dt, maxw, &j);
                if (r == 0 && (b < a || !(j >= 0)))
                        abort();
                if (r != 0 && r != -ERANGE && r != -E2BIG)
                        abort();
                if (r == 0 && isfinite(maxw) && maxw > 0 && isfinite(dt) && dt > 0 &&
                    j > maxw * dt * ENERGY_GUARD_FACTOR + 1e-3)
                        abort();
        }
        free(s);
        return 0;
}
