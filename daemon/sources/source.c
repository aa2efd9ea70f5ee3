/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The registry of energy sources, their selection (--source) and the
 * --probe table. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "source.h"
#include "string-table.h"
#include "util.h"

/* In the order `--source auto` tries them (docs/sources.md): the CPU's RAPL
 * counters by the best interface first (perf: 64-bit, no wrap; powercap;
 * raw MSRs), then whole-system meters (hwmon, battery), GPUs (additive), the
 * model last. A source whose domains are already measured by an earlier one
 * is not used by auto. */
static const EnergySourceOps *const sources[] = {
        &perf_source_ops,
        &rapl_source_ops,
        &msr_source_ops,
        &hwmon_source_ops,
        &battery_source_ops,
        &nvml_source_ops,
        &model_source_ops,
};

const EnergySourceOps *const *source_all(size_t *ret_n) {
        if (ret_n)
                *ret_n = ELEMENTSOF(sources);
        return sources;
}

const EnergySourceOps *source_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(sources); i++)
                if (strcmp(sources[i]->name, name) == 0)
                        return sources[i];
        return NULL;
}

static const char *const source_status_table[] = {
        [SOURCE_USABLE] = "usable",
        [SOURCE_MISSING] = "missing",
        [SOURCE_PERMISSION] = "permission",
        [SOURCE_UNSUPPORTED] = "unsupported",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(source_status, SourceStatus, SOURCE_STATUS);

static const char *const domain_kind_table[] = {
        [DOMAIN_PACKAGE] = "package",
        [DOMAIN_CORE] = "core",
        [DOMAIN_UNCORE] = "uncore",
        [DOMAIN_DRAM] = "dram",
        [DOMAIN_PSYS] = "psys",
        [DOMAIN_GPU] = "gpu",
        [DOMAIN_BATTERY] = "battery",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(domain_kind, DomainKind, DOMAIN_KIND);

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

DomainKind domain_kind_from_name(const char *name) {
        if (!name)
                return _DOMAIN_KIND_INVALID;
        /* Unnumbered: psys and battery. */
        if (strcmp(name, "psys") == 0)
                return DOMAIN_PSYS;
        if (strcmp(name, "battery") == 0)
                return DOMAIN_BATTERY;
        /* hwmon whole-system meters are of kind psys: "system", "system-N", "psu-N". */
        if (strcmp(name, "system") == 0 || (startswith(name, "system-") && all_digits(name + 7)) ||
            (startswith(name, "psu-") && all_digits(name + 4)))
                return DOMAIN_PSYS;
        /* Numbered: KIND-N. */
        for (DomainKind k = 0; k < _DOMAIN_KIND_MAX; k++) {
                size_t l = strlen(domain_kind_to_string(k));
                if (k == DOMAIN_PSYS)
                        continue;
                if (strncmp(name, domain_kind_to_string(k), l) == 0 && name[l] == '-' && all_digits(name + l + 1))
                        return k;
        }
        return _DOMAIN_KIND_INVALID;
}

bool domain_counts_in_host_total(const EnergyDomain *d, bool host_has_psys) {
        if (!d)
                return false;
        if (d->host_total_decided)
                return d->host_total;
        switch (d->kind) {
        case DOMAIN_PSYS:
                return true;
        case DOMAIN_GPU:
                /* A discrete GPU is outside the CPU packages; a whole-system
                 * meter includes it. */
                return !host_has_psys;
        case DOMAIN_PACKAGE:
        case DOMAIN_DRAM:
                return !host_has_psys;
        case DOMAIN_CORE:
        case DOMAIN_UNCORE:
                return false; /* inside their package */
        case DOMAIN_BATTERY:
                /* The whole machine's discharge: would double count with the
                 * others; left out until the battery source defines its use. */
                return false;
        default:
                return false;
        }
}

bool sources_have_psys(EnergySource *const *list, size_t n) {
        for (size_t i = 0; i < n && list && list[i]; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++)
                        if (list[i]->domains[j].kind == DOMAIN_PSYS)
                                return true;
        return false;
}

void source_close(EnergySource *s) {
        if (!s)
                return;
        if (s->ops && s->ops->close)
                s->ops->close(s);
        else {
                free(s->domains);
                free(s);
        }
}

EnergySource **source_close_all(EnergySource **list) {
        if (!list)
                return NULL;
        for (size_t i = 0; list[i]; i++)
                source_close(list[i]);
        free(list);
        return NULL;
}

static void source_close_allp(EnergySource ***list) {
        source_close_all(*list);
}

/* The level of a whole-system domain, in order of preference as the host
 * total: 1 hwmon meters (ACPI power meter, PSU inputs: the machine at its
 * input, everything included), 2 RAPL psys, 3 battery discharge; 0 when not
 * a whole-system domain. */
static int system_level(const EnergyDomain *d) {
        assert(d);

        if (d->kind == DOMAIN_BATTERY)
                return 3;
        if (d->kind == DOMAIN_PSYS)
                return streq_ptr(d->name, "psys") ? 2 : 1;
        return d->whole_system ? 1 : 0;
}

/* Decide, once for all opened domains, which ones make up the host total
 * (docs/sources.md, "What counts in the host total"). */
static void sources_decide_host_total(EnergySource **list, size_t n) {
        int best = 0;
        bool cpu_measured = false;

        assert(list || n == 0);

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++) {
                        const EnergyDomain *d = &list[i]->domains[j];
                        int l = system_level(d);
                        if (l > 0 && l < 3 && (best == 0 || l < best))
                                best = l;
                        if (d->kind == DOMAIN_PACKAGE || d->kind == DOMAIN_DRAM)
                                cpu_measured = true;
                }
        /* The battery says nothing while on AC: it is the host total only when
         * nothing else measures the CPUs. */
        if (best == 0 && !cpu_measured)
                for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < list[i]->n_domains; j++)
                                if (system_level(&list[i]->domains[j]) == 3)
                                        best = 3;

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++) {
                        EnergyDomain *d = &list[i]->domains[j];
                        int l = system_level(d);

                        if (best > 0)
                                d->host_total = l == best;
                        else
                                d->host_total = d->kind == DOMAIN_PACKAGE || d->kind == DOMAIN_DRAM ||
                                                d->kind == DOMAIN_GPU;
                        d->host_total_decided = true;
                }
}

/* Does s have a domain of the same name as one of the sources in list?
 * Returns that domain's name, and the other source in *ret_other. */
static const char *sources_overlap(EnergySource *const *list, size_t n, const EnergySource *s,
                                   const EnergySource **ret_other) {
        assert(s);
        assert(ret_other);

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < list[i]->n_domains; j++)
                        for (size_t k = 0; k < s->n_domains; k++)
                                if (strcmp(list[i]->domains[j].name, s->domains[k].name) == 0) {
                                        *ret_other = list[i];
                                        return s->domains[k].name;
                                }
        return NULL;
}

static void accepted_names(char *buf, size_t size) {
        size_t off;

        assert(buf);

        off = (size_t) snprintf(buf, size, "auto");
        for (size_t i = 0; i < ELEMENTSOF(sources) && off < size; i++)
                off += (size_t) snprintf(buf + off, size - off, ", %s", sources[i]->name);
}

int source_select(const SourceContext *ctx, const char *spec,
                  SourceProbe *probes, size_t n_probes,
                  EnergySource ***ret, size_t *ret_n) {
        SourceProbe all[ELEMENTSOF(sources)] = {};
        _cleanup_(source_close_allp) EnergySource **opened = NULL;
        bool wanted[ELEMENTSOF(sources)] = {};
        _cleanup_free_ char *copy = NULL;
        char reason[sizeof(all[0].reason)];
        size_t n_opened = 0;
        bool is_auto;
        int r;

        assert(ret);

        *ret = NULL;
        if (ret_n)
                *ret_n = 0;
        if (!spec || !*spec)
                spec = "auto";

        /* Probe everything, for --probe and `joulectl status` (also when the spec
         * turns out to be bad: the caller may print the table anyway). */
        for (size_t i = 0; i < ELEMENTSOF(sources); i++) {
                all[i].name = sources[i]->name;
                all[i].estimated = sources[i]->estimated;
                all[i].status = sources[i]->probe(ctx, all[i].reason, sizeof(all[i].reason));
                log_object(LOG_DEBUG, all[i].name, NULL, "Energy source %s: %s, %s", all[i].name,
                           source_status_to_string(all[i].status), all[i].reason);
                if (probes && i < n_probes)
                        probes[i] = all[i];
        }

        /* A typo in the spec is an error whatever the host has. */
        spec += strspn(spec, " \t");
        is_auto = strncmp(spec, "auto", 4) == 0 && spec[4 + strspn(spec + 4, " \t")] == 0;
        if (!is_auto) {
                char *state, *tok;
                char names[128];

                copy = strdup(spec);
                if (!copy)
                        return log_oom();
                state = copy;
                while ((tok = strsep(&state, ","))) {
                        const EnergySourceOps *o = NULL;
                        size_t idx = 0, l;

                        tok += strspn(tok, " \t");
                        for (l = strlen(tok); l > 0 && (tok[l - 1] == ' ' || tok[l - 1] == '\t'); l--)
                                tok[l - 1] = 0;
                        if (!*tok) {
                                accepted_names(names, sizeof(names));
                                return log_error_errno(-EINVAL, "Empty entry in energy source list \"%s\": accepted are %s, "
                                                       "separated by commas.", spec, names);
                        }
                        if (strcmp(tok, "auto") == 0)
                                return log_error_errno(-EINVAL, "\"auto\" cannot be combined with other energy sources "
                                                       "in \"%s\": give \"auto\" alone or a list of sources.", spec);
                        for (; idx < ELEMENTSOF(sources); idx++)
                                if (strcmp(sources[idx]->name, tok) == 0) {
                                        o = sources[idx];
                                        break;
                                }
                        if (!o) {
                                accepted_names(names, sizeof(names));
                                return log_error_errno(-EINVAL, "Unknown energy source \"%s\" in \"%s\": accepted are %s "
                                                       "(\"auto\" alone, the others alone or as a comma list).",
                                                       tok, spec, names);
                        }
                        wanted[idx] = true;
                }
        }

        opened = calloc(ELEMENTSOF(sources) + 1, sizeof(EnergySource *));
        if (!opened)
                return log_oom();

        for (size_t i = 0; i < ELEMENTSOF(sources); i++) {
                EnergySource *s = NULL;
                const EnergySource *other = NULL;
                const char *dup;

                if (is_auto) {
                        if (sources[i]->estimated || all[i].status != SOURCE_USABLE)
                                continue;
                } else {
                        if (!wanted[i])
                                continue;
                        if (all[i].status != SOURCE_USABLE)
                                return log_object_errno(LOG_ERR, -ENODEV, sources[i]->name, NULL,
                                                        "Energy source \"%s\" is not usable (%s): %s",
                                                        sources[i]->name, source_status_to_string(all[i].status),
                                                        all[i].reason);
                }

                reason[0] = 0;
                r = sources[i]->open(ctx, reason, sizeof(reason), &s);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        if (!reason[0])
                                snprintf(reason, sizeof(reason), "%s", strerror(-r));
                        if (!is_auto)
                                return log_object_errno(LOG_ERR, r, sources[i]->name, NULL,
                                                        "Failed to open energy source \"%s\": %s",
                                                        sources[i]->name, reason);
                        log_object_errno(LOG_DEBUG, r, sources[i]->name, NULL,
                                         "Failed to open energy source \"%s\", ignoring: %s",
                                         sources[i]->name, reason);
                        if (probes && i < n_probes) {
                                size_t l = strlen(probes[i].reason);
                                snprintf(probes[i].reason + l, sizeof(probes[i].reason) - l,
                                         " (not used: cannot open: %s)", reason);
                        }
                        continue;
                }
                dup = sources_overlap(opened, n_opened, s, &other);
                if (dup && is_auto && s->ops->drop_domain) {
                        /* Keep only what no earlier source measures. */
                        char note[160] = "";
                        size_t off = 0;
                        while ((dup = sources_overlap(opened, n_opened, s, &other))) {
                                for (size_t k = 0; k < s->n_domains; k++)
                                        if (strcmp(s->domains[k].name, dup) == 0) {
                                                if (off < sizeof(note))
                                                        off += (size_t) snprintf(note + off, sizeof(note) - off, "%s%s (%s)",
                                                                                 off ? ", " : "", dup, other->ops->name);
                                                s->ops->drop_domain(s, k);
                                                break;
                                        }
                        }
                        if (probes && i < n_probes) {
                                size_t l = strlen(probes[i].reason);
                                snprintf(probes[i].reason + l, sizeof(probes[i].reason) - l,
                                         s->n_domains ? " (used for the rest; already measured: %s)"
                                                      : " (not used: already measured: %s)", note);
                        }
                        if (s->n_domains == 0) {
                                source_close(s);
                                continue;
                        }
                }
                if (dup) {
                        if (!is_auto) {
                                r = log_object_errno(LOG_ERR, -EINVAL, sources[i]->name, dup,
                                                     "Energy sources \"%s\" and \"%s\" both measure %s: "
                                                     "name only one of them.",
                                                     other->ops->name, sources[i]->name, dup);
                                source_close(s);
                                return r;
                        }
                        log_object(LOG_DEBUG, sources[i]->name, dup, "Energy source %s also measures %s, ignoring it.",
                                   sources[i]->name, dup);
                        if (probes && i < n_probes) {
                                size_t l = strlen(probes[i].reason);
                                snprintf(probes[i].reason + l, sizeof(probes[i].reason) - l,
                                         " (not used: %s already measures %s)", other->ops->name, dup);
                        }
                        source_close(s);
                        continue;
                }
                opened[n_opened++] = s;
        }

        if (is_auto && n_opened == 0) {
                const EnergySourceOps *model = &model_source_ops;
                size_t mi = 0;
                EnergySource *s = NULL;

                while (sources[mi] != model)
                        mi++;
                if (all[mi].status != SOURCE_USABLE)
                        return log_object_errno(LOG_ERR, -ENODEV, model->name, NULL,
                                                "No energy source usable: no hardware meter, and the model "
                                                "source cannot work either: %s", all[mi].reason);
                reason[0] = 0;
                r = model->open(ctx, reason, sizeof(reason), &s);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_object_errno(LOG_ERR, r, model->name, NULL,
                                                "No energy source usable: no hardware meter, and the model "
                                                "source cannot be opened: %s", reason[0] ? reason : strerror(-r));
                opened[n_opened++] = s;
                log_object(LOG_NOTICE, model->name, NULL,
                           "No hardware energy meter found: using the model source (estimated).");
        }

        sources_decide_host_total(opened, n_opened);
        for (size_t i = 0; i < n_opened; i++)
                log_object(LOG_DEBUG, opened[i]->ops->name, NULL, "Using energy source %s (%zu domains%s).",
                           opened[i]->ops->name, opened[i]->n_domains, opened[i]->ops->estimated ? ", estimated" : "");

        if (ret_n)
                *ret_n = n_opened;
        *ret = TAKE_PTR(opened);
        return 0;
}

static const char *host_total_text(const EnergyDomain *d, bool psys, bool any_system) {
        if (domain_counts_in_host_total(d, psys))
                return "yes";
        if (system_level(d) > 0)
                return "no (another whole-system meter is the total)";
        if (any_system)
                return "no (inside the whole-system meter)";
        return "no (inside another domain)";
}

void source_probe_print(FILE *f, const SourceProbe *probes, size_t n,
                        EnergySource **opened, size_t n_opened) {
        bool psys = sources_have_psys(opened, n_opened), only_model = n_opened > 0, any_system = false;

        assert(f);
        assert(probes || n == 0);

        for (size_t j = 0; j < n_opened; j++)
                for (size_t k = 0; opened[j] && k < opened[j]->n_domains; k++)
                        if (domain_counts_in_host_total(&opened[j]->domains[k], psys) &&
                            system_level(&opened[j]->domains[k]) > 0)
                                any_system = true;

        fprintf(f, "Energy sources (in the order --source auto tries them):\n");
        fprintf(f, "  %-8s %-12s %-10s %s\n", "SOURCE", "STATUS", "KIND", "DETAILS");
        for (size_t i = 0; i < n; i++) {
                bool used = false;
                for (size_t j = 0; j < n_opened; j++)
                        if (opened[j] && streq_ptr(opened[j]->ops->name, probes[i].name))
                                used = true;
                fprintf(f, "  %-8s %-12s %-10s %s%s\n", probes[i].name ?: "?",
                        used ? "in use" : source_status_to_string(probes[i].status) ?: "?",
                        probes[i].estimated ? "estimated" : "measured",
                        probes[i].reason,
                        !used && probes[i].status == SOURCE_USABLE && !strstr(probes[i].reason, "(not used:")
                                ? " (not selected)" : "");
        }

        fprintf(f, "\nDomains:\n");
        if (n_opened == 0)
                fprintf(f, "  (none: no energy source is in use)\n");
        else
                fprintf(f, "  %-12s %-8s %-22s %s\n", "DOMAIN", "SOURCE", "KIND", "IN HOST TOTAL");
        for (size_t j = 0; j < n_opened; j++) {
                EnergySource *s = opened[j];
                if (!s)
                        continue;
                if (s->ops != &model_source_ops)
                        only_model = false;
                for (size_t k = 0; k < s->n_domains; k++) {
                        const EnergyDomain *d = &s->domains[k];
                        fprintf(f, "  %-12s %-8s %-22s %s\n", d->name, s->ops->name,
                                d->estimated ? "estimated" : d->integrated ? "measured (from power)" : "measured",
                                host_total_text(d, psys, any_system));
                }
        }
        if (only_model)
                fprintf(f, "\nNo hardware energy meter found: using the model source (estimated)\n");
}
