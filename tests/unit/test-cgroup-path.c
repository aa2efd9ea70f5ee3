/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cgroup-path.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *path, const char *unit, const char *slice, const char *container) {
        CgroupInfo c = {};

        assert_int_equal(cgroup_path_parse(path, &c), 0);
        if (unit)
                assert_non_null(c.unit), assert_string_equal(c.unit, unit);
        else
                assert_null(c.unit);
        if (slice)
                assert_non_null(c.slice), assert_string_equal(c.slice, slice);
        else
                assert_null(c.slice);
        if (container)
                assert_non_null(c.container_id), assert_string_equal(c.container_id, container);
        else
                assert_null(c.container_id);
        cgroup_info_done(&c);
}

static void test_systemd(void **state) {
        expect("/system.slice/sshd.service", "sshd.service", "system.slice", NULL);
        expect("/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "user-1000.slice", NULL);
        /* The nearest unit wins: a service's own sub-cgroups. */
        expect("/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-foo-123.scope",
               "app-gnome-foo-123.scope", "app.slice", NULL);
        expect("/system.slice/foo.service/worker", "foo.service", "system.slice", NULL);
        expect("/init.scope", "init.scope", NULL, NULL);
        expect("/", NULL, NULL, NULL);
        expect("/some/plain/dir", NULL, NULL, NULL);
}

static void test_containers(void **state) {
        expect("/system.slice/docker-" HEX64 ".scope", "docker-" HEX64 ".scope", "system.slice", HEX64);
        expect("/machine.slice/libpod-" HEX64 ".scope/container", "libpod-" HEX64 ".scope", "machine.slice", HEX64);
        expect("/machine.slice/libpod-conmon-" HEX64 ".scope", "libpod-conmon-" HEX64 ".scope", "machine.slice", NULL);
        expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-" HEX64 ".scope",
               "cri-containerd-" HEX64 ".scope", "kubepods-burstable-pod1234_5678.slice", HEX64);
        expect("/kubepods.slice/kubepods-pod11.slice/crio-" HEX64 ".scope", "crio-" HEX64 ".scope",
               "kubepods-pod11.slice", HEX64);
        expect("/kubepods.slice/kubepods-pod11.slice/crio-conmon-" HEX64 ".scope", "crio-conmon-" HEX64 ".scope",
               "kubepods-pod11.slice", NULL);
        expect("/docker/" HEX64, NULL, NULL, HEX64);
        expect("/kubepods/burstable/pod0f3c9b1e-1a2b-4c3d-9e8f-001122334455/" HEX64, NULL, NULL, HEX64);
        /* Not ids: too short, not hex. */
        expect("/system.slice/docker-abc.scope", "docker-abc.scope", "system.slice", NULL);
        expect("/system.slice/docker-zzzzzzzzzzzzzzzz.scope", "docker-zzzzzzzzzzzzzzzz.scope", "system.slice", NULL);
        expect("/docker/abcdef", NULL, NULL, NULL);
}

static void test_bad(void **state) {
        CgroupInfo c = {};

        assert_int_equal(cgroup_path_parse(NULL, &c), -EINVAL);
        assert_int_equal(cgroup_path_parse("system.slice/foo.service", &c), -EINVAL);
        assert_int_equal(cgroup_path_parse("", &c), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_systemd),
                cmocka_unit_test(test_containers),
                cmocka_unit_test(test_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
