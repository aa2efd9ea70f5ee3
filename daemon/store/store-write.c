/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write path: one interval (domains, process rows, label sets, samples)
 * in one transaction, and the small daemon_state and source_probes tables. */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "store-internal.h"
#include "util.h"

const StoreStatementSql store_write_statements[] = {
        { STMT_INSERT_INTERVAL,
                "INSERT INTO intervals (start_ns, end_ns) VALUES (?1, ?2)" },
        { STMT_SET_INTERVAL_RATES,
                "UPDATE intervals SET cpu_rate = ?2, rss_rate = ?3, idle_rate = ?4 WHERE id = ?1" },
        { STMT_UPSERT_DOMAIN,
                "INSERT INTO domains (name, kind, source, estimated, host_total) "
                "VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (name, source) DO UPDATE SET kind = excluded.kind, "
                "estimated = excluded.estimated, host_total = excluded.host_total "
                "RETURNING id" },
        { STMT_INSERT_INTERVAL_DOMAIN,
                "INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, "
                "idle_j, attributed_j, unattributed_j, idle_w, idle_method, irq_j, idle_band_w, cpu_rate, rss_rate, "
                "idle_rate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)" },
        { STMT_UPSERT_BOOT,
                "INSERT INTO boots (boot_id) VALUES (?1) ON CONFLICT (boot_id) DO UPDATE SET boot_id = excluded.boot_id "
                "RETURNING id" },
        /* A new process: one statement. One written before (its row
         * exists: no row returned) is updated, its labels merged. */
        { STMT_INSERT_PROCESS,
                "INSERT INTO procs (boot, pid, start_boot_ns, start_ns, labels_id, ppid, cgroup_id, cmdline) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                "ON CONFLICT (boot, pid, start_boot_ns) DO NOTHING RETURNING id" },
        { STMT_PROCESS_LABELS,
                "SELECT p.id, l.exe, l.unit, l.cgroup_path, l.slice, l.container_id FROM procs p "
                "JOIN labels l ON l.id = p.labels_id WHERE p.boot = ?1 AND p.pid = ?2 AND p.start_boot_ns = ?3" },
        { STMT_UPDATE_PROCESS,
                "UPDATE procs SET labels_id = ?2, ppid = ?3, cgroup_id = ?4, cmdline = coalesce(?5, cmdline) "
                "WHERE id = ?1" },
        /* The expressions of the unique index labels_set, so that it is used. */
        { STMT_LOOKUP_LABELS,
                "SELECT id FROM labels WHERE comm = ?1 AND ifnull(exe, x'00') = ifnull(?2, x'00') AND uid = ?3 "
                "AND ifnull(cgroup_path, x'00') = ifnull(?4, x'00') AND ifnull(unit, x'00') = ifnull(?5, x'00') "
                "AND ifnull(slice, x'00') = ifnull(?6, x'00') AND ifnull(container_id, x'00') = ifnull(?7, x'00') "
                "AND kernel_thread = ?8" },
        { STMT_INSERT_LABELS,
                "INSERT INTO labels (comm, exe, uid, cgroup_path, unit, slice, container_id, kernel_thread) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id" },
        { STMT_INSERT_SAMPLE,
                "INSERT INTO raw_samples (interval_id, process_id, labels_id, cpu_ns, wakeups, rss_kib) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                "ON CONFLICT (interval_id, process_id, labels_id) DO UPDATE SET "
                "cpu_ns = cpu_ns + excluded.cpu_ns, wakeups = wakeups + excluded.wakeups, "
                "rss_kib = rss_kib + excluded.rss_kib" },
        { STMT_INSERT_SAMPLE_DOMAIN,
                "INSERT INTO raw_sample_domains (interval_id, process_id, labels_id, domain_id, energy_j, idle_share_j) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                "ON CONFLICT (interval_id, process_id, labels_id, domain_id) DO UPDATE SET "
                "energy_j = energy_j + excluded.energy_j, idle_share_j = idle_share_j + excluded.idle_share_j" },
        { STMT_SET_STATE,
                "INSERT INTO daemon_state (key, value, updated_ns) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_ns = excluded.updated_ns" },
        { STMT_DELETE_PROBES, "DELETE FROM source_probes" },
        { STMT_INSERT_PROBE,
                "INSERT INTO source_probes (name, status, estimated, in_use, reason) "
                "VALUES (?1, ?2, ?3, ?4, ?5)" },
};
const size_t store_write_n_statements = ELEMENTSOF(store_write_statements);

const char *store_domain_kind_name(DomainKind k) {
        return domain_kind_to_string(k) ?: "unknown";
}

static const char *probe_status_name(SourceStatus s) {
        return source_status_to_string(s) ?: "unknown";
}

static int store_domain_id(Store *s, const DomainRecord *d, int64_t *ret) {
        sqlite3_stmt *st;
        const char *source;
        DomainCacheEntry *e = NULL;
        int64_t id = 0;
        int r;

        assert(s);
        assert(d);
        assert(d->domain);
        assert(ret);
        st = s->stmt[STMT_UPSERT_DOMAIN];
        source = d->source ? d->source : "unknown";
        for (size_t i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, d->domain->name) == 0 && strcmp(s->domains[i].source, source) == 0) {
                        e = &s->domains[i];
                        break;
                }
        if (e && e->estimated == d->domain->estimated && e->host_total == d->host_total &&
            e->kind == d->domain->kind) {
                *ret = e->id;
                return 0;
        }

        sqlite3_bind_text(st, 1, d->domain->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, store_domain_kind_name(d->domain->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, d->domain->estimated);
        sqlite3_bind_int(st, 5, d->host_total);
        r = store_stmt_run(s, STMT_UPSERT_DOMAIN, &id);
        if (r < 0)
                return r;

        if (!e) {
                if (s->n_domains == s->n_domains_alloc) {
                        size_t n = MAX(s->n_domains_alloc * 2, (size_t) 8);
                        DomainCacheEntry *p = realloc(s->domains, n * sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        s->domains = p;
                        s->n_domains_alloc = n;
                }
                e = &s->domains[s->n_domains++];
                strscpy(e->name, sizeof(e->name), d->domain->name);
                strscpy(e->source, sizeof(e->source), source);
        }
        e->estimated = d->domain->estimated;
        e->host_total = d->host_total;
        e->kind = d->domain->kind;
        e->id = id;
        *ret = id;
        return 0;
}

static int store_process_update(Store *s, int64_t boot, const ProcessInfo *p, int64_t *ret_id);

/* The boots row of this boot, cached for the store's generation. */
static int store_boot_row(Store *s, int64_t *ret) {
        int64_t id = 0;
        int r;

        assert(s);
        assert(ret);
        if (s->boot_row > 0 && s->boot_row_gen == s->gen) {
                *ret = s->boot_row;
                return 0;
        }
        sqlite3_bind_text(s->stmt[STMT_UPSERT_BOOT], 1, s->boot_id, -1, SQLITE_STATIC);
        r = store_stmt_run(s, STMT_UPSERT_BOOT, &id);
        if (r < 0)
                return r;
        s->boot_row = *ret = id;
        s->boot_row_gen = s->gen;
        return 0;
}

/* The process row of p (inserted, or updated where the row exists), its id
 * cached in p->store_id. Identity, parent, cgroup id and command line are
 * written as the tracker gave them (a NULL command line keeps what the row
 * has), and the label set p has now (p->store_labels_id, looked up first;
 * for a row written before, a NULL string keeps the one its label set had). */
static int store_process_id(Store *s, const IntervalRecord *rec, ProcessInfo *p, bool *ret_assigned) {
        sqlite3_stmt *st;
        uint64_t start_ns;
        int64_t id = 0, boot = 0;
        int r;

        assert(s);
        assert(rec);
        assert(p);
        assert(ret_assigned);
        *ret_assigned = false;
        /* The caller resets ids that may name rows pruned since, or rows of
         * a database file that was deleted or replaced (store_verify_file()). */
        if (p->store_id > 0 && p->store_gen == s->gen)
                return 0;
        if (sqlite_check_u64(p->start_time_ns) < 0 || sqlite_check_u64(rec->boot_realtime_ns) < 0)
                return -ERANGE;
        start_ns = rec->boot_realtime_ns + p->start_time_ns;
        if (sqlite_check_u64(start_ns) < 0)
                return -ERANGE;
        r = store_boot_row(s, &boot);
        if (r < 0)
                return r;

        st = s->stmt[STMT_INSERT_PROCESS];
        sqlite3_bind_int64(st, 1, boot);
        sqlite3_bind_int64(st, 2, p->pid);
        sqlite3_bind_int64(st, 3, (int64_t) p->start_time_ns);
        sqlite3_bind_int64(st, 4, (int64_t) start_ns);
        sqlite3_bind_int64(st, 5, p->store_labels_id);
        sqlite3_bind_int64(st, 6, p->ppid);
        sqlite3_bind_int64(st, 7, (int64_t) (p->cgroup_id & INT64_MAX));
        sqlite_bind_text_or_null(st, 8, p->cmdline);
        r = store_stmt_run(s, STMT_INSERT_PROCESS, &id);
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = store_process_update(s, boot, p, &id);
        if (r < 0)
                return r;
        p->store_id = id;
        *ret_assigned = true;
        return 0;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
        const unsigned char *b = data;

        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * UINT64_C(0x100000001b3);
        return h;
}

/* A string and its end, or a marker no string has: NULL and "" differ. */
static uint64_t hash_str(uint64_t h, const char *t) {
        static const unsigned char null_marker[2] = { 0xff, 0xfe };

        if (!t)
                return hash_bytes(h, null_marker, sizeof(null_marker));
        return hash_bytes(h, t, strlen(t) + 1);
}

/* FNV-1a of the labels of p: tells whether they changed since last written. */
static uint64_t labels_hash(const ProcessInfo *p) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        uint32_t uid;
        unsigned char k;

        assert(p);
        uid = p->uid;
        k = p->kernel_thread;
        h = hash_bytes(h, p->comm, strnlen(p->comm, sizeof(p->comm)));
        h = hash_bytes(h, "", 1);
        h = hash_str(h, p->exe);
        h = hash_bytes(h, &uid, sizeof(uid));
        h = hash_str(h, p->cgroup_path);
        h = hash_str(h, p->unit);
        h = hash_str(h, p->slice);
        h = hash_str(h, p->container_id);
        return hash_bytes(h, &k, 1);
}

static void bind_labels(sqlite3_stmt *st, const ProcessInfo *p) {
        sqlite3_bind_text(st, 1, p->comm, (int) strnlen(p->comm, sizeof(p->comm)), SQLITE_STATIC);
        sqlite_bind_text_or_null(st, 2, p->exe);
        sqlite3_bind_int64(st, 3, p->uid);
        sqlite_bind_text_or_null(st, 4, p->cgroup_path);
        sqlite_bind_text_or_null(st, 5, p->unit);
        sqlite_bind_text_or_null(st, 6, p->slice);
        sqlite_bind_text_or_null(st, 7, p->container_id);
        sqlite3_bind_int(st, 8, p->kernel_thread);
}

/* The label set row of p's labels, found or inserted. */
static int store_labels_find(Store *s, const ProcessInfo *p, int64_t *ret) {
        int64_t id = 0;
        int r;

        assert(s);
        assert(p);
        assert(ret);
        bind_labels(s->stmt[STMT_LOOKUP_LABELS], p);
        r = store_stmt_lookup(s, STMT_LOOKUP_LABELS, &id);
        if (r < 0)
                return r;
        if (id == 0) {
                bind_labels(s->stmt[STMT_INSERT_LABELS], p);
                r = store_stmt_run(s, STMT_INSERT_LABELS, &id);
                if (r < 0)
                        return r;
        }
        *ret = id;
        return 0;
}

/* The label set row of p's current labels (found or inserted), cached in p
 * with a hash of the labels, so that an unchanged process costs no query. */
static int store_labels_id(Store *s, ProcessInfo *p) {
        uint64_t h;
        int64_t id = 0;
        int r;

        assert(s);
        assert(p);
        h = labels_hash(p);
        if (p->store_labels_id > 0 && p->store_labels_hash == h && p->store_gen == s->gen)
                return 0;
        r = store_labels_find(s, p, &id);
        if (r < 0)
                return r;
        p->store_labels_id = id;
        p->store_labels_hash = h;
        return 0;
}

/* The row of p written before (a NULL string of p keeps the one its label
 * set had): updated with p's parent, cgroup id, command line and label set. */
static int store_process_update(Store *s, int64_t boot, const ProcessInfo *p, int64_t *ret_id) {
        _cleanup_free_ char *exe = NULL, *unit = NULL, *cgroup_path = NULL, *slice = NULL, *container_id = NULL;
        sqlite3_stmt *st;
        ProcessInfo q;
        int64_t id = 0, labels = p->store_labels_id;
        int rc, r;

        assert(s);
        assert(p);
        assert(ret_id);
        st = s->stmt[STMT_PROCESS_LABELS];
        sqlite3_bind_int64(st, 1, boot);
        sqlite3_bind_int64(st, 2, p->pid);
        sqlite3_bind_int64(st, 3, (int64_t) p->start_time_ns);
        rc = sqlite3_step(st);
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EIO : store_errno_db(s->db, rc);
        if (rc == SQLITE_ROW) {
                char **dst[] = { &exe, &unit, &cgroup_path, &slice, &container_id };
                id = sqlite3_column_int64(st, 0);
                for (int i = 0; i < 5 && r >= 0; i++) {
                        const unsigned char *t = sqlite3_column_text(st, i + 1);
                        if (t && !(*dst[i] = strdup((const char *) t)))
                                r = -ENOMEM;
                }
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (r < 0)
                return r;
        if (!(p->exe && p->unit && p->cgroup_path && p->slice && p->container_id)) {
                q = *p;
                q.exe = p->exe ?: exe;
                q.unit = p->unit ?: unit;
                q.cgroup_path = p->cgroup_path ?: cgroup_path;
                q.slice = p->slice ?: slice;
                q.container_id = p->container_id ?: container_id;
                r = store_labels_find(s, &q, &labels);
                if (r < 0)
                        return r;
        }
        st = s->stmt[STMT_UPDATE_PROCESS];
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, labels);
        sqlite3_bind_int64(st, 3, p->ppid);
        sqlite3_bind_int64(st, 4, (int64_t) (p->cgroup_id & INT64_MAX));
        sqlite_bind_text_or_null(st, 5, p->cmdline);
        r = store_stmt_run(s, STMT_UPDATE_PROCESS, NULL);
        if (r < 0)
                return r;
        *ret_id = id;
        return 0;
}

/* How one domain's per-process figures of an interval are stored: by a
 * rate times each process's CPU time (or resident memory), or per process. */
typedef struct DomainSplit {
        bool by_cpu, by_rss, idle_by_cpu;
        double cpu_rate, rss_rate, idle_rate;
} DomainSplit;

/* Within this of the largest figure, a figure is what the rate gives: the
 * attribution's own rounding is ~1e-16 of it. */
#define SPLIT_TOLERANCE 1e-12

static double proc_rss_kib(const ProcessDelta *pd) {
        return (double) (pd->rss_bytes / 1024);
}

/* Is figure v[i * stride] of every written process basis(i) × one rate? */
static bool split_by(const IntervalRecord *rec, const bool *written, const double *v, size_t j, bool rss,
                     double *ret_rate) {
        double sum_basis = 0, sum_v = 0, max_v = 0;

        assert(rec);
        assert(written);
        assert(ret_rate);
        *ret_rate = 0;
        if (!v)
                return true;  /* none given: all 0 */
        for (size_t i = 0; i < rec->n_procs; i++) {
                double x = v[i * rec->n_domains + j];
                if (!written[i])
                        continue;
                sum_basis += rss ? proc_rss_kib(&rec->procs[i]) : (double) rec->procs[i].cpu_ns;
                sum_v += x;
                max_v = fmax(max_v, fabs(x));
        }
        if (max_v == 0)
                return true;
        if (!(sum_basis > 0))
                return false;
        *ret_rate = sum_v / sum_basis;
        for (size_t i = 0; i < rec->n_procs; i++) {
                double b, x = v[i * rec->n_domains + j];
                if (!written[i])
                        continue;
                b = rss ? proc_rss_kib(&rec->procs[i]) : (double) rec->procs[i].cpu_ns;
                if (!(fabs(x - b * *ret_rate) <= SPLIT_TOLERANCE * max_v))
                        return false;
        }
        return true;
}

static void domain_split(const IntervalRecord *rec, const bool *written, size_t j, DomainSplit *ret) {
        assert(rec);
        assert(ret);
        *ret = (DomainSplit) {};
        ret->by_cpu = split_by(rec, written, rec->proc_domain_j, j, false, &ret->cpu_rate);
        if (!ret->by_cpu)
                ret->by_rss = split_by(rec, written, rec->proc_domain_j, j, true, &ret->rss_rate);
        ret->idle_by_cpu = split_by(rec, written, rec->proc_idle_share_j, j, false, &ret->idle_rate);
}

static void bind_double_or_null(sqlite3_stmt *st, int i, bool set, double v) {
        if (set)
                sqlite3_bind_double(st, i, v);
        else
                sqlite3_bind_null(st, i);
}

/* Whether a process of the record gets rows: CPU time, wakeups or any figure. */
static bool proc_written(const IntervalRecord *rec, size_t i) {
        const ProcessDelta *pd = &rec->procs[i];
        const double *row = rec->proc_domain_j ? rec->proc_domain_j + i * rec->n_domains : NULL;
        const double *idle = rec->proc_idle_share_j ? rec->proc_idle_share_j + i * rec->n_domains : NULL;

        if (pd->cpu_ns > 0 || pd->wakeups > 0)
                return true;
        for (size_t j = 0; j < rec->n_domains; j++)
                if (rec->domains[j].valid && ((row && row[j] != 0) || (idle && idle[j] != 0)))
                        return true;
        return false;
}

static int store_write_interval_locked(Store *s, const IntervalRecord *rec, int64_t *domain_ids,
                                       bool *assigned, bool *written, DomainSplit *split) {
        sqlite3_stmt *st;
        int64_t interval_id = 0;
        double host_cpu = 0, host_rss = 0, host_idle = 0;
        bool any_cpu = false, any_rss = false, any_idle = false;
        int r;

        assert(s);
        assert(rec);
        assert(domain_ids);
        assert(assigned);
        assert(written);
        assert(split);
        st = s->stmt[STMT_INSERT_INTERVAL];
        sqlite3_bind_int64(st, 1, (int64_t) rec->start_ns);
        sqlite3_bind_int64(st, 2, (int64_t) rec->end_ns);
        r = store_stmt_run(s, STMT_INSERT_INTERVAL, &interval_id);
        if (r < 0)
                return r;

        for (size_t i = 0; i < rec->n_procs; i++)
                written[i] = proc_written(rec, i);

        for (size_t j = 0; j < rec->n_domains; j++) {
                const DomainRecord *d = &rec->domains[j];
                DomainSplit *sp = &split[j];

                domain_ids[j] = 0;
                if (!d->valid)
                        continue;
                r = store_domain_id(s, d, &domain_ids[j]);
                if (r < 0)
                        return r;
                domain_split(rec, written, j, sp);
                if (d->host_total) {
                        if (sp->by_cpu) {
                                host_cpu += sp->cpu_rate;
                                any_cpu = true;
                        }
                        if (sp->by_rss) {
                                host_rss += sp->rss_rate;
                                any_rss = true;
                        }
                        if (sp->idle_by_cpu) {
                                host_idle += sp->idle_rate;
                                any_idle = true;
                        }
                }

                st = s->stmt[STMT_INSERT_INTERVAL_DOMAIN];
                sqlite3_bind_int64(st, 1, interval_id);
                sqlite3_bind_int64(st, 2, domain_ids[j]);
                sqlite3_bind_int(st, 3, d->host_total);
                sqlite3_bind_double(st, 4, d->measured_j);
                sqlite3_bind_double(st, 5, d->idle_j);
                sqlite3_bind_double(st, 6, d->attributed_j);
                sqlite3_bind_double(st, 7, d->unattributed_j);
                sqlite3_bind_double(st, 8, d->idle_w);
                sqlite_bind_text_or_null(st, 9, d->idle_method);
                sqlite3_bind_double(st, 10, d->irq_j);
                if (d->idle_band_w > 0)
                        sqlite3_bind_double(st, 11, d->idle_band_w);
                else
                        sqlite3_bind_null(st, 11);
                bind_double_or_null(st, 12, sp->by_cpu, sp->cpu_rate);
                bind_double_or_null(st, 13, sp->by_rss, sp->rss_rate);
                bind_double_or_null(st, 14, sp->idle_by_cpu, sp->idle_rate);
                r = store_stmt_run(s, STMT_INSERT_INTERVAL_DOMAIN, NULL);
                if (r < 0)
                        return r;
        }

        if (any_cpu || any_rss || any_idle) {
                st = s->stmt[STMT_SET_INTERVAL_RATES];
                sqlite3_bind_int64(st, 1, interval_id);
                bind_double_or_null(st, 2, any_cpu, host_cpu);
                bind_double_or_null(st, 3, any_rss, host_rss);
                bind_double_or_null(st, 4, any_idle, host_idle);
                r = store_stmt_run(s, STMT_SET_INTERVAL_RATES, NULL);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < rec->n_procs; i++) {
                const ProcessDelta *pd = &rec->procs[i];
                const double *row = rec->proc_domain_j ? rec->proc_domain_j + i * rec->n_domains : NULL;
                const double *idle = rec->proc_idle_share_j ? rec->proc_idle_share_j + i * rec->n_domains : NULL;
                bool rss = false;

                if (!written[i])
                        continue;   /* nothing happened to it: no row */

                if (pd->info->store_gen != s->gen) {
                        /* Ids of another store or database file: look again. */
                        pd->info->store_id = 0;
                        pd->info->store_labels_id = 0;
                } else if (pd->info->store_last_ns <= s->procs_pruned_upto_ns)
                        pd->info->store_id = 0;   /* its row may have been pruned since */
                r = store_labels_id(s, pd->info);
                if (r < 0)
                        return r;
                r = store_process_id(s, rec, pd->info, &assigned[i]);
                if (r < 0)
                        return r;
                pd->info->store_gen = s->gen;

                for (size_t j = 0; j < rec->n_domains; j++)
                        rss = rss || (rec->domains[j].valid && split[j].by_rss);
                st = s->stmt[STMT_INSERT_SAMPLE];
                sqlite3_bind_int64(st, 1, interval_id);
                sqlite3_bind_int64(st, 2, pd->info->store_id);
                sqlite3_bind_int64(st, 3, pd->info->store_labels_id);
                sqlite3_bind_int64(st, 4, (int64_t) pd->cpu_ns);
                sqlite3_bind_int64(st, 5, (int64_t) (pd->wakeups & INT64_MAX));
                if (rss)
                        sqlite3_bind_int64(st, 6, (int64_t) (pd->rss_bytes / 1024));
                else
                        sqlite3_bind_null(st, 6);
                r = store_stmt_run(s, STMT_INSERT_SAMPLE, NULL);
                if (r < 0)
                        return r;
                pd->info->store_last_ns = rec->end_ns;

                /* Per-process rows only for what no rate gives. */
                for (size_t j = 0; j < rec->n_domains; j++) {
                        const DomainSplit *sp = &split[j];
                        double e, is;

                        if (!rec->domains[j].valid)
                                continue;
                        e = sp->by_cpu || sp->by_rss || !row ? 0 : row[j];
                        is = sp->idle_by_cpu || !idle ? 0 : idle[j];
                        if (e == 0 && is == 0)
                                continue;
                        st = s->stmt[STMT_INSERT_SAMPLE_DOMAIN];
                        sqlite3_bind_int64(st, 1, interval_id);
                        sqlite3_bind_int64(st, 2, pd->info->store_id);
                        sqlite3_bind_int64(st, 3, pd->info->store_labels_id);
                        sqlite3_bind_int64(st, 4, domain_ids[j]);
                        sqlite3_bind_double(st, 5, e);
                        sqlite3_bind_double(st, 6, is);
                        r = store_stmt_run(s, STMT_INSERT_SAMPLE_DOMAIN, NULL);
                        if (r < 0)
                                return r;
                }
        }
        /* After a backward clock step: into the rollups already made. */
        return store_fold_late(s, interval_id, rec->end_ns);
}

int store_interval_validate(const IntervalRecord *rec) {
        assert(rec);
        if (rec->end_ns < rec->start_ns || sqlite_check_u64(rec->end_ns) < 0)
                return -EINVAL;
        if ((rec->n_domains > 0 && !rec->domains) || (rec->n_procs > 0 && !rec->procs))
                return -EINVAL;
        for (size_t j = 0; j < rec->n_domains; j++) {
                const DomainRecord *d = &rec->domains[j];
                if (!d->domain)
                        return -EINVAL;
                if (!d->valid)
                        continue;
                if (!isfinite(d->measured_j) || !isfinite(d->idle_j) || !isfinite(d->attributed_j) ||
                    !isfinite(d->unattributed_j) || !isfinite(d->idle_w))
                        return -EINVAL;
        }
        for (size_t i = 0; i < rec->n_procs; i++) {
                if (!rec->procs[i].info || sqlite_check_u64(rec->procs[i].cpu_ns) < 0)
                        return -EINVAL;
                for (size_t j = 0; j < rec->n_domains; j++) {
                        if (!rec->domains[j].valid)
                                continue;
                        if (rec->proc_domain_j && !isfinite(rec->proc_domain_j[i * rec->n_domains + j]))
                                return -EINVAL;
                        if (rec->proc_idle_share_j && !isfinite(rec->proc_idle_share_j[i * rec->n_domains + j]))
                                return -EINVAL;
                }
        }
        return 0;
}

int store_write_interval(Store *s, const IntervalRecord *rec) {
        _cleanup_free_ int64_t *domain_ids = NULL;
        _cleanup_free_ bool *assigned = NULL, *written = NULL;
        _cleanup_free_ DomainSplit *split = NULL;
        int r;

        if (!s || !rec)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;
        if (s->gen == 0)
                s->gen = store_generation_new();
        r = store_interval_validate(rec);
        if (r < 0)
                return r;

        domain_ids = calloc(MAX(rec->n_domains, (size_t) 1), sizeof(int64_t));
        assigned = calloc(MAX(rec->n_procs, (size_t) 1), sizeof(bool));
        written = calloc(MAX(rec->n_procs, (size_t) 1), sizeof(bool));
        split = calloc(MAX(rec->n_domains, (size_t) 1), sizeof(DomainSplit));
        if (!domain_ids || !assigned || !written || !split)
                return -ENOMEM;

        r = store_begin(s);
        if (r < 0)
                return r;

        r = store_end(s, store_write_interval_locked(s, rec, domain_ids, assigned, written, split));
        if (r < 0) {
                /* Nothing of this interval exists: forget the ids handed out in it. */
                for (size_t i = 0; i < rec->n_procs; i++) {
                        /* Looked up again next time: the rows may have been made
                         * in it, and its samples are not there. */
                        rec->procs[i].info->store_id = 0;
                        rec->procs[i].info->store_labels_id = 0;
                }
                s->n_domains = 0;
                s->boot_row = 0;
                return r;
        }
        return 0;
}

int store_set_state(Store *s, const char *key, const char *value) {
        sqlite3_stmt *st;

        if (!s || !key || !*key)
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;
        st = s->stmt[STMT_SET_STATE];
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite_bind_text_or_null(st, 2, value);
        sqlite3_bind_int64(st, 3, (int64_t) now_ns(CLOCK_REALTIME));
        return store_stmt_run(s, STMT_SET_STATE, NULL);
}

int store_set_probes(Store *s, const SourceProbe *probes, const bool *in_use, size_t n) {
        int r;

        if (!s || (n > 0 && !probes))
                return -EINVAL;
        if (s->flags & STORE_READ_ONLY)
                return -EROFS;

        r = store_begin(s);
        if (r < 0)
                return r;
        r = store_stmt_run(s, STMT_DELETE_PROBES, NULL);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                sqlite3_stmt *st = s->stmt[STMT_INSERT_PROBE];
                if (!probes[i].name) {
                        r = -EINVAL;
                        break;
                }
                sqlite3_bind_text(st, 1, probes[i].name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, probe_status_name(probes[i].status), -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 3, probes[i].estimated);
                sqlite3_bind_int(st, 4, in_use ? in_use[i] : false);
                sqlite3_bind_text(st, 5, probes[i].reason,
                                  (int) strnlen(probes[i].reason, sizeof(probes[i].reason)), SQLITE_STATIC);
                r = store_stmt_run(s, STMT_INSERT_PROBE, NULL);
        }
        return store_end(s, r);
}

