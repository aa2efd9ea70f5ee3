/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl's global options and table of verbs. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-util.h"
#include "jouled-build.h"
#include "log.h"
#include "verbs.h"

#define DEFAULT_DB "/var/lib/jouled/jouled.db"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv, const CliGlobals *g);
        const char *help;
} Verb;

static const Verb verbs[] = {
        { "status", verb_status, "status [--json]                 sources, tracker, database" },
        { "report", verb_report,
          "report [--since T] [--until T] [--by process|comm|unit|user|slice|container]\n"
          "         [--sort energy|cpu|power] [--limit N] [--json|--csv|--html FILE]" },
        { "top", verb_top,
          "top [--by process|comm|unit|user] [--sort power|energy|cpu|name|wakeups] [--delay S] [--once]" },
        { "run", verb_run,
          "run [--repeat N] [--warmup N] [--budget ENERGY] [--ignore-failure] [--json] -- CMD [ARGS...]" },
        { "compare", verb_compare,
          "compare [--repeat N] [--warmup N] [--json] [--fail-if-worse PERCENT] [--save FILE]\n"
          "         [--baseline FILE] [--ignore-failure] [--show-output] 'COMMAND A' 'COMMAND B' [...]" },
        { "export", verb_export, "export --since T [--until T] --format csv|json" },
};

#define VERB_NAMES "status, report, top, run, compare, export"

static void help(void) {
        printf("Usage: joulectl [--db PATH] [--carbon-intensity G] VERB [OPTIONS]\n"
               "\n"
               "Read the energy history recorded by jouled.\n"
               "\n"
               "Global options:\n"
               "  --db PATH                database (default $JOULED_DB, else " DEFAULT_DB ")\n"
               "  --carbon-intensity G     grid carbon intensity in gCO2e/kWh (default $JOULED_CARBON_INTENSITY,\n"
               "                           else jouled's configured figure, else %g, %s)\n"
               "  -h --help                show this help\n"
               "  --version                show the version\n"
               "\n"
               "Verbs:\n",
               CARBON_DEFAULT_G_PER_KWH, CARBON_DEFAULT_ORIGIN);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                printf("  %s\n", verbs[i].help);
        printf("\n"
               "T: 30s, 15m, 1h, 2d, 1w (ago), now, today, yesterday, boot,\n"
               "   ISO 8601 (2026-11-22, 2026-11-22T10:00[:00][Z|+HH:MM]) or @EPOCH.\n"
               "ENERGY: joules, or with a unit: 250mJ, 5J, 2kJ, 1Wh, 0.5kWh.\n"
               "Exit status: 0 ok, 1 failure, 2 bad usage, 3 energy budget exceeded (run --budget) or\n"
               "   significantly worse (compare --fail-if-worse), 4 database schema too old for the query\n"
               "   (restart jouled to upgrade it), 130 after Ctrl-C (run, compare); run passes the\n"
               "   command's own failing status through (unless --ignore-failure).\n");
}

int joulectl_main(int argc, char **argv, bool parse_only) {
        enum { ARG_DB = 0x100, ARG_VERSION, ARG_CARBON };
        static const struct option options[] = {
                { "db", required_argument, NULL, ARG_DB },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        CliGlobals g = { .db_path = DEFAULT_DB, .parse_only = parse_only };
        const char *env = getenv("JOULED_DB");
        int c;

        log_set_prefix("joulectl");
        if (env && *env)
                g.db_path = env;
        env = getenv("JOULED_CARBON_INTENSITY");
        if (env && *env) {
                if (cli_carbon_parse(env, NULL) < 0) {
                        fprintf(stderr,
                                "joulectl: invalid $JOULED_CARBON_INTENSITY '%s': expected gCO2e per kWh, "
                                "a number from 0 to 10000\n",
                                env);
                        return EXIT_USAGE;
                }
                g.carbon_arg = env;
        }

        /* '+': stop at the verb; its options are its own. */
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_DB:
                        if (!*optarg) {
                                fprintf(stderr, "joulectl: invalid --db '': expected a database path\n");
                                return EXIT_USAGE;
                        }
                        g.db_path = optarg;
                        break;
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("joulectl %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return cli_option_error(c, argv, NULL, "--db PATH, --carbon-intensity G, --help, --version");
                }
        }

        if (optind >= argc) {
                fprintf(stderr, "joulectl: missing verb (expected one of: " VERB_NAMES "; see --help)\n");
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(argv[optind], verbs[i].name) == 0) {
                        /* The verb sees argv[0] = its name; reset getopt for it. */
                        optind++;
                        int vargc = argc - optind + 1;
                        char **vargv = argv + optind - 1;
                        optind = 0;
                        return verbs[i].run(vargc, vargv, &g);
                }
        fprintf(stderr, "joulectl: unknown verb '%s' (expected one of: " VERB_NAMES ")\n", argv[optind]);
        return EXIT_USAGE;
}
