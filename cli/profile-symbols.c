/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Address → function name for user and kernel frames (see profile-symbols.h). */

#include <assert.h>
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "hashmap.h"
#include "profile-symbols.h"
#include "util.h"

typedef struct Mapping {
        uint64_t start, end, pgoff;
        char *path;                 /* NULL: anonymous (JIT code, vdso without file) */
} Mapping;

typedef struct Process {
        uint32_t tgid;
        char comm[32];
        Mapping *maps;
        size_t n_maps;
        bool captured;              /* maps are its own (not inherited) */
        bool have_maps;
        bool jit_loaded;
        struct JitSym *jit;
        size_t n_jit;
} Process;

typedef struct JitSym {
        uint64_t start, size;
        char *name;
} JitSym;

typedef struct Module {
        char *path;
        Dwfl *dwfl;
        Dwfl_Module *mod;
        GElf_Phdr *loads;           /* PT_LOAD headers: file offset → ELF address */
        size_t n_loads;
        bool failed;
} Module;

typedef struct KernelSym {
        uint64_t addr;
        char *name;
} KernelSym;

struct Symbolizer {
        char *proc_root, *tmp_root;
        Hashmap *procs;             /* tgid → Process */
        Module *modules;
        size_t n_modules;
        KernelSym *ksyms;
        size_t n_ksyms;
        bool ksyms_loaded;
        SymbolizerStats stats;
};

static void mappings_free(Mapping *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(m[i].path);
        free(m);
}

static void process_free(Process *p) {
        if (!p)
                return;
        mappings_free(p->maps, p->n_maps);
        for (size_t i = 0; i < p->n_jit; i++)
                free(p->jit[i].name);
        free(p->jit);
        free(p);
}

Symbolizer *symbolizer_free(Symbolizer *s) {
        size_t state = 0;
        HashKey k;
        void *v;

        if (!s)
                return NULL;
        while (s->procs && hashmap_iterate(s->procs, &state, &k, &v))
                process_free(v);
        hashmap_free(s->procs);
        for (size_t i = 0; i < s->n_modules; i++) {
                if (s->modules[i].dwfl)
                        dwfl_end(s->modules[i].dwfl);
                free(s->modules[i].loads);
                free(s->modules[i].path);
        }
        free(s->modules);
        for (size_t i = 0; i < s->n_ksyms; i++)
                free(s->ksyms[i].name);
        free(s->ksyms);
        free(s->proc_root);
        free(s->tmp_root);
        free(s);
        return NULL;
}

int symbolizer_new(const char *proc_root, const char *tmp_root, Symbolizer **ret) {
        Symbolizer *s = calloc(1, sizeof(Symbolizer));

        assert(ret);
        if (!s)
                return -ENOMEM;
        s->proc_root = strdup(proc_root ?: "/proc");
        s->tmp_root = strdup(tmp_root ?: "/tmp");
        s->procs = hashmap_new();
        if (!s->proc_root || !s->tmp_root || !s->procs) {
                symbolizer_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static Process *process_get(Symbolizer *s, uint32_t tgid, bool create) {
        Process *p = hashmap_get(s->procs, (HashKey) { tgid, 0 });

        if (p || !create)
                return p;
        p = calloc(1, sizeof(Process));
        if (!p)
                return NULL;
        p->tgid = tgid;
        if (hashmap_put(s->procs, (HashKey) { tgid, 0 }, p) < 0) {
                free(p);
                return NULL;
        }
        s->stats.processes++;
        return p;
}

/* One line of /proc/PID/maps: executable mappings only. 1 kept, 0 skipped. */
static int parse_maps_line(char *line, Mapping *ret) {
        unsigned long long start, end, off;
        char perms[8];
        int consumed = 0;
        char *path;

        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &consumed) < 4 || consumed == 0)
                return 0;
        if (strlen(perms) < 3 || perms[2] != 'x')
                return 0;
        path = line + consumed;
        path[strcspn(path, "\n")] = 0;
        if (endswith(path, " (deleted)"))
                path[strlen(path) - strlen(" (deleted)")] = 0;
        *ret = (Mapping) { .start = start, .end = end, .pgoff = off };
        if (path[0] == '/' || path[0] == '[') {
                ret->path = strdup(path);
                if (!ret->path)
                        return -ENOMEM;
        }
        return 1;
}

int symbolizer_capture(Symbolizer *s, uint32_t tgid) {
        char path[512], line[4096];
        _cleanup_fclose_ FILE *f = NULL;
        Mapping *maps = NULL;
        size_t n = 0, cap = 0;
        Process *p;
        int r;

        snprintf(path, sizeof(path), "%s/%" PRIu32 "/maps", s->proc_root, tgid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (fgets(line, sizeof(line), f)) {
                Mapping m;
                r = parse_maps_line(line, &m);
                if (r < 0) {
                        mappings_free(maps, n);
                        return r;
                }
                if (r == 0)
                        continue;
                if (n == cap) {
                        size_t c = cap ? cap * 2 : 32;
                        Mapping *a = reallocarray(maps, c, sizeof(Mapping));
                        if (!a) {
                                free(m.path);
                                mappings_free(maps, n);
                                return -ENOMEM;
                        }
                        maps = a;
                        cap = c;
                }
                maps[n++] = m;
        }
        if (n == 0) {   /* gone between open and read (exit), or a kernel thread */
                free(maps);
                return -ESRCH;
        }
        p = process_get(s, tgid, true);
        if (!p) {
                mappings_free(maps, n);
                return -ENOMEM;
        }
        mappings_free(p->maps, p->n_maps);
        p->maps = maps;
        p->n_maps = n;
        p->captured = p->have_maps = true;

        snprintf(path, sizeof(path), "%s/%" PRIu32 "/comm", s->proc_root, tgid);
        _cleanup_fclose_ FILE *c = fopen(path, "re");
        if (c && fgets(line, sizeof(line), c)) {
                line[strcspn(line, "\n")] = 0;
                strscpy(p->comm, sizeof(p->comm), line);
        }
        return 0;
}

int symbolizer_fork(Symbolizer *s, uint32_t tgid, uint32_t parent) {
        Process *pp = process_get(s, parent, false), *p;

        p = process_get(s, tgid, true);
        if (!p)
                return -ENOMEM;
        if (p->have_maps || !pp || !pp->have_maps)
                return 0;
        p->maps = calloc(pp->n_maps, sizeof(Mapping));
        if (!p->maps)
                return -ENOMEM;
        for (size_t i = 0; i < pp->n_maps; i++) {
                p->maps[i] = pp->maps[i];
                p->maps[i].path = pp->maps[i].path ? strdup(pp->maps[i].path) : NULL;
                p->n_maps++;
                if (pp->maps[i].path && !p->maps[i].path)
                        return -ENOMEM;
        }
        p->have_maps = true;
        if (!p->comm[0])
                strscpy(p->comm, sizeof(p->comm), pp->comm);
        return 0;
}

int symbolizer_set_comm(Symbolizer *s, uint32_t tgid, const char *comm) {
        Process *p = process_get(s, tgid, true);

        if (!p)
                return -ENOMEM;
        strscpy(p->comm, sizeof(p->comm), comm);
        return 0;
}

int symbolizer_has_maps(Symbolizer *s, uint32_t tgid) {
        Process *p = process_get(s, tgid, false);
        return p && p->captured;
}

const char *symbolizer_comm(Symbolizer *s, uint32_t tgid) {
        Process *p = process_get(s, tgid, true);
        static char buf[32];

        if (p && p->comm[0])
                return p->comm;
        snprintf(buf, sizeof(buf), "[pid %" PRIu32 "]", tgid);
        return buf;
}

/* ---- ELF files ---------------------------------------------------------- */

static const Dwfl_Callbacks dwfl_callbacks = {
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
};

static Module *module_get(Symbolizer *s, const char *path) {
        Module *m;
        GElf_Addr bias;
        Elf *elf;
        size_t n_ph;

        for (size_t i = 0; i < s->n_modules; i++)
                if (strcmp(s->modules[i].path, path) == 0)
                        return &s->modules[i];
        m = reallocarray(s->modules, s->n_modules + 1, sizeof(Module));
        if (!m)
                return NULL;
        s->modules = m;
        m = &s->modules[s->n_modules];
        *m = (Module) { .path = strdup(path) };
        if (!m->path)
                return NULL;
        s->n_modules++;

        m->failed = true;
        if (path[0] != '/')
                return m;
        m->dwfl = dwfl_begin(&dwfl_callbacks);
        if (!m->dwfl)
                return m;
        dwfl_report_begin(m->dwfl);
        /* Base 0, p_vaddr added: module addresses are the ELF's own. */
        m->mod = dwfl_report_elf(m->dwfl, path, path, -1, 0, true);
        dwfl_report_end(m->dwfl, NULL, NULL);
        if (!m->mod)
                return m;
        elf = dwfl_module_getelf(m->mod, &bias);
        if (!elf || elf_getphdrnum(elf, &n_ph) < 0)
                return m;
        m->loads = calloc(MAX(n_ph, (size_t) 1), sizeof(GElf_Phdr));
        if (!m->loads)
                return m;
        for (size_t i = 0; i < n_ph; i++) {
                GElf_Phdr ph;
                if (gelf_getphdr(elf, (int) i, &ph) && ph.p_type == PT_LOAD)
                        m->loads[m->n_loads++] = ph;
        }
        m->failed = m->n_loads == 0;
        return m;
}

/* C++ and Rust (legacy mangling) names, through libstdc++'s demangler when
 * it is installed (looked up at run time: joulectl does not link C++). */
typedef char *(*DemangleFn)(const char *mangled, char *out, size_t *len, int *status);

static char *demangle(const char *name) {
        static DemangleFn fn;
        static bool tried;
        int status = -1;
        char *r;

        if (strncmp(name, "_Z", 2) != 0)
                return NULL;
        if (!tried) {
                void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
                tried = true;
                if (h)
                        fn = (DemangleFn) dlsym(h, "__cxa_demangle");
        }
        if (!fn)
                return NULL;
        r = fn(name, NULL, NULL, &status);
        if (status != 0) {
                free(r);
                return NULL;
        }
        return r;
}

/* Names in folded stacks: ';' separates frames, control bytes would break
 * the lines. */
static void name_append(char *buf, size_t size, const char *name) {
        _cleanup_free_ char *demangled = demangle(name);
        size_t n = strlen(buf);

        if (demangled)
                name = demangled;

        if (n > 0 && n + 1 < size)
                buf[n++] = ';';
        for (; *name && n + 1 < size; name++)
                buf[n++] = *name == ';' ? ':' : (unsigned char) *name < 0x20 ? '_' : *name;
        buf[n] = 0;
}

/* The function containing file offset off of the module, and the functions
 * inlined into it at that address (DWARF, where present), outermost first,
 * ';'-separated into buf. false when no symbol covers it. */
static bool module_symbol(Module *m, uint64_t off, char *buf, size_t size) {
        for (size_t i = 0; i < m->n_loads; i++) {
                const GElf_Phdr *ph = &m->loads[i];
                GElf_Addr addr = off - ph->p_offset + ph->p_vaddr, bias = 0;
                GElf_Off sym_off;
                GElf_Sym sym;
                Dwarf_Die *cu, *scopes = NULL;
                const char *name;
                int n;

                if (off < ph->p_offset || off >= ph->p_offset + ph->p_filesz)
                        continue;
                name = dwfl_module_addrinfo(m->mod, addr, &sym_off, &sym, NULL, NULL, NULL);
                if (!name || !*name)
                        return false;
                buf[0] = 0;
                name_append(buf, size, name);
                cu = dwfl_module_addrdie(m->mod, addr, &bias);
                if (cu && (n = dwarf_getscopes(cu, addr - bias, &scopes)) > 0) {
                        for (int k = n - 1; k >= 0; k--) {
                                Dwarf_Attribute attr;
                                const char *iname;
                                if (dwarf_tag(&scopes[k]) != DW_TAG_inlined_subroutine)
                                        continue;
                                iname = dwarf_formstring(dwarf_attr_integrate(&scopes[k], DW_AT_name, &attr));
                                if (iname)
                                        name_append(buf, size, iname);
                        }
                }
                free(scopes);
                return true;
        }
        return false;
}

/* ---- JIT maps ------------------------------------------------------------ */

static void jit_load(Symbolizer *s, Process *p) {
        char path[512], line[4096];
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0;

        p->jit_loaded = true;
        snprintf(path, sizeof(path), "%s/perf-%" PRIu32 ".map", s->tmp_root, p->tgid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long start, size;
                int consumed = 0;
                if (sscanf(line, "%llx %llx %n", &start, &size, &consumed) < 2 || consumed == 0)
                        continue;
                line[strcspn(line, "\n")] = 0;
                if (p->n_jit == cap) {
                        size_t c = cap ? cap * 2 : 256;
                        JitSym *a = reallocarray(p->jit, c, sizeof(JitSym));
                        if (!a)
                                return;
                        p->jit = a;
                        cap = c;
                }
                p->jit[p->n_jit].name = strdup(line + consumed);
                if (!p->jit[p->n_jit].name)
                        return;
                p->jit[p->n_jit].start = start;
                p->jit[p->n_jit].size = size;
                p->n_jit++;
        }
}

static const char *jit_symbol(Symbolizer *s, Process *p, uint64_t ip) {
        if (!p->jit_loaded)
                jit_load(s, p);
        /* Later lines win: JIT code is recompiled into the same addresses. */
        for (size_t i = p->n_jit; i > 0; i--)
                if (ip >= p->jit[i - 1].start && ip - p->jit[i - 1].start < p->jit[i - 1].size)
                        return p->jit[i - 1].name;
        return NULL;
}

/* ---- Frames -------------------------------------------------------------- */

static const char *base_name(const char *path) {
        const char *b = strrchr(path, '/');
        return b ? b + 1 : path;
}

void symbolizer_user(Symbolizer *s, uint32_t tgid, uint64_t ip, int leaf, char *buf, size_t size) {
        Process *p = process_get(s, tgid, false);
        uint64_t look = leaf || ip == 0 ? ip : ip - 1;
        const Mapping *m = NULL;
        const char *name;
        char tmp[1024];

        s->stats.frames++;
        if (p && p->have_maps)
                for (size_t i = 0; i < p->n_maps; i++)
                        if (look >= p->maps[i].start && look < p->maps[i].end) {
                                m = &p->maps[i];
                                break;
                        }
        buf[0] = 0;
        if (p && (!m || !m->path || m->path[0] != '/') && (name = jit_symbol(s, p, look))) {
                name_append(buf, size, name);
                return;
        }
        if (m && m->path && m->path[0] == '/') {
                Module *mod = module_get(s, m->path);
                uint64_t off = look - m->start + m->pgoff;
                if (mod && !mod->failed && module_symbol(mod, off, buf, size))
                        return;
                s->stats.unknown++;
                snprintf(tmp, sizeof(tmp), "[unknown] %s+0x%" PRIx64, base_name(m->path), off);
                name_append(buf, size, tmp);
                return;
        }
        s->stats.unknown++;
        if (m && m->path)
                snprintf(tmp, sizeof(tmp), "[unknown] %s+0x%" PRIx64, m->path, look - m->start);
        else if (m)
                snprintf(tmp, sizeof(tmp), "[unknown] [anon]+0x%" PRIx64, look - m->start);
        else
                snprintf(tmp, sizeof(tmp), "[unknown] 0x%" PRIx64, ip);
        name_append(buf, size, tmp);
}

static int ksym_cmp(const void *a, const void *b) {
        const KernelSym *x = a, *y = b;
        return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void ksyms_load(Symbolizer *s) {
        char path[512], line[1024];
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0;

        s->ksyms_loaded = true;
        snprintf(path, sizeof(path), "%s/kallsyms", s->proc_root);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long addr;
                char type, name[256];
                if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || addr == 0)
                        continue;
                if (type != 't' && type != 'T' && type != 'w' && type != 'W')
                        continue;
                if (s->n_ksyms == cap) {
                        size_t c = cap ? cap * 2 : 65536;
                        KernelSym *a = reallocarray(s->ksyms, c, sizeof(KernelSym));
                        if (!a)
                                break;
                        s->ksyms = a;
                        cap = c;
                }
                s->ksyms[s->n_ksyms].name = strdup(name);
                if (!s->ksyms[s->n_ksyms].name)
                        break;
                s->ksyms[s->n_ksyms++].addr = addr;
        }
        if (s->n_ksyms > 0)
                qsort(s->ksyms, s->n_ksyms, sizeof(KernelSym), ksym_cmp);
}

void symbolizer_kernel(Symbolizer *s, uint64_t ip, int leaf, char *buf, size_t size) {
        uint64_t look = leaf || ip == 0 ? ip : ip - 1;
        size_t lo = 0, hi;

        s->stats.frames++;
        if (!s->ksyms_loaded)
                ksyms_load(s);
        hi = s->n_ksyms;
        while (lo < hi) {   /* first symbol above look */
                size_t mid = lo + (hi - lo) / 2;
                if (s->ksyms[mid].addr <= look)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0) {
                s->stats.unknown++;
                snprintf(buf, size, "[unknown] [kernel]+0x%" PRIx64, ip);
                return;
        }
        buf[0] = 0;
        name_append(buf, size, s->ksyms[lo - 1].name);
        strncat(buf, "_[k]", size - strlen(buf) - 1);
}

void symbolizer_stats(const Symbolizer *s, SymbolizerStats *ret) {
        size_t state = 0;
        HashKey k;
        void *v;

        *ret = s->stats;
        ret->processes_without_maps = 0;
        while (hashmap_iterate(s->procs, &state, &k, &v))
                if (!((Process *) v)->have_maps)
                        ret->processes_without_maps++;
}
