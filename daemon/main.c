/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jouled: measures energy, attributes it to processes, stores the history. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "jouled-build.h"
#include "log.h"
#include "manager.h"
#include "timeparse.h"
#include "util.h"

#define DEFAULT_CONFIG "/etc/jouled/jouled.conf"
#define EXIT_USAGE_DAEMON 2

static void help(void) {
        printf("Usage: jouled [OPTIONS]\n\n"
               "Measure energy, attribute it to processes and store the history.\n\n"
               "  --db PATH               database (default /var/lib/jouled/jouled.db)\n"
               "  --interval DURATION     sampling interval: seconds, 500ms, 1.5s, 2min (default 1)\n"
               "  --source LIST           auto, or a comma list of perf|rapl|msr|hwmon|battery|nvml|model (default auto)\n"
               "  --powercap-root DIR     powercap sysfs tree (default /sys/class/powercap)\n"
               "  --config FILE           configuration (default " DEFAULT_CONFIG " and FILE.d/*.conf)\n"
               "  --metrics-listen ADDR:PORT  serve Prometheus /metrics (off by default)\n"
               "  --metrics-textfile DIR  write node_exporter textfile metrics\n"
               "  --user NAME             run as this user once started (capabilities kept: see jouled(8))\n"
               "  --idle-power DOMAIN:W   fixed idle power of a domain (repeatable)\n"
               "  --tracker auto|bpf|procfs  process tracker (default auto: BPF, else /proc)\n"
               "  --tracker-accounting auto|iterator|per-switch  how BPF reads CPU time (default auto)\n"
               "  --print                 print each interval's figures on stdout\n"
               "  --probe                 print every energy source found and exit\n"
               "  --proc-root DIR, --sys-root DIR, --dev-root DIR  alternative roots (tests)\n"
               "  --debug                 verbose logging\n"
               "  --version               print the version and exit\n"
               "  --help                  print this help and exit\n");
}

enum {
        ARG_DB = 0x100, ARG_INTERVAL, ARG_SOURCE, ARG_POWERCAP, ARG_CONFIG, ARG_LISTEN, ARG_TEXTFILE,
        ARG_IDLE, ARG_TRACKER, ARG_PRINT, ARG_PROBE, ARG_PROC, ARG_SYS, ARG_DEV, ARG_DEBUG, ARG_VERSION, ARG_HELP,
        ARG_USER,
        ARG_TRACKER_ACCOUNTING,
};

static const struct option options[] = {
        { "db", required_argument, NULL, ARG_DB },
        { "interval", required_argument, NULL, ARG_INTERVAL },
        { "source", required_argument, NULL, ARG_SOURCE },
        { "powercap-root", required_argument, NULL, ARG_POWERCAP },
        { "config", required_argument, NULL, ARG_CONFIG },
        { "metrics-listen", required_argument, NULL, ARG_LISTEN },
        { "metrics-textfile", required_argument, NULL, ARG_TEXTFILE },
        { "idle-power", required_argument, NULL, ARG_IDLE },
        { "tracker-accounting", required_argument, NULL, ARG_TRACKER_ACCOUNTING },
        { "tracker", required_argument, NULL, ARG_TRACKER },
        { "print", no_argument, NULL, ARG_PRINT },
        { "probe", no_argument, NULL, ARG_PROBE },
        { "proc-root", required_argument, NULL, ARG_PROC },
        { "sys-root", required_argument, NULL, ARG_SYS },
        { "dev-root", required_argument, NULL, ARG_DEV },
        { "debug", no_argument, NULL, ARG_DEBUG },
        { "version", no_argument, NULL, ARG_VERSION },
        { "help", no_argument, NULL, ARG_HELP },
        { "user", required_argument, NULL, ARG_USER },
        {}
};

static int replace(char **field, const char *value) {
        char *s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

/* "jouled: invalid OPTION 'VALUE': expected WHAT" */
static int usage_error(const char *option, const char *value, const char *expected) {
        fprintf(stderr, "jouled: invalid %s '%s': expected %s\n", option, value, expected);
        return EXIT_USAGE_DAEMON;
}

/* Command-line options override the configuration: apply them after it. */
static int apply_options(JouledConfig *c, int argc, char **argv) {
        int opt;

        assert(c);
        assert(argv);

        optind = 1;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                int r = 0;
                switch (opt) {
                case ARG_DB:
                        r = replace(&c->db_path, optarg);
                        break;
                case ARG_INTERVAL: {
                        double v;
                        if (parse_duration_s(optarg, &v) < 0 || v < CONFIG_INTERVAL_MIN_S || v > CONFIG_INTERVAL_MAX_S)
                                return usage_error("--interval", optarg, CONFIG_INTERVAL_ACCEPTED);
                        c->interval_s = v;
                        break;
                }
                case ARG_SOURCE:
                        r = replace(&c->source_spec, optarg);
                        break;
                case ARG_POWERCAP:
                        r = replace(&c->powercap_root, optarg);
                        break;
                case ARG_LISTEN: /* validated as the configuration's Listen= is */
                        if (config_set(c, "Metrics", "Listen", optarg) < 0)
                                return usage_error("--metrics-listen", optarg, "PORT, ADDR:PORT or [ADDR6]:PORT, e.g. 127.0.0.1:9867");
                        break;
                case ARG_TEXTFILE:
                        r = replace(&c->metrics_textfile, optarg);
                        break;
                case ARG_IDLE:
                        if (config_set(c, "Attribution", "IdlePower", optarg) < 0)
                                return usage_error("--idle-power", optarg, "DOMAIN:WATTS, e.g. package-0:4.5");
                        break;
                case ARG_TRACKER:
                        if (config_set(c, "Daemon", "Tracker", optarg) < 0)
                                return usage_error("--tracker", optarg, "auto, bpf or procfs");
                        break;
                case ARG_TRACKER_ACCOUNTING:
                        if (config_set(c, "Daemon", "TrackerAccounting", optarg) < 0)
                                return usage_error("--tracker-accounting", optarg, "auto, iterator or per-switch");
                        break;
                case ARG_PRINT:
                        c->print = true;
                        break;
                case ARG_PROBE:
                        c->probe_only = true;
                        break;
                case ARG_PROC:
                        r = replace(&c->proc_root, optarg);
                        break;
                case ARG_SYS:
                        r = replace(&c->sys_root, optarg);
                        break;
                case ARG_DEV:
                        r = replace(&c->dev_root, optarg);
                        break;
                case ARG_DEBUG:
                        log_set_max_level(LOG_DEBUG);
                        break;
                case ARG_USER:
                        if (config_set(c, "Daemon", "User", optarg) < 0)
                                return usage_error("--user", optarg, "a user name, e.g. jouled");
                        break;
                default:
                        break;
                }
                if (r < 0)
                        return log_oom(), EXIT_FAILURE;
        }
        return 0;
}

/* Log to the journal when our stderr is connected to it (JOURNAL_STREAM). */
static void setup_logging(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        log_set_prefix("jouled");
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        if ((unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino)
                log_open_journal();
}

/* Where jouled says which database it writes, for joulectl to find it
 * without --db: RUNTIME_DIR/db holds the absolute path and a newline.
 * $JOULED_RUNTIME_DIR overrides the directory (tests). */
static const char *runtime_dir(void) {
        const char *e = getenv("JOULED_RUNTIME_DIR");
        return e && *e ? e : "/run/jouled";
}

static void runtime_record_db(const char *db_path, bool record) {
        _cleanup_free_ char *file = path_join(runtime_dir(), "db"), *abs = realpath(db_path, NULL), *old = NULL;
        _cleanup_free_ char *tmp = NULL;
        FILE *f;

        if (!file || !abs)
                return;
        if (!record) {
                /* Removed only while it still names this database. */
                if (read_small_file(file, 4096, &old) >= 0 && streq_ptr(old, abs))
                        (void) unlink(file);
                return;
        }
        (void) mkdir(runtime_dir(), 0755);
        if (asprintf(&tmp, "%s.%d", file, (int) getpid()) < 0)
                return;
        f = fopen(tmp, "we");
        if (!f) {
                log_debug_errno(-errno, "Cannot record the database path in %s: %m", file);
                return;
        }
        (void) fchmod(fileno(f), 0644);
        fprintf(f, "%s\n", abs);
        if (fclose(f) != 0 || rename(tmp, file) < 0) {
                log_debug_errno(-errno, "Cannot record the database path in %s: %m", file);
                (void) unlink(tmp);
        }
}

int main(int argc, char **argv) {
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *config_path = DEFAULT_CONFIG;
        bool explicit_config = false;
        JouledConfig cfg;
        int opt, r;

        setup_logging();

        /* First pass: usage errors, --help, --version and --config. */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_HELP:
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("jouled %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case ARG_CONFIG:
                        config_path = optarg;
                        explicit_config = true;
                        break;
                case '?':
                        if (optopt)
                                fprintf(stderr, "jouled: option '%s' needs a value; see jouled --help\n", argv[optind - 1]);
                        else
                                fprintf(stderr, "jouled: unknown option '%s'; see jouled --help\n", argv[optind - 1]);
                        return EXIT_USAGE_DAEMON;
                default:
                        break;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "jouled: unexpected argument '%s'; jouled takes options only, see jouled --help\n", argv[optind]);
                return EXIT_USAGE_DAEMON;
        }

        config_init_defaults(&cfg);
        if (explicit_config && access(config_path, R_OK) < 0) {
                fprintf(stderr, "jouled: cannot read --config '%s': %s\n", config_path, strerror(errno));
                config_done(&cfg);
                return EXIT_USAGE_DAEMON;
        }
        r = config_load(&cfg, config_path);
        if (r < 0) {
                log_error("Refusing to start with an invalid configuration.");
                config_done(&cfg);
                return EXIT_FAILURE;
        }
        r = apply_options(&cfg, argc, argv);
        if (r != 0) {
                config_done(&cfg);
                return r;
        }

        if (cfg.probe_only) {
                r = manager_probe_print(&cfg, stdout);
                config_done(&cfg);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }

        _cleanup_free_ char *db_path = strdup(cfg.db_path);
        r = manager_new(&cfg, access(config_path, F_OK) >= 0 ? config_path : NULL, &m);
        config_done(&cfg);
        if (r < 0 || !db_path)
                return EXIT_FAILURE;
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        runtime_record_db(db_path, true);
        r = manager_run(m);
        runtime_record_db(db_path, false);
        return r < 0 ? EXIT_FAILURE : r;
}
