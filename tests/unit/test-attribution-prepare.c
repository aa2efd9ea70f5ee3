/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Preparation of the attribution's input: bases, irq split and utilisation
 * on synthetic intervals (no files). */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "attribution-prepare.h"
#include "util.h"

#define MS (UINT64_C(1000000))
#define EPS 1e-9

/* A /proc/stat of four CPUs (ids 0..3), all columns zero, owned by the
 * test's stack. */
typedef struct FakeStat {
        ProcStat st;
        int ids[4];
        uint64_t busy[4], idle[4], steal[4];
        ProcStatTimes times[4];
} FakeStat;

static void fake_init(FakeStat *f, size_t n_cpus) {
        memset(f, 0, sizeof(*f));
        for (size_t c = 0; c < 4; c++)
                f->ids[c] = (int) c;
        f->st.n_cpus = n_cpus;
        f->st.cpu_ids = f->ids;
        f->st.cpu_busy_ns = f->busy;
        f->st.cpu_idle_ns = f->idle;
        f->st.cpu_steal_ns = f->steal;
        f->st.cpu_times = f->times;
}

/* CPU c gets busy ns of busy time, of which irq ns were interrupts (the
 * totals follow). */
static void fake_cpu(FakeStat *f, size_t c, uint64_t busy, uint64_t irq) {
        f->busy[c] = busy;
        f->times[c].user_ns = busy - irq;
        f->times[c].irq_ns = irq / 2;
        f->times[c].softirq_ns = irq - irq / 2;
        f->st.busy_ns = 0;
        f->st.total = (ProcStatTimes) {};
        for (size_t k = 0; k < f->st.n_cpus; k++) {
                f->st.busy_ns += f->busy[k];
                f->st.total.user_ns += f->times[k].user_ns;
                f->st.total.irq_ns += f->times[k].irq_ns;
                f->st.total.softirq_ns += f->times[k].softirq_ns;
        }
}

static ProcessDelta proc(uint64_t cpu_ns, uint64_t cycles, uint64_t rss, uint64_t pkg0, uint64_t pkg1) {
        ProcessDelta p = { .cpu_ns = cpu_ns, .cycles = cycles, .rss_bytes = rss };
        p.pkg_cpu_ns[0] = pkg0;
        p.pkg_cpu_ns[1] = pkg1;
        return p;
}

/* CPUs 0, 1 on package index 0; 2, 3 on package index 1. */
static const int two_pkgs[4] = { 0, 0, 1, 1 };

static void test_host_busy_and_utilisation(void **state) {
        FakeStat last, now;
        ProcessDelta procs[2] = { proc(300 * MS, 0, 0, 0, 0), proc(100 * MS, 0, 0, 0, 0) };
        AttributionPrepareIn in = { .dt_s = 1.0, .procs = procs, .n_procs = 2 };

        (void) state;
        fake_init(&last, 2);
        fake_init(&now, 2);
        fake_cpu(&last, 0, 1000 * MS, 0);
        fake_cpu(&last, 1, 1000 * MS, 0);
        fake_cpu(&now, 0, 1500 * MS, 0);
        fake_cpu(&now, 1, 1500 * MS, 0);

        /* Both reads: the kernel's busy time over dt × CPUs. */
        in.stat = &now.st;
        in.last_stat = &last.st;
        assert_int_equal(attribution_host_busy_ns(&now.st, &last.st), 1000 * MS);
        assert_true(fabs(attribution_utilisation(&in, 64) - 0.5) < EPS);

        /* No previous read: the processes' CPU time, over the CPUs of now. */
        in.last_stat = NULL;
        assert_int_equal(attribution_host_busy_ns(&now.st, NULL), 0);
        assert_true(fabs(attribution_utilisation(&in, 64) - 0.2) < EPS);

        /* No read at all: the fallback CPU count. */
        in.stat = NULL;
        assert_true(fabs(attribution_utilisation(&in, 4) - 0.1) < EPS);

        /* No busy time: 0, even with process CPU time to show. */
        in.stat = &last.st;
        in.last_stat = &last.st;
        assert_int_equal(attribution_host_busy_ns(&last.st, &last.st), 0);
        assert_true(attribution_utilisation(&in, 4) == 0);

        /* A counter that went back counts as no busy time. */
        assert_int_equal(attribution_host_busy_ns(&last.st, &now.st), 0);
}

static void test_time_basis_host(void **state) {
        FakeStat last, now;
        ProcessDelta procs[2] = { proc(300 * MS, 0, 0, 0, 0), proc(100 * MS, 0, 0, 0, 0) };
        AttributionDomainPlace places[2] = { { DOMAIN_PSYS, -1 }, { DOMAIN_PACKAGE, 0 } };
        AttributionDomainIn dom[2];
        double weights[4];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .basis = ATTRIBUTION_BASIS_CPU_TIME, .per_package = false,
                .procs = procs, .n_procs = 2, .stat = NULL, .last_stat = NULL,
                .domains = places, .n_domains = 2,
        };

        (void) state;
        fake_init(&last, 2);
        fake_init(&now, 2);
        fake_cpu(&now, 0, 600 * MS, 40 * MS);
        fake_cpu(&now, 1, 200 * MS, 20 * MS);
        in.stat = &now.st;
        in.last_stat = &last.st;

        memset(dom, 0x5a, sizeof(dom));
        attribution_prepare(&in, weights, dom);
        /* CPU time over the host's busy time: no weights of their own; the
         * package without the per-package split is shared the same way. */
        for (size_t d = 0; d < 2; d++) {
                assert_null(dom[d].weights);
                assert_true(dom[d].weight_total == 0);
                assert_int_equal(dom[d].busy_ns, 800 * MS);
                assert_int_equal(dom[d].irq_ns, 60 * MS);
        }

        /* Σ process CPU > busy: the busy time stays what the kernel said;
         * attribution_compute() then shares by Σ CPU (nothing left over). */
        procs[0].cpu_ns = 900 * MS;
        attribution_prepare(&in, weights, dom);
        assert_int_equal(dom[0].busy_ns, 800 * MS);
        {
                uint64_t cpu[2] = { procs[0].cpu_ns, procs[1].cpu_ns };
                AttributionDomainOut out[2];
                double pj[4];
                dom[0].measured_j = dom[1].measured_j = 10;
                dom[0].idle_w = dom[1].idle_w = 0;
                assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, dom, 2, cpu, 2, out, pj), 0);
                assert_true(fabs(pj[0 * 2 + 0] + pj[1 * 2 + 0] + out[0].irq_j - 10) < 1e-6);
                assert_true(fabs(pj[0 * 2 + 0] / pj[1 * 2 + 0] - 9.0) < 1e-6);
        }

        /* No second read: no busy time, no irq time. */
        in.last_stat = NULL;
        attribution_prepare(&in, weights, dom);
        assert_int_equal(dom[0].busy_ns, 0);
        assert_int_equal(dom[0].irq_ns, 0);
}

static void test_per_package(void **state) {
        FakeStat last, now;
        /* Process 0: 300 ms, two thirds on package 0; process 1: 100 ms, all on package 1. */
        ProcessDelta procs[2] = { proc(300 * MS, 0, 0, 200 * MS, 100 * MS), proc(100 * MS, 0, 0, 0, 100 * MS) };
        AttributionDomainPlace places[4] = {
                { DOMAIN_PACKAGE, 0 }, { DOMAIN_PACKAGE, 1 }, { DOMAIN_CORE, 1 }, { DOMAIN_PSYS, -1 },
        };
        AttributionDomainIn dom[4];
        double weights[8];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .basis = ATTRIBUTION_BASIS_CPU_TIME, .per_package = true,
                .procs = procs, .n_procs = 2, .cpu_pkg = two_pkgs, .n_cpu_pkg = 4,
                .domains = places, .n_domains = 4,
        };

        (void) state;
        fake_init(&last, 4);
        fake_init(&now, 4);
        fake_cpu(&now, 0, 150 * MS, 10 * MS);
        fake_cpu(&now, 1, 150 * MS, 20 * MS);
        fake_cpu(&now, 2, 100 * MS, 30 * MS);
        fake_cpu(&now, 3, 200 * MS, 40 * MS);
        in.stat = &now.st;
        in.last_stat = &last.st;

        attribution_prepare(&in, weights, dom);
        /* package-0: process 0's two thirds, over CPUs 0 and 1's busy time and irq. */
        assert_ptr_equal(dom[0].weights, weights + 0);
        assert_true(fabs(dom[0].weights[0] - 200.0 * MS) < 1e-3);
        assert_true(dom[0].weights[1] == 0);
        assert_true(fabs(dom[0].weight_total - 300.0 * MS) < 1e-3);
        assert_int_equal(dom[0].irq_ns, 30 * MS);
        /* package-1 and core-1: the rest, over CPUs 2 and 3. */
        for (size_t d = 1; d <= 2; d++) {
                assert_ptr_equal(dom[d].weights, weights + d * 2);
                assert_true(fabs(dom[d].weights[0] - 100.0 * MS) < 1e-3);
                assert_true(fabs(dom[d].weights[1] - 100.0 * MS) < 1e-3);
                assert_true(fabs(dom[d].weight_total - 300.0 * MS) < 1e-3);
                assert_int_equal(dom[d].irq_ns, 70 * MS);
        }
        /* psys: the host. */
        assert_null(dom[3].weights);
        assert_int_equal(dom[3].busy_ns, 600 * MS);
        assert_int_equal(dom[3].irq_ns, 100 * MS);

        /* A process with no per-package split has no share of a package. */
        procs[1].pkg_cpu_ns[1] = 0;
        attribution_prepare(&in, weights, dom);
        assert_true(dom[1].weights[1] == 0);

        /* A CPU came or went between the reads: the package's busy time is
         * unknown (0, so Σ weights decides), and its irq time is the host's. */
        last.st.n_cpus = 3;
        attribution_prepare(&in, weights, dom);
        assert_true(dom[0].weight_total == 0);
        assert_int_equal(dom[0].irq_ns, now.st.total.irq_ns + now.st.total.softirq_ns);

        /* No busy time on the package: weight_total 0, irq from the host. */
        last.st.n_cpus = 4;
        in.stat = &last.st;
        attribution_prepare(&in, weights, dom);
        assert_true(dom[0].weight_total == 0);
        assert_int_equal(dom[0].irq_ns, 0);
        assert_int_equal(dom[0].busy_ns, 0);
}

static void test_dram_by_rss_time(void **state) {
        ProcessDelta procs[3] = {
                proc(300 * MS, 5, 1 << 20, 0, 0), proc(0, 0, 4 << 20, 0, 0), proc(100 * MS, 7, 0, 0, 0),
        };
        AttributionDomainPlace places[1] = { { DOMAIN_DRAM, 0 } };
        AttributionDomainIn dom[1];
        double weights[3];
        AttributionPrepareIn in = {
                .dt_s = 0.5, .basis = ATTRIBUTION_BASIS_CYCLES, .per_package = true,
                .procs = procs, .n_procs = 3, .cpu_pkg = two_pkgs, .n_cpu_pkg = 4,
                .domains = places, .n_domains = 1,
        };

        (void) state;
        attribution_prepare(&in, weights, dom);
        /* Resident memory × time, whatever the CPU basis; a process that
         * never ran still holds its memory. */
        assert_ptr_equal(dom[0].weights, weights);
        assert_true(fabs(weights[0] - (double) (1 << 20) * 0.5) < EPS);
        assert_true(fabs(weights[1] - (double) (4 << 20) * 0.5) < EPS);
        assert_true(weights[2] == 0);
        assert_true(dom[0].weight_total == 0);
}

static void test_cycles_basis(void **state) {
        FakeStat last, now;
        ProcessDelta procs[2] = { proc(300 * MS, 3000, 0, 200 * MS, 100 * MS), proc(100 * MS, 5000, 0, 0, 100 * MS) };
        AttributionDomainPlace places[3] = { { DOMAIN_PSYS, -1 }, { DOMAIN_PACKAGE, 0 }, { DOMAIN_PACKAGE, 1 } };
        AttributionDomainIn dom[3];
        double weights[6];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .basis = ATTRIBUTION_BASIS_CYCLES, .per_package = true,
                .procs = procs, .n_procs = 2, .cpu_pkg = two_pkgs, .n_cpu_pkg = 4,
                .domains = places, .n_domains = 3,
        };

        (void) state;
        fake_init(&last, 4);
        fake_init(&now, 4);
        fake_cpu(&now, 0, 150 * MS, 10 * MS);
        fake_cpu(&now, 2, 100 * MS, 30 * MS);
        in.stat = &now.st;
        in.last_stat = &last.st;

        attribution_prepare(&in, weights, dom);
        /* Whole-host domain: cycles, no total of its own (Σ cycles). */
        assert_ptr_equal(dom[0].weights, weights);
        assert_true(weights[0] == 3000 && weights[1] == 5000);
        assert_true(dom[0].weight_total == 0);
        assert_int_equal(dom[0].irq_ns, 40 * MS);
        /* Packages: cycles split as the CPU time was; no busy-time total
         * (cycles are not time), so the irq time is the host's. */
        assert_true(fabs(dom[1].weights[0] - 2000) < 1e-6);
        assert_true(dom[1].weights[1] == 0);
        assert_true(fabs(dom[2].weights[0] - 1000) < 1e-6);
        assert_true(fabs(dom[2].weights[1] - 5000) < 1e-6);
        assert_true(dom[1].weight_total == 0 && dom[2].weight_total == 0);
        assert_int_equal(dom[1].irq_ns, 40 * MS);

        /* Without the per-package split, packages take the host's basis. */
        in.per_package = false;
        attribution_prepare(&in, weights, dom);
        assert_true(dom[1].weights[0] == 3000 && dom[1].weights[1] == 5000);
}

static void test_unknown_package(void **state) {
        ProcessDelta procs[1] = { proc(300 * MS, 0, 0, 300 * MS, 0) };
        AttributionDomainPlace places[2] = { { DOMAIN_PACKAGE, -1 }, { DOMAIN_UNCORE, PROCESS_MAX_PKGS } };
        AttributionDomainIn dom[2];
        double weights[2];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .basis = ATTRIBUTION_BASIS_CPU_TIME, .per_package = true,
                .procs = procs, .n_procs = 1, .domains = places, .n_domains = 2,
        };

        (void) state;
        /* A package the topology does not know: the host's time basis. */
        attribution_prepare(&in, weights, dom);
        assert_null(dom[0].weights);
        assert_null(dom[1].weights);

        /* No processes, no domains: nothing to do, nothing touched. */
        in.n_procs = 0;
        in.procs = NULL;
        attribution_prepare(&in, weights, dom);
        in.n_domains = 0;
        attribution_prepare(&in, NULL, dom);
}

/* One GPU interval through attribution_compute(): measured J with idle_w W
 * over 1 s; checks conservation and returns the domain's figures. */
static AttributionDomainOut gpu_compute(AttributionDomainIn *dom, size_t n_domains, size_t d,
                                        const ProcessDelta *procs, size_t n_procs, double measured, double idle_w,
                                        double *pj) {
        AttributionDomainOut out[4];
        uint64_t cpu[8];

        assert_true(n_domains <= 4 && n_procs <= 8);
        for (size_t i = 0; i < n_procs; i++)
                cpu[i] = procs[i].cpu_ns;
        for (size_t k = 0; k < n_domains; k++) {
                dom[k].measured_j = measured;
                dom[k].idle_w = idle_w;
        }
        assert_int_equal(attribution_compute(1.0, IDLE_POLICY_SEPARATE, dom, n_domains, cpu, n_procs, out, pj), 0);
        assert_true(out[d].valid);
        assert_true(fabs(out[d].attributed_j + out[d].idle_j + out[d].unattributed_j - out[d].measured_j) < 1e-12);
        assert_true(out[d].irq_j == 0);
        return out[d];
}

static ProcessInfo pinfo(uint32_t pid, uint64_t start_s) {
        return (ProcessInfo) { .pid = pid, .start_time_ns = start_s * 1000 * MS };
}

/* Boot at realtime 1000 s: a sample at boot time T s has timestamp (1000 + T) × 10^6 µs. */
#define BOOT_REALTIME_NS (UINT64_C(1000) * 1000 * MS)
#define AT_US(t_s) ((UINT64_C(1000) + (t_s)) * 1000000)

static void test_gpu_two_processes(void **state) {
        FakeStat last, now;
        ProcessInfo info[3] = { pinfo(100, 10), pinfo(200, 10), pinfo(300, 10) };
        /* Process 300 burns CPU but never touches the GPU. */
        ProcessDelta procs[3] = { proc(10 * MS, 0, 0, 0, 0), proc(10 * MS, 0, 0, 0, 0), proc(900 * MS, 0, 0, 0, 0) };
        AttributionDomainPlace places[2] = { { DOMAIN_PSYS, -1 }, { DOMAIN_GPU, -1 } };
        /* 60% and 20% SM utilisation, one sample each. */
        NvmlProcessUse uses[2] = {
                { .pid = 100, .sm_util = 60, .n_samples = 1, .last_us = AT_US(50) },
                { .pid = 200, .sm_util = 20, .n_samples = 1, .last_us = AT_US(50) },
        };
        AttributionGpuUse gpu[2] = { {}, { .uses = uses, .n_uses = 2 } };
        AttributionDomainIn dom[2];
        AttributionDomainOut out;
        double weights[6], pj[6];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .basis = ATTRIBUTION_BASIS_CPU_TIME, .procs = procs, .n_procs = 3,
                .domains = places, .n_domains = 2, .gpu = gpu, .boot_realtime_ns = BOOT_REALTIME_NS,
        };

        (void) state;
        for (size_t i = 0; i < 3; i++)
                procs[i].info = &info[i];
        fake_init(&last, 2);
        fake_init(&now, 2);
        fake_cpu(&now, 0, 600 * MS, 40 * MS);
        fake_cpu(&now, 1, 400 * MS, 20 * MS);
        in.stat = &now.st;
        in.last_stat = &last.st;

        attribution_prepare(&in, weights, dom);
        /* The GPU: its own basis, no irq time; psys unchanged (host CPU time). */
        assert_ptr_equal(dom[1].weights, weights + 3);
        assert_true(dom[1].weights[0] == 60 && dom[1].weights[1] == 20 && dom[1].weights[2] == 0);
        assert_true(dom[1].weight_total == 80);
        assert_int_equal(dom[1].irq_ns, 0);
        assert_null(dom[0].weights);
        assert_int_equal(dom[0].irq_ns, 60 * MS);

        /* 100 J measured, 20 W idle: 80 J dynamic, 60/80 and 20/80 of it. */
        out = gpu_compute(dom, 2, 1, procs, 3, 100, 20, pj);
        assert_true(fabs(out.idle_j - 20) < EPS);
        assert_true(fabs(pj[0 * 2 + 1] - 60) < EPS);
        assert_true(fabs(pj[1 * 2 + 1] - 20) < EPS);
        assert_true(pj[2 * 2 + 1] == 0);
        assert_true(fabs(out.attributed_j - 80) < EPS);
        assert_true(fabs(out.unattributed_j) < EPS);

        /* A third process the driver saw but jouled does not track (another
         * pid namespace, or gone before it was seen): its 20 stays
         * unattributed, the others keep theirs. */
        NvmlProcessUse more[3] = { uses[0], uses[1], { .pid = 999, .sm_util = 20, .n_samples = 1, .last_us = AT_US(50) } };
        gpu[1] = (AttributionGpuUse) { .uses = more, .n_uses = 3 };
        attribution_prepare(&in, weights, dom);
        assert_true(dom[1].weight_total == 100);
        out = gpu_compute(dom, 2, 1, procs, 3, 100, 20, pj);
        assert_true(fabs(pj[0 * 2 + 1] - 48) < EPS);
        assert_true(fabs(pj[1 * 2 + 1] - 16) < EPS);
        assert_true(fabs(out.unattributed_j - 16) < EPS);
}

static void test_gpu_process_leaves(void **state) {
        ProcessInfo info[2] = { pinfo(100, 10), pinfo(200, 10) };
        ProcessDelta procs[2] = { proc(0, 0, 0, 0, 0), proc(0, 0, 0, 0, 0) };
        AttributionDomainPlace places[1] = { { DOMAIN_GPU, -1 } };
        /* Four sampling periods: 100 ran at 60% for the first two and
         * exited (its final delta is in this interval), 200 at 20% all along. */
        NvmlProcessUse uses[2] = {
                { .pid = 100, .sm_util = 120, .n_samples = 2, .last_us = AT_US(50) },
                { .pid = 200, .sm_util = 80, .n_samples = 4, .last_us = AT_US(51) },
        };
        AttributionGpuUse gpu[1] = { { .uses = uses, .n_uses = 2 } };
        AttributionDomainIn dom[1];
        AttributionDomainOut out;
        double weights[2], pj[2];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .procs = procs, .n_procs = 2, .domains = places, .n_domains = 1,
                .gpu = gpu, .boot_realtime_ns = BOOT_REALTIME_NS,
        };

        (void) state;
        procs[0].info = &info[0];
        procs[1].info = &info[1];
        info[0].exited = true;
        attribution_prepare(&in, weights, dom);
        assert_true(weights[0] == 120 && weights[1] == 80);
        assert_true(dom[0].weight_total == 200);
        /* The part it ran: 120 of 200 (not 60 of 80). */
        out = gpu_compute(dom, 1, 0, procs, 2, 50, 0, pj);
        assert_true(fabs(pj[0] - 30) < EPS);
        assert_true(fabs(pj[1] - 20) < EPS);
        assert_true(fabs(out.unattributed_j) < EPS);

        /* Next interval: 100 is gone from the tracker, but late samples of
         * it still come: nobody gets them, nothing crashes. */
        in.procs = &procs[1];
        in.n_procs = 1;
        uses[0] = (NvmlProcessUse) { .pid = 100, .sm_util = 60, .n_samples = 1, .last_us = AT_US(52) };
        uses[1] = (NvmlProcessUse) { .pid = 200, .sm_util = 20, .n_samples = 1, .last_us = AT_US(52) };
        attribution_prepare(&in, weights, dom);
        assert_true(weights[0] == 20);
        assert_true(dom[0].weight_total == 80);
        out = gpu_compute(dom, 1, 0, &procs[1], 1, 50, 10, pj);
        assert_true(fabs(pj[0] - 10) < EPS);
        assert_true(fabs(out.unattributed_j - 30) < EPS);
        assert_true(fabs(out.idle_j - 10) < EPS);
}

static void test_gpu_pid_reuse(void **state) {
        /* pid 100 ran from 10 s and exited; its pid was reused by a process
         * that started at 60 s, in the same interval. */
        ProcessInfo info[2] = { pinfo(100, 10), pinfo(100, 60) };
        ProcessDelta procs[2] = { proc(0, 0, 0, 0, 0), proc(0, 0, 0, 0, 0) };
        AttributionDomainPlace places[1] = { { DOMAIN_GPU, -1 } };
        NvmlProcessUse use = { .pid = 100, .sm_util = 50, .n_samples = 1, .last_us = AT_US(59) };
        AttributionGpuUse gpu[1] = { { .uses = &use, .n_uses = 1 } };
        AttributionDomainIn dom[1];
        double weights[2];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .procs = procs, .n_procs = 2, .domains = places, .n_domains = 1,
                .gpu = gpu, .boot_realtime_ns = BOOT_REALTIME_NS,
        };

        (void) state;
        procs[0].info = &info[0];
        procs[1].info = &info[1];
        info[0].exited = true;
        /* Sampled before the new one started: the old one's. */
        attribution_prepare(&in, weights, dom);
        assert_true(weights[0] == 50 && weights[1] == 0);
        /* Sampled after: the new one's (the latest start before it). */
        use.last_us = AT_US(61);
        attribution_prepare(&in, weights, dom);
        assert_true(weights[0] == 0 && weights[1] == 50);
        /* Only the new one tracked, the sample older than its start (beyond
         * the slack): its predecessor's, unattributed. */
        use.last_us = AT_US(58);
        in.procs = &procs[1];
        in.n_procs = 1;
        attribution_prepare(&in, weights, dom);
        assert_true(weights[0] == 0);
        assert_true(dom[0].weight_total == 50);
        /* Without the boot time, pids alone. */
        in.boot_realtime_ns = 0;
        attribution_prepare(&in, weights, dom);
        assert_true(weights[0] == 50);
}

static void test_gpu_no_process(void **state) {
        ProcessInfo info[1] = { pinfo(100, 10) };
        ProcessDelta procs[1] = { proc(800 * MS, 0, 0, 0, 0) };
        AttributionDomainPlace places[2] = { { DOMAIN_GPU, -1 }, { DOMAIN_GPU, -1 } };
        AttributionGpuUse gpu[2] = { {}, {} };
        AttributionDomainIn dom[2];
        AttributionDomainOut out;
        double weights[2], pj[2];
        AttributionPrepareIn in = {
                .dt_s = 1.0, .procs = procs, .n_procs = 1, .domains = places, .n_domains = 2,
                .gpu = gpu, .boot_realtime_ns = BOOT_REALTIME_NS,
        };

        (void) state;
        procs[0].info = &info[0];
        /* The driver saw no process (gpu-0), or reports none at all (no
         * gpu array): the busy CPU process gets nothing of either GPU. */
        for (int pass = 0; pass < 2; pass++) {
                in.gpu = pass == 0 ? gpu : NULL;
                attribution_prepare(&in, weights, dom);
                for (size_t d = 0; d < 2; d++) {
                        assert_non_null(dom[d].weights);
                        assert_true(dom[d].weights[0] == 0);
                        assert_true(dom[d].weight_total == 0);
                        assert_int_equal(dom[d].irq_ns, 0);
                }
                out = gpu_compute(dom, 2, 0, procs, 1, 40, 25, pj);
                assert_true(pj[0] == 0 && pj[1] == 0);
                assert_true(out.attributed_j == 0);
                assert_true(fabs(out.idle_j - 25) < EPS);
                assert_true(fabs(out.unattributed_j - 15) < EPS);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_host_busy_and_utilisation),
                cmocka_unit_test(test_time_basis_host),
                cmocka_unit_test(test_per_package),
                cmocka_unit_test(test_dram_by_rss_time),
                cmocka_unit_test(test_cycles_basis),
                cmocka_unit_test(test_unknown_package),
                cmocka_unit_test(test_gpu_two_processes),
                cmocka_unit_test(test_gpu_process_leaves),
                cmocka_unit_test(test_gpu_pid_reuse),
                cmocka_unit_test(test_gpu_no_process),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
