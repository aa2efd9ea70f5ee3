/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* cgroup v2 helpers for verbs that run a command in a cgroup of its own or
 * watch a running one. None of them logs. */

/* The cgroup v2 mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
 * hybrid host). 0, -ENOENT, -errno. */
int cli_cgroup_mount(char *buf, size_t size);
/* Our own cgroup v2 path, relative to the mount ("/user.slice/..."). */
int cli_cgroup_own(char *buf, size_t size);
/* Where to create a cgroup: the mount's root as root, else our own cgroup
 * when it is delegated to us. 0 with root filled, else -errno with note
 * saying why not. */
int cli_cgroup_pick_root(char *root, size_t root_size, char *note, size_t note_size);
/* cpu.stat usage_usec of the cgroup directory cg. */
int cli_cgroup_usage_usec(const char *cg, uint64_t *ret);
/* Kill what is left in cg (cgroup.kill) and remove it. 0 or -errno. */
int cli_cgroup_remove(const char *cg);
/* Move process pid (0: the caller) into cg. */
int cli_cgroup_enter(const char *cg, int pid);
/* The cgroup id (what bpf_get_current_cgroup_id() returns) of the directory
 * cg under the mount mnt, and its depth below the root (root: 0). */
int cli_cgroup_id(const char *mnt, const char *cg, uint64_t *ret_id, uint32_t *ret_level);
/* The directory of a systemd unit ("nginx.service") under the mount: the
 * first directory of that name found, breadth first, at most 4 levels deep. */
int cli_cgroup_find_unit(const char *mnt, const char *unit, char *buf, size_t size);
