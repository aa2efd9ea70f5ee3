/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl run [--repeat N] [--warmup N] [--budget E] [--ignore-failure]
 *              [--json] -- CMD ARGS...
 *
 * The energy of one command's whole process tree, like `perf stat`, run as a
 * benchmark like hyperfine: warmup runs first (not measured), then N
 * measured runs, each in its own cgroup (measure.h says how the tree and
 * its energy are measured). Carbon: co2e_grams = energy_joules / 3.6e6 ×
 * intensity (g/kWh). energy_joules is the dynamic energy the tree caused;
 * energy_with_idle_joules adds its CPU-time share of the host's idle energy
 * over the run, and idle says how that idle figure was found: method (the
 * daemon's estimate methods, or "source"/"prior" measured alone), watts,
 * band_watts (±), joules (the host's idle energy over the run) and
 * share_joules (the tree's part of it), all means over the runs.
 *
 * A failing command (non-zero exit status, or killed by a signal: 128 + N)
 * stops the runs, and its status is joulectl's: CI sees the command's own
 * failure. With --ignore-failure failing runs are measured like the others
 * and do not change the exit status. Ctrl-C: the run under way is dropped,
 * the completed ones are reported, and the exit status is 130.
 *
 * Exit status: the command's status (above); 130 after Ctrl-C; 1 nothing
 * could be measured; 2 bad usage; 3 the mean energy exceeds --budget.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-util.h"
#include "measure.h"
#include "stats.h"
#include "util.h"
#include "verbs.h"

typedef struct RunOptions {
        bool json;
        bool ignore_failure;
        uint64_t repeat, warmup;
        double budget;          /* NAN: none */
        char **cmd;
} RunOptions;

static void print_json(const RunOptions *o, const Measure *m, const Carbon *carbon, const MeasureResult *res,
                       size_t n, int exit_status, bool interrupted, char warnings[][MEASURE_WARNING_MAX],
                       size_t n_warnings) {
        StatsSummary e, cpu, wall;
        MeasureIdle idle;
        json_object *j = json_object_new_object(), *a, *t;

        measure_summarize(res, n, &e, &cpu, &wall);
        measure_idle_summarize(res, n, &idle);
        a = json_object_new_array();
        for (char **p = o->cmd; *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        json_object_object_add(j, "command", a);
        json_object_object_add(j, "exit_status", json_object_new_int(exit_status));
        json_object_object_add(j, "runs", json_object_new_int64((int64_t) n));
        json_object_object_add(j, "warmup", json_object_new_int64((int64_t) o->warmup));
        json_object_object_add(j, "interrupted", json_object_new_boolean(interrupted));
        json_object_object_add(j, "wall_seconds", json_double_exact(wall.mean));
        json_object_object_add(j, "cpu_seconds", json_double_exact(cpu.mean));
        json_object_object_add(j, "energy_joules", json_double_exact(e.mean));
        json_object_object_add(j, "energy_joules_stddev", json_double_exact(e.stddev));
        json_object_object_add(j, "energy_joules_min", json_double_exact(e.min));
        json_object_object_add(j, "energy_joules_max", json_double_exact(e.max));
        json_object_object_add(j, "energy_wh", json_double_exact(e.mean / 3600));
        /* The second view: with the tree's CPU-time share of idle power, and
         * the idle figure it comes from. */
        json_object_object_add(j, "energy_with_idle_joules", json_double_exact(idle.with_idle_j));
        json_object_object_add(j, "energy_with_idle_joules_stddev", json_double_exact(idle.with_idle_stddev_j));
        t = json_object_new_object();
        json_object_object_add(t, "method", n > 0 ? json_object_new_string(idle.method) : NULL);
        json_object_object_add(t, "watts", isfinite(idle.idle_w) ? json_double_exact(idle.idle_w) : NULL);
        json_object_object_add(t, "band_watts", isfinite(idle.band_w) ? json_double_exact(idle.band_w) : NULL);
        json_object_object_add(t, "joules", json_double_exact(idle.idle_j));
        json_object_object_add(t, "share_joules", json_double_exact(idle.idle_share_j));
        json_object_object_add(t, "provisional", json_object_new_boolean(idle.provisional));
        json_object_object_add(j, "idle", t);
        json_object_object_add(j, "co2e_grams", json_double_exact(carbon_grams(carbon, e.mean)));
        t = json_object_new_object();
        json_object_object_add(t, "intensity_g_per_kwh", json_double_exact(carbon->g_per_kwh));
        json_object_object_add(t, "origin", json_object_new_string(carbon->origin));
        json_object_object_add(j, "carbon", t);
        json_object_object_add(j, "sources", measure_sources_json(m));
        json_object_object_add(j, "estimated", json_object_new_boolean(measure_estimated(m)));
        json_object_object_add(j, "energy_from", json_object_new_string(measure_from_daemon(m) ? "jouled" : "self"));
        json_object_object_add(j, "process_tree",
                               json_object_new_string(n == 0 || res[0].cgroup ? "cgroup" : "rusage"));
        if (!isnan(o->budget)) {
                json_object_object_add(j, "budget_joules", json_double_exact(o->budget));
                json_object_object_add(j, "over_budget", json_object_new_boolean(n > 0 && e.mean > o->budget));
        }
        a = json_object_new_array();
        for (size_t i = 0; i < n_warnings; i++)
                json_object_array_add(a, json_object_new_string(warnings[i]));
        json_object_object_add(j, "warnings", a);
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                json_object *r = json_object_new_object();
                double wait;
                bool starved = measure_starved(&res[i], &wait);
                json_object_object_add(r, "exit_status", json_object_new_int(res[i].exit_status));
                json_object_object_add(r, "wall_seconds", json_double_exact(res[i].wall_s));
                json_object_object_add(r, "cpu_seconds", json_double_exact(res[i].cpu_s));
                json_object_object_add(r, "energy_joules", json_double_exact(res[i].energy_j));
                json_object_object_add(r, "energy_with_idle_joules",
                                       json_double_exact(res[i].energy_j + res[i].idle_share_j));
                json_object_object_add(r, "cpu_wait_seconds",
                                       isnan(res[i].cpu_wait_s) ? NULL : json_double_exact(res[i].cpu_wait_s));
                json_object_object_add(r, "starved", json_object_new_boolean(starved));
                json_object_object_add(r, "leftover_processes", json_object_new_int((int) res[i].leftover));
                json_object_array_add(a, r);
        }
        json_object_object_add(j, "each", a);
        json_print(j);
        json_object_put(j);
        fflush(stdout);
}

static void print_text(const RunOptions *o, const Measure *m, const Carbon *carbon, const MeasureResult *res,
                       size_t n, int exit_status, bool interrupted, char warnings[][MEASURE_WARNING_MAX],
                       size_t n_warnings) {
        StatsSummary e, cpu, wall;
        MeasureIdle idle;
        const MeasureSource *src;
        size_t n_src;
        char b1[64], b2[64], b3[128];

        measure_summarize(res, n, &e, &cpu, &wall);
        measure_idle_summarize(res, n, &idle);
        /* Like perf stat: on stderr, after the command's own output. */
        fprintf(stderr, "\n Energy of '");
        for (char **p = o->cmd; *p; p++)
                fprintf(stderr, "%s%s", p == o->cmd ? "" : " ", *p);
        fprintf(stderr, "' (%zu run%s", n, n == 1 ? "" : "s");
        if (o->warmup > 0)
                fprintf(stderr, " after %" PRIu64 " warmup run%s", o->warmup, o->warmup == 1 ? "" : "s");
        fprintf(stderr, ", whole process tree%s):\n\n", n == 0 || res[0].cgroup ? ", cgroup" : ", waited-for children");
        if (n == 0) {
                fprintf(stderr, "  no run completed\n");
                return;
        }
        fprintf(stderr, "  %14s", format_energy(e.mean, false, b1, sizeof(b1)));
        if (n > 1)
                fprintf(stderr, " ± %s", format_energy(e.stddev, false, b2, sizeof(b2)));
        fprintf(stderr, "   energy%s (%.4g Wh)\n", measure_estimated(m) ? ", estimated" : "", e.mean / 3600);
        if (n > 1) {
                fprintf(stderr, "  %14s", format_energy(e.min, false, b1, sizeof(b1)));
                fprintf(stderr, " … %s   energy range (min … max)\n", format_energy(e.max, false, b2, sizeof(b2)));
        }
        fprintf(stderr, "  %14s", format_energy(idle.with_idle_j, false, b1, sizeof(b1)));
        if (n > 1)
                fprintf(stderr, " ± %s", format_energy(idle.with_idle_stddev_j, false, b2, sizeof(b2)));
        fprintf(stderr, "   energy with its CPU-time share of idle (idle %.2f", idle.idle_w);
        if (isfinite(idle.band_w))
                fprintf(stderr, " ± %.2f", idle.band_w);
        fprintf(stderr, " W, %s%s)\n", idle.method, idle.provisional ? ", provisional" : "");
        fprintf(stderr, "  %14s   (%s)\n", format_co2(carbon_grams(carbon, e.mean), b1, sizeof(b1)),
                format_carbon_origin(carbon, b3, sizeof(b3)));
        fprintf(stderr, "  %12.3f s   CPU time", cpu.mean);
        if (n > 1)
                fprintf(stderr, " ± %.3f s (%.3f s … %.3f s)", cpu.stddev, cpu.min, cpu.max);
        fprintf(stderr, "\n  %12.3f s   wall time", wall.mean);
        if (n > 1)
                fprintf(stderr, " ± %.3f s (%.3f s … %.3f s)", wall.stddev, wall.min, wall.max);
        fprintf(stderr, "\n");
        if (n > 1) {
                fprintf(stderr, "\n  %4s  %12s  %10s  %10s\n", "RUN", "ENERGY", "CPU", "WALL");
                for (size_t i = 0; i < n; i++) {
                        fprintf(stderr, "  %4zu  %12s  %8.3f s  %8.3f s", i + 1,
                                format_energy(res[i].energy_j, false, b1, sizeof(b1)), res[i].cpu_s, res[i].wall_s);
                        if (res[i].exit_status != 0)
                                fprintf(stderr, "  exit status %d", res[i].exit_status);
                        if (measure_starved(&res[i], NULL))
                                fprintf(stderr, "  starved of CPU");
                        fprintf(stderr, "\n");
                }
        }
        fprintf(stderr, "\n  Energy: %s; sources: ",
                measure_from_daemon(m) ? "from jouled's database" : "measured by joulectl itself (jouled not running)");
        src = measure_sources(m, &n_src);
        for (size_t i = 0; i < n_src; i++)
                fprintf(stderr, "%s%s (%s%s)", i ? ", " : "", src[i].domain, src[i].source,
                        src[i].estimated ? ", estimated" : "");
        fprintf(stderr, "\n");
        if (!res[0].cgroup && measure_cgroup_note(m)[0])
                fprintf(stderr, "  Process tree: waited-for descendants only (%s)\n", measure_cgroup_note(m));
        for (size_t i = 0; i < n_warnings; i++)
                fprintf(stderr, "  Warning: %s\n", warnings[i]);
        if (exit_status != 0)
                fprintf(stderr, "  The command failed: exit status %d%s\n", exit_status,
                        o->ignore_failure ? " (ignored: --ignore-failure)" : "");
        if (interrupted)
                fprintf(stderr, "  Interrupted: the run under way was not counted\n");
        if (!isnan(o->budget))
                fprintf(stderr, "  Budget %s: %s\n", format_energy(o->budget, false, b1, sizeof(b1)),
                        e.mean > o->budget ? "EXCEEDED" : "ok");
}

int verb_run(int argc, char **argv, const CliGlobals *g_in) {
        enum { ARG_REPEAT = 0x100, ARG_WARMUP, ARG_BUDGET, ARG_JSON, ARG_CARBON, ARG_IGNORE_FAILURE };
        static const struct option options[] = {
                { "repeat", required_argument, NULL, ARG_REPEAT },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "budget", required_argument, NULL, ARG_BUDGET },
                { "ignore-failure", no_argument, NULL, ARG_IGNORE_FAILURE },
                { "json", no_argument, NULL, ARG_JSON },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        CliGlobals g = *g_in;
        RunOptions o = { .repeat = 1, .budget = NAN };
        _cleanup_(measure_freep) Measure *m = NULL;
        _cleanup_free_ MeasureResult *res = NULL;
        char warnings[4][MEASURE_WARNING_MAX];
        size_t done = 0, n_warnings;
        int ch, r, exit_status = 0, ret = 0;
        bool interrupted = false;
        Carbon carbon;
        double mean = 0;

        opterr = 0;
        /* '+': the command's own options are not ours. */
        while ((ch = getopt_long(argc, argv, "+:hr:w:i", options, NULL)) >= 0) {
                switch (ch) {
                case 'r':
                case ARG_REPEAT:
                        if (cli_runs_option("--repeat", optarg, 1, &o.repeat) != 0)
                                return EXIT_USAGE;
                        break;
                case 'w':
                case ARG_WARMUP:
                        if (cli_runs_option("--warmup", optarg, 0, &o.warmup) != 0)
                                return EXIT_USAGE;
                        break;
                case ARG_BUDGET:
                        if (measure_parse_energy(optarg, &o.budget) < 0) {
                                fprintf(stderr, "joulectl: invalid --budget '%s': expected an energy >= 0, joules "
                                                "or with a unit (50, 5J, 250mJ, 2kJ, 1Wh, 0.5kWh)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'i':
                case ARG_IGNORE_FAILURE:
                        o.ignore_failure = true;
                        break;
                case ARG_JSON:
                        o.json = true;
                        break;
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl run [--repeat N] [--warmup N] [--budget ENERGY] [--ignore-failure] "
                               "[--json]\n"
                               "                    [--carbon-intensity G] -- CMD [ARGS...]\n"
                               "ENERGY: joules, or with a unit: 250mJ, 5J, 2kJ, 1Wh, 0.5kWh.\n"
                               "Exit status: the command's own when it fails (unless --ignore-failure), 130 after "
                               "Ctrl-C,\n"
                               "   1 nothing measured, 2 bad usage, 3 mean energy over budget, else 0.\n");
                        return 0;
                default:
                        return cli_option_error(ch, argv, "run",
                                                "--repeat, --warmup, --budget, --ignore-failure, --json, "
                                                "--carbon-intensity, then -- CMD");
                }
        }
        if (optind >= argc || !argv[optind][0]) {
                fprintf(stderr, "joulectl: run needs a command: joulectl run [OPTIONS] -- CMD [ARGS...]\n");
                return EXIT_USAGE;
        }
        o.cmd = argv + optind;
        if (g.parse_only)
                return 0;

        res = calloc((size_t) o.repeat, sizeof(MeasureResult));
        if (!res) {
                fprintf(stderr, "joulectl: out of memory\n");
                return 1;
        }
        if (measure_open(g.db_path, &m) < 0)
                return 1;
        cli_carbon_resolve(&g, measure_store(m), &carbon);

        /* Like time(1): Ctrl-C goes to the command; we stay to report. */
        measure_signals_catch();
        for (uint64_t i = 0; i < o.warmup && !measure_interrupted(); i++) {
                MeasureResult w;
                r = measure_run(m, o.cmd, o.json ? MEASURE_OUTPUT_STDERR : MEASURE_OUTPUT_INHERIT,
                                (unsigned) i, &w);
                if (r < 0) {
                        ret = 1;
                        break;
                }
                if (w.interrupted)
                        break;
                if (w.exit_status != 0 && !o.ignore_failure) {
                        fprintf(stderr, "joulectl: the command failed in warmup run %" PRIu64 ": exit status %d\n",
                                i + 1, w.exit_status);
                        measure_signals_release();
                        return w.exit_status;
                }
        }
        for (done = 0; ret == 0 && done < o.repeat && !measure_interrupted();) {
                r = measure_run(m, o.cmd, o.json ? MEASURE_OUTPUT_STDERR : MEASURE_OUTPUT_INHERIT,
                                (unsigned) (o.warmup + done), &res[done]);
                if (r < 0) {
                        ret = 1;
                        break;
                }
                if (res[done].interrupted)
                        break;   /* not a whole run: not counted */
                if (res[done].exit_status != 0 && exit_status == 0)
                        exit_status = res[done].exit_status;
                done++;
                if (exit_status != 0 && !o.ignore_failure)
                        break;
        }
        interrupted = measure_interrupted() != 0;
        measure_signals_release();
        if (ret != 0)
                return ret;

        n_warnings = measure_warnings(res, done, warnings, ELEMENTSOF(warnings));
        if (o.json)
                print_json(&o, m, &carbon, res, done, exit_status, interrupted, warnings, n_warnings);
        else
                print_text(&o, m, &carbon, res, done, exit_status, interrupted, warnings, n_warnings);

        for (size_t i = 0; i < done; i++)
                mean += res[i].energy_j / (double) done;
        if (interrupted)
                return 130;
        if (exit_status != 0 && !o.ignore_failure)
                return exit_status;
        if (done > 0 && !isnan(o.budget) && mean > o.budget)
                return EXIT_OVER_BUDGET;
        return 0;
}
