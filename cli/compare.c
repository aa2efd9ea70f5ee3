/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl compare [--repeat N] [--warmup N] [--json] [--fail-if-worse PERCENT]
 *                  [--save FILE] [--baseline FILE] [--ignore-failure]
 *                  [--show-output] 'COMMAND A' 'COMMAND B' [...]
 *
 * Whether one command costs more energy than another, with statistics.
 * Each command is a shell string (/bin/sh -c), measured like `run` (its own
 * cgroup, the daemon's data or joulectl's own sources: measure.h). Runs are
 * interleaved, A B A B …, so that drift in the host's load or temperature
 * falls on every command alike; warmup rounds come first, unmeasured.
 *
 * Against the first command (or, with --baseline FILE, the first command of
 * a result saved with --save): the ratio of mean energies, its 95% interval
 * and a p-value from Welch's t-test on the logs of the per-run energies
 * (stats.h: stats_ratio()); `significant` when p < 0.05.
 * --fail-if-worse P: exit 3 when a command is significantly more costly than
 * the baseline and its energy ratio exceeds 1 + P/100.
 *
 * Exit status: 0; 1 a command failed (without --ignore-failure) or nothing
 * could be measured; 2 bad usage; 3 --fail-if-worse; 130 after Ctrl-C (what
 * completed is reported).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-util.h"
#include "measure.h"
#include "stats.h"
#include "util.h"
#include "verbs.h"

static void json_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

typedef struct CompareCommand {
        char *command;                  /* the shell string (not owned) or the saved one (owned) */
        bool owned;
        bool from_file;
        MeasureResult *res;             /* the runs (repeat of them) */
        size_t n;
        bool estimated;                 /* for a saved baseline: its own flag */
        double co2e_grams;              /* for a saved baseline: its figure */
} CompareCommand;

typedef struct CompareOptions {
        bool json, ignore_failure, show_output;
        uint64_t repeat, warmup;
        double fail_if_worse;           /* percent, NAN: not set */
        const char *save, *baseline;
} CompareOptions;

static void summarize(const CompareCommand *c, StatsSummary *e, StatsSummary *cpu, StatsSummary *wall) {
        measure_summarize(c->res, c->n, e, cpu, wall);
}

/* Energy ratio of c against base; -EINVAL when either has fewer than 2 runs,
 * -EDOM when the baseline's mean energy is 0. */
static int compare_ratio(const CompareCommand *base, const CompareCommand *c, StatsRatio *ret) {
        _cleanup_free_ double *a = calloc(MAX(base->n, (size_t) 1), sizeof(double));
        _cleanup_free_ double *b = calloc(MAX(c->n, (size_t) 1), sizeof(double));

        if (!a || !b)
                return -ENOMEM;
        for (size_t i = 0; i < base->n; i++)
                a[i] = base->res[i].energy_j;
        for (size_t i = 0; i < c->n; i++)
                b[i] = c->res[i].energy_j;
        return stats_ratio(a, base->n, b, c->n, ret);
}

static json_object *json_summary(const StatsSummary *s) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "mean", json_double_exact(s->mean));
        json_object_object_add(o, "stddev", json_double_exact(s->stddev));
        json_object_object_add(o, "min", json_double_exact(s->min));
        json_object_object_add(o, "max", json_double_exact(s->max));
        return o;
}

static json_object *json_nullable_double(double v) {
        return isfinite(v) ? json_double_exact(v) : NULL;
}

static json_object *result_json(const CompareOptions *o, const Measure *m, const Carbon *carbon, CompareCommand *cmds,
                                size_t n_cmds, size_t base, bool interrupted, char warnings[][MEASURE_WARNING_MAX],
                                size_t n_warnings) {
        json_object *j = json_object_new_object(), *a = json_object_new_array(), *t;

        for (size_t i = 0; i < n_cmds; i++) {
                StatsSummary e, cpu, wall;
                json_object *c = json_object_new_object(), *each = json_object_new_array();
                summarize(&cmds[i], &e, &cpu, &wall);
                json_object_object_add(c, "command", json_object_new_string(cmds[i].command));
                json_object_object_add(c, "runs", json_object_new_int64((int64_t) cmds[i].n));
                json_object_object_add(c, "energy_joules", json_summary(&e));
                json_object_object_add(c, "cpu_seconds", json_summary(&cpu));
                json_object_object_add(c, "wall_seconds", json_summary(&wall));
                json_object_object_add(c, "co2e_grams", json_double_exact(cmds[i].from_file ? cmds[i].co2e_grams
                                                                                             : carbon_grams(carbon, e.mean)));
                json_object_object_add(c, "estimated",
                                       json_object_new_boolean(cmds[i].from_file ? cmds[i].estimated
                                                                                 : measure_estimated(m)));
                if (cmds[i].from_file)
                        json_object_object_add(c, "from", json_object_new_string(o->baseline));
                for (size_t k = 0; k < cmds[i].n; k++) {
                        json_object *r = json_object_new_object();
                        json_object_object_add(r, "energy_joules", json_double_exact(cmds[i].res[k].energy_j));
                        json_object_object_add(r, "cpu_seconds", json_double_exact(cmds[i].res[k].cpu_s));
                        json_object_object_add(r, "wall_seconds", json_double_exact(cmds[i].res[k].wall_s));
                        json_object_object_add(r, "exit_status", json_object_new_int(cmds[i].res[k].exit_status));
                        json_object_array_add(each, r);
                }
                json_object_object_add(c, "each", each);
                json_object_array_add(a, c);
        }
        json_object_object_add(j, "commands", a);

        a = json_object_new_array();
        for (size_t i = base + 1; i < n_cmds; i++) {
                json_object *c = json_object_new_object(), *ci = json_object_new_array();
                StatsRatio r;
                int k = compare_ratio(&cmds[base], &cmds[i], &r);
                if (k < 0)
                        r = (StatsRatio) { .ratio = NAN, .ratio_sd = NAN, .ci_low = NAN, .ci_high = NAN,
                                           .p_value = NAN };
                json_object_object_add(c, "baseline", json_object_new_string(cmds[base].command));
                json_object_object_add(c, "command", json_object_new_string(cmds[i].command));
                json_object_object_add(c, "energy_ratio", json_nullable_double(r.ratio));
                json_object_object_add(c, "energy_ratio_stddev", json_nullable_double(r.ratio_sd));
                json_object_array_add(ci, json_nullable_double(r.ci_low));
                json_object_array_add(ci, json_nullable_double(r.ci_high));
                json_object_object_add(c, "ci95", ci);
                json_object_object_add(c, "p_value", json_nullable_double(r.p_value));
                json_object_object_add(c, "significant", json_object_new_boolean(k == 0 && r.significant));
                json_object_object_add(c, "test", json_object_new_string(k < 0         ? "none"
                                                                         : r.log_scale ? "welch-t-log"
                                                                                       : "welch-t"));
                json_object_array_add(a, c);
        }
        json_object_object_add(j, "comparisons", a);
        json_object_object_add(j, "alpha", json_double_exact(STATS_ALPHA));
        json_object_object_add(j, "warmup", json_object_new_int64((int64_t) o->warmup));
        json_object_object_add(j, "interrupted", json_object_new_boolean(interrupted));
        json_object_object_add(j, "energy_from",
                               json_object_new_string(measure_from_daemon(m) ? "jouled" : "self"));
        json_object_object_add(j, "sources", measure_sources_json(m));
        t = json_object_new_object();
        json_object_object_add(t, "intensity_g_per_kwh", json_double_exact(carbon->g_per_kwh));
        json_object_object_add(t, "origin", json_object_new_string(carbon->origin));
        json_object_object_add(j, "carbon", t);
        a = json_object_new_array();
        for (size_t i = 0; i < n_warnings; i++)
                json_object_array_add(a, json_object_new_string(warnings[i]));
        json_object_object_add(j, "warnings", a);
        return j;
}

static const char *format_p(double p, char *buf, size_t size) {
        if (isnan(p))
                snprintf(buf, size, "p unknown");
        else if (p < 0.0001)
                snprintf(buf, size, "p < 0.0001");
        else
                snprintf(buf, size, "p = %.2g", p);
        return buf;
}

static void print_text(const Measure *m, const Carbon *carbon, CompareCommand *cmds, size_t n_cmds, size_t base,
                       bool interrupted, char warnings[][MEASURE_WARNING_MAX], size_t n_warnings) {
        char b1[64], b2[64], b3[64], b4[128];
        const MeasureSource *src;
        size_t n_src;

        for (size_t i = 0; i < n_cmds; i++) {
                StatsSummary e, cpu, wall;
                summarize(&cmds[i], &e, &cpu, &wall);
                printf("%s%s: %s%s\n", i ? "\n" : "", cmds[i].from_file ? "Baseline" : "Command", cmds[i].command,
                       cmds[i].from_file ? " (saved)" : "");
                if (cmds[i].n == 0) {
                        printf("  no run completed\n");
                        continue;
                }
                printf("  Energy:  %s ± %s%s   [%s … %s]   %zu runs\n", format_energy(e.mean, false, b1, sizeof(b1)),
                       format_energy(e.stddev, false, b2, sizeof(b2)),
                       (cmds[i].from_file ? cmds[i].estimated : measure_estimated(m)) ? ", estimated" : "",
                       format_energy(e.min, false, b3, sizeof(b3)), format_energy(e.max, false, b4, sizeof(b4)),
                       cmds[i].n);
                printf("  CPU:     %.3f s ± %.3f s   [%.3f s … %.3f s]\n", cpu.mean, cpu.stddev, cpu.min, cpu.max);
                printf("  Wall:    %.3f s ± %.3f s   [%.3f s … %.3f s]\n", wall.mean, wall.stddev, wall.min, wall.max);
                printf("  Carbon:  %s\n", format_co2(cmds[i].from_file ? cmds[i].co2e_grams
                                                                        : carbon_grams(carbon, e.mean),
                                                      b1, sizeof(b1)));
        }

        if (n_cmds > base + 1)
                printf("\nSummary (95%% intervals; significant when p < %g, Welch's t-test on log energies)\n",
                       STATS_ALPHA);
        for (size_t i = base + 1; i < n_cmds; i++) {
                StatsRatio r;
                int k = compare_ratio(&cmds[base], &cmds[i], &r);
                if (k == -EINVAL) {
                        printf("  '%s': too few runs to compare (2 of each needed)\n", cmds[i].command);
                        continue;
                }
                if (k < 0) {
                        printf("  '%s': no ratio (the baseline's energy is 0)\n", cmds[i].command);
                        continue;
                }
                printf("  '%s' used %.2f ± %.2f times the energy of '%s'\n", cmds[i].command, r.ratio, r.ratio_sd,
                       cmds[base].command);
                printf("    95%% CI %.3f … %.3f, %s: %s\n", r.ci_low, r.ci_high, format_p(r.p_value, b1, sizeof(b1)),
                       r.significant ? (r.ratio > 1 ? "significantly more" : "significantly less")
                                     : "no significant difference");
        }

        printf("\nEnergy: %s; sources: ",
               measure_from_daemon(m) ? "from jouled's database" : "measured by joulectl itself (jouled not running)");
        src = measure_sources(m, &n_src);
        for (size_t i = 0; i < n_src; i++)
                printf("%s%s (%s%s)", i ? ", " : "", src[i].domain, src[i].source,
                       src[i].estimated ? ", estimated" : "");
        printf("\nCarbon: %s\n", format_carbon_origin(carbon, b4, sizeof(b4)));
        for (size_t i = 0; i < n_warnings; i++)
                printf("Warning: %s\n", warnings[i]);
        if (interrupted)
                printf("Interrupted: the run under way was not counted\n");
        fflush(stdout);
}

/* --baseline FILE: the first command of a saved result, with its runs. */
static int load_baseline(const char *path, CompareCommand *ret) {
        _cleanup_(json_putp) json_object *j = NULL;
        json_object *cmds, *c, *v, *each;
        size_t n;

        if (access(path, R_OK) < 0) {
                fprintf(stderr, "joulectl: invalid --baseline '%s': %s\n", path, strerror(errno));
                return EXIT_USAGE;
        }
        j = json_object_from_file(path);
        if (!j) {
                fprintf(stderr, "joulectl: invalid --baseline '%s': not a JSON result of joulectl compare --save\n",
                        path);
                return EXIT_USAGE;
        }
        if (!json_object_object_get_ex(j, "commands", &cmds) || !json_object_is_type(cmds, json_type_array) ||
            json_object_array_length(cmds) < 1 || !(c = json_object_array_get_idx(cmds, 0)) ||
            !json_object_object_get_ex(c, "command", &v) || !json_object_is_type(v, json_type_string) ||
            !json_object_object_get_ex(c, "each", &each) || !json_object_is_type(each, json_type_array)) {
                fprintf(stderr, "joulectl: invalid --baseline '%s': not a result of joulectl compare --save "
                                "(commands[0] with its command and each run)\n",
                        path);
                return EXIT_USAGE;
        }
        n = json_object_array_length(each);
        *ret = (CompareCommand) { .from_file = true, .owned = true };
        ret->command = strdup(json_object_get_string(v));
        ret->res = calloc(MAX(n, (size_t) 1), sizeof(MeasureResult));
        if (!ret->command || !ret->res) {
                fprintf(stderr, "joulectl: out of memory\n");
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *r = json_object_array_get_idx(each, i), *x;
                MeasureResult *m = &ret->res[ret->n];
                if (!json_object_object_get_ex(r, "energy_joules", &x) ||
                    !(json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int))) {
                        fprintf(stderr, "joulectl: invalid --baseline '%s': run %zu has no energy_joules\n", path,
                                i + 1);
                        return EXIT_USAGE;
                }
                m->energy_j = json_object_get_double(x);
                if (json_object_object_get_ex(r, "cpu_seconds", &x))
                        m->cpu_s = json_object_get_double(x);
                if (json_object_object_get_ex(r, "wall_seconds", &x))
                        m->wall_s = json_object_get_double(x);
                ret->n++;
        }
        if (json_object_object_get_ex(c, "estimated", &v))
                ret->estimated = json_object_get_boolean(v);
        if (json_object_object_get_ex(c, "co2e_grams", &v))
                ret->co2e_grams = json_object_get_double(v);
        return 0;
}

int verb_compare(int argc, char **argv, const CliGlobals *g_in) {
        enum {
                ARG_REPEAT = 0x100,
                ARG_WARMUP,
                ARG_JSON,
                ARG_FAIL,
                ARG_SAVE,
                ARG_BASELINE,
                ARG_IGNORE_FAILURE,
                ARG_SHOW_OUTPUT,
                ARG_CARBON
        };
        static const struct option options[] = {
                { "repeat", required_argument, NULL, ARG_REPEAT },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "json", no_argument, NULL, ARG_JSON },
                { "fail-if-worse", required_argument, NULL, ARG_FAIL },
                { "save", required_argument, NULL, ARG_SAVE },
                { "baseline", required_argument, NULL, ARG_BASELINE },
                { "ignore-failure", no_argument, NULL, ARG_IGNORE_FAILURE },
                { "show-output", no_argument, NULL, ARG_SHOW_OUTPUT },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        static const char accepted[] = "--repeat, --warmup, --json, --fail-if-worse, --save, --baseline, "
                                       "--ignore-failure, --show-output, --carbon-intensity, then 'COMMAND'...";
        CliGlobals g = *g_in;
        CompareOptions o = { .repeat = 5, .fail_if_worse = NAN };
        _cleanup_(measure_freep) Measure *m = NULL;
        _cleanup_free_ CompareCommand *cmds = NULL;
        char warnings[4][MEASURE_WARNING_MAX];
        size_t n_cmds = 0, n_given, base = 0, n_warnings = 0;
        bool interrupted = false, failed = false, worse = false;
        int ch, r, ret = 0;
        unsigned index = 0;
        Carbon carbon;

        opterr = 0;
        /* Options may follow the commands, as with hyperfine; "--" ends them. */
        while ((ch = getopt_long(argc, argv, ":hr:w:i", options, NULL)) >= 0) {
                switch (ch) {
                case 'r':
                case ARG_REPEAT:
                        if (cli_runs_option("--repeat", optarg, 2, &o.repeat) != 0)
                                return EXIT_USAGE;
                        break;
                case 'w':
                case ARG_WARMUP:
                        if (cli_runs_option("--warmup", optarg, 0, &o.warmup) != 0)
                                return EXIT_USAGE;
                        break;
                case ARG_JSON:
                        o.json = true;
                        break;
                case ARG_FAIL:
                        if (parse_double(optarg, &o.fail_if_worse) < 0 || !isfinite(o.fail_if_worse) ||
                            o.fail_if_worse < 0 || o.fail_if_worse > 1e6) {
                                fprintf(stderr, "joulectl: invalid --fail-if-worse '%s': expected a percentage >= 0 "
                                                "(e.g. 5)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_SAVE:
                        if (cli_nonempty_option("--save", optarg, "a file name") != 0)
                                return EXIT_USAGE;
                        o.save = optarg;
                        break;
                case ARG_BASELINE:
                        if (cli_nonempty_option("--baseline", optarg, "a file saved with --save") != 0)
                                return EXIT_USAGE;
                        o.baseline = optarg;
                        break;
                case 'i':
                case ARG_IGNORE_FAILURE:
                        o.ignore_failure = true;
                        break;
                case ARG_SHOW_OUTPUT:
                        o.show_output = true;
                        break;
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl compare [--repeat N] [--warmup N] [--json] [--fail-if-worse PERCENT]\n"
                               "                        [--save FILE] [--baseline FILE] [--ignore-failure] "
                               "[--show-output]\n"
                               "                        'COMMAND A' 'COMMAND B' [...]\n"
                               "Runs each shell command N times (default 5), interleaved, and compares each with the "
                               "first\n"
                               "(or with the first command of FILE): energy ratio, 95%% interval, Welch's t-test on "
                               "log energies,\n"
                               "significant when p < 0.05.\n"
                               "Exit status: 0 ok, 1 a command failed, 2 bad usage, 3 --fail-if-worse, 130 after "
                               "Ctrl-C.\n");
                        return 0;
                default:
                        return cli_option_error(ch, argv, "compare", accepted);
                }
        }
        n_given = (size_t) (argc - optind);
        if (n_given < (o.baseline ? 1u : 2u)) {
                fprintf(stderr, "joulectl: compare needs %s: joulectl compare [OPTIONS] 'COMMAND A' 'COMMAND B'\n",
                        o.baseline ? "a command to compare with the baseline" : "two commands or more");
                return EXIT_USAGE;
        }
        for (int i = optind; i < argc; i++)
                if (!argv[i][0] || strspn(argv[i], " \t\n") == strlen(argv[i])) {
                        fprintf(stderr, "joulectl: invalid command '%s' for compare: expected a shell command\n",
                                argv[i]);
                        return EXIT_USAGE;
                }
        if (g.parse_only)
                return 0;

        cmds = calloc(n_given + 1, sizeof(CompareCommand));
        if (!cmds) {
                fprintf(stderr, "joulectl: out of memory\n");
                return 1;
        }
        if (o.baseline) {
                n_cmds = 1;
                r = load_baseline(o.baseline, &cmds[0]);
                if (r != 0)
                        goto finish;
        }
        base = 0;
        for (size_t i = 0; i < n_given; i++) {
                cmds[n_cmds].command = argv[optind + (int) i];
                cmds[n_cmds].res = calloc((size_t) o.repeat, sizeof(MeasureResult));
                if (!cmds[n_cmds].res) {
                        fprintf(stderr, "joulectl: out of memory\n");
                        r = 1;
                        goto finish;
                }
                n_cmds++;
        }
        if (measure_open(g.db_path, &m) < 0) {
                r = 1;
                goto finish;
        }
        cli_carbon_resolve(&g, measure_store(m), &carbon);

        /* Rounds of A B A B …: warmups first, then the measured ones. */
        measure_signals_catch();
        for (uint64_t round = 0; round < o.warmup + o.repeat && !failed && !interrupted; round++)
                for (size_t i = o.baseline ? 1 : 0; i < n_cmds; i++) {
                        CompareCommand *c = &cmds[i];
                        char *sh[] = { (char *) "/bin/sh", (char *) "-c", c->command, NULL };
                        MeasureResult one, *res = round < o.warmup ? &one : &c->res[c->n];

                        if (measure_interrupted()) {
                                interrupted = true;
                                break;
                        }
                        r = measure_run(m, sh, o.show_output ? MEASURE_OUTPUT_STDERR : MEASURE_OUTPUT_NULL, index++,
                                        res);
                        if (r < 0) {
                                failed = true;
                                break;
                        }
                        if (res->interrupted) {
                                interrupted = true;
                                break;
                        }
                        if (res->exit_status != 0 && !o.ignore_failure) {
                                fprintf(stderr, "joulectl: command '%s' failed in %s run %" PRIu64
                                                ": exit status %d (--ignore-failure measures failing runs%s)\n",
                                        c->command, round < o.warmup ? "warmup" : "measured",
                                        round < o.warmup ? round + 1 : round - o.warmup + 1, res->exit_status,
                                        o.show_output ? "" : ", --show-output shows its output");
                                failed = true;
                                break;
                        }
                        if (round >= o.warmup)
                                c->n++;
                }
        measure_signals_release();
        if (failed && !interrupted) {
                r = 1;
                goto finish;
        }

        {
                /* Warnings over every measured run of every command. */
                size_t total = 0, k = 0;
                _cleanup_free_ MeasureResult *all = NULL;
                for (size_t i = 0; i < n_cmds; i++)
                        total += cmds[i].from_file ? 0 : cmds[i].n;
                all = calloc(MAX(total, (size_t) 1), sizeof(MeasureResult));
                if (all) {
                        for (size_t i = 0; i < n_cmds; i++)
                                for (size_t x = 0; !cmds[i].from_file && x < cmds[i].n; x++)
                                        all[k++] = cmds[i].res[x];
                        n_warnings = measure_warnings(all, k, warnings, ELEMENTSOF(warnings));
                }
        }

        {
                _cleanup_(json_putp) json_object *j =
                        result_json(&o, m, &carbon, cmds, n_cmds, base, interrupted, warnings, n_warnings);
                if (o.json)
                        json_print(j);
                else
                        print_text(m, &carbon, cmds, n_cmds, base, interrupted, warnings, n_warnings);
                if (o.save && json_object_to_file_ext(o.save, j, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE) < 0) {
                        fprintf(stderr, "joulectl: cannot write --save '%s': %s\n", o.save, strerror(errno));
                        ret = 1;
                }
        }

        for (size_t i = base + 1; i < n_cmds && !isnan(o.fail_if_worse); i++) {
                StatsRatio s;
                if (compare_ratio(&cmds[base], &cmds[i], &s) == 0 && s.significant &&
                    s.ratio > 1 + o.fail_if_worse / 100) {
                        fprintf(stderr, "joulectl: '%s' used %.2f times the energy of '%s': more than %g%% worse, "
                                        "significantly (%s)\n",
                                cmds[i].command, s.ratio, cmds[base].command, o.fail_if_worse,
                                format_p(s.p_value, (char[32]) {}, 32));
                        worse = true;
                }
        }
        r = interrupted ? 130 : ret != 0 ? ret : worse ? EXIT_OVER_BUDGET : 0;

finish:
        for (size_t i = 0; i < n_cmds; i++) {
                if (cmds[i].owned)
                        free(cmds[i].command);
                free(cmds[i].res);
        }
        return r;
}
