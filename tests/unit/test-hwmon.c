/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hwmon source against a sysfs tree made here: an ACPI power meter, a
 * PSU, amd_energy socket counters, and sensors that must be ignored. Also the
 * host-total rule with whole-system meters. */

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

#define S NSEC_PER_SEC

static ssize_t idx(const EnergySource *s, const char *name) {
        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

static void make_tree(void) {
        fx_write("sys/class/hwmon/hwmon0/name", "power_meter\n");
        fx_write("sys/class/hwmon/hwmon0/power1_average", "250000000\n"); /* 250 W */
        fx_write("sys/class/hwmon/hwmon1/name", "amd_energy\n");
        fx_write("sys/class/hwmon/hwmon1/energy1_input", "1000\n");
        fx_write("sys/class/hwmon/hwmon1/energy1_label", "Ecore000\n");
        fx_write("sys/class/hwmon/hwmon1/energy2_input", "5000000\n");
        fx_write("sys/class/hwmon/hwmon1/energy2_label", "Esocket0\n");
        fx_write("sys/class/hwmon/hwmon2/name", "corsairpsu\n");
        fx_write("sys/class/hwmon/hwmon2/power1_input", "300000000\n");
        fx_write("sys/class/hwmon/hwmon2/power1_label", "power total\n");
        fx_write("sys/class/hwmon/hwmon2/power2_input", "100000000\n");
        fx_write("sys/class/hwmon/hwmon2/power2_label", "power 12v\n");
        fx_write("sys/class/hwmon/hwmon3/name", "amdgpu\n");
        fx_write("sys/class/hwmon/hwmon3/power1_average", "30000000\n");
        fx_write("sys/class/hwmon/hwmon4/name", "coretemp\n");
        fx_write("sys/class/hwmon/hwmon4/temp1_input", "45000\n");
}

static void test_domains_and_energy(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj[8];
        ssize_t sys, psu, pkg;

        (void) state;
        make_tree();
        assert_int_equal(hwmon_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "system (integrated from power)"));
        assert_non_null(strstr(reason, "2 other sensors ignored")); /* psu 12v rail, amdgpu */
        assert_int_equal(hwmon_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(s->n_domains, 3);
        assert_true((sys = idx(s, "system")) >= 0);
        assert_true((psu = idx(s, "psu-0")) >= 0);
        assert_true((pkg = idx(s, "package-0")) >= 0);
        assert_int_equal(s->domains[sys].kind, DOMAIN_PSYS);
        assert_true(s->domains[sys].whole_system);
        assert_true(s->domains[sys].integrated);
        assert_true(s->domains[psu].whole_system);
        assert_int_equal(s->domains[pkg].kind, DOMAIN_PACKAGE);
        assert_int_equal(s->domains[pkg].package, 0);
        assert_false(s->domains[pkg].integrated);
        assert_false(s->domains[pkg].whole_system);
        assert_int_equal(domain_kind_from_name("system"), DOMAIN_PSYS);
        assert_int_equal(domain_kind_from_name("psu-0"), DOMAIN_PSYS);

        assert_int_equal(hwmon_source_read_at(s, 10 * S, uj), 0);
        assert_int_equal(uj[sys], 0);
        assert_int_equal(uj[psu], 0);
        assert_int_equal(uj[pkg], 0);

        /* 1 s at 250 W; the socket counter +1234567 µJ. */
        fx_write("sys/class/hwmon/hwmon1/energy2_input", "6234567\n");
        assert_int_equal(hwmon_source_read_at(s, 11 * S, uj), 0);
        assert_int_equal(uj[sys], 250000000);
        assert_int_equal(uj[psu], 300000000);
        assert_int_equal(uj[pkg], 1234567);

        /* 250 → 300 W over 2 s: trapezoid = 550 J. Then reads 1 ns apart at
         * 300 W: 0.3 µJ each, kept as a remainder: four make 1.2 µJ → 1 µJ. */
        fx_write("sys/class/hwmon/hwmon0/power1_average", "300000000\n");
        assert_int_equal(hwmon_source_read_at(s, 13 * S, uj), 0);
        assert_int_equal(uj[sys], 800000000);
        for (int i = 1; i <= 4; i++)
                assert_int_equal(hwmon_source_read_at(s, 13 * S + (uint64_t) i, uj), 0);
        assert_int_equal(uj[sys], 800000001);

        /* Counter reset: that interval is discarded, counting resumes. */
        fx_write("sys/class/hwmon/hwmon1/energy2_input", "10\n");
        assert_int_equal(hwmon_source_read_at(s, 14 * S, uj), 0);
        assert_true(uj[pkg] == ENERGY_READ_FAILED);
        fx_write("sys/class/hwmon/hwmon1/energy2_input", "20\n");
        assert_int_equal(hwmon_source_read_at(s, 15 * S, uj), 0);
        assert_int_equal(uj[pkg], 1234577);
        /* Meanwhile 300 W from 13 s + 4 ns to 15 s, plus the 0.2 µJ remainder:
         * 800000001.2 + 599999998.8 = 1400000000 exactly. */
        assert_int_equal(uj[sys], 1400000000);

        /* Unreadable power sensor: failed, and the gap is not integrated
         * with the stale figure. */
        assert_int_equal(unlink(fx_path("sys/class/hwmon/hwmon0/power1_average")), 0);
        assert_int_equal(hwmon_source_read_at(s, 16 * S, uj), 0);
        assert_true(uj[sys] == ENERGY_READ_FAILED);
        fx_write("sys/class/hwmon/hwmon0/power1_average", "100000000\n");
        assert_int_equal(hwmon_source_read_at(s, 20 * S, uj), 0);
        assert_int_equal(uj[sys], 1400000000);
        assert_int_equal(hwmon_source_read_at(s, 21 * S, uj), 0);
        assert_int_equal(uj[sys], 1500000000);
        source_close(s);
}

static void test_missing(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];

        (void) state;
        assert_int_equal(hwmon_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "no hwmon devices"));
        /* Only sensors that cannot be placed: missing too, and said so. */
        fx_write("sys/class/hwmon/hwmon0/name", "amdgpu\n");
        fx_write("sys/class/hwmon/hwmon0/power1_average", "30000000\n");
        assert_int_equal(hwmon_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "1 other power/energy sensors ignored"));
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_true(hwmon_source_ops.open(&ctx, reason, sizeof(reason), &s) < 0);
        assert_non_null(strstr(reason, "no usable hwmon power or energy sensor under"));
        assert_null(s);
        /* Garbage in the sensor. */
        fx_write("sys/class/hwmon/hwmon1/name", "power_meter\n");
        fx_write("sys/class/hwmon/hwmon1/power1_average", "lots\n");
        assert_int_equal(hwmon_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "not a number"));
}

/* The host total with whole-system meters: the hwmon meter wins over psys,
 * GPUs and packages are inside it. */
static void test_host_total(void **state) {
        SourceContext ctx = fx_ctx();
        SourceProbe probes[16] = {};
        EnergySource **list = NULL;
        size_t n = 0, n_all;
        char *out = NULL;
        size_t out_size = 0;
        FILE *f;
        bool seen_system = false, seen_pkg = false;

        (void) state;
        source_all(&n_all);
        fx_write("sys/class/hwmon/hwmon0/name", "power_meter\n");
        fx_write("sys/class/hwmon/hwmon0/power1_average", "250000000\n");
        fx_write("sys/class/power_supply/BAT0/type", "Battery\n");
        fx_write("sys/class/power_supply/BAT0/status", "Discharging\n");
        fx_write("sys/class/power_supply/BAT0/power_now", "9000000\n");
        /* A powercap package + psys too. */
        fx_write("powercap/intel-rapl:0/name", "package-0\n");
        fx_write("powercap/intel-rapl:0/energy_uj", "1\n");
        fx_write("powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
        fx_write("powercap/intel-rapl:1/name", "psys\n");
        fx_write("powercap/intel-rapl:1/energy_uj", "1\n");
        fx_write("powercap/intel-rapl:1/max_energy_range_uj", "262143328850\n");
        fx_write("proc/stat", "cpu  1 0 1 1 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\n");

        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 3); /* rapl, hwmon, battery */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++) {
                        const EnergyDomain *d = &list[i]->domains[j];
                        bool in = domain_counts_in_host_total(d, sources_have_psys(list, n));
                        /* whatever the caller passes, the decision is source_select()'s */
                        assert_int_equal(in, domain_counts_in_host_total(d, false));
                        if (strcmp(d->name, "system") == 0)
                                assert_true(in), seen_system = true;
                        else
                                assert_false(in), seen_pkg |= strcmp(d->name, "package-0") == 0;
                }
        assert_true(seen_system && seen_pkg);
        f = open_memstream(&out, &out_size);
        assert_non_null(f);
        source_probe_print(f, probes, n_all, list, n);
        fclose(f);
        assert_non_null(strstr(out, "measured (from power)"));
        assert_non_null(strstr(out, "no (another whole-system meter is the total)"));
        assert_non_null(strstr(out, "no (inside the whole-system meter)"));
        free(out);
        list = source_close_all(list);

        /* Without the hwmon meter: psys is the total, the battery is not. */
        assert_int_equal(unlink(fx_path("sys/class/hwmon/hwmon0/power1_average")), 0);
        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++)
                        assert_int_equal(domain_counts_in_host_total(&list[i]->domains[j], false),
                                         strcmp(list[i]->domains[j].name, "psys") == 0);
        list = source_close_all(list);

        /* Package but no psys: package counts, the battery does not (it says
         * nothing on AC). */
        assert_int_equal(unlink(fx_path("powercap/intel-rapl:1/name")), 0);
        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++)
                        assert_int_equal(domain_counts_in_host_total(&list[i]->domains[j], false),
                                         strcmp(list[i]->domains[j].name, "package-0") == 0);
        list = source_close_all(list);

        /* Battery alone: it is the total. */
        assert_int_equal(source_select(&ctx, "battery", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 1);
        assert_true(domain_counts_in_host_total(&list[0]->domains[0], false));
        list = source_close_all(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_domains_and_energy, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_missing, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_host_total, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
