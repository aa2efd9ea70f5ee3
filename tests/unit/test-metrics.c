/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"
#include "sanitize.h"
#include "test-helpers.h"

/* The value of the sample whose line starts with prefix (name{labels}), or NAN. */
static double sample(const char *text, const char *prefix) {
        size_t n = strlen(prefix);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, prefix, n) == 0 && l[n] == ' ')
                        return strtod(l + n + 1, NULL);
        return NAN;
}

static size_t count_lines(const char *text, const char *prefix) {
        size_t c = 0, n = strlen(prefix);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, prefix, n) == 0)
                        c++;
        return c;
}

typedef struct Fixture {
        EnergyDomain dom[2];
        DomainRecord rec[2];
        ProcessInfo info[12];
        ProcessDelta procs[12];
        double proc_j[12 * 2];
        IntervalRecord ir;
} Fixture;

/* 12 processes; process i gets (i+1) J in package-0 (host total) and 100 J in
 * core-0 (not in the host total, must not count); cpu (i+1) × 0.1 s. */
static void fixture_init(Fixture *f) {
        memset(f, 0, sizeof(*f));
        strcpy(f->dom[0].name, "package-0");
        f->dom[0].estimated = true;
        strcpy(f->dom[1].name, "core-0");
        f->dom[1].estimated = true;
        for (int d = 0; d < 2; d++)
                f->rec[d] = (DomainRecord) { .domain = &f->dom[d], .source = "model", .host_total = d == 0,
                                             .valid = true, .measured_j = 100, .idle_j = 10,
                                             .attributed_j = 78, .unattributed_j = 12 };
        for (int i = 0; i < 12; i++) {
                f->info[i] = (ProcessInfo) { .pid = 100 + i, .uid = 0, .start_time_ns = 1000 + i };
                snprintf(f->info[i].comm, sizeof(f->info[i].comm), "p%d", i);
                f->info[i].unit = i % 2 ? (char *) "a.service" : (char *) "b.service";
                f->procs[i] = (ProcessDelta) { .info = &f->info[i], .cpu_ns = (uint64_t) (i + 1) * 100000000 };
                f->proc_j[i * 2] = i + 1;
                f->proc_j[i * 2 + 1] = 100;
        }
        strcpy(f->info[3].comm, "we\"ird\\\n");
        f->ir = (IntervalRecord) { .n_domains = 2, .domains = f->rec, .n_procs = 12, .procs = f->procs,
                                   .proc_domain_j = f->proc_j };
}

/* One interval, one second after the last. */
static int add(Metrics *m, const IntervalRecord *ir, uint64_t exits_lost) {
        static uint64_t now = 1000000000;
        MetricsHealth h = { .now_ns = now += 1000000000, .exits_lost = exits_lost };
        return metrics_add_interval(m, ir, &h);
}

static Metrics *new_metrics(size_t top, const char *textfile) {
        MetricsConfig c = { .top_processes = top, .version = "9.9", .tracker = "bpf", .textfile_dir = textfile };
        Metrics *m = NULL;
        assert_int_equal(metrics_new(&c, &m), 0);
        return m;
}

static void test_counters_accumulate(void **state) {
        Fixture f;
        Metrics *m = new_metrics(10, NULL);
        char *t1 = NULL, *t2 = NULL;

        fixture_init(&f);
        assert_int_equal(add(m, &f.ir, 3), 0);
        assert_int_equal(metrics_format(m, &t1, NULL), 0);
        assert_int_equal(add(m, &f.ir, 5), 0);
        assert_int_equal(metrics_format(m, &t2, NULL), 0);

        assert_double_equal(sample(t1, "jouled_intervals_total"), 1, 0);
        assert_double_equal(sample(t2, "jouled_intervals_total"), 2, 0);
        assert_double_equal(sample(t2, "jouled_tracker_exits_lost_total"), 5, 0);
        assert_double_equal(sample(t1, "jouled_domain_energy_joules_total{domain=\"package-0\",source=\"model\",estimated=\"true\"}"), 100, 1e-9);
        assert_double_equal(sample(t2, "jouled_domain_energy_joules_total{domain=\"package-0\",source=\"model\",estimated=\"true\"}"), 200, 1e-9);
        assert_double_equal(sample(t2, "jouled_domain_idle_joules_total{domain=\"core-0\",source=\"model\",estimated=\"true\"}"), 20, 1e-9);
        /* Units: odd i → a.service: 2+4+...+12 = 42 J per interval; core-0 is not in the host total. */
        assert_double_equal(sample(t2, "jouled_unit_energy_joules_total{unit=\"a.service\",estimated=\"true\"}"), 84, 1e-9);
        assert_double_equal(sample(t2, "jouled_unit_energy_joules_total{unit=\"b.service\",estimated=\"true\"}"), 72, 1e-9);
        assert_double_equal(sample(t2, "jouled_user_energy_joules_total{user=\"root\",estimated=\"true\"}"), 156, 1e-9);
        assert_double_equal(sample(t2, "jouled_user_cpu_seconds_total{user=\"root\"}"), 15.6, 1e-9);
        assert_double_equal(sample(t2, "jouled_process_energy_joules_total{pid=\"111\",comm=\"p11\",unit=\"a.service\",user=\"root\",estimated=\"true\"}"), 24, 1e-9);
        assert_double_equal(sample(t2, "jouled_process_cpu_seconds_total{pid=\"111\",comm=\"p11\",unit=\"a.service\",user=\"root\"}"), 2.4, 1e-9);
        assert_non_null(strstr(t2, "jouled_info{version=\"9.9\",tracker=\"bpf\",source=\"model\"} 1\n"));
        assert_non_null(strstr(t2, "# TYPE jouled_process_energy_joules_total counter\n"));
        free(t1);
        free(t2);
        metrics_free(m);
}

static void test_top_n_and_escaping(void **state) {
        Fixture f;
        Metrics *m = new_metrics(10, NULL);
        char *t = NULL;

        fixture_init(&f);
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        /* Top 10 of 12: the two smallest (pid 100, 101) are left out. */
        assert_int_equal(count_lines(t, "jouled_process_energy_joules_total{"), 10);
        assert_int_equal(count_lines(t, "jouled_process_cpu_seconds_total{"), 10);
        assert_null(strstr(t, "pid=\"100\""));
        assert_null(strstr(t, "pid=\"101\""));
        assert_non_null(strstr(t, "pid=\"103\",comm=\"we\\\"ird\\\\\\n\""));
        free(t);
        metrics_free(m);

        m = new_metrics(0, NULL);
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_int_equal(count_lines(t, "jouled_process_energy_joules_total{"), 0);
        free(t);
        metrics_free(m);
}

static void test_gone_processes_forgotten_invalid_domains_skipped(void **state) {
        Fixture f;
        Metrics *m = new_metrics(10, NULL);
        char *t = NULL;

        fixture_init(&f);
        assert_int_equal(add(m, &f.ir, 0), 0);
        /* All but pid 100 end: their end comes once more (with nothing), then they are gone. */
        for (int i = 1; i < 12; i++) {
                f.info[i].exited = true;
                f.procs[i].cpu_ns = 0;
        }
        f.rec[0].valid = false;
        f.rec[0].measured_j = NAN;
        assert_int_equal(add(m, &f.ir, 0), 0);
        f.ir.n_procs = 1; /* only pid 100 left */
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_int_equal(count_lines(t, "jouled_process_energy_joules_total{"), 1);
        assert_double_equal(sample(t, "jouled_process_energy_joules_total{pid=\"100\",comm=\"p0\",unit=\"b.service\",user=\"root\",estimated=\"true\"}"), 1, 1e-9);
        /* The invalid interval adds nothing, and the counter does not go back. */
        assert_double_equal(sample(t, "jouled_domain_energy_joules_total{domain=\"package-0\",source=\"model\",estimated=\"true\"}"), 100, 1e-9);
        assert_null(strstr(t, "nan"));
        free(t);
        metrics_free(m);
}

static void test_textfile(void **state) {
        char dir[] = "/tmp/test-metrics-XXXXXX", path[64], buf[8192];
        Fixture f;
        Metrics *m;
        FILE *fp;
        size_t n;

        assert_non_null(mkdtemp(dir));
        m = new_metrics(10, dir);
        fixture_init(&f);
        assert_int_equal(add(m, &f.ir, 0), 0);
        snprintf(path, sizeof(path), "%s/jouled.prom", dir);
        fp = fopen(path, "re");
        assert_non_null(fp);
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
        assert_double_equal(sample(buf, "jouled_intervals_total"), 1, 0);
        snprintf(path, sizeof(path), "%s/.jouled.prom.tmp", dir);
        assert_int_equal(access(path, F_OK), -1); /* renamed away */
        assert_int_equal(metrics_write_textfile(m, "/nonexistent/dir"), -ENOENT);
        metrics_free(m);
        snprintf(path, sizeof(path), "%s/jouled.prom", dir);
        unlink(path);
        rmdir(dir);
}

static void test_parse_listen(void **state) {
        struct sockaddr_storage sa;
        size_t len;

        assert_int_equal(metrics_parse_listen("9867", &sa, &len), 0);
        assert_int_equal(sa.ss_family, AF_INET);
        assert_int_equal(ntohl(((struct sockaddr_in *) &sa)->sin_addr.s_addr), 0x7f000001);
        assert_int_equal(ntohs(((struct sockaddr_in *) &sa)->sin_port), 9867);
        assert_int_equal(metrics_parse_listen("0.0.0.0:80", &sa, &len), 0);
        assert_int_equal(metrics_parse_listen("[::1]:9867", &sa, &len), 0);
        assert_int_equal(sa.ss_family, AF_INET6);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        const char *bad[] = { "", "0", "65536", "localhost:80", "1.2.3.4:", ":80", "::1:80", "[::1]80", "1.2.3.4:8x", "[nope]:1" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(metrics_parse_listen(bad[i], &sa, &len), -EINVAL);
}

static void test_health_host_total_and_info(void **state) {
        Fixture f;
        MetricsConfig c = { .top_processes = 10, .version = "1", .tracker = "procfs", .idle_policy = "separate",
                            .model_min_w = 0.74, .model_max_w = 3.5 };
        MetricsHealth h = { .now_ns = 5000000000, .exits_lost = 2, .write_errors = 3, .intervals_buffered = 4,
                            .intervals_dropped = 5, .counters_discarded = 6 };
        Metrics *m = NULL;
        char *t = NULL;

        fixture_init(&f);
        f.rec[0].idle_method = "minimum";
        f.rec[1].idle_method = "regression"; /* not in the host total: not named */
        f.ir.end_ns = UINT64_C(1700000000500000000);
        assert_int_equal(metrics_new(&c, &m), 0);
        assert_int_equal(metrics_add_interval(m, &f.ir, &h), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_non_null(strstr(t, "jouled_info{version=\"1\",tracker=\"procfs\",source=\"model\",idle_policy=\"separate\","
                                  "idle_method=\"minimum\",model_min_watts_per_cpu=\"0.74\",model_max_watts_per_cpu=\"3.5\"} 1\n"));
        assert_double_equal(sample(t, "jouled_tracker_exits_lost_total"), 2, 0);
        assert_double_equal(sample(t, "jouled_write_errors_total"), 3, 0);
        assert_double_equal(sample(t, "jouled_intervals_buffered"), 4, 0);
        assert_double_equal(sample(t, "jouled_intervals_dropped_total"), 5, 0);
        assert_double_equal(sample(t, "jouled_counters_discarded_total"), 6, 0);
        assert_double_equal(sample(t, "jouled_last_sample_timestamp_seconds"), 1700000000.5, 1e-6);
        assert_true(sample(t, "jouled_self_resident_memory_bytes") > 0);
        assert_false(isnan(sample(t, "jouled_self_cpu_seconds_total")));
        assert_double_equal(sample(t, "jouled_metrics_max_series"), 1000, 0);
        /* package-0 only (core-0 is not in the host total). */
        assert_double_equal(sample(t, "jouled_host_energy_joules_total{domains=\"package-0\",estimated=\"true\"}"), 100, 1e-9);
        free(t);
        metrics_free(m);
}

static void test_slice_container_series(void **state) {
        Fixture f;
        Metrics *m = new_metrics(10, NULL);
        char *t = NULL;

        fixture_init(&f);
        for (int i = 0; i < 12; i++) {
                f.info[i].slice = i < 6 ? (char *) "system.slice" : (char *) "user.slice";
                f.info[i].container_id = i == 0 ? (char *) "0123abcd" : NULL;
        }
        /* Without the tracker's fields, from the cgroup path. */
        f.info[11].slice = NULL;
        f.info[11].cgroup_path = (char *) "/machine.slice/docker-"
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff.scope";
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        /* 1+..+6 = 21, 7+..+11 = 45, 12 in machine.slice */
        assert_double_equal(sample(t, "jouled_slice_energy_joules_total{slice=\"system.slice\",estimated=\"true\"}"), 21, 1e-9);
        assert_double_equal(sample(t, "jouled_slice_energy_joules_total{slice=\"user.slice\",estimated=\"true\"}"), 45, 1e-9);
        assert_double_equal(sample(t, "jouled_slice_cpu_seconds_total{slice=\"user.slice\"}"), 4.5, 1e-9);
        assert_double_equal(sample(t, "jouled_slice_energy_joules_total{slice=\"machine.slice\",estimated=\"true\"}"), 12, 1e-9);
        assert_double_equal(sample(t, "jouled_container_energy_joules_total{container=\"0123abcd\",estimated=\"true\"}"), 1, 1e-9);
        assert_double_equal(sample(t, "jouled_container_energy_joules_total{container=\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",estimated=\"true\"}"), 12, 1e-9);
        assert_int_equal(count_lines(t, "jouled_container_energy_joules_total{"), 2);
        free(t);
        metrics_free(m);
}

static void test_hostile_names_valid_utf8(void **state) {
        Fixture f;
        char dir[] = "/tmp/test-metrics-XXXXXX", path[64];
        Metrics *m;
        char *t = NULL, *file = NULL;
        size_t n = 0;
        FILE *fp;

        assert_non_null(mkdtemp(dir));
        m = new_metrics(12, dir);
        fixture_init(&f);
        strcpy(f.info[0].comm, "\xff\xfe");
        /* "ääääääää" cut by the kernel at 15 bytes: seven ä and half of one. */
        strcpy(f.info[1].comm, "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3");
        strcpy(f.info[2].comm, "\x1b[31mred\x7f");
        f.info[3].unit = (char *) "bad\xff" "cg.scope";
        f.info[4].slice = (char *) "x\xc0\xaf.slice"; /* overlong '/' */
        f.info[5].container_id = (char *) "\xed\xa0\x80"; /* a surrogate */
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_true(utf8_is_valid(t));
        assert_non_null(strstr(t, "comm=\"\xef\xbf\xbd\xef\xbf\xbd\""));
        assert_non_null(strstr(t, "comm=\"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xef\xbf\xbd\""));
        assert_non_null(strstr(t, "unit=\"bad\xef\xbf\xbd" "cg.scope\""));
        snprintf(path, sizeof(path), "%s/jouled.prom", dir);
        fp = fopen(path, "re");
        assert_non_null(fp);
        file = malloc(1 << 20);
        n = fread(file, 1, (1 << 20) - 1, fp);
        file[n] = 0;
        fclose(fp);
        assert_true(utf8_is_valid(file));
        free(file);
        free(t);
        metrics_free(m);
        unlink(path);
        rmdir(dir);
}

/* A record of one process in its own unit: "run-uN.scope", j joules. */
typedef struct OneUnit {
        EnergyDomain dom;
        DomainRecord rec;
        ProcessInfo info;
        ProcessDelta delta;
        double j;
        char unit[32];
        IntervalRecord ir;
} OneUnit;

static void one_unit(OneUnit *u, unsigned n, double j, const char *unit) {
        memset(u, 0, sizeof(*u));
        strcpy(u->dom.name, "package-0");
        u->rec = (DomainRecord) { .domain = &u->dom, .source = "rapl", .host_total = true, .valid = true,
                                  .measured_j = j, .attributed_j = j };
        if (unit)
                snprintf(u->unit, sizeof(u->unit), "%s", unit);
        else
                snprintf(u->unit, sizeof(u->unit), "run-u%u.scope", n);
        u->info = (ProcessInfo) { .pid = 1000 + n, .uid = 0, .start_time_ns = n, .unit = u->unit,
                                  .slice = (char *) "test.slice", .exited = true };
        strcpy(u->info.comm, "short");
        u->delta = (ProcessDelta) { .info = &u->info, .cpu_ns = 1000000 };
        u->j = j;
        u->ir = (IntervalRecord) { .n_domains = 1, .domains = &u->rec, .n_procs = 1, .procs = &u->delta,
                                   .proc_domain_j = &u->j };
}

static int add_at(Metrics *m, const IntervalRecord *ir, uint64_t now_s) {
        MetricsHealth h = { .now_ns = now_s * 1000000000 };
        return metrics_add_interval(m, ir, &h);
}

/* The sum of every series of a metric ("name{") in t. */
static double sum_lines(const char *t, const char *prefix) {
        double s = 0;
        size_t n = strlen(prefix);
        for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, prefix, n) == 0)
                        s += strtod(strchr(l, '}') + 2, NULL);
        return s;
}

static void test_idle_expiry_and_comeback(void **state) {
        MetricsConfig c = { .top_processes = 10, .idle_expiry_ns = UINT64_C(60) * 1000000000 };
        Metrics *m = NULL;
        OneUnit a, b;
        char *t = NULL;

        assert_int_equal(metrics_new(&c, &m), 0);
        one_unit(&a, 1, 5, "a.service");
        one_unit(&b, 2, 1, "b.service");
        assert_int_equal(add_at(m, &a.ir, 10), 0);
        assert_int_equal(add_at(m, &a.ir, 11), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"a.service\",estimated=\"false\"}"), 10, 1e-9);
        assert_null(strstr(t, "unit=\"other\""));
        free(t);
        /* 59 s later a is still there; at 60 s idle it goes, into other. */
        assert_int_equal(add_at(m, &b.ir, 70), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"a.service\",estimated=\"false\"}"), 10, 1e-9);
        free(t);
        assert_int_equal(add_at(m, &b.ir, 71), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_int_equal(count_lines(t, "jouled_unit_energy_joules_total{unit=\"a.service\""), 0);
        assert_int_equal(count_lines(t, "jouled_unit_cpu_seconds_total{unit=\"a.service\""), 0);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"other\",estimated=\"false\"}"), 10, 1e-9);
        assert_double_equal(sample(t, "jouled_unit_cpu_seconds_total{unit=\"other\"}"), 0.002, 1e-9);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"b.service\",estimated=\"false\"}"), 2, 1e-9);
        free(t);
        /* It comes back: a new series, from this interval on. */
        assert_int_equal(add_at(m, &a.ir, 72), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"a.service\",estimated=\"false\"}"), 5, 1e-9);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"other\",estimated=\"false\"}"), 10, 1e-9);
        /* Everything attributed is in exactly one unit series. */
        assert_double_equal(sum_lines(t, "jouled_unit_energy_joules_total{"), 17, 1e-9);
        free(t);
        metrics_free(m);
}

static void test_churn_capped_other_monotonic(void **state) {
        Metrics *m = NULL;
        MetricsConfig c = { .top_processes = 10 };
        double other = 0, total = 0;
        size_t inuse = 0;
        OneUnit u;
        char *t = NULL;

        assert_int_equal(metrics_new(&c, &m), 0);
        /* 1,000 units to fill the slots, then 3,000 more, one a second, each
         * with one short process: the exporter's memory stays flat. */
        for (unsigned i = 0; i < 4000; i++) {
                if (i == 1000)
                        inuse = mallinfo2().uordblks;
                one_unit(&u, i, 1 + (i % 7), NULL);
                total += u.j;
                assert_int_equal(add_at(m, &u.ir, 100 + i), 0);
                assert_true(metrics_series_count(m) <= 1000);
                if (i % 10 != 9)
                        continue;
                assert_int_equal(metrics_format(m, &t, NULL), 0);
                double o = sample(t, "jouled_unit_energy_joules_total{unit=\"other\",estimated=\"false\"}");
                if (!isnan(o)) {
                        assert_true(o >= other);
                        other = o;
                }
                /* Exported plus other is everything, at every interval. */
                if (i % 1000 == 999) {
                        assert_double_equal(sum_lines(t, "jouled_unit_energy_joules_total{"), total, 1e-6);
                        assert_double_equal(sum_lines(t, "jouled_slice_energy_joules_total{"), total, 1e-6);
                        assert_double_equal(sum_lines(t, "jouled_user_energy_joules_total{"), total, 1e-6);
                }
                free(t);
        }
        assert_true(other > 0);
        /* Not a byte more than 64 KiB (mallinfo2() gives 0 under ASan). */
        assert_true(mallinfo2().uordblks <= inuse + 65536);
        /* Processes end: none left after their last interval. */
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_true(count_lines(t, "jouled_process_energy_joules_total{") <= 1);
        assert_true(count_lines(t, "jouled_unit_energy_joules_total{") <= 500);
        free(t);
        /* A small cap holds too. */
        metrics_free(m);
        c.max_series = 100;
        assert_int_equal(metrics_new(&c, &m), 0);
        for (unsigned i = 0; i < 500; i++) {
                one_unit(&u, i, 1, NULL);
                assert_int_equal(add_at(m, &u.ir, 100 + i), 0);
                assert_true(metrics_series_count(m) <= 100);
        }
        metrics_free(m);
}

static void test_with_idle_and_idle_estimates(void **state) {
        Fixture f;
        Metrics *m = new_metrics(10, NULL);
        double idle[12 * 2];
        char *t = NULL;

        fixture_init(&f);
        /* Each process's share of package-0's 10 J idle by CPU time (i + 1 of
         * 78); core-0's shares are not in the host total and must not count. */
        for (int i = 0; i < 12; i++) {
                idle[i * 2] = 10.0 * (i + 1) / 78.0;
                idle[i * 2 + 1] = 50;
        }
        f.ir.proc_idle_share_j = idle;
        f.rec[0].idle_w = 10;
        f.rec[0].idle_band_w = 1.5;
        f.rec[0].idle_method = "regression";
        f.rec[1].idle_w = 4;
        f.rec[1].idle_method = "configured";   /* no band given: exact */
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        /* a.service: odd i, 42 J dynamic and 10 × 42 / 78 J idle per interval. */
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"a.service\",estimated=\"true\"}"), 84, 1e-9);
        assert_double_equal(sample(t, "jouled_unit_energy_with_idle_joules_total{unit=\"a.service\",estimated=\"true\"}"),
                            84 + 2 * 10.0 * 42 / 78, 1e-9);
        /* Every process in a unit: the units' with-idle counters add up to
         * attributed + idle of the host total, both intervals. */
        assert_double_equal(sum_lines(t, "jouled_unit_energy_with_idle_joules_total{"), 2 * (78 + 10), 1e-9);
        assert_double_equal(sum_lines(t, "jouled_user_energy_with_idle_joules_total{"), 2 * (78 + 10), 1e-9);
        assert_double_equal(sample(t, "jouled_process_energy_with_idle_joules_total{pid=\"111\",comm=\"p11\","
                                      "unit=\"a.service\",user=\"root\",estimated=\"true\"}"),
                            24 + 2 * 10.0 * 12 / 78, 1e-9);
        assert_non_null(strstr(t, "# TYPE jouled_unit_energy_with_idle_joules_total counter\n"));
        assert_non_null(strstr(t, "# HELP jouled_process_energy_with_idle_joules_total "));
        /* The idle estimates: power and band gauges with their method. */
        assert_double_equal(sample(t, "jouled_domain_idle_power_watts{domain=\"package-0\",source=\"model\","
                                      "method=\"regression\"}"), 10, 0);
        assert_double_equal(sample(t, "jouled_domain_idle_power_band_watts{domain=\"package-0\",source=\"model\","
                                      "method=\"regression\"}"), 1.5, 0);
        assert_double_equal(sample(t, "jouled_domain_idle_power_band_watts{domain=\"core-0\",source=\"model\","
                                      "method=\"configured\"}"), 0, 0);
        assert_non_null(strstr(t, "# TYPE jouled_domain_idle_power_watts gauge\n"));
        assert_true(metrics_series_count(m) <= 1000);
        free(t);
        metrics_free(m);
}

static void test_heavy_newcomer_takes_a_slot(void **state) {
        /* max_series 100 with one domain: 13 + 6 fixed, processes
         * min(10, 81/4) = 10 (30 series), groups (100 - 19 - 30 - 12) / 3 = 13 slots. */
        MetricsConfig c = { .top_processes = 10, .max_series = 100 };
        Metrics *m = NULL;
        OneUnit u;
        char *t = NULL;

        assert_int_equal(metrics_new(&c, &m), 0);
        for (unsigned i = 0; i < 40; i++) {
                one_unit(&u, i, 1, NULL);
                assert_int_equal(add_at(m, &u.ir, 100 + i), 0);
        }
        one_unit(&u, 999, 1000, "heavy.service");
        assert_int_equal(add_at(m, &u.ir, 141), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_double_equal(sample(t, "jouled_unit_energy_joules_total{unit=\"heavy.service\",estimated=\"false\"}"), 1000, 1e-9);
        assert_true(metrics_series_count(m) <= 100);
        free(t);
        metrics_free(m);
}

static void test_process_series_for_its_life(void **state) {
        Fixture f;
        Metrics *m = new_metrics(2, NULL);
        char *t = NULL;

        fixture_init(&f);
        f.ir.n_procs = 2; /* pid 100 (1 J) and 101 (2 J) */
        assert_int_equal(add(m, &f.ir, 0), 0);
        /* Now pid 111 uses much more: the two keep their series while they live. */
        f.procs[0] = f.procs[11];
        f.proc_j[0] = 500;
        f.ir.n_procs = 1;
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_int_equal(count_lines(t, "jouled_process_energy_joules_total{"), 2);
        assert_non_null(strstr(t, "pid=\"100\""));
        assert_non_null(strstr(t, "pid=\"101\""));
        free(t);
        /* pid 100 ends: its last interval shows, then pid 111 takes its slot. */
        f.procs[0] = (ProcessDelta) { .info = &f.info[0] };
        f.info[0].exited = true;
        assert_int_equal(add(m, &f.ir, 0), 0);
        f.ir.n_procs = 0;
        assert_int_equal(add(m, &f.ir, 0), 0);
        f.procs[0] = (ProcessDelta) { .info = &f.info[11], .cpu_ns = 1 };
        f.ir.n_procs = 1;
        assert_int_equal(add(m, &f.ir, 0), 0);
        assert_int_equal(metrics_format(m, &t, NULL), 0);
        assert_null(strstr(t, "pid=\"100\""));
        assert_non_null(strstr(t, "pid=\"101\""));
        assert_double_equal(sample(t, "jouled_process_energy_joules_total{pid=\"111\",comm=\"p11\",unit=\"a.service\",user=\"root\",estimated=\"true\"}"), 1000, 1e-9);
        free(t);
        metrics_free(m);
}

static void test_log_ratelimit(void **state) {
        LogRateLimit rl = {};
        uint64_t sup, allowed = 0, t0 = 5000000000;

        for (unsigned i = 0; i < 1000; i++) {
                allowed += log_ratelimit_test(&rl, t0 + i * 1000000, &sup);
                assert_int_equal(sup, 0);
        }
        assert_int_equal(allowed, METRICS_LOG_BURST);
        assert_true(log_ratelimit_test(&rl, t0 + METRICS_LOG_WINDOW_NS, &sup));
        assert_int_equal(sup, 1000 - METRICS_LOG_BURST);
        assert_true(log_ratelimit_test(&rl, t0 + METRICS_LOG_WINDOW_NS + 1, &sup));
        assert_int_equal(sup, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counters_accumulate),
                cmocka_unit_test(test_top_n_and_escaping),
                cmocka_unit_test(test_gone_processes_forgotten_invalid_domains_skipped),
                cmocka_unit_test(test_textfile),
                cmocka_unit_test(test_parse_listen),
                cmocka_unit_test(test_health_host_total_and_info),
                cmocka_unit_test(test_slice_container_series),
                cmocka_unit_test(test_with_idle_and_idle_estimates),
                cmocka_unit_test(test_hostile_names_valid_utf8),
                cmocka_unit_test(test_idle_expiry_and_comeback),
                cmocka_unit_test(test_churn_capped_other_monotonic),
                cmocka_unit_test(test_heavy_newcomer_takes_a_slot),
                cmocka_unit_test(test_process_series_for_its_life),
                cmocka_unit_test(test_log_ratelimit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
