/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cgroup-path.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void cgroup_info_done(CgroupInfo *c) {
        if (!c)
                return;
        free(c->unit);
        free(c->slice);
        free(c->container_id);
        *c = (CgroupInfo) {};
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t k = strlen(suffix);
        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool starts_with(const char *s, size_t n, const char *prefix) {
        size_t k = strlen(prefix);
        return n >= k && memcmp(s, prefix, k) == 0;
}

/* A container id: hex or [a-z0-9], at least 12 characters. */
static bool is_id(const char *s, size_t n) {
        if (n < 12 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                        return false;
        }
        return true;
}

/* "<prefix><id>.scope" → id, for the runtimes' systemd-driver scopes. */
static bool scope_id(const char *s, size_t n, const char **ret, size_t *ret_n) {
        static const char *const prefixes[] = { "docker-", "libpod-", "cri-containerd-", "crio-" };

        if (!ends_with(s, n, ".scope") || starts_with(s, n, "libpod-conmon-") || starts_with(s, n, "crio-conmon-"))
                return false;
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
                size_t k = strlen(prefixes[i]);
                if (starts_with(s, n, prefixes[i]) && is_id(s + k, n - k - strlen(".scope"))) {
                        *ret = s + k;
                        *ret_n = n - k - strlen(".scope");
                        return true;
                }
        }
        return false;
}

static int set(char **dst, const char *s, size_t n) {
        if (*dst)
                return 0;   /* the deepest one is kept */
        *dst = strndup(s, n);
        return *dst ? 0 : -ENOMEM;
}

int cgroup_path_parse(const char *path, CgroupInfo *ret) {
        CgroupInfo c = {};
        const char *comp[256];
        size_t len[256], n = 0;
        int r = 0;

        assert(ret);
        if (!path || path[0] != '/')
                return -EINVAL;
        for (const char *p = path; *p;) {
                size_t k;
                while (*p == '/')
                        p++;
                k = strcspn(p, "/");
                if (k == 0)
                        break;
                if (n == sizeof(comp) / sizeof(comp[0]))
                        return -EINVAL;
                comp[n] = p;
                len[n++] = k;
                p += k;
        }

        /* From the leaf up: the nearest of each kind wins. */
        for (size_t i = n; i-- > 0 && r >= 0;) {
                const char *s = comp[i], *id;
                size_t k = len[i], idn;

                if (ends_with(s, k, ".service") || ends_with(s, k, ".scope"))
                        r = set(&c.unit, s, k);
                else if (ends_with(s, k, ".slice"))
                        r = set(&c.slice, s, k);
                if (r < 0)
                        break;
                if (!c.container_id) {
                        if (scope_id(s, k, &id, &idn))
                                r = set(&c.container_id, id, idn);
                        else if (i > 0 && k == 64 && is_id(s, k) && len[i - 1] == 6 && memcmp(comp[i - 1], "docker", 6) == 0)
                                r = set(&c.container_id, s, k);   /* cgroupfs driver: /docker/<id> */
                        else if (i > 0 && is_id(s, k) && starts_with(comp[i - 1], len[i - 1], "pod"))
                                r = set(&c.container_id, s, k);   /* kubepods .../pod<uid>/<id> */
                }
        }
        if (r < 0) {
                cgroup_info_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}
