/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
} SourceContext;

typedef struct EnergySource EnergySource;

typedef struct EnergySourceOps {
        const char *name;           /* "rapl", "model", ... */
        bool estimated;
        /* Is it usable? Fills a one-line reason into reason (always, also when usable). */
        SourceStatus (*probe)(const SourceContext *ctx, char *reason, size_t reason_size);
        int (*open)(const SourceContext *ctx, EnergySource **ret);
        /* Cumulative energy since open, in micro-joules, one per domain, wraps
         * already unfolded. A domain that could not be read this time is set to
         * UINT64_MAX (and logged by the source). Returns 0 or negative errno. */
        int (*read)(EnergySource *s, uint64_t *ret_uj);
        void (*close)(EnergySource *s);
} EnergySourceOps;

struct EnergySource {
        const EnergySourceOps *ops;
        size_t n_domains;
        EnergyDomain *domains;      /* owned by the source */
        void *userdata;             /* the module's own state */
};

#define ENERGY_READ_FAILED UINT64_MAX

extern const EnergySourceOps rapl_source_ops;
extern const EnergySourceOps model_source_ops;

/* Every known source, in the order `--source auto` tries them. */
const EnergySourceOps *const *source_all(size_t *ret_n);
const EnergySourceOps *source_find(const char *name);

const char *source_status_to_string(SourceStatus s);
const char *domain_kind_to_string(DomainKind k);
DomainKind domain_kind_from_name(const char *domain_name);

/* Whether this domain is part of the host total (no double counting):
 * psys when present; otherwise package-N and dram-N; gpu-N always; core and
 * uncore never (they are inside their package). */
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
 * Returns 0 with opened sources in *ret (NULL-terminated array), or negative errno. */
int source_select(const SourceContext *ctx, const char *spec,
                  SourceProbe *probes, size_t n_probes,
                  EnergySource ***ret, size_t *ret_n);

void source_close(EnergySource *s);
