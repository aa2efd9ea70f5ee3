/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The perf power PMU source against a sysfs description made here and a
 * stub perf_event_open() that hands out pipes: the test writes the 64-bit
 * counts the kernel would return. */

#include <inttypes.h>
#include <linux/perf_event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "source.h"
#include "util.h"
#include "test-fixture.h"

#define PMU "sys/bus/event_source/devices/power"
#define SCALE_2_32 "2.3283064365386962890625e-10"

typedef struct StubCounter {
        uint32_t type;
        uint64_t config;
        int cpu;
        int wfd;
} StubCounter;

static StubCounter stub[32];
static size_t n_stub;
static int stub_error;

static int stub_open(void *a, int pid, int cpu, int group_fd, unsigned long flags) {
        struct perf_event_attr *attr = a;
        int p[2];

        assert_int_equal(pid, -1);
        assert_int_equal(group_fd, -1);
        assert_true(flags & PERF_FLAG_FD_CLOEXEC);
        assert_int_equal(attr->size, sizeof(struct perf_event_attr));
        if (stub_error)
                return stub_error;
        assert_true(n_stub < ELEMENTSOF(stub));
        assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        stub[n_stub++] = (StubCounter) { .type = attr->type, .config = attr->config, .cpu = cpu, .wfd = p[1] };
        return p[0];
}

static void stub_reset(void) {
        for (size_t i = 0; i < n_stub; i++)
                close(stub[i].wfd);
        n_stub = 0;
        stub_error = 0;
}

/* Queue the count the next read() of the (cpu, config) counter returns. */
static void feed(int cpu, uint64_t config, uint64_t count) {
        for (size_t i = 0; i < n_stub; i++)
                if (stub[i].cpu == cpu && stub[i].config == config) {
                        assert_int_equal(write(stub[i].wfd, &count, sizeof(count)), sizeof(count));
                        return;
                }
        fail_msg("no counter for cpu %d config %" PRIu64, cpu, config);
}

static void make_pmu(void) {
        fx_write(PMU "/type", "23\n");
        fx_write(PMU "/cpumask", "0,2\n");
        fx_write(PMU "/events/energy-pkg", "event=0x02\n");
        fx_write(PMU "/events/energy-pkg.scale", SCALE_2_32 "\n");
        fx_write(PMU "/events/energy-pkg.unit", "Joules\n");
        fx_write(PMU "/events/energy-ram", "event=0x03\n");
        fx_write(PMU "/events/energy-ram.scale", "1.52587890625e-05\n"); /* 2^-16 J */
        fx_write(PMU "/events/energy-ram.unit", "Joules\n");
        fx_write(PMU "/events/energy-psys", "event=0x05\n");
        fx_write(PMU "/events/energy-psys.scale", SCALE_2_32 "\n");
        fx_write(PMU "/events/energy-psys.unit", "Joules\n");
        /* A malformed event is skipped, not fatal. */
        fx_write(PMU "/events/energy-cores", "umask=0x01\n");
        fx_write(PMU "/events/energy-cores.scale", SCALE_2_32 "\n");
}

static ssize_t idx(const EnergySource *s, const char *name) {
        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

static void test_scale(void **state) {
        uint64_t num, den;

        (void) state;
        /* 2^-32 J = 10^6 / 2^32 µJ = 15625 / 2^26. */
        assert_int_equal(perf_scale_parse(SCALE_2_32, &num, &den), 0);
        assert_int_equal(num, 15625);
        assert_int_equal(den, UINT64_C(1) << 26);
        /* 2^-14 J (61 µJ) = 10^6 / 2^14 = 15625 / 2^8. */
        assert_int_equal(perf_scale_parse("6.103515625e-05", &num, &den), 0);
        assert_int_equal(num, 15625);
        assert_int_equal(den, 256);
        assert_int_equal(perf_scale_parse("1e-6", &num, &den), 0);
        assert_int_equal(num, 1);
        assert_int_equal(den, 1);
        assert_int_equal(perf_scale_parse("0.001", &num, &den), 0);
        assert_int_equal(num, 1000);
        assert_int_equal(den, 1);
        assert_int_equal(perf_scale_parse("1.5E-06\n", &num, &den), 0);
        assert_int_equal(num, 3);
        assert_int_equal(den, 2);
        assert_int_equal(perf_scale_parse("", &num, &den), -EINVAL);
        assert_int_equal(perf_scale_parse("abc", &num, &den), -EINVAL);
        assert_int_equal(perf_scale_parse("0", &num, &den), -EINVAL);
        assert_int_equal(perf_scale_parse("1e-", &num, &den), -EINVAL);
        assert_int_equal(perf_scale_parse("2.5e-10x", &num, &den), -EINVAL);
        assert_int_equal(perf_scale_parse("-1e-6", &num, &den), -EINVAL);
        assert_int_equal(perf_scale_parse(NULL, &num, &den), -EINVAL);
}

/* Two packages (CPUs 0,1 in 0; 2,3 in 1): one counter per package, opened on
 * the cpumask CPU; psys once. */
static void test_read(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj[8];
        ssize_t p0, p1, d1, ps;

        (void) state;
        make_pmu();
        ctx.perf_event_open = stub_open;
        ctx.topology = "0:0,1:0,2:1,3:1";

        assert_int_equal(perf_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "package-1"));
        stub_reset();

        assert_int_equal(perf_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(s->n_domains, 5); /* package-0/1, dram-0/1, psys */
        assert_int_equal(n_stub, 5);
        for (size_t i = 0; i < n_stub; i++) {
                assert_int_equal(stub[i].type, 23);
                assert_true(stub[i].cpu == 0 || stub[i].cpu == 2);
                assert_true(stub[i].config == 2 || stub[i].config == 3 || (stub[i].config == 5 && stub[i].cpu == 0));
        }
        assert_true((p0 = idx(s, "package-0")) >= 0);
        assert_true((p1 = idx(s, "package-1")) >= 0);
        assert_true((d1 = idx(s, "dram-1")) >= 0);
        assert_true((ps = idx(s, "psys")) >= 0);
        assert_int_equal(idx(s, "core-0"), -1);
        assert_int_equal(s->domains[p1].package, 1);
        assert_int_equal(s->domains[ps].package, -1);
        assert_true(s->domains[ps].whole_system);

        /* Baseline: huge 64-bit counts. */
        feed(0, 2, UINT64_C(0xFFFFFFFF00000000));
        feed(2, 2, 7);
        feed(0, 3, 100);
        feed(2, 3, 200);
        feed(0, 5, 1);
        assert_int_equal(s->ops->read(s, uj), 0);
        for (size_t i = 0; i < s->n_domains; i++)
                assert_int_equal(uj[i], 0);

        /* package-0: +2^32 counts = exactly 1 J, across the 64-bit top. */
        feed(0, 2, UINT64_C(0xFFFFFFFF00000000) + (UINT64_C(1) << 32));
        /* package-1: +3 × 2^26 counts = 3 × 15625 µJ. */
        feed(2, 2, 7 + 3 * (UINT64_C(1) << 26));
        /* dram-1: +65536 counts of 2^-16 J = 1 J; dram-0: +1 count = 15.26 → 15. */
        feed(0, 3, 101);
        feed(2, 3, 200 + 65536);
        /* psys: +1 count (0.000233 µJ): 0 µJ yet; kept, not lost. */
        feed(0, 5, 2);
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[p0], 1000000);
        assert_int_equal(uj[p1], 46875);
        assert_int_equal(uj[d1], 1000000);
        assert_int_equal(uj[idx(s, "dram-0")], 15);
        assert_int_equal(uj[ps], 0);

        /* Counts accumulate; the conversion is of the total: 2^26 − 1 more
         * counts of psys make exactly 2^26 → 15625 µJ. */
        feed(0, 2, UINT64_C(0xFFFFFFFF00000000) + (UINT64_C(1) << 32));
        feed(2, 2, 7 + 3 * (UINT64_C(1) << 26));
        feed(0, 3, 101);
        feed(2, 3, 200 + 65536);
        feed(0, 5, 2 + (UINT64_C(1) << 26) - 1);
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[ps], 15625);
        assert_int_equal(uj[p0], 1000000);

        /* Nothing to read (EAGAIN): failed, not zero; then back. */
        feed(0, 2, UINT64_C(0xFFFFFFFF00000000) + (UINT64_C(2) << 32));
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[p0], 2000000);
        assert_true(uj[p1] == ENERGY_READ_FAILED);
        source_close(s);
        stub_reset();
}

static void test_missing_and_permission(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];

        (void) state;
        ctx.perf_event_open = stub_open;
        ctx.topology = "0:0,1:0,2:1,3:1";
        assert_int_equal(perf_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "no perf power PMU"));
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_true(perf_source_ops.open(&ctx, reason, sizeof(reason), &s) < 0);
        assert_non_null(strstr(reason, "no perf power PMU"));
        assert_null(s);

        make_pmu();
        stub_error = -EACCES;
        assert_int_equal(perf_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_PERMISSION);
        assert_non_null(strstr(reason, "CAP_PERFMON"));
        stub_error = -ENOENT;
        assert_int_equal(perf_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        stub_reset();

        /* No event at all, or a garbage cpumask. */
        fx_write(PMU "/events/energy-pkg.unit", "Watts\n");
        fx_write(PMU "/events/energy-ram.scale", "nonsense\n");
        fx_write(PMU "/events/energy-psys", "\n");
        assert_int_equal(perf_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "no usable energy-* event"));
        fx_write(PMU "/cpumask", "x\n");
        assert_int_equal(perf_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "cpumask"));
        stub_reset();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scale),
                cmocka_unit_test_setup_teardown(test_read, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_permission, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
