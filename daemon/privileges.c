/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int cap_last(void) {
        uint64_t v;
        if (read_u64_file("/proc/sys/kernel/cap_last_cap", &v) < 0 || v > 63)
                return CAP_LAST_CAP;
        return (int) v;
}

static int capget_raw(struct __user_cap_data_struct data[2]) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        if (syscall(SYS_capget, &h, data) < 0)
                return -errno;
        return 0;
}

static int capset_raw(uint64_t permitted, uint64_t effective, uint64_t inheritable) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct d[2] = {
                { .effective = (uint32_t) effective, .permitted = (uint32_t) permitted,
                  .inheritable = (uint32_t) inheritable },
                { .effective = (uint32_t) (effective >> 32), .permitted = (uint32_t) (permitted >> 32),
                  .inheritable = (uint32_t) (inheritable >> 32) },
        };
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        return 0;
}

int privileges_get_effective(uint64_t *ret) {
        struct __user_cap_data_struct d[2] = {};
        int r = capget_raw(d);
        if (r < 0)
                return r;
        *ret = (uint64_t) d[0].effective | ((uint64_t) d[1].effective << 32);
        return 0;
}

static uint64_t get_permitted(void) {
        struct __user_cap_data_struct d[2] = {};
        if (capget_raw(d) < 0)
                return 0;
        return (uint64_t) d[0].permitted | ((uint64_t) d[1].permitted << 32);
}

uint64_t privileges_default_keep(bool rapl_in_use, bool switching_user) {
        uint64_t keep = UINT64_C(1) << CAP_SYS_PTRACE;
        if (rapl_in_use && switching_user)
                keep |= UINT64_C(1) << CAP_DAC_READ_SEARCH;
        return keep;
}

static int switch_user(const char *user) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        int r;

        r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
        if (r != 0 || !res)
                return log_error_errno(r > 0 ? -r : -ESRCH,
                                       "User '%s' to run as does not exist (create it, e.g. with systemd-sysusers, or unset User=/--user).",
                                       user);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return log_error_errno(-errno, "Failed to keep capabilities across the user switch: %m");
        if (setgroups(0, NULL) < 0)
                return log_error_errno(-errno, "Failed to drop supplementary groups: %m");
        if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0)
                return log_error_errno(-errno, "Failed to switch to group %u: %m", (unsigned) pw.pw_gid);
        if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0)
                return log_error_errno(-errno, "Failed to switch to user %s: %m", user);
        (void) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        log_info("Running as user %s (uid %u).", user, (unsigned) pw.pw_uid);
        return 0;
}

int privileges_drop(const char *user, uint64_t keep) {
        uint64_t permitted = get_permitted();
        int last = cap_last(), dropped = 0, r;

        keep &= permitted; /* we cannot keep what we do not have */

        if (user && *user) {
                r = switch_user(user);
                if (r < 0)
                        return r;
        }

        /* Bounding set: needs CAP_SETPCAP, which we still have if we started with it. */
        if (permitted & (UINT64_C(1) << CAP_SETPCAP))
                for (int c = 0; c <= last; c++) {
                        if (keep & (UINT64_C(1) << c))
                                continue;
                        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) <= 0)
                                continue;
                        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                                log_debug_errno(-errno, "Failed to drop capability %d from the bounding set, ignoring: %m", c);
                        else
                                dropped++;
                }
        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

        r = capset_raw(keep, keep, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to drop capabilities: %m");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(-errno, "Failed to set no_new_privs: %m");

        log_info("Dropped privileges: capabilities kept 0x%llx (of 0x%llx), %d removed from the bounding set.",
                 (unsigned long long) keep, (unsigned long long) permitted, dropped);
        return 0;
}
