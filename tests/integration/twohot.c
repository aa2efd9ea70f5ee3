/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Two functions that burn CPU in a 3:1 ratio, for joulectl profile's tests.
 *
 *   twohot MS [B_FACTOR [ROUNDS]]
 *
 * Runs rounds of hot_a (3 units of work) then hot_b (B_FACTOR units,
 * default 1) for MS milliseconds, or exactly ROUNDS rounds when given.
 * Built with frame pointers (also in leaf functions) so that stacks are
 * complete. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define UNIT 4000000   /* one round: about 20 ms here, many sampling periods */

static volatile uint64_t sink;

void hot_a(double units);
void hot_b(double units);

/* The loop keeps its state on the stack: the function then has a frame of
 * its own (gcc sets none up in leaf functions that need no stack, even with
 * -fno-omit-frame-pointer), so that its caller shows in the stack. */
static inline __attribute__((always_inline)) uint64_t spin(uint64_t n, uint64_t x) {
        volatile uint64_t state = x;
        for (uint64_t i = 0; i < n; i++)
                state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return state;
}

__attribute__((noinline)) void hot_a(double units) {
        sink = spin((uint64_t) (units * UNIT), sink);
}

__attribute__((noinline)) void hot_b(double units) {
        sink = spin((uint64_t) (units * UNIT), sink);
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
        double ms = argc > 1 ? atof(argv[1]) : 3000, b = argc > 2 ? atof(argv[2]) : 1, t0 = now_ms();
        long rounds = argc > 3 ? atol(argv[3]) : -1;

        for (long r = 0; rounds < 0 ? now_ms() - t0 < ms : r < rounds; r++) {
                hot_a(3);
                hot_b(b);
        }
        printf("%llu\n", (unsigned long long) (sink & 1));
        return 0;
}
