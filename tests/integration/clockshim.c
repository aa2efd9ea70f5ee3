/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LD_PRELOAD shim for test_clock_step.py: CLOCK_REALTIME plus the offset in
 * nanoseconds written in the file named by $CLOCKSHIM_FILE (read at each
 * call), to step the wall clock of one process without touching the host's. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t clk, struct timespec *ts) {
        static int (*real)(clockid_t, struct timespec *);
        const char *path;
        long long off = 0, ns;
        FILE *f;
        int r;

        if (!real)
                real = (int (*)(clockid_t, struct timespec *)) dlsym(RTLD_NEXT, "clock_gettime");
        r = real(clk, ts);
        if (r != 0 || clk != CLOCK_REALTIME || !(path = getenv("CLOCKSHIM_FILE")))
                return r;
        f = fopen(path, "re");
        if (!f)
                return r;
        if (fscanf(f, "%lld", &off) != 1)
                off = 0;
        fclose(f);
        ns = (long long) ts->tv_sec * 1000000000LL + ts->tv_nsec + off;
        ts->tv_sec = ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
        return r;
}
