/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The model source, against a fixture proc/stat
 * that the test advances, with an injected clock for exact figures. */

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
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

#include "cleanup.h"
#include "log.h"
#include "model-defaults.h"
#include "procfs.h"
#include "source.h"
#include "util.h"
#include "test-fixture.h"

static char tmpdir[256];
static char proc[512];
#define ISOLATED .sys_root = proc, .dev_root = proc, .nvml_library = "/nonexistent/libnvidia-ml.so.1"
static char powercap[512];
static uint64_t tick_ns;

/* Cumulative ticks of the two fixture CPUs. */
typedef struct Cpu {
        uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest;
} Cpu;
static Cpu cpus[2];

static void write_stat(void) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size = 0;
        Cpu t = {};
        FILE *f;

        for (size_t i = 0; i < 2; i++) {
                t.user += cpus[i].user;
                t.nice += cpus[i].nice;
                t.system += cpus[i].system;
                t.idle += cpus[i].idle;
                t.iowait += cpus[i].iowait;
                t.irq += cpus[i].irq;
                t.softirq += cpus[i].softirq;
                t.steal += cpus[i].steal;
                t.guest += cpus[i].guest;
        }
        f = open_memstream(&buf, &size);
        assert_non_null(f);
        fprintf(f, "cpu  %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " 0\n",
                t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal, t.guest);
        for (size_t i = 0; i < 2; i++)
                fprintf(f, "cpu%zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " 0\n",
                        i, cpus[i].user, cpus[i].nice, cpus[i].system, cpus[i].idle, cpus[i].iowait, cpus[i].irq,
                        cpus[i].softirq, cpus[i].steal, cpus[i].guest);
        fprintf(f, "intr 12345 1 2 3\nctxt 99\nbtime 1700000000\nprocesses 10\n");
        assert_int_equal(fclose(f), 0);
        assert_true(asprintf(&path, "%s/stat", proc) > 0);
        fx_write_path(path, "%s", buf);
}

/* Advance both CPUs by busy ticks of user time and idle ticks of idle time. */
static void advance(uint64_t busy, uint64_t idle) {
        for (size_t i = 0; i < 2; i++) {
                cpus[i].user += busy;
                cpus[i].idle += idle;
        }
        write_stat();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path) < 0 ? -1 : 0;
}

static int setup(void **state) {
        (void) state;
        tick_ns = NSEC_PER_SEC / (uint64_t) sysconf(_SC_CLK_TCK);
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-model-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(proc, sizeof(proc), "%s/proc", tmpdir);
        snprintf(powercap, sizeof(powercap), "%s/powercap", tmpdir);
        if (mkdir(proc, 0755) < 0 || mkdir(powercap, 0755) < 0)
                return -1;
        memset(cpus, 0, sizeof(cpus));
        cpus[0] = (Cpu) { .user = 1000, .system = 200, .idle = 5000, .iowait = 10 };
        cpus[1] = (Cpu) { .user = 800, .system = 100, .idle = 6000, .iowait = 20 };
        write_stat();
        return 0;
}

static int teardown(void **state) {
        (void) state;
        return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static EnergySource *open_model(double min_w, double max_w) {
        SourceContext ctx = { .proc_root = proc, .powercap_root = powercap, ISOLATED,
                              .model_min_watts_per_cpu = min_w, .model_max_watts_per_cpu = max_w };
        EnergySource *s = NULL;
        char reason[256];

        assert_int_equal(model_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_non_null(s);
        return s;
}

/* ---- the model ---------------------------------------------------------- */

static void test_defaults(void **state) {
        SourceContext ctx = { .proc_root = proc, ISOLATED };
        char reason[256];
        EnergySource *s;

        (void) state;
        /* The documented figures (Cloud Carbon Footprint, AWS averages). */
        assert_true(MODEL_DEFAULT_MIN_W == 0.74);
        assert_true(MODEL_DEFAULT_MAX_W == 3.5);

        assert_string_equal(model_source_ops.name, "model");
        assert_true(model_source_ops.estimated);
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "2 CPUs × 0.74–3.50 W"));

        s = open_model(0, 0);
        assert_int_equal(s->n_domains, 1);
        assert_string_equal(s->domains[0].name, "package-0");
        assert_int_equal(s->domains[0].kind, DOMAIN_PACKAGE);
        assert_int_equal(s->domains[0].package, 0);
        assert_true(s->domains[0].estimated);
        assert_true(s->domains[0].max_power_w == 7.0);
        source_close(s);
}

static void test_energies(void **state) {
        EnergySource *s;
        uint64_t uj, t = 1000 * NSEC_PER_SEC;
        double u;

        (void) state;
        s = open_model(0, 0);
        assert_int_equal(model_source_last_utilisation(s, &u), -ENODATA);

        /* First read: baseline, 0. */
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 0);
        assert_int_equal(model_source_last_utilisation(s, &u), -ENODATA);

        /* 0 %: 2 × 0.74 W × 1 s. */
        advance(0, 100);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 1480000);
        assert_int_equal(model_source_last_utilisation(s, &u), 0);
        assert_true(u == 0.0);

        /* 50 %: 2 × (0.74 + 2.76 / 2) W × 1 s = 4.24 J. */
        advance(50, 50);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 1480000 + 4240000);
        assert_int_equal(model_source_last_utilisation(s, &u), 0);
        assert_true(u == 0.5);

        /* 100 %: 2 × 3.5 W × 1 s. */
        advance(100, 0);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 1480000 + 4240000 + 7000000);
        assert_true(model_source_last_utilisation(s, &u) == 0 && u == 1.0);

        /* 100 % over 2.5 s. */
        advance(250, 0);
        t += 5 * NSEC_PER_SEC / 2;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 1480000 + 4240000 + 7000000 + 17500000);

        /* Steal is not busy: 50 busy + 50 stolen is 50 %. iowait is idle. */
        for (size_t i = 0; i < 2; i++) {
                cpus[i].system += 25;
                cpus[i].softirq += 25;
                cpus[i].steal += 40;
                cpus[i].iowait += 10;
        }
        write_stat();
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 1480000 + 4240000 + 7000000 + 17500000 + 4240000);
        assert_true(model_source_last_utilisation(s, &u) == 0 && u == 0.5);

        /* No tick in between: the last utilisation stands. */
        t += NSEC_PER_SEC / 10;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 1480000 + 4240000 + 7000000 + 17500000 + 4240000 + 424000);
        source_close(s);
}

/* jouled reads /proc/stat once per interval and passes it on: the same
 * figures as reading it here, and a failed read is a failed domain. */
static void test_read_stat_passed_on(void **state) {
        EnergySource *s;
        ProcStat st = {};
        uint64_t uj, t = 1000 * NSEC_PER_SEC;

        (void) state;
        s = open_model(0, 0);
        assert_int_equal(procfs_read_stat(proc, &st), 0);
        assert_int_equal(model_source_read_stat(s, &st, 0, t, &uj), 0);
        assert_int_equal(uj, 0);
        proc_stat_done(&st);

        /* 50 %: 2 × (0.74 + 2.76 / 2) W × 1 s = 4.24 J. */
        advance(50, 50);
        t += NSEC_PER_SEC;
        assert_int_equal(procfs_read_stat(proc, &st), 0);
        assert_int_equal(model_source_read_stat(s, &st, 0, t, &uj), 0);
        assert_int_equal(uj, 4240000);
        proc_stat_done(&st);

        /* Unreadable this interval: no figure; -ENOMEM goes up. */
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_stat(s, NULL, -ENOENT, t, &uj), 0);
        assert_true(uj == ENERGY_READ_FAILED);
        assert_int_equal(model_source_read_stat(s, NULL, -ENOMEM, t, &uj), -ENOMEM);
        assert_int_equal(model_source_read_stat(NULL, NULL, -ENOENT, t, &uj), -EINVAL);
        source_close(s);
}

static void test_parameters_and_remainder(void **state) {
        SourceContext bad = { .proc_root = proc, ISOLATED, .model_min_watts_per_cpu = 5, .model_max_watts_per_cpu = 2 };
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj, t = 0;

        (void) state;
        /* Configured figures: 1 W and 2 W per CPU, 50 % for 1 s: 2 × 1.5 J. */
        s = open_model(1.0, 2.0);
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        advance(10, 10);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 3000000);
        source_close(s);

        /* 1000 intervals of 1 µs at 0 % with the defaults: 1.48 µJ each, and the
         * sub-µJ parts are carried, not lost: exactly 1480 µJ. */
        s = open_model(0, 0);
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        advance(0, 10);
        for (size_t i = 0; i < 1000; i++) {
                t += 1000;
                assert_int_equal(model_source_read_at(s, t, &uj), 0);
                if (i == 0)
                        assert_int_equal(uj, 1);
        }
        assert_int_equal(uj, 1480);
        source_close(s);

        /* max < min: refused. */
        s = NULL;
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_int_equal(model_source_ops.open(&bad, reason, sizeof(reason), &s), -EINVAL);
        assert_non_null(strstr(reason, "invalid model parameters"));
        assert_null(s);
        assert_int_equal(model_source_ops.probe(&bad, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "invalid model parameters"));
}

static void test_unreadable_stat(void **state) {
        _cleanup_free_ char *path = NULL;
        SourceContext ctx = { .proc_root = proc, ISOLATED };
        char reason[256];
        EnergySource *s;
        uint64_t uj;

        (void) state;
        s = open_model(0, 0);
        assert_int_equal(model_source_read_at(s, NSEC_PER_SEC, &uj), 0);

        assert_true(asprintf(&path, "%s/stat", proc) > 0);
        fx_write_path(path, "garbage\n");
        assert_int_equal(model_source_read_at(s, 2 * NSEC_PER_SEC, &uj), 0);
        assert_true(uj == ENERGY_READ_FAILED);
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "no parsable cpu lines"));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(model_source_read_at(s, 3 * NSEC_PER_SEC, &uj), 0);
        assert_true(uj == ENERGY_READ_FAILED);
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);

        /* Back: integrated over the whole 3 s since the last good read, at 100 %. */
        advance(300, 0);
        assert_int_equal(model_source_read_at(s, 4 * NSEC_PER_SEC, &uj), 0);
        assert_int_equal(uj, 21000000);
        source_close(s);
}

static void write_rel(const char *rel, const char *content) {
        char path[1024];

        snprintf(path, sizeof(path), "%s/%s", proc, rel);
        for (char *q = path + strlen(proc) + 1; *q; q++)
                if (*q == '/') {
                        *q = 0;
                        (void) mkdir(path, 0755);
                        *q = '/';
                }
        fx_write_path(path, "%s", content);
}

static const char *fx_cpufreq_path(int cpu) {
        static char b[2][1024];
        snprintf(b[cpu], sizeof(b[cpu]), "%s/devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq", proc, cpu);
        return b[cpu];
}

static void test_cpu_table_and_cpufreq(void **state) {
        SourceContext ctx = { .proc_root = proc, ISOLATED };
        char reason[512];
        EnergySource *s;
        uint64_t uj, t = 50 * NSEC_PER_SEC;

        (void) state;
        assert_null(model_cpu_lookup("AMD EPYC"));
        assert_null(model_cpu_lookup("AMD EPYC 77631"));
        assert_null(model_cpu_lookup(NULL));
        assert_non_null(model_cpu_lookup("AMD EPYC 7763 64-Core Processor"));
        assert_int_equal(model_cpu_lookup("AMD EPYC 7763 64-Core Processor")->tdp_w, 280);
        assert_non_null(model_cpu_lookup("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"));
        assert_non_null(strstr(model_cpu_lookup("Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz")->source, "ark.intel.com"));

        /* This machine's model name: the generic defaults, and said so. */
        write_rel("cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\n");
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "0.74–3.50 W (generic defaults: model name \"AMD EPYC\" not in the CPU table)"));

        /* A known CPU: 280 W / 128 threads = 2.1875 W, idle 0.4625 W. */
        write_rel("cpuinfo", "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\n");
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "CPU table entry \"AMD EPYC 7763\": 280 W TDP / 128 threads, amd.com/"));
        assert_null(strstr(reason, "cpufreq"));
        s = open_model(0, 0); /* nothing configured: the table's figures */
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        advance(100, 0);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 4375000); /* 2 × 2.1875 W × 1 s */

        /* Both CPUs at half their maximum frequency: dynamic term halved,
         * 2 × (0.4625 + 1.725 / 2) W = 2.65 W. */
        write_rel("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "1500000\n");
        write_rel("devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3000000\n");
        write_rel("devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "1000000\n");
        write_rel("devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq", "2000000\n");
        advance(100, 0);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 4375000 + 2650000);
        /* Idle: frequency does not matter. */
        advance(0, 100);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 4375000 + 2650000 + 925000);
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "scaled by cpufreq"));
        source_close(s);

        /* Configured watts always win over the table. */
        ctx.model_min_watts_per_cpu = 1.0;
        ctx.model_max_watts_per_cpu = 2.0;
        assert_int_equal(model_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "2 CPUs × 1.00–2.00 W (configured [Model] watts)"));
        assert_int_equal(unlink(fx_cpufreq_path(0)), 0);
        assert_int_equal(unlink(fx_cpufreq_path(1)), 0);
        s = open_model(1.0, 2.0);
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        advance(100, 0);
        t += NSEC_PER_SEC;
        assert_int_equal(model_source_read_at(s, t, &uj), 0);
        assert_int_equal(uj, 4000000);
        source_close(s);
}

static void test_select_model(void **state) {
        SourceContext ctx = { .proc_root = proc, .powercap_root = powercap, ISOLATED };
        SourceProbe probes[16] = {};
        EnergySource **list = NULL;
        size_t n = 0, n_all;
        char *out = NULL;
        size_t out_size = 0;
        FILE *f;
        double u;

        (void) state;
        source_all(&n_all);
        /* An empty powercap root: auto falls back to the model. */
        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 1);
        assert_ptr_equal(list[0]->ops, &model_source_ops);
        assert_null(list[1]);
        assert_int_equal(probes[0].status, SOURCE_MISSING);
        assert_false(sources_have_psys(list, n));
        assert_true(domain_counts_in_host_total(&list[0]->domains[0], false));
        assert_int_equal(model_source_last_utilisation(list[0], &u), -ENODATA);

        f = open_memstream(&out, &out_size);
        assert_non_null(f);
        source_probe_print(f, probes, n_all, list, n);
        fclose(f);
        assert_non_null(strstr(out, "No hardware energy meter found: using the model source (estimated)"));
        assert_non_null(strstr(out, "no RAPL powercap zones under"));
        assert_non_null(strstr(out, "estimated"));
        free(out);
        list = source_close_all(list);

        assert_int_equal(source_select(&ctx, "bogus", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, "rapl", probes, ELEMENTSOF(probes), &list, &n), -ENODEV);
        assert_null(list);

        /* Nothing at all: no meter, and no /proc/stat for the model. */
        {
                _cleanup_free_ char *path = NULL;
                assert_true(asprintf(&path, "%s/stat", proc) > 0);
                assert_int_equal(unlink(path), 0);
                assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), -ENODEV);
                assert_null(list);
        }
        assert_null(source_close_all(NULL));
        source_close(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_energies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_stat_passed_on, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parameters_and_remainder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_stat, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cpu_table_and_cpufreq, setup, teardown),
                cmocka_unit_test_setup_teardown(test_select_model, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
