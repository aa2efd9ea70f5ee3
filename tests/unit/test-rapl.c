/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The RAPL powercap source against fixture trees made here, in a mkdtemp dir. */

#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "log.h"
#include "source.h"
#include "util.h"
#include "test-fixture.h"

#define RANGE_DEFAULT UINT64_C(262143328850)

static char tmpdir[256];
static char root[512];    /* the powercap root */
static char proc[512];    /* a proc root with a stat file, for source_select */

/* ---- fixture helpers --------------------------------------------------- */

/* The real directory of zone id ("intel-rapl:0" or "intel-rapl:0:1"), under
 * root/intel-rapl/ as in sysfs. */
static void zone_dir(const char *id, char *buf, size_t size) {
        unsigned n, m;
        if (sscanf(id, "intel-rapl:%u:%u", &n, &m) == 2)
                snprintf(buf, size, "%s/intel-rapl/intel-rapl:%u/%s", root, n, id);
        else
                snprintf(buf, size, "%s/intel-rapl/%s", root, id);
}

static void set_energy(const char *id, uint64_t uj) {
        char dir[1024];
        zone_dir(id, dir, sizeof(dir));
        fx_write_in(dir, "energy_uj", "%" PRIu64 "\n", uj);
}

static void make_zone(const char *id, const char *name, uint64_t energy, uint64_t range, uint64_t max_power_uw) {
        char dir[1024], link[1024];

        zone_dir(id, dir, sizeof(dir));
        fx_mkdir_p(dir);
        fx_write_in(dir, "name", "%s\n", name);
        fx_write_in(dir, "energy_uj", "%" PRIu64 "\n", energy);
        fx_write_in(dir, "max_energy_range_uj", "%" PRIu64 "\n", range);
        if (max_power_uw > 0)
                fx_write_in(dir, "constraint_0_max_power_uw", "%" PRIu64 "\n", max_power_uw);
        /* /sys/class/powercap/ID is a symlink to the same zone. */
        snprintf(link, sizeof(link), "%s/%s", root, id);
        assert_int_equal(symlink(dir, link), 0);
}

/* Two packages with core/uncore/dram subzones, psys, and an MMIO duplicate of
 * package-0 that must be ignored. */
static void make_tree(void) {
        char dir[1024];

        make_zone("intel-rapl:0", "package-0", 1000, RANGE_DEFAULT, 2000000000);
        make_zone("intel-rapl:0:0", "core", 2000, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:0:1", "uncore", 3000, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:0:2", "dram", 4000, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:1", "package-1", 5000, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:1:0", "core", 6000, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:1:1", "dram", 7000, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:2", "psys", 8000, RANGE_DEFAULT, 0);

        snprintf(dir, sizeof(dir), "%s/intel-rapl-mmio/intel-rapl-mmio:0", root);
        fx_mkdir_p(dir);
        fx_write_in(dir, "name", "package-0\n");
        fx_write_in(dir, "energy_uj", "123\n");
        fx_write_in(dir, "max_energy_range_uj", "%" PRIu64 "\n", RANGE_DEFAULT);
        snprintf(dir, sizeof(dir), "%s/intel-rapl-mmio:0", root);
        assert_int_equal(symlink("intel-rapl-mmio/intel-rapl-mmio:0", dir), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        chmod(path, 0755);
        return remove(path) < 0 ? -1 : 0;
}

static int setup(void **state) {
        (void) state;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-rapl-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(root, sizeof(root), "%s/powercap", tmpdir);
        snprintf(proc, sizeof(proc), "%s/proc", tmpdir);
        fx_mkdir_p(root);
        fx_mkdir_p(proc);
        fx_write_in(proc, "stat", "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 5 0 5 50 0 0 0 0 0 0\n"
                                "cpu1 5 0 5 50 0 0 0 0 0 0\nintr 0\n");
        return 0;
}

static int teardown(void **state) {
        (void) state;
        return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static SourceContext ctx_for(const char *powercap) {
        /* Every other root points at empty fixture directories, so that the
         * host's own meters never take part. */
        return (SourceContext) { .powercap_root = powercap, .proc_root = proc, .sys_root = proc, .dev_root = proc,
                                 .nvml_library = "/nonexistent/libnvidia-ml.so.1" };
}

static EnergySource *open_rapl(void) {
        SourceContext ctx = ctx_for(root);
        EnergySource *s = NULL;
        char reason[256];
        assert_int_equal(rapl_source_ops.open(&ctx, reason, sizeof(reason), &s), 0);
        assert_non_null(s);
        return s;
}

static ssize_t domain_index(const EnergySource *s, const char *name) {
        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

/* ---- tests ------------------------------------------------------------- */

static void test_domains(void **state) {
        static const struct {
                const char *name;
                DomainKind kind;
                int package;
        } expected[] = {
                { "package-0", DOMAIN_PACKAGE, 0 },
                { "core-0", DOMAIN_CORE, 0 },
                { "uncore-0", DOMAIN_UNCORE, 0 },
                { "dram-0", DOMAIN_DRAM, 0 },
                { "package-1", DOMAIN_PACKAGE, 1 },
                { "core-1", DOMAIN_CORE, 1 },
                { "dram-1", DOMAIN_DRAM, 1 },
                { "psys", DOMAIN_PSYS, -1 },
        };
        SourceContext ctx = ctx_for(root);
        char reason[256];
        EnergySource *s;

        (void) state;
        make_tree();
        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "package-1"));
        assert_false(rapl_source_ops.estimated);
        assert_string_equal(rapl_source_ops.name, "rapl");

        s = open_rapl();
        /* Every zone is reachable twice (symlink + real dir) and package-0 a
         * third time through MMIO: each counted once. */
        assert_int_equal(s->n_domains, (size_t) ELEMENTSOF(expected));
        for (size_t i = 0; i < (size_t) ELEMENTSOF(expected); i++) {
                assert_string_equal(s->domains[i].name, expected[i].name);
                assert_int_equal(s->domains[i].kind, expected[i].kind);
                assert_int_equal(s->domains[i].package, expected[i].package);
                assert_false(s->domains[i].estimated);
                assert_int_equal(domain_kind_from_name(s->domains[i].name), expected[i].kind);
        }
        /* constraint_0_max_power_uw 2000 W on package-0; the generous 1000 W elsewhere. */
        assert_true(s->domains[0].max_power_w == 2000.0);
        assert_true(s->domains[4].max_power_w == 1000.0);
        source_close(s);
}

static void test_exact_deltas(void **state) {
        uint64_t uj[8];
        EnergySource *s;
        ssize_t p0, c0, ps;

        (void) state;
        make_tree();
        s = open_rapl();
        p0 = domain_index(s, "package-0");
        c0 = domain_index(s, "core-0");
        ps = domain_index(s, "psys");
        assert_true(p0 >= 0 && c0 >= 0 && ps >= 0);

        /* First read: the baseline, 0 everywhere. */
        assert_int_equal(rapl_source_read_at(s, 10 * NSEC_PER_SEC, uj), 0);
        for (size_t i = 0; i < s->n_domains; i++)
                assert_int_equal(uj[i], 0);

        set_energy("intel-rapl:0", 1000 + 12345678);
        set_energy("intel-rapl:0:0", 2000 + 7654321);
        set_energy("intel-rapl:2", 8000 + 30000001);
        assert_int_equal(rapl_source_read_at(s, 11 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[p0], 12345678);
        assert_int_equal(uj[c0], 7654321);
        assert_int_equal(uj[ps], 30000001);
        assert_int_equal(uj[domain_index(s, "dram-1")], 0);

        /* Cumulative. */
        set_energy("intel-rapl:0", 1000 + 12345678 + 1);
        assert_int_equal(rapl_source_read_at(s, 12 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[p0], 12345679);
        assert_int_equal(uj[c0], 7654321);
        source_close(s);
}

static void test_wrap(void **state) {
        uint64_t uj[8];
        EnergySource *s;

        (void) state;
        make_tree();
        set_energy("intel-rapl:0", RANGE_DEFAULT - 1000);
        s = open_rapl();
        assert_int_equal(rapl_source_read_at(s, NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[0], 0);

        /* RANGE-1000 → RANGE is 1000, RANGE → 0 one more, 0 → 500: 1501. */
        set_energy("intel-rapl:0", 500);
        assert_int_equal(rapl_source_read_at(s, 2 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[0], 1501);

        /* And on from there without a wrap. */
        set_energy("intel-rapl:0", 600);
        assert_int_equal(rapl_source_read_at(s, 3 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[0], 1601);
        source_close(s);
}

static void test_successive_wraps(void **state) {
        const uint64_t range = 999999; /* values in [0, 999999]: modulus 1e6 */
        static const uint64_t seq[] = { 900000, 100000, 700000, 300000, 999999, 0, 0, 999998, 5 };
        uint64_t uj[8], expected = 0;
        EnergySource *s;

        (void) state;
        make_zone("intel-rapl:0", "package-0", seq[0], range, 0);
        s = open_rapl();
        assert_int_equal(s->n_domains, 1);
        assert_int_equal(rapl_source_read_at(s, NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[0], 0);

        for (size_t i = 1; i < (size_t) ELEMENTSOF(seq); i++) {
                uint64_t delta = seq[i] >= seq[i - 1] ? seq[i] - seq[i - 1] : seq[i] + 1000000 - seq[i - 1];
                set_energy("intel-rapl:0", seq[i]);
                assert_int_equal(rapl_source_read_at(s, (1 + i) * NSEC_PER_SEC, uj), 0);
                expected += delta;
                assert_int_equal(uj[0], expected);
        }
        /* 200000 + 600000 + 600000 + 699999 + 1 + 0 + 999998 + 7 */
        assert_int_equal(expected, 3100005);
        source_close(s);
}

static void test_symlink_only_tree(void **state) {
        /* Zones reached only through root/intel-rapl/ (no top-level links),
         * and the same zone linked twice under different names. */
        char dir[1024], link[1024];
        uint64_t uj[4];
        EnergySource *s;

        (void) state;
        snprintf(dir, sizeof(dir), "%s/intel-rapl/intel-rapl:0", root);
        fx_mkdir_p(dir);
        fx_write_in(dir, "name", "package-0\n");
        fx_write_in(dir, "energy_uj", "10\n");
        fx_write_in(dir, "max_energy_range_uj", "1000000\n");
        snprintf(link, sizeof(link), "%s/amd-rapl", root);
        assert_int_equal(symlink("intel-rapl", link), 0);
        snprintf(link, sizeof(link), "%s/intel-rapl:0", root);
        assert_int_equal(symlink(dir, link), 0);

        s = open_rapl();
        assert_int_equal(s->n_domains, 1);
        assert_string_equal(s->domains[0].name, "package-0");
        assert_int_equal(rapl_source_read_at(s, NSEC_PER_SEC, uj), 0);
        fx_write_in(dir, "energy_uj", "20\n");
        assert_int_equal(rapl_source_read_at(s, 2 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[0], 10);
        source_close(s);
}

static void test_server_layout(void **state) {
        /* Some servers: dram as a top-level zone; unknown names are ignored. */
        uint64_t uj[4];
        EnergySource *s;

        (void) state;
        make_zone("intel-rapl:0", "package-0", 100, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:1", "dram", 200, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:2", "platform-thing", 300, RANGE_DEFAULT, 0);
        make_zone("intel-rapl:0:0", "mystery", 400, RANGE_DEFAULT, 0);
        s = open_rapl();
        assert_int_equal(s->n_domains, 2);
        assert_string_equal(s->domains[0].name, "package-0");
        assert_string_equal(s->domains[1].name, "dram-1");
        assert_int_equal(s->domains[1].kind, DOMAIN_DRAM);
        assert_int_equal(rapl_source_read_at(s, NSEC_PER_SEC, uj), 0);
        set_energy("intel-rapl:1", 250);
        assert_int_equal(rapl_source_read_at(s, 2 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[0], 0);
        assert_int_equal(uj[1], 50);
        source_close(s);
}

static void test_missing(void **state) {
        SourceContext ctx;
        char reason[256], nowhere[600];
        EnergySource *s = NULL;

        (void) state;
        /* Empty directory. */
        ctx = ctx_for(root);
        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, "no RAPL powercap zones under"));
        assert_non_null(strstr(reason, root));
        reason[0] = 0; /* the reason is open's own, not the probe's */
        assert_int_equal(rapl_source_ops.open(&ctx, reason, sizeof(reason), &s), -ENODEV);
        assert_non_null(strstr(reason, "no RAPL powercap domains under"));
        assert_non_null(strstr(reason, root));
        assert_null(s);

        /* No directory at all. */
        snprintf(nowhere, sizeof(nowhere), "%s/does-not-exist", tmpdir);
        ctx = ctx_for(nowhere);
        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
        assert_non_null(strstr(reason, nowhere));

        /* Only an MMIO zone: still no RAPL zone for us. */
        snprintf(nowhere, sizeof(nowhere), "%s/intel-rapl-mmio:0", root);
        fx_mkdir_p(nowhere);
        fx_write_in(nowhere, "name", "package-0\n");
        fx_write_in(nowhere, "energy_uj", "1\n");
        ctx = ctx_for(root);
        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_MISSING);
}

/* energy_uj that cannot be read even by root: a directory. */
static void test_unreadable_as_root_too(void **state) {
        SourceContext ctx = ctx_for(root);
        char dir[1024], path[1100], reason[256];
        uint64_t uj[8];
        EnergySource *s;
        ssize_t c0;

        (void) state;
        make_tree();
        s = open_rapl();
        c0 = domain_index(s, "core-0");
        assert_int_equal(rapl_source_read_at(s, NSEC_PER_SEC, uj), 0);

        zone_dir("intel-rapl:0:0", dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/energy_uj", dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0755), 0);

        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "1 unreadable"));
        assert_non_null(strstr(reason, path));
        assert_non_null(strstr(reason, strerror(EISDIR)));

        set_energy("intel-rapl:0", 1000 + 77);
        assert_int_equal(rapl_source_read_at(s, 2 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[c0] == ENERGY_READ_FAILED);
        assert_int_equal(uj[0], 77);
        /* Still failing: still reported as failed, never as a zero. */
        assert_int_equal(rapl_source_read_at(s, 3 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[c0] == ENERGY_READ_FAILED);

        /* Back: the counter kept going, the energy since the last good read counts. */
        assert_int_equal(rmdir(path), 0);
        set_energy("intel-rapl:0:0", 2000 + 500);
        assert_int_equal(rapl_source_read_at(s, 4 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[c0], 500);
        source_close(s);

        /* Every energy_uj unreadable: unsupported, with the reason. */
        {
                static const char *const ids[] = { "intel-rapl:0", "intel-rapl:0:1", "intel-rapl:0:2", "intel-rapl:1",
                                                   "intel-rapl:1:0", "intel-rapl:1:1", "intel-rapl:2", "intel-rapl:0:0" };
                for (size_t i = 0; i < (size_t) ELEMENTSOF(ids); i++) {
                        zone_dir(ids[i], dir, sizeof(dir));
                        snprintf(path, sizeof(path), "%s/energy_uj", dir);
                        assert_int_equal(unlink(path), 0);
                        assert_int_equal(mkdir(path, 0755), 0);
                }
        }
        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_UNSUPPORTED);
        assert_non_null(strstr(reason, "cannot read"));
}

/* chmod 000, as the kernel does since 5.10. Root bypasses file modes, so as
 * root the check runs in a child that became nobody. */
static int check_permission(void) {
        SourceContext ctx = ctx_for(root);
        char reason[256];
        uint64_t uj[8];
        EnergySource *s = NULL;

        if (rapl_source_ops.probe(&ctx, reason, sizeof(reason)) != SOURCE_PERMISSION)
                return 1;
        if (!strstr(reason, "energy_uj is readable by root only since Linux 5.10 (") ||
            !strstr(reason, "intel-rapl:0/energy_uj): run jouled as root"))
                return 2;
        /* Opened anyway (e.g. --source rapl is refused earlier by source_select):
         * the unreadable domain reads as failed, loudly, never as 0. */
        if (rapl_source_ops.open(&ctx, reason, sizeof(reason), &s) < 0)
                return 3;
        if (rapl_source_read_at(s, NSEC_PER_SEC, uj) < 0 || uj[0] != ENERGY_READ_FAILED || uj[1] != 0)
                return 4;
        source_close(s);
        return 0;
}

static void test_permission(void **state) {
        char dir[1024], path[1100];
        int status;
        pid_t pid;

        (void) state;
        make_tree();
        zone_dir("intel-rapl:0", dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/energy_uj", dir);
        assert_int_equal(chmod(path, 0000), 0);

        if (geteuid() != 0) {
                assert_int_equal(check_permission(), 0);
                return;
        }

        assert_int_equal(chmod(tmpdir, 0755), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(100);
                /* Make sure file modes now apply to us. */
                if (open(path, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
                        _exit(101);
                _exit(check_permission());
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_garbage(void **state) {
        SourceContext ctx = ctx_for(root);
        char dir[1024], reason[256];
        uint64_t uj[8];
        EnergySource *s;

        (void) state;
        make_tree();
        s = open_rapl();
        assert_int_equal(rapl_source_read_at(s, NSEC_PER_SEC, uj), 0);

        zone_dir("intel-rapl:1", dir, sizeof(dir));
        fx_write_in(dir, "energy_uj", "not a number\n");
        assert_int_equal(rapl_source_ops.probe(&ctx, reason, sizeof(reason)), SOURCE_USABLE);
        assert_non_null(strstr(reason, "does not hold a decimal number"));
        assert_int_equal(rapl_source_read_at(s, 2 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[domain_index(s, "package-1")] == ENERGY_READ_FAILED);
        assert_int_equal(uj[0], 0);

        fx_write_in(dir, "energy_uj", "%s", "");
        assert_int_equal(rapl_source_read_at(s, 3 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[domain_index(s, "package-1")] == ENERGY_READ_FAILED);
        fx_write_in(dir, "energy_uj", "-5\n");
        assert_int_equal(rapl_source_read_at(s, 4 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[domain_index(s, "package-1")] == ENERGY_READ_FAILED);
        /* Above max_energy_range_uj is garbage too. */
        fx_write_in(dir, "energy_uj", "%" PRIu64 "\n", RANGE_DEFAULT + 1);
        assert_int_equal(rapl_source_read_at(s, 5 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[domain_index(s, "package-1")] == ENERGY_READ_FAILED);

        fx_write_in(dir, "energy_uj", "5042\n");
        assert_int_equal(rapl_source_read_at(s, 6 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[domain_index(s, "package-1")], 42);
        source_close(s);
}

static void test_implausible_jump(void **state) {
        uint64_t uj[8];
        EnergySource *s;
        ssize_t p1;

        (void) state;
        make_tree();
        s = open_rapl();
        p1 = domain_index(s, "package-1");
        assert_int_equal(rapl_source_read_at(s, 100 * NSEC_PER_SEC, uj), 0);

        /* 100 J in 1 s: fine. */
        set_energy("intel-rapl:1", 5000 + 100000000);
        assert_int_equal(rapl_source_read_at(s, 101 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[p1], 100000000);

        /* 1999 J in 1 s is under 2 × 1000 W; 2001 J is not. */
        set_energy("intel-rapl:1", 5000 + 100000000 + 1999000000);
        assert_int_equal(rapl_source_read_at(s, 102 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[p1], 2099000000);
        set_energy("intel-rapl:1", UINT64_C(5000) + 100000000 + 1999000000 + 2001000000);
        assert_int_equal(rapl_source_read_at(s, 103 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[p1] == ENERGY_READ_FAILED);

        /* The baseline was reset: the next interval counts from the jump. */
        set_energy("intel-rapl:1", UINT64_C(5000) + 100000000 + 1999000000 + 2001000000 + 7);
        assert_int_equal(rapl_source_read_at(s, 104 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[p1], 2099000007);

        /* A counter reset (back to 0) looks like a wrap of ~262 kJ in 1 s: discarded. */
        set_energy("intel-rapl:1", 0);
        assert_int_equal(rapl_source_read_at(s, 105 * NSEC_PER_SEC, uj), 0);
        assert_true(uj[p1] == ENERGY_READ_FAILED);
        set_energy("intel-rapl:1", 3);
        assert_int_equal(rapl_source_read_at(s, 106 * NSEC_PER_SEC, uj), 0);
        assert_int_equal(uj[p1], 2099000010);
        source_close(s);
}

static void test_host_total(void **state) {
        EnergyDomain d = {};
        static const struct {
                const char *name;
                bool with_psys, without_psys;
        } cases[] = {
                { "package-0", false, true }, { "package-1", false, true }, { "dram-0", false, true },
                { "core-0", false, false },   { "uncore-1", false, false }, { "psys", true, true },
                { "gpu-0", false, true }, /* a whole-system meter includes the GPUs */
                { "system", true, true }, { "psu-1", true, true },
        };

        (void) state;
        for (size_t i = 0; i < (size_t) ELEMENTSOF(cases); i++) {
                d.kind = domain_kind_from_name(cases[i].name);
                assert_int_not_equal(d.kind, _DOMAIN_KIND_INVALID);
                assert_int_equal(domain_counts_in_host_total(&d, true), cases[i].with_psys);
                assert_int_equal(domain_counts_in_host_total(&d, false), cases[i].without_psys);
        }
        assert_false(domain_counts_in_host_total(NULL, false));

        assert_int_equal(domain_kind_from_name("package-0"), DOMAIN_PACKAGE);
        assert_int_equal(domain_kind_from_name("core-1"), DOMAIN_CORE);
        assert_int_equal(domain_kind_from_name("uncore-0"), DOMAIN_UNCORE);
        assert_int_equal(domain_kind_from_name("dram-0"), DOMAIN_DRAM);
        assert_int_equal(domain_kind_from_name("psys"), DOMAIN_PSYS);
        assert_int_equal(domain_kind_from_name("gpu-0"), DOMAIN_GPU);
        assert_int_equal(domain_kind_from_name("battery"), DOMAIN_BATTERY);
        assert_int_equal(domain_kind_from_name("package"), _DOMAIN_KIND_INVALID);
        assert_int_equal(domain_kind_from_name("package-"), _DOMAIN_KIND_INVALID);
        assert_int_equal(domain_kind_from_name("package-x"), _DOMAIN_KIND_INVALID);
        assert_int_equal(domain_kind_from_name("psys-0"), _DOMAIN_KIND_INVALID);
        assert_int_equal(domain_kind_from_name("cpu"), _DOMAIN_KIND_INVALID);
        assert_int_equal(domain_kind_from_name(NULL), _DOMAIN_KIND_INVALID);
        assert_string_equal(domain_kind_to_string(DOMAIN_UNCORE), "uncore");
        assert_null(domain_kind_to_string(_DOMAIN_KIND_MAX));
        assert_string_equal(source_status_to_string(SOURCE_PERMISSION), "permission");
        assert_null(source_status_to_string(_SOURCE_STATUS_INVALID));
}

static void test_select(void **state) {
        SourceContext ctx = ctx_for(root);
        SourceProbe probes[16] = {};
        EnergySource **list = NULL;
        size_t n = 99, n_all, ri = 0;
        char *out = NULL;
        size_t out_size = 0;
        FILE *f;

        (void) state;
        source_all(&n_all);
        assert_true(n_all >= 2 && n_all <= (size_t) ELEMENTSOF(probes));
        assert_ptr_equal(source_all(NULL)[0], &perf_source_ops);
        assert_ptr_equal(source_all(NULL)[1], &rapl_source_ops);
        assert_ptr_equal(source_all(NULL)[n_all - 1], &model_source_ops);
        ri = 1;
        assert_ptr_equal(source_find("rapl"), &rapl_source_ops);
        assert_ptr_equal(source_find("model"), &model_source_ops);
        assert_null(source_find("bogus"));

        /* Named but unusable: -ENODEV. */
        assert_int_equal(source_select(&ctx, "rapl", probes, ELEMENTSOF(probes), &list, &n), -ENODEV);
        assert_null(list);
        assert_int_equal(probes[ri].status, SOURCE_MISSING);

        make_tree();
        /* auto picks rapl, not the model. */
        assert_int_equal(source_select(&ctx, "auto", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 1);
        assert_ptr_equal(list[0]->ops, &rapl_source_ops);
        assert_null(list[1]);
        assert_string_equal(probes[ri].name, "rapl");
        assert_int_equal(probes[ri].status, SOURCE_USABLE);
        assert_string_equal(probes[n_all - 1].name, "model");
        assert_int_equal(probes[n_all - 1].status, SOURCE_USABLE);
        assert_true(probes[n_all - 1].estimated);
        assert_true(sources_have_psys(list, n));

        f = open_memstream(&out, &out_size);
        assert_non_null(f);
        source_probe_print(f, probes, n_all, list, n);
        fclose(f);
        assert_non_null(strstr(out, "dram-1"));
        assert_non_null(strstr(out, "in use"));
        assert_null(strstr(out, "No hardware energy meter found"));
        free(out);
        list = source_close_all(list);

        /* NULL spec is auto too, and so is " auto ". */
        assert_int_equal(source_select(&ctx, NULL, NULL, 0, &list, &n), 0);
        assert_ptr_equal(list[0]->ops, &rapl_source_ops);
        list = source_close_all(list);
        assert_int_equal(source_select(&ctx, " auto ", NULL, 0, &list, NULL), 0);
        assert_ptr_equal(list[0]->ops, &rapl_source_ops);
        list = source_close_all(list);

        /* Explicit lists. */
        assert_int_equal(source_select(&ctx, "model", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_int_equal(n, 1);
        assert_ptr_equal(list[0]->ops, &model_source_ops);
        list = source_close_all(list);
        assert_int_equal(source_select(&ctx, " rapl ", probes, ELEMENTSOF(probes), &list, &n), 0);
        assert_ptr_equal(list[0]->ops, &rapl_source_ops);
        list = source_close_all(list);
        /* Both measure package-0: refused rather than counted twice. */
        assert_int_equal(source_select(&ctx, "rapl,model", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_null(list);

        /* Bad specs; the probes are filled all the same (--probe prints them). */
        memset(probes, 0, sizeof(probes));
        assert_int_equal(source_select(&ctx, "bogus", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_string_equal(probes[ri].name, "rapl");
        assert_int_equal(probes[ri].status, SOURCE_USABLE);
        assert_int_equal(n, 0);
        assert_int_equal(source_select(&ctx, "rapl,bogus", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, "auto,rapl", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, ",", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, "rapl,,model", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, "rapl,", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, "rapl model", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_int_equal(source_select(&ctx, "Rapl", probes, ELEMENTSOF(probes), &list, &n), -EINVAL);
        assert_null(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exact_deltas, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_successive_wraps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_only_tree, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_as_root_too, setup, teardown),
                cmocka_unit_test_setup_teardown(test_permission, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_implausible_jump, setup, teardown),
                cmocka_unit_test(test_host_total),
                cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
