/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl's global options and table of verbs. */

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-util.h"
#include "jouled-build.h"
#include "log.h"
#include "verbs.h"


typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv, const CliGlobals *g);
        const char *help;
} Verb;

static const Verb verbs[] = {
        { "status", verb_status, "status [--json]                 sources, tracker, database" },
        { "report", verb_report,
          "report [--since T] [--until T] [--by process|comm|unit|user|slice|container]\n"
          "         [--sort energy|cpu|power|name|wakeups] [--limit N] [--every DURATION]\n"
          "         [--unit GLOB]... [--comm GLOB]... [--user GLOB]... [--pid GLOB]...\n"
          "         [--json|--csv|--html FILE]" },
        { "top", verb_top,
          "top [--by process|comm|unit|user] [--sort power|energy|cpu|name|wakeups] [--delay S] [--once]" },
        { "run", verb_run, "run [--repeat N] [--budget JOULES] [--json] -- CMD [ARGS...]" },
        { "export", verb_export, "export [--since T] [--until T] [--format csv|json]" },
        { "profile", verb_profile, "profile [--pid P|--unit U|--cgroup PATH] [--duration S] [--frequency HZ]\n"
          "         [--folded F] [--svg F] [--json F] [--diff BEFORE AFTER] [-- CMD [ARGS...]]" },
};

#define VERB_NAMES "status, report, top, run, export, profile"

static void help(void) {
        printf("Usage: joulectl [--db PATH] [--carbon-intensity G] VERB [OPTIONS]\n"
               "\n"
               "Read the energy history recorded by jouled.\n"
               "\n"
               "Global options:\n"
               "  --db PATH                database (default $JOULED_DB, else the one a running jouled\n"
               "                           recorded in /run/jouled/db, else " CLI_DEFAULT_DB ")\n"
               "  --carbon-intensity G     grid carbon intensity in gCO2e/kWh (default $JOULED_CARBON_INTENSITY,\n"
               "                           else jouled's configured figure, else %g, %s)\n"
               "  -h --help                show this help\n"
               "  --version                show the version\n"
               "\n"
               "Verbs:\n",
               CARBON_DEFAULT_G_PER_KWH, CARBON_DEFAULT_SOURCE);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                printf("  %s\n", verbs[i].help);
        printf("\n"
               "T: 30s, 15m, 1h, 2d, 1w (ago), now, today, yesterday, boot,\n"
               "   ISO 8601 (2026-11-22, 2026-11-22T10:00[:00][Z|+HH:MM]) or @EPOCH.\n"
               "Exit status: 0 ok, 1 failure, 2 bad usage, 3 energy budget exceeded (run --budget),\n"
               "   4 database schema too old for the query (restart jouled to upgrade it).\n");
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
        CliGlobals g = { .parse_only = parse_only };
        const char *env = getenv("JOULED_DB");
        int c;

        log_set_prefix("joulectl");
        /* Display widths of names (wcwidth()) in the user's character set;
         * numbers stay in the C locale. */
        setlocale(LC_CTYPE, "");
        if (env && *env)
                g.db_path = env;
        env = getenv("JOULED_CARBON_INTENSITY");
        if (env && *env) {
                if (cli_carbon_parse(env, NULL) < 0) {
                        fprintf(stderr,
                                "joulectl: invalid $JOULED_CARBON_INTENSITY '%s': expected gCO2e per kWh, "
                                "a number from 0 to 10000\n",
                                cli_safe(env));
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

        if (!g.db_path)
                g.db_path = parse_only ? CLI_DEFAULT_DB : cli_default_db();

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
        char near[32];
        if (cli_did_you_mean(argv[optind], VERB_NAMES, near, sizeof(near)))
                fprintf(stderr, "joulectl: unknown verb '%s'; did you mean '%s'? (expected one of: " VERB_NAMES ")\n",
                        cli_safe(argv[optind]), near);
        else
                fprintf(stderr, "joulectl: unknown verb '%s' (expected one of: " VERB_NAMES ")\n", cli_safe(argv[optind]));
        return EXIT_USAGE;
}
