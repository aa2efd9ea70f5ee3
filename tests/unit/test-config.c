/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "config.h"
#include "source.h"
#include "tracker.h"
#include "test-helpers.h"
#include "util.h"
#include "test-fixture.h"

/* Run config_load with stderr captured; returns what was logged. */
static char *load_capturing(JouledConfig *c, const char *name, int *ret) {
        char p[512], logp[512];
        int saved = dup(2), fd;
        char *out = NULL;

        snprintf(p, sizeof(p), "%s/%s", fx_dir, name);
        snprintf(logp, sizeof(logp), "%s/stderr.log", fx_dir);
        fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        dup2(fd, 2);
        *ret = config_load(c, p);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(fd);
        assert_int_equal(read_small_file(logp, 65536, &out), 0);
        return out;
}

static void test_defaults(void **state) {
        JouledConfig c;
        config_init_defaults(&c);
        assert_string_equal(c.db_path, "/var/lib/jouled/jouled.db");
        assert_double_equal(c.interval_s, 1.0, 0);
        assert_string_equal(c.source_spec, "auto");
        assert_string_equal(c.powercap_root, "/sys/class/powercap");
        assert_null(c.metrics_listen);
        assert_double_equal(c.model_min_w, 0, 0); /* not configured: the model's table decides */
        assert_double_equal(c.model_max_w, 0, 0);
        assert_int_equal(c.idle_policy, IDLE_POLICY_SEPARATE);
        assert_double_equal(c.carbon_g_per_kwh, 480, 0);
        assert_string_equal(c.carbon_source, CARBON_DEFAULT_SOURCE);
        assert_int_equal(c.tracker_accounting, TRACKER_ACCOUNTING_AUTO);
        config_done(&c);
}

static void test_tracker_accounting(void **state) {
        static const struct {
                const char *value;
                int want;
        } cases[] = {
                { "auto", TRACKER_ACCOUNTING_AUTO },
                { "iterator", TRACKER_ACCOUNTING_ITERATOR },
                { "per-switch", TRACKER_ACCOUNTING_PER_SWITCH },
        };
        JouledConfig c;

        config_init_defaults(&c);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(config_set(&c, "Daemon", "TrackerAccounting", cases[i].value), 0);
                assert_int_equal(c.tracker_accounting, cases[i].want);
                assert_string_equal(tracker_accounting_to_string(cases[i].want), cases[i].value);
        }
        /* Unknown or differently spelled: refused, the last good value stays. */
        assert_int_equal(config_set(&c, "Daemon", "TrackerAccounting", "perswitch"), -EINVAL);
        assert_int_equal(config_set(&c, "Daemon", "TrackerAccounting", ""), -EINVAL);
        assert_int_equal(c.tracker_accounting, TRACKER_ACCOUNTING_PER_SWITCH);
        assert_null(tracker_accounting_to_string(7));
        config_done(&c);
}

static void test_file_and_dropins(void **state) {
        JouledConfig c;
        char *log;
        int r;
        char d[300];

        fx_write("jouled.conf",
                 "# comment\n"
                 "[Daemon]\n"
                 "Database=/srv/j.db\n"
                 "Interval=0.5\n"
                 "Source=rapl,model\n"
                 "\n"
                 "[Attribution]\n"
                 "IdlePolicy=shared\n"
                 "IdlePower=package-0:4.5\n"
                 "[Model]\n"
                 "MaxWattsPerCPU=5\n"
                 "[Carbon]\n"
                 "IntensityGramsPerKWh=56\n");
        snprintf(d, sizeof(d), "%s/jouled.conf.d", fx_dir);
        assert_int_equal(mkdir(d, 0755), 0);
        fx_write("jouled.conf.d/20-late.conf", "[Daemon]\nInterval=2\n");
        fx_write("jouled.conf.d/10-early.conf", "[Daemon]\nInterval=3\n[Attribution]\nIdlePower=package-0:1.25\nIdlePower=dram-0:2\n");
        fx_write("jouled.conf.d/ignored.txt", "garbage that is not read\n");

        config_init_defaults(&c);
        log = load_capturing(&c, "jouled.conf", &r);
        assert_int_equal(r, 0);
        assert_string_equal(log, "");
        assert_string_equal(c.db_path, "/srv/j.db");
        assert_double_equal(c.interval_s, 2.0, 0); /* 20-late.conf is read last */
        assert_string_equal(c.source_spec, "rapl,model");
        assert_int_equal(c.idle_policy, IDLE_POLICY_SHARED);
        assert_double_equal(c.model_max_w, 5.0, 0);
        assert_int_equal(c.n_idle, 2);
        assert_string_equal(c.idle[0].domain, "package-0");
        assert_double_equal(c.idle[0].watts, 1.25, 0);
        assert_string_equal(c.idle[1].domain, "dram-0");
        /* A figure of one's own is no longer labelled with the default's source. */
        assert_double_equal(c.carbon_g_per_kwh, 56, 0);
        assert_string_equal(c.carbon_source, "jouled.conf [Carbon] IntensityGramsPerKWh=");
        assert_int_equal(config_set(&c, "Carbon", "Source", "RTE eco2mix, France 2025 average"), 0);
        assert_string_equal(c.carbon_source, "RTE eco2mix, France 2025 average");

        /* A deep copy survives the original. */
        JouledConfig copy;
        assert_int_equal(config_copy(&copy, &c), 0);
        free(log);
        config_done(&c);
        assert_string_equal(copy.db_path, "/srv/j.db");
        assert_string_equal(copy.carbon_source, "RTE eco2mix, France 2025 average");
        config_done(&copy);
}

static void test_missing_file_is_fine(void **state) {
        JouledConfig c;
        int r;
        char *log;

        config_init_defaults(&c);
        log = load_capturing(&c, "does-not-exist.conf", &r);
        assert_int_equal(r, 0);
        assert_string_equal(c.source_spec, "auto");
        free(log);
        config_done(&c);
}

static void test_bad_key_names_file_and_line(void **state) {
        JouledConfig c;
        char *log;
        int r;

        fx_write("bad.conf", "[Daemon]\nInterval=1\n\nIntervall=2\n");
        config_init_defaults(&c);
        log = load_capturing(&c, "bad.conf", &r);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(log, "bad.conf:4: unknown key 'Intervall' in section [Daemon]"));
        free(log);
        config_done(&c);
}

static void test_bad_values(void **state) {
        static const char *const bad[] = {
                "[Daemon]\nInterval=fast\n",
                "[Daemon]\nInterval=-1\n",
                "[Daemon]\nInterval=0\n",
                "[Daemon]\nDatabase=relative.db\n",
                "[Daemon]\nTracker=ebpf\n",
                "[Daemon]\nTrackerAccounting=sometimes\n",
                "[Attribution]\nIdlePolicy=sometimes\n",
                "[Attribution]\nIdlePower=package-0\n",
                "[Attribution]\nIdlePower=package-0:-3\n",
                "[Model]\nMinWattsPerCPU=1e400\n",
                "[Model]\nMaxWattsPerCPU=0\n",
                "[Model]\nMinWattsPerCPU=5\nMaxWattsPerCPU=1\n",
                "[Daemon]\nSource=bogus\n",
                "[Daemon]\nSource=rapl,,model\n",
                "[Daemon]\nSource=auto,rapl\n",
                "[Daemon]\nInterval: 2\n",
                "[Daemon] junk\nInterval=2\n",
                "Interval=2\n",
                "[Daemon\nInterval=2\n",
                "[]\nInterval=2\n",
                "[Nope]\nKey=1\n",
                "no section line\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                JouledConfig c;
                char *log;
                int r;

                fx_write("v.conf", "%s", bad[i]);
                config_init_defaults(&c);
                log = load_capturing(&c, "v.conf", &r);
                if (r != -EINVAL)
                        print_error("accepted: %s\n", bad[i]);
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(log, "v.conf:"));
                /* Nothing half-applied that matters: defaults stay for what failed. */
                assert_double_equal(c.interval_s, 1.0, 0);
                free(log);
                config_done(&c);
        }
}


/* The file v.conf holding exactly len bytes of data (NULs included). */
static void write_bytes(const char *name, const char *data, size_t len) {
        char p[512];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", fx_dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
}

/* A line libinih used to split at 199 bytes is one value; a line over the
 * limit is refused with FILE:LINE, not cut into a second key. */
static void test_long_lines(void **state) {
        char line[CONFIG_MAX_LINE + 64], want[CONFIG_MAX_LINE + 64];
        JouledConfig c;
        char *log;
        int r;

        /* 199 bytes before "Interval": where libinih cut the line in two. */
        snprintf(want, sizeof(want), "/tmp/%0185dInterval=0.07", 0);
        fx_write("v.conf", "[Daemon]\nDatabase=%s\n", want);
        config_init_defaults(&c);
        log = load_capturing(&c, "v.conf", &r);
        assert_int_equal(r, 0);
        assert_string_equal(c.db_path, want);
        assert_double_equal(c.interval_s, 1.0, 0);
        free(log);
        config_done(&c);

        /* One byte over the limit, the second key at the end. */
        snprintf(line, sizeof(line), "Database=/tmp/%0*dInterval=0.07", CONFIG_MAX_LINE - 14 - 13 + 1, 0);
        assert_int_equal(strlen(line), CONFIG_MAX_LINE + 1);
        fx_write("v.conf", "[Daemon]\n%s\nTracker=procfs\n", line);
        config_init_defaults(&c);
        log = load_capturing(&c, "v.conf", &r);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(log, "v.conf:2: line longer than 4096 bytes"));
        assert_double_equal(c.interval_s, 1.0, 0);
        assert_string_equal(c.db_path, "/var/lib/jouled/jouled.db");
        free(log);
        config_done(&c);

        /* Exactly at the limit, with CRLF, without a final newline: read whole. */
        snprintf(line, sizeof(line), "Database=/%0*d", CONFIG_MAX_LINE - 10, 0);
        assert_int_equal(strlen(line), CONFIG_MAX_LINE);
        fx_write("v.conf", "[Daemon]\r\n%s", line);
        config_init_defaults(&c);
        log = load_capturing(&c, "v.conf", &r);
        assert_int_equal(r, 0);
        assert_string_equal(c.db_path, line + strlen("Database="));
        free(log);
        config_done(&c);
}

/* A NUL byte does not end the file early: refused with its line. */
static void test_nul_byte(void **state) {
        static const char data[] = "[Daemon]\nInterval=2\0\nInterval=0.07\n";
        JouledConfig c;
        char *log;
        int r;

        write_bytes("v.conf", data, sizeof(data) - 1);
        config_init_defaults(&c);
        log = load_capturing(&c, "v.conf", &r);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(log, "v.conf:2: NUL byte"));
        free(log);
        config_done(&c);
}

/* Indented lines are lines of their own (no continuation of the value
 * above), and '#' or ';' after a blank starts a comment, as documented. */
static void test_comments_and_indentation(void **state) {
        JouledConfig c;
        char *log;
        int r;

        fx_write("v.conf",
                 "\xef\xbb\xbf# first line after a byte order mark\n"
                 "[Daemon] # the daemon\n"
                 "  Interval = 2s # two seconds\n"
                 "\tTracker=procfs ; polling\n"
                 "[Carbon]\n"
                 "Source=RTE#2025;France\n"
                 "    IntensityGramsPerKWh=56\n"
                 "; the end\n");
        config_init_defaults(&c);
        log = load_capturing(&c, "v.conf", &r);
        assert_string_equal(log, "");
        assert_int_equal(r, 0);
        assert_double_equal(c.interval_s, 2.0, 0);
        assert_string_equal(c.tracker, "procfs");
        assert_string_equal(c.carbon_source, "RTE#2025;France");
        assert_double_equal(c.carbon_g_per_kwh, 56, 0);
        free(log);
        config_done(&c);
}

/* Values the start would refuse are refused with FILE:LINE when read. */
static void test_value_errors_name_file_and_line(void **state) {
        static const struct {
                const char *text, *want;
        } cases[] = {
                { "[Daemon]\nInterval=1\nSource=bogus\n",
                  "v.conf:3: invalid value 'bogus' for Source= in section [Daemon]: expected auto, or a comma list of" },
                { "[Model]\nMinWattsPerCPU=5\n\nMaxWattsPerCPU=1\n",
                  "v.conf:2: MinWattsPerCPU=5 is above MaxWattsPerCPU=1 (set at " },
                { "[Daemon]\nSource=rapl\n  Interval=0\n", "v.conf:3: invalid value '0' for Interval=" },
                { "[Daemon]\nInterval=\x1b[31mx\n", "v.conf:2: invalid value '\\e[31mx' for Interval=" },
                { "[Daemon]\nInterval: 2\n", "v.conf:2: syntax error" },
                { "Interval=2\n", "v.conf:1: Key=Value before any [Section]" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                JouledConfig c;
                char *log;
                int r;

                fx_write("v.conf", "%s", cases[i].text);
                config_init_defaults(&c);
                log = load_capturing(&c, "v.conf", &r);
                if (!strstr(log, cases[i].want))
                        print_error("for %s got: %s\n", cases[i].text, log);
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(log, cases[i].want));
                free(log);
                config_done(&c);
        }
}

/* The model's watts are checked together once every file is read: a drop-in
 * may lower both. */
static void test_model_watts_across_files(void **state) {
        char d[300];
        JouledConfig c;
        char *log;
        int r;

        fx_write("jouled.conf", "[Model]\nMinWattsPerCPU=2\nMaxWattsPerCPU=4\n");
        snprintf(d, sizeof(d), "%s/jouled.conf.d", fx_dir);
        assert_int_equal(mkdir(d, 0755), 0);
        fx_write("jouled.conf.d/10-low.conf", "[Model]\nMaxWattsPerCPU=1\nMinWattsPerCPU=0.5\n");
        config_init_defaults(&c);
        log = load_capturing(&c, "jouled.conf", &r);
        assert_int_equal(r, 0);
        assert_double_equal(c.model_min_w, 0.5, 0);
        assert_double_equal(c.model_max_w, 1, 0);
        free(log);
        config_done(&c);

        fx_write("jouled.conf.d/20-high.conf", "[Model]\nMinWattsPerCPU=3\n");
        config_init_defaults(&c);
        log = load_capturing(&c, "jouled.conf", &r);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(log, "20-high.conf:2: MinWattsPerCPU=3 is above MaxWattsPerCPU=1 (set at "));
        assert_non_null(strstr(log, "10-low.conf:2)"));
        free(log);
        config_done(&c);
}

static void on_alarm(int sig) {
        (void) sig;
        static const char msg[] = "config_load blocked on a file that is not a regular file\n";
        (void) !write(2, msg, sizeof(msg) - 1);
        _exit(1);
}

/* A FIFO, a link to /dev/zero, a directory: refused at once, by name. */
static void test_only_regular_files(void **state) {
        static const char *const kinds[] = { "fifo", "zero", "dir" };
        char d[300], p[400];

        snprintf(d, sizeof(d), "%s/jouled.conf.d", fx_dir);
        assert_int_equal(mkdir(d, 0755), 0);
        fx_write("jouled.conf", "[Daemon]\nInterval=2\n");
        signal(SIGALRM, on_alarm);
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                JouledConfig c;
                char *log;
                int r;

                snprintf(p, sizeof(p), "%s/50-%s.conf", d, kinds[i]);
                if (i == 0)
                        assert_int_equal(mkfifo(p, 0644), 0);
                else if (i == 1)
                        assert_int_equal(symlink("/dev/zero", p), 0);
                else
                        assert_int_equal(mkdir(p, 0755), 0);
                config_init_defaults(&c);
                alarm(10);
                log = load_capturing(&c, "jouled.conf", &r);
                alarm(0);
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(log, p));
                assert_non_null(strstr(log, "not a regular file"));
                /* One line. */
                assert_true(!strchr(log, '\n') || strchr(log, '\n')[1] == 0);
                free(log);
                config_done(&c);
                if (i == 2)
                        assert_int_equal(rmdir(p), 0);
                else
                        assert_int_equal(unlink(p), 0);
        }
        /* The main file too. */
        {
                JouledConfig c;
                char *log;
                int r;

                snprintf(p, sizeof(p), "%s/main-fifo.conf", fx_dir);
                assert_int_equal(mkfifo(p, 0644), 0);
                config_init_defaults(&c);
                alarm(10);
                log = load_capturing(&c, "main-fifo.conf", &r);
                alarm(0);
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(log, "main-fifo.conf: not a regular file (a FIFO)"));
                free(log);
                config_done(&c);
        }
        signal(SIGALRM, SIG_DFL);
}

/* A file over the size limit is refused, not read in part. */
static void test_file_too_large(void **state) {
        size_t n = CONFIG_MAX_FILE_SIZE + 1;
        char *big = malloc(n);
        JouledConfig c;
        char *log;
        int r;

        assert_non_null(big);
        memset(big, '\n', n);
        memcpy(big, "[Daemon]\nInterval=2\n", 20);
        write_bytes("v.conf", big, n);
        free(big);
        config_init_defaults(&c);
        log = load_capturing(&c, "v.conf", &r);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(log, "v.conf: larger than"));
        free(log);
        config_done(&c);
}

/* The key table is what config_set() accepts: a key outside it is unknown,
 * each key in it is known (a bad value is -EINVAL, not -ENOKEY). */
static void test_key_table(void **state) {
        JouledConfig c;

        config_init_defaults(&c);
        assert_true(config_keys_count >= 20);
        for (size_t i = 0; i < config_keys_count; i++) {
                assert_ptr_equal(config_key_find(config_keys[i].section, config_keys[i].key), &config_keys[i]);
                assert_int_not_equal(config_set(&c, config_keys[i].section, config_keys[i].key, "\x01"), -ENOKEY);
        }
        assert_int_equal(config_set(&c, "Daemon", "Intervall", "1"), -ENOKEY);
        assert_int_equal(config_set(&c, "Daemon", "interval", "1"), -ENOKEY);
        assert_int_equal(config_set(&c, "Storage", "Database", "/x"), -ENOKEY);
        assert_int_equal(config_set(&c, "daemon", "Interval", "2"), 0);
        config_done(&c);
}

typedef struct DocKey {
        char section[32];
        char key[64];
} DocKey;

static bool doc_has(const DocKey *keys, size_t n, const char *section, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
                        return true;
        return false;
}

static char *source_file(const char *rel) {
        const char *root = getenv("JOULED_SOURCE_ROOT");
        char p[1024];
        char *text = NULL;

        assert_non_null(root);
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(read_small_file(p, 1 << 20, &text), 0);
        return text;
}

/* Both directions: every key of config_keys[] is documented in jouled.conf(5)
 * and in the example configuration (commented out), and every key either
 * documents is in config_keys[]. */
static void check_docs_against_table(const DocKey *doc, size_t n, const char *what) {
        for (size_t i = 0; i < config_keys_count; i++)
                if (!doc_has(doc, n, config_keys[i].section, config_keys[i].key)) {
                        print_error("[%s] %s= is accepted but not in %s\n", config_keys[i].section, config_keys[i].key, what);
                        fail();
                }
        for (size_t i = 0; i < n; i++)
                if (!config_key_find(doc[i].section, doc[i].key)) {
                        print_error("[%s] %s= is in %s but not accepted\n", doc[i].section, doc[i].key, what);
                        fail();
                }
}

static void test_man_page_matches_keys(void **state) {
        _cleanup_free_ char *text = source_file("packaging/man/jouled.conf.5");
        DocKey doc[128];
        char section[32] = "";
        size_t n = 0;
        const char *source_entry;
        size_t n_sources;
        const EnergySourceOps *const *sources = source_all(&n_sources);

        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char sec[32], key[64];
                if (sscanf(line, ".SH \"[%31[A-Za-z]] SECTION\"", sec) == 1)
                        snprintf(section, sizeof(section), "%s", sec);
                else if (strncmp(line, ".SH", 3) == 0)
                        section[0] = 0;
                else if (section[0] && sscanf(line, ".BI %63[A-Za-z]=", key) == 1 && strchr(line, '=')) {
                        assert_true(n < ELEMENTSOF(doc));
                        snprintf(doc[n].section, sizeof(doc[n].section), "%s", section);
                        snprintf(doc[n].key, sizeof(doc[n].key), "%s", key);
                        n++;
                }
        }
        check_docs_against_table(doc, n, "jouled.conf(5)");

        /* [Daemon] Source= lists every source. */
        free(text);
        text = source_file("packaging/man/jouled.conf.5");
        source_entry = strstr(text, ".BI Source= LIST");
        assert_non_null(source_entry);
        for (size_t i = 0; i < n_sources; i++) {
                char want[64];
                snprintf(want, sizeof(want), "\\fB%s\\fR", sources[i]->name);
                if (!strstr(source_entry, want) || strstr(source_entry, want) > strstr(source_entry, ".TP")) {
                        print_error("Source= in jouled.conf(5) does not list %s\n", sources[i]->name);
                        fail();
                }
                assert_non_null(strstr(CONFIG_SOURCE_ACCEPTED, sources[i]->name));
        }
}

/* The example lists every key, commented out, and its values are accepted. */
static void test_example_config_matches_keys(void **state) {
        _cleanup_free_ char *text = source_file("packaging/config/jouled.conf");
        FILE *f;
        DocKey doc[128];
        char section[32] = "", path[512];
        size_t n = 0;
        JouledConfig c;
        char *log;
        int r;

        snprintf(path, sizeof(path), "%s/example.conf", fx_dir);
        f = fopen(path, "we");
        assert_non_null(f);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char sec[32], key[64];
                if (sscanf(line, "[%31[A-Za-z]]", sec) == 1) {
                        snprintf(section, sizeof(section), "%s", sec);
                        fprintf(f, "%s\n", line);
                } else if (line[0] == '#' && sscanf(line + 1, "%63[A-Za-z]=", key) == 1 && strchr(line, '=')) {
                        assert_true(section[0]);
                        assert_true(n < ELEMENTSOF(doc));
                        snprintf(doc[n].section, sizeof(doc[n].section), "%s", section);
                        snprintf(doc[n].key, sizeof(doc[n].key), "%s", key);
                        n++;
                        if (strchr(line, '=')[1]) /* an empty value (User=) means unset */
                                fprintf(f, "%s\n", line + 1);
                } else
                        assert_true(line[0] == '#' || line[0] == 0);
        }
        assert_int_equal(fclose(f), 0);
        check_docs_against_table(doc, n, "packaging/config/jouled.conf");

        config_init_defaults(&c);
        log = load_capturing(&c, "example.conf", &r);
        if (r != 0)
                print_error("the example's values, uncommented: %s\n", log);
        assert_int_equal(r, 0);
        free(log);
        config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_tracker_accounting),
                cmocka_unit_test_setup_teardown(test_file_and_dropins, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_missing_file_is_fine, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_bad_key_names_file_and_line, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_bad_values, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_long_lines, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_nul_byte, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_comments_and_indentation, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_value_errors_name_file_and_line, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_model_watts_across_files, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_only_regular_files, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_file_too_large, fx_setup, fx_teardown),
                cmocka_unit_test(test_key_table),
                cmocka_unit_test(test_man_page_matches_keys),
                cmocka_unit_test_setup_teardown(test_example_config_matches_keys, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
