/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cgroup-util.h"
#include "test-fixture.h"

/* A pure cgroup v2 host (Fedora, Debian 11+, Ubuntu 21.10+). */
#define MOUNTINFO_V2                                                                                          \
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"                                           \
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"                       \
        "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"                       \
        "25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "             \
        "rw,nsdelegate,memory_recursiveprot\n"                                                                \
        "26 24 0:24 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n"

/* A hybrid host (systemd's "hybrid" layout): v1 controllers, v2 beside them. */
#define MOUNTINFO_HYBRID                                                                                      \
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"                                           \
        "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"                       \
        "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:3 - tmpfs tmpfs ro,mode=755\n"             \
        "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "     \
        "rw,nsdelegate\n"                                                                                     \
        "32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup "       \
        "rw,xattr,name=systemd\n"                                                                             \
        "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup "   \
        "rw,cpu,cpuacct\n"

/* cgroup v1 only: no v2 hierarchy at all. */
#define MOUNTINFO_V1                                                                                          \
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"                                           \
        "30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:3 - tmpfs tmpfs ro,mode=755\n"             \
        "32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup "       \
        "rw,xattr,name=systemd\n"                                                                             \
        "34 22 0:30 / /run/cgroup2 rw shared:7 - tmpfs cgroup2 rw\n" /* a tmpfs whose source says cgroup2 */

static void expect_mount(const char *name, const char *want) {
        char *got = NULL;
        int r = cgroup2_mount(fx_path(name), &got);
        if (r != 0)
                fail_msg("cgroup2_mount(%s) = %d, wanted %s", name, r, want);
        assert_string_equal(got, want);
        free(got);
}

static void expect_none(const char *name, int want) {
        char *got = (char *) "untouched";
        int r = cgroup2_mount(fx_path(name), &got);
        if (r != want)
                fail_msg("cgroup2_mount(%s) = %d, wanted %d", name, r, want);
        assert_string_equal(got, "untouched");
}

static void test_pure_v2(void **state) {
        fx_write("v2", "%s", MOUNTINFO_V2);
        expect_mount("v2", "/sys/fs/cgroup");
}

static void test_hybrid(void **state) {
        fx_write("hybrid", "%s", MOUNTINFO_HYBRID);
        expect_mount("hybrid", "/sys/fs/cgroup/unified");
}

static void test_none(void **state) {
        fx_write("v1", "%s", MOUNTINFO_V1);
        expect_none("v1", -ENOENT);
        fx_write("empty", "%s", "");
        expect_none("empty", -ENOENT);
        expect_none("missing", -ENOENT);
}

static void test_preference(void **state) {
        /* A second view of the hierarchy listed first (a bind mount for a
         * container) does not win over the standard place. */
        fx_write("bind-first",
                 "40 22 0:23 /system.slice /var/lib/ctr/cg rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
                 "%s"
                 "41 24 0:23 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
                 MOUNTINFO_V2);
        expect_mount("bind-first", "/sys/fs/cgroup");

        /* Elsewhere, alone: the first listed, its escapes decoded. */
        fx_write("elsewhere",
                 "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
                 "50 22 0:40 / /mnt/my\\040cgroup\\134x rw,relatime - cgroup2 none rw\n"
                 "51 22 0:41 / /mnt/second rw,relatime - cgroup2 none rw\n");
        expect_mount("elsewhere", "/mnt/my cgroup\\x");
}

static void test_odd_lines(void **state) {
        char *long_opts = malloc(10000);
        assert_non_null(long_opts);
        memset(long_opts, 'o', 9999);
        long_opts[9999] = 0;

        /* Several optional fields, no optional field, a line longer than
         * any fixed buffer, a truncated line and an empty one. */
        fx_write("odd",
                 "22 1 253:0 / / rw,relatime shared:1 master:3 propagate_from:2 - ext4 /dev/vda1 rw,%s\n"
                 "\n"
                 "23 22 0:21 / /proc\n"
                 "24 22 0:22 / /sys rw - sysfs sysfs rw\n"
                 "25 24 0:23 / /sys/fs/cgroup rw,nosuid shared:4 master:7 - cgroup2 cgroup2 rw\n",
                 long_opts);
        free(long_opts);
        expect_mount("odd", "/sys/fs/cgroup");

        /* "-" where an optional field would be is the separator only after
         * the six fixed fields. */
        fx_write("dash", "25 24 0:23 / - rw - cgroup2 cgroup2 rw\n");
        expect_mount("dash", "-");
}

static void test_own_process(void **state) {
        /* The real /proc/self/mountinfo: either a mount or -ENOENT, never a crash. */
        char *got = NULL;
        int r = cgroup2_mount(NULL, &got);
        assert_true(r == 0 || r == -ENOENT);
        if (r == 0)
                assert_true(got[0] == '/');
        free(got);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pure_v2, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_hybrid, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_none, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_preference, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_odd_lines, fx_setup, fx_teardown),
                cmocka_unit_test(test_own_process),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
