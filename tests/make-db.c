/* SPDX-License-Identifier: GPL-2.0-or-later */
/* make-db: write a synthetic jouled database through store_write_interval(),
 * for the CLI tests. Usage: make-db PATH [--estimated]
 *
 * Data (all energies are multiples of 1/8 J, so every sum is exact):
 *   10 intervals of 1 s, the first starting at @1700000000 (2023-11-14T22:13:20Z).
 *   Domains: package-0 and dram-0 (host total), core-0 (not host total);
 *   source "rapl", or "model" and estimated with --estimated.
 *   dram-0 is not readable (valid=false) in interval 3.
 *   Processes:
 *     pid 100 "make"  unit session-1.scope uid 0, intervals 0-4
 *     pid 200 "cc1"   unit session-1.scope uid 0, intervals 0-4
 *     pid 300 "sshd"  unit sshd.service    uid 0, intervals 0-9
 *     pid 100 "cc1"   no unit, uid 65534, intervals 5-9 (pid reused, other start)
 *     pid 400 "idle"  unit idle.service    uid 0, intervals 0-9 with no CPU and
 *                     no energy (gets no row)
 *   Per interval k and process: package-0 energy A (make) 0.5*(k+1), B (cc1)
 *   1.25, C (sshd) 0.125, D (cc1') 2.5; dram-0 a quarter of it, core-0 half.
 *   Idle: package-0 5 J, dram-0 1 J, core-0 2 J; unattributed package-0 0.25 J,
 *   of which irq_j 0.125 J (interrupts and softirqs: "[irq]" in reports).
 *   Wakeups per interval: make 10, cc1 (200) 4, sshd 3, cc1' 0.
 *   Each process's share of idle: each domain's idle by CPU time over the
 *   interval's processes (the processes' shares add up to the idle energy).
 *   Cgroup paths, with the slice and container id the tracker finds in them:
 *     make, cc1   /user.slice/user-0.slice/session-1.scope (slice user-0.slice)
 *     sshd        /system.slice/sshd.service               (slice system.slice)
 *     cc1'        /docker/<64 x "ab">                       (no unit, no slice, container ab..ab)
 *   daemon_state: attribution_basis cpu-time, attribution_per_package no,
 *   exits_early_only 1, self_pid 4242 (the daemon's pid).
 *
 * --kthread adds a kernel thread, pid 50 "kworker/0:1" (ppid 2, no cgroup
 * path), in every interval: package-0 0.375 J, 30 ms CPU, 20 wakeups.
 * --recent adds jouled itself (pid 4242 "jouled", uid 0), with 3 intervals
 * of 1 s ending 3, 2 and 1 s before now: 40 ms CPU and 0.5 J package-0 in each.
 * --hostile adds three processes with names any user can choose, in every
 * interval (package-0 0.25 J and 20 ms CPU each, uid 0):
 *   pid 600 comm "\xff\xfebad" (invalid UTF-8), exe "/tmp/\xff\xfe", unit
 *           "=HYPERLINK(\"x\").service" (a spreadsheet formula)
 *   pid 601 comm "ääääääää" cut by the kernel at 15 bytes mid-character
 *           ("äääääää\xc3"), unit "+cmd|calc.scope"
 *   pid 602 comm "\e[31mred\nx" (an ESC sequence and a newline), unit
 *           "-x\e]0;title\a.service", exe "@evil\r\n"
 *
 * --steady writes only a steady load instead: 2 s intervals over the 10
 * whole minutes before the current minute, package-0 (rapl, host total)
 * 14 J each (7 W: 4 J of pid 700 "steady" in unit steady.service, 9 J idle,
 * all of it the steady process's share, 1 J unattributed; idle estimate
 * 4.5 ± 0.5 W, regression), then rolls the complete minutes up (store_maintain()).
 * --prune-raw (with --steady) keeps raw intervals 5 minutes only, so the
 * older half is left as minute rollups.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

#define T0 (UINT64_C(1700000000) * NSEC_PER_SEC)
#define N_INTERVALS 10
#define N_PROCS 10  /* the 5 above, the kernel thread, jouled, 3 hostile names */
#define N_DOMAINS 3
#define CONTAINER_ID "abababababababababababababababababababababababababababababababab"

static int write_steady(const char *path, bool prune_raw) {
        EnergyDomain dom = { .name = "package-0", .kind = DOMAIN_PACKAGE, .package = 0 };
        ProcessInfo proc = { .pid = 700, .ppid = 1, .uid = 0, .start_time_ns = 5 * NSEC_PER_SEC, .comm = "steady",
                             .exe = (char *) "/usr/bin/steady", .unit = (char *) "steady.service",
                             .cgroup_path = (char *) "/system.slice/steady.service",
                             .slice = (char *) "system.slice" };
        uint64_t now = now_ns(CLOCK_REALTIME), minute = 60 * NSEC_PER_SEC;
        uint64_t t0 = now / minute * minute - 10 * minute;
        StoreOptions o;
        Store *s = NULL;
        int r;

        r = store_open(path, STORE_CREATE, &s);
        if (r < 0)
                return 1;
        for (uint64_t t = t0; t < t0 + 10 * minute; t += 2 * NSEC_PER_SEC) {
                ProcessDelta delta = { .info = &proc, .cpu_ns = 500 * NSEC_PER_MSEC, .wakeups = 2 };
                double pd = 4.0, pi = 9.0;
                DomainRecord drec = {
                        .domain = &dom, .source = "rapl", .host_total = true, .valid = true,
                        .measured_j = 14.0, .idle_j = 9.0, .attributed_j = 4.0, .unattributed_j = 1.0,
                        .idle_w = 4.5, .idle_method = "regression", .idle_band_w = 0.5,
                };
                IntervalRecord rec = {
                        .start_ns = t, .end_ns = t + 2 * NSEC_PER_SEC, .boot_realtime_ns = t0 - 3600 * NSEC_PER_SEC,
                        .n_domains = 1, .domains = &drec, .n_procs = 1, .procs = &delta, .proc_domain_j = &pd,
                        .proc_idle_share_j = &pi,
                };
                r = store_write_interval(s, &rec);
                if (r < 0) {
                        fprintf(stderr, "make-db: writing a steady interval failed: %s\n", strerror(-r));
                        store_free(s);
                        return 1;
                }
        }
        store_options_init(&o);
        if (prune_raw)
                o.raw_retention_ns = 5 * minute;
        r = store_set_options(s, &o);
        while (r >= 0 && (r = store_maintain(s, now, 1000)) > 0)
                ;
        if (r >= 0)
                r = store_set_state(s, "interval_s", "2");
        store_free(s);
        if (r < 0) {
                fprintf(stderr, "make-db: rolling up failed: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        bool estimated = false, kthread = false, recent = false, hostile = false, steady = false, prune_raw = false;
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--estimated") == 0)
                        estimated = true;
                else if (strcmp(argv[i], "--kthread") == 0)
                        kthread = true;
                else if (strcmp(argv[i], "--recent") == 0)
                        recent = true;
                else if (strcmp(argv[i], "--hostile") == 0)
                        hostile = true;
                else if (strcmp(argv[i], "--steady") == 0)
                        steady = true;
                else if (strcmp(argv[i], "--prune-raw") == 0)
                        prune_raw = true;
                else {
                        fprintf(stderr, "usage: make-db PATH [--estimated] [--kthread] [--recent] [--hostile] [--steady [--prune-raw]]\n");
                        return 2;
                }
        }
        const char *source = estimated ? "model" : "rapl";
        EnergyDomain domains[N_DOMAINS] = {
                { .name = "package-0", .kind = DOMAIN_PACKAGE, .package = 0, .estimated = estimated },
                { .name = "core-0", .kind = DOMAIN_CORE, .package = 0, .estimated = estimated },
                { .name = "dram-0", .kind = DOMAIN_DRAM, .package = 0, .estimated = estimated },
        };
        const bool host_total[N_DOMAINS] = { true, false, true };
        const double share[N_DOMAINS] = { 1.0, 0.5, 0.25 };
        const double idle[N_DOMAINS] = { 5.0, 2.0, 1.0 };
        const double unattributed[N_DOMAINS] = { 0.25, 0, 0 };
        ProcessInfo procs[N_PROCS] = {
                { .pid = 100, .ppid = 1, .uid = 0, .start_time_ns = 1000 * NSEC_PER_SEC, .comm = "make",
                  .exe = (char *) "/usr/bin/make", .unit = (char *) "session-1.scope",
                  .cgroup_path = (char *) "/user.slice/user-0.slice/session-1.scope",
                  .slice = (char *) "user-0.slice" },
                { .pid = 200, .ppid = 100, .uid = 0, .start_time_ns = 1001 * NSEC_PER_SEC, .comm = "cc1",
                  .exe = (char *) "/usr/lib/gcc/cc1", .unit = (char *) "session-1.scope",
                  .cgroup_path = (char *) "/user.slice/user-0.slice/session-1.scope",
                  .slice = (char *) "user-0.slice" },
                { .pid = 300, .ppid = 1, .uid = 0, .start_time_ns = 10 * NSEC_PER_SEC, .comm = "sshd",
                  .exe = (char *) "/usr/sbin/sshd", .unit = (char *) "sshd.service",
                  .cgroup_path = (char *) "/system.slice/sshd.service", .slice = (char *) "system.slice" },
                { .pid = 100, .ppid = 1, .uid = 65534, .start_time_ns = 2000 * NSEC_PER_SEC, .comm = "cc1",
                  .exe = NULL, .unit = NULL, .cgroup_path = (char *) "/docker/" CONTAINER_ID,
                  .container_id = (char *) CONTAINER_ID },
                { .pid = 400, .ppid = 1, .uid = 0, .start_time_ns = 20 * NSEC_PER_SEC, .comm = "idle",
                  .exe = (char *) "/usr/bin/idle", .unit = (char *) "idle.service",
                  .cgroup_path = (char *) "/system.slice/idle.service", .slice = (char *) "system.slice" },
                /* --kthread */
                { .pid = 50, .ppid = 2, .uid = 0, .start_time_ns = 1 * NSEC_PER_SEC, .comm = "kworker/0:1",
                  .kernel_thread = true },
                /* --recent: jouled itself (start time filled in below) */
                { .pid = 4242, .ppid = 1, .uid = 0, .comm = "jouled", .exe = (char *) "/usr/sbin/jouled",
                  .unit = (char *) "jouled.service", .cgroup_path = (char *) "/system.slice/jouled.service",
                  .slice = (char *) "system.slice" },
                /* --hostile */
                { .pid = 600, .ppid = 1, .uid = 0, .start_time_ns = 30 * NSEC_PER_SEC, .comm = "\xff\xfe" "bad",
                  .exe = (char *) "/tmp/\xff\xfe", .unit = (char *) "=HYPERLINK(\"x\").service",
                  .cgroup_path = (char *) "/system.slice/=HYPERLINK(\"x\").service",
                  .slice = (char *) "system.slice" },
                { .pid = 601, .ppid = 1, .uid = 0, .start_time_ns = 31 * NSEC_PER_SEC,
                  .comm = "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3",
                  .exe = (char *) "/usr/bin/\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4",
                  .unit = (char *) "+cmd|calc.scope", .cgroup_path = (char *) "/user.slice/+cmd|calc.scope",
                  .slice = (char *) "user.slice" },
                { .pid = 602, .ppid = 1, .uid = 0, .start_time_ns = 32 * NSEC_PER_SEC, .comm = "\x1b[31mred\nx",
                  .exe = (char *) "@evil\r\n", .unit = (char *) "-x\x1b]0;title\a.service",
                  .cgroup_path = (char *) "/system.slice/-x\x1b]0;title\a.service", .slice = (char *) "system.slice" },
        };
        const uint64_t wakeups[N_PROCS] = { 10, 4, 3, 0, 0, 20, 0, 1, 1, 1 };
        SourceProbe probes[2] = {
                { .name = "rapl", .status = estimated ? SOURCE_MISSING : SOURCE_USABLE, .estimated = false },
                { .name = "model", .status = SOURCE_USABLE, .estimated = true },
        };
        bool in_use[2] = { !estimated, estimated };
        Store *s = NULL;
        int r;

        uint64_t now = now_ns(CLOCK_REALTIME);
        unsigned n_intervals = N_INTERVALS + (recent ? 3 : 0);

        if (argc < 2) {
                fprintf(stderr, "usage: make-db PATH [--estimated] [--kthread] [--recent] [--hostile] [--steady [--prune-raw]]\n");
                return 2;
        }

        if (steady)
                return write_steady(argv[1], prune_raw);

        procs[6].start_time_ns = now - 10 * NSEC_PER_SEC - (T0 - 3000 * NSEC_PER_SEC);
        r = store_open(argv[1], STORE_CREATE, &s);
        if (r < 0)
                return 1;

        for (unsigned k = 0; k < n_intervals; k++) {
                bool late = k >= N_INTERVALS;   /* --recent */
                DomainRecord drec[N_DOMAINS];
                ProcessDelta deltas[N_PROCS];
                double pd[N_PROCS * N_DOMAINS], pi[N_PROCS * N_DOMAINS];
                uint64_t cpu_total = 0;
                size_t n = 0;

                for (unsigned i = 0; i < N_PROCS; i++) {
                        double pkg;
                        uint64_t cpu;

                        if (late != (i == 6) || (i <= 1 && k >= 5) || (i == 3 && k < 5) || (i == 5 && !kthread) ||
                            (i >= 7 && !hostile))
                                continue;
                        switch (i) {
                        case 0: pkg = 0.5 * (k + 1); cpu = 100 * NSEC_PER_MSEC * (k + 1); break;
                        case 1: pkg = 1.25; cpu = 250 * NSEC_PER_MSEC; break;
                        case 2: pkg = 0.125; cpu = 10 * NSEC_PER_MSEC; break;
                        case 3: pkg = 2.5; cpu = 500 * NSEC_PER_MSEC; break;
                        case 5: pkg = 0.375; cpu = 30 * NSEC_PER_MSEC; break;
                        case 6: pkg = 0.5; cpu = 40 * NSEC_PER_MSEC; break;
                        case 7: case 8: case 9: pkg = 0.25; cpu = 20 * NSEC_PER_MSEC; break;
                        default: pkg = 0; cpu = 0;
                        }
                        deltas[n] = (ProcessDelta) { .info = &procs[i], .cpu_ns = cpu, .wakeups = wakeups[i] };
                        for (unsigned d = 0; d < N_DOMAINS; d++)
                                pd[n * N_DOMAINS + d] = pkg * share[d];
                        cpu_total += cpu;
                        n++;
                }
                /* Each process's share of idle by CPU time (all of it: every
                 * interval has processes with CPU time). */
                for (size_t i = 0; i < n; i++)
                        for (unsigned d = 0; d < N_DOMAINS; d++)
                                pi[i * N_DOMAINS + d] = idle[d] * (double) deltas[i].cpu_ns / (double) cpu_total;

                for (unsigned d = 0; d < N_DOMAINS; d++) {
                        double attributed = 0;
                        for (size_t i = 0; i < n; i++)
                                attributed += pd[i * N_DOMAINS + d];
                        drec[d] = (DomainRecord) {
                                .domain = &domains[d],
                                .source = source,
                                .host_total = host_total[d],
                                .valid = !(d == 2 && k == 3),
                                .measured_j = attributed + idle[d] + unattributed[d],
                                .idle_j = idle[d],
                                .attributed_j = attributed,
                                .unattributed_j = unattributed[d],
                                .irq_j = unattributed[d] / 2,
                                .idle_w = idle[d],
                                .idle_method = "configured",
                        };
                }

                uint64_t start = late ? now - (uint64_t) (N_INTERVALS + 3 - k + 1) * NSEC_PER_SEC
                                      : T0 + k * NSEC_PER_SEC;
                IntervalRecord rec = {
                        .start_ns = start,
                        .end_ns = start + NSEC_PER_SEC,
                        .boot_realtime_ns = T0 - 3000 * NSEC_PER_SEC,
                        .n_domains = N_DOMAINS,
                        .domains = drec,
                        .n_procs = n,
                        .procs = deltas,
                        .proc_domain_j = pd,
                        .proc_idle_share_j = pi,
                };
                r = store_write_interval(s, &rec);
                if (r < 0) {
                        fprintf(stderr, "make-db: writing interval %u failed: %s\n", k, strerror(-r));
                        store_free(s);
                        return 1;
                }
        }

        if (store_set_state(s, "tracker_mode", "procfs") < 0 ||
            store_set_state(s, "tracker_note", "short-lived processes may be missed") < 0 ||
            store_set_state(s, "last_sample", "2023-11-14T22:13:30Z") < 0 || store_set_state(s, "pid", "4242") < 0 ||
            store_set_state(s, "interval_s", "1") < 0 || store_set_state(s, "version", "0.1.0") < 0 ||
            store_set_state(s, "processes_tracked", "5") < 0 || store_set_state(s, "exits_lost", "0") < 0 ||
            store_set_state(s, "vanished", "2") < 0 || store_set_state(s, "started", "2023-11-14T22:13:20Z") < 0 ||
            store_set_state(s, "attribution_basis", "cpu-time") < 0 ||
            store_set_state(s, "attribution_per_package", "no") < 0 ||
            store_set_state(s, "exits_early_only", "1") < 0 || store_set_state(s, "self_pid", "4242") < 0) {
                fprintf(stderr, "make-db: writing state failed\n");
                store_free(s);
                return 1;
        }
        snprintf(probes[0].reason, sizeof(probes[0].reason), "%s",
                 estimated ? "no /sys/class/powercap" : "2 domains under /sys/class/powercap");
        snprintf(probes[1].reason, sizeof(probes[1].reason), "utilisation model, always available");
        r = store_set_probes(s, probes, in_use, 2);
        store_free(s);
        if (r < 0) {
                fprintf(stderr, "make-db: writing probes failed: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
