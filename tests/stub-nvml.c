/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A stand-in for libnvidia-ml.so.1 with scripted values, for the nvml source's
 * unit test (loaded with dlopen() through SourceContext.nvml_library). The
 * test scripts it through stub_nvml_state() (stub-nvml.h), found with dlsym()
 * on the same handle. Signatures as in nvml.h. */

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stub-nvml.h"

static StubState state;

/* Script mode, for a real jouled under test: with $STUB_NVML_SCRIPT set to
 * a file, every call first reads it again:
 *   gpus N              N GPUs, each with an energy counter and per-process
 *                       utilisation
 *   power GPU MW        GPU draws MW milliwatts from now on (its energy counter
 *                       grows with CLOCK_MONOTONIC)
 *   proc GPU PID SM     PID runs at SM % on GPU from when the line first
 *                       appears until it goes away
 * The driver's samples are made as NVML makes them: one per process and
 * sampling period (100 ms), timestamped in CLOCK_REALTIME µs. A file that
 * cannot be read leaves the state as it was. */
#define SCRIPT_PERIOD_US 100000ULL
#define SCRIPT_MAX_PROCS 64

typedef struct ScriptProc {
        unsigned gpu, pid, sm;
        unsigned long long first_us, gone_us; /* gone_us 0: still there */
        int seen;
} ScriptProc;

static ScriptProc script_procs[SCRIPT_MAX_PROCS];
static unsigned n_script_procs;
static unsigned script_power_mw[STUB_MAX_GPUS];
static unsigned long long script_last_ns[STUB_MAX_GPUS];
static unsigned long long script_acc[STUB_MAX_GPUS]; /* mW × ns */

static unsigned long long clock_ns(clockid_t c) {
        struct timespec ts;
        clock_gettime(c, &ts);
        return (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec;
}

/* The energy drawn until now at the powers scripted so far. */
static void script_energy(void) {
        unsigned long long now = clock_ns(CLOCK_MONOTONIC);

        for (unsigned g = 0; g < STUB_MAX_GPUS; g++) {
                if (script_last_ns[g])
                        script_acc[g] += (unsigned long long) script_power_mw[g] * (now - script_last_ns[g]);
                script_last_ns[g] = now;
                state.gpus[g].energy_mj = script_acc[g] / 1000000000ULL; /* mW × ns → mJ */
        }
}

static void script_load(void) {
        const char *path = getenv("STUB_NVML_SCRIPT");
        unsigned long long now_us;
        char line[256];
        FILE *f;

        if (!path || !*path)
                return;
        f = fopen(path, "re");
        if (!f)
                return;
        script_energy();
        now_us = clock_ns(CLOCK_REALTIME) / 1000;
        for (unsigned i = 0; i < n_script_procs; i++)
                script_procs[i].seen = 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned a, b, c;
                if (sscanf(line, "gpus %u", &a) == 1 && a <= STUB_MAX_GPUS) {
                        state.n_gpus = a;
                        for (unsigned g = 0; g < a; g++)
                                state.gpus[g].energy_supported = state.gpus[g].proc_util_supported = 1;
                } else if (sscanf(line, "power %u %u", &a, &b) == 2 && a < STUB_MAX_GPUS)
                        script_power_mw[a] = b;
                else if (sscanf(line, "proc %u %u %u", &a, &b, &c) == 3) {
                        unsigned i;
                        for (i = 0; i < n_script_procs; i++)
                                if (script_procs[i].gpu == a && script_procs[i].pid == b && !script_procs[i].gone_us)
                                        break;
                        if (i == n_script_procs) {
                                if (n_script_procs == SCRIPT_MAX_PROCS)
                                        continue;
                                script_procs[n_script_procs++] = (ScriptProc) { .gpu = a, .pid = b, .first_us = now_us };
                        }
                        script_procs[i].sm = c;
                        script_procs[i].seen = 1;
                }
        }
        fclose(f);
        for (unsigned i = 0; i < n_script_procs; i++)
                if (!script_procs[i].seen && !script_procs[i].gone_us)
                        script_procs[i].gone_us = now_us;
}

/* The scripted samples of GPU g newer than last_seen, into out (up to max;
 * out NULL: counted only). Returns how many there are. */
static unsigned script_samples(unsigned g, unsigned long long last_seen, StubSample *out, unsigned max) {
        unsigned long long now_us = clock_ns(CLOCK_REALTIME) / 1000;
        unsigned n = 0;

        for (unsigned i = 0; i < n_script_procs; i++) {
                const ScriptProc *p = &script_procs[i];
                unsigned long long from = p->first_us > last_seen ? p->first_us : last_seen;
                unsigned long long to = p->gone_us ? p->gone_us : now_us;
                if (p->gpu != g)
                        continue;
                for (unsigned long long t = (from / SCRIPT_PERIOD_US + 1) * SCRIPT_PERIOD_US; t <= to;
                     t += SCRIPT_PERIOD_US) {
                        if (out && n < max)
                                out[n] = (StubSample) { .pid = p->pid, .timeStamp = t, .smUtil = p->sm };
                        n++;
                }
        }
        return n;
}

StubState *stub_nvml_state(void) {
        return &state;
}

typedef struct nvmlDevice_st *nvmlDevice_t;

int nvmlInit_v2(void);
int nvmlInit_v2(void) {
        script_load();
        state.init_calls++;
        if (state.init_error)
                return state.init_error;
        if (state.init_fail_after > 0 && state.init_calls > state.init_fail_after)
                return 999;
        state.initialised++;
        return 0;
}

int nvmlShutdown(void);
int nvmlShutdown(void) {
        state.initialised--;
        return 0;
}

const char *nvmlErrorString(int r);
const char *nvmlErrorString(int r) {
        return r == 3 ? "Not Supported" : r == 4 ? "Insufficient Permissions" : "Unknown Error";
}

int nvmlDeviceGetCount_v2(unsigned int *n);
int nvmlDeviceGetCount_v2(unsigned int *n) {
        script_load();
        *n = state.n_gpus;
        return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d);
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
        if (i >= state.n_gpus)
                return 2; /* invalid argument */
        *d = (nvmlDevice_t) &state.gpus[i];
        return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj);
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
        script_load();
        StubGpu *g = (StubGpu *) d;
        if (!g->energy_supported)
                return 3;
        *mj = g->energy_mj;
        return 0;
}

int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw);
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw) {
        StubGpu *g = (StubGpu *) d;
        if (g->power_error)
                return g->power_error;
        *mw = g->power_mw;
        return 0;
}

int nvmlDeviceGetProcessUtilization(nvmlDevice_t d, StubSample *out, unsigned int *count,
                                    unsigned long long last_seen);
int nvmlDeviceGetProcessUtilization(nvmlDevice_t d, StubSample *out, unsigned int *count,
                                    unsigned long long last_seen) {
        StubGpu *g = (StubGpu *) d;
        unsigned int n = 0;

        script_load();
        state.last_seen_arg = last_seen;
        if (!g->proc_util_supported)
                return 3;
        if (getenv("STUB_NVML_SCRIPT")) {
                n = script_samples((unsigned) (g - state.gpus), last_seen, NULL, 0);
                if (n == 0)
                        return 6; /* NVML_ERROR_NOT_FOUND */
                if (!out || *count < n) {
                        *count = n;
                        return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
                }
                n = script_samples((unsigned) (g - state.gpus), last_seen, out, *count);
                if (n > *count) { /* a period ended since the caller counted */
                        *count = n;
                        return 7;
                }
                *count = n;
                return 0;
        }
        for (unsigned int i = 0; i < g->n_samples; i++)
                if (g->samples[i].timeStamp > last_seen)
                        n++;
        if (n == 0)
                return 6; /* NVML_ERROR_NOT_FOUND */
        if (!out || *count < n) {
                *count = n;
                return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
        }
        n = 0;
        for (unsigned int i = 0; i < g->n_samples; i++)
                if (g->samples[i].timeStamp > last_seen)
                        out[n++] = g->samples[i];
        *count = n;
        return 0;
}
