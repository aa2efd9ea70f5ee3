/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The battery source against power_supply trees made here: power_now,
 * current_now × voltage_now, discharging vs charging. */

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

static void test_discharging(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj;

        (void) state;
        /* BAT0 gives power_now; BAT1 only current and voltage (some report a
         * negative current while discharging); AC is not a battery. */
        fx_write("sys/class/power_supply/AC/type", "Mains\n");
        fx_write("sys/class/power_supply/AC/online", "0\n");
        fx_write("sys/class/power_supply/BAT0/type", "Battery\n");
        fx_write("sys/class/power_supply/BAT0/status", "Discharging\n");
        fx_write("sys/class/power_supply/BAT0/power_now", "8500000\n");        /* 8.5 W */
        fx_write("sys/class/power_supply/BAT1/type", "Battery\n");
        fx_write("sys/class/power_supply/BAT1/status", "Discharging\n");
        fx_write("sys/class/power_supply/BAT1/current_now", "-250000\n");      /* 0.25 A */
        fx_write("sys/class/power_supply/BAT1/voltage_now", "11400000\n");     /* 11.4 V → 2.85 W */

        assert_int_equal(battery_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "2 batteries"));
        assert_non_null(strstr(reason, "discharging"));
        assert_int_equal(battery_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(s->n_domains, 1);
        assert_string_equal(s->domains[0].name, "battery");
        assert_int_equal(s->domains[0].kind, DOMAIN_BATTERY);
        assert_true(s->domains[0].integrated);
        assert_true(s->domains[0].whole_system);

        assert_int_equal(battery_source_read_at(s, 100 * S, &uj), 0);
        assert_int_equal(uj, 0);
        /* 11.35 W for 10 s = 113.5 J. */
        assert_int_equal(battery_source_read_at(s, 110 * S, &uj), 0);
        assert_int_equal(uj, 113500000);
        /* 3 ms more: 34.05 mJ. */
        assert_int_equal(battery_source_read_at(s, 110 * S + 3 * NSEC_PER_MSEC, &uj), 0);
        assert_int_equal(uj, 113534050);

        /* Plugged in: charging, no energy from the battery from then on (the
         * trapezoid takes the interval of the change at half). */
        fx_write("sys/class/power_supply/BAT0/status", "Charging\n");
        fx_write("sys/class/power_supply/BAT1/status", "Charging\n");
        assert_int_equal(battery_source_read_at(s, 111 * S + 3 * NSEC_PER_MSEC, &uj), 0);
        assert_int_equal(uj, 113534050 + 5675000);
        assert_int_equal(battery_source_read_at(s, 200 * S, &uj), 0);
        assert_int_equal(uj, 113534050 + 5675000);
        fx_write("sys/class/power_supply/BAT0/status", "Full\n");
        assert_int_equal(battery_source_read_at(s, 300 * S, &uj), 0);
        assert_int_equal(uj, 113534050 + 5675000);
        source_close(s);
}

static void test_charging_and_missing(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj;

        (void) state;
        assert_int_equal(battery_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "no battery"));
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_true(battery_source_ops.open(&ctx, reason, sizeof(reason), &s) < 0);
        assert_non_null(strstr(reason, "no battery under"));

        fx_write("sys/class/power_supply/BAT0/type", "Battery\n");
        fx_write("sys/class/power_supply/BAT0/status", "Charging\n");
        assert_int_equal(battery_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "no power_now"));

        fx_write("sys/class/power_supply/BAT0/power_now", "20000000\n");
        assert_int_equal(battery_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "not discharging now"));
        assert_int_equal(battery_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(battery_source_read_at(s, 1 * S, &uj), 0);
        assert_int_equal(battery_source_read_at(s, 61 * S, &uj), 0);
        assert_int_equal(uj, 0); /* charging: no energy */

        /* Unreadable: failed, not zero. */
        assert_int_equal(unlink(fx_path("sys/class/power_supply/BAT0/power_now")), 0);
        assert_int_equal(battery_source_read_at(s, 62 * S, &uj), 0);
        assert_true(uj == ENERGY_READ_FAILED);
        source_close(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_discharging, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_charging_and_missing, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
