/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The scripted state of the stand-in libnvidia-ml (tests/stub-nvml.c). The
 * nvml source's unit test finds it with dlsym(handle, "stub_nvml_state") on
 * the stub it loaded, and sets what each call returns. */

#define STUB_MAX_GPUS 4
#define STUB_MAX_SAMPLES 8

/* nvmlProcessUtilizationSample_t. */
typedef struct StubSample {
        unsigned int pid;
        unsigned long long timeStamp;
        unsigned int smUtil, memUtil, encUtil, decUtil;
} StubSample;

typedef struct StubGpu {
        int energy_supported;            /* else NVML_ERROR_NOT_SUPPORTED (3) */
        unsigned long long energy_mj;
        unsigned int power_mw;
        int power_error;                 /* returned by GetPowerUsage when != 0 */
        StubSample samples[STUB_MAX_SAMPLES];
        unsigned int n_samples;
        int proc_util_supported;
} StubGpu;

typedef struct StubState {
        int init_error;                  /* returned by nvmlInit_v2 when != 0 */
        unsigned int init_fail_after;    /* when != 0, nvmlInit_v2 calls after this many
                                          * fail (999, unknown error) */
        unsigned int init_calls;
        int initialised;                 /* nvmlInit_v2 calls less nvmlShutdown calls */
        unsigned int n_gpus;
        StubGpu gpus[STUB_MAX_GPUS];
        unsigned long long last_seen_arg; /* last lastSeenTimeStamp passed */
} StubState;

StubState *stub_nvml_state(void);
