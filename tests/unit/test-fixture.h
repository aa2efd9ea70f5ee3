/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Fixture trees for the unit tests: a mkdtemp() directory, files written
 * atomically, removed recursively at teardown. Include after <cmocka.h>. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"   /* fx_ctx() */

static char fx_dir[256];

static inline void fx_mkdir_p(const char *path) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        (void) mkdir(buf, 0755);
                        *p = '/';
                }
        assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
}

/* Write fmt… to PATH (its directory must exist) atomically, through
 * PATH.tmp and rename(): code under test must cope with files replaced
 * under it, and never sees half a file. The one file writer of the unit
 * tests: fx_write() and fx_write_in() below are it with other paths. */
static inline void fx_vwrite_path(const char *path, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static inline void fx_vwrite_path(const char *path, const char *fmt, va_list ap) {
        char tmp[1100];
        FILE *f;

        assert_true((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) < sizeof(tmp));
        f = fopen(tmp, "we");
        assert_non_null(f);
        assert_true(vfprintf(f, fmt, ap) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(rename(tmp, path), 0);
}

static inline void fx_write_path(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void fx_write_path(const char *path, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fx_vwrite_path(path, fmt, ap);
        va_end(ap);
}

/* Write fmt… to DIR/NAME (DIR must exist), atomically. */
static inline void fx_write_in(const char *dir, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static inline void fx_write_in(const char *dir, const char *name, const char *fmt, ...) {
        char path[1024];
        va_list ap;

        assert_true((size_t) snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
        va_start(ap, fmt);
        fx_vwrite_path(path, fmt, ap);
        va_end(ap);
}

/* Write fmt… to fx_dir/REL (parent directories created), atomically. */
static inline void fx_write(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void fx_write(const char *rel, const char *fmt, ...) {
        char path[1024], *slash;
        va_list ap;

        assert_true((size_t) snprintf(path, sizeof(path), "%s/%s", fx_dir, rel) < sizeof(path));
        slash = strrchr(path, '/');
        *slash = 0;
        fx_mkdir_p(path);
        *slash = '/';
        va_start(ap, fmt);
        fx_vwrite_path(path, fmt, ap);
        va_end(ap);
}

/* fx_dir/REL as an absolute path, in a static buffer (one of 4 rotating). */
static inline const char *fx_path(const char *rel) {
        static char bufs[4][1024];
        static unsigned k;
        char *b = bufs[k++ % 4];
        snprintf(b, 1024, "%s/%s", fx_dir, rel);
        return b;
}

static inline int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        chmod(path, 0755);
        return remove(path) < 0 ? -1 : 0;
}

static inline int fx_setup(void **state) {
        (void) state;
        snprintf(fx_dir, sizeof(fx_dir), "/tmp/test-sources-XXXXXX");
        if (!mkdtemp(fx_dir))
                return -1;
        return 0;
}

static inline int fx_teardown(void **state) {
        (void) state;
        return nftw(fx_dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A context whose every root is inside the fixture (empty unless written). */
static inline SourceContext fx_ctx(void) {
        static char pc[512], proc[512], sys[512], dev[512];
        snprintf(pc, sizeof(pc), "%s/powercap", fx_dir);
        snprintf(proc, sizeof(proc), "%s/proc", fx_dir);
        snprintf(sys, sizeof(sys), "%s/sys", fx_dir);
        snprintf(dev, sizeof(dev), "%s/dev", fx_dir);
        return (SourceContext) {
                .powercap_root = pc,
                .proc_root = proc,
                .sys_root = sys,
                .dev_root = dev,
                .nvml_library = "/nonexistent/libnvidia-ml.so.1",
        };
}
