/* SPDX-License-Identifier: GPL-2.0-or-later */
/* WAL checkpoints: a thread of their own, on a connection of their own
 * (copying WAL into the database can take hundreds of ms, too long for the
 * event loop), and the WAL hook that asks for them after every commit. */

#include <assert.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include "store-internal.h"
#include "util.h"

static void *checkpoint_thread(void *userdata) {
        Store *s = userdata;

        assert(s);
        pthread_mutex_lock(&s->ckpt_lock);
        for (;;) {
                int mode;

                while (!s->ckpt_quit && s->ckpt_requested < 0)
                        pthread_cond_wait(&s->ckpt_cond, &s->ckpt_lock);
                if (s->ckpt_quit)
                        break;
                mode = s->ckpt_requested;
                s->ckpt_requested = -1;
                s->ckpt_running = true;
                pthread_mutex_unlock(&s->ckpt_lock);
                /* Errors (busy, full disk) are retried at the next request. */
                (void) sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, mode, NULL, NULL);
                pthread_mutex_lock(&s->ckpt_lock);
                s->ckpt_running = false;
                s->ckpt_done++;
                pthread_cond_broadcast(&s->ckpt_cond);
        }
        pthread_mutex_unlock(&s->ckpt_lock);
        return NULL;
}

/* The checkpoint thread's connection, opened with the database; the thread
 * itself starts at the first store_maintain() (store_start_checkpointer()),
 * after the daemon dropped its capabilities: they are per thread, and a
 * thread started before the drop would keep them all. */
void store_open_checkpointer(Store *s) {
        int persist = 1;

        assert(s);
        if (sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                            NULL) != SQLITE_OK) {
                sqlite3_close(s->ckpt_db);
                s->ckpt_db = NULL;
                return;
        }
        (void) sqlite3_file_control(s->ckpt_db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        sqlite3_busy_timeout(s->ckpt_db, STORE_WAL_TRUNCATE_WAIT_MS);
        /* A connection that never read is not in WAL mode yet: its
         * checkpoints would do nothing. */
        (void) sqlite3_exec(s->ckpt_db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
}

/* Best effort: without the thread, checkpoints run inline. */
void store_start_checkpointer(Store *s) {
        assert(s);
        if (s->ckpt_started || !s->ckpt_db)
                return;
        pthread_mutex_init(&s->ckpt_lock, NULL);
        pthread_cond_init(&s->ckpt_cond, NULL);
        s->ckpt_requested = -1;
        s->ckpt_quit = false;
        if (pthread_create(&s->ckpt_thread, NULL, checkpoint_thread, s) != 0) {
                pthread_cond_destroy(&s->ckpt_cond);
                pthread_mutex_destroy(&s->ckpt_lock);
                return;
        }
        s->ckpt_started = true;
}

void store_stop_checkpointer(Store *s) {
        assert(s);
        if (s->ckpt_started) {
                pthread_mutex_lock(&s->ckpt_lock);
                s->ckpt_quit = true;
                pthread_cond_broadcast(&s->ckpt_cond);
                pthread_mutex_unlock(&s->ckpt_lock);
                pthread_join(s->ckpt_thread, NULL);
                pthread_cond_destroy(&s->ckpt_cond);
                pthread_mutex_destroy(&s->ckpt_lock);
                s->ckpt_started = false;
        }
        sqlite3_close(s->ckpt_db);
        s->ckpt_db = NULL;
}

bool store_checkpoint_request(Store *s, int mode) {
        assert(s);
        if (!s->ckpt_started)
                return false;
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_requested = MAX(s->ckpt_requested, mode);
        pthread_cond_broadcast(&s->ckpt_cond);
        pthread_mutex_unlock(&s->ckpt_lock);
        return true;
}

/* Ask the thread for a TRUNCATE checkpoint and wait (a second at most) until
 * it ran: the writer holds no lock meanwhile, so the checkpoint is not held
 * off by the next write, and only one checkpointer ever runs. False without
 * the thread. */
static bool store_checkpoint_truncate_wait(Store *s) {
        struct timespec deadline;
        uint64_t target;

        assert(s);
        if (!s->ckpt_started)
                return false;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        pthread_mutex_lock(&s->ckpt_lock);
        /* A checkpoint under way may have started before this commit: the
         * one after it. */
        target = s->ckpt_done + 1 + (s->ckpt_running ? 1 : 0);
        s->ckpt_requested = SQLITE_CHECKPOINT_TRUNCATE;
        pthread_cond_broadcast(&s->ckpt_cond);
        while (s->ckpt_done < target && !s->ckpt_quit)
                if (pthread_cond_timedwait(&s->ckpt_cond, &s->ckpt_lock, &deadline) != 0)
                        break;
        pthread_mutex_unlock(&s->ckpt_lock);
        return true;
}

/* After every commit (the write lock is released by then): keep the WAL
 * small. SQLite moves the WAL back to its start after a checkpoint that
 * copied all of it (when no reader still needs it), and then cuts the file
 * to journal_size_limit. PASSIVE checkpoints run in the thread and never
 * wait; when they do not keep up (a reader holding an old snapshot, or
 * writes faster than they copy), a TRUNCATE checkpoint runs before the next
 * write, waiting at most STORE_WAL_TRUNCATE_WAIT_MS for readers. */
int store_wal_hook(void *userdata, sqlite3 *db, const char *name, int n_frames) {
        Store *s = userdata;

        assert(s);
        if (n_frames < STORE_WAL_CHECKPOINT_FRAMES)
                return SQLITE_OK;
        if (n_frames < STORE_WAL_TRUNCATE_FRAMES) {
                if (!store_checkpoint_request(s, SQLITE_CHECKPOINT_PASSIVE))
                        (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
                return SQLITE_OK;
        }
        if (store_checkpoint_truncate_wait(s))
                return SQLITE_OK;
        sqlite3_busy_timeout(db, STORE_WAL_TRUNCATE_WAIT_MS);
        (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
        return SQLITE_OK;
}
