/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "metrics-defaults.h"
#include "sanitize.h"
#include "source.h"
#include "store-defaults.h"
#include "timeparse.h"
#include "tracker-accounting.h"
#include "util.h"

void config_init_defaults(JouledConfig *c) {
        assert(c);

        memset(c, 0, sizeof(*c));
        c->db_path = strdup("/var/lib/jouled/jouled.db");
        c->interval_s = 1.0;
        c->powercap_root = strdup("/sys/class/powercap");
        c->proc_root = strdup("/proc");
        c->sys_root = strdup("/sys");
        c->dev_root = strdup("/dev");
        c->source_spec = strdup("auto");
        c->tracker = strdup("auto");
        /* 0: not configured; the model source then uses its CPU table, or
         * MODEL_DEFAULT_MIN_W/MAX_W for a CPU it does not know. */
        c->model_min_w = 0;
        c->model_max_w = 0;
        c->idle_policy = IDLE_POLICY_SEPARATE;
        c->carbon_g_per_kwh = CARBON_DEFAULT_G_PER_KWH;
        c->carbon_source = strdup(CARBON_DEFAULT_SOURCE);
        c->metrics_top_processes = METRICS_DEFAULT_TOP_PROCESSES;
        c->metrics_max_series = METRICS_DEFAULT_MAX_SERIES;
        c->metrics_idle_expiry_ns = METRICS_DEFAULT_IDLE_EXPIRY_NS;
        c->raw_retention_ns = STORE_DEFAULT_RAW_RETENTION_NS;
        c->minute_retention_ns = STORE_DEFAULT_MINUTE_RETENTION_NS;
        c->hour_retention_ns = STORE_DEFAULT_HOUR_RETENTION_NS;
}

void config_done(JouledConfig *c) {
        assert(c);

        free(c->db_path);
        free(c->powercap_root);
        free(c->proc_root);
        free(c->sys_root);
        free(c->dev_root);
        free(c->source_spec);
        free(c->tracker);
        free(c->metrics_listen);
        free(c->metrics_textfile);
        free(c->carbon_source);
        free(c->user);
        memset(c, 0, sizeof(*c));
}

int config_copy(JouledConfig *dst, const JouledConfig *src) {
        char **const fields[] = {
                &dst->db_path, &dst->powercap_root, &dst->proc_root, &dst->sys_root, &dst->dev_root,
                &dst->source_spec, &dst->metrics_listen, &dst->metrics_textfile, &dst->tracker,
                &dst->carbon_source, &dst->user,
        };

        assert(dst);
        assert(src);

        *dst = *src;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                *fields[i] = NULL;
        /* Same order as fields[]. */
        const char *const values[] = {
                src->db_path, src->powercap_root, src->proc_root, src->sys_root, src->dev_root,
                src->source_spec, src->metrics_listen, src->metrics_textfile, src->tracker,
                src->carbon_source, src->user,
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (values[i] && !(*fields[i] = strdup(values[i]))) {
                        config_done(dst);
                        return -ENOMEM;
                }
        return 0;
}

static int set_string(char **field, const char *value) {
        char *s;

        assert(field);
        assert(value);

        s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int set_watts(double *field, const char *value) {
        double v;

        assert(field);
        assert(value);

        if (parse_double(value, &v) < 0 || v < 0 || v > 100000)
                return -EINVAL;
        *field = v;
        return 0;
}

/* "package-0:3.5" */
static int add_idle_override(JouledConfig *c, const char *value) {
        const char *colon;
        double w;

        assert(c);
        assert(value);

        colon = strrchr(value, ':');
        if (!colon || colon == value || (size_t) (colon - value) >= sizeof(c->idle[0].domain))
                return -EINVAL;
        if (parse_double(colon + 1, &w) < 0 || w < 0 || w > 100000)
                return -EINVAL;
        for (size_t i = 0; i < c->n_idle; i++)
                if (strncmp(c->idle[i].domain, value, (size_t) (colon - value)) == 0 &&
                    c->idle[i].domain[colon - value] == 0) {
                        c->idle[i].watts = w;
                        return 0;
                }
        if (c->n_idle >= CONFIG_MAX_IDLE_OVERRIDES)
                return -E2BIG;
        memcpy(c->idle[c->n_idle].domain, value, (size_t) (colon - value));
        c->idle[c->n_idle].domain[colon - value] = 0;
        c->idle[c->n_idle].watts = w;
        c->n_idle++;
        return 0;
}

static char *strip_blanks(char *s) {
        size_t l;

        assert(s);

        s += strspn(s, " \t");
        for (l = strlen(s); l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'); l--)
                s[l - 1] = 0;
        return s;
}

/* Every key the files accept; config_set() refuses the others. The man page
 * jouled.conf(5) and the example packaging/config/jouled.conf are tested
 * against it. */
const ConfigKey config_keys[] = {
        { "Daemon", "Database", "an absolute path" },
        { "Daemon", "Interval", CONFIG_INTERVAL_ACCEPTED },
        { "Daemon", "Source", CONFIG_SOURCE_ACCEPTED },
        { "Daemon", "Tracker", "auto, bpf or procfs" },
        { "Daemon", "TrackerAccounting", "auto, iterator or per-switch" },
        { "Daemon", "PowercapRoot", NULL },
        { "Daemon", "User", "a user name, e.g. jouled" },
        { "Daemon", "StoreCommandLine", "yes or no" },
        { "Model", "MinWattsPerCPU", "watts above 0, at most 1000" },
        { "Model", "MaxWattsPerCPU", "watts above 0, at most 1000" },
        { "Attribution", "IdlePolicy", "separate or shared" },
        { "Attribution", "IdlePower", "DOMAIN:WATTS, e.g. package-0:4.5" },
        { "Metrics", "Listen", "PORT, ADDR:PORT or [ADDR6]:PORT, e.g. 127.0.0.1:9867" },
        { "Metrics", "Textfile", NULL },
        { "Metrics", "TopProcesses", "a number from 0 to 1000" },
        { "Metrics", "MaxSeries", "a number from 100 to 1000000" },
        { "Metrics", "SeriesIdleTimeout", "a duration from 1s to 366d, e.g. 10min" },
        { "Carbon", "IntensityGramsPerKWh", "gCO2e/kWh from 0 to 100000" },
        { "Carbon", "Source", "a text" },
        { "Storage", "RawRetention", RETENTION_ACCEPTED },
        { "Storage", "MinuteRetention", RETENTION_ACCEPTED },
        { "Storage", "HourRetention", RETENTION_ACCEPTED },
};
const size_t config_keys_count = ELEMENTSOF(config_keys);

const ConfigKey *config_key_find(const char *section, const char *key) {
        assert(section);
        assert(key);

        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (strcasecmp(section, config_keys[i].section) == 0 && strcmp(key, config_keys[i].key) == 0)
                        return &config_keys[i];
        return NULL;
}

/* "auto" alone, or a comma list of known sources (blanks around names allowed). */
int config_check_source_spec(const char *value) {
        _cleanup_free_ char *copy = NULL;
        char *state, *tok;

        assert(value);

        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        if (streq_ptr(strip_blanks(copy), "auto"))
                return 0;
        state = copy;
        while ((tok = strsep(&state, ",")))
                if (!source_find(strip_blanks(tok)))
                        return -EINVAL;
        return 0;
}

int config_set(JouledConfig *c, const char *section, const char *key, const char *value) {
        assert(c);
        assert(section);
        assert(key);
        assert(value);

        if (!config_key_find(section, key))
                return -ENOKEY;
#define IS(s, k) (strcasecmp(section, s) == 0 && strcmp(key, k) == 0)
        if (IS("Daemon", "Database"))
                return value[0] == '/' ? set_string(&c->db_path, value) : -EINVAL;
        if (IS("Daemon", "Interval")) {
                double v;
                if (parse_duration_s(value, &v) < 0 || v < CONFIG_INTERVAL_MIN_S || v > CONFIG_INTERVAL_MAX_S)
                        return -EINVAL;
                c->interval_s = v;
                return 0;
        }
        if (IS("Daemon", "Source")) {
                int r = config_check_source_spec(value);
                return r < 0 ? r : set_string(&c->source_spec, value);
        }
        if (IS("Daemon", "Tracker")) {
                if (!streq_ptr(value, "auto") && !streq_ptr(value, "bpf") && !streq_ptr(value, "procfs"))
                        return -EINVAL;
                return set_string(&c->tracker, value);
        }
        if (IS("Daemon", "TrackerAccounting")) {
                int a = tracker_accounting_from_string(value);
                if (a < 0)
                        return -EINVAL;
                c->tracker_accounting = a;
                return 0;
        }
        if (IS("Daemon", "PowercapRoot"))
                return set_string(&c->powercap_root, value);
        if (IS("Model", "MinWattsPerCPU") || IS("Model", "MaxWattsPerCPU")) {
                double *field = strcmp(key, "MinWattsPerCPU") == 0 ? &c->model_min_w : &c->model_max_w;
                double v;
                /* Configured figures are positive: 0 would read as "not configured". */
                if (parse_double(value, &v) < 0 || !(v > 0) || v > 1000)
                        return -EINVAL;
                *field = v;
                return 0;
        }
        if (IS("Attribution", "IdlePolicy")) {
                IdlePolicy p = idle_policy_from_string(value);
                if (p < 0)
                        return -EINVAL;
                c->idle_policy = p;
                return 0;
        }
        if (IS("Attribution", "IdlePower"))
                return add_idle_override(c, value);
        if (IS("Metrics", "Listen")) { /* validated here so a bad one names file and line */
                struct sockaddr_storage sa;
                size_t sa_len;
                if (metrics_parse_listen(value, &sa, &sa_len) < 0)
                        return -EINVAL;
                return set_string(&c->metrics_listen, value);
        }
        if (IS("Metrics", "Textfile"))
                return set_string(&c->metrics_textfile, value);
        if (IS("Daemon", "User")) {
                if (!*value || strlen(value) > 32 || strchr(value, '/') || strchr(value, ':'))
                        return -EINVAL;
                return set_string(&c->user, value);
        }
        if (IS("Metrics", "TopProcesses")) {
                uint64_t n;
                if (parse_u64(value, &n) < 0 || n > 1000)
                        return -EINVAL;
                c->metrics_top_processes = (size_t) n;
                return 0;
        }
        if (IS("Metrics", "MaxSeries")) {
                uint64_t n;
                if (parse_u64(value, &n) < 0 || n < METRICS_MIN_MAX_SERIES || n > 1000000)
                        return -EINVAL;
                c->metrics_max_series = (size_t) n;
                return 0;
        }
        if (IS("Metrics", "SeriesIdleTimeout")) {
                double s;
                if (parse_duration_s(value, &s) < 0 || s < 1 || s > 366.0 * 86400)
                        return -EINVAL;
                c->metrics_idle_expiry_ns = (uint64_t) (s * 1e9);
                return 0;
        }
        if (IS("Carbon", "IntensityGramsPerKWh")) {
                int r = set_watts(&c->carbon_g_per_kwh, value);
                /* A figure without its own Source= no longer comes from the default's source. */
                if (r >= 0 && streq_ptr(c->carbon_source, CARBON_DEFAULT_SOURCE))
                        r = set_string(&c->carbon_source, "jouled.conf [Carbon] IntensityGramsPerKWh=");
                return r;
        }
        if (IS("Carbon", "Source"))
                return value[0] ? set_string(&c->carbon_source, value) : -EINVAL;
        if (IS("Storage", "RawRetention"))
                return parse_retention_ns(value, &c->raw_retention_ns) < 0 ? -EINVAL : 0;
        if (IS("Storage", "MinuteRetention"))
                return parse_retention_ns(value, &c->minute_retention_ns) < 0 ? -EINVAL : 0;
        if (IS("Storage", "HourRetention"))
                return parse_retention_ns(value, &c->hour_retention_ns) < 0 ? -EINVAL : 0;
        if (IS("Daemon", "StoreCommandLine")) {
                if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                        c->store_cmdline = true;
                else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                        c->store_cmdline = false;
                else
                        return -EINVAL;
                return 0;
        }
#undef IS
        return -ENOKEY;
}

/* One load: the main file and its drop-ins, into one configuration. */
typedef struct ParseState {
        JouledConfig *config;
        const char *path;             /* the file and line being parsed */
        unsigned line;
        char section[64];             /* the current [Section]; "" before the first */
        char where_min_w[PATH_MAX + 16]; /* "FILE:LINE" of the last MinWattsPerCPU=, for the check across files */
        char where_max_w[PATH_MAX + 16];
        char error[512];              /* what was wrong on the line, logged with FILE:LINE */
} ParseState;

static int config_handle(ParseState *st, const char *key, const char *value) {
        _cleanup_free_ char *k = NULL, *v = NULL;
        const ConfigKey *ck;
        int r;

        assert(st);
        assert(key);
        assert(value);

        r = config_set(st->config, st->section, key, value);
        if (r >= 0) {
                char *where = NULL;
                if (strcasecmp(st->section, "Model") == 0)
                        where = streq_ptr(key, "MinWattsPerCPU") ? st->where_min_w :
                                streq_ptr(key, "MaxWattsPerCPU") ? st->where_max_w : NULL;
                if (where)
                        snprintf(where, sizeof(st->where_min_w), "%s:%u", st->path, st->line);
                return 0;
        }
        k = text_escape(key);
        v = text_escape(value);
        if (!k || !v)
                return -ENOMEM;
        if (r == -ENOKEY) {
                snprintf(st->error, sizeof(st->error), "unknown key '%s' in section [%s]", k, st->section);
                return -EINVAL;
        }
        ck = config_key_find(st->section, key);
        snprintf(st->error, sizeof(st->error), "invalid value '%s' for %s= in section [%s]%s%s%s",
                 v, k, st->section,
                 r == -E2BIG ? " (too many entries)" : "",
                 ck && ck->accepted ? ": expected " : "", ck && ck->accepted ? ck->accepted : "");
        return -EINVAL;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char *strip(char *s) {
        size_t l;

        assert(s);

        while (is_blank(*s))
                s++;
        for (l = strlen(s); l > 0 && is_blank(s[l - 1]); l--)
                s[l - 1] = 0;
        return s;
}

/* A '#' or ';' after a blank starts a comment, in values and after section
 * headers alike; cut it off. */
static void cut_inline_comment(char *s) {
        assert(s);

        for (char *p = s; *p; p++)
                if ((*p == '#' || *p == ';') && p > s && is_blank(p[-1])) {
                        *p = 0;
                        return;
                }
}

/* One line, NUL-terminated, without its newline. 0, or -EINVAL with st->error. */
static int config_parse_line(ParseState *st, char *line) {
        char *p = strip(line), *eq;

        assert(st);

        if (!*p || *p == '#' || *p == ';')
                return 0;
        if (*p == '[') {
                char *end = strchr(p, ']');
                size_t l;

                if (!end) {
                        snprintf(st->error, sizeof(st->error), "syntax error: '[' without ']' in a section header");
                        return -EINVAL;
                }
                *end = 0;
                cut_inline_comment(end + 1);
                if (*strip(end + 1)) {
                        snprintf(st->error, sizeof(st->error), "syntax error: text after the section header's ']'");
                        return -EINVAL;
                }
                p = strip(p + 1);
                l = strlen(p);
                if (l == 0 || l >= sizeof(st->section)) {
                        snprintf(st->error, sizeof(st->error), "syntax error: a section name of 1 to %zu characters",
                                 sizeof(st->section) - 1);
                        return -EINVAL;
                }
                memcpy(st->section, p, l + 1);
                return 0;
        }
        eq = strchr(p, '=');
        if (!eq || eq == p) {
                snprintf(st->error, sizeof(st->error), "syntax error: expected [Section], Key=Value or a comment");
                return -EINVAL;
        }
        if (!st->section[0]) {
                snprintf(st->error, sizeof(st->error), "Key=Value before any [Section] header");
                return -EINVAL;
        }
        *eq = 0;
        p = strip(p);
        eq = eq + 1;
        while (is_blank(*eq))
                eq++;
        cut_inline_comment(eq);
        return config_handle(st, p, strip(eq));
}

/* The whole file, if it is a regular file of at most CONFIG_MAX_FILE_SIZE
 * bytes. Opened without blocking: a FIFO or a device named as configuration
 * (or linked to as a drop-in) is refused, never read. -errno from open(), or
 * -EINVAL with st->error. */
static int config_read(ParseState *st, const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        struct stat sb;

        assert(st);
        assert(path);
        assert(ret);
        assert(ret_size);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &sb) < 0)
                return -errno;
        if (!S_ISREG(sb.st_mode)) {
                snprintf(st->error, sizeof(st->error), "not a regular file (%s): configuration is read from regular files only",
                         S_ISDIR(sb.st_mode) ? "a directory" : S_ISFIFO(sb.st_mode) ? "a FIFO" :
                         S_ISCHR(sb.st_mode) ? "a character device" : S_ISBLK(sb.st_mode) ? "a block device" :
                         S_ISSOCK(sb.st_mode) ? "a socket" : "not a file");
                return -EINVAL;
        }
        buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + size, CONFIG_MAX_FILE_SIZE + 1 - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > CONFIG_MAX_FILE_SIZE) {
                        snprintf(st->error, sizeof(st->error), "larger than %d bytes: refused", CONFIG_MAX_FILE_SIZE);
                        return -EINVAL;
                }
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* Parse one file into st. Errors of the file's content are logged as
 * FILE[:LINE]: … and return -EINVAL; open() errors are returned unlogged. */
static int config_parse_into(ParseState *st, const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, off = 0;
        unsigned line = 0;
        int r;

        assert(st);
        assert(path);

        st->section[0] = 0;
        st->error[0] = 0;
        r = config_read(st, path, &buf, &size);
        if (r == -EINVAL)
                return log_error_errno(r, "%s: %s", path, st->error);
        if (r < 0)
                return r;
        /* A UTF-8 byte order mark is allowed at the start. */
        if (size >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
                off = 3;
        while (off < size) {
                char *s = buf + off, *nl = memchr(s, '\n', size - off);
                size_t len = nl ? (size_t) (nl - s) : size - off;

                line++;
                off += len + 1;
                if (len > CONFIG_MAX_LINE)
                        return log_error_errno(-EINVAL, "%s:%u: line longer than %d bytes: refused, not split",
                                               path, line, CONFIG_MAX_LINE);
                if (memchr(s, 0, len))
                        return log_error_errno(-EINVAL, "%s:%u: NUL byte in the line", path, line);
                s[len] = 0; /* the newline, or the byte past the end of what was read */
                st->path = path;
                st->line = line;
                r = config_parse_line(st, s);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "%s:%u: %s", path, line, st->error);
        }
        return 0;
}

/* Checks across keys, once every file is read. */
static int config_check(const ParseState *st) {
        const JouledConfig *c;

        assert(st);
        c = st->config;
        if (c->model_min_w > 0 && c->model_max_w > 0 && c->model_min_w > c->model_max_w)
                return log_error_errno(-EINVAL, "%s: MinWattsPerCPU=%g is above MaxWattsPerCPU=%g (set at %s) in section [Model]",
                                       st->where_min_w[0] ? st->where_min_w : "?", c->model_min_w, c->model_max_w,
                                       st->where_max_w[0] ? st->where_max_w : "?");
        return 0;
}

int config_parse_file(JouledConfig *c, const char *path) {
        ParseState st = { .config = c };
        int r;

        assert(c);
        assert(path);

        r = config_parse_into(&st, path);
        if (r < 0)
                return r;
        return config_check(&st);
}

static int conf_filter(const struct dirent *de) {
        return de->d_name[0] != '.' && endswith(de->d_name, ".conf");
}

int config_load(JouledConfig *c, const char *path) {
        _cleanup_free_ ParseState *st = NULL;
        _cleanup_free_ char *dropins = NULL;
        struct dirent **names = NULL;
        int r, n;

        assert(c);
        assert(path);

        st = calloc(1, sizeof(*st));
        if (!st)
                return log_oom();
        st->config = c;
        r = config_parse_into(st, path);
        if (r < 0 && r != -ENOENT)
                return r == -EINVAL ? r : log_error_errno(r, "Failed to open %s: %m", path);

        if (asprintf(&dropins, "%s.d", path) < 0)
                return log_oom();
        n = scandir(dropins, &names, conf_filter, alphasort);
        if (n < 0)
                return config_check(st);
        r = 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = path_join(dropins, names[i]->d_name);
                if (r >= 0) {
                        if (!p)
                                r = log_oom();
                        else {
                                r = config_parse_into(st, p);
                                if (r < 0 && r != -EINVAL)
                                        log_error_errno(r, "Failed to open %s: %m", p);
                        }
                }
                free(names[i]);
        }
        free(names);
        return r < 0 ? r : config_check(st);
}
