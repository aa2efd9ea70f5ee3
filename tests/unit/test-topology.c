/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU → package topology from a sysfs tree made here, the override, CPU lists
 * and /proc/cpuinfo fields. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cleanup.h"
#include "source.h"
#include "topology.h"
#include "util.h"
#include "test-fixture.h"

static void topo(int cpu, int pkg, int core) {
        char rel[128];
        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        fx_write(rel, "%d\n", pkg);
        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        fx_write(rel, "%d\n", core);
}

static void test_sysfs(void **state) {
        _cleanup_(topology_done) Topology t = {};

        (void) state;
        assert_int_equal(unsetenv("JOULED_TOPOLOGY"), 0);
        assert_int_equal(topology_read(fx_path("sys"), &t), -ENOENT);
        /* Two sockets, CPUs interleaved as on many servers; cpu7 offline. */
        topo(0, 0, 0), topo(1, 1, 0), topo(2, 0, 1), topo(3, 1, 1), topo(10, 1, 2);
        fx_write("sys/devices/system/cpu/cpu7/online", "0\n");
        fx_write("sys/devices/system/cpu/cpufreq/policy0", "x\n");
        assert_int_equal(topology_read(fx_path("sys"), &t), 0);
        assert_int_equal(t.n_cpus, 5);
        assert_int_equal(t.n_packages, 2);
        assert_int_equal(t.packages[0], 0);
        assert_int_equal(t.packages[1], 1);
        assert_int_equal(t.cpus[0].cpu, 0);
        assert_int_equal(t.cpus[4].cpu, 10);
        assert_int_equal(t.cpus[4].core, 2);
        assert_int_equal(topology_cpu_package(&t, 3), 1);
        assert_int_equal(topology_cpu_package(&t, 2), 0);
        assert_int_equal(topology_cpu_package(&t, 7), -1);
        assert_int_equal(topology_package_first_cpu(&t, 1), 1);
        assert_int_equal(topology_package_first_cpu(&t, 0), 0);
        assert_int_equal(topology_package_first_cpu(&t, 5), -1);
}

static void test_override(void **state) {
        _cleanup_(topology_done) Topology t = {}, e = {};

        (void) state;
        topo(0, 0, 0);
        assert_int_equal(topology_read_full(fx_path("sys"), "0:0,1:1, 2:0 ,3:1", &t), 0);
        assert_int_equal(t.n_cpus, 4);
        assert_int_equal(t.n_packages, 2);
        assert_int_equal(topology_cpu_package(&t, 3), 1);
        assert_int_equal(t.cpus[0].core, -1);
        /* The environment, when no argument. */
        assert_int_equal(setenv("JOULED_TOPOLOGY", "0:3", 1), 0);
        assert_int_equal(topology_read(fx_path("sys"), &e), 0);
        assert_int_equal(e.n_packages, 1);
        assert_int_equal(e.packages[0], 3);
        assert_int_equal(unsetenv("JOULED_TOPOLOGY"), 0);
        /* Malformed. */
        topology_done(&t);
        assert_int_equal(topology_read_full(NULL, "0:0,", &t), -EINVAL);
        assert_int_equal(topology_read_full(NULL, "0", &t), -EINVAL);
        assert_int_equal(topology_read_full(NULL, "a:1", &t), -EINVAL);
        assert_int_equal(topology_read_full(NULL, "0:0,0:1", &t), -EINVAL);
        assert_int_equal(topology_read_full(NULL, "0:-1", &t), -EINVAL);
        assert_null(t.cpus);
}

static void test_cpu_list(void **state) {
        _cleanup_free_ int *v = NULL;
        size_t n = 0;

        (void) state;
        assert_int_equal(cpu_list_parse("0-3,8,10-11\n", &v, &n), 0);
        assert_int_equal(n, 7);
        assert_int_equal(v[3], 3);
        assert_int_equal(v[4], 8);
        assert_int_equal(v[6], 11);
        free(v);
        v = NULL;
        assert_int_equal(cpu_list_parse("18,0", &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0], 0);
        assert_int_equal(v[1], 18);
        assert_int_equal(cpu_list_parse("", &v, &n), -EINVAL);
        assert_int_equal(cpu_list_parse("3-1", &v, &n), -EINVAL);
        assert_int_equal(cpu_list_parse("1,,2", &v, &n), -EINVAL);
        assert_int_equal(cpu_list_parse("x", &v, &n), -EINVAL);
}

static void test_cpuinfo(void **state) {
        _cleanup_free_ char *v = NULL, *m = NULL;

        (void) state;
        assert_int_equal(cpuinfo_field(fx_path("proc"), "vendor_id", &v), -ENOENT);
        fx_write("proc/cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                 "model name\t: AMD EPYC 7763 64-Core Processor  \n\nprocessor\t: 1\nmodel name\t: other\n");
        assert_int_equal(cpuinfo_field(fx_path("proc"), "vendor_id", &v), 0);
        assert_string_equal(v, "AuthenticAMD");
        assert_int_equal(cpuinfo_field(fx_path("proc"), "model name", &m), 0);
        assert_string_equal(m, "AMD EPYC 7763 64-Core Processor");
        free(m);
        m = NULL;
        /* "model" is not "model name". */
        assert_int_equal(cpuinfo_field(fx_path("proc"), "model", &m), 0);
        assert_string_equal(m, "17");
        assert_int_equal(cpuinfo_field(fx_path("proc"), "flags", &v), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sysfs, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_override, fx_setup, fx_teardown),
                cmocka_unit_test(test_cpu_list),
                cmocka_unit_test_setup_teardown(test_cpuinfo, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
