/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The model source: an estimate of the host's CPU power from its CPU
 * utilisation, for hosts with no energy meter (virtual machines, most clouds).
 *
 *   P = n_cpus × (min_w + (max_w − min_w) × utilisation)
 *
 * with utilisation = busy / (busy + idle + steal) from /proc/stat between two
 * reads, and n_cpus the number of cpuN lines. The default figures, 0.74 W at
 * idle and 3.5 W at full load per vCPU (MODEL_DEFAULT_MIN_W/MAX_W in
 * model-defaults.h), are the Cloud Carbon Footprint methodology's averages for AWS,
 * derived from SPECpower_ssj2008 results of the server CPUs AWS uses
 * (https://www.cloudcarbonfootprint.org/docs/methodology/, "Compute").
 * The result is an estimate and is marked so everywhere.
 *
 * Better figures where they are known: model_cpus[] below maps the "model
 * name" of /proc/cpuinfo to the CPU's TDP and hardware threads per socket
 * (vendor product pages, cited per entry): max_w = TDP / threads, and min_w
 * = max_w × 0.74 / 3.5 (the idle/full-load ratio of the default figures).
 * TDP is the sustained power the cooling is designed for, the usual proxy
 * for full-load power. [Model] MinWattsPerCPU= / MaxWattsPerCPU= always win
 * (a value other than the built-in default counts as configured).
 *
 * Frequency: when SYS_ROOT/devices/system/cpu/cpuN/cpufreq/ has
 * scaling_cur_freq and cpuinfo_max_freq, the dynamic term is scaled by
 * Σ cur / Σ max over the CPUs at each read (dynamic power taken as linear in
 * frequency, a conservative first-order approximation). */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "model-defaults.h"
#include "procfs.h"
#include "source.h"
#include "topology.h"
#include "util.h"

#define FJ_PER_UJ UINT64_C(1000000000)

typedef struct Model {
        char *proc_root;
        char *sys_root;
        uint64_t min_uw;            /* per CPU, micro-watts */
        uint64_t max_uw;
        bool have_prev;
        uint64_t prev_busy_ns, prev_idle_ns, prev_steal_ns;
        uint64_t prev_ns;
        uint64_t total_uj;
        uint64_t rem_fj;            /* sub-µJ remainder, femtojoules (< 1e9) */
        uint64_t last_busy, last_total; /* last interval's utilisation, as a fraction */
        bool have_util;
        bool read_warned;
} Model;

/* ---- the source -------------------------------------------------------- */

static const char *proc_root_or_default(const SourceContext *ctx) {
        return ctx && ctx->proc_root ? ctx->proc_root : "/proc";
}

/* Public figures, per socket. min/max watts per hardware thread are derived
 * as described at the top of this file. */
static const ModelCpu model_cpus[] = {
        { "AMD EPYC 9654", 360, 192, "amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series/amd-epyc-9654.html" },
        { "AMD EPYC 7763", 280, 128, "amd.com/en/products/processors/server/epyc/7003-series/amd-epyc-7763.html" },
        { "AMD EPYC 7742", 225, 128, "amd.com/en/products/processors/server/epyc/7002-series/amd-epyc-7742.html" },
        { "Intel(R) Xeon(R) Platinum 8480+", 350, 112, "ark.intel.com/content/www/us/en/ark/products/231746" },
        { "Intel(R) Xeon(R) Platinum 8380", 270, 80, "ark.intel.com/content/www/us/en/ark/products/212287" },
        { "Intel(R) Xeon(R) Gold 6248", 150, 40, "ark.intel.com/content/www/us/en/ark/products/192446" },
        { "Intel(R) Xeon(R) CPU E5-2699 v4", 145, 44, "ark.intel.com/content/www/us/en/ark/products/91317" },
        { "Intel(R) Core(TM) i7-8650U", 15, 8, "ark.intel.com/content/www/us/en/ark/products/124968" },
        { "Intel(R) Core(TM) i7-1185G7", 28, 8, "ark.intel.com/content/www/us/en/ark/products/208664" },
};

const ModelCpu *model_cpu_lookup(const char *model_name) {
        if (!model_name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(model_cpus); i++) {
                const char *p = strstr(model_name, model_cpus[i].match);
                char next;
                if (!p)
                        continue;
                /* Whole model number: "EPYC 7763" must not match "EPYC 77631". */
                next = p[strlen(model_cpus[i].match)];
                if ((next >= '0' && next <= '9') || (next >= 'A' && next <= 'Z') || (next >= 'a' && next <= 'z'))
                        continue;
                return &model_cpus[i];
        }
        return NULL;
}

/* The watts per CPU to use, and where they come from (for the probe reason). */
static int model_params_desc(const SourceContext *ctx, double *ret_min, double *ret_max, char *desc, size_t desc_size) {
        _cleanup_free_ char *name = NULL;
        const ModelCpu *cpu = NULL;
        double min_w = MODEL_DEFAULT_MIN_W, max_w = MODEL_DEFAULT_MAX_W;
        /* 0 means "not configured": the CPU table, else the generic defaults. */
        bool cfg_min = ctx && ctx->model_min_watts_per_cpu > 0;
        bool cfg_max = ctx && ctx->model_max_watts_per_cpu > 0;

        assert(ret_min);
        assert(ret_max);

        (void) cpuinfo_field(ctx ? ctx->proc_root : NULL, "model name", &name);
        cpu = model_cpu_lookup(name);
        if (cpu) {
                max_w = (double) cpu->tdp_w / (double) cpu->threads;
                min_w = max_w * MODEL_DEFAULT_MIN_W / MODEL_DEFAULT_MAX_W;
        }
        if (cfg_min)
                min_w = ctx->model_min_watts_per_cpu;
        if (cfg_max)
                max_w = ctx->model_max_watts_per_cpu;
        if (desc) {
                if (cfg_min && cfg_max)
                        snprintf(desc, desc_size, "configured [Model] watts");
                else if (cpu)
                        snprintf(desc, desc_size, "CPU table entry \"%s\": %u W TDP / %u threads, %s%s",
                                 cpu->match, cpu->tdp_w, cpu->threads, cpu->source,
                                 cfg_min || cfg_max ? "; partly configured" : "");
                else
                        snprintf(desc, desc_size, "generic defaults: model name \"%s\" not in the CPU table%s",
                                 name ?: "unknown", cfg_min || cfg_max ? "; partly configured" : "");
        }
        if (!isfinite(min_w) || !isfinite(max_w) || min_w < 0 || max_w < min_w || max_w > 1e6)
                return -EINVAL;
        *ret_min = min_w;
        *ret_max = max_w;
        return 0;
}

static int model_params(const SourceContext *ctx, double *ret_min, double *ret_max) {
        return model_params_desc(ctx, ret_min, ret_max, NULL, 0);
}

/* Σ scaling_cur_freq and Σ cpuinfo_max_freq (kHz) over the CPUs that have
 * both; 0 when none. */
static void cpufreq_sums(const char *sys_root, const ProcStat *st, uint64_t *ret_cur, uint64_t *ret_max) {
        assert(sys_root);
        assert(st);
        assert(ret_cur);
        assert(ret_max);

        *ret_cur = *ret_max = 0;
        for (size_t i = 0; i < st->n_cpus; i++) {
                char cur_path[512], max_path[512];
                uint64_t cur, max;

                snprintf(cur_path, sizeof(cur_path), "%s/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq",
                         sys_root, st->cpu_ids[i]);
                snprintf(max_path, sizeof(max_path), "%s/devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq",
                         sys_root, st->cpu_ids[i]);
                if (read_u64_file(cur_path, &cur) < 0 || read_u64_file(max_path, &max) < 0 || max == 0)
                        continue;
                *ret_cur += MIN(cur, max);
                *ret_max += max;
        }
}

static SourceStatus model_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        const char *proc = proc_root_or_default(ctx);
        _cleanup_(proc_stat_done) ProcStat st = {};
        double min_w, max_w;
        int r;

        char desc[200];
        uint64_t fcur, fmax;

        assert(reason);

        if (model_params_desc(ctx, &min_w, &max_w, desc, sizeof(desc)) < 0) {
                snprintf(reason, reason_size, "invalid model parameters: need 0 <= min (%g W) <= max (%g W) per CPU",
                         min_w, max_w);
                return SOURCE_UNSUPPORTED;
        }
        r = procfs_read_stat(proc, &st);
        if (r == -ENOENT) {
                snprintf(reason, reason_size, "no %s/stat", proc);
                return SOURCE_MISSING;
        }
        if (r < 0) {
                snprintf(reason, reason_size, "cannot use %s/stat: %s", proc,
                         r == -EBADMSG ? "no parsable cpu lines" : strerror(-r));
                return SOURCE_UNSUPPORTED;
        }
        cpufreq_sums(ctx && ctx->sys_root ? ctx->sys_root : "/sys", &st, &fcur, &fmax);
        snprintf(reason, reason_size, "estimate from CPU use in %s/stat: %zu CPUs × %.2f–%.2f W (%s)%s",
                 proc, st.n_cpus, min_w, max_w, desc, fmax > 0 ? ", scaled by cpufreq" : "");
        return SOURCE_USABLE;
}

static void model_close(EnergySource *s) {
        Model *m;

        if (!s)
                return;
        m = s->userdata;
        if (m) {
                free(m->proc_root);
                free(m->sys_root);
                free(m);
        }
        free(s->domains);
        free(s);
}

static int model_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        const char *proc = proc_root_or_default(ctx);
        _cleanup_(proc_stat_done) ProcStat st = {};
        _cleanup_free_ Model *m = NULL;
        _cleanup_free_ EnergyDomain *d = NULL;
        EnergySource *s;
        double min_w, max_w;
        int r;

        assert(reason);
        assert(ret);

        if (model_params(ctx, &min_w, &max_w) < 0) {
                snprintf(reason, reason_size, "invalid model parameters %g W and %g W per CPU: "
                         "need 0 <= minimum <= maximum",
                         ctx->model_min_watts_per_cpu, ctx->model_max_watts_per_cpu);
                return -EINVAL;
        }
        r = procfs_read_stat(proc, &st);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(reason, reason_size, "cannot use %s/stat: %s", proc,
                         r == -EBADMSG ? "no parsable cpu lines" : strerror(-r));
                return r;
        }

        m = calloc(1, sizeof(Model));
        d = calloc(1, sizeof(EnergyDomain));
        if (!m || !d)
                return -ENOMEM;
        m->proc_root = strdup(proc);
        m->sys_root = strdup(ctx && ctx->sys_root ? ctx->sys_root : "/sys");
        if (!m->proc_root || !m->sys_root) {
                free(m->proc_root);
                free(m->sys_root);
                return -ENOMEM;
        }
        m->min_uw = (uint64_t) llround(min_w * 1e6);
        m->max_uw = (uint64_t) llround(max_w * 1e6);

        strscpy(d->name, sizeof(d->name), "package-0");
        d->kind = DOMAIN_PACKAGE;
        d->package = 0;
        d->estimated = true;
        d->max_power_w = max_w * (double) st.n_cpus;
        /* The model's own idle power is exact: at zero utilisation it reads
         * n_cpus × min_w (cpufreq scales only the dynamic term). */
        d->idle_known = true;
        d->idle_w = min_w * (double) st.n_cpus;

        s = calloc(1, sizeof(EnergySource));
        if (!s) {
                free(m->proc_root);
                free(m->sys_root);
                return -ENOMEM;
        }
        s->ops = &model_source_ops;
        s->n_domains = 1;
        s->domains = TAKE_PTR(d);
        s->userdata = TAKE_PTR(m);
        *ret = s;
        return 0;
}

static uint64_t sat_sub(uint64_t a, uint64_t b) {
        return a > b ? a - b : 0;
}

int model_source_read_at(EnergySource *s, uint64_t now, uint64_t *ret_uj) {
        _cleanup_(proc_stat_done) ProcStat st = {};
        Model *m;
        int r;

        if (!s || s->ops != &model_source_ops || !ret_uj)
                return -EINVAL;
        m = s->userdata;

        r = procfs_read_stat(m->proc_root, &st);
        return model_source_read_stat(s, r < 0 ? NULL : &st, r, now, ret_uj);
}

int model_source_read_stat(EnergySource *s, const ProcStat *st, int stat_error, uint64_t now, uint64_t *ret_uj) {
        Model *m;
        uint64_t busy, total, elapsed, fcur, fmax;
        unsigned __int128 fj;

        if (!s || s->ops != &model_source_ops || !ret_uj)
                return -EINVAL;
        m = s->userdata;

        if (!st && stat_error == -ENOMEM)
                return stat_error;
        if (!st) {
                if (!m->read_warned)
                        log_object_errno(LOG_WARNING, stat_error, "model", s->domains[0].name,
                                         "Model source: cannot read %s/stat, no estimate this interval: %s",
                                         m->proc_root, stat_error == -EBADMSG ? "no parsable cpu lines" : strerror(-stat_error));
                m->read_warned = true;
                ret_uj[0] = ENERGY_READ_FAILED;
                return 0;
        }
        if (m->read_warned) {
                log_object(LOG_INFO, "model", s->domains[0].name, "Model source: %s/stat is readable again.",
                           m->proc_root);
                m->read_warned = false;
        }
        s->domains[0].max_power_w = (double) m->max_uw / 1e6 * (double) st->n_cpus;

        if (!m->have_prev) {
                m->have_prev = true;
                goto baseline;
        }

        /* Saturating: iowait is known to go backwards now and then. */
        busy = sat_sub(st->busy_ns, m->prev_busy_ns);
        total = busy + sat_sub(st->idle_ns, m->prev_idle_ns) + sat_sub(st->steal_ns, m->prev_steal_ns);
        if (total > 0) {
                m->last_busy = busy;
                m->last_total = total;
                m->have_util = true;
        } else if (m->have_util) {
                /* No tick in between (reads very close together): keep the last figure. */
                busy = m->last_busy;
                total = m->last_total;
        } else {
                busy = 0;
                total = 1;
        }
        elapsed = sat_sub(now, m->prev_ns);

        /* µW × ns = fJ:  n × (min × T + (max − min) × B) / T × elapsed. */
        cpufreq_sums(m->sys_root, st, &fcur, &fmax);
        if (fmax == 0)
                fcur = fmax = 1; /* no cpufreq: full frequency */
        fj = (unsigned __int128) st->n_cpus *
             ((unsigned __int128) m->min_uw * total * fmax + (unsigned __int128) (m->max_uw - m->min_uw) * busy * fcur) *
             elapsed / ((unsigned __int128) total * fmax);
        fj += m->rem_fj;
        m->total_uj += (uint64_t) (fj / FJ_PER_UJ);
        m->rem_fj = (uint64_t) (fj % FJ_PER_UJ);

baseline:
        m->prev_busy_ns = st->busy_ns;
        m->prev_idle_ns = st->idle_ns;
        m->prev_steal_ns = st->steal_ns;
        m->prev_ns = now;
        ret_uj[0] = m->total_uj;
        return 0;
}

static int model_read(EnergySource *s, uint64_t *ret_uj) {
        return model_source_read_at(s, now_ns(CLOCK_MONOTONIC), ret_uj);
}

int model_source_last_utilisation(EnergySource *s, double *ret) {
        Model *m;

        if (!s || s->ops != &model_source_ops || !ret)
                return -EINVAL;
        m = s->userdata;
        if (!m->have_util)
                return -ENODATA;
        *ret = (double) m->last_busy / (double) m->last_total;
        return 0;
}

const EnergySourceOps model_source_ops = {
        .name = "model",
        .estimated = true,
        .probe = model_probe,
        .open = model_open,
        .read = model_read,
        .close = model_close,
};
