/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Storage benchmark: writes a database through the real store code
 * (store_write_buffered + store_maintain) on a simulated clock that ends now,
 * and prints, as key=value lines for run.sh: write latency percentiles, the
 * maintenance cost, the growth of the file per day in steady state and the
 * largest -wal file seen.
 *
 *   bench-storage DB DAYS_HISTORY FULL_RATE_HOURS RAW_RETENTION_HOURS PROCS [SHORT_PER_MIN]
 *
 * PROCS long-lived active processes (of a pool of 1.5 × PROCS, drifting),
 * and, with SHORT_PER_MIN (the build-host profile), that many short
 * processes a minute, each living one interval: a new pid each, comms from
 * 48 compiler-like names in 4 units (build scopes): 192 label sets. In the history
 * part (one interval a minute) a minute's short processes are written as one
 * process per label set they cover (what the minute rollup keeps: one row
 * per label set), so that a month of history takes minutes to write.
 *
 * Two domains, package-0 and dram-0, shared out as the daemon shares them
 * (daemon/attribution/attribution.c): the package's dynamic energy by CPU
 * time, DRAM's by resident memory (the short processes have exited by the
 * end of their interval: none), every domain's idle energy by CPU time.
 *
 * History days are written one interval per simulated minute (each is then
 * one minute rollup, as at full rate); the last FULL_RATE_HOURS at one
 * interval per second. Growth is measured over the last half of the full-rate
 * part, once the raw window (RAW_RETENTION_HOURS) is full. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "util.h"

static uint64_t file_size(const char *db) {
        char p[4096];
        struct stat st;
        uint64_t n = 0;
        if (stat(db, &st) == 0)
                n += (uint64_t) st.st_size;
        snprintf(p, sizeof(p), "%s-wal", db);
        if (stat(p, &st) == 0)
                n += (uint64_t) st.st_size;
        return n;
}

/* Bytes in use: pages minus the free list (freed pages are reused first). */
static uint64_t used_bytes(Store *s) {
        sqlite3_stmt *st = NULL;
        uint64_t v = 0;
        if (sqlite3_prepare_v2(store_db(s),
                               "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM "
                               "pragma_freelist_count), (SELECT page_size FROM pragma_page_size)",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = (uint64_t) sqlite3_column_int64(st, 0) * (uint64_t) sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);
        return v;
}

#define SHORT_COMMS 48
#define SHORT_UNITS 4
#define SHORT_LABEL_SETS (SHORT_COMMS * SHORT_UNITS)
static const char *const short_comm_stems[] = { "cc1", "cc1plus", "as", "ld", "sh", "make", "rustc", "python3" };
static char *short_units[SHORT_UNITS];

/* Short process number seq (a new pid, one interval long), labels from seq. */
static void short_fill(ProcessInfo *p, uint64_t seq, uint64_t start_boot_ns) {
        uint64_t c = seq % SHORT_COMMS, u = (seq / SHORT_COMMS) % SHORT_UNITS;

        *p = (ProcessInfo) { .pid = (uint32_t) (100000 + seq % 4000000), .ppid = 2, .uid = 1000,
                             .start_time_ns = start_boot_ns, .unit = short_units[u] };
        snprintf(p->comm, sizeof(p->comm), "%s-%" PRIu64, short_comm_stems[c % 8], c / 8);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        Store *s = NULL;
        StoreOptions o;
        EnergyDomain dom[2] = { { .name = "package-0", .kind = DOMAIN_PACKAGE, .max_power_w = 200 },
                                { .name = "dram-0", .kind = DOMAIN_DRAM, .max_power_w = 50 } };
        uint64_t history_days, full_hours, raw_hours, nprocs, pool, short_per_min = 0, short_seq = 0;
        uint64_t *lat = NULL, n_lat = 0, maint_ns = 0, maint_max = 0, n_maint = 0;
        uint64_t *mlat = NULL, n_mlat = 0, mlat_alloc = 0; /* maintenance calls of the full-rate part */
        uint64_t now_real, t, t_full, t_end, size_mid = 0, t_mid = 0, wal_max = 0, wal_end;
        char wal_path[PATH_MAX];
        ProcessInfo *infos;
        ProcessDelta *deltas;
        double *pj, *pidle;
        int r;

        if ((argc != 6 && argc != 7) || parse_u64(argv[2], &history_days) < 0 || parse_u64(argv[3], &full_hours) < 0 ||
            parse_u64(argv[4], &raw_hours) < 0 || parse_u64(argv[5], &nprocs) < 0 || nprocs == 0 || full_hours < 2 ||
            (argc == 7 && parse_u64(argv[6], &short_per_min) < 0)) {
                fprintf(stderr, "usage: bench-storage DB DAYS_HISTORY FULL_RATE_HOURS(>=2) RAW_RETENTION_HOURS PROCS "
                                "[SHORT_PER_MIN]\n");
                return 2;
        }
        (void) unlink(argv[1]);
        snprintf(wal_path, sizeof(wal_path), "%s-wal", argv[1]);
        (void) unlink(wal_path);
        if (store_open(argv[1], STORE_CREATE, &s) < 0)
                return 1;
        store_options_init(&o);
        o.raw_retention_ns = raw_hours * STORE_HOUR_NS;
        if (store_set_options(s, &o) < 0)
                return 1;

        pool = nprocs * 3 / 2; /* some churn: 200 of 300 processes active at a time */
        /* Room for the short processes of one interval: a minute's label sets at most. */
        size_t nshort_max = short_per_min > 0 ? SHORT_LABEL_SETS + short_per_min : 0;
        ProcessInfo *shorts = calloc(MAX(nshort_max, (size_t) 1), sizeof(ProcessInfo));
        infos = calloc(pool, sizeof(ProcessInfo));
        deltas = calloc(nprocs + nshort_max, sizeof(ProcessDelta));
        pj = calloc((nprocs + nshort_max) * 2, sizeof(double));
        pidle = calloc((nprocs + nshort_max) * 2, sizeof(double));
        if (!shorts)
                return 1;
        lat = calloc(full_hours * 3600 + 1, sizeof(uint64_t));
        if (!infos || !deltas || !pj || !pidle || !lat)
                return 1;
        for (uint64_t i = 0; i < pool; i++) {
                infos[i] = (ProcessInfo) { .pid = (uint32_t) (1000 + i), .ppid = 1, .uid = (uint32_t) (i % 5),
                                           .start_time_ns = i * NSEC_PER_SEC };
                snprintf(infos[i].comm, sizeof(infos[i].comm), "proc-%" PRIu64, i % 40);
                infos[i].exe = strdup("/usr/bin/some-program");
        }

        for (int u = 0; u < SHORT_UNITS; u++)
                if (asprintf(&short_units[u], "build-%d.scope", u) < 0)
                        return 1;
        now_real = now_ns(CLOCK_REALTIME) / NSEC_PER_SEC * NSEC_PER_SEC;
        t_end = now_real;
        t_full = t_end - full_hours * STORE_HOUR_NS;
        t = t_full - history_days * 24 * STORE_HOUR_NS;
        for (uint64_t k = 0; t < t_end; k++) {
                bool full = t >= t_full;
                uint64_t step = full ? NSEC_PER_SEC : STORE_MINUTE_NS;
                DomainRecord d[2];
                double tot[2] = {}, dyn[2], sum_cpu = 0, sum_rss = 0;
                uint64_t n = nprocs, nshort = 0;

                if (short_per_min > 0) {
                        /* Full rate: this second's share of the minute's short processes;
                         * history: one per label set a minute's processes cover. */
                        nshort = full ? (k + 1) * short_per_min / 60 - k * short_per_min / 60
                                      : MIN(short_per_min, (uint64_t) SHORT_LABEL_SETS);
                        for (uint64_t q = 0; q < nshort; q++) {
                                uint64_t boot = t_full - 86400 * NSEC_PER_SEC;
                                short_fill(&shorts[q], short_seq + q, t > boot ? t - boot : q);
                                /* Exited by the end of the interval: no resident memory. */
                                deltas[n + q] = (ProcessDelta) { .info = &shorts[q], .cpu_ns = 2000000 + (k + q) % 17 * 1000000,
                                                                 .wakeups = 3 };
                        }
                        short_seq += full ? nshort : short_per_min;
                }
                for (uint64_t i = 0; i < nprocs; i++) {
                        uint64_t idx = (i + (k / 600) * 7) % pool; /* the active set drifts */
                        deltas[i] = (ProcessDelta) { .info = &infos[idx], .cpu_ns = (step / 400) * (1 + (k + i) % 17) / 17,
                                                     .rss_bytes = (UINT64_C(20) + idx % 180) << 20 };
                }
                n += nshort;
                /* Shared out as the daemon does (attribution.c): the package's
                 * dynamic energy by CPU time (over the host's busy time, a
                 * little more than the processes' own), DRAM's by resident
                 * memory, every domain's idle energy by CPU time. */
                for (uint64_t i = 0; i < n; i++) {
                        sum_cpu += (double) deltas[i].cpu_ns;
                        sum_rss += (double) deltas[i].rss_bytes;
                }
                dyn[0] = 0.002 * (double) (1 + (k * 31) % 97) * (double) n * (double) step / 1e9;
                dyn[1] = dyn[0] / 4;
                for (uint64_t i = 0; i < n; i++) {
                        pj[2 * i] = dyn[0] * ((double) deltas[i].cpu_ns / (sum_cpu * 1.05));
                        pj[2 * i + 1] = sum_rss > 0 ? dyn[1] * ((double) deltas[i].rss_bytes / sum_rss) : 0;
                        tot[0] += pj[2 * i];
                        tot[1] += pj[2 * i + 1];
                        for (int j = 0; j < 2; j++)
                                pidle[2 * i + j] = 4.0 * (double) step / 1e9 * ((double) deltas[i].cpu_ns / sum_cpu);
                }
                for (int j = 0; j < 2; j++)
                        d[j] = (DomainRecord) { .domain = &dom[j], .source = "rapl", .host_total = true, .valid = true,
                                                .measured_j = dyn[j] + 4.0 * (double) step / 1e9, .idle_j = 4.0 * (double) step / 1e9,
                                                .attributed_j = tot[j], .unattributed_j = dyn[j] - tot[j],
                                                .idle_w = 4, .idle_method = "online" };
                IntervalRecord rec = { .start_ns = t, .end_ns = t + step, .boot_realtime_ns = t_full - 86400 * NSEC_PER_SEC,
                                       .n_domains = 2, .domains = d, .n_procs = n, .procs = deltas, .proc_domain_j = pj,
                                       .proc_idle_share_j = pidle };
                uint64_t a = now_ns(CLOCK_MONOTONIC);
                r = store_write_buffered(s, &rec);
                uint64_t b = now_ns(CLOCK_MONOTONIC);
                if (r < 0) {
                        fprintf(stderr, "write failed: %s\n", strerror(-r));
                        return 1;
                }
                if (full) {
                        lat[n_lat++] = b - a;
                        wal_max = MAX(wal_max, file_size(wal_path)); /* the -wal while running */
                }
                t += step;
                if (t / STORE_MINUTE_NS != (t - step) / STORE_MINUTE_NS) {
                        /* As the daemon: once a minute, then every interval while work is left.
                         * (The clock is not minute-aligned: in the history part, where an
                         * interval is a minute long, a test of t % minute never held, and
                         * a month of raw rows waited for the first full-rate minute.) */
                        do {
                                a = now_ns(CLOCK_MONOTONIC);
                                r = store_maintain(s, t, 20);
                                b = now_ns(CLOCK_MONOTONIC);
                                maint_ns += b - a;
                                maint_max = MAX(maint_max, b - a);
                                n_maint++;
                                if (full) {
                                        if (n_mlat == mlat_alloc) {
                                                mlat_alloc = MAX(mlat_alloc * 2, (uint64_t) 4096);
                                                uint64_t *p = realloc(mlat, mlat_alloc * sizeof(uint64_t));
                                                if (!p)
                                                        return 1;
                                                mlat = p;
                                        }
                                        mlat[n_mlat++] = b - a;
                                }
                        } while (r > 0);
                        if (r < 0) {
                                fprintf(stderr, "maintenance failed: %s\n", strerror(-r));
                                return 1;
                        }
                }
                if (full && !t_mid && t >= t_full + (full_hours / 2) * STORE_HOUR_NS) {
                        t_mid = t;
                        (void) sqlite3_exec(store_db(s), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
                        size_mid = used_bytes(s);
                }
        }
        wal_end = file_size(wal_path);
        (void) sqlite3_exec(store_db(s), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        qsort(lat, n_lat, sizeof(uint64_t), cmp_u64);
        printf("procs=%" PRIu64 "\nshort_per_min=%" PRIu64 "\n", nprocs, short_per_min);
        printf("history_days=%" PRIu64 "\nfull_rate_hours=%" PRIu64 "\nraw_retention_hours=%" PRIu64 "\n",
               history_days, full_hours, raw_hours);
        printf("writes_measured=%" PRIu64 "\n", n_lat);
        printf("write_p50_ms=%.3f\nwrite_p99_ms=%.3f\nwrite_p999_ms=%.3f\nwrite_max_ms=%.3f\n",
               lat[n_lat / 2] / 1e6, lat[n_lat * 99 / 100] / 1e6, lat[n_lat * 999 / 1000] / 1e6, lat[n_lat - 1] / 1e6);
        printf("maintain_calls=%" PRIu64 "\nmaintain_mean_ms=%.3f\nmaintain_max_ms=%.3f\n", n_maint,
               n_maint ? maint_ns / 1e6 / (double) n_maint : 0, maint_max / 1e6);
        if (n_mlat > 0) {
                qsort(mlat, n_mlat, sizeof(uint64_t), cmp_u64);
                printf("maintain_full_p50_ms=%.3f\nmaintain_full_p99_ms=%.3f\n", mlat[n_mlat / 2] / 1e6,
                       mlat[n_mlat * 99 / 100] / 1e6);
        }
        free(mlat);
        uint64_t size_end = used_bytes(s);
        printf("db_bytes=%" PRIu64 "\n", file_size(argv[1]));
        printf("used_bytes=%" PRIu64 "\n", size_end);
        printf("wal_max_bytes=%" PRIu64 "\nwal_end_bytes=%" PRIu64 "\n", wal_max, wal_end);
        printf("growth_mb_per_day=%.2f\n",
               (double) (size_end > size_mid ? size_end - size_mid : 0) / 1e6 * 86400e9 / (double) (t_end - t_mid));
        for (uint64_t i = 0; i < pool; i++)
                free(infos[i].exe);
        free(infos);
        free(shorts);
        for (int u = 0; u < SHORT_UNITS; u++)
                free(short_units[u]);
        free(deltas);
        free(pj);
        free(pidle);
        free(lat);
        store_free(s);
        return 0;
}
