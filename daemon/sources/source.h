/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "procfs.h"

/* Energy sources: one small module each behind one interface
 * (probe → open → read cumulative energy per domain → close). */

typedef enum DomainKind {
        DOMAIN_PACKAGE,
        DOMAIN_CORE,
        DOMAIN_UNCORE,
        DOMAIN_DRAM,
        DOMAIN_PSYS,
        DOMAIN_GPU,
        DOMAIN_BATTERY,
        _DOMAIN_KIND_MAX,
        _DOMAIN_KIND_INVALID = -1,
} DomainKind;

#define DOMAIN_NAME_MAX 32

typedef struct EnergyDomain {
        char name[DOMAIN_NAME_MAX]; /* "package-0", "core-0", "dram-0", "psys", ... */
        DomainKind kind;
        int package;                /* package (socket) index, -1 when not per package */
        bool estimated;             /* modelled, not measured */
        double max_power_w;         /* plausibility bound, 0 if unknown */
        bool idle_known;            /* the source states its own idle power exactly (the model) */
        double idle_w;              /* ... and this is it, W */
        bool integrated;            /* figures integrated from power readings (W × time),
                                     * not read from an energy counter */
        bool whole_system;          /* a meter of the whole machine (psys, ACPI power
                                     * meter, PSU input, battery discharge) */
        bool host_total_decided;    /* set by source_select(): host_total below is
                                     * the answer of domain_counts_in_host_total() */
        bool host_total;
} EnergyDomain;

typedef enum SourceStatus {
        SOURCE_USABLE,
        SOURCE_MISSING,             /* nothing of it on this host */
        SOURCE_PERMISSION,          /* present but not readable by us */
        SOURCE_UNSUPPORTED,         /* present but unusable (format, kernel, ...) */
        _SOURCE_STATUS_MAX,
        _SOURCE_STATUS_INVALID = -1,
} SourceStatus;

/* Paths and parameters every source may need; injected so tests use fixtures. */
typedef struct SourceContext {
        const char *powercap_root;  /* default /sys/class/powercap */
        const char *proc_root;      /* default /proc */
        const char *sys_root;       /* default /sys */
        const char *dev_root;       /* default /dev */
        /* Model source parameters (watts per logical CPU). */
        double model_min_watts_per_cpu;
        double model_max_watts_per_cpu;
        /* NULL/0 by default: */
        const char *nvml_library;   /* default $JOULED_NVML_LIBRARY, else "libnvidia-ml.so.1" */
        /* perf_event_open(2) for the perf source; NULL means the syscall. attr
         * is a struct perf_event_attr *. Tests inject a stub. */
        int (*perf_event_open)(void *attr, int pid, int cpu, int group_fd, unsigned long flags);
        const char *topology;       /* CPU→package override "CPU:PKG,..." (else
                                     * $JOULED_TOPOLOGY, else sysfs) */
} SourceContext;

typedef struct EnergySource EnergySource;

typedef struct EnergySourceOps {
        const char *name;           /* "rapl", "model", ... */
        bool estimated;
        /* Is it usable? Fills a one-line reason into reason (always, also when usable). */
        SourceStatus (*probe)(const SourceContext *ctx, char *reason, size_t reason_size);
        /* Returns 0 with the source in *ret, or negative errno with a one-line
         * reason in reason (the caller prints it, e.g. "no RAPL powercap zones
         * under /sys/class/powercap"). Neither probe nor open logs what makes
         * the source unusable: source_select() logs it once, at the level the
         * user's --source calls for. */
        int (*open)(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret);
        /* Cumulative energy since open, in micro-joules, one per domain, wraps
         * already unfolded. A domain that could not be read this time is set to
         * UINT64_MAX (and logged by the source, with JOULED_SOURCE= and
         * JOULED_DOMAIN=). Returns 0 or negative errno. */
        int (*read)(EnergySource *s, uint64_t *ret_uj);
        void (*close)(EnergySource *s);
        /* Optional: stop measuring domain index i: frees what is
         * the domain's, removes it from domains (later ones move down by one)
         * and decrements n_domains. source_select() uses it under "auto" to take from
         * a later source only the domains no earlier source measures. */
        void (*drop_domain)(EnergySource *s, size_t i);
} EnergySourceOps;

struct EnergySource {
        const EnergySourceOps *ops;
        size_t n_domains;
        EnergyDomain *domains;      /* owned by the source */
        void *userdata;             /* the module's own state */
        /* Readings the source discarded as
         * implausible (went back without a wrap, jumped beyond the domain's
         * maximum power), summed into `joulectl status` counters_discarded. */
        uint64_t n_discarded;
};

#define ENERGY_READ_FAILED UINT64_MAX

extern const EnergySourceOps rapl_source_ops;
extern const EnergySourceOps model_source_ops;
extern const EnergySourceOps perf_source_ops;
extern const EnergySourceOps msr_source_ops;
extern const EnergySourceOps hwmon_source_ops;
extern const EnergySourceOps battery_source_ops;
extern const EnergySourceOps nvml_source_ops;

/* Every known source, in the order `--source auto` tries them. */
const EnergySourceOps *const *source_all(size_t *ret_n);
const EnergySourceOps *source_find(const char *name);

const char *source_status_to_string(SourceStatus s);
/* A probe's status from its scan's result: >= 0 usable, -ENOENT missing,
 * -EACCES/-EPERM permission, anything else unsupported. The scan wrote the
 * reason; for -ENOMEM this writes "out of memory while probing WHAT". */
SourceStatus source_status_from_scan(int r, const char *what, char *reason, size_t reason_size);
const char *domain_kind_to_string(DomainKind k);
DomainKind domain_kind_from_name(const char *domain_name);

/* Whether this domain is part of the host total (no double counting). When
 * source_select() decided it (d->host_total_decided), its answer, taking
 * every opened domain into account (see docs/sources.md): a whole-system meter
 * when there is one (hwmon power meter/PSUs, else psys, else the battery when
 * nothing else is measured), otherwise package-N + dram-N + gpu-N; core and
 * uncore never. Otherwise the static rule: psys when present
 * (host_has_psys), else package-N and dram-N; gpu-N when host_has_psys is
 * false; core, uncore and battery never. */
bool domain_counts_in_host_total(const EnergyDomain *d, bool host_has_psys);

/* One line per source for --probe and `joulectl status`. */
typedef struct SourceProbe {
        const char *name;
        SourceStatus status;
        bool estimated;
        char reason[256];
} SourceProbe;

/* Probe every source (filling probes, one per known source) and open the ones
 * selected: "auto" opens the first usable measured source, else the model;
 * a comma list opens those named (an unusable named source is an error).
 * Returns 0 with opened sources in *ret (NULL-terminated array), or negative errno.
 * Logs, once per source: under "auto" a source that cannot be used is logged
 * at debug level (", ignoring"); a source the user named that cannot be used
 * is an error, logged as such. Every failure it returns is logged. */
int source_select(const SourceContext *ctx, const char *spec,
                  SourceProbe *probes, size_t n_probes,
                  EnergySource ***ret, size_t *ret_n);

void source_close(EnergySource *s);

/* Semantics shared by every source: the first read() after open() sets the
 * baseline and returns 0 for every domain it could read; later reads return
 * the energy accumulated since that baseline. A domain that failed
 * (ENERGY_READ_FAILED) keeps its previous cumulative value internally: the
 * next good read returns a cumulative figure that includes what could be
 * measured meanwhile, except for readings discarded as implausible. */

static inline void source_closep(EnergySource **s) {
        if (*s)
                source_close(*s);
}

/* For drop_domain implementations: remove element i of an array of n
 * elements of size sz (memmove). */
void source_array_remove(void *base, size_t n, size_t sz, size_t i);

/* Close every source of a NULL-terminated array from source_select() and free
 * the array. NULL-safe; returns NULL. */
EnergySource **source_close_all(EnergySource **list);

/* Whether one of the sources has a psys domain (argument of
 * domain_counts_in_host_total()). */
bool sources_have_psys(EnergySource *const *list, size_t n);

/* The human table of `jouled --probe`: every source, usable or not and why,
 * and which source feeds each domain (estimated ones marked). Says plainly
 * when only the model is in use. Does not log. */
void source_probe_print(FILE *f, const SourceProbe *probes, size_t n,
                        EnergySource **opened, size_t n_opened);

/* Model source: the CPU utilisation (0..1) of the last interval read(),
 * -ENODATA before the second read(), -EINVAL if s is not a model source. */
int model_source_last_utilisation(EnergySource *s, double *ret);

/* Like ops->read, at an injected CLOCK_MONOTONIC time (tests use it for exact
 * figures; ops->read passes now_ns(CLOCK_MONOTONIC)). */
int model_source_read_at(EnergySource *s, uint64_t now_ns, uint64_t *ret_uj);
/* Like model_source_read_at(), from a /proc/stat the caller read this
 * interval (jouled reads it once and passes it on): st is its contents, or
 * NULL when reading it failed with stat_error (negative errno). */
int model_source_read_stat(EnergySource *s, const ProcStat *st, int stat_error, uint64_t now_ns, uint64_t *ret_uj);
int rapl_source_read_at(EnergySource *s, uint64_t now_ns, uint64_t *ret_uj);

/* Like ops->read at an injected CLOCK_MONOTONIC time, for the sources that
 * integrate power readings (exact µW × ns arithmetic). */
int hwmon_source_read_at(EnergySource *s, uint64_t now_ns, uint64_t *ret_uj);
int battery_source_read_at(EnergySource *s, uint64_t now_ns, uint64_t *ret_uj);
int nvml_source_read_at(EnergySource *s, uint64_t now_ns, uint64_t *ret_uj);

/* Per-process shares of GPU number gpu (index among the source's GPUs) from
 * nvmlDeviceGetProcessUtilization(): each process's SM utilisation divided by
 * the sum over processes (shares sum to 1; none when the GPU is idle).
 * Samples newer than the previous call for that GPU are used. Returns the
 * number of pairs (≥ 0) with *ret allocated (free()), or negative errno:
 * -EINVAL (not an nvml source, gpu out of range), -EOPNOTSUPP (the driver
 * does not support it), -EIO. */
typedef struct NvmlProcessShare {
        uint32_t pid;
        double share;               /* 0..1 */
} NvmlProcessShare;
int nvml_source_process_shares(EnergySource *s, unsigned gpu, NvmlProcessShare **ret, size_t *ret_n);

/* One process's use of a GPU over the driver's samples since the previous
 * call: the basis its dynamic energy is shared by. The driver samples every
 * process at one fixed period, so Σ smUtil is proportional to the SM time
 * the process used: a process that ran for part of the interval has fewer
 * samples. */
typedef struct NvmlProcessUse {
        uint32_t pid;
        uint64_t sm_util;           /* Σ smUtil (%) over its samples */
        unsigned n_samples;         /* samples with smUtil > 0 */
        uint64_t last_us;           /* its newest sample's timestamp (µs, CLOCK_REALTIME) */
} NvmlProcessUse;
/* Every process that used GPU number gpu (index among the source's GPUs,
 * the same as its domain index) since the previous call (or since the source
 * opened); samples with smUtil 0 are left out. When no sample at all came
 * since the previous call, the last uses that had samples are returned again
 * for up to 2 s after them (the driver samples once per period of up to 1 s:
 * an interval may fall between two samples; a sample of 0 % ends that). Returns the number of
 * processes (≥ 0) with *ret allocated (free()), or negative errno: -EINVAL
 * (not an nvml source, gpu out of range), -EOPNOTSUPP (the driver does not
 * report it), -EIO, -ENOMEM. Logs (once until it works again) when the
 * driver does not report it. Shares the "previous call" with
 * nvml_source_process_shares(): use one or the other. */
int nvml_source_process_use(EnergySource *s, unsigned gpu, NvmlProcessUse **ret, size_t *ret_n);
/* The same at an injected CLOCK_MONOTONIC time (tests). */
int nvml_source_process_use_at(EnergySource *s, unsigned gpu, uint64_t now_ns, NvmlProcessUse **ret, size_t *ret_n);

/* Exact conversion of a perf power PMU count to µJ given the event's .scale
 * string (e.g. "2.3283064365386962890625e-10", in joules per count): the
 * scale is parsed as an exact decimal fraction and reduced; on success
 * *ret_num / *ret_den is µJ per count (both < 2^64). Returns 0 or -EINVAL. */
int perf_scale_parse(const char *scale, uint64_t *ret_num, uint64_t *ret_den);

/* Intel server CPUs whose DRAM RAPL domain uses the fixed 2^-16 J unit
 * instead of MSR_RAPL_POWER_UNIT's (family 6 model numbers). */
bool msr_intel_dram_fixed_unit(unsigned family, unsigned model);

/* The model's CPU table: the entry matching a /proc/cpuinfo model name, or
 * NULL (generic defaults). */
typedef struct ModelCpu {
        const char *match;          /* substring of "model name" */
        unsigned tdp_w;             /* per socket */
        unsigned threads;           /* hardware threads per socket */
        const char *source;         /* public source of the figures */
} ModelCpu;
const ModelCpu *model_cpu_lookup(const char *model_name);
