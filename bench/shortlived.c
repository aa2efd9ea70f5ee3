// SPDX-License-Identifier: GPL-2.0-or-later
/* A build-like workload of short-lived processes.
 *
 *   shortlived gen N CONCURRENCY CHILD SEED
 *       runs N children, at most CONCURRENCY at a time; each is CHILD
 *       (a symbolic link to this program named jb-short, so its comm is
 *       "jb-short") executed with a CPU burn of 1..20 ms (pseudo-random, SEED).
 *       Prints one JSON line: children, their total CPU time from
 *       getrusage(RUSAGE_CHILDREN) (the truth), wall time.
 *   jb-short MS
 *       burns MS milliseconds of its own CPU time and exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int burn_ms(const char *arg) {
        volatile unsigned long x = 0;
        struct timespec a, b;
        char *end;
        long ms = strtol(arg, &end, 10);
        int i;

        if (*end || ms < 0 || ms > 60000) {
                fprintf(stderr, "jb-short: bad burn time '%s' (milliseconds, 0..60000)\n", arg);
                return 2;
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        do {
                for (i = 0; i < 20000; i++)   /* user-space work between clock reads */
                        x += (unsigned long) i * i;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        } while ((b.tv_sec - a.tv_sec) * 1000L + (b.tv_nsec - a.tv_nsec) / 1000000L < ms);
        return x == 1;   /* never: keeps the work observable */
}

static long parse_pos(const char *s, const char *what) {
        char *end;
        long v = strtol(s, &end, 10);

        if (*end || v < 1 || v > 10000000) {
                fprintf(stderr, "shortlived: bad %s '%s' (a positive integer)\n", what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        struct timespec t0, t1;
        struct rusage ru;
        long n, conc, started = 0, running = 0;
        unsigned seed;

        if (strcmp(base, "jb-short") == 0) {
                if (argc != 2) {
                        fprintf(stderr, "usage: jb-short MILLISECONDS\n");
                        return 2;
                }
                return burn_ms(argv[1]);
        }
        if (argc != 6 || strcmp(argv[1], "gen") != 0) {
                fprintf(stderr, "usage: shortlived gen N CONCURRENCY CHILD SEED\n");
                return 2;
        }
        n = parse_pos(argv[2], "N");
        conc = parse_pos(argv[3], "CONCURRENCY");
        seed = (unsigned) parse_pos(argv[5], "SEED");

        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (started < n || running > 0) {
                if (started < n && running < conc) {
                        char ms[16];
                        char *cargv[] = { "jb-short", ms, NULL };
                        pid_t pid;
                        int r;

                        snprintf(ms, sizeof(ms), "%d", 1 + (int) (rand_r(&seed) % 20));
                        r = posix_spawn(&pid, argv[4], NULL, NULL, cargv, environ);
                        if (r != 0) {
                                fprintf(stderr, "shortlived: cannot run %s: %s\n", argv[4], strerror(r));
                                return 1;
                        }
                        started++;
                        running++;
                        continue;
                }
                if (wait(NULL) > 0)
                        running--;
                else if (errno != EINTR) {
                        fprintf(stderr, "shortlived: wait: %s\n", strerror(errno));
                        return 1;
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        getrusage(RUSAGE_CHILDREN, &ru);
        printf("{\"children\": %ld, \"cpu_ns\": %lld, \"wall_s\": %.3f}\n", n,
               (long long) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                       (long long) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL,
               (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
}
