/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Where the cgroup v2 hierarchy is mounted, read from a mountinfo file
 * (NULL: /proc/self/mountinfo; tests pass fixtures). Of several cgroup2
 * mounts: /sys/fs/cgroup (a pure v2 host), then /sys/fs/cgroup/unified (a
 * hybrid host), else the first listed. Octal escapes in the mount point
 * ("\040" for a space) are decoded. Returns 0 with the path in *ret (to
 * free), -ENOENT when nothing is mounted as cgroup2, -ENOMEM, or the errno of
 * opening the file. Does not log. */
int cgroup2_mount(const char *mountinfo, char **ret);
