/* SPDX-License-Identifier: GPL-2.0-or-later */
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counters_accumulate),
                cmocka_unit_test(test_top_n_and_escaping),
                cmocka_unit_test(test_gone_processes_forgotten_invalid_domains_skipped),
                cmocka_unit_test(test_textfile),
                cmocka_unit_test(test_parse_listen),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
