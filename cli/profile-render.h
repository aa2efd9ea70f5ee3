/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "profile-stacks.h"
#include "profile.h"

/* What a rendered profile says about itself. */
typedef struct ProfileMeta {
        char title[256];
        char subtitle[512];
        bool diff;                   /* a before/after comparison */
        bool estimated;
        uint64_t samples;
        unsigned frequency;
        char event[16];
        char sources[256];
        double idle_host_uj, idle_share_uj;
        double cpu_seconds, wall_seconds;
        uint64_t stats[_PROFILE_STAT_MAX];
        uint64_t truncated;
} ProfileMeta;

/* One self-contained interactive SVG flame graph (no external reference):
 * click a frame to zoom, "Search" to highlight frames by regular expression
 * with their share, tooltips with joules, share and samples. With before
 * (a diff), frames are coloured by the change of their energy: red more,
 * blue less. URL fragments #search=RE and #zoom=NAME apply on load.
 * Returns 0 or -EIO. */
int profile_write_svg(const Profile *p, const Profile *before, const ProfileMeta *meta, FILE *f);
/* JSON: totals, functions by total energy (with before: their change) and
 * the frame tree. Returns 0 or -EIO/-ENOMEM. */
int profile_write_json(const Profile *p, const Profile *before, const ProfileMeta *meta, FILE *f);
