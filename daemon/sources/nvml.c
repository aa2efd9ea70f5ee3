/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NVIDIA GPUs through NVML, loaded at run time with dlopen() (never a build
 * dependency: the few types and functions used are declared here, from the
 * NVML API reference, docs.nvidia.com/deploy/nvml-api/).
 *
 * Library: SourceContext.nvml_library, else $JOULED_NVML_LIBRARY, else
 * "libnvidia-ml.so.1". One domain per GPU, gpu-N (N = NVML index):
 *   nvmlDeviceGetTotalEnergyConsumption (mJ since the driver loaded; Volta
 *     and later) → exact: µJ = mJ × 1000;
 *   else nvmlDeviceGetPowerUsage (mW) integrated over time (trapezoid rule,
 *     exact integer arithmetic) and the domain is marked integrated.
 * GPUs are outside the CPU packages: the source is additive to CPU sources.
 * nvml_source_process_use() gives each process's use of a GPU from
 * nvmlDeviceGetProcessUtilization (SM utilisation per process, summed over
 * the driver's samples since the previous call): the basis the attribution
 * shares the GPU's dynamic energy by (attribution-prepare.h);
 * nvml_source_process_shares() the same normalised to shares. */

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "power-integrator.h"
#include "source.h"
#include "util.h"

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"

/* From nvml.h. */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlProcessUtilizationSample_st {
        unsigned int pid;
        unsigned long long timeStamp; /* CPU timestamp in µs */
        unsigned int smUtil;
        unsigned int memUtil;
        unsigned int encUtil;
        unsigned int decUtil;
} nvmlProcessUtilizationSample_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9

typedef struct NvmlLib {
        void *dl;
        nvmlReturn_t (*init)(void);
        nvmlReturn_t (*shutdown)(void);
        const char *(*error_string)(nvmlReturn_t);
        nvmlReturn_t (*get_count)(unsigned int *);
        nvmlReturn_t (*get_handle)(unsigned int, nvmlDevice_t *);
        nvmlReturn_t (*get_energy)(nvmlDevice_t, unsigned long long *);
        nvmlReturn_t (*get_power)(nvmlDevice_t, unsigned int *);
        nvmlReturn_t (*get_proc_util)(nvmlDevice_t, nvmlProcessUtilizationSample_t *, unsigned int *,
                                      unsigned long long);
        bool initialised;
} NvmlLib;

typedef struct NvmlGpu {
        nvmlDevice_t dev;
        unsigned index;
        bool energy_counter;        /* else power integrated */
        bool have_prev;
        bool failing;
        unsigned long long prev_mj;
        uint64_t total_uj;
        PowerIntegrator integ;
        unsigned long long last_seen_us; /* for process utilisation */
        bool use_failing;            /* per-process utilisation unavailable, logged */
        NvmlProcessUse *held;        /* the last uses with samples, and when (CLOCK_MONOTONIC) */
        size_t n_held;
        uint64_t held_ns;
} NvmlGpu;

typedef struct Nvml {
        NvmlLib lib;
        NvmlGpu *gpus;
        size_t n_gpus;
} Nvml;

static const char *library_path(const SourceContext *ctx) {
        const char *e;
        if (ctx && ctx->nvml_library && *ctx->nvml_library)
                return ctx->nvml_library;
        e = getenv("JOULED_NVML_LIBRARY");
        return e && *e ? e : NVML_DEFAULT_LIBRARY;
}

static const char *nvml_strerror(const NvmlLib *l, nvmlReturn_t r) {
        const char *s;

        assert(l);

        s = l->error_string ? l->error_string(r) : NULL;
        return s ?: "unknown NVML error";
}

static void nvml_lib_done(NvmlLib *l) {
        assert(l);

        if (l->initialised && l->shutdown)
                l->shutdown();
        if (l->dl)
                dlclose(l->dl);
        *l = (NvmlLib) {};
}

/* Returns 0, or -ENOENT (no library), -EOPNOTSUPP (missing symbol, init
 * failed), -EACCES, with reason filled. */
static int nvml_lib_load(const SourceContext *ctx, NvmlLib *l, char *reason, size_t reason_size) {
        const char *path = library_path(ctx);
        nvmlReturn_t nr;

        assert(l);
        assert(reason);

        *l = (NvmlLib) {};
        l->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!l->dl) {
                const char *e = dlerror();
                snprintf(reason, reason_size, "no NVIDIA driver library: cannot load %s (%s)", path, e ?: "?");
                return -ENOENT;
        }
#define SYM(field, name)                                                                                  \
        do {                                                                                              \
                *(void **) &l->field = dlsym(l->dl, name);                                                \
                if (!l->field) {                                                                          \
                        snprintf(reason, reason_size, "%s lacks %s: NVML too old or not NVML", path, name); \
                        nvml_lib_done(l);                                                                 \
                        return -EOPNOTSUPP;                                                               \
                }                                                                                         \
        } while (0)
        SYM(init, "nvmlInit_v2");
        SYM(shutdown, "nvmlShutdown");
        SYM(error_string, "nvmlErrorString");
        SYM(get_count, "nvmlDeviceGetCount_v2");
        SYM(get_handle, "nvmlDeviceGetHandleByIndex_v2");
        SYM(get_power, "nvmlDeviceGetPowerUsage");
#undef SYM
        /* Optional. */
        *(void **) &l->get_energy = dlsym(l->dl, "nvmlDeviceGetTotalEnergyConsumption");
        *(void **) &l->get_proc_util = dlsym(l->dl, "nvmlDeviceGetProcessUtilization");

        nr = l->init();
        if (nr != NVML_SUCCESS) {
                snprintf(reason, reason_size, "nvmlInit failed: %s", nvml_strerror(l, nr));
                nvml_lib_done(l);
                return nr == NVML_ERROR_NO_PERMISSION ? -EACCES :
                       nr == NVML_ERROR_DRIVER_NOT_LOADED ? -ENOENT : -EOPNOTSUPP;
        }
        l->initialised = true;
        return 0;
}

/* Open the library and every GPU. */
static int nvml_scan(const SourceContext *ctx, Nvml *ret, char *reason, size_t reason_size) {
        _cleanup_free_ NvmlGpu *gpus = NULL;
        NvmlLib lib;
        unsigned count = 0;
        size_t n = 0;
        nvmlReturn_t nr;
        int r;

        assert(ret);
        assert(reason);

        r = nvml_lib_load(ctx, &lib, reason, reason_size);
        if (r < 0)
                return r;
        nr = lib.get_count(&count);
        if (nr != NVML_SUCCESS || count == 0) {
                snprintf(reason, reason_size, "NVML finds no GPU%s%s", nr != NVML_SUCCESS ? ": " : "",
                         nr != NVML_SUCCESS ? nvml_strerror(&lib, nr) : "");
                nvml_lib_done(&lib);
                return -ENOENT;
        }
        gpus = calloc(count, sizeof(NvmlGpu));
        if (!gpus) {
                nvml_lib_done(&lib);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < count && i < 64; i++) {
                nvmlDevice_t dev;
                unsigned long long mj;
                unsigned mw;

                if (lib.get_handle(i, &dev) != NVML_SUCCESS)
                        continue;
                gpus[n] = (NvmlGpu) { .dev = dev, .index = i };
                if (lib.get_energy && lib.get_energy(dev, &mj) == NVML_SUCCESS)
                        gpus[n].energy_counter = true;
                else if (lib.get_power(dev, &mw) != NVML_SUCCESS)
                        continue; /* neither: unusable GPU */
                n++;
        }
        if (n == 0) {
                snprintf(reason, reason_size, "NVML: none of %u GPUs reports energy or power", count);
                nvml_lib_done(&lib);
                return -EOPNOTSUPP;
        }
        ret->lib = lib;
        ret->gpus = TAKE_PTR(gpus);
        ret->n_gpus = n;
        return 0;
}

static void nvml_done(Nvml *n) {
        assert(n);

        nvml_lib_done(&n->lib);
        for (size_t i = 0; n->gpus && i < n->n_gpus; i++)
                free(n->gpus[i].held);
        free(n->gpus);
        *n = (Nvml) {};
}

static SourceStatus nvml_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        _cleanup_(nvml_done) Nvml n = {};
        size_t off;
        int r;

        assert(reason);

        r = nvml_scan(ctx, &n, reason, reason_size);
        if (r < 0)
                return source_status_from_scan(r, "NVML", reason, reason_size);
        off = (size_t) snprintf(reason, reason_size, "NVML (%s):", library_path(ctx));
        for (size_t i = 0; i < n.n_gpus && off < reason_size; i++)
                off += (size_t) snprintf(reason + off, reason_size - off, " gpu-%u%s", n.gpus[i].index,
                                         n.gpus[i].energy_counter ? "" : " (integrated from power)");
        return SOURCE_USABLE;
}

static int nvml_collect(Nvml *n, NvmlGpu *g, NvmlProcessUse **ret, size_t *ret_n, bool *ret_sampled);

static void nvml_close(EnergySource *s) {
        Nvml *n;

        if (!s)
                return;
        n = s->userdata;
        if (n) {
                nvml_done(n);
                free(n);
        }
        free(s->domains);
        free(s);
}

static int nvml_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        _cleanup_free_ Nvml *n = NULL;
        EnergySource *s;
        int r;

        assert(reason);
        assert(ret);

        n = calloc(1, sizeof(Nvml));
        if (!n)
                return -ENOMEM;
        r = nvml_scan(ctx, n, reason, reason_size);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(EnergySource));
        if (s)
                s->domains = calloc(n->n_gpus, sizeof(EnergyDomain));
        if (!s || !s->domains) {
                free(s);
                nvml_done(n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n->n_gpus; i++) {
                _cleanup_free_ NvmlProcessUse *old = NULL;
                size_t n_old;
                bool sampled;

                s->domains[i] = (EnergyDomain) { .kind = DOMAIN_GPU, .package = -1,
                                                 .integrated = !n->gpus[i].energy_counter };
                snprintf(s->domains[i].name, sizeof(s->domains[i].name), "gpu-%u", n->gpus[i].index);
                /* The driver keeps recent samples: those from before the
                 * source opened belong to no interval. */
                (void) nvml_collect(n, &n->gpus[i], &old, &n_old, &sampled);
        }
        s->ops = &nvml_source_ops;
        s->n_domains = n->n_gpus;
        s->userdata = TAKE_PTR(n);
        *ret = s;
        return 0;
}

int nvml_source_read_at(EnergySource *s, uint64_t now, uint64_t *ret_uj) {
        Nvml *n;

        if (!s || s->ops != &nvml_source_ops || !ret_uj)
                return -EINVAL;
        n = s->userdata;
        for (size_t i = 0; i < n->n_gpus; i++) {
                NvmlGpu *g = &n->gpus[i];
                nvmlReturn_t nr;

                if (g->energy_counter) {
                        unsigned long long mj;
                        nr = n->lib.get_energy(g->dev, &mj);
                        if (nr == NVML_SUCCESS) {
                                if (g->have_prev && mj >= g->prev_mj)
                                        g->total_uj += (uint64_t) (mj - g->prev_mj) * 1000u;
                                else if (g->have_prev && ++s->n_discarded) /* counted in `joulectl status` */
                                        log_object(LOG_WARNING, "nvml", s->domains[i].name,
                                                   "GPU %s: energy went back from %llu to %llu mJ, interval discarded.",
                                                   s->domains[i].name, g->prev_mj, mj);
                                g->prev_mj = mj;
                                g->have_prev = true;
                                ret_uj[i] = g->total_uj;
                        }
                } else {
                        unsigned mw;
                        nr = n->lib.get_power(g->dev, &mw);
                        if (nr == NVML_SUCCESS)
                                ret_uj[i] = power_integrator_add(&g->integ, (uint64_t) mw * 1000u, now);
                        else
                                power_integrator_gap(&g->integ);
                }
                if (nr != NVML_SUCCESS) {
                        if (!g->failing)
                                log_object(LOG_WARNING, "nvml", s->domains[i].name, "GPU %s: no reading: %s.",
                                           s->domains[i].name, nvml_strerror(&n->lib, nr));
                        g->failing = true;
                        ret_uj[i] = ENERGY_READ_FAILED;
                } else if (g->failing) {
                        log_object(LOG_INFO, "nvml", s->domains[i].name, "GPU %s is readable again.",
                                   s->domains[i].name);
                        g->failing = false;
                }
        }
        return 0;
}

static int nvml_read(EnergySource *s, uint64_t *ret_uj) {
        return nvml_source_read_at(s, now_ns(CLOCK_MONOTONIC), ret_uj);
}

/* Every sample newer than the previous call for GPU g, summed per process:
 * Σ smUtil and the newest timestamp. Samples with smUtil 0 are skipped;
 * *ret_sampled says whether any sample came at all. Returns the number of
 * processes (≥ 0) with *ret allocated (NULL when 0), or negative errno
 * (-EOPNOTSUPP, -EIO, -ENOMEM). Does not log. */
static int nvml_collect(Nvml *n, NvmlGpu *g, NvmlProcessUse **ret, size_t *ret_n, bool *ret_sampled) {
        _cleanup_free_ nvmlProcessUtilizationSample_t *samples = NULL;
        _cleanup_free_ NvmlProcessUse *uses = NULL;
        unsigned count = 0;
        unsigned long long newest;
        size_t n_uses = 0;
        nvmlReturn_t nr;

        assert(n);
        assert(g);
        assert(ret);
        assert(ret_n);
        assert(ret_sampled);

        *ret = NULL;
        *ret_n = 0;
        *ret_sampled = false;
        if (!n->lib.get_proc_util)
                return -EOPNOTSUPP;

        /* First call with no buffer: the count of samples to expect. */
        nr = n->lib.get_proc_util(g->dev, NULL, &count, g->last_seen_us);
        if (nr == NVML_ERROR_NOT_FOUND || (nr == NVML_SUCCESS && count == 0))
                return 0; /* no process ran on it */
        if (nr == NVML_ERROR_NOT_SUPPORTED)
                return -EOPNOTSUPP;
        if (nr != NVML_SUCCESS && nr != NVML_ERROR_INSUFFICIENT_SIZE)
                return -EIO;
        count += 8; /* processes may start between the calls */
        samples = calloc(count, sizeof(*samples));
        if (!samples)
                return -ENOMEM;
        nr = n->lib.get_proc_util(g->dev, samples, &count, g->last_seen_us);
        if (nr == NVML_ERROR_NOT_FOUND)
                return 0;
        if (nr != NVML_SUCCESS)
                return nr == NVML_ERROR_NOT_SUPPORTED ? -EOPNOTSUPP : -EIO;

        uses = calloc(count ?: 1, sizeof(*uses));
        if (!uses)
                return -ENOMEM;
        newest = g->last_seen_us;
        for (unsigned i = 0; i < count; i++) {
                size_t j;
                if (samples[i].timeStamp > newest)
                        newest = samples[i].timeStamp;
                if (samples[i].smUtil == 0)
                        continue;
                for (j = 0; j < n_uses; j++)
                        if (uses[j].pid == samples[i].pid)
                                break;
                if (j == n_uses)
                        uses[n_uses++] = (NvmlProcessUse) { .pid = samples[i].pid };
                uses[j].sm_util += samples[i].smUtil;
                uses[j].n_samples++;
                if (samples[i].timeStamp > uses[j].last_us)
                        uses[j].last_us = samples[i].timeStamp;
        }
        g->last_seen_us = newest;
        *ret_sampled = count > 0;
        if (n_uses == 0)
                return 0;
        *ret = TAKE_PTR(uses);
        *ret_n = n_uses;
        return (int) n_uses;
}

/* The driver samples once per period, between 1/6 s and 1 s depending on
 * the GPU (NVML reference, nvmlDeviceGetUtilizationRates): an interval may
 * end before the next sample. Until this long after the last call that had
 * samples, the uses it returned stand for the GPU's (the sampled
 * utilisation holds until the next sample). */
#define NVML_USE_HOLD_NS (2 * NSEC_PER_SEC)

/* Keep a copy of the n uses as the GPU's held ones (best effort). */
static void nvml_hold(NvmlGpu *g, const NvmlProcessUse *uses, size_t n, uint64_t now) {
        NvmlProcessUse *h;

        assert(g);
        assert(uses);

        h = malloc(n * sizeof(*h));
        if (!h)
                return;
        memcpy(h, uses, n * sizeof(*h));
        free(g->held);
        g->held = h;
        g->n_held = n;
        g->held_ns = now;
}

int nvml_source_process_use(EnergySource *s, unsigned gpu, NvmlProcessUse **ret, size_t *ret_n) {
        return nvml_source_process_use_at(s, gpu, now_ns(CLOCK_MONOTONIC), ret, ret_n);
}

int nvml_source_process_use_at(EnergySource *s, unsigned gpu, uint64_t now, NvmlProcessUse **ret, size_t *ret_n) {
        bool sampled;
        NvmlGpu *g;
        Nvml *n;
        int r;

        if (!s || s->ops != &nvml_source_ops || !ret || !ret_n)
                return -EINVAL;
        *ret = NULL;
        *ret_n = 0;
        n = s->userdata;
        if (gpu >= n->n_gpus)
                return -EINVAL;
        g = &n->gpus[gpu];

        r = nvml_collect(n, g, ret, ret_n, &sampled);
        if (r > 0)
                nvml_hold(g, *ret, *ret_n, now);
        else if (r == 0 && !sampled && g->n_held > 0 && now - g->held_ns < NVML_USE_HOLD_NS) {
                NvmlProcessUse *h = malloc(g->n_held * sizeof(*h));
                if (!h)
                        return -ENOMEM;
                memcpy(h, g->held, g->n_held * sizeof(*h));
                *ret = h;
                *ret_n = g->n_held;
                r = (int) g->n_held;
        } else if (r == 0) {
                free(g->held);
                g->held = NULL;
                g->n_held = 0;
        }
        if (r < 0 && r != -ENOMEM) {
                if (!g->use_failing)
                        log_object(LOG_WARNING, "nvml", s->domains[gpu].name,
                                   "GPU %s: no per-process utilisation (%s), its dynamic energy stays unattributed.",
                                   s->domains[gpu].name, r == -EOPNOTSUPP ? "not supported" : "read failed");
                g->use_failing = true;
        } else if (r >= 0 && g->use_failing) {
                log_object(LOG_INFO, "nvml", s->domains[gpu].name,
                           "GPU %s reports per-process utilisation again.", s->domains[gpu].name);
                g->use_failing = false;
        }
        return r;
}

int nvml_source_process_shares(EnergySource *s, unsigned gpu, NvmlProcessShare **ret, size_t *ret_n) {
        _cleanup_free_ NvmlProcessUse *uses = NULL;
        _cleanup_free_ NvmlProcessShare *shares = NULL;
        size_t n_uses = 0;
        uint64_t sum = 0;
        bool sampled;
        Nvml *n;
        int r;

        if (!s || s->ops != &nvml_source_ops || !ret || !ret_n)
                return -EINVAL;
        *ret = NULL;
        *ret_n = 0;
        n = s->userdata;
        if (gpu >= n->n_gpus)
                return -EINVAL;

        r = nvml_collect(n, &n->gpus[gpu], &uses, &n_uses, &sampled);
        if (r < 0)
                return r;
        for (size_t j = 0; j < n_uses; j++)
                sum += uses[j].sm_util;
        if (sum == 0)
                return 0;
        shares = calloc(n_uses, sizeof(*shares));
        if (!shares)
                return -ENOMEM;
        for (size_t j = 0; j < n_uses; j++)
                shares[j] = (NvmlProcessShare) { .pid = uses[j].pid, .share = (double) uses[j].sm_util / (double) sum };
        *ret = TAKE_PTR(shares);
        *ret_n = n_uses;
        return (int) n_uses;
}

const EnergySourceOps nvml_source_ops = {
        .name = "nvml",
        .estimated = false,
        .probe = nvml_probe,
        .open = nvml_open,
        .read = nvml_read,
        .close = nvml_close,
};
