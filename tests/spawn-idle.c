/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Load helper for test_load.py.
 *
 *   spawn-idle idle N           fork N children that sleep in pause(); print
 *                               "ready N" and wait. SIGTERM (sent to the
 *                               whole process group: this program makes its
 *                               own) kills the children; this parent reaps
 *                               them all and exits, leaving no zombie.
 *   spawn-idle storm N SECONDS [BURN_US]
 *                               run N short processes (named "jstorm", each
 *                               burning about BURN_US, default 200, µs of
 *                               CPU) spread over SECONDS, at most 32 at a
 *                               time; print "cpu_ns T" with T the children's
 *                               CPU time from getrusage(RUSAGE_CHILDREN), and
 *                               "wall_ns W" with W the storm's duration. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

static uint64_t mono_ns(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t) t.tv_sec * 1000000000u + (uint64_t) t.tv_nsec;
}

static void burn_us(long us) {
        struct timespec a, b;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static int run_idle(long n) {
        struct sigaction sa = { .sa_handler = on_term };
        long made = 0;

        sigaction(SIGTERM, &sa, NULL);
        for (; made < n && !stop; made++) {
                pid_t pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "spawn-idle: fork %ld: %s\n", made, strerror(errno));
                        break;
                }
                if (pid == 0) {
                        signal(SIGTERM, SIG_DFL);
                        for (;;)
                                pause();
                }
        }
        printf("ready %ld\n", made);
        fflush(stdout);
        while (!stop)
                pause();
        /* The group got SIGTERM too; make sure, then reap everyone. */
        signal(SIGTERM, SIG_IGN);
        kill(0, SIGTERM);
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        return made == n ? 0 : 1;
}

static int run_storm(long n, double seconds, long burn) {
        uint64_t t0 = mono_ns(), per = (uint64_t) (seconds * 1e9 / (double) n);
        long running = 0;
        struct rusage ru;

        for (long i = 0; i < n; i++) {
                pid_t pid;

                while (running >= 32)
                        if (wait(NULL) > 0)
                                running--;
                for (uint64_t t; (t = mono_ns()) < t0 + (uint64_t) i * per;) {
                        if (running > 0 && waitpid(-1, NULL, WNOHANG) > 0)
                                running--;
                        else if (t0 + (uint64_t) i * per - t > 200000)
                                usleep(100);
                }
                pid = fork();
                if (pid < 0) {
                        fprintf(stderr, "spawn-idle: fork: %s\n", strerror(errno));
                        return 1;
                }
                if (pid == 0) {
                        prctl(PR_SET_NAME, "jstorm");
                        burn_us(burn);
                        _exit(0);
                }
                running++;
        }
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        getrusage(RUSAGE_CHILDREN, &ru);
        printf("cpu_ns %llu\nwall_ns %llu\n",
               (unsigned long long) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                       (unsigned long long) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull,
               (unsigned long long) (mono_ns() - t0));
        return 0;
}

int main(int argc, char **argv) {
        if (setpgid(0, 0) < 0) {
                fprintf(stderr, "spawn-idle: setpgid: %s\n", strerror(errno));
                return 1;
        }
        if (argc == 3 && strcmp(argv[1], "idle") == 0)
                return run_idle(strtol(argv[2], NULL, 10));
        if ((argc == 4 || argc == 5) && strcmp(argv[1], "storm") == 0)
                return run_storm(strtol(argv[2], NULL, 10), strtod(argv[3], NULL),
                                 argc == 5 ? strtol(argv[4], NULL, 10) : 200);
        fprintf(stderr, "usage: spawn-idle idle N | spawn-idle storm N SECONDS [BURN_US]\n");
        return 2;
}
