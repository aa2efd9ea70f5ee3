/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NVML source against a stub libnvidia-ml (tests/stub-nvml.c, built as
 * libstub-nvml.so next to the tests) with scripted values. */

#include <dlfcn.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "source.h"
#include "util.h"
#include "test-fixture.h"
#include "../stub-nvml.h"

#define S NSEC_PER_SEC

static char lib[1024];
static void *dl;
static StubState *st;

static int setup(void **state) {
        const char *b = getenv("JOULED_BUILD_ROOT");
        StubState *(*get)(void);

        (void) state;
        snprintf(lib, sizeof(lib), "%s/tests/libstub-nvml.so", b ?: ".");
        dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                fprintf(stderr, "cannot load the NVML stub %s: %s\n", lib, dlerror());
                return -1;
        }
        *(void **) &get = dlsym(dl, "stub_nvml_state");
        if (!get)
                return -1;
        st = get();
        memset(st, 0, sizeof(*st));
        return fx_setup(state);
}

static int teardown(void **state) {
        dlclose(dl);
        return fx_teardown(state);
}

static SourceContext ctx_stub(void) {
        SourceContext ctx = fx_ctx();
        ctx.nvml_library = lib;
        return ctx;
}

static void test_energy_and_power(void **state) {
        SourceContext ctx = ctx_stub();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj[4];

        (void) state;
        st->n_gpus = 2;
        st->gpus[0] = (StubGpu) { .energy_supported = 1, .energy_mj = 123456789 };
        st->gpus[1] = (StubGpu) { .energy_supported = 0, .power_mw = 75500 }; /* Pascal: power only */

        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "gpu-0 gpu-1 (integrated from power)"));
        assert_int_equal(st->initialised, 0); /* probe shut NVML down again */
        assert_int_equal(nvml_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(st->initialised, 1);
        assert_int_equal(s->n_domains, 2);
        assert_string_equal(s->domains[0].name, "gpu-0");
        assert_string_equal(s->domains[1].name, "gpu-1");
        assert_int_equal(s->domains[0].kind, DOMAIN_GPU);
        assert_false(s->domains[0].integrated);
        assert_true(s->domains[1].integrated);
        assert_false(s->domains[0].whole_system);

        assert_int_equal(nvml_source_read_at(s, 5 * S, uj), 0);
        assert_int_equal(uj[0], 0);
        assert_int_equal(uj[1], 0);
        /* +1234 mJ = 1234000 µJ; 75.5 W × 2 s = 151 J. */
        st->gpus[0].energy_mj += 1234;
        assert_int_equal(nvml_source_read_at(s, 7 * S, uj), 0);
        assert_int_equal(uj[0], 1234000);
        assert_int_equal(uj[1], 151000000);
        /* 75.5 → 24.5 W over 500 ms: 25 J. */
        st->gpus[1].power_mw = 24500;
        assert_int_equal(nvml_source_read_at(s, 7 * S + 500 * NSEC_PER_MSEC, uj), 0);
        assert_int_equal(uj[1], 176000000);
        /* Power reading fails: failed, not zero. */
        st->gpus[1].power_error = 3;
        assert_int_equal(nvml_source_read_at(s, 8 * S, uj), 0);
        assert_true(uj[1] == ENERGY_READ_FAILED);
        assert_int_equal(uj[0], 1234000);
        source_close(s);
        assert_int_equal(st->initialised, 0);
}

static void test_process_shares(void **state) {
        SourceContext ctx = ctx_stub();
        EnergySource *s = NULL;
        NvmlProcessShare *sh = NULL;
        char reason[256];
        size_t n = 0;

        (void) state;
        st->n_gpus = 1;
        st->gpus[0] = (StubGpu) { .energy_supported = 1, .proc_util_supported = 1 };
        assert_int_equal(nvml_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);

        /* No process yet. */
        assert_int_equal(nvml_source_process_shares(s, 0, &sh, &n), 0);
        assert_null(sh);
        assert_int_equal(n, 0);

        /* pid 100: 30 + 10 (two samples), pid 200: 40, pid 300 idle (0). */
        st->gpus[0].samples[0] = (StubSample) { .pid = 100, .timeStamp = 1000, .smUtil = 30 };
        st->gpus[0].samples[1] = (StubSample) { .pid = 200, .timeStamp = 1001, .smUtil = 40 };
        st->gpus[0].samples[2] = (StubSample) { .pid = 100, .timeStamp = 1002, .smUtil = 10 };
        st->gpus[0].samples[3] = (StubSample) { .pid = 300, .timeStamp = 1003, .smUtil = 0 };
        st->gpus[0].n_samples = 4;
        assert_int_equal(nvml_source_process_shares(s, 0, &sh, &n), 2);
        assert_int_equal(n, 2);
        assert_int_equal(sh[0].pid, 100);
        assert_true(sh[0].share == 0.5);
        assert_int_equal(sh[1].pid, 200);
        assert_true(sh[1].share == 0.5);
        free(sh);

        /* The next call asks only for newer samples. */
        st->gpus[0].samples[4] = (StubSample) { .pid = 200, .timeStamp = 2000, .smUtil = 75 };
        st->gpus[0].samples[5] = (StubSample) { .pid = 400, .timeStamp = 2001, .smUtil = 25 };
        st->gpus[0].n_samples = 6;
        assert_int_equal(nvml_source_process_shares(s, 0, &sh, &n), 2);
        assert_int_equal(st->last_seen_arg, 1003);
        assert_int_equal(sh[0].pid, 200);
        assert_true(sh[0].share == 0.75);
        assert_int_equal(sh[1].pid, 400);
        assert_true(sh[1].share == 0.25);
        free(sh);

        /* Bad arguments; unsupported. */
        assert_int_equal(nvml_source_process_shares(s, 1, &sh, &n), -EINVAL);
        assert_int_equal(nvml_source_process_shares(NULL, 0, &sh, &n), -EINVAL);
        st->gpus[0].proc_util_supported = 0;
        assert_int_equal(nvml_source_process_shares(s, 0, &sh, &n), -EOPNOTSUPP);
        source_close(s);
}

static void test_process_use(void **state) {
        SourceContext ctx = ctx_stub();
        EnergySource *s = NULL;
        NvmlProcessUse *u = NULL;
        char reason[256];
        size_t n = 0;

        (void) state;
        st->n_gpus = 2;
        st->gpus[0] = (StubGpu) { .energy_supported = 1, .proc_util_supported = 1 };
        st->gpus[1] = (StubGpu) { .energy_supported = 1, .proc_util_supported = 1 };
        /* Samples the driver kept from before the source opened: skipped. */
        st->gpus[0].samples[0] = (StubSample) { .pid = 100, .timeStamp = 500, .smUtil = 90 };
        st->gpus[0].n_samples = 1;
        assert_int_equal(nvml_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(nvml_source_process_use_at(s, 0, 10 * S, &u, &n), 0);
        assert_null(u);
        assert_int_equal(st->last_seen_arg, 500);

        /* Two processes at 60% and 20% over four periods; 100 leaves after
         * two; 300 idle (0) is left out. */
        st->gpus[0].samples[1] = (StubSample) { .pid = 100, .timeStamp = 1000, .smUtil = 60 };
        st->gpus[0].samples[2] = (StubSample) { .pid = 200, .timeStamp = 1000, .smUtil = 20 };
        st->gpus[0].samples[3] = (StubSample) { .pid = 100, .timeStamp = 1100, .smUtil = 60 };
        st->gpus[0].samples[4] = (StubSample) { .pid = 200, .timeStamp = 1100, .smUtil = 20 };
        st->gpus[0].samples[5] = (StubSample) { .pid = 200, .timeStamp = 1200, .smUtil = 20 };
        st->gpus[0].samples[6] = (StubSample) { .pid = 300, .timeStamp = 1200, .smUtil = 0 };
        st->gpus[0].samples[7] = (StubSample) { .pid = 200, .timeStamp = 1300, .smUtil = 20 };
        st->gpus[0].n_samples = 8;
        assert_int_equal(nvml_source_process_use_at(s, 0, 11 * S, &u, &n), 2);
        assert_int_equal(n, 2);
        assert_int_equal(u[0].pid, 100);
        assert_int_equal(u[0].sm_util, 120);
        assert_int_equal(u[0].n_samples, 2);
        assert_int_equal(u[0].last_us, 1100);
        assert_int_equal(u[1].pid, 200);
        assert_int_equal(u[1].sm_util, 80);
        assert_int_equal(u[1].n_samples, 4);
        assert_int_equal(u[1].last_us, 1300);
        free(u);

        /* Nothing new within 2 s of the last samples: the driver has not
         * sampled again yet, the last uses hold. */
        assert_int_equal(nvml_source_process_use_at(s, 0, 12 * S, &u, &n), 2);
        assert_int_equal(st->last_seen_arg, 1300);
        assert_int_equal(u[0].pid, 100);
        assert_int_equal(u[0].sm_util, 120);
        assert_int_equal(u[1].sm_util, 80);
        free(u);
        /* A new sample, of 0 %: the processes are idle now, nothing holds. */
        st->gpus[0].samples[6].timeStamp = 1400;
        assert_int_equal(nvml_source_process_use_at(s, 0, 12 * S + 500 * NSEC_PER_MSEC, &u, &n), 0);
        assert_null(u);
        assert_int_equal(n, 0);
        assert_int_equal(st->last_seen_arg, 1300);
        assert_int_equal(nvml_source_process_use_at(s, 0, 12 * S + 600 * NSEC_PER_MSEC, &u, &n), 0);
        assert_int_equal(st->last_seen_arg, 1400);
        /* The other GPU is followed apart. */
        assert_int_equal(nvml_source_process_use(s, 1, &u, &n), 0);
        assert_null(u);

        /* A driver that does not report it: -EOPNOTSUPP (logged once), and
         * again when it comes back. */
        st->gpus[1].proc_util_supported = 0;
        assert_int_equal(nvml_source_process_use(s, 1, &u, &n), -EOPNOTSUPP);
        assert_int_equal(nvml_source_process_use(s, 1, &u, &n), -EOPNOTSUPP);
        assert_null(u);
        assert_int_equal(n, 0);
        st->gpus[1].proc_util_supported = 1;
        st->gpus[1].samples[0] = (StubSample) { .pid = 7, .timeStamp = 2000, .smUtil = 5 };
        st->gpus[1].n_samples = 1;
        assert_int_equal(nvml_source_process_use_at(s, 1, 20 * S, &u, &n), 1);
        assert_int_equal(u[0].sm_util, 5);
        free(u);
        /* Held for less than 2 s, then none. */
        assert_int_equal(nvml_source_process_use_at(s, 1, 22 * S - 1, &u, &n), 1);
        assert_int_equal(u[0].pid, 7);
        free(u);
        assert_int_equal(nvml_source_process_use_at(s, 1, 22 * S, &u, &n), 0);
        assert_null(u);
        assert_int_equal(nvml_source_process_use_at(s, 1, 22 * S + 1, &u, &n), 0);

        /* Bad arguments. */
        assert_int_equal(nvml_source_process_use(s, 2, &u, &n), -EINVAL);
        assert_int_equal(nvml_source_process_use(NULL, 0, &u, &n), -EINVAL);
        source_close(s);
}

static void test_missing(void **state) {
        SourceContext ctx = ctx_stub();
        EnergySource *s = NULL;
        char reason[512];

        (void) state;
        /* No GPU. */
        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "no GPU"));
        assert_int_equal(st->initialised, 0);
        /* Init refused. */
        st->n_gpus = 1;
        st->init_error = 4;
        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_PERMISSION);
        assert_non_null(strstr(reason, "Insufficient Permissions"));
        st->init_error = 0;
        /* A GPU with neither energy nor power. */
        st->gpus[0] = (StubGpu) { .power_error = 3 };
        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        /* No library at all (this machine), also through the environment. */
        ctx.nvml_library = "/nonexistent/libnvidia-ml.so.1";
        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "no NVIDIA driver library"));
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_true(nvml_source_ops.open(&ctx, reason, sizeof(reason), &s) < 0);
        assert_non_null(strstr(reason, "no NVIDIA driver library"));
        ctx.nvml_library = NULL;
        assert_int_equal(setenv("JOULED_NVML_LIBRARY", lib, 1), 0);
        st->gpus[0] = (StubGpu) { .energy_supported = 1 };
        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_int_equal(unsetenv("JOULED_NVML_LIBRARY"), 0);
        /* Not NVML at all: a library without its symbols. */
        ctx.nvml_library = "libm.so.6";
        assert_int_equal(nvml_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "nvmlInit_v2"));
}

/* A source that probes usable but then fails to open: tolerated under auto
 * (the model takes over, --probe says why nvml is not used), an error when
 * it was asked for by name. */
static void test_open_fails_after_probe(void **state) {
        SourceContext ctx = ctx_stub();
        SourceProbe probes[16] = {};
        EnergySource **list = NULL;
        size_t n = 0, k = 0;

        (void) state;
        fx_write("proc/stat", "cpu  100 0 100 1000 0 0 0 0 0 0\ncpu0 100 0 100 1000 0 0 0 0 0 0\n");
        st->n_gpus = 1;
        st->gpus[0] = (StubGpu) { .energy_supported = 1 };
        st->init_fail_after = 1; /* the probe's nvmlInit_v2 works, open's fails */

        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        while (probes[k].name && strcmp(probes[k].name, "nvml") != 0)
                k++;
        assert_string_equal(probes[k].name, "nvml");
        assert_int_equal(probes[k].status, SOURCE_USABLE);
        assert_non_null(strstr(probes[k].reason, "(not used: cannot open: nvmlInit failed: Unknown Error)"));
        assert_int_equal(n, 1);
        assert_ptr_equal(list[0]->ops, &model_source_ops);
        list = source_close_all(list);
        assert_int_equal(st->initialised, 0);

        st->init_calls = 0;
        assert_int_equal(source_select(&ctx, "nvml", probes, ELEMENTSOF(probes), &list, &n), -EOPNOTSUPP);
        assert_null(list);
        assert_int_equal(st->initialised, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_energy_and_power, setup, teardown),
                cmocka_unit_test_setup_teardown(test_process_shares, setup, teardown),
                cmocka_unit_test_setup_teardown(test_process_use, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_fails_after_probe, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
