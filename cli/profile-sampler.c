/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loads bpf/profile.bpf.c, opens one sampling perf event per CPU and reads
 * the per-interval counts. */

#include <assert.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "profile-sampler.h"
#include "profile.skel.h"

struct ProfileSampler {
        struct profile_bpf *skel;
        struct ring_buffer *rb;
        int n_cpus;
        int *pfd;
        struct bpf_link **links;
        bool cycles;
        ProfileEventHandler handler;
        void *userdata;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return 0;
}

static int perf_open(struct perf_event_attr *attr, int cpu) {
        return (int) syscall(__NR_perf_event_open, attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int on_event(void *ctx, void *data, size_t size) {
        ProfileSampler *s = ctx;

        if (size >= sizeof(struct profile_event) && s->handler)
                s->handler(data, s->userdata);
        return 0;
}

ProfileSampler *profile_sampler_free(ProfileSampler *s) {
        if (!s)
                return NULL;
        for (int i = 0; s->links && i < s->n_cpus; i++)
                bpf_link__destroy(s->links[i]);
        for (int i = 0; s->pfd && i < s->n_cpus; i++)
                if (s->pfd[i] >= 0)
                        close(s->pfd[i]);
        free(s->links);
        free(s->pfd);
        ring_buffer__free(s->rb);
        profile_bpf__destroy(s->skel);
        free(s);
        return NULL;
}

static inline void profile_sampler_freep(ProfileSampler **s) {
        profile_sampler_free(*s);
}

ProfileEvent profile_event_from_string(const char *s) {
        static const char *const names[_PROFILE_EVENT_MAX] = {
                [PROFILE_EVENT_AUTO] = "auto",
                [PROFILE_EVENT_CYCLES] = "cycles",
                [PROFILE_EVENT_CPU_CLOCK] = "cpu-clock",
        };
        for (int i = 0; i < _PROFILE_EVENT_MAX; i++)
                if (strcmp(s, names[i]) == 0)
                        return (ProfileEvent) i;
        return _PROFILE_EVENT_INVALID;
}

int profile_sampler_new(const ProfileTarget *t, unsigned frequency_hz, ProfileEvent event, ProfileEventHandler handler,
                        void *userdata, ProfileSampler **ret, char *err, size_t err_size) {
        _cleanup_(profile_sampler_freep) ProfileSampler *s = calloc(1, sizeof(ProfileSampler));
        int r, attached = 0;

        assert(t);
        assert(ret);
        if (!s)
                return -ENOMEM;
        s->handler = handler;
        s->userdata = userdata;
        libbpf_set_print(libbpf_quiet);

        s->skel = profile_bpf__open();
        if (!s->skel) {
                r = -errno;
                snprintf(err, err_size, "cannot open the BPF sampler: %s", strerror(-r));
                return r;
        }
        s->skel->rodata->filter_mode = t->tgid ? PROFILE_FILTER_TGID : PROFILE_FILTER_CGROUP;
        s->skel->rodata->target_tgid = t->tgid;
        s->skel->rodata->target_cgid = t->cgroup_id;
        s->skel->rodata->target_level = t->cgroup_level;
        r = profile_bpf__load(s->skel);
        if (r < 0) {
                snprintf(err, err_size, "cannot load the BPF sampler: %s (needs root, or CAP_BPF and CAP_PERFMON)",
                         strerror(-r));
                return r;
        }
        r = profile_bpf__attach(s->skel);   /* the tracepoints; the perf_event program is attached below */
        if (r < 0) {
                snprintf(err, err_size, "cannot attach the BPF exec/fork tracepoints: %s", strerror(-r));
                return r;
        }
        s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_event, s, NULL);
        if (!s->rb) {
                r = -errno;
                snprintf(err, err_size, "cannot open the BPF ring buffer: %s", strerror(-r));
                return r;
        }

        s->n_cpus = libbpf_num_possible_cpus();
        if (s->n_cpus <= 0) {
                snprintf(err, err_size, "cannot count the CPUs: %s", strerror(-s->n_cpus));
                return s->n_cpus < 0 ? s->n_cpus : -EINVAL;
        }
        s->pfd = calloc((size_t) s->n_cpus, sizeof(int));
        s->links = calloc((size_t) s->n_cpus, sizeof(struct bpf_link *));
        if (!s->pfd || !s->links)
                return -ENOMEM;
        s->cycles = event != PROFILE_EVENT_CPU_CLOCK;
        for (int cpu = 0; cpu < s->n_cpus; cpu++) {
                struct perf_event_attr attr = {
                        .size = sizeof(attr),
                        .type = s->cycles ? PERF_TYPE_HARDWARE : PERF_TYPE_SOFTWARE,
                        .config = s->cycles ? PERF_COUNT_HW_CPU_CYCLES : PERF_COUNT_SW_CPU_CLOCK,
                        .freq = 1,
                        .sample_freq = frequency_hz,
                };
                s->pfd[cpu] = perf_open(&attr, cpu);
                if (s->pfd[cpu] < 0 && s->cycles && event == PROFILE_EVENT_AUTO && attached == 0 &&
                    (errno == ENOENT || errno == EOPNOTSUPP || errno == ENODEV || errno == EINVAL)) {
                        /* No PMU (virtual machines): the software clock. */
                        s->cycles = false;
                        cpu--;
                        continue;
                }
                if (s->pfd[cpu] < 0) {
                        if (errno == ENODEV)   /* offline CPU */
                                continue;
                        r = -errno;
                        snprintf(err, err_size, "cannot open a %s perf event on CPU %d: %s",
                                 s->cycles ? "cycles" : "cpu-clock", cpu, strerror(-r));
                        return r;
                }
                s->links[cpu] = bpf_program__attach_perf_event(s->skel->progs.profile_sample, s->pfd[cpu]);
                if (!s->links[cpu]) {
                        r = -errno;
                        snprintf(err, err_size, "cannot attach the BPF sampler on CPU %d: %s", cpu, strerror(-r));
                        return r;
                }
                attached++;
        }
        if (attached == 0) {
                snprintf(err, err_size, "no CPU to sample");
                return -ENODEV;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

const char *profile_sampler_event(const ProfileSampler *s) {
        return s->cycles ? "cycles" : "cpu-clock";
}

int profile_sampler_poll(ProfileSampler *s, int timeout_ms) {
        int r = ring_buffer__poll(s->rb, timeout_ms);
        return r == -EINTR ? 0 : r;
}

static int drain_map(int fd, ProfileCount **arr, size_t *n, size_t *cap) {
        struct profile_key key, next;
        bool first = true;
        int r;

        /* Read every key, then delete them (nobody writes this map now). */
        for (;;) {
                uint64_t v;
                r = bpf_map_get_next_key(fd, first ? NULL : &key, &next);
                if (r < 0)
                        break;
                first = false;
                key = next;
                if (bpf_map_lookup_elem(fd, &key, &v) < 0)
                        continue;
                if (*n == *cap) {
                        size_t c = *cap ? *cap * 2 : 256;
                        ProfileCount *a = reallocarray(*arr, c, sizeof(ProfileCount));
                        if (!a)
                                return -ENOMEM;
                        *arr = a;
                        *cap = c;
                }
                (*arr)[(*n)++] = (ProfileCount) { .key = key, .count = v };
        }
        for (size_t i = 0; i < *n; i++)
                (void) bpf_map_delete_elem(fd, &(*arr)[i].key);
        return 0;
}

int profile_sampler_drain(ProfileSampler *s, ProfileCount **ret, size_t *ret_n) {
        __u32 old = s->skel->bss->active;
        int fd = bpf_map__fd(old ? s->skel->maps.counts1 : s->skel->maps.counts0);
        ProfileCount *arr = NULL;
        size_t n = 0, cap = 0;
        int r;

        __atomic_store_n(&s->skel->bss->active, old ^ 1, __ATOMIC_SEQ_CST);
        /* A program that read the old index may still be running on another
         * CPU (a few microseconds, in interrupt context): let it finish. */
        usleep(2000);
        r = drain_map(fd, &arr, &n, &cap);
        if (r < 0) {
                free(arr);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

int profile_sampler_stack(ProfileSampler *s, int32_t id, uint64_t ips[PROFILE_STACK_DEPTH], size_t *ret_n) {
        size_t n = 0;

        *ret_n = 0;
        if (id < 0)
                return 0;
        if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.stacks), &id, ips) < 0)
                return -errno;
        while (n < PROFILE_STACK_DEPTH && ips[n])
                n++;
        *ret_n = n;
        return 0;
}

void profile_sampler_stats(const ProfileSampler *s, uint64_t ret[_PROFILE_STAT_MAX]) {
        for (int i = 0; i < _PROFILE_STAT_MAX; i++)
                ret[i] = __atomic_load_n(&s->skel->bss->stats[i], __ATOMIC_RELAXED);
}
