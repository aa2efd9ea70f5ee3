/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RAPL energy counters read directly from the model-specific registers
 * through the msr driver: DEV_ROOT/cpu/N/msr, where pread(fd, 8, ADDRESS)
 * returns the 64-bit register ADDRESS of CPU N (needs CAP_SYS_RAWIO and
 * `modprobe msr`).
 *
 * Intel (vendor_id GenuineIntel; Intel SDM vol. 4, "MSRs in processors based
 * on ... RAPL", and Linux drivers/powercap/intel_rapl_common.c):
 *   MSR_RAPL_POWER_UNIT    0x606  bits 12:8 ESU: one energy unit = 2^-ESU J
 *   MSR_PKG_ENERGY_STATUS  0x611  package-P
 *   MSR_PP0_ENERGY_STATUS  0x639  core-P
 *   MSR_PP1_ENERGY_STATUS  0x641  uncore-P (client parts: the integrated GPU)
 *   MSR_DRAM_ENERGY_STATUS 0x619  dram-P
 *   MSR_PLATFORM_ENERGY_STATUS 0x64d  psys (Skylake and later clients)
 * DRAM on Haswell-EP and later servers counts in a fixed unit of 2^-16 J
 * (15.3 µJ) whatever MSR_RAPL_POWER_UNIT says (Intel Xeon E5-2600 v3
 * datasheet vol. 2, and the kernel's rapl_defaults_hsw_server): decided by
 * the family 6 model number, see msr_intel_dram_fixed_unit().
 *
 * AMD (AuthenticAMD, HygonGenuine; family 17h and later, AMD PPR "MSRs"):
 *   MSR_AMD_RAPL_POWER_UNIT  0xC0010299  bits 12:8 ESU
 *   MSR_AMD_CORE_ENERGY_STATUS 0xC001029A  per core: summed into core-P
 *   MSR_AMD_PKG_ENERGY_STATUS  0xC001029B  package-P
 *
 * Per package the registers are read on the package's first CPU (from
 * topology); AMD's per-core register once per (package, core_id).
 *
 * The energy status registers are 32-bit counters (bits 31:0). Between two
 * reads the delta is taken modulo 2^32, so one wrap is always unfolded
 * exactly; two wraps cannot be seen. A wrap takes 2^32 units: 65.5 kJ at
 * 2^-16 J (about 65 s at 1 kW), 262 kJ at 2^-14 J; jouled reads every second.
 * The raw units are accumulated per domain and converted once:
 * µJ = floor(units × 10^6 / 2^ESU), exact, no drift.
 *
 * Presence of a domain (as the kernel decides it): the register must be
 * readable; psys and dram must also read non-zero (a counter still at 0 has
 * never counted: PSys is "enabled only if its energy counter is non-zero" in
 * intel_rapl_common.c, and client parts give 0 for DRAM). */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "source.h"
#include "topology.h"
#include "util.h"

#define MSR_RAPL_POWER_UNIT 0x606
#define MSR_PKG_ENERGY_STATUS 0x611
#define MSR_DRAM_ENERGY_STATUS 0x619
#define MSR_PP0_ENERGY_STATUS 0x639
#define MSR_PP1_ENERGY_STATUS 0x641
#define MSR_PLATFORM_ENERGY_STATUS 0x64d
#define MSR_AMD_RAPL_POWER_UNIT UINT64_C(0xC0010299)
#define MSR_AMD_CORE_ENERGY_STATUS UINT64_C(0xC001029A)
#define MSR_AMD_PKG_ENERGY_STATUS UINT64_C(0xC001029B)

#define MSR_DRAM_FIXED_SHIFT 16

typedef enum MsrVendor {
        MSR_VENDOR_INTEL,
        MSR_VENDOR_AMD,
} MsrVendor;

typedef struct MsrCounter {
        int fd;                     /* owned by the Msr cpu table */
        uint64_t addr;
        size_t domain;
        bool have_prev;
        uint32_t prev;
        uint64_t units;             /* accumulated since the baseline */
} MsrCounter;

typedef struct MsrDomainState {
        unsigned shift;             /* energy unit 2^-shift J */
        bool failing;
} MsrDomainState;

typedef struct Msr {
        int *fds;                   /* per opened CPU */
        size_t n_fds;
        MsrCounter *counters;
        size_t n_counters;
        MsrDomainState *state;      /* per domain */
} Msr;

/* Family 6 models whose DRAM domain has the fixed 2^-16 J unit: the server
 * parts the kernel gives rapl_defaults_hsw_server / spr_server
 * (intel_rapl_common.c): Haswell-X 0x3F, Broadwell-X 0x4F, Broadwell-D 0x56,
 * Skylake-X (incl. Cascade/Cooper Lake) 0x55, Xeon Phi KNL 0x57 / KNM 0x85,
 * Ice Lake-X 0x6A, Ice Lake-D 0x6C, Sapphire Rapids 0x8F, Emerald Rapids
 * 0xCF, Granite Rapids 0xAD/0xAE, Sierra Forest 0xAF, Grand Ridge 0xB6. */
bool msr_intel_dram_fixed_unit(unsigned family, unsigned model) {
        static const unsigned models[] = { 0x3F, 0x4F, 0x56, 0x55, 0x57, 0x85, 0x6A, 0x6C,
                                           0x8F, 0xCF, 0xAD, 0xAE, 0xAF, 0xB6 };
        if (family != 6)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(models); i++)
                if (models[i] == model)
                        return true;
        return false;
}

static const char *dev_root_or_default(const SourceContext *ctx) {
        return ctx && ctx->dev_root ? ctx->dev_root : "/dev";
}

static int read_vendor(const SourceContext *ctx, MsrVendor *ret, unsigned *ret_family, unsigned *ret_model,
                       char *vendor, size_t vendor_size) {
        _cleanup_free_ char *v = NULL, *fam = NULL, *mod = NULL;
        uint64_t f = 0, m = 0;
        int r;

        assert(ret);
        assert(ret_family);
        assert(ret_model);
        assert(vendor);

        r = cpuinfo_field(ctx ? ctx->proc_root : NULL, "vendor_id", &v);
        if (r < 0)
                return r;
        strscpy(vendor, vendor_size, v);
        if (cpuinfo_field(ctx ? ctx->proc_root : NULL, "cpu family", &fam) >= 0)
                (void) parse_u64(fam, &f);
        if (cpuinfo_field(ctx ? ctx->proc_root : NULL, "model", &mod) >= 0)
                (void) parse_u64(mod, &m);
        *ret_family = (unsigned) f;
        *ret_model = (unsigned) m;
        if (streq_ptr(v, "GenuineIntel"))
                *ret = MSR_VENDOR_INTEL;
        else if (streq_ptr(v, "AuthenticAMD") || streq_ptr(v, "HygonGenuine"))
                *ret = MSR_VENDOR_AMD;
        else
                return -EOPNOTSUPP;
        return 0;
}

static int msr_path(const SourceContext *ctx, int cpu, char **ret) {
        assert(ret);

        return asprintf(ret, "%s/cpu/%d/msr", dev_root_or_default(ctx), cpu) < 0 ? -ENOMEM : 0;
}

/* 0, -errno, or -ENODATA when the register is not there (EIO from the
 * driver, or beyond the end of a fixture file). */
static int msr_read(int fd, uint64_t addr, uint64_t *ret) {
        uint8_t b[8];
        ssize_t n;

        assert(ret);

        n = pread(fd, b, sizeof(b), (off_t) addr);
        if (n < 0)
                return errno == EIO ? -ENODATA : -errno;
        if (n != (ssize_t) sizeof(b))
                return -ENODATA;
        *ret = 0;
        for (int i = 7; i >= 0; i--)
                *ret = (*ret << 8) | b[i];
        return 0;
}

typedef struct MsrScan {
        EnergyDomain *domains;
        MsrDomainState *state;
        size_t n_domains;
        MsrCounter *counters;
        size_t n_counters;
        int *fds;
        size_t n_fds;
        char vendor[64];
} MsrScan;

static void msr_scan_done(MsrScan *s) {
        assert(s);

        for (size_t i = 0; i < s->n_fds; i++)
                if (s->fds[i] >= 0)
                        close(s->fds[i]);
        free(s->fds);
        free(s->counters);
        free(s->state);
        free(s->domains);
        *s = (MsrScan) {};
}

static int msr_scan_fd(MsrScan *s, int fd) {
        int *f;

        assert(s);

        f = reallocarray(s->fds, s->n_fds + 1, sizeof(int));
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        s->fds = f;
        s->fds[s->n_fds++] = fd;
        return 0;
}

/* Add a counter, creating its domain (name) when new. */
static int msr_scan_counter(MsrScan *s, const char *name, DomainKind kind, int pkg, unsigned shift, int fd,
                            uint64_t addr) {
        size_t i;
        MsrCounter *c;

        assert(s);
        assert(name);

        for (i = 0; i < s->n_domains; i++)
                if (strcmp(s->domains[i].name, name) == 0)
                        break;
        if (i == s->n_domains) {
                EnergyDomain *d = reallocarray(s->domains, s->n_domains + 1, sizeof(EnergyDomain));
                MsrDomainState *st;
                if (!d)
                        return -ENOMEM;
                s->domains = d;
                st = reallocarray(s->state, s->n_domains + 1, sizeof(MsrDomainState));
                if (!st)
                        return -ENOMEM;
                s->state = st;
                s->domains[i] = (EnergyDomain) { .kind = kind, .package = pkg, .max_power_w = 0,
                                                 .whole_system = kind == DOMAIN_PSYS };
                strscpy(s->domains[i].name, sizeof(s->domains[i].name), name);
                s->state[i] = (MsrDomainState) { .shift = shift };
                s->n_domains++;
        }
        c = reallocarray(s->counters, s->n_counters + 1, sizeof(MsrCounter));
        if (!c)
                return -ENOMEM;
        s->counters = c;
        s->counters[s->n_counters++] = (MsrCounter) { .fd = fd, .addr = addr, .domain = i };
        return 0;
}

/* Returns 0 with the domains, or -errno with reason filled: -ENOENT (no msr
 * device), -EACCES/-EPERM, -EOPNOTSUPP (vendor, no RAPL), -ENOMEM. */
static int msr_scan(const SourceContext *ctx, MsrScan *ret, char *reason, size_t reason_size) {
        _cleanup_(msr_scan_done) MsrScan s = {};
        _cleanup_(topology_done) Topology topo = {};
        MsrVendor vendor;
        unsigned family = 0, model = 0;
        int r;

        assert(ret);
        assert(reason);

        r = read_vendor(ctx, &vendor, &family, &model, s.vendor, sizeof(s.vendor));
        if (r == -ENOMEM)
                return r;
        if (r == -EOPNOTSUPP) {
                snprintf(reason, reason_size, "CPU vendor \"%s\" has no known RAPL MSRs (Intel and AMD only)", s.vendor);
                return r;
        }
        if (r < 0) {
                snprintf(reason, reason_size, "cannot tell the CPU vendor: no vendor_id in %s/cpuinfo",
                         ctx && ctx->proc_root ? ctx->proc_root : "/proc");
                return -EOPNOTSUPP;
        }
        r = topology_read_full(ctx ? ctx->sys_root : NULL, ctx ? ctx->topology : NULL, &topo);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(reason, reason_size, "no CPU topology under %s/devices/system/cpu (physical_package_id)",
                         ctx && ctx->sys_root ? ctx->sys_root : "/sys");
                return -EOPNOTSUPP;
        }

        for (size_t pi = 0; pi < topo.n_packages; pi++) {
                int pkg = topo.packages[pi], cpu = topology_package_first_cpu(&topo, pkg), fd;
                _cleanup_free_ char *path = NULL;
                uint64_t unit, v;
                unsigned shift;
                char name[DOMAIN_NAME_MAX];

                r = msr_path(ctx, cpu, &path);
                if (r < 0)
                        return r;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        if (r == -ENOENT)
                                snprintf(reason, reason_size, "no %s (msr driver not loaded? modprobe msr)", path);
                        else if (r == -EACCES || r == -EPERM)
                                snprintf(reason, reason_size, "cannot open %s: %s (needs root with CAP_SYS_RAWIO)",
                                         path, strerror(-r));
                        else
                                snprintf(reason, reason_size, "cannot open %s: %s", path, strerror(-r));
                        return r;
                }
                r = msr_scan_fd(&s, fd);
                if (r < 0)
                        return r;

                r = msr_read(fd, vendor == MSR_VENDOR_INTEL ? MSR_RAPL_POWER_UNIT : MSR_AMD_RAPL_POWER_UNIT, &unit);
                if (r < 0) {
                        snprintf(reason, reason_size, "%s: no RAPL power unit register (%s): %s", path,
                                 vendor == MSR_VENDOR_INTEL ? "0x606" : "0xC0010299",
                                 r == -ENODATA ? "not supported by this CPU" : strerror(-r));
                        return r == -EACCES || r == -EPERM ? r : -EOPNOTSUPP;
                }
                shift = (unsigned) ((unit >> 8) & 0x1f);

                if (vendor == MSR_VENDOR_INTEL) {
                        static const struct {
                                uint64_t addr;
                                const char *prefix;
                                DomainKind kind;
                                bool need_nonzero;
                        } regs[] = {
                                { MSR_PKG_ENERGY_STATUS, "package", DOMAIN_PACKAGE, false },
                                { MSR_PP0_ENERGY_STATUS, "core", DOMAIN_CORE, false },
                                { MSR_PP1_ENERGY_STATUS, "uncore", DOMAIN_UNCORE, false },
                                { MSR_DRAM_ENERGY_STATUS, "dram", DOMAIN_DRAM, true },
                                { MSR_PLATFORM_ENERGY_STATUS, "psys", DOMAIN_PSYS, true },
                        };
                        for (size_t k = 0; k < ELEMENTSOF(regs); k++) {
                                unsigned sh = shift;
                                if (regs[k].kind == DOMAIN_PSYS && pi > 0)
                                        continue; /* one platform */
                                r = msr_read(fd, regs[k].addr, &v);
                                if (r < 0 || (regs[k].need_nonzero && (v & 0xffffffff) == 0))
                                        continue;
                                if (regs[k].kind == DOMAIN_PSYS)
                                        snprintf(name, sizeof(name), "psys");
                                else
                                        snprintf(name, sizeof(name), "%s-%d", regs[k].prefix, pkg);
                                if (regs[k].kind == DOMAIN_DRAM && msr_intel_dram_fixed_unit(family, model))
                                        sh = MSR_DRAM_FIXED_SHIFT;
                                r = msr_scan_counter(&s, name, regs[k].kind, regs[k].kind == DOMAIN_PSYS ? -1 : pkg,
                                                     sh, fd, regs[k].addr);
                                if (r < 0)
                                        return r;
                        }
                } else {
                        r = msr_read(fd, MSR_AMD_PKG_ENERGY_STATUS, &v);
                        if (r >= 0) {
                                snprintf(name, sizeof(name), "package-%d", pkg);
                                r = msr_scan_counter(&s, name, DOMAIN_PACKAGE, pkg, shift, fd, MSR_AMD_PKG_ENERGY_STATUS);
                                if (r < 0)
                                        return r;
                        }
                        /* One per-core register per (package, core_id). */
                        for (size_t ci = 0; ci < topo.n_cpus; ci++) {
                                const TopologyCpu *c = &topo.cpus[ci];
                                _cleanup_free_ char *cpath = NULL;
                                bool dup = false;
                                int cfd;

                                if (c->package != pkg)
                                        continue;
                                for (size_t cj = 0; cj < ci && c->core >= 0; cj++)
                                        if (topo.cpus[cj].package == pkg && topo.cpus[cj].core == c->core)
                                                dup = true;
                                if (dup)
                                        continue;
                                if (c->cpu == cpu)
                                        cfd = fd;
                                else {
                                        r = msr_path(ctx, c->cpu, &cpath);
                                        if (r < 0)
                                                return r;
                                        cfd = open(cpath, O_RDONLY | O_CLOEXEC);
                                        if (cfd < 0)
                                                continue;
                                        r = msr_scan_fd(&s, cfd);
                                        if (r < 0)
                                                return r;
                                }
                                if (msr_read(cfd, MSR_AMD_CORE_ENERGY_STATUS, &v) < 0)
                                        continue;
                                snprintf(name, sizeof(name), "core-%d", pkg);
                                r = msr_scan_counter(&s, name, DOMAIN_CORE, pkg, shift, cfd, MSR_AMD_CORE_ENERGY_STATUS);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        if (s.n_domains == 0) {
                snprintf(reason, reason_size, "%s CPU: no readable RAPL energy status register under %s/cpu",
                         s.vendor, dev_root_or_default(ctx));
                return -EOPNOTSUPP;
        }
        *ret = s;
        s = (MsrScan) {};
        return 0;
}

static SourceStatus msr_probe(const SourceContext *ctx, char *reason, size_t reason_size) {
        _cleanup_(msr_scan_done) MsrScan s = {};
        size_t off;
        int r;

        assert(reason);

        r = msr_scan(ctx, &s, reason, reason_size);
        if (r < 0)
                return source_status_from_scan(r, "MSRs", reason, reason_size);
        off = (size_t) snprintf(reason, reason_size, "%s RAPL MSRs under %s/cpu:", s.vendor, dev_root_or_default(ctx));
        for (size_t i = 0; i < s.n_domains && off < reason_size; i++)
                off += (size_t) snprintf(reason + off, reason_size - off, " %s", s.domains[i].name);
        return SOURCE_USABLE;
}

static void msr_close(EnergySource *s) {
        Msr *m;

        if (!s)
                return;
        m = s->userdata;
        if (m) {
                for (size_t i = 0; i < m->n_fds; i++)
                        if (m->fds[i] >= 0)
                                close(m->fds[i]);
                free(m->fds);
                free(m->counters);
                free(m->state);
                free(m);
        }
        free(s->domains);
        free(s);
}

static int msr_open(const SourceContext *ctx, char *reason, size_t reason_size, EnergySource **ret) {
        _cleanup_(msr_scan_done) MsrScan scan = {};
        _cleanup_free_ Msr *m = NULL;
        EnergySource *s;
        int r;

        assert(reason);
        assert(ret);

        r = msr_scan(ctx, &scan, reason, reason_size);
        if (r < 0)
                return r;
        m = calloc(1, sizeof(Msr));
        s = calloc(1, sizeof(EnergySource));
        if (!m || !s) {
                free(s);
                return -ENOMEM;
        }
        m->fds = TAKE_PTR(scan.fds);
        m->n_fds = scan.n_fds;
        scan.n_fds = 0;
        m->counters = TAKE_PTR(scan.counters);
        m->n_counters = scan.n_counters;
        m->state = TAKE_PTR(scan.state);
        s->ops = &msr_source_ops;
        s->domains = TAKE_PTR(scan.domains);
        s->n_domains = scan.n_domains;
        s->userdata = TAKE_PTR(m);
        *ret = s;
        return 0;
}

static void msr_drop_domain(EnergySource *s, size_t i) {
        Msr *m;
        size_t k = 0;

        assert(s);

        m = s->userdata;
        if (i >= s->n_domains)
                return;
        /* Its counters go; the fds stay open (shared, closed at close). */
        while (k < m->n_counters) {
                if (m->counters[k].domain == i) {
                        source_array_remove(m->counters, m->n_counters, sizeof(MsrCounter), k);
                        m->n_counters--;
                        continue;
                }
                if (m->counters[k].domain > i)
                        m->counters[k].domain--;
                k++;
        }
        source_array_remove(m->state, s->n_domains, sizeof(MsrDomainState), i);
        source_array_remove(s->domains, s->n_domains, sizeof(EnergyDomain), i);
        s->n_domains--;
}

static int msr_read_all(EnergySource *s, uint64_t *ret_uj) {
        Msr *m;

        if (!s || s->ops != &msr_source_ops || !ret_uj)
                return -EINVAL;
        m = s->userdata;
        for (size_t i = 0; i < s->n_domains; i++)
                ret_uj[i] = 0;

        /* A domain fails as a whole when one of its counters cannot be read. */
        for (size_t k = 0; k < m->n_counters; k++) {
                MsrCounter *c = &m->counters[k];
                uint64_t v;
                int r = msr_read(c->fd, c->addr, &v);
                if (r < 0) {
                        MsrDomainState *st = &m->state[c->domain];
                        if (!st->failing)
                                log_object_errno(LOG_WARNING, r, "msr", s->domains[c->domain].name,
                                                 "MSR domain %s: cannot read register 0x%" PRIx64 ": %m",
                                                 s->domains[c->domain].name, c->addr);
                        st->failing = true;
                        ret_uj[c->domain] = ENERGY_READ_FAILED;
                        continue;
                }
                if (c->have_prev)
                        c->units += (uint32_t) ((uint32_t) v - c->prev); /* modulo 2^32: one wrap unfolded */
                c->prev = (uint32_t) v;
                c->have_prev = true;
        }
        for (size_t i = 0; i < s->n_domains; i++) {
                unsigned __int128 units = 0;
                if (ret_uj[i] == ENERGY_READ_FAILED)
                        continue;
                if (m->state[i].failing) {
                        log_object(LOG_INFO, "msr", s->domains[i].name, "MSR domain %s is readable again.",
                                   s->domains[i].name);
                        m->state[i].failing = false;
                }
                for (size_t k = 0; k < m->n_counters; k++)
                        if (m->counters[k].domain == i)
                                units += m->counters[k].units;
                ret_uj[i] = (uint64_t) ((units * 1000000u) >> m->state[i].shift);
        }
        return 0;
}

const EnergySourceOps msr_source_ops = {
        .name = "msr",
        .estimated = false,
        .probe = msr_probe,
        .open = msr_open,
        .read = msr_read_all,
        .close = msr_close,
        .drop_domain = msr_drop_domain,
};
