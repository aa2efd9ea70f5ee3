// SPDX-License-Identifier: GPL-2.0-or-later
/* A fork storm: many short processes a second, from several forking parents.
 *
 *   jb-storm N SECONDS BURN_US PARENTS [CONCURRENCY]
 *       Run through a symbolic link (jb-storm, or another name): every
 *       process of the storm has the link's name as its comm from its exec,
 *       with no prctl() for a monitor to miss. Forks PARENTS parents;
 *       together they fork N children, each parent its share paced evenly
 *       over SECONDS (0: as fast as it can), at most CONCURRENCY (default 8)
 *       of its children alive at a time. A child burns about BURN_US µs of
 *       its own CPU time and calls _exit(): no exec, so a process costs only
 *       fork, exit and wait, and one parent per CPU keeps every CPU forking.
 *       This program makes its own process group (the benchmark kills the
 *       group if it must). Prints, one "key value" a line:
 *         processes      N
 *         wall_ns        from the first fork to the last child reaped
 *         cpu_ns         the whole storm's CPU time (this program, its
 *                        parents and children): getrusage() of this program,
 *                        RUSAGE_SELF plus RUSAGE_CHILDREN (the truth)
 *         children_cpu_ns  the children's alone (each parent's
 *                        RUSAGE_CHILDREN, summed)
 *         rate           processes a second reached (N / wall) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct report {
        uint64_t children;
        uint64_t children_cpu_ns;
        uint64_t end_ns;
};

static uint64_t mono_ns(void) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t) t.tv_sec * 1000000000u + (uint64_t) t.tv_nsec;
}

static uint64_t rusage_ns(int who) {
        struct rusage ru;

        getrusage(who, &ru);
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static volatile unsigned long sink;   /* keeps the burn's work observable */

/* User-space work, checked against the thread's CPU clock every few µs. */
static void burn_us(long us) {
        volatile unsigned long x = 0;   /* volatile: the loop is not folded away */
        struct timespec a, b;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do {
                for (int i = 0; i < 2000; i++)
                        x += (unsigned long) i * i;
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        } while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
        sink = x;
}

static int reap_one(int block) {
        for (;;) {
                pid_t r = waitpid(-1, NULL, block ? 0 : WNOHANG);

                if (r > 0)
                        return 1;
                if (r == 0)
                        return 0;
                if (errno != EINTR)
                        return -1;
        }
}

/* One forking parent: n children, the i-th not before t0 + i * per. */
static int run_parent(long n, uint64_t t0, uint64_t per, long burn, long conc, int out) {
        struct report rep = { 0 };
        long running = 0;

        for (long i = 0; i < n; i++) {
                pid_t pid;

                while (running >= conc)
                        if (reap_one(1) > 0)
                                running--;
                for (uint64_t t; per > 0 && (t = mono_ns()) < t0 + (uint64_t) i * per;) {
                        if (running > 0 && reap_one(0) > 0)
                                running--;
                        else if (t0 + (uint64_t) i * per - t > 200000)
                                usleep(100);
                }
                pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "jb-storm: fork: %s\n", strerror(errno));
                        return 1;
                }
                if (pid == 0) {
                        burn_us(burn);
                        _exit(0);
                }
                running++;
                rep.children++;
        }
        while (running > 0 && reap_one(1) > 0)
                running--;
        rep.end_ns = mono_ns();
        rep.children_cpu_ns = rusage_ns(RUSAGE_CHILDREN);
        return write(out, &rep, sizeof(rep)) == (ssize_t) sizeof(rep) ? 0 : 1;
}

static long parse_long(const char *s, long lo, long hi, const char *what) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < lo || v > hi) {
                fprintf(stderr, "jb-storm: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        long n, burn, parents, conc = 8;
        uint64_t t0, end = 0, children = 0, children_ns = 0;
        double seconds;
        char *e;
        int fds[2];

        if (argc != 5 && argc != 6) {
                fprintf(stderr, "usage: jb-storm N SECONDS BURN_US PARENTS [CONCURRENCY]\n");
                return 2;
        }
        n = parse_long(argv[1], 1, 100000000, "N");
        seconds = strtod(argv[2], &e);
        if (*e || e == argv[2] || seconds < 0 || seconds > 86400) {
                fprintf(stderr, "jb-storm: bad SECONDS '%s' (0..86400; 0: as fast as possible)\n", argv[2]);
                return 2;
        }
        burn = parse_long(argv[3], 0, 1000000, "BURN_US");
        parents = parse_long(argv[4], 1, 256, "PARENTS");
        if (argc == 6)
                conc = parse_long(argv[5], 1, 4096, "CONCURRENCY");
        if (setpgid(0, 0) < 0) {
                fprintf(stderr, "jb-storm: setpgid: %s\n", strerror(errno));
                return 1;
        }
        if (pipe(fds) < 0) {
                fprintf(stderr, "jb-storm: pipe: %s\n", strerror(errno));
                return 1;
        }
        t0 = mono_ns() + 20000000;   /* every parent starts at the same moment */
        for (long p = 0; p < parents; p++) {
                long share = n / parents + (p < n % parents);
                uint64_t per = share > 0 ? (uint64_t) (seconds * 1e9 / (double) share) : 0;
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "jb-storm: fork: %s\n", strerror(errno));
                        return 1;
                }
                if (pid == 0) {
                        close(fds[0]);
                        while (mono_ns() < t0)
                                usleep(1000);
                        _exit(run_parent(share, t0, per, burn, conc, fds[1]));
                }
        }
        close(fds[1]);
        for (long p = 0; p < parents; p++) {
                struct report rep;

                if (read(fds[0], &rep, sizeof(rep)) != (ssize_t) sizeof(rep)) {
                        fprintf(stderr, "jb-storm: a forking parent failed\n");
                        return 1;
                }
                children += rep.children;
                children_ns += rep.children_cpu_ns;
                if (rep.end_ns > end)
                        end = rep.end_ns;
        }
        while (reap_one(1) > 0)
                ;
        printf("processes %llu\nwall_ns %llu\ncpu_ns %llu\nchildren_cpu_ns %llu\nrate %.0f\n",
               (unsigned long long) children, (unsigned long long) (end - t0),
               (unsigned long long) (rusage_ns(RUSAGE_SELF) + rusage_ns(RUSAGE_CHILDREN)),
               (unsigned long long) children_ns,
               (double) children / ((double) (end - t0) / 1e9));
        return children == (uint64_t) n ? 0 : 1;
}
