/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The /proc/stat and /proc/loadavg readers, against fixture files. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"
#include "util.h"
#include "test-fixture.h"

static uint64_t tick_ns;

static int setup(void **state) {
        tick_ns = NSEC_PER_SEC / (uint64_t) sysconf(_SC_CLK_TCK);
        return fx_setup(state);
}

static void test_stat_sums(void **state) {
        ProcStat st = {};

        (void) state;
        fx_write("stat",
                 "cpu  30 1 2 70 4 5 6 8 3 0\n"
                 "cpu0 10 1 2 30 4 5 6 7 3 0\n"
                 "cpu1 20 0 0 40 0 0 0 1 0 0\n"
                 "intr 12345 1 2 3\nctxt 99\nbtime 1700000000\nprocesses 10\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), 0);
        assert_int_equal(st.n_cpus, 2);
        /* busy = user + nice + system + irq + softirq; guest is inside user already. */
        assert_int_equal(st.busy_ns, (30 + 1 + 2 + 5 + 6) * tick_ns);
        assert_int_equal(st.idle_ns, (70 + 4) * tick_ns);
        assert_int_equal(st.steal_ns, 8 * tick_ns);
        assert_int_equal(st.cpu_ids[0], 0);
        assert_int_equal(st.cpu_ids[1], 1);
        assert_int_equal(st.cpu_busy_ns[0], (10 + 1 + 2 + 5 + 6) * tick_ns);
        assert_int_equal(st.cpu_busy_ns[1], 20 * tick_ns);
        assert_int_equal(st.cpu_idle_ns[0], 34 * tick_ns);
        assert_int_equal(st.cpu_steal_ns[0], 7 * tick_ns);
        proc_stat_done(&st);
        assert_null(st.cpu_busy_ns);
        assert_null(st.cpu_times);
        proc_stat_done(NULL);
}

static void test_stat_columns(void **state) {
        ProcStat st = {};

        (void) state;
        fx_write("stat",
                 "cpu  11 12 13 14 15 16 17 18 19 20\n"
                 "cpu0 1 2 3 4 5 6 7 8 9 10\n"
                 "cpu1 10 10 10 10 10 10 10 10 10 10\n"
                 "intr 1 2 3\nctxt 123456789012\nbtime 1700000000\n"
                 "softirq 5 1 1 1 1 1 0 0 0 0 0\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), 0);
        assert_int_equal(st.total.user_ns, 11 * tick_ns);
        assert_int_equal(st.total.nice_ns, 12 * tick_ns);
        assert_int_equal(st.total.system_ns, 13 * tick_ns);
        assert_int_equal(st.total.idle_ns, 14 * tick_ns);
        assert_int_equal(st.total.iowait_ns, 15 * tick_ns);
        assert_int_equal(st.total.irq_ns, 16 * tick_ns);
        assert_int_equal(st.total.softirq_ns, 17 * tick_ns);
        assert_int_equal(st.total.steal_ns, 18 * tick_ns);
        assert_int_equal(st.cpu_times[0].user_ns, 1 * tick_ns);
        assert_int_equal(st.cpu_times[0].irq_ns, 6 * tick_ns);
        assert_int_equal(st.cpu_times[0].softirq_ns, 7 * tick_ns);
        assert_int_equal(st.cpu_times[0].steal_ns, 8 * tick_ns);
        assert_int_equal(st.cpu_times[1].iowait_ns, 10 * tick_ns);
        assert_true(st.have_ctxt);
        assert_int_equal(st.ctxt, UINT64_C(123456789012));
        proc_stat_done(&st);

        /* No ctxt line: the CPU figures still come. */
        fx_write("stat", "cpu  1 0 0 1\ncpu0 1 0 0 1\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), 0);
        assert_false(st.have_ctxt);
        assert_int_equal(st.total.irq_ns, 0);
        proc_stat_done(&st);
}

static void test_stat_old_and_bad(void **state) {
        ProcStat st = {};

        (void) state;
        /* Old kernels: 4 fields only; CPU numbering with holes (offline CPUs). */
        fx_write("stat", "cpu  5 0 5 10\ncpu0 5 0 5 10\ncpu3 0 0 0 0\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), 0);
        assert_int_equal(st.n_cpus, 2);
        assert_int_equal(st.cpu_ids[1], 3);
        assert_int_equal(st.busy_ns, 10 * tick_ns);
        assert_int_equal(st.cpu_times[1].steal_ns, 0);
        proc_stat_done(&st);

        /* Garbage. */
        fx_write("stat", "cpu  5 0 x 10\ncpu0 5 0 5 10\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), -EBADMSG);
        fx_write("stat", "cpu  5 0 5\ncpu0 5 0 5\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), -EBADMSG);
        fx_write("stat", "cpu  5 0 5 10\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), -EBADMSG);
        fx_write("stat", "%s", "");
        assert_int_equal(procfs_read_stat(fx_dir, &st), -EBADMSG);
        fx_write("stat", "cpu  5 0 5 10\ncpuX 5 0 5 10\n");
        assert_int_equal(procfs_read_stat(fx_dir, &st), -EBADMSG);
        assert_int_equal(procfs_read_stat(fx_path("nope"), &st), -ENOENT);

        /* The real one parses, with its context switch count. */
        assert_int_equal(procfs_read_stat(NULL, &st), 0);
        assert_true(st.n_cpus >= 1);
        assert_true(st.have_ctxt);
        assert_true(st.ctxt > 0);
        proc_stat_done(&st);
}

static void test_tasks(void **state) {
        uint64_t tasks = 0;

        (void) state;
        fx_write("loadavg", "0.00 0.01 0.05 1/234 5678\n");
        assert_int_equal(procfs_read_tasks(fx_dir, &tasks), 0);
        assert_int_equal(tasks, 234);
        fx_write("loadavg", "0.00 0.01 0.05 garbage\n");
        assert_int_equal(procfs_read_tasks(fx_dir, &tasks), -EBADMSG);
        assert_int_equal(procfs_read_tasks(fx_path("nope"), &tasks), -ENOENT);
        assert_int_equal(procfs_read_tasks(NULL, &tasks), 0);
        assert_true(tasks >= 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_stat_sums, setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stat_columns, setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stat_old_and_bad, setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_tasks, setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
