/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "counter-guard.h"
#include "store.h"
#include "store-query.h"
#include "store-sql.h"
#include "util.h"

typedef struct Fixture {
        char dir[64];
        char path[128];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        strscpy(f->dir, sizeof(f->dir), "/tmp/test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/sub/dir/jouled.db", f->dir);
        {
                /* The database's directory exists: STORE_CREATE never makes it. */
                char d[128];
                snprintf(d, sizeof(d), "%s/sub", f->dir);
                assert_int_equal(mkdir(d, 0755), 0);
                snprintf(d, sizeof(d), "%s/sub/dir", f->dir);
                assert_int_equal(mkdir(d, 0755), 0);
        }
        *state = f;
        return 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        return remove(p);
}

static int teardown(void **state) {
        Fixture *f = *state;
        nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static int64_t sql_int(Store *s, const char *sql) {
        sqlite3_stmt *st = NULL;
        int64_t v;
        assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static double sql_double(Store *s, const char *sql) {
        sqlite3_stmt *st = NULL;
        double v;
        assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
        return v;
}

static void write_file(const char *path, const void *data, size_t n) {
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, n, fp), n);
        assert_int_equal(fclose(fp), 0);
}

static size_t read_file(const char *path, char *buf, size_t size) {
        FILE *fp = fopen(path, "re");
        size_t n;
        assert_non_null(fp);
        n = fread(buf, 1, size, fp);
        fclose(fp);
        return n;
}

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

static void test_create_and_migrate(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        struct stat st;
        char dir[160];

        assert_true(store_latest_schema_version() >= 1);
        /* Missing directories are made only when asked for. */
        snprintf(dir, sizeof(dir), "%s/sub/dir", f->dir);
        assert_int_equal(rmdir(dir), 0);
        snprintf(dir, sizeof(dir), "%s/sub", f->dir);
        assert_int_equal(rmdir(dir), 0);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), -ENOENT);
        assert_null(s);
        assert_false(exists(dir));
        assert_int_equal(store_open(f->path, STORE_CREATE | STORE_CREATE_PARENTS, &s), 0);
        assert_int_equal(store_schema_version(s), store_latest_schema_version());
        assert_int_equal(sql_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'intervals'"), 1);
        /* Pragmas are as promised. */
        assert_int_equal(sql_int(s, "PRAGMA foreign_keys"), 1);
        assert_int_equal(sql_int(s, "PRAGMA synchronous"), 1); /* NORMAL */
        {
                sqlite3_stmt *q = NULL;
                assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
                assert_int_equal(sqlite3_step(q), SQLITE_ROW);
                assert_string_equal((const char *) sqlite3_column_text(q, 0), "wal");
                sqlite3_finalize(q);
        }
        s = store_free(s);
        assert_null(s);

        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        snprintf(dir, sizeof(dir), "%s/sub/dir", f->dir);
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0755); /* main() sets umask 022 */
}

/* One writer per database: a second writer is refused while the first
 * holds the lock (also within one process), readers never are, and
 * store_owner() names the holder to other processes. */
static void test_one_writer(void **state) {
        Fixture *f = *state;
        Store *s = NULL, *s2 = NULL, *r = NULL;
        pid_t pid = 1, child;
        bool running = true;
        int status;

        assert_int_equal(store_owner(f->path, &pid, &running), 0);
        assert_false(running);
        assert_int_equal(pid, 0);

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s2), -EBUSY);
        assert_null(s2);
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &r), 0);
        store_free(r);
        /* The refused open did not take the first one's lock away. */
        assert_int_equal(store_open(f->path, STORE_CREATE, &s2), -EBUSY);

        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                pid_t p = 0;
                bool run = false;
                _exit(store_owner(f->path, &p, &run) == 0 && run && p == getppid() ? 0 : 1);
        }
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        store_free(s);
        assert_int_equal(store_owner(f->path, &pid, &running), 0);
        assert_false(running);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s2), 0);
        store_free(s2);
}

/* A symbolic link at the database path (or its lock file) is refused and
 * its target left alone. */
static void test_symlink_refused(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        char target[160], lock[160];
        struct stat st;

        snprintf(target, sizeof(target), "%s/target", f->dir);
        write_file(target, "", 0);
        assert_int_equal(symlink(target, f->path), 0);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), -ELOOP);
        assert_null(s);
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_false(exists(f->dir) && access(strcat(strcpy(lock, target), "-wal"), F_OK) == 0);

        assert_int_equal(unlink(f->path), 0);
        snprintf(lock, sizeof(lock), "%s.lock", f->path);
        assert_int_equal(symlink(target, lock), 0);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), -ELOOP);
        assert_null(s);
}


static void test_reopen_idempotent(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        int64_t objects;

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(store_set_state(s, "pid", "1"), 0);
        objects = sql_int(s, "SELECT count(*) FROM sqlite_master");
        store_free(s);

        for (int i = 0; i < 2; i++) {
                assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
                assert_int_equal(store_schema_version(s), store_latest_schema_version());
                assert_int_equal(sql_int(s, "SELECT count(*) FROM sqlite_master"), objects);
                assert_int_equal(sql_int(s, "SELECT count(*) FROM daemon_state WHERE key = 'pid' AND value = '1'"), 1);
                store_free(s);
        }
        /* A reader sees the same. */
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &s), 0);
        assert_int_equal(store_schema_version(s), store_latest_schema_version());
        assert_int_equal(store_set_state(s, "pid", "2"), -EROFS);
        store_free(s);
}

/* Make a raw SQLite file with the given user_version and one table. */
static void make_sqlite(const char *path, int user_version, const char *table_sql) {
        sqlite3 *db = NULL;
        char sql[128];
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, table_sql, NULL, NULL, NULL), SQLITE_OK);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", user_version);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void assert_refused_untouched(const char *path, int want_error) {
        static char before[65536], after[65536];
        char wal[256];
        size_t nb, na;
        Store *s = NULL;

        nb = read_file(path, before, sizeof(before));
        assert_int_equal(store_open(path, STORE_CREATE, &s), want_error);
        assert_null(s);
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s), want_error);
        assert_null(s);
        assert_int_equal(store_open(path, 0, &s), want_error);
        assert_null(s);
        na = read_file(path, after, sizeof(after));
        assert_int_equal(na, nb);
        assert_memory_equal(before, after, nb);
        snprintf(wal, sizeof(wal), "%s-wal", path);
        assert_false(exists(wal));
}

static void test_newer_schema_refused(void **state) {
        Fixture *f = *state;
        char path[160];
        snprintf(path, sizeof(path), "%s/newer.db", f->dir);
        make_sqlite(path, store_latest_schema_version() + 1,
                    "CREATE TABLE intervals (id INTEGER PRIMARY KEY); CREATE TABLE domains (id); "
                    "CREATE TABLE processes (id); CREATE TABLE samples (id); CREATE TABLE future (x)");
        assert_refused_untouched(path, -EPROTO);
}

static void test_garbage_refused(void **state) {
        Fixture *f = *state;
        char path[160], junk[8192];
        snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char) (i * 7 + 3);
        write_file(path, junk, sizeof(junk));
        assert_refused_untouched(path, -EBADMSG);

        /* A text file, shorter than a header. */
        snprintf(path, sizeof(path), "%s/text.db", f->dir);
        write_file(path, "hello, world\n", 13);
        assert_refused_untouched(path, -EBADMSG);
}

static void test_foreign_sqlite_refused(void **state) {
        Fixture *f = *state;
        char path[160];
        snprintf(path, sizeof(path), "%s/foreign.db", f->dir);
        make_sqlite(path, 0, "CREATE TABLE bookmarks (url TEXT)");
        assert_refused_untouched(path, -EBADMSG);

        /* Another program that uses user_version too. */
        snprintf(path, sizeof(path), "%s/foreign2.db", f->dir);
        make_sqlite(path, 1, "CREATE TABLE notes (body TEXT)");
        assert_refused_untouched(path, -EBADMSG);
}

static void test_reader_never_creates(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        char dir[160];

        snprintf(dir, sizeof(dir), "%s/sub/dir", f->dir);
        assert_int_equal(rmdir(dir), 0);
        snprintf(dir, sizeof(dir), "%s/sub", f->dir);
        assert_int_equal(rmdir(dir), 0);
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &s), -ENOENT);
        assert_null(s);
        assert_false(exists(f->path));
        snprintf(dir, sizeof(dir), "%s/sub", f->dir);
        assert_false(exists(dir));
        /* Neither does a writer that was not asked to create. */
        assert_int_equal(store_open(f->path, 0, &s), -ENOENT);
        assert_false(exists(f->path));
}

/* Two intervals, three processes (two share a pid), two domains. */
static void test_write_and_read_back(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        EnergyDomain pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE, .package = 0 };
        EnergyDomain core = { .name = "core-0", .kind = DOMAIN_CORE, .package = 0 };
        ProcessInfo p[3] = {
                { .pid = 10, .ppid = 1, .uid = 1000, .start_time_ns = 5 * NSEC_PER_SEC, .comm = "make",
                  .exe = (char *) "/usr/bin/make", .unit = (char *) "session-1.scope" },
                { .pid = 11, .ppid = 10, .uid = 1000, .start_time_ns = 6 * NSEC_PER_SEC, .comm = "cc1" },
                /* pid 10 again: another process, started later */
                { .pid = 10, .ppid = 1, .uid = 0, .start_time_ns = 9 * NSEC_PER_SEC, .comm = "sleep" },
        };
        uint64_t t0 = UINT64_C(1700000000) * NSEC_PER_SEC;
        int64_t ids[3] = {};

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);

        for (int k = 0; k < 2; k++) {
                DomainRecord d[2] = {
                        { .domain = &pkg, .source = "rapl", .host_total = true, .valid = true,
                          .measured_j = 10 + k, .idle_j = 4, .attributed_j = 5 + k, .unattributed_j = 1,
                          .idle_w = 4, .idle_method = "online" },
                        { .domain = &core, .source = "rapl", .host_total = false, .valid = k == 0,
                          .measured_j = 6, .idle_j = 2, .attributed_j = 4, .unattributed_j = 0,
                          .idle_w = 2, .idle_method = "online" },
                };
                ProcessDelta deltas[3] = {
                        { .info = &p[0], .cpu_ns = 100 * NSEC_PER_MSEC },
                        { .info = &p[1], .cpu_ns = 200 * NSEC_PER_MSEC },
                        { .info = &p[2], .cpu_ns = 300 * NSEC_PER_MSEC },
                };
                /* row-major by process: {package-0, core-0} */
                double pd[6] = { 1, 0.5, 1.5 + k, 1.5, 2.5, 2 };
                IntervalRecord rec = {
                        .start_ns = t0 + (uint64_t) k * NSEC_PER_SEC,
                        .end_ns = t0 + (uint64_t) (k + 1) * NSEC_PER_SEC,
                        .boot_realtime_ns = t0 - 100 * NSEC_PER_SEC,
                        .n_domains = 2, .domains = d,
                        .n_procs = 3, .procs = deltas, .proc_domain_j = pd,
                };
                assert_int_equal(store_write_interval(s, &rec), 0);
                for (int i = 0; i < 3; i++) {
                        assert_true(p[i].store_id > 0);
                        if (k == 0)
                                ids[i] = p[i].store_id;
                        else
                                assert_int_equal(p[i].store_id, ids[i]); /* cached, same row */
                }
        }

        assert_int_equal(sql_int(s, "SELECT count(*) FROM intervals"), 2);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM domains"), 2);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes"), 3);
        /* pid reuse: two rows for pid 10, told apart by start time */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE pid = 10"), 2);
        assert_int_equal(sql_int(s, "SELECT count(DISTINCT start_boot_ns) FROM processes WHERE pid = 10"), 2);
        assert_int_equal(sql_int(s, "SELECT start_ns FROM processes WHERE comm = 'make'"),
                         (int64_t) (t0 - 95 * NSEC_PER_SEC));
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE comm = 'cc1' AND exe IS NULL "
                                    "AND unit IS NULL"), 1);
        assert_int_equal(sql_int(s, "SELECT count(DISTINCT boot_id) FROM processes"), 1);

        /* core-0 was not valid in the second interval: no row. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM interval_domains"), 3);
        assert_true(sql_double(s, "SELECT total(measured_j) FROM interval_domains WHERE host_total = 1") == 21.0);
        assert_true(sql_double(s, "SELECT total(attributed_j) FROM interval_domains idm JOIN domains d "
                                  "ON d.id = idm.domain_id WHERE d.name = 'package-0'") == 11.0);

        /* samples.energy_j is the host-total (package-0) share only. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM samples"), 6);
        assert_int_equal(sql_int(s, "SELECT sum(cpu_ns) FROM samples"), (int64_t) (1200 * NSEC_PER_MSEC));
        assert_true(sql_double(s, "SELECT total(energy_j) FROM samples") == 1 + 1.5 + 2.5 + 1 + 2.5 + 2.5);
        assert_true(sql_double(s, "SELECT total(s.energy_j) FROM samples s JOIN processes p ON p.id = s.process_id "
                                  "WHERE p.comm = 'cc1'") == 1.5 + 2.5);
        /* sample_domains: all six package-0 rows; core-0 only from the first interval. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM sample_domains"), 6 + 3);
        assert_true(sql_double(s, "SELECT total(sd.energy_j) FROM sample_domains sd JOIN domains d "
                                  "ON d.id = sd.domain_id WHERE d.name = 'core-0'") == 0.5 + 1.5 + 2);
        /* Conservation per host-total domain and interval, as written. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM interval_domains WHERE "
                                    "measured_j != attributed_j + idle_j + unattributed_j"), 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        /* No share of idle and no idle band given: stored as 0 and NULL. */
        assert_true(sql_double(s, "SELECT total(idle_share_j) FROM samples") == 0);
        assert_true(sql_double(s, "SELECT total(idle_share_j) FROM sample_domains") == 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM interval_domains WHERE idle_band_w IS NOT NULL"), 0);
        /* Each process's labels, once each; samples refer to them. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM labels"), 3);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM samples s JOIN labels l ON l.id = s.labels_id "
                                    "WHERE l.comm = 'make' AND l.exe = '/usr/bin/make' AND l.unit = 'session-1.scope'"), 2);
        store_free(s);

        /* A new daemon run (empty cache) finds the same process rows. */
        p[0].store_id = 0;
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        {
                DomainRecord d = { .domain = &pkg, .source = "rapl", .host_total = true, .valid = true,
                                   .measured_j = 1, .attributed_j = 1 };
                ProcessDelta delta = { .info = &p[0], .cpu_ns = 1 };
                double pd = 1;
                IntervalRecord rec = { .start_ns = t0 + 2 * NSEC_PER_SEC, .end_ns = t0 + 3 * NSEC_PER_SEC,
                                       .boot_realtime_ns = t0 - 100 * NSEC_PER_SEC, .n_domains = 1, .domains = &d,
                                       .n_procs = 1, .procs = &delta, .proc_domain_j = &pd };
                assert_int_equal(store_write_interval(s, &rec), 0);
        }
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes"), 3);
        assert_int_equal(p[0].store_id, sql_int(s, "SELECT id FROM processes WHERE comm = 'make'"));
        store_free(s);
}

static void test_invalid_input(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        EnergyDomain pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE };
        ProcessInfo p = { .pid = 1, .comm = "init" };
        ProcessDelta delta = { .info = &p, .cpu_ns = 5 };
        double pd = 0.0 / 0.0;
        DomainRecord d = { .domain = &pkg, .source = "rapl", .host_total = true, .valid = true, .measured_j = 1 };
        IntervalRecord rec = { .start_ns = 2, .end_ns = 1, .n_domains = 1, .domains = &d };

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(store_write_interval(s, &rec), -EINVAL);   /* end before start */
        rec.start_ns = 1;
        rec.end_ns = 2;
        rec.n_procs = 1;
        rec.procs = &delta;
        rec.proc_domain_j = &pd;
        assert_int_equal(store_write_interval(s, &rec), -EINVAL);   /* NaN */
        assert_int_equal(p.store_id, 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM intervals"), 0);
        assert_int_equal(store_set_state(s, NULL, "x"), -EINVAL);
        store_free(s);
}

static void test_probes_and_state(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        SourceProbe probes[2] = {
                { .name = "rapl", .status = SOURCE_MISSING, .reason = "no powercap" },
                { .name = "model", .status = SOURCE_USABLE, .estimated = true, .reason = "always" },
        };
        bool in_use[2] = { false, true };

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(store_set_probes(s, probes, in_use, 2), 0);
        assert_int_equal(store_set_probes(s, probes, in_use, 2), 0);  /* replaced, not added */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM source_probes"), 2);
        assert_int_equal(sql_int(s, "SELECT in_use FROM source_probes WHERE name = 'model' AND "
                                    "status = 'usable' AND estimated = 1"), 1);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM source_probes WHERE name = 'rapl' AND "
                                    "status = 'missing' AND in_use = 0 AND reason = 'no powercap'"), 1);
        assert_int_equal(store_set_state(s, "tracker_mode", "bpf"), 0);
        assert_int_equal(store_set_state(s, "tracker_mode", "procfs"), 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM daemon_state WHERE key = 'tracker_mode' AND "
                                    "value = 'procfs'"), 1);
        store_free(s);
}

static void test_errno_mapping(void **state) {
        assert_int_equal(store_errno(SQLITE_OK), 0);
        assert_int_equal(store_errno(SQLITE_DONE), 0);
        assert_int_equal(store_errno(SQLITE_BUSY), -EBUSY);
        assert_int_equal(store_errno(SQLITE_FULL), -ENOSPC);
        assert_int_equal(store_errno(SQLITE_READONLY), -EROFS);
        assert_int_equal(store_errno(SQLITE_CORRUPT), -EBADMSG);
        assert_int_equal(store_errno(SQLITE_NOTADB), -EBADMSG);
        assert_int_equal(store_errno(SQLITE_NOMEM), -ENOMEM);
        assert_int_equal(store_errno(SQLITE_IOERR_WRITE), -EIO);
        assert_int_equal(store_errno(SQLITE_ERROR), -EIO);
}

/* ---- Rollups, retention, write buffer, command lines -------------------- */

#define T0 (UINT64_C(1700000000) * NSEC_PER_SEC / STORE_HOUR_NS * STORE_HOUR_NS) /* hour-aligned */

typedef struct Sim Sim;
struct Sim {
        EnergyDomain pkg;
        ProcessInfo p[3];
        uint64_t cpu_total;
        double energy_total, measured_total;
        uint64_t step_ns;   /* 0: 10 s */
};

static void sim_init(Sim *sim) {
        *sim = (Sim) {
                .pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE },
                .p = {
                        { .pid = 100, .ppid = 1, .start_time_ns = 1, .comm = "a" },
                        { .pid = 101, .ppid = 1, .start_time_ns = 2, .comm = "b" },
                        { .pid = 102, .ppid = 1, .start_time_ns = 3, .comm = "c" },
                },
        };
}

/* Interval k of 10 s ending at T0 + (k + 1) * 10 s, figures varying with k. */
static int sim_write(Store *s, Sim *sim, uint64_t k, bool buffered) {
        DomainRecord d = { .domain = &sim->pkg, .source = "model", .host_total = true, .valid = true,
                           .measured_j = 3.25 + (double) (k % 7) * 0.1, .idle_j = 1, .attributed_j = 2,
                           .unattributed_j = 0.25 + (double) (k % 7) * 0.1, .idle_w = 0.1, .idle_method = "online" };
        ProcessDelta deltas[3];
        double pd[3];
        size_t n = 0;
        int r;

        for (size_t i = 0; i < 3; i++) {
                if ((k + i) % 3 == 0) /* each process is idle one interval in three: no row */
                        continue;
                deltas[n] = (ProcessDelta) { .info = &sim->p[i], .cpu_ns = 1000003 * (k % 11 + i + 1) };
                pd[n] = 0.001 * (double) (k % 13 + i + 1);
                n++;
        }
        uint64_t step = sim->step_ns ? sim->step_ns : 10 * NSEC_PER_SEC;
        IntervalRecord rec = {
                .start_ns = T0 + k * step, .end_ns = T0 + (k + 1) * step,
                .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC,
                .n_domains = 1, .domains = &d, .n_procs = n, .procs = deltas, .proc_domain_j = pd,
        };
        r = buffered ? store_write_buffered(s, &rec) : store_write_interval(s, &rec);
        if (r >= 0 || buffered) {
                for (size_t i = 0; i < n; i++) {
                        sim->cpu_total += deltas[i].cpu_ns;
                        sim->energy_total += pd[i];
                }
                sim->measured_total += d.measured_j;
        }
        return r;
}

/* Sums over (a, b] as a reader sees them. */
static void range_sums(Store *s, uint64_t a, uint64_t b, int64_t *ret_cpu, double *ret_j, double *ret_measured,
                       int64_t *ret_n) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(store_db(s),
                                            "SELECT (SELECT coalesce(sum(s.cpu_ns), 0) FROM intervals i JOIN samples s "
                                            "ON s.interval_id = i.id WHERE " STORE_RANGE_SQL("i") "), "
                                            "(SELECT total(s.energy_j) FROM intervals i JOIN samples s "
                                            "ON s.interval_id = i.id WHERE " STORE_RANGE_SQL("i") "), "
                                            "(SELECT total(d.measured_j) FROM intervals i JOIN interval_domains d "
                                            "ON d.interval_id = i.id WHERE " STORE_RANGE_SQL("i") "), "
                                            "(SELECT coalesce(sum(" STORE_INTERVAL_COUNT_SQL("i") "), 0) FROM intervals i "
                                            "WHERE " STORE_RANGE_SQL("i") ")",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(st, 1, (int64_t) a);
        sqlite3_bind_int64(st, 2, (int64_t) b);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        *ret_cpu = sqlite3_column_int64(st, 0);
        *ret_j = sqlite3_column_double(st, 1);
        *ret_measured = sqlite3_column_double(st, 2);
        *ret_n = sqlite3_column_int64(st, 3);
        sqlite3_finalize(st);
}

static void maintain_all(Store *s, uint64_t now) {
        int r;
        while ((r = store_maintain(s, now, 1000)) > 0)
                ;
        assert_int_equal(r, 0);
}

static void assert_close(double a, double b) {
        assert_true(fabs(a - b) <= 1e-9 * fmax(1, fabs(b)));
}

static void test_rollups_exact_and_pruned(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreOptions o;
        Sim sim;
        const uint64_t n = 3 * 360 + 17; /* three hours and a bit, 10 s intervals */
        uint64_t now = T0 + n * 10 * NSEC_PER_SEC;
        int64_t cpu, cnt, cpu1, cnt1, cpu2, cnt2;
        double j, m, j1, m1, j2, m2;

        sim_init(&sim);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        store_options_init(&o);
        o.raw_retention_ns = 30 * STORE_MINUTE_NS;
        o.minute_retention_ns = STORE_HOUR_NS;
        o.hour_retention_ns = 0; /* forever */
        assert_int_equal(store_set_options(s, &o), 0);

        for (uint64_t k = 0; k < n; k++) {
                assert_int_equal(sim_write(s, &sim, k, false), 0);
                if (k % 37 == 0) /* maintenance now and then, as the daemon does */
                        maintain_all(s, T0 + (k + 1) * 10 * NSEC_PER_SEC);
        }
        maintain_all(s, now);

        /* All three levels exist; raw older than 30 min and minutes older than 1 h are gone. */
        assert_true(sql_int(s, "SELECT count(*) FROM intervals WHERE level = 2") >= 2);
        assert_true(sql_int(s, "SELECT count(*) FROM intervals WHERE level = 1") > 0);
        assert_true(sql_int(s, "SELECT count(*) FROM intervals WHERE level = 0") > 0);
        assert_true(sql_int(s, "SELECT count(*) FROM intervals WHERE level = 0") < 200);
        {
                char sql[256];
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM intervals WHERE level = 0 AND end_ns <= %" PRIu64,
                         now - 31 * STORE_MINUTE_NS);
                assert_int_equal(sql_int(s, sql), 0);
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM intervals WHERE level = 1 AND end_ns <= %" PRIu64,
                         now - 2 * STORE_HOUR_NS);
                assert_int_equal(sql_int(s, sql), 0);
        }

        /* Over everything: exactly what was written, each interval once. */
        range_sums(s, 0, now, &cpu, &j, &m, &cnt);
        assert_int_equal(cpu, (int64_t) sim.cpu_total);
        assert_close(j, sim.energy_total);
        assert_close(m, sim.measured_total);
        assert_int_equal(cnt, (int64_t) n);

        /* Additive at any hour or minute boundary: nothing counted twice or lost. */
        for (uint64_t cut = T0 + STORE_MINUTE_NS; cut < now; cut += 7 * STORE_MINUTE_NS) {
                range_sums(s, 0, cut, &cpu1, &j1, &m1, &cnt1);
                range_sums(s, cut, now, &cpu2, &j2, &m2, &cnt2);
                if (cut >= now - 30 * STORE_MINUTE_NS || cut % STORE_HOUR_NS == 0 || cut >= T0 + 2 * STORE_HOUR_NS) {
                        assert_int_equal(cpu1 + cpu2, cpu);
                        assert_close(j1 + j2, j);
                        assert_int_equal(cnt1 + cnt2, cnt);
                }
                assert_true(cpu1 + cpu2 <= cpu); /* never more than there is */
        }
        /* A recent short range reads raw intervals: 5 minutes = 30 intervals. */
        range_sums(s, now - 5 * STORE_MINUTE_NS, now, &cpu1, &j1, &m1, &cnt1);
        assert_int_equal(cnt1, 30);

        /* A second maintenance pass changes nothing. */
        maintain_all(s, now);
        range_sums(s, 0, now, &cpu2, &j2, &m2, &cnt2);
        assert_int_equal(cpu2, cpu);
        assert_int_equal(cnt2, cnt);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        store_free(s);
}

/* Days (level 3) roll up from hours; sums stay exact at any cut; the budget
 * is honoured by every call. */
static void test_day_rollups(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreOptions o;
        Sim sim;
        const uint64_t step = 5 * STORE_MINUTE_NS, n = 4 * 24 * 12 + 7; /* four days and a bit */
        uint64_t now = T0 + n * step;
        int64_t cpu, cnt, cpu1, cnt1, cpu2, cnt2;
        double j, m, j1, m1, j2, m2;

        sim_init(&sim);
        sim.step_ns = step;
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        store_options_init(&o);
        o.raw_retention_ns = 2 * STORE_HOUR_NS;
        o.minute_retention_ns = 10 * STORE_HOUR_NS;
        o.hour_retention_ns = 0;
        assert_int_equal(store_set_options(s, &o), 0);
        for (uint64_t k = 0; k < n; k++) {
                assert_int_equal(sim_write(s, &sim, k, false), 0);
                if (k % 5 == 0)
                        maintain_all(s, T0 + (k + 1) * step);
        }
        maintain_all(s, now);
        assert_true(sql_int(s, "SELECT count(*) FROM intervals WHERE level = 3") >= 3);
        range_sums(s, 0, now, &cpu, &j, &m, &cnt);
        assert_int_equal(cpu, (int64_t) sim.cpu_total);
        assert_close(j, sim.energy_total);
        assert_close(m, sim.measured_total);
        assert_int_equal(cnt, (int64_t) n);
        /* A range of whole days and hours reads day rows: few rows read. */
        for (uint64_t cut = T0 + 7 * STORE_MINUTE_NS; cut < now; cut += 97 * STORE_MINUTE_NS) {
                range_sums(s, 0, cut, &cpu1, &j1, &m1, &cnt1);
                range_sums(s, cut, now, &cpu2, &j2, &m2, &cnt2);
                if (cut >= now - 2 * STORE_HOUR_NS || cut % STORE_HOUR_NS == 0 || cut >= now - 10 * STORE_HOUR_NS) {
                        assert_int_equal(cpu1 + cpu2, cpu);
                        assert_close(j1 + j2, j);
                        assert_int_equal(cnt1 + cnt2, cnt);
                }
                assert_true(cpu1 + cpu2 <= cpu);
        }
        /* Whole days only: the range reads day rows. */
        range_sums(s, T0 / STORE_DAY_NS * STORE_DAY_NS + STORE_DAY_NS, T0 / STORE_DAY_NS * STORE_DAY_NS + 2 * STORE_DAY_NS,
                   &cpu1, &j1, &m1, &cnt1);
        assert_int_equal(cnt1, 24 * 12);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

        /* Every call stops near its budget (1 ms here) and resumes. */
        o.hour_retention_ns = STORE_DAY_NS;
        assert_int_equal(store_set_options(s, &o), 0);
        for (int r = 1; r > 0;) {
                uint64_t a = now_ns(CLOCK_MONOTONIC);
                r = store_maintain(s, now, 1);
                assert_true(r >= 0);
                /* One batch past the deadline at most: far below 100 ms. */
                assert_true(now_ns(CLOCK_MONOTONIC) - a < 100 * NSEC_PER_MSEC);
        }
        /* Nothing older than a day (plus the day that straddles it) is left. */
        {
                char sql[256];
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM intervals WHERE level = 2 AND end_ns <= %" PRIu64,
                         now - STORE_DAY_NS);
                assert_int_equal(sql_int(s, sql), 0);
        }
        store_free(s);
}

/* Process rows that nothing refers to any more are pruned (never the newest
 * id, never one still referred to); a live process whose cached id was
 * pruned is written again under a new id. */
static void test_process_pruning(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreOptions o;
        EnergyDomain pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE };
        ProcessInfo storm[50], sleeper = { .pid = 7, .ppid = 1, .start_time_ns = 5, .comm = "sleeper" };
        const uint64_t step = 10 * STORE_MINUTE_NS;
        uint64_t t = T0;
        int64_t sleeper_id, max_id;

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        store_options_init(&o);
        o.raw_retention_ns = STORE_HOUR_NS;
        o.minute_retention_ns = 2 * STORE_HOUR_NS;
        o.hour_retention_ns = 6 * STORE_HOUR_NS;
        assert_int_equal(store_set_options(s, &o), 0);

        /* A fork storm at the start, and a process that ran once then slept. */
        for (size_t i = 0; i < 50; i++)
                storm[i] = (ProcessInfo) { .pid = (uint32_t) (1000 + i), .ppid = 1, .start_time_ns = 100 + i, .comm = "storm" };
        for (int k = 0; k < 3 * 24 * 6; k++, t += step) {
                DomainRecord d = { .domain = &pkg, .source = "model", .host_total = true, .valid = true,
                                   .measured_j = 1, .idle_j = 1 };
                ProcessDelta deltas[51];
                size_t np = 0;
                if (k == 0) {
                        for (size_t i = 0; i < 50; i++)
                                deltas[np++] = (ProcessDelta) { .info = &storm[i], .cpu_ns = 1000 };
                        deltas[np++] = (ProcessDelta) { .info = &sleeper, .cpu_ns = 1000 };
                }
                IntervalRecord rec = { .start_ns = t, .end_ns = t + step, .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC,
                                       .n_domains = 1, .domains = &d, .n_procs = np, .procs = deltas };
                ProcessInfo other = { .pid = 9, .ppid = 1, .start_time_ns = 9, .comm = "steady" };
                ProcessDelta od = { .info = &other, .cpu_ns = 5 };
                if (k > 0) {
                        rec.n_procs = 1;
                        rec.procs = &od;
                }
                assert_int_equal(store_write_interval(s, &rec), 0);
                maintain_all(s, t + step);
        }
        sleeper_id = sleeper.store_id;
        assert_true(sleeper_id > 0);
        /* The storm and the sleeper are gone; "steady" (still referred to) stays. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE comm IN ('storm', 'sleeper')"), 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE comm = 'steady'"), 1);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        max_id = sql_int(s, "SELECT max(id) FROM processes");

        /* The sleeper wakes up with its stale cached id: written again, new id. */
        {
                DomainRecord d = { .domain = &pkg, .source = "model", .host_total = true, .valid = true, .measured_j = 1 };
                ProcessDelta pd = { .info = &sleeper, .cpu_ns = 77 };
                IntervalRecord rec = { .start_ns = t, .end_ns = t + step, .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC,
                                       .n_domains = 1, .domains = &d, .n_procs = 1, .procs = &pd };
                assert_int_equal(store_write_interval(s, &rec), 0);
        }
        assert_true(sleeper.store_id > max_id);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM samples s JOIN processes p ON p.id = s.process_id "
                                    "WHERE p.comm = 'sleeper' AND s.cpu_ns = 77"), 1);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        store_free(s);
}

static void test_write_buffer(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreQueueStats qs;
        StoreOptions o;
        Sim sim;
        int64_t cpu, cnt;
        double j, m;

        sim_init(&sim);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(sim_write(s, &sim, 0, true), 0);

        /* Writes fail (as on a full disk): intervals wait in memory, in order. */
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = ON", NULL, NULL, NULL), SQLITE_OK);
        for (uint64_t k = 1; k <= 5; k++)
                assert_true(sim_write(s, &sim, k, true) < 0);
        store_queue_stats(s, &qs);
        assert_int_equal(qs.queued, 5);
        assert_int_equal(qs.dropped, 0);
        /* Maintenance never rolls up past a buffered interval. */
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = OFF", NULL, NULL, NULL), SQLITE_OK);
        maintain_all(s, T0 + 2 * STORE_HOUR_NS);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM intervals WHERE level > 0"), 0);

        /* Space is back: the next write writes them all, oldest first. */
        assert_int_equal(sim_write(s, &sim, 6, true), 0);
        store_queue_stats(s, &qs);
        assert_int_equal(qs.queued, 0);
        assert_int_equal(qs.written_late, 5);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM intervals"), 7);
        range_sums(s, 0, T0 + STORE_HOUR_NS, &cpu, &j, &m, &cnt);
        assert_int_equal(cpu, (int64_t) sim.cpu_total);
        assert_close(j, sim.energy_total);
        /* No gap: each interval starts where the previous one ended. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM intervals a JOIN intervals b ON b.start_ns = a.end_ns"), 6);

        /* Bounded: with room for about one interval, the oldest are dropped and counted. */
        store_options_init(&o);
        o.queue_max_bytes = 1;
        assert_int_equal(store_set_options(s, &o), 0);
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = ON", NULL, NULL, NULL), SQLITE_OK);
        for (uint64_t k = 7; k < 10; k++)
                assert_true(sim_write(s, &sim, k, true) < 0);
        store_queue_stats(s, &qs);
        assert_int_equal(qs.queued, 1);
        assert_int_equal(qs.dropped, 2);
        store_free(s); /* frees what is still buffered (valgrind/ASan check it) */
}

/* An interval waiting in the write buffer keeps copies of its processes'
 * strings: the tracker may change or free its own before the write. */
static void test_write_buffer_copies_strings(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreQueueStats qs;
        Sim sim;
        char unit[] = "db.service", cgroup[] = "/system.slice/db.service", slice[] = "system.slice",
             container[] = "c0ffee", cmdline[] = "mysql --port 3306";
        char *strings[] = { unit, cgroup, slice, container, cmdline };

        sim_init(&sim);
        for (size_t i = 0; i < ELEMENTSOF(sim.p); i++) {
                sim.p[i].unit = unit;
                sim.p[i].cgroup_path = cgroup;
                sim.p[i].slice = slice;
                sim.p[i].container_id = container;
                sim.p[i].cmdline = cmdline;
        }
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = ON", NULL, NULL, NULL), SQLITE_OK);
        assert_true(sim_write(s, &sim, 1, true) < 0); /* processes a and b */
        store_queue_stats(s, &qs);
        assert_int_equal(qs.queued, 1);

        for (size_t j = 0; j < ELEMENTSOF(strings); j++)
                memset(strings[j], 'x', strlen(strings[j]));
        for (size_t i = 0; i < ELEMENTSOF(sim.p); i++)
                sim.p[i].unit = sim.p[i].cgroup_path = sim.p[i].slice = sim.p[i].container_id =
                        sim.p[i].cmdline = NULL;
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = OFF", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sim_write(s, &sim, 2, true), 0); /* processes a and c */
        store_queue_stats(s, &qs);
        assert_int_equal(qs.queued, 0);
        assert_int_equal(qs.written_late, 1);
        /* a and b as buffered; a's NULLs in interval 2 keep what its row has. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE unit = 'db.service' AND "
                                    "cgroup_path = '/system.slice/db.service' AND slice = 'system.slice' AND "
                                    "container_id = 'c0ffee' AND cmdline = 'mysql --port 3306'"), 2);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE comm = 'c' AND unit IS NULL AND "
                                    "cgroup_path IS NULL AND slice IS NULL AND container_id IS NULL AND "
                                    "cmdline IS NULL"), 1);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes"), 3);
        store_free(s);
}

/* The store writes the command line the tracker gives it (only when command
 * lines are kept), and none when it gives none. */
static void test_cmdline_only_when_asked(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        Sim sim;

        sim_init(&sim);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(sim_write(s, &sim, 1, false), 0); /* default: off */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes"), 2);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE cmdline IS NOT NULL"), 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE comm IS NOT NULL"), 2);
        for (size_t i = 0; i < ELEMENTSOF(sim.p); i++)
                sim.p[i].cmdline = (char *) "mysql --password=hunter2";
        assert_int_equal(sim_write(s, &sim, 2, false), 0); /* one process not yet written */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes WHERE cmdline = 'mysql --password=hunter2'"), 1);
        store_free(s);
}

/* A database deleted or replaced under the writer is noticed and made
 * again; what is written next lands in the new file, under new process ids. */
static void test_deleted_database_recreated(void **state) {
        Fixture *f = *state;
        Store *s = NULL, *r = NULL;
        char moved[160];
        Sim sim;

        sim_init(&sim);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(store_verify_file(s), 0);
        assert_int_equal(sim_write(s, &sim, 1, false), 0);
        assert_int_equal(sim_write(s, &sim, 2, false), 0);

        assert_int_equal(unlink(f->path), 0);
        assert_int_equal(store_verify_file(s), 1);
        assert_true(exists(f->path));
        assert_int_equal(store_verify_file(s), 0);
        assert_int_equal(sim_write(s, &sim, 3, false), 0);
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &r), 0);
        assert_int_equal(sql_int(r, "SELECT count(*) FROM intervals"), 1);
        assert_int_equal(sql_int(r, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        assert_int_equal(sql_int(r, "SELECT count(DISTINCT pid) FROM processes"),
                         sql_int(r, "SELECT count(*) FROM processes"));
        assert_true(sql_int(r, "SELECT count(*) FROM samples") > 0);
        store_free(r);

        /* Replaced by a rename: the new file is used. */
        snprintf(moved, sizeof(moved), "%s/other.db", f->dir);
        assert_int_equal(rename(f->path, moved), 0);
        write_file(f->path, "", 0);
        assert_int_equal(store_verify_file(s), 1);
        assert_int_equal(sim_write(s, &sim, 4, false), 0);
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &r), 0);
        assert_int_equal(sql_int(r, "SELECT count(*) FROM intervals"), 1);
        assert_int_equal(sql_int(r, "SELECT min(start_ns) FROM intervals") > 0, 1);
        store_free(r);
        store_free(s);
}

/* A backward wall-clock step: intervals that end at or before what is
 * already rolled up are still read, rolled up and kept past raw retention.
 * A forward step leaves no unrolled hole. */
static void test_clock_steps(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreOptions o;
        Sim sim;
        const uint64_t n = 2 * 360 + 30; /* two hours and five minutes of 10 s intervals */
        uint64_t now = T0 + n * 10 * NSEC_PER_SEC, k;
        int64_t cpu, cnt;
        double j, m;

        sim_init(&sim);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        store_options_init(&o);
        o.raw_retention_ns = 10 * STORE_MINUTE_NS;
        o.minute_retention_ns = 0;
        o.hour_retention_ns = 0;
        assert_int_equal(store_set_options(s, &o), 0);
        for (k = 0; k < n; k++)
                assert_int_equal(sim_write(s, &sim, k, false), 0);
        maintain_all(s, now);
        assert_true(sql_int(s, "SELECT count(*) FROM intervals WHERE level = 2") >= 1);

        /* The clock goes back 2 minutes, then (later) 2 hours: 24 and 36
         * intervals again over times already rolled up into minutes and hours. */
        for (k = n - 12; k < n + 12; k++)
                assert_int_equal(sim_write(s, &sim, k, false), 0);
        for (k = 30; k < 66; k++)
                assert_int_equal(sim_write(s, &sim, k, false), 0);
        range_sums(s, 0, UINT64_MAX / 2, &cpu, &j, &m, &cnt);
        assert_int_equal(cpu, (int64_t) sim.cpu_total);
        assert_close(j, sim.energy_total);
        assert_close(m, sim.measured_total);
        assert_int_equal(cnt, (int64_t) (n + 24 + 36));

        /* Forward 2 hours: maintenance past it and past raw retention keeps everything. */
        sim.step_ns = 0;
        for (k = n + 12 + 720; k < n + 12 + 720 + 30; k++)
                assert_int_equal(sim_write(s, &sim, k, false), 0);
        now = T0 + (n + 12 + 720 + 30) * 10 * NSEC_PER_SEC + STORE_HOUR_NS;
        maintain_all(s, now);
        maintain_all(s, now);
        range_sums(s, 0, UINT64_MAX / 2, &cpu, &j, &m, &cnt);
        assert_int_equal(cpu, (int64_t) sim.cpu_total);
        assert_close(j, sim.energy_total);
        assert_close(m, sim.measured_total);
        assert_int_equal(cnt, (int64_t) (n + 24 + 36 + 30));
        assert_int_equal(sql_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        store_free(s);
}

static uint64_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? 0 : (uint64_t) st.st_size;
}

/* The WAL stays bounded while the writer runs: 200 active processes per
 * interval, maintenance as the daemon does it (once a minute), and a reader
 * that holds a read transaction open a fifth of the time. */
static void test_wal_bounded(void **state) {
        Fixture *f = *state;
        Store *s = NULL, *r = NULL;
        EnergyDomain pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE };
        ProcessInfo *p = calloc(200, sizeof(ProcessInfo));
        ProcessDelta deltas[200];
        double pd[200];
        char wal[160];
        uint64_t max_wal = 0, db_size;
        const int n = 1500;

        assert_non_null(p);
        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(store_open(f->path, STORE_READ_ONLY, &r), 0);
        for (int i = 0; i < 200; i++) {
                p[i] = (ProcessInfo) { .pid = 1000 + i, .ppid = 1, .start_time_ns = (uint64_t) i + 1 };
                snprintf(p[i].comm, sizeof(p[i].comm), "proc-%d", i);
        }
        for (int k = 0; k < n; k++) {
                DomainRecord d = { .domain = &pkg, .source = "model", .host_total = true, .valid = true,
                                   .measured_j = 10, .idle_j = 1, .attributed_j = 9, .idle_w = 1,
                                   .idle_method = "online" };
                for (int i = 0; i < 200; i++) {
                        deltas[i] = (ProcessDelta) { .info = &p[i], .cpu_ns = 1000 + (uint64_t) (k * i) };
                        pd[i] = 0.045;
                }
                IntervalRecord rec = {
                        .start_ns = T0 + (uint64_t) k * NSEC_PER_SEC, .end_ns = T0 + (uint64_t) (k + 1) * NSEC_PER_SEC,
                        .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC,
                        .n_domains = 1, .domains = &d, .n_procs = 200, .procs = deltas, .proc_domain_j = pd,
                };
                /* The reader: a read transaction over 20 intervals of every 100. */
                if (k % 100 == 10)
                        assert_int_equal(sqlite3_exec(store_db(r), "BEGIN; SELECT count(*) FROM intervals;", NULL,
                                                      NULL, NULL), SQLITE_OK);
                if (k % 100 == 30)
                        assert_int_equal(sqlite3_exec(store_db(r), "COMMIT", NULL, NULL, NULL), SQLITE_OK);
                assert_int_equal(store_write_interval(s, &rec), 0);
                /* Once a minute at the shortest interval (0.05 s). */
                if (k % 1200 == 0)
                        assert_true(store_maintain(s, T0 + (uint64_t) (k + 1) * NSEC_PER_SEC, 20) >= 0);
                max_wal = MAX(max_wal, file_size(wal));

        }
        db_size = file_size(f->path);
        print_message("WAL at most %" PRIu64 " bytes, database %" PRIu64 " bytes after %d intervals\n", max_wal,
                      db_size, n);
        assert_true(max_wal <= UINT64_C(8) * 1024 * 1024);
        /* The data went into the database file, not only the WAL. */
        assert_true(db_size > UINT64_C(8) * 1024 * 1024);
        store_free(r);
        store_free(s);
        free(p);
}

static void test_counter_guard(void **state) {
        double j = -1;
        assert_int_equal(energy_delta_check(1000000, 3000000, 1.0, 10, &j), 0);
        assert_true(j == 2.0);
        /* backwards without a wrap */
        j = -1;
        assert_int_equal(energy_delta_check(3000000, 1000000, 1.0, 10, &j), -ERANGE);
        assert_true(j == -1);
        /* a jump beyond the hardware maximum: 1 MJ in 1 s from a 100 W domain */
        assert_int_equal(energy_delta_check(0, UINT64_C(1000000000000), 1.0, 100, &j), -E2BIG);
        /* just within the margin for timer jitter */
        assert_int_equal(energy_delta_check(0, 150000000, 1.0, 100, &j), 0);
        /* no known maximum: no bound */
        assert_int_equal(energy_delta_check(0, UINT64_C(1000000000000), 1.0, 0, &j), 0);
        assert_int_equal(energy_delta_check(5, 5, 0, 100, &j), 0);
        assert_true(j == 0);
}


/* ---- Labels per interval ------------------------------------------------ */

/* Expected totals per group key (the text of the key, or the uid). */
typedef struct LabelTotal {
        char key[64];
        int64_t cpu;
        double energy, idle_share, pkg, dram;
} LabelTotal;

typedef struct LabelSim {
        LabelTotal t[_GROUP_BY_MAX][16];
        size_t n[_GROUP_BY_MAX];
        int64_t cpu;
        double energy, idle_share;
} LabelSim;

static const char *label_key(const ProcessInfo *p, GroupBy by, char *buf, size_t size) {
        if (p->kernel_thread) {
                snprintf(buf, size, "[kernel]");
                return buf;
        }
        switch (by) {
        case GROUP_BY_COMM:
                snprintf(buf, size, "%s", p->comm);
                break;
        case GROUP_BY_UNIT:
                snprintf(buf, size, "%s", p->unit ?: "-");
                break;
        case GROUP_BY_USER:
                snprintf(buf, size, "%u", p->uid);
                break;
        case GROUP_BY_SLICE:
                snprintf(buf, size, "%s", p->slice ?: "-");
                break;
        case GROUP_BY_CONTAINER:
                snprintf(buf, size, "%s", p->container_id ?: "-");
                break;
        default:
                snprintf(buf, size, "?");
        }
        return buf;
}

static void label_add(LabelSim *ls, const ProcessInfo *p, int64_t cpu, double pkg, double dram, double idle) {
        for (GroupBy by = GROUP_BY_COMM; by < _GROUP_BY_MAX; by++) {
                char k[64];
                size_t i;

                label_key(p, by, k, sizeof(k));
                for (i = 0; i < ls->n[by]; i++)
                        if (strcmp(ls->t[by][i].key, k) == 0)
                                break;
                if (i == ls->n[by]) {
                        assert_true(i < ELEMENTSOF(ls->t[by]));
                        strscpy(ls->t[by][i].key, sizeof(ls->t[by][i].key), k);
                        ls->n[by]++;
                }
                ls->t[by][i].cpu += cpu;
                ls->t[by][i].energy += pkg + dram;
                ls->t[by][i].idle_share += idle;
                ls->t[by][i].pkg += pkg;
                ls->t[by][i].dram += dram;
        }
        ls->cpu += cpu;
        ls->energy += pkg + dram;
        ls->idle_share += idle;
}

/* Every grouping of (a, b] as the query API reads it equals the expected
 * totals: CPU time exactly, energies (dynamic, share of idle, per domain)
 * to rounding. */
static void label_check(Store *s, const LabelSim *ls, uint64_t a, uint64_t b) {
        for (GroupBy by = GROUP_BY_COMM; by < _GROUP_BY_MAX; by++) {
                StoreGroupRow *rows = NULL;
                StoreGroupDomain *dv = NULL;
                size_t n = 0, nd = 0;

                assert_int_equal(store_query_groups(s, by, NULL, a, b, &rows, &n), 0);
                assert_int_equal(n, ls->n[by]);
                assert_int_equal(store_query_group_domains(s, by, NULL, a, b, &dv, &nd), 0);
                for (size_t i = 0; i < ls->n[by]; i++) {
                        const LabelTotal *t = &ls->t[by][i];
                        bool found = false;
                        double pkg = 0, dram = 0;

                        for (size_t j = 0; j < n; j++) {
                                char k[64];
                                if (rows[j].key.text)
                                        snprintf(k, sizeof(k), "%s", rows[j].key.text);
                                else
                                        snprintf(k, sizeof(k), "%" PRId64, rows[j].key.i);
                                if (strcmp(k, t->key) != 0)
                                        continue;
                                found = true;
                                assert_int_equal((int64_t) rows[j].cpu_ns, t->cpu);
                                assert_close(rows[j].energy_j, t->energy);
                                assert_close(rows[j].idle_share_j, t->idle_share);
                                for (size_t d = 0; d < nd; d++) {
                                        if (!store_key_equal(&dv[d].key, &rows[j].key))
                                                continue;
                                        if (strcmp(dv[d].domain, "package-0") == 0)
                                                pkg += dv[d].energy_j;
                                        else
                                                dram += dv[d].energy_j;
                                }
                        }
                        if (!found)
                                fail_msg("grouping %d: no group %s", (int) by, t->key);
                        assert_close(pkg, t->pkg);
                        assert_close(dram, t->dram);
                }
                store_group_rows_free(rows, n);
                store_group_domains_free(dv, nd);
        }
}

/* A process's CPU time and energy go to the labels it had in each interval:
 * "sh" exec's "burn" (comm and exe change), then moves from a.service to
 * b.service in another slice and a container. Totals per group are exact at
 * every rollup level (raw, minutes, hours, days) and at every cut; per
 * process they are kept only as long as the raw rows are. */
static void test_labels_follow_process(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreOptions o;
        StoreTotals tot;
        EnergyDomain pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE };
        EnergyDomain dram = { .name = "dram-0", .kind = DOMAIN_DRAM };
        ProcessInfo mover = { .pid = 10, .ppid = 1, .uid = 1000, .start_time_ns = 5, .comm = "sh",
                              .exe = (char *) "/usr/bin/dash", .unit = (char *) "a.service",
                              .cgroup_path = (char *) "/system.slice/a.service", .slice = (char *) "system.slice" };
        ProcessInfo steady = { .pid = 11, .ppid = 1, .uid = 0, .start_time_ns = 6, .comm = "burn",
                               .exe = (char *) "/usr/bin/burn", .unit = (char *) "a.service",
                               .cgroup_path = (char *) "/system.slice/a.service", .slice = (char *) "system.slice" };
        ProcessInfo kthread = { .pid = 2, .ppid = 0, .start_time_ns = 1, .comm = "kworker/0:1", .kernel_thread = true };
        const uint64_t step = 10 * NSEC_PER_SEC;
        const uint64_t n = 2 * 24 * 360 + 7 * 360 + 11; /* two days, seven hours and a bit */
        const uint64_t now = T0 + n * step;
        LabelSim *ls = calloc(1, sizeof(LabelSim));

        assert_non_null(ls);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        store_options_init(&o);
        o.raw_retention_ns = 3 * STORE_HOUR_NS;
        o.minute_retention_ns = 6 * STORE_HOUR_NS;
        o.hour_retention_ns = 0;
        assert_int_equal(store_set_options(s, &o), 0);

        for (uint64_t k = 0; k < n; k++) {
                ProcessInfo *p[3] = { &mover, &steady, &kthread };
                ProcessDelta deltas[3];
                double pd[6], idle[6], idle_total = 0;
                DomainRecord d[2];

                if (k == n / 3) { /* exec */
                        strscpy(mover.comm, sizeof(mover.comm), "burn");
                        mover.exe = (char *) "/usr/bin/burn";
                }
                if (k == 2 * n / 3) { /* cgroup move, into a container */
                        mover.unit = (char *) "docker-c0ffee.scope";
                        mover.cgroup_path = (char *) "/machine.slice/docker-c0ffee.scope";
                        mover.slice = (char *) "machine.slice";
                        mover.container_id = (char *) "c0ffee";
                }
                for (size_t i = 0; i < 3; i++) {
                        deltas[i] = (ProcessDelta) { .info = p[i], .cpu_ns = 1000003 * (k % 13 + i + 1), .wakeups = i };
                        pd[2 * i] = 0.125 * (double) ((k + i) % 7);
                        pd[2 * i + 1] = 0.0625 * (double) ((k + 2 * i) % 5);
                        idle[2 * i] = 0.25 * (double) (i + 1);
                        idle[2 * i + 1] = 0.125;
                        idle_total += idle[2 * i] + idle[2 * i + 1];
                        label_add(ls, p[i], (int64_t) deltas[i].cpu_ns, pd[2 * i], pd[2 * i + 1], idle[2 * i] + idle[2 * i + 1]);
                }
                d[0] = (DomainRecord) { .domain = &pkg, .source = "rapl", .host_total = true, .valid = true,
                                        .measured_j = 10, .idle_j = 1.5, .attributed_j = 5, .unattributed_j = 3.5,
                                        .idle_w = 0.15, .idle_band_w = 0.05, .idle_method = "regression" };
                d[1] = (DomainRecord) { .domain = &dram, .source = "rapl", .host_total = true, .valid = true,
                                        .measured_j = 4, .idle_j = 0.375, .attributed_j = 2, .unattributed_j = 1.625,
                                        .idle_w = 0.0375, .idle_method = "prior" };
                IntervalRecord rec = { .start_ns = T0 + k * step, .end_ns = T0 + (k + 1) * step,
                                       .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC, .n_domains = 2, .domains = d,
                                       .n_procs = 3, .procs = deltas, .proc_domain_j = pd, .proc_idle_share_j = idle };
                assert_int_equal(store_write_interval(s, &rec), 0);
                if (k % 29 == 0)
                        maintain_all(s, rec.end_ns);
                /* Conservation of the share-of-idle view, as written. */
                assert_close(idle_total, 1.5 + 0.375);
        }
        maintain_all(s, now);
        /* Every level is there; the raw rows left are the last 3 hours'. */
        for (int level = 0; level <= 3; level++) {
                char sql[96];
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM intervals WHERE level = %d", level);
                assert_true(sql_int(s, sql) > 0);
        }
        /* Rollups are per label set, never per process. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM samples s JOIN intervals i ON i.id = s.interval_id "
                                    "WHERE i.level > 0 AND s.process_id != 0"), 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM labels"), 5);
        assert_true(sql_double(s, "SELECT max(idle_band_w) FROM interval_domains idm JOIN intervals i "
                                  "ON i.id = idm.interval_id WHERE i.level = 0") == 0.05);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM interval_domains WHERE idle_method = 'prior' "
                                    "AND idle_band_w IS NOT NULL"), 0);

        label_check(s, ls, 0, now);
        assert_int_equal(store_query_totals(s, 0, now, &tot), 0);
        assert_close(tot.idle_share_j, ls->idle_share);
        assert_close(tot.idle_share_j, tot.idle_j); /* every interval's idle shared out */
        assert_true(tot.process_detail_pruned);

        /* Cut anywhere at whole hours: the two halves add up to the whole. */
        for (uint64_t cut = T0 + STORE_HOUR_NS; cut < now; cut += 5 * STORE_HOUR_NS) {
                StoreGroupRow *r1 = NULL, *r2 = NULL;
                size_t n1 = 0, n2 = 0;
                int64_t c = 0;
                double e = 0, is = 0;

                assert_int_equal(store_query_groups(s, GROUP_BY_COMM, NULL, 0, cut, &r1, &n1), 0);
                assert_int_equal(store_query_groups(s, GROUP_BY_COMM, NULL, cut, now, &r2, &n2), 0);
                for (size_t i = 0; i < n1; i++) {
                        c += (int64_t) r1[i].cpu_ns;
                        e += r1[i].energy_j;
                        is += r1[i].idle_share_j;
                }
                for (size_t i = 0; i < n2; i++) {
                        c += (int64_t) r2[i].cpu_ns;
                        e += r2[i].energy_j;
                        is += r2[i].idle_share_j;
                }
                assert_int_equal(c, ls->cpu);
                assert_close(e, ls->energy);
                assert_close(is, ls->idle_share);
                store_group_rows_free(r1, n1);
                store_group_rows_free(r2, n2);
        }

        /* By process: the raw rows only, and the range says so. */
        {
                StoreGroupRow *rows = NULL;
                size_t nr = 0;

                assert_int_equal(store_query_groups(s, GROUP_BY_PROCESS, NULL, now - STORE_HOUR_NS, now, &rows, &nr), 0);
                assert_int_equal(nr, 3);
                for (size_t i = 0; i < nr; i++)
                        if (rows[i].pid == 10)
                                assert_string_equal(rows[i].unit, "docker-c0ffee.scope");
                store_group_rows_free(rows, nr);
                assert_int_equal(store_query_totals(s, now - STORE_HOUR_NS, now, &tot), 0);
                assert_false(tot.process_detail_pruned);

                /* Older than the raw rows: the label sets, each once, with exact totals. */
                int64_t c = 0;
                assert_int_equal(store_query_groups(s, GROUP_BY_PROCESS, NULL, 0, now, &rows, &nr), 0);
                assert_int_equal(nr, 5);
                for (size_t i = 0; i < nr; i++) {
                        assert_int_equal(rows[i].pid, 0);
                        c += (int64_t) rows[i].cpu_ns;
                }
                assert_int_equal(c, ls->cpu);
                store_group_rows_free(rows, nr);
        }
        /* Process rows live as long as raw rows refer to them. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM processes"), 3);
        store_free(s);
        free(ls);
}

/* Per-process totals of the raw rows, as the test expects them. */
typedef struct ProcTotal {
        uint32_t pid;
        int64_t cpu;
        double energy, idle_share;
} ProcTotal;

/* Energies shared out as the daemon shares them (attribution.c): the
 * package's dynamic energy by CPU time over the host's busy time, DRAM's by
 * resident memory, the GPU's by something else (stored per process), every
 * domain's idle energy by CPU time; a process changes comm, exe, unit,
 * slice and container during its life, and short processes come and go.
 * Raw rows keep no energy of the first two domains (their rates do), and
 * every grouping's totals are exact at every level (raw, minutes, hours,
 * days), at every cut, and per process over the raw rows. */
static void test_derived_energies_exact(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        StoreOptions o;
        StoreTotals tot;
        EnergyDomain dom[3] = { { .name = "package-0", .kind = DOMAIN_PACKAGE },
                                { .name = "dram-0", .kind = DOMAIN_DRAM },
                                { .name = "gpu-0", .kind = DOMAIN_GPU } };
        ProcessInfo mover = { .pid = 10, .ppid = 1, .uid = 1000, .start_time_ns = 5, .comm = "sh",
                              .exe = (char *) "/usr/bin/dash", .unit = (char *) "a.service",
                              .cgroup_path = (char *) "/system.slice/a.service", .slice = (char *) "system.slice" };
        ProcessInfo steady = { .pid = 11, .ppid = 1, .uid = 0, .start_time_ns = 6, .comm = "burn",
                               .exe = (char *) "/usr/bin/burn", .unit = (char *) "a.service",
                               .cgroup_path = (char *) "/system.slice/a.service", .slice = (char *) "system.slice" };
        ProcessInfo kthread = { .pid = 2, .ppid = 0, .start_time_ns = 1, .comm = "kworker/0:1", .kernel_thread = true };
        ProcessInfo shortp;
        const uint64_t step = 10 * NSEC_PER_SEC;
        const uint64_t n = 2 * 24 * 360 + 5 * 360 + 17; /* two days, five hours and a bit */
        const uint64_t now = T0 + n * step, recent = now - 2 * STORE_HOUR_NS;
        LabelSim *ls = calloc(1, sizeof(LabelSim)), *lr = calloc(1, sizeof(LabelSim));
        ProcTotal pt[3] = { { .pid = 10 }, { .pid = 11 }, { .pid = 2 } };
        int64_t cpu_all = 0;

        assert_non_null(ls);
        assert_non_null(lr);
        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        store_options_init(&o);
        o.raw_retention_ns = 3 * STORE_HOUR_NS;
        o.minute_retention_ns = 6 * STORE_HOUR_NS;
        o.hour_retention_ns = 0;
        assert_int_equal(store_set_options(s, &o), 0);

        for (uint64_t k = 0; k < n; k++) {
                ProcessInfo *p[4] = { &mover, &steady, &kthread, &shortp };
                ProcessDelta deltas[4];
                double pd[12], idle[12], sum_cpu = 0, sum_rss = 0, idle_j[3] = { 1.5, 0.375, 0.25 };
                double shared[3] = { 2.0 + 0.125 * (double) (k % 5), 0.5, 0.0 }, gpu = 0;
                DomainRecord d[3];
                size_t np = k % 4 == 0 ? 4 : 3; /* a short process every fourth interval */

                if (k == n / 3) { /* exec */
                        strscpy(mover.comm, sizeof(mover.comm), "burn");
                        mover.exe = (char *) "/usr/bin/burn";
                }
                if (k == 2 * n / 3) { /* cgroup move, into a container */
                        mover.unit = (char *) "docker-c0ffee.scope";
                        mover.cgroup_path = (char *) "/machine.slice/docker-c0ffee.scope";
                        mover.slice = (char *) "machine.slice";
                        mover.container_id = (char *) "c0ffee";
                }
                shortp = (ProcessInfo) { .pid = (uint32_t) (1000 + k), .ppid = 10, .uid = 1000,
                                         .start_time_ns = 100 + k, .comm = "cc1", .unit = (char *) "build.scope" };
                for (size_t i = 0; i < np; i++) {
                        deltas[i] = (ProcessDelta) { .info = p[i], .cpu_ns = 1000003 * (k % 13 + i + 1), .wakeups = i,
                                                     .rss_bytes = i < 2 ? ((uint64_t) (i + 1) << 20) + (k % 3) * 4096 : 0 };
                        sum_cpu += (double) deltas[i].cpu_ns;
                        sum_rss += (double) deltas[i].rss_bytes;
                }
                for (size_t i = 0; i < np; i++) {
                        double e_gpu = i == 1 ? 0.0625 * (double) (k % 3) : i == 3 ? 0.03125 : 0;
                        pd[3 * i] = shared[0] * ((double) deltas[i].cpu_ns / (sum_cpu * 1.25));
                        pd[3 * i + 1] = shared[1] * ((double) deltas[i].rss_bytes / sum_rss);
                        pd[3 * i + 2] = e_gpu;
                        gpu += e_gpu;
                        for (size_t j = 0; j < 3; j++)
                                idle[3 * i + j] = idle_j[j] * ((double) deltas[i].cpu_ns / sum_cpu);
                        double e = pd[3 * i] + pd[3 * i + 1] + pd[3 * i + 2];
                        double is = idle[3 * i] + idle[3 * i + 1] + idle[3 * i + 2];
                        label_add(ls, p[i], (int64_t) deltas[i].cpu_ns, pd[3 * i], pd[3 * i + 1] + pd[3 * i + 2], is);
                        cpu_all += (int64_t) deltas[i].cpu_ns;
                        if (T0 + (k + 1) * step > recent) {
                                label_add(lr, p[i], (int64_t) deltas[i].cpu_ns, pd[3 * i], pd[3 * i + 1] + pd[3 * i + 2],
                                          is);
                                if (i < 3) {
                                        pt[i].cpu += (int64_t) deltas[i].cpu_ns;
                                        pt[i].energy += e;
                                        pt[i].idle_share += is;
                                }
                        }
                }
                shared[2] = gpu;
                for (size_t j = 0; j < 3; j++)
                        d[j] = (DomainRecord) { .domain = &dom[j], .source = j == 2 ? "nvml" : "rapl", .host_total = true,
                                                .valid = true, .measured_j = shared[j] + idle_j[j] + 0.5,
                                                .idle_j = idle_j[j], .attributed_j = shared[j], .unattributed_j = 0.5,
                                                .idle_w = idle_j[j] / 10, .idle_method = "regression" };
                IntervalRecord rec = { .start_ns = T0 + k * step, .end_ns = T0 + (k + 1) * step,
                                       .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC, .n_domains = 3, .domains = d,
                                       .n_procs = np, .procs = deltas, .proc_domain_j = pd, .proc_idle_share_j = idle };
                assert_int_equal(store_write_interval(s, &rec), 0);
                if (k % 31 == 0)
                        maintain_all(s, rec.end_ns);
        }
        maintain_all(s, now);
        for (int level = 0; level <= 3; level++) {
                char sql[96];
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM intervals WHERE level = %d", level);
                assert_true(sql_int(s, sql) > 0);
        }
        /* Package and DRAM by their rates, the GPU per process; raw rows
         * hold no energy of their own otherwise. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM interval_domains idm JOIN intervals i ON i.id = idm.interval_id "
                                    "JOIN domains d ON d.id = idm.domain_id WHERE i.level = 0 AND "
                                    "((d.name = 'package-0' AND idm.cpu_rate IS NULL) OR "
                                    "(d.name = 'dram-0' AND idm.rss_rate IS NULL) OR "
                                    /* a GPU with nothing to share has a rate: 0 */
                                    "(d.name = 'gpu-0' AND coalesce(idm.cpu_rate, 0) != 0) OR idm.idle_rate IS NULL)"), 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM raw_sample_domains x JOIN domains d ON d.id = x.domain_id "
                                    "WHERE d.name != 'gpu-0' OR x.idle_share_j != 0"), 0);
        assert_true(sql_int(s, "SELECT count(*) FROM raw_sample_domains") > 0);
        assert_int_equal(sql_int(s, "SELECT count(*) FROM labels"), 6);

        /* Every grouping: everything (days, hours, minutes, raw), the raw rows
         * alone, and both halves of cuts at whole hours. */
        label_check(s, ls, 0, now);
        label_check(s, lr, recent, now);
        assert_int_equal(store_query_totals(s, 0, now, &tot), 0);
        assert_close(tot.idle_share_j, ls->idle_share);
        assert_close(tot.idle_share_j, tot.idle_j);
        for (uint64_t cut = T0 + STORE_HOUR_NS; cut < now; cut += 3 * STORE_HOUR_NS) {
                int64_t c = 0;
                double e = 0, is = 0;

                for (int half = 0; half < 2; half++) {
                        StoreGroupRow *r = NULL;
                        size_t nr = 0;
                        assert_int_equal(store_query_groups(s, GROUP_BY_UNIT, NULL, half ? cut : 0, half ? now : cut,
                                                            &r, &nr), 0);
                        for (size_t i = 0; i < nr; i++) {
                                c += (int64_t) r[i].cpu_ns;
                                e += r[i].energy_j;
                                is += r[i].idle_share_j;
                        }
                        store_group_rows_free(r, nr);
                }
                assert_int_equal(c, cpu_all);
                assert_close(e, ls->energy);
                assert_close(is, ls->idle_share);
        }
        /* By process over the raw rows: each process's own figures. */
        {
                StoreGroupRow *rows = NULL;
                size_t nr = 0, seen = 0;

                assert_int_equal(store_query_groups(s, GROUP_BY_PROCESS, NULL, recent, now, &rows, &nr), 0);
                for (size_t i = 0; i < nr; i++)
                        for (size_t j = 0; j < 3; j++)
                                if (rows[i].pid == pt[j].pid) {
                                        assert_int_equal((int64_t) rows[i].cpu_ns, pt[j].cpu);
                                        assert_close(rows[i].energy_j, pt[j].energy);
                                        assert_close(rows[i].idle_share_j, pt[j].idle_share);
                                        seen++;
                                }
                assert_int_equal(seen, 3);
                store_group_rows_free(rows, nr);
        }
        /* The views give direct readers the same figures. */
        {
                sqlite3_stmt *st = NULL;
                assert_int_equal(sqlite3_prepare_v2(store_db(s),
                                                    "SELECT (SELECT total(s.energy_j) FROM intervals i JOIN samples s "
                                                    "ON s.interval_id = i.id WHERE " STORE_RANGE_SQL("i") "), "
                                                    "(SELECT total(sd.energy_j) FROM intervals i JOIN sample_domains sd "
                                                    "ON sd.interval_id = i.id WHERE " STORE_RANGE_SQL("i") "), "
                                                    "(SELECT total(s.idle_share_j) FROM intervals i JOIN samples s "
                                                    "ON s.interval_id = i.id WHERE " STORE_RANGE_SQL("i") ")",
                                                    -1, &st, NULL),
                                 SQLITE_OK);
                sqlite3_bind_int64(st, 1, 0);
                sqlite3_bind_int64(st, 2, (int64_t) now);
                assert_int_equal(sqlite3_step(st), SQLITE_ROW);
                assert_close(sqlite3_column_double(st, 0), ls->energy);
                assert_close(sqlite3_column_double(st, 1), ls->energy);
                assert_close(sqlite3_column_double(st, 2), ls->idle_share);
                sqlite3_finalize(st);
        }
        store_free(s);
        free(ls);
        free(lr);
}

/* The share of idle goes through the write buffer with the rest. */
static void test_write_buffer_idle_share(void **state) {
        Fixture *f = *state;
        Store *s = NULL;
        EnergyDomain pkg = { .name = "package-0", .kind = DOMAIN_PACKAGE };
        ProcessInfo p = { .pid = 5, .ppid = 1, .start_time_ns = 1, .comm = "idle-share" };
        ProcessDelta delta = { .info = &p, .cpu_ns = 0 };
        double dyn = 0, idle = 0.75;
        DomainRecord d = { .domain = &pkg, .source = "rapl", .host_total = true, .valid = true, .measured_j = 1,
                           .idle_j = 0.75, .unattributed_j = 0.25, .idle_band_w = 0.5, .idle_method = "prior" };
        IntervalRecord rec = { .start_ns = T0, .end_ns = T0 + NSEC_PER_SEC, .boot_realtime_ns = T0 - 1000 * NSEC_PER_SEC,
                               .n_domains = 1, .domains = &d, .n_procs = 1, .procs = &delta, .proc_domain_j = &dyn,
                               .proc_idle_share_j = &idle };

        assert_int_equal(store_open(f->path, STORE_CREATE, &s), 0);
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = ON", NULL, NULL, NULL), SQLITE_OK);
        assert_true(store_write_buffered(s, &rec) < 0);  /* only a share of idle: still a row, buffered */
        idle = 99;                                        /* the caller's array is not kept */
        assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA query_only = OFF", NULL, NULL, NULL), SQLITE_OK);
        rec.start_ns += NSEC_PER_SEC;
        rec.end_ns += NSEC_PER_SEC;
        idle = 0.75;
        assert_int_equal(store_write_buffered(s, &rec), 0);
        assert_true(sql_double(s, "SELECT total(idle_share_j) FROM samples") == 1.5);
        assert_true(sql_double(s, "SELECT total(idle_share_j) FROM sample_domains") == 1.5);
        assert_true(sql_double(s, "SELECT total(idle_band_w) FROM interval_domains") == 1.0);
        /* Conservation of the share-of-idle view: Σ shares = idle_j. */
        assert_int_equal(sql_int(s, "SELECT count(*) FROM interval_domains idm WHERE idle_j != "
                                    "(SELECT total(idle_share_j) FROM sample_domains sd WHERE sd.interval_id = "
                                    "idm.interval_id AND sd.domain_id = idm.domain_id)"), 0);
        store_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_and_migrate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_writer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deleted_database_recreated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clock_steps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wal_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopen_idempotent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_foreign_sqlite_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reader_never_creates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_and_read_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probes_and_state, setup, teardown),
                cmocka_unit_test(test_errno_mapping),
                cmocka_unit_test_setup_teardown(test_rollups_exact_and_pruned, setup, teardown),
                cmocka_unit_test_setup_teardown(test_day_rollups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_process_pruning, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_buffer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_buffer_copies_strings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cmdline_only_when_asked, setup, teardown),
                cmocka_unit_test(test_counter_guard),
                cmocka_unit_test_setup_teardown(test_labels_follow_process, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_buffer_idle_share, setup, teardown),
                cmocka_unit_test_setup_teardown(test_derived_energies_exact, setup, teardown),
        };
        umask(022);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
