/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What a cgroup v2 path says about the processes in it. Pure: no I/O.
 *
 *   "/system.slice/docker-<64 hex>.scope"
 *      unit "docker-<64 hex>.scope", slice "system.slice", container "<64 hex>"
 *   "/user.slice/user-1000.slice/session-3.scope"
 *      unit "session-3.scope", slice "user-1000.slice"
 *
 * unit is the nearest (deepest) component ending in ".service" or ".scope",
 * slice the nearest ending in ".slice". The container id is found in
 * docker-<id>.scope, libpod-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope (conmon scopes are not containers), cgroupfs-driver paths
 * .../docker/<64 hex> and kubepods .../pod<uid>/<id>. */

typedef struct CgroupInfo {
        char *unit;          /* NULL when none */
        char *slice;
        char *container_id;
} CgroupInfo;

/* Returns 0 (fields that do not apply stay NULL), -EINVAL when path is NULL
 * or not absolute, -ENOMEM. */
int cgroup_path_parse(const char *path, CgroupInfo *ret);
void cgroup_info_done(CgroupInfo *c);
