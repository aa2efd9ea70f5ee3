/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test workload for the process tracker. Its comm is set to NAME.
 *
 *   tracker-workload spin NAME
 *      burn CPU until killed.
 *   tracker-workload exec-thread NAME SECS
 *      the main thread and a second thread each burn SECS of CPU; then the
 *      second thread (not the group leader) execs `tracker-workload idle
 *      NAME SECS`. The process's CPU time stays the group's: nothing of it
 *      may be held back.
 *   tracker-workload idle NAME [SECS]
 *      burn SECS (default 0), print "ready" and the process's CPU time so
 *      far in ns (CLOCK_PROCESS_CPUTIME_ID), then sleep until killed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static const char *name;
static double secs;
static char self[4096];

static unsigned long long thread_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec;
}

static void burn(double s) {
        unsigned long long end = thread_cpu_ns() + (unsigned long long) (s * 1e9);
        static volatile unsigned long sink;
        while (s < 0 || thread_cpu_ns() < end)
                for (int i = 0; i < 1000; i++)
                        sink = sink + (unsigned long) i;
}

static void *exec_thread(void *unused) {
        (void) unused;
        burn(secs);
        char arg[64];
        snprintf(arg, sizeof(arg), "%g", secs);
        execl(self, self, "idle", name, arg, (char *) NULL);
        fprintf(stderr, "tracker-workload: exec %s: %s\n", self, strerror(errno));
        exit(1);
}

int main(int argc, char **argv) {
        pthread_t th;
        ssize_t n;

        if (argc < 3) {
                fprintf(stderr, "usage: tracker-workload spin|exec-thread|idle NAME [SECS]\n");
                return 2;
        }
        name = argv[2];
        (void) prctl(PR_SET_NAME, name, 0, 0, 0);
        if (strcmp(argv[1], "spin") == 0) {
                burn(-1);
                return 0;
        }
        if (strcmp(argv[1], "idle") == 0) {
                struct timespec ts;
                burn(argc > 3 ? atof(argv[3]) : 0);
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
                printf("ready %llu\n", (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec);
                fflush(stdout);
                for (;;)
                        pause();
        }
        if (strcmp(argv[1], "exec-thread") != 0 || argc < 4) {
                fprintf(stderr, "tracker-workload: unknown mode or missing SECS\n");
                return 2;
        }
        secs = atof(argv[3]);
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return 1;
        self[n] = 0;
        if (pthread_create(&th, NULL, exec_thread, NULL) != 0)
                return 1;
        burn(secs);
        for (;;)
                pause();   /* the exec ends this thread */
}
