/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the SQLite rows read back. The input is
 * written as a database file and joulectl reads it as it would jouled's
 * (store_open(STORE_READ_ONLY) and the report, status and export queries):
 * a corrupt or hostile file must be refused or reported cleanly (exit 0 or
 * 1), never crash. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "verbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], db[96];

static void cleanup(void) {
        char p[128];
        static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
        for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
                snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
                (void) unlink(p);
        }
        (void) rmdir(dir);
}

static int run(const char *const *args) {
        char *argv[16];
        int argc = 0;

        argv[argc++] = (char *) "joulectl";
        argv[argc++] = (char *) "--db";
        argv[argc++] = db;
        for (; *args && argc < 15; args++)
                argv[argc++] = (char *) *args;
        argv[argc] = NULL;
        return joulectl_main(argc, argv, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const report[] = { "report", "--since", "@0", "--until", "@4000000000", "--json", NULL };
        static const char *const report_comm[] = { "report", "--since", "@0", "--until", "@4000000000", "--by", "comm",
                                                   "--sort", "power", NULL };
        static const char *const status[] = { "status", "--json", NULL };
        static const char *const export[] = { "export", "--since", "@0", "--until", "@4000000000", "--format", "csv", NULL };
        static const char *const *const verbs[] = { report, report_comm, status, export };
        int fd;

        if (size > (1 << 20))
                return 0;
        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "/tmp/fuzz-db-XXXXXX");
                if (!mkdtemp(dir))
                        abort();
                snprintf(db, sizeof(db), "%s/jouled.db", dir);
                atexit(cleanup);
                log_set_max_level(LOG_CRIT);
                /* Reports go nowhere (the errors stay on stderr: libFuzzer
                 * reports there too; run it with -close_fd_mask=2 for quiet). */
                if (!getenv("FUZZ_DB_VERBOSE") && !freopen("/dev/null", "w", stdout))
                        abort();
        }
        cleanup();
        (void) mkdir(dir, 0700);
        fd = open(db, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                abort();
        if (write(fd, data, size) != (ssize_t) size)
                abort();
        close(fd);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
                int r = run(verbs[i]);
                if (r != 0 && r != 1)
                        abort();
        }
        return 0;
}
