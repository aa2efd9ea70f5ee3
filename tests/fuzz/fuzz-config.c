/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: jouled's configuration file parser, on the
 * input as a file (a memfd, read through /proc/self/fd). Any input either
 * parses or is refused with -EINVAL; nothing crashes or leaks. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        JouledConfig c;
        char path[64];
        int fd, r;

        if (size > 65536)
                return 0;
        log_set_max_level(LOG_CRIT); /* the refusals are logged: keep the run quiet */
        fd = memfd_create("fuzz-config", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        config_init_defaults(&c);
        r = config_parse_file(&c, path);
        if (r != 0 && r != -EINVAL)
                abort();
        config_done(&c);
        close(fd);
        return 0;
}
