/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "tracker.h"
#include "test-helpers.h"
#include "util.h"
#include "test-fixture.h"

/* Run config_load with stderr captured; returns what was logged. */
static char *load_capturing(JouledConfig *c, const char *name, int *ret) {
        char p[512], logp[512];
        int saved = dup(2), fd;
        char *out = NULL;

        snprintf(p, sizeof(p), "%s/%s", fx_dir, name);
        snprintf(logp, sizeof(logp), "%s/stderr.log", fx_dir);
        fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        dup2(fd, 2);
        *ret = config_load(c, p);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(fd);
        assert_int_equal(read_small_file(logp, 65536, &out), 0);
        return out;
}

static void test_defaults(void **state) {
        JouledConfig c;
        config_init_defaults(&c);
        assert_string_equal(c.db_path, "/var/lib/jouled/jouled.db");
        assert_double_equal(c.interval_s, 1.0, 0);
        assert_string_equal(c.source_spec, "auto");
        assert_string_equal(c.powercap_root, "/sys/class/powercap");
        assert_null(c.metrics_listen);
        assert_double_equal(c.model_min_w, 0, 0); /* not configured: the model's table decides */
        assert_double_equal(c.model_max_w, 0, 0);
        assert_int_equal(c.idle_policy, IDLE_POLICY_SEPARATE);
        assert_double_equal(c.carbon_g_per_kwh, 480, 0);
        assert_string_equal(c.carbon_source, CARBON_DEFAULT_SOURCE);
        assert_int_equal(c.tracker_accounting, TRACKER_ACCOUNTING_AUTO);
        config_done(&c);
}

static void test_tracker_accounting(void **state) {
        static const struct {
                const char *value;
                int want;
        } cases[] = {
                { "auto", TRACKER_ACCOUNTING_AUTO },
                { "iterator", TRACKER_ACCOUNTING_ITERATOR },
                { "per-switch", TRACKER_ACCOUNTING_PER_SWITCH },
        };
        JouledConfig c;

        config_init_defaults(&c);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(config_set(&c, "Daemon", "TrackerAccounting", cases[i].value), 0);
                assert_int_equal(c.tracker_accounting, cases[i].want);
                assert_string_equal(tracker_accounting_to_string(cases[i].want), cases[i].value);
        }
        /* Unknown or differently spelled: refused, the last good value stays. */
        assert_int_equal(config_set(&c, "Daemon", "TrackerAccounting", "perswitch"), -EINVAL);
        assert_int_equal(config_set(&c, "Daemon", "TrackerAccounting", ""), -EINVAL);
        assert_int_equal(c.tracker_accounting, TRACKER_ACCOUNTING_PER_SWITCH);
        assert_null(tracker_accounting_to_string(7));
        config_done(&c);
}

static void test_file_and_dropins(void **state) {
        JouledConfig c;
        char *log;
        int r;
        char d[300];

        fx_write("jouled.conf",
                 "# comment\n"
                 "[Daemon]\n"
                 "Database=/srv/j.db\n"
                 "Interval=0.5\n"
                 "Source=rapl,model\n"
                 "\n"
                 "[Attribution]\n"
                 "IdlePolicy=shared\n"
                 "IdlePower=package-0:4.5\n"
                 "[Model]\n"
                 "MaxWattsPerCPU=5\n"
                 "[Carbon]\n"
                 "IntensityGramsPerKWh=56\n");
        snprintf(d, sizeof(d), "%s/jouled.conf.d", fx_dir);
        assert_int_equal(mkdir(d, 0755), 0);
        fx_write("jouled.conf.d/20-late.conf", "[Daemon]\nInterval=2\n");
        fx_write("jouled.conf.d/10-early.conf", "[Daemon]\nInterval=3\n[Attribution]\nIdlePower=package-0:1.25\nIdlePower=dram-0:2\n");
        fx_write("jouled.conf.d/ignored.txt", "garbage that is not read\n");

        config_init_defaults(&c);
        log = load_capturing(&c, "jouled.conf", &r);
        assert_int_equal(r, 0);
        assert_string_equal(log, "");
        assert_string_equal(c.db_path, "/srv/j.db");
        assert_double_equal(c.interval_s, 2.0, 0); /* 20-late.conf is read last */
        assert_string_equal(c.source_spec, "rapl,model");
        assert_int_equal(c.idle_policy, IDLE_POLICY_SHARED);
        assert_double_equal(c.model_max_w, 5.0, 0);
        assert_int_equal(c.n_idle, 2);
        assert_string_equal(c.idle[0].domain, "package-0");
        assert_double_equal(c.idle[0].watts, 1.25, 0);
        assert_string_equal(c.idle[1].domain, "dram-0");
        /* A figure of one's own is no longer labelled with the default's source. */
        assert_double_equal(c.carbon_g_per_kwh, 56, 0);
        assert_string_equal(c.carbon_source, "jouled.conf [Carbon] IntensityGramsPerKWh=");
        assert_int_equal(config_set(&c, "Carbon", "Source", "RTE eco2mix, France 2025 average"), 0);
        assert_string_equal(c.carbon_source, "RTE eco2mix, France 2025 average");

        /* A deep copy survives the original. */
        JouledConfig copy;
        assert_int_equal(config_copy(&copy, &c), 0);
        free(log);
        config_done(&c);
        assert_string_equal(copy.db_path, "/srv/j.db");
        assert_string_equal(copy.carbon_source, "RTE eco2mix, France 2025 average");
        config_done(&copy);
}

static void test_missing_file_is_fine(void **state) {
        JouledConfig c;
        int r;
        char *log;

        config_init_defaults(&c);
        log = load_capturing(&c, "does-not-exist.conf", &r);
        assert_int_equal(r, 0);
        assert_string_equal(c.source_spec, "auto");
        free(log);
        config_done(&c);
}

static void test_bad_key_names_file_and_line(void **state) {
        JouledConfig c;
        char *log;
        int r;

        fx_write("bad.conf", "[Daemon]\nInterval=1\n\nIntervall=2\n");
        config_init_defaults(&c);
        log = load_capturing(&c, "bad.conf", &r);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(log, "bad.conf:4: unknown key 'Intervall' in section [Daemon]"));
        free(log);
        config_done(&c);
}

static void test_bad_values(void **state) {
        static const char *const bad[] = {
                "[Daemon]\nInterval=fast\n",
                "[Daemon]\nInterval=-1\n",
                "[Daemon]\nInterval=0\n",
                "[Daemon]\nDatabase=relative.db\n",
                "[Daemon]\nTracker=ebpf\n",
                "[Daemon]\nTrackerAccounting=sometimes\n",
                "[Attribution]\nIdlePolicy=sometimes\n",
                "[Attribution]\nIdlePower=package-0\n",
                "[Attribution]\nIdlePower=package-0:-3\n",
                "[Model]\nMinWattsPerCPU=1e400\n",
                "[Model]\nMaxWattsPerCPU=0\n",
                "[Nope]\nKey=1\n",
                "no section line\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                JouledConfig c;
                char *log;
                int r;

                fx_write("v.conf", "%s", bad[i]);
                config_init_defaults(&c);
                log = load_capturing(&c, "v.conf", &r);
                if (r != -EINVAL)
                        print_error("accepted: %s\n", bad[i]);
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(log, "v.conf:"));
                /* Nothing half-applied that matters: defaults stay for what failed. */
                assert_double_equal(c.interval_s, 1.0, 0);
                free(log);
                config_done(&c);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_tracker_accounting),
                cmocka_unit_test_setup_teardown(test_file_and_dropins, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_missing_file_is_fine, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_bad_key_names_file_and_line, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_bad_values, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
