// SPDX-License-Identifier: GPL-2.0-or-later
/* spawn-idle N: fork N mostly idle children, print "ready N", then wait.
 * Every 100th child wakes once a second and burns about 0.1 ms of CPU; the
 * others sleep in pause(). The benchmark sends SIGTERM to the whole process
 * group (this program is started as a session leader) when it is done: the
 * children die of it, this parent reaps them all and exits, so no zombie is
 * left for init. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

static void burn_us(long us) {
        struct timespec a, b;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

int main(int argc, char **argv) {
        char *end;
        long n, i;

        if (argc != 2 || (n = strtol(argv[1], &end, 10), *end) || n < 0 || n > 1000000) {
                fprintf(stderr, "usage: spawn-idle N (N: number of children, 0..1000000)\n");
                return 2;
        }
        struct sigaction sa = { .sa_handler = on_term };

        sigaction(SIGTERM, &sa, NULL);
        for (i = 0; i < n && !stop; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "spawn-idle: fork failed after %ld children: %s\n", i, strerror(errno));
                        return 1;
                }
                if (pid == 0) {
                        /* A SIGTERM that came before the child ran is
                         * caught by the inherited handler: stop checks it. */
                        signal(SIGTERM, SIG_DFL);
                        if (i % 100 == 0)
                                while (!stop) {
                                        sleep(1);
                                        burn_us(100);
                                }
                        while (!stop)
                                pause();
                        _exit(0);
                }
        }
        printf("ready %ld\n", n);
        fflush(stdout);
        while (!stop)
                pause();
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        return 0;
}
