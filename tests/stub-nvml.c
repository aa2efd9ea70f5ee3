/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A stand-in for libnvidia-ml.so.1 with scripted values, for the nvml source's
 * unit test (loaded with dlopen() through SourceContext.nvml_library). The
 * test scripts it through stub_nvml_state() (stub-nvml.h), found with dlsym()
 * on the same handle. Signatures as in nvml.h. */

#include <stddef.h>
#include <string.h>

#include "stub-nvml.h"

static StubState state;

StubState *stub_nvml_state(void) {
        return &state;
}

typedef struct nvmlDevice_st *nvmlDevice_t;

int nvmlInit_v2(void);
int nvmlInit_v2(void) {
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

        state.last_seen_arg = last_seen;
        if (!g->proc_util_supported)
                return 3;
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
