/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's query API against a database written by the store itself. */
#include <ftw.h>
#include <math.h>
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
#include "store-query.h"
#include "store.h"
#include "util.h"

/* Three raw intervals of 1 s from T0. Domains package-0 (host total, 4 J
 * idle, 0.5 J unattributed of which 0.25 J irq) and core-0 (not host
 * total, 1 J idle). Processes, per interval they appear in:
 *   pid 10 "make", uid 0, session-1.scope in user-0.slice, intervals 0-2:
 *     100 ms CPU, 1 J package, 0.5 J core, 5 wakeups
 *   pid 20 "cc1", uid 1000, a docker container, intervals 1-2:
 *     200 ms CPU, 2 J package, 1 J core, 1 wakeup
 *   pid 2 "kworker/0:1", a kernel thread, interval 0: 10 ms CPU, no energy.
 * Every figure is a multiple of 1/8, so that sums are exact. */
#define T0 (UINT64_C(1700000000) * NSEC_PER_SEC)
#define N_INTERVALS 3
#define CONTAINER_ID "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

typedef struct Fixture {
        char dir[64];
        char path[128];
        Store *store;
} Fixture;

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        return remove(p);
}

static void write_db(const char *path) {
        EnergyDomain domains[2] = {
                { .name = "package-0", .kind = DOMAIN_PACKAGE, .package = 0 },
                { .name = "core-0", .kind = DOMAIN_CORE, .package = 0 },
        };
        ProcessInfo procs[3] = {
                { .pid = 10, .ppid = 1, .uid = 0, .start_time_ns = 100 * NSEC_PER_SEC, .comm = "make",
                  .exe = (char *) "/usr/bin/make", .unit = (char *) "session-1.scope",
                  .cgroup_path = (char *) "/user.slice/user-0.slice/session-1.scope",
                  .slice = (char *) "user-0.slice" },
                { .pid = 20, .ppid = 10, .uid = 1000, .start_time_ns = 200 * NSEC_PER_SEC, .comm = "cc1",
                  .cgroup_path = (char *) "/docker/" CONTAINER_ID, .container_id = (char *) CONTAINER_ID },
                { .pid = 2, .ppid = 0, .uid = 0, .start_time_ns = 1 * NSEC_PER_SEC, .comm = "kworker/0:1",
                  .kernel_thread = true },
        };
        SourceProbe probes[1] = { { .name = "rapl", .status = SOURCE_USABLE } };
        bool in_use[1] = { true };
        _cleanup_(store_freep) Store *s = NULL;

        assert_int_equal(store_open(path, STORE_CREATE, &s), 0);
        for (unsigned k = 0; k < N_INTERVALS; k++) {
                ProcessDelta deltas[3];
                double pd[3 * 2];
                DomainRecord drec[2];
                size_t n = 0;
                double attributed[2] = {};

                deltas[n] = (ProcessDelta) { .info = &procs[0], .cpu_ns = 100 * NSEC_PER_MSEC, .wakeups = 5 };
                pd[n * 2] = 1.0, pd[n * 2 + 1] = 0.5;
                n++;
                if (k >= 1) {
                        deltas[n] = (ProcessDelta) { .info = &procs[1], .cpu_ns = 200 * NSEC_PER_MSEC, .wakeups = 1 };
                        pd[n * 2] = 2.0, pd[n * 2 + 1] = 1.0;
                        n++;
                }
                if (k == 0) {
                        deltas[n] = (ProcessDelta) { .info = &procs[2], .cpu_ns = 10 * NSEC_PER_MSEC };
                        pd[n * 2] = 0, pd[n * 2 + 1] = 0;
                        n++;
                }
                for (size_t i = 0; i < n; i++)
                        for (size_t d = 0; d < 2; d++)
                                attributed[d] += pd[i * 2 + d];
                drec[0] = (DomainRecord) { .domain = &domains[0], .source = "rapl", .host_total = true, .valid = true,
                                           .measured_j = attributed[0] + 4.0 + 0.5, .idle_j = 4.0,
                                           .attributed_j = attributed[0], .unattributed_j = 0.5, .irq_j = 0.25,
                                           .idle_w = 4.0, .idle_method = "configured" };
                drec[1] = (DomainRecord) { .domain = &domains[1], .source = "rapl", .valid = true,
                                           .measured_j = attributed[1] + 1.0, .idle_j = 1.0,
                                           .attributed_j = attributed[1], .idle_w = 1.0, .idle_method = "configured" };
                IntervalRecord rec = {
                        .start_ns = T0 + k * NSEC_PER_SEC,
                        .end_ns = T0 + (k + 1) * NSEC_PER_SEC,
                        .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC,
                        .n_domains = 2,
                        .domains = drec,
                        .n_procs = n,
                        .procs = deltas,
                        .proc_domain_j = pd,
                };
                assert_int_equal(store_write_interval(s, &rec), 0);
        }
        assert_int_equal(store_set_state(s, "tracker_mode", "procfs"), 0);
        assert_int_equal(store_set_state(s, "self_pid", "10"), 0);
        snprintf(probes[0].reason, sizeof(probes[0].reason), "1 domain");
        assert_int_equal(store_set_probes(s, probes, in_use, 1), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strscpy(f->dir, sizeof(f->dir), "/tmp/test-store-query-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/jouled.db", f->dir);
        write_db(f->path);
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &f->store), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        store_free(f->store);
        nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

#define ALL 0, (uint64_t) INT64_MAX

static void test_totals(void **state) {
        Fixture *f = *state;
        StoreTotals t;

        assert_int_equal(store_query_totals(f->store, ALL, &t), 0);
        assert_int_equal(t.n_intervals, 3);
        assert_int_equal(t.first_start_ns, T0);
        assert_int_equal(t.duration_ns, 3 * NSEC_PER_SEC);
        /* package-0 only (core-0 is not a host total): attributed 1 + 3 + 3 */
        assert_true(t.attributed_j == 7.0);
        assert_true(t.idle_j == 12.0);
        assert_true(t.unattributed_j == 1.5);
        assert_true(t.irq_j == 0.75);
        assert_true(t.measured_j == 7.0 + 12.0 + 1.5);

        /* The range is by end time: (T0 + 1 s, T0 + 2 s] holds interval 1 only. */
        assert_int_equal(store_query_totals(f->store, T0 + NSEC_PER_SEC, T0 + 2 * NSEC_PER_SEC, &t), 0);
        assert_int_equal(t.n_intervals, 1);
        assert_true(t.attributed_j == 3.0);

        /* Nothing in range: zeros. */
        assert_int_equal(store_query_totals(f->store, 0, T0, &t), 0);
        assert_int_equal(t.n_intervals, 0);
        assert_int_equal(t.first_start_ns, 0);
        assert_true(t.measured_j == 0);
}

static void test_sources(void **state) {
        Fixture *f = *state;
        StoreSource *v = NULL;
        size_t n = 0;

        assert_int_equal(store_query_sources(f->store, ALL, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].domain, "core-0");
        assert_string_equal(v[1].domain, "package-0");
        assert_string_equal(v[1].source, "rapl");
        assert_false(v[1].estimated);
        assert_true(v[1].idle_w == 4.0);
        assert_string_equal(v[1].idle_method, "configured");
        store_sources_free(v, n);

        assert_int_equal(store_query_sources(f->store, 0, T0, &v, &n), 0);
        assert_int_equal(n, 0);
        store_sources_free(v, n);

        /* The window: host-total domains only, no idle figures. */
        assert_int_equal(store_query_window_sources(f->store, ALL, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].domain, "package-0");
        assert_true(isnan(v[0].idle_w));
        assert_null(v[0].idle_method);
        store_sources_free(v, n);

        assert_int_equal(store_query_latest_domains(f->store, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].domain, "core-0");
        assert_string_equal(v[1].domain, "package-0");
        store_sources_free(v, n);
}

static const StoreGroupRow *find_text(const StoreGroupRow *v, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (v[i].key.text && strcmp(v[i].key.text, key) == 0)
                        return &v[i];
        return NULL;
}

static void test_groups(void **state) {
        Fixture *f = *state;
        StoreGroupRow *v = NULL;
        const StoreGroupRow *g;
        size_t n = 0;

        /* By process: one row per process, ordered by its id in the store. */
        assert_int_equal(store_query_groups(f->store, GROUP_BY_PROCESS, NULL, ALL, &v, &n), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
                assert_null(v[i].key.text);
                if (i > 0)
                        assert_true(v[i - 1].key.i < v[i].key.i);
        }
        g = NULL;
        for (size_t i = 0; i < n; i++)
                if (v[i].pid == 10)
                        g = &v[i];
        assert_non_null(g);
        assert_string_equal(g->comm, "make");
        assert_string_equal(g->exe, "/usr/bin/make");
        assert_string_equal(g->unit, "session-1.scope");
        assert_int_equal(g->cpu_ns, 300 * NSEC_PER_MSEC);
        assert_int_equal(g->active_ns, 3 * NSEC_PER_SEC);
        assert_int_equal(g->wakeups, 15);
        assert_int_equal(g->ppid, 1);
        assert_true(g->energy_j == 3.0);
        store_group_rows_free(v, n);

        /* By comm: the kernel thread is "[kernel]". */
        assert_int_equal(store_query_groups(f->store, GROUP_BY_COMM, NULL, ALL, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].key.text, "[kernel]");
        assert_string_equal(v[1].key.text, "cc1");
        assert_string_equal(v[2].key.text, "make");
        assert_int_equal(v[1].active_ns, 2 * NSEC_PER_SEC);
        assert_true(v[1].energy_j == 4.0);
        store_group_rows_free(v, n);

        /* By user: integer keys, and the kernel's text one. */
        assert_int_equal(store_query_groups(f->store, GROUP_BY_USER, NULL, ALL, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_non_null(find_text(v, n, "[kernel]"));
        for (size_t i = 0; i < n; i++)
                if (!v[i].key.text)
                        assert_true(v[i].key.i == 0 || v[i].key.i == 1000);
        store_group_rows_free(v, n);

        /* By slice and container: from the cgroup path; none is "-". */
        assert_int_equal(store_query_groups(f->store, GROUP_BY_SLICE, NULL, ALL, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_non_null(g = find_text(v, n, "user-0.slice"));
        assert_true(g->energy_j == 3.0);
        assert_non_null(g = find_text(v, n, "-"));
        assert_true(g->energy_j == 4.0);
        store_group_rows_free(v, n);

        assert_int_equal(store_query_groups(f->store, GROUP_BY_CONTAINER, NULL, ALL, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_non_null(g = find_text(v, n, CONTAINER_ID));
        assert_int_equal(g->cpu_ns, 400 * NSEC_PER_MSEC);
        store_group_rows_free(v, n);

        /* The window of raw intervals: (T0 + 1 s, T0 + 3 s] by unit. */
        assert_int_equal(store_query_window_groups(f->store, GROUP_BY_UNIT, T0 + NSEC_PER_SEC, T0 + 3 * NSEC_PER_SEC,
                                                   &v, &n), 0);
        assert_int_equal(n, 2);
        assert_non_null(g = find_text(v, n, "session-1.scope"));
        assert_int_equal(g->cpu_ns, 200 * NSEC_PER_MSEC);
        assert_int_equal(g->wakeups, 10);
        assert_true(g->energy_j == 2.0);
        assert_non_null(g = find_text(v, n, "-"));
        assert_string_equal(g->comm, "cc1");
        assert_int_equal(g->uid, 1000);
        store_group_rows_free(v, n);
}

static void test_group_domains(void **state) {
        Fixture *f = *state;
        StoreGroupDomain *v = NULL;
        size_t n = 0;

        assert_int_equal(store_query_group_domains(f->store, GROUP_BY_COMM, NULL, ALL, &v, &n), 0);
        /* The kernel thread had no energy: no rows. cc1 and make in two domains each. */
        assert_int_equal(n, 4);
        assert_string_equal(v[0].key.text, "cc1");
        assert_string_equal(v[0].domain, "core-0");
        assert_true(v[0].energy_j == 2.0);
        assert_string_equal(v[1].key.text, "cc1");
        assert_string_equal(v[1].domain, "package-0");
        assert_true(v[1].energy_j == 4.0);
        assert_string_equal(v[3].key.text, "make");
        assert_string_equal(v[3].domain, "package-0");
        assert_true(v[3].energy_j == 3.0);
        store_group_domains_free(v, n);
}

typedef struct Points {
        size_t n, n_text;
        double sum;
} Points;

static int count_point(const StoreEnergyPoint *p, void *userdata) {
        Points *c = userdata;
        assert_true(p->end_ns > p->start_ns);
        c->n++;
        c->n_text += p->key.text != NULL;
        c->sum += p->energy_j;
        return 0;
}

static int stop_point(const StoreEnergyPoint *p, void *userdata) {
        return -ECANCELED;
}

static void test_series(void **state) {
        Fixture *f = *state;
        uint64_t t0, t1;
        Points c = {};

        assert_int_equal(store_query_span(f->store, ALL, &t0, &t1), 0);
        assert_int_equal(t0, T0);
        assert_int_equal(t1, T0 + 3 * NSEC_PER_SEC);

        assert_int_equal(store_query_host_energy(f->store, ALL, count_point, &c), 0);
        assert_int_equal(c.n, 3);
        assert_true(c.sum == 20.5);

        c = (Points) {};
        assert_int_equal(store_query_group_energy(f->store, GROUP_BY_COMM, NULL, ALL, count_point, &c), 0);
        assert_int_equal(c.n, 6);   /* make ×3, cc1 ×2, [kernel] ×1 */
        assert_int_equal(c.n_text, 6);
        assert_true(c.sum == 7.0);

        assert_int_equal(store_query_host_energy(f->store, ALL, stop_point, NULL), -ECANCELED);
}

typedef struct Export {
        size_t n, n_no_domain;
        double host_total_j;
} Export;

static int count_record(const StoreExportRecord *rec, void *userdata) {
        Export *e = userdata;
        e->n++;
        if (!rec->domain) {
                e->n_no_domain++;
                assert_null(rec->source);
                assert_string_equal(rec->comm, "kworker/0:1");
                assert_int_equal(rec->cpu_ns, 10 * NSEC_PER_MSEC);
                assert_true(rec->energy_j == 0);
                assert_false(rec->host_total);
        } else if (rec->host_total)
                e->host_total_j += rec->energy_j;
        if (rec->pid == 20)
                assert_null(rec->exe);
        return 0;
}

static void test_export(void **state) {
        Fixture *f = *state;
        Export e = {};

        assert_int_equal(store_query_export(f->store, ALL, count_record, &e), 0);
        /* make 3 × 2 domains, cc1 2 × 2, the kernel thread one without. */
        assert_int_equal(e.n, 11);
        assert_int_equal(e.n_no_domain, 1);
        assert_true(e.host_total_j == 7.0);
}

typedef struct Dynamic {
        size_t n;
        double sum;
} Dynamic;

static int add_dynamic(const StoreHostDynamic *d, void *userdata) {
        Dynamic *x = userdata;
        assert_string_equal(d->domain, "package-0");
        assert_string_equal(d->source, "rapl");
        x->n++;
        x->sum += d->dynamic_j;
        return 0;
}

static void test_window_and_run(void **state) {
        Fixture *f = *state;
        StoreWindow w;
        Dynamic d = {};
        uint64_t end = 0;

        assert_int_equal(store_query_last_end(f->store, true, &end), 1);
        assert_int_equal(end, T0 + 3 * NSEC_PER_SEC);
        assert_int_equal(store_query_last_end(f->store, false, &end), 1);
        assert_int_equal(end, T0 + 3 * NSEC_PER_SEC);

        assert_int_equal(store_query_window(f->store, T0 + NSEC_PER_SEC, T0 + 3 * NSEC_PER_SEC, &w), 0);
        assert_int_equal(w.n_intervals, 2);
        assert_int_equal(w.duration_ns, 2 * NSEC_PER_SEC);
        assert_true(w.measured_j == 2 * (3.0 + 4.5));
        assert_true(w.idle_j == 8.0);

        /* Raw intervals overlapping (T0 + 0.5 s, T0 + 1.5 s): intervals 0 and 1. */
        assert_int_equal(store_query_host_dynamic(f->store, T0 + 500 * NSEC_PER_MSEC, T0 + 1500 * NSEC_PER_MSEC,
                                                  add_dynamic, &d), 0);
        assert_int_equal(d.n, 2);
        assert_true(d.sum == (1.5) + (3.5));
}

static void test_status(void **state) {
        Fixture *f = *state;
        StoreStateEntry *st = NULL;
        StoreProbe *p = NULL;
        StoreCounts counts;
        size_t n = 0;
        char *v = NULL;
        uint64_t cpu;
        double j;

        assert_int_equal(store_query_state(f->store, "tracker_mode", &v), 0);
        assert_string_equal(v, "procfs");
        free(v);
        assert_int_equal(store_query_state(f->store, "no_such_key", &v), 0);
        assert_null(v);

        assert_int_equal(store_query_state_all(f->store, &st, &n), 0);
        assert_true(n >= 2);
        bool found = false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(st[i].key, "self_pid") == 0) {
                        assert_string_equal(st[i].value, "10");
                        found = true;
                }
        assert_true(found);
        store_state_entries_free(st, n);

        assert_int_equal(store_query_probes(f->store, &p, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(p[0].name, "rapl");
        assert_string_equal(p[0].reason, "1 domain");
        assert_true(p[0].in_use);
        assert_false(p[0].estimated);
        store_probes_free(p, n);

        assert_int_equal(store_query_counts(f->store, &counts), 0);
        assert_int_equal(counts.processes, 3);
        assert_int_equal(counts.intervals, 3);
        assert_int_equal(counts.last_end_ns, (int64_t) (T0 + 3 * NSEC_PER_SEC));

        assert_int_equal(store_query_process_usage(f->store, 10, ALL, &cpu, &j), 0);
        assert_int_equal(cpu, 300 * NSEC_PER_MSEC);
        assert_true(j == 3.0);
        assert_int_equal(store_query_process_usage(f->store, 99, ALL, &cpu, &j), 0);
        assert_int_equal(cpu, 0);
        assert_true(j == 0);
}

static void test_group_by(void **state) {
        assert_string_equal(group_by_to_string(GROUP_BY_CONTAINER), "container");
        assert_int_equal(group_by_from_string("slice"), GROUP_BY_SLICE);
        assert_int_equal(group_by_from_string("host"), _GROUP_BY_INVALID);
        assert_int_equal(group_by_from_string(NULL), _GROUP_BY_INVALID);
        assert_null(group_by_to_string(_GROUP_BY_MAX));
        for (GroupBy b = 0; b < _GROUP_BY_MAX; b++)
                assert_int_equal(group_by_from_string(group_by_to_string(b)), b);

        assert_int_equal(store_group_by_schema(GROUP_BY_PROCESS), 0);
        assert_int_equal(store_group_by_schema(GROUP_BY_USER), 0);
        assert_int_equal(store_group_by_schema(GROUP_BY_SLICE), STORE_SCHEMA_GROUPS);
        assert_int_equal(store_group_by_schema(GROUP_BY_CONTAINER), STORE_SCHEMA_GROUPS);
}

static void test_empty(void **state) {
        Fixture *f = *state;
        _cleanup_(store_freep) Store *s = NULL;
        StoreGroupRow *v = NULL;
        StoreCounts counts;
        char path[160];
        uint64_t end = 7;
        size_t n = 1;

        snprintf(path, sizeof(path), "%s/empty.db", f->dir);
        assert_int_equal(store_open(path, STORE_CREATE, &s), 0);
        assert_int_equal(store_query_last_end(s, true, &end), 0);
        assert_int_equal(end, 7);
        assert_int_equal(store_query_groups(s, GROUP_BY_PROCESS, NULL, ALL, &v, &n), 0);
        assert_int_equal(n, 0);
        assert_null(v);
        assert_int_equal(store_query_counts(s, &counts), 0);
        assert_int_equal(counts.intervals, 0);
        assert_int_equal(counts.last_end_ns, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_totals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
                cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_domains, setup, teardown),
                cmocka_unit_test_setup_teardown(test_series, setup, teardown),
                cmocka_unit_test_setup_teardown(test_export, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_and_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status, setup, teardown),
                cmocka_unit_test(test_group_by),
                cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
