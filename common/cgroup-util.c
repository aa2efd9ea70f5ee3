/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cgroup-util.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

/* Decode mountinfo's octal escapes ("\040") in place. */
static void unescape_octal(char *s) {
        char *w = s;

        for (const char *r = s; *r; w++)
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 4;
                } else
                        *w = *r++;
        *w = 0;
}

/* The mount point of a mountinfo line if its file system is cgroup2, else
 * NULL. Fields: ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE
 * SOURCE SUPER-OPTIONS. Cuts the line up. */
static char *cgroup2_mount_point(char *line) {
        char *save = NULL, *mount_point = NULL;
        size_t n = 0;

        for (char *f = strtok_r(line, " \t\n", &save); f; f = strtok_r(NULL, " \t\n", &save), n++) {
                if (n == 4)
                        mount_point = f;
                else if (n >= 6 && strcmp(f, "-") == 0) {
                        const char *type = strtok_r(NULL, " \t\n", &save);
                        return mount_point && streq_ptr(type, "cgroup2") ? mount_point : NULL;
                }
        }
        return NULL;
}

int cgroup2_mount(const char *mountinfo, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL, *best = NULL;
        size_t size = 0;
        int best_rank = 0;

        assert(ret);

        f = fopen(mountinfo ?: "/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) >= 0) {
                char *mp = cgroup2_mount_point(line);
                int rank;

                if (!mp)
                        continue;
                unescape_octal(mp);
                rank = streq_ptr(mp, "/sys/fs/cgroup") ? 3 : streq_ptr(mp, "/sys/fs/cgroup/unified") ? 2 : 1;
                if (rank <= best_rank)
                        continue;
                free(best);
                best = strdup(mp);
                if (!best)
                        return -ENOMEM;
                best_rank = rank;
        }
        if (!best)
                return -ENOENT;
        *ret = TAKE_PTR(best);
        return 0;
}
