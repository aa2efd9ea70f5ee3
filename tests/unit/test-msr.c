/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The MSR source against fixture files: one regular file per CPU, with 8-byte
 * little-endian values at offset = MSR address (how the msr driver is read). */

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

static void msr_set(int cpu, uint64_t addr, uint64_t v) {
        char rel[64];
        uint8_t b[8];
        int fd;

        snprintf(rel, sizeof(rel), "dev/cpu/%d", cpu);
        fx_mkdir_p(fx_path(rel));
        snprintf(rel, sizeof(rel), "dev/cpu/%d/msr", cpu);
        fd = open(fx_path(rel), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        for (int i = 0; i < 8; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        assert_int_equal(pwrite(fd, b, 8, (off_t) addr), 8);
        close(fd);
}

static void cpuinfo(const char *vendor, unsigned family, unsigned model) {
        fx_write("proc/cpuinfo", "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n"
                 "model name\t: Test CPU\n\n", vendor, family, model);
}

static void topo(int cpu, int pkg, int core) {
        char rel[128];
        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        fx_write(rel, "%d\n", pkg);
        snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        fx_write(rel, "%d\n", core);
}

static ssize_t idx(const EnergySource *s, const char *name) {
        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

/* Two-socket Skylake-X server (family 6 model 0x55): ESU 14 (61 µJ), DRAM in
 * the fixed 2^-16 J unit, no PP1, no psys. CPUs 0,1 in package 0, 2,3 in 1. */
static void test_intel_server(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj[8];
        ssize_t p0, p1, d0, c1;

        (void) state;
        cpuinfo("GenuineIntel", 6, 0x55);
        topo(0, 0, 0), topo(1, 0, 1), topo(2, 1, 0), topo(3, 1, 1);
        for (int cpu = 0; cpu <= 2; cpu += 2) {
                msr_set(cpu, 0x606, 0xA0E03);         /* ESU = 0x0E = 14 */
                msr_set(cpu, 0x611, 0xFFFFFF00);      /* about to wrap */
                msr_set(cpu, 0x619, 0xABCD00001000);  /* upper bits are reserved: ignored */
                msr_set(cpu, 0x639, 5);
        }

        assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "GenuineIntel"));
        assert_non_null(strstr(reason, "dram-1"));
        assert_int_equal(msr_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(s->n_domains, 6); /* package, core, dram × 2 */
        assert_true((p0 = idx(s, "package-0")) >= 0);
        assert_true((p1 = idx(s, "package-1")) >= 0);
        assert_true((d0 = idx(s, "dram-0")) >= 0);
        assert_true((c1 = idx(s, "core-1")) >= 0);
        assert_int_equal(idx(s, "uncore-0"), -1);
        assert_int_equal(idx(s, "psys"), -1);
        assert_int_equal(s->domains[p1].package, 1);
        assert_int_equal(s->domains[d0].kind, DOMAIN_DRAM);
        assert_false(s->domains[p0].estimated);

        assert_int_equal(s->ops->read(s, uj), 0);
        for (size_t i = 0; i < s->n_domains; i++)
                assert_int_equal(uj[i], 0);

        /* Package 0 wraps: 0xFFFFFF00 → 0x100 is 0x200 units = 512 × 10^6 / 2^14 µJ = 31250 µJ. */
        msr_set(0, 0x611, 0x100);
        /* Package 1: 2^14 units = exactly 1 J. */
        msr_set(2, 0x611, (0xFFFFFF00 + 0x4000) & 0xFFFFFFFF);
        /* DRAM: 2^16 units of 2^-16 J = 1 J (with ESU 14 it would read 4 J). */
        msr_set(0, 0x619, 0xABCD00011000);
        /* Core 1: 3 units = 3 × 61.03515625 = 183.10546875 → 183 µJ. */
        msr_set(2, 0x639, 8);
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[p0], 31250);
        assert_int_equal(uj[p1], 1000000);
        assert_int_equal(uj[d0], 1000000);
        assert_int_equal(uj[c1], 183);

        /* Accumulated in units, converted once: no rounding drift. 5 more units
         * on core 1 make 8 units = 488.28125 → 488 µJ (not 183 + 305). */
        msr_set(2, 0x639, 13);
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[c1], 488);
        /* A second wrap of package 0, from 0x100 through 0 to 0x80: 2^32 − 0x80 units. */
        msr_set(0, 0x611, 0xFFFFFFFF);
        assert_int_equal(s->ops->read(s, uj), 0);
        msr_set(0, 0x611, 0x80);
        assert_int_equal(s->ops->read(s, uj), 0);
        /* units = 0x200 + (0xFFFFFFFF − 0x100) + 0x81 = 0x100000180 */
        assert_int_equal(uj[p0], (uint64_t) ((unsigned __int128) UINT64_C(0x100000180) * 1000000 >> 14));
        assert_int_equal(uj[p0], 262144023437);
        source_close(s);
}

/* Client part (Skylake 0x5E): DRAM reads 0 (absent), PP1 and psys present. */
static void test_intel_client(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        uint64_t uj[8];
        char reason[256];
        ssize_t d;

        (void) state;
        cpuinfo("GenuineIntel", 6, 0x5E);
        topo(0, 0, 0), topo(1, 0, 0);
        msr_set(0, 0x606, 0xA1003); /* ESU 16 */
        msr_set(0, 0x611, 100);
        msr_set(0, 0x619, 0);
        msr_set(0, 0x639, 50);
        msr_set(0, 0x641, 0);       /* PP1 idle since boot: still present */
        msr_set(0, 0x64d, 1000);
        assert_int_equal(msr_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(s->n_domains, 4);
        assert_int_equal(idx(s, "dram-0"), -1);
        assert_true(idx(s, "uncore-0") >= 0);
        assert_true((d = idx(s, "psys")) >= 0);
        assert_int_equal(s->domains[d].kind, DOMAIN_PSYS);
        assert_true(s->domains[d].whole_system);
        assert_int_equal(s->ops->read(s, uj), 0);
        msr_set(0, 0x64d, 1000 + 3 * 65536 + 1); /* 3 J + 15.258… µJ */
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[d], 3000015);
        source_close(s);
}

static void msr_bytes(int cpu, uint64_t addr, const uint8_t *b, size_t n) {
        char rel[64];
        int fd;

        snprintf(rel, sizeof(rel), "dev/cpu/%d/msr", cpu);
        fd = open(fx_path(rel), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, b, n, (off_t) addr), (ssize_t) n);
        close(fd);
}

/* AMD Zen: one package, 2 cores with 2 threads each (CPUs 0,2 core 0; 1,3
 * core 1): the per-core register is read once per core and summed.
 *
 * AMD's registers are consecutive (0xC0010299 unit, …9A core, …9B package):
 * in a flat fixture file their 8-byte values overlap, so the bytes from
 * 0xC0010299 are written as one array that encodes all three at once:
 *   [unit byte 0][B0 B1 B2 B3 B4]: ESU = B0 & 0x1f, core = LE32(B0..B3),
 *   package = LE32(B1..B4). */
static void test_amd(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];
        uint64_t uj[4];
        ssize_t p, c;
        const uint64_t base = UINT64_C(0xC0010299);
        /* ESU 16; core-0 0xFFFFF010; package 0xFFFFFFF0. */
        const uint8_t cpu0_a[] = { 0x03, 0x10, 0xF0, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 };
        /* core-0 0x00001010 (+0x2000 units, a wrap); package 0x10 (+0x20, a wrap). */
        const uint8_t cpu0_b[] = { 0x03, 0x10, 0x10, 0x00, 0x00, 0x00, 0, 0, 0, 0 };
        /* CPU 1 (core 1): ESU 16, core 0x10, then 0x20010 (+2^17 units = 2 J). */
        const uint8_t cpu1_a[] = { 0x03, 0x10, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0 };
        const uint8_t cpu1_b[] = { 0x03, 0x10, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0 };
        /* Siblings: must not be read (they would double the core figure). */
        const uint8_t sibling[] = { 0x03, 0x10, 0x77, 0x77, 0x77, 0x77, 0, 0, 0, 0 };

        (void) state;
        cpuinfo("AuthenticAMD", 0x19, 1);
        topo(0, 0, 0), topo(1, 0, 1), topo(2, 0, 0), topo(3, 0, 1);
        msr_set(0, 0, 0), msr_set(1, 0, 0), msr_set(2, 0, 0), msr_set(3, 0, 0); /* create the files */
        msr_bytes(0, base, cpu0_a, sizeof(cpu0_a));
        msr_bytes(1, base, cpu1_a, sizeof(cpu1_a));
        msr_bytes(2, base, sibling, sizeof(sibling));
        msr_bytes(3, base, sibling, sizeof(sibling));

        assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "AuthenticAMD"));
        assert_int_equal(msr_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_int_equal(s->n_domains, 2);
        assert_true((p = idx(s, "package-0")) >= 0);
        assert_true((c = idx(s, "core-0")) >= 0);
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[p], 0);
        assert_int_equal(uj[c], 0);
        msr_bytes(0, base, cpu0_b, sizeof(cpu0_b));
        msr_bytes(1, base, cpu1_b, sizeof(cpu1_b));
        msr_bytes(2, base, cpu0_b, sizeof(cpu0_b)); /* a sibling changing must not matter */
        assert_int_equal(s->ops->read(s, uj), 0);
        assert_int_equal(uj[p], 488);              /* 0x20 × 10^6 / 2^16 = 488.28 */
        assert_int_equal(uj[c], 125000 + 2000000); /* 0x2000 units + 2^17 units */
        source_close(s);
}

static void test_missing_and_unsupported(void **state) {
        SourceContext ctx = fx_ctx();
        EnergySource *s = NULL;
        char reason[256];

        (void) state;
        /* No cpuinfo at all. */
        assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "vendor"));
        /* Another vendor. */
        cpuinfo("CentaurHauls", 6, 15);
        assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "CentaurHauls"));
        /* Intel, topology, but no msr device. */
        cpuinfo("GenuineIntel", 6, 0x55);
        topo(0, 0, 0);
        assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "modprobe msr"));
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_true(msr_source_ops.open(&ctx, reason, sizeof(reason), &s) < 0);
        assert_non_null(strstr(reason, "modprobe msr"));
        assert_null(s);
        /* The device but no RAPL unit register (EIO on real hardware). */
        msr_set(0, 0x10, 1);
        assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "0x606"));
        /* Unreadable device. */
        if (geteuid() != 0) {
                assert_int_equal(chmod(fx_path("dev/cpu/0/msr"), 0), 0);
                assert_int_equal(msr_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_PERMISSION);
        }
}

/* Under auto, msr only feeds the domains powercap does not have. */
static void test_select_rest(void **state) {
        SourceContext ctx = fx_ctx();
        SourceProbe probes[16] = {};
        EnergySource **list = NULL;
        size_t n = 0;
        uint64_t uj[8];
        EnergySource *m;

        (void) state;
        cpuinfo("GenuineIntel", 6, 0x55);
        topo(0, 0, 0);
        fx_write("proc/stat", "cpu  1 0 1 1 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\n");
        fx_write("powercap/intel-rapl:0/name", "package-0\n");
        fx_write("powercap/intel-rapl:0/energy_uj", "1\n");
        fx_write("powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
        msr_set(0, 0x606, 0xA0E03);
        msr_set(0, 0x611, 7);
        msr_set(0, 0x619, 100);
        msr_set(0, 0x639, 200);

        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 2);
        assert_ptr_equal(list[0]->ops, &rapl_source_ops);
        m = list[1];
        assert_ptr_equal(m->ops, &msr_source_ops);
        assert_int_equal(m->n_domains, 2);
        assert_string_equal(m->domains[0].name, "core-0");
        assert_string_equal(m->domains[1].name, "dram-0");
        assert_non_null(strstr(probes[2].reason, "already measured: package-0 (rapl)"));
        assert_int_equal(m->ops->read(m, uj), 0);
        msr_set(0, 0x611, 999999);        /* dropped: not read any more */
        msr_set(0, 0x619, 100 + 65536);   /* 1 J in the fixed DRAM unit */
        msr_set(0, 0x639, 200 + 16384);   /* 1 J at ESU 14 */
        assert_int_equal(m->ops->read(m, uj), 0);
        assert_int_equal(uj[0], 1000000);
        assert_int_equal(uj[1], 1000000);
        /* Named explicitly, the overlap is an error, as before. */
        list = source_close_all(list);
        assert_int_equal(source_select(&ctx, "rapl,msr", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
}

static void test_dram_unit_table(void **state) {
        (void) state;
        assert_true(msr_intel_dram_fixed_unit(6, 0x3F));  /* Haswell-EP */
        assert_true(msr_intel_dram_fixed_unit(6, 0x55));  /* Skylake-SP */
        assert_true(msr_intel_dram_fixed_unit(6, 0x8F));  /* Sapphire Rapids */
        assert_false(msr_intel_dram_fixed_unit(6, 0x3C)); /* Haswell client */
        assert_false(msr_intel_dram_fixed_unit(6, 0x2D)); /* Sandy Bridge-EP: ESU */
        assert_false(msr_intel_dram_fixed_unit(0x19, 0x55));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_intel_server, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_intel_client, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_amd, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_unsupported, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_select_rest, fx_setup, fx_teardown),
                cmocka_unit_test(test_dram_unit_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
