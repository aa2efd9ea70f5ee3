/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup v2 helpers: find the mount, pick where to create a cgroup, read its
 * CPU time, remove it, name it for BPF, find a unit's. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "cleanup.h"
#include "cli-cgroup.h"
#include "util.h"

int cli_cgroup_mount(char *buf, size_t size) {
        _cleanup_free_ char *mnt = NULL;
        int r;

        assert(buf);
        r = cgroup2_mount(NULL, &mnt);
        if (r < 0)
                return r;
        strscpy(buf, size, mnt);
        return 0;
}

int cli_cgroup_own(char *buf, size_t size) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];

        assert(buf);
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (startswith(line, "0::")) {
                        line[strcspn(line, "\n")] = 0;
                        strscpy(buf, size, line + 3);
                        return 0;
                }
        return -ENOENT;
}

int cli_cgroup_pick_root(char *root, size_t root_size, char *note, size_t note_size) {
        char mnt[512], own[1024], path[2048];

        assert(root);
        assert(note);
        root[0] = 0;
        if (cli_cgroup_mount(mnt, sizeof(mnt)) < 0) {
                snprintf(note, note_size, "no cgroup v2 mounted");
                return -ENOENT;
        }
        if (geteuid() == 0 && access(mnt, W_OK) == 0) {
                strscpy(root, root_size, mnt);
                return 0;
        }
        if (cli_cgroup_own(own, sizeof(own)) >= 0) {
                snprintf(path, sizeof(path), "%s%s", mnt, own);
                if (access(path, W_OK) == 0 && strlen(path) < root_size) {
                        strscpy(root, root_size, path);
                        return 0;
                }
        }
        snprintf(note, note_size, "cannot create a cgroup under %s (not root, not delegated)", mnt);
        return -EPERM;
}

int cli_cgroup_usage_usec(const char *cg, uint64_t *ret) {
        _cleanup_free_ char *p = path_join(cg, "cpu.stat");
        _cleanup_fclose_ FILE *f = NULL;
        char key[64];
        unsigned long long v;

        if (!p)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return -errno;
        while (fscanf(f, "%63s %llu", key, &v) == 2)
                if (strcmp(key, "usage_usec") == 0) {
                        *ret = v;
                        return 0;
                }
        return -EBADMSG;
}

static int write_value(const char *dir, const char *name, const char *value) {
        _cleanup_free_ char *p = path_join(dir, name);
        _cleanup_close_ int fd = -1;

        if (!p)
                return -ENOMEM;
        fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, value, strlen(value)) != (ssize_t) strlen(value))
                return errno ? -errno : -EIO;
        return 0;
}

int cli_cgroup_enter(const char *cg, int pid) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%d", pid);
        return write_value(cg, "cgroup.procs", buf);
}

int cli_cgroup_remove(const char *cg) {
        for (int i = 0; i < 200; i++) {
                if (rmdir(cg) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
                (void) write_value(cg, "cgroup.kill", "1");
                usleep(10000);
        }
        return -EBUSY;
}

int cli_cgroup_id(const char *mnt, const char *cg, uint64_t *ret_id, uint32_t *ret_level) {
        struct stat st;
        size_t n = strlen(mnt);
        uint32_t level = 0;
        const char *rel;

        if (stat(cg, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (strncmp(cg, mnt, n) != 0 || (cg[n] != 0 && cg[n] != '/'))
                return -EINVAL;
        for (rel = cg + n; *rel; rel++)
                if (*rel == '/' && rel[1] && rel[1] != '/')
                        level++;
        *ret_id = (uint64_t) st.st_ino;
        *ret_level = level;
        return 0;
}

int cli_cgroup_find_unit(const char *mnt, const char *unit, char *buf, size_t size) {
        /* Breadth first over a small queue of directories. */
        _cleanup_free_ char **queue = NULL;
        size_t head = 0, tail = 0, cap = 0;
        int depth_end = 0, depth = 0, r = -ENOENT;

        if (!*unit || strchr(unit, '/'))
                return -EINVAL;
#define PUSH(s)                                                                          \
        do {                                                                             \
                if (tail == cap) {                                                       \
                        size_t c2 = cap ? cap * 2 : 64;                                  \
                        char **q2 = reallocarray(queue, c2, sizeof(char *));             \
                        if (!q2) {                                                       \
                                free(s);                                                 \
                                r = -ENOMEM;                                             \
                                goto out;                                                \
                        }                                                                \
                        queue = q2;                                                      \
                        cap = c2;                                                        \
                }                                                                        \
                queue[tail++] = (s);                                                     \
        } while (0)
        {
                char *m = strdup(mnt);
                if (!m)
                        return -ENOMEM;
                PUSH(m);
        }
        depth_end = (int) tail;
        while (head < tail && depth <= 4) {
                char *dir = queue[head++];
                _cleanup_closedir_ DIR *d = opendir(dir);
                struct dirent *de;

                while (d && (de = readdir(d))) {
                        char *p;
                        if (de->d_type != DT_DIR || de->d_name[0] == '.')
                                continue;
                        p = path_join(dir, de->d_name);
                        if (!p) {
                                r = -ENOMEM;
                                goto out;
                        }
                        if (strcmp(de->d_name, unit) == 0) {
                                strscpy(buf, size, p);
                                free(p);
                                r = 0;
                                goto out;
                        }
                        PUSH(p);
                }
                if ((int) head == depth_end) {
                        depth++;
                        depth_end = (int) tail;
                }
        }
#undef PUSH
out:
        for (size_t i = 0; i < tail; i++)
                free(queue[i]);
        return r;
}
