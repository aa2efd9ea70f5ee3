/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <linux/types.h>
#include <stdint.h>

#include "profile.h"

/* The BPF stack sampler of `joulectl profile`: a perf_event program on every
 * CPU, filtered in the kernel on the target, counting samples per (tgid,
 * user stack, kernel stack, CPU). Read once per interval. */

typedef struct ProfileSampler ProfileSampler;

typedef struct ProfileTarget {
        uint64_t cgroup_id;         /* cgroup v2 subtree, or 0 */
        uint32_t cgroup_level;
        uint32_t tgid;              /* one thread group, or 0 */
} ProfileTarget;

typedef struct ProfileCount {
        struct profile_key key;
        uint64_t count;
} ProfileCount;

typedef void (*ProfileEventHandler)(const struct profile_event *e, void *userdata);

typedef enum ProfileEvent {
        PROFILE_EVENT_AUTO,          /* cycles where a PMU exists, else cpu-clock */
        PROFILE_EVENT_CYCLES,
        PROFILE_EVENT_CPU_CLOCK,
        _PROFILE_EVENT_MAX,
        _PROFILE_EVENT_INVALID = -1,
} ProfileEvent;

ProfileEvent profile_event_from_string(const char *s);

/* Load and attach, sampling on event. Returns 0 or -errno, with a one-line
 * reason in err (does not log). */
int profile_sampler_new(const ProfileTarget *t, unsigned frequency_hz, ProfileEvent event, ProfileEventHandler handler,
                        void *userdata, ProfileSampler **ret, char *err, size_t err_size);
ProfileSampler *profile_sampler_free(ProfileSampler *s);
/* "cpu-clock" or "cycles". */
const char *profile_sampler_event(const ProfileSampler *s);
/* Deliver pending exec/fork/first-sample events; waits up to timeout_ms. */
int profile_sampler_poll(ProfileSampler *s, int timeout_ms);
/* The counts since the last drain (the maps are swapped, the old one read
 * and emptied). *ret is allocated. */
int profile_sampler_drain(ProfileSampler *s, ProfileCount **ret, size_t *ret_n);
/* The frames of a stack id (ips, innermost first); *ret_n 0 when unknown. */
int profile_sampler_stack(ProfileSampler *s, int32_t id, uint64_t ips[PROFILE_STACK_DEPTH], size_t *ret_n);
/* The counters of enum profile_stat. */
void profile_sampler_stats(const ProfileSampler *s, uint64_t ret[_PROFILE_STAT_MAX]);
