/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "attribution.h"
#include "test-helpers.h"

#define EPS 1e-9

static void assert_conserved(const AttributionDomainOut *o) {
        assert_true(o->valid);
        assert_true(fabs(o->measured_j - (o->attributed_j + o->idle_j + o->unattributed_j)) <= EPS);
}

static void test_shares_by_cpu_time(void **state) {
        AttributionDomainIn in[1] = { { .measured_j = 10.0, .idle_w = 2.0 } };
        AttributionDomainOut out[1];
        uint64_t cpu[3] = { 100000000, 300000000, 600000000 };
        double e[3];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 3, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].idle_j, 2.0, EPS);
        assert_double_equal(out[0].attributed_j, 8.0, EPS);
        assert_double_equal(out[0].unattributed_j, 0.0, EPS);
        assert_double_equal(e[0], 0.8, EPS);
        assert_double_equal(e[1], 2.4, EPS);
        assert_double_equal(e[2], 4.8, EPS);
}

static void test_no_cpu_time(void **state) {
        /* Nobody ran: the dynamic part cannot be attributed, nothing is lost. */
        AttributionDomainIn in[1] = { { .measured_j = 5.0, .idle_w = 3.0 } };
        AttributionDomainOut out[1];
        uint64_t cpu[2] = { 0, 0 };
        double e[2];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].attributed_j, 0.0, 0);
        assert_double_equal(out[0].idle_j, 3.0, EPS);
        assert_double_equal(out[0].unattributed_j, 2.0, EPS);
        assert_double_equal(e[0], 0.0, 0);

        /* And with no process at all. */
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, NULL, 0, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].unattributed_j, 2.0, EPS);
}

static void test_idle_capped_at_measured(void **state) {
        AttributionDomainIn in[1] = { { .measured_j = 1.0, .idle_w = 4.0 } };
        AttributionDomainOut out[1];
        uint64_t cpu[1] = { 500000000 };
        double e[1];

        assert_int_equal(attribution_compute(0.5, IDLE_POLICY_SEPARATE, in, 1, cpu, 1, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].idle_j, 1.0, EPS);
        assert_double_equal(e[0], 0.0, EPS);
}

static void test_unowned_busy_time_unattributed(void **state) {
        /* 1 s of busy CPU, of which processes own 0.6 s: 40% of the dynamic
         * energy belongs to irq/softirq time and stays unattributed. */
        AttributionDomainIn in[1] = { { .measured_j = 12.0, .idle_w = 2.0, .busy_ns = 1000000000 } };
        AttributionDomainOut out[1];
        uint64_t cpu[2] = { 200000000, 400000000 };
        double e[2];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].attributed_j, 6.0, EPS);
        assert_double_equal(out[0].unattributed_j, 4.0, EPS);
        assert_double_equal(e[0], 2.0, EPS);
        assert_double_equal(e[1], 4.0, EPS);
        assert_double_equal(out[0].irq_j, 0, EPS);   /* irq time unknown */

        /* 0.25 s of it was irq + softirq: 2.5 J of the 4 J unattributed. */
        in[0].irq_ns = 250000000;
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].irq_j, 2.5, EPS);
        assert_double_equal(out[0].unattributed_j, 4.0, EPS);
        /* Never more than what is unattributed. */
        in[0].irq_ns = 900000000;
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 2, out, e), 0);
        assert_double_equal(out[0].irq_j, 4.0, EPS);
        in[0].irq_ns = 0;

        /* busy below the processes' own total (tick granularity): ignored. */
        in[0].busy_ns = 100;
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 2, out, e), 0);
        assert_double_equal(out[0].attributed_j, 10.0, EPS);
}

static void test_shared_idle_policy(void **state) {
        AttributionDomainIn in[1] = { { .measured_j = 10.0, .idle_w = 4.0 } };
        AttributionDomainOut out[1];
        uint64_t cpu[2] = { 1, 3 };
        double e[2];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SHARED, in, 1, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].idle_j, 0.0, 0);
        assert_double_equal(e[0], 2.5, EPS);
        assert_double_equal(e[1], 7.5, EPS);

        /* Nobody ran: idle stays idle even under the shared policy. */
        cpu[0] = cpu[1] = 0;
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SHARED, in, 1, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].idle_j, 4.0, EPS);
}

static void test_several_domains_and_invalid(void **state) {
        AttributionDomainIn in[3] = {
                { .measured_j = 20.0, .idle_w = 5.0 },
                { .measured_j = NAN, .idle_w = 1.0 },   /* no reading this interval */
                { .measured_j = 3.0, .idle_w = 0.0 },
        };
        AttributionDomainOut out[3];
        uint64_t cpu[2] = { 250, 750 };
        double e[6];

        assert_int_equal(attribution_compute(2.0, IDLE_POLICY_SEPARATE, in, 3, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_false(out[1].valid);
        assert_conserved(&out[2]);
        assert_double_equal(out[0].idle_j, 10.0, EPS);
        assert_double_equal(e[0 * 3 + 0], 2.5, EPS);
        assert_double_equal(e[1 * 3 + 0], 7.5, EPS);
        assert_double_equal(e[0 * 3 + 1], 0.0, 0);
        assert_double_equal(e[1 * 3 + 2], 2.25, EPS);
}

static void test_conservation_many_processes(void **state) {
        /* Awkward numbers, many processes: the parts still add up exactly. */
        enum { N = 997 };
        AttributionDomainIn in[1] = { { .measured_j = 123.456789, .idle_w = 7.77, .busy_ns = 0 } };
        AttributionDomainOut out[1];
        static uint64_t cpu[N];
        static double e[N];
        double sum = 0;

        for (size_t i = 0; i < N; i++)
                cpu[i] = (i * 7919u) % 104729u + 1;
        assert_int_equal(attribution_compute(3.3, IDLE_POLICY_SEPARATE, in, 1, cpu, N, out, e), 0);
        assert_conserved(&out[0]);
        for (size_t i = 0; i < N; i++) {
                assert_true(e[i] > 0);
                sum += e[i];
        }
        assert_double_equal(sum, out[0].attributed_j, EPS);
        assert_true(fabs(out[0].unattributed_j) < 1e-9);
}

static void test_bad_input(void **state) {
        AttributionDomainIn in[1] = { { .measured_j = 1.0 } };
        AttributionDomainOut out[1];
        double e[1];
        uint64_t cpu[1] = { 1 };

        assert_int_equal(attribution_compute(0, IDLE_POLICY_SEPARATE, in, 1, cpu, 1, out, e), -EINVAL);
        assert_int_equal(attribution_compute(-1, IDLE_POLICY_SEPARATE, in, 1, cpu, 1, out, e), -EINVAL);
        assert_int_equal(attribution_compute(NAN, IDLE_POLICY_SEPARATE, in, 1, cpu, 1, out, e), -EINVAL);
        /* Negative idle power is treated as none. */
        in[0].idle_w = -3;
        assert_int_equal(attribution_compute(1, IDLE_POLICY_SEPARATE, in, 1, cpu, 1, out, e), 0);
        assert_double_equal(out[0].idle_j, 0, 0);
        assert_double_equal(e[0], 1.0, EPS);
}

/* Two packages: each package's energy goes to the processes that ran there,
 * by their CPU time on that package; psys (no package) by total CPU time. */
static void test_per_package_basis(void **state) {
        /* proc 0 ran only on package 0, proc 1 only on package 1, proc 2 on both. */
        uint64_t cpu[3] = { 400000000, 200000000, 400000000 };
        double pkg0[3] = { 400000000, 0, 100000000 };
        double pkg1[3] = { 0, 200000000, 300000000 };
        AttributionDomainIn in[3] = {
                { .measured_j = 12.0, .idle_w = 2.0, .weights = pkg0, .weight_total = 500000000 },
                { .measured_j = 7.0, .idle_w = 2.0, .weights = pkg1, .weight_total = 600000000 }, /* 0.1 s irq */
                { .measured_j = 30.0, .idle_w = 0.0, .busy_ns = 1000000000 },
        };
        AttributionDomainOut out[3];
        double e[9];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 3, cpu, 3, out, e), 0);
        for (int d = 0; d < 3; d++)
                assert_conserved(&out[d]);
        /* package-0: 10 J dynamic, 4/5 to proc 0, 1/5 to proc 2, none to proc 1. */
        assert_double_equal(e[0 * 3 + 0], 8.0, EPS);
        assert_double_equal(e[1 * 3 + 0], 0.0, EPS);
        assert_double_equal(e[2 * 3 + 0], 2.0, EPS);
        /* package-1: 5 J dynamic over 0.6 s, 0.1 s nobody's: 1/6 unattributed. */
        assert_double_equal(e[0 * 3 + 1], 0.0, EPS);
        assert_double_equal(e[1 * 3 + 1], 5.0 * 2 / 6, EPS);
        assert_double_equal(e[2 * 3 + 1], 5.0 * 3 / 6, EPS);
        assert_double_equal(out[1].unattributed_j, 5.0 / 6, EPS);
        /* psys: by total CPU time. */
        assert_double_equal(e[0 * 3 + 2], 12.0, EPS);
        assert_double_equal(e[1 * 3 + 2], 6.0, EPS);
        assert_double_equal(e[2 * 3 + 2], 12.0, EPS);
}

/* Cycles as the basis: a process at a higher frequency gets more per CPU-second. */
static void test_cycles_basis(void **state) {
        uint64_t cpu[2] = { 500000000, 500000000 };          /* the same CPU time... */
        double cycles[2] = { 1.5e9, 0.5e9 };                  /* ...at 3 GHz and at 1 GHz */
        AttributionDomainIn in[1] = { { .measured_j = 9.0, .idle_w = 1.0, .weights = cycles } };
        AttributionDomainOut out[1];
        double e[2];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 2, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(e[0], 6.0, EPS);
        assert_double_equal(e[1], 2.0, EPS);
        assert_double_equal(out[0].unattributed_j, 0.0, EPS);
        assert_string_equal(attribution_basis_to_string(ATTRIBUTION_BASIS_CYCLES), "cycles");
        assert_string_equal(attribution_basis_to_string(ATTRIBUTION_BASIS_CPU_TIME), "cpu-time");
        assert_null(attribution_basis_to_string(_ATTRIBUTION_BASIS_MAX));
}

/* DRAM by resident memory: a process with memory but little CPU gets its share;
 * bad weights count as zero; shared idle policy follows the weights too. */
static void test_memory_basis(void **state) {
        uint64_t cpu[3] = { 900000000, 100000000, 0 };
        double rss[3] = { 1e8, 3e8, NAN };
        AttributionDomainIn in[1] = { { .measured_j = 5.0, .idle_w = 1.0, .weights = rss } };
        AttributionDomainOut out[1];
        double e[3];

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 3, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(e[0], 1.0, EPS);
        assert_double_equal(e[1], 3.0, EPS);
        assert_double_equal(e[2], 0.0, EPS);

        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SHARED, in, 1, cpu, 3, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].idle_j, 0.0, EPS);
        assert_double_equal(e[0], 1.25, EPS);
        assert_double_equal(e[1], 3.75, EPS);

        /* Nobody's weight: everything dynamic stays unattributed. */
        double none[3] = { 0, -1, 0 };
        in[0].weights = none;
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, in, 1, cpu, 3, out, e), 0);
        assert_conserved(&out[0]);
        assert_double_equal(out[0].attributed_j, 0.0, EPS);
        assert_double_equal(out[0].unattributed_j, 4.0, EPS);
}

static void test_policy_strings(void **state) {
        assert_int_equal(idle_policy_from_string("separate"), IDLE_POLICY_SEPARATE);
        assert_int_equal(idle_policy_from_string("shared"), IDLE_POLICY_SHARED);
        assert_int_equal(idle_policy_from_string("bogus"), _IDLE_POLICY_INVALID);
        assert_int_equal(idle_policy_from_string(NULL), _IDLE_POLICY_INVALID);
        assert_string_equal(idle_policy_to_string(IDLE_POLICY_SHARED), "shared");
}

static void test_idle_shares(void **state) {
        AttributionDomainOut out[3] = {
                { .valid = true, .measured_j = 10, .idle_j = 6, .attributed_j = 4 },
                { .valid = true, .measured_j = 2, .idle_j = 2 },
                { .valid = false },
        };
        uint64_t cpu[3] = { 300, 100, 0 };
        double shares[9];

        attribution_idle_shares(out, 3, cpu, 3, shares);
        /* By CPU time: 3/4 and 1/4 of each domain's idle energy; a process
         * that did not run gets none; a domain with no reading gives none. */
        assert_double_equal(shares[0 * 3 + 0], 4.5, 1e-12);
        assert_double_equal(shares[1 * 3 + 0], 1.5, 1e-12);
        assert_double_equal(shares[2 * 3 + 0], 0, 0);
        assert_double_equal(shares[0 * 3 + 1], 1.5, 1e-12);
        assert_double_equal(shares[1 * 3 + 1], 0.5, 1e-12);
        for (size_t p = 0; p < 3; p++)
                assert_double_equal(shares[p * 3 + 2], 0, 0);
        /* Conservation: the shares add up to the idle energy. */
        assert_double_equal(shares[0] + shares[3] + shares[6], out[0].idle_j, 1e-12);

        /* Nobody ran: the idle energy is nobody's. */
        uint64_t none[2] = { 0, 0 };
        attribution_idle_shares(out, 3, none, 2, shares);
        for (size_t i = 0; i < 6; i++)
                assert_double_equal(shares[i], 0, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_idle_shares),
                cmocka_unit_test(test_shares_by_cpu_time),
                cmocka_unit_test(test_no_cpu_time),
                cmocka_unit_test(test_idle_capped_at_measured),
                cmocka_unit_test(test_unowned_busy_time_unattributed),
                cmocka_unit_test(test_shared_idle_policy),
                cmocka_unit_test(test_several_domains_and_invalid),
                cmocka_unit_test(test_conservation_many_processes),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_policy_strings),
                cmocka_unit_test(test_per_package_basis),
                cmocka_unit_test(test_cycles_basis),
                cmocka_unit_test(test_memory_basis),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
