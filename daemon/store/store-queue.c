/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write-failure queue: intervals that could not be written (disk full,
 * read-only, locked, I/O error) wait in memory as deep copies, within a
 * bound, and are written oldest first once writes work again. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "store-internal.h"

static QueuedInterval *queued_free(QueuedInterval *q) {
        if (!q)
                return NULL;
        for (size_t i = 0; q->infos && i < q->rec.n_procs; i++) {
                free(q->infos[i].exe);
                free(q->infos[i].unit);
                free(q->infos[i].cgroup_path);
                free(q->infos[i].slice);
                free(q->infos[i].container_id);
                free(q->infos[i].cmdline);
        }
        for (size_t j = 0; q->strings && j < 2 * q->rec.n_domains; j++)
                free(q->strings[j]);
        free(q->strings);
        free(q->edomains);
        free(q->domains);
        free(q->infos);
        free(q->procs);
        free(q->proc_j);
        free(q);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(QueuedInterval *, queued_free);

static bool proc_gets_row(const IntervalRecord *rec, size_t i) {
        assert(rec);
        if (rec->procs[i].cpu_ns > 0 || rec->procs[i].wakeups > 0)
                return true;
        for (size_t j = 0; j < rec->n_domains; j++)
                if (rec->domains[j].valid && ((rec->proc_domain_j && rec->proc_domain_j[i * rec->n_domains + j] != 0) ||
                                              (rec->proc_idle_share_j && rec->proc_idle_share_j[i * rec->n_domains + j] != 0)))
                        return true;
        return false;
}

/* Copy src (NULL stays NULL) and count the bytes of the copy in *bytes. */
static int dup_str(const char *src, char **dst, uint64_t *bytes) {
        assert(dst);
        assert(bytes);
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        if (!*dst)
                return -ENOMEM;
        *bytes += strlen(src) + 1;
        return 0;
}

/* The strings of a process as owned copies, the rest as it is. */
static int process_info_copy(const ProcessInfo *src, ProcessInfo *dst, uint64_t *bytes) {
        assert(src);
        assert(dst);
        *dst = *src;
        dst->exe = dst->unit = dst->cgroup_path = dst->slice = dst->container_id = dst->cmdline = NULL;
        if (dup_str(src->exe, &dst->exe, bytes) < 0 ||
            dup_str(src->unit, &dst->unit, bytes) < 0 ||
            dup_str(src->cgroup_path, &dst->cgroup_path, bytes) < 0 ||
            dup_str(src->slice, &dst->slice, bytes) < 0 ||
            dup_str(src->container_id, &dst->container_id, bytes) < 0 ||
            dup_str(src->cmdline, &dst->cmdline, bytes) < 0)
                return -ENOMEM;
        return 0;
}

/* A deep copy of what store_write_interval() needs, processes without a row left out. */
static int queued_new(const IntervalRecord *rec, QueuedInterval **ret) {
        _cleanup_(queued_freep) QueuedInterval *q = NULL;
        size_t nd, np = 0, k = 0;

        assert(rec);
        assert(ret);
        nd = rec->n_domains;
        for (size_t i = 0; i < rec->n_procs; i++)
                np += proc_gets_row(rec, i);

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->edomains = calloc(MAX(nd, (size_t) 1), sizeof(EnergyDomain));
        q->domains = calloc(MAX(nd, (size_t) 1), sizeof(DomainRecord));
        q->strings = calloc(MAX(2 * nd, (size_t) 1), sizeof(char *));
        q->infos = calloc(MAX(np, (size_t) 1), sizeof(ProcessInfo));
        q->procs = calloc(MAX(np, (size_t) 1), sizeof(ProcessDelta));
        q->proc_j = calloc(MAX(2 * np * nd, (size_t) 1), sizeof(double));
        if (!q->edomains || !q->domains || !q->strings || !q->infos || !q->procs || !q->proc_j)
                return -ENOMEM;
        q->rec = *rec;
        q->rec.n_domains = nd;
        q->rec.domains = q->domains;
        q->rec.procs = q->procs;
        q->rec.proc_domain_j = q->proc_j;
        q->rec.proc_idle_share_j = q->proc_j + np * nd;
        q->rec.n_procs = 0; /* grows as infos are filled, so that queued_free() frees just those */
        q->bytes = sizeof(*q) + nd * (sizeof(EnergyDomain) + sizeof(DomainRecord)) +
                   np * (sizeof(ProcessInfo) + sizeof(ProcessDelta) + 2 * nd * sizeof(double));

        for (size_t j = 0; j < nd; j++) {
                q->domains[j] = rec->domains[j];
                q->edomains[j] = *rec->domains[j].domain;
                q->domains[j].domain = &q->edomains[j];
                if (dup_str(rec->domains[j].source, &q->strings[2 * j], &q->bytes) < 0 ||
                    dup_str(rec->domains[j].idle_method, &q->strings[2 * j + 1], &q->bytes) < 0)
                        return -ENOMEM;
                q->domains[j].source = q->strings[2 * j];
                q->domains[j].idle_method = q->strings[2 * j + 1];
        }
        for (size_t i = 0; i < rec->n_procs; i++) {
                ProcessInfo *info;

                if (!proc_gets_row(rec, i))
                        continue;
                info = &q->infos[k];
                q->rec.n_procs = k + 1;
                if (process_info_copy(rec->procs[i].info, info, &q->bytes) < 0)
                        return -ENOMEM;
                /* The process row is looked up again (same identity → same id). */
                info->store_id = 0;
                info->store_labels_id = 0;
                q->procs[k] = (ProcessDelta) { .info = info, .cpu_ns = rec->procs[i].cpu_ns,
                                               .wakeups = rec->procs[i].wakeups,
                                               .rss_bytes = rec->procs[i].rss_bytes };
                if (rec->proc_domain_j)
                        memcpy(q->proc_j + k * nd, rec->proc_domain_j + i * nd, nd * sizeof(double));
                if (rec->proc_idle_share_j)
                        memcpy(q->proc_j + (np + k) * nd, rec->proc_idle_share_j + i * nd, nd * sizeof(double));
                k++;
        }
        q->rec.n_procs = k;
        *ret = TAKE_PTR(q);
        return 0;
}

static void store_queue_drop_head(Store *s) {
        QueuedInterval *q;

        assert(s);
        q = s->queue_head;
        if (!q)
                return;
        s->queue_head = q->next;
        if (!s->queue_head)
                s->queue_tail = NULL;
        s->qstats.queued--;
        s->qstats.queued_bytes -= q->bytes;
        queued_free(q);
}

void store_queue_clear(Store *s) {
        assert(s);
        while (s->queue_head)
                store_queue_drop_head(s);
}

static int store_queue_push(Store *s, const IntervalRecord *rec) {
        QueuedInterval *q = NULL;
        int r;

        assert(s);
        assert(rec);
        r = queued_new(rec, &q);
        if (r < 0) {
                s->qstats.dropped++;
                return r;
        }
        s->qstats.buffered_total++;
        while (s->queue_head && s->qstats.queued_bytes + q->bytes > s->queue_max_bytes) {
                store_queue_drop_head(s);
                s->qstats.dropped++;
        }
        if (s->queue_tail)
                s->queue_tail->next = q;
        else
                s->queue_head = q;
        s->queue_tail = q;
        s->qstats.queued++;
        s->qstats.queued_bytes += q->bytes;
        return 0;
}

/* Errors worth retrying later; anything else would fail again forever. */
static bool write_error_retryable(int r) {
        return r == -ENOSPC || r == -EROFS || r == -EBUSY || r == -EIO || r == -EACCES || r == -ENOMEM ||
               r == -ENOENT;
}

static int store_queue_flush(Store *s) {
        assert(s);
        while (s->queue_head) {
                int r = store_write_interval(s, &s->queue_head->rec);
                if (r < 0 && write_error_retryable(r))
                        return r;
                if (r < 0)
                        s->qstats.dropped++;
                else
                        s->qstats.written_late++;
                store_queue_drop_head(s);
        }
        return 0;
}

int store_write_buffered(Store *s, const IntervalRecord *rec) {
        int r;

        if (!s)
                return -EINVAL;
        r = store_queue_flush(s);
        if (!rec)
                return r;
        if (r >= 0) {
                r = store_write_interval(s, rec);
                if (r >= 0 || !write_error_retryable(r))
                        return r;
        } else if (store_interval_validate(rec) < 0)
                return -EINVAL;
        (void) store_queue_push(s, rec);
        return r;
}

void store_queue_stats(Store *s, StoreQueueStats *ret) {
        if (!s) {
                *ret = (StoreQueueStats) {};
                return;
        }
        *ret = s->qstats;
}


