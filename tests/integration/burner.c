/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test workload: fork N short-lived children that each burn about MS
 * milliseconds of CPU under the name COMM, then print their combined CPU
 * time as measured by the kernel's rusage (RUSAGE_CHILDREN), in ns.
 *
 *   burner COMM N MS [PARALLEL]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long thread_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec;
}

static void burn(double ms) {
        unsigned long long end = thread_cpu_ns() + (unsigned long long) (ms * 1e6);
        static volatile unsigned long sink;
        while (thread_cpu_ns() < end)
                for (int i = 0; i < 1000; i++)
                        sink = sink + (unsigned long) i;
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: burner COMM N MS [PARALLEL]\n");
                return 2;
        }
        const char *comm = argv[1];
        int n = atoi(argv[2]);
        double ms = atof(argv[3]);
        int parallel = argc > 4 ? atoi(argv[4]) : 1;
        int running = 0;

        if (parallel < 1)
                parallel = 1;
        for (int i = 0; i < n; i++) {
                if (running >= parallel) {
                        if (wait(NULL) > 0)
                                running--;
                }
                pid_t pid = fork();
                if (pid < 0) {
                        perror("fork");
                        return 1;
                }
                if (pid == 0) {
                        prctl(PR_SET_NAME, comm, 0, 0, 0);
                        burn(ms);
                        _exit(0);
                }
                running++;
        }
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        unsigned long long ns =
                ((unsigned long long) ru.ru_utime.tv_sec + (unsigned long long) ru.ru_stime.tv_sec) * 1000000000ULL +
                ((unsigned long long) ru.ru_utime.tv_usec + (unsigned long long) ru.ru_stime.tv_usec) * 1000ULL;
        printf("{\"children\": %d, \"children_cpu_ns\": %llu}\n", n, ns);
        return 0;
}
