/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "log.h"
#include "metrics-defaults.h"
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

int config_set(JouledConfig *c, const char *section, const char *key, const char *value) {
        assert(c);
        assert(section);
        assert(key);
        assert(value);

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
        if (IS("Daemon", "Source"))
                return set_string(&c->source_spec, value);
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

typedef struct ParseState {
        JouledConfig *config;
        char error[512];
} ParseState;

/* What a key accepts, for the error about a bad value; NULL where the key's
 * name says enough. */
static const char *config_expected(const char *section, const char *key) {
        if (strcasecmp(section, "Daemon") == 0 && strcmp(key, "Interval") == 0)
                return CONFIG_INTERVAL_ACCEPTED;
        if (strcasecmp(section, "Storage") == 0 &&
            (strcmp(key, "RawRetention") == 0 || strcmp(key, "MinuteRetention") == 0 ||
             strcmp(key, "HourRetention") == 0))
                return RETENTION_ACCEPTED;
        return NULL;
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value) {
        ParseState *st = user;
        int r;

        assert(st);

        if (!name) /* a section header alone */
                return 1;
        r = config_set(st->config, section, name, value);
        if (r >= 0)
                return 1;
        if (st->error[0])
                return 0;
        if (r == -ENOKEY)
                snprintf(st->error, sizeof(st->error), "unknown key '%s' in section [%s]", name, section);
        else {
                const char *expected = config_expected(section, name);
                snprintf(st->error, sizeof(st->error), "invalid value '%s' for %s= in section [%s]%s%s%s",
                         value, name, section,
                         r == -E2BIG ? " (too many entries)" : "",
                         expected ? ": expected " : "", expected ?: "");
        }
        return 0;
}

int config_parse_file(JouledConfig *c, const char *path) {
        ParseState st = { .config = c };
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        int line;

        assert(c);
        assert(path);

        if (!f)
                return -errno;
        line = ini_parse_file(f, config_ini_handler, &st);
        if (line < 0)
                return log_error_errno(-EIO, "%s: cannot read configuration", path);
        if (line > 0) {
                if (st.error[0])
                        log_error("%s:%d: %s", path, line, st.error);
                else
                        log_error("%s:%d: syntax error: expected [Section] or Key=Value", path, line);
                return -EINVAL;
        }
        return 0;
}

static int conf_filter(const struct dirent *de) {
        return de->d_name[0] != '.' && endswith(de->d_name, ".conf");
}

int config_load(JouledConfig *c, const char *path) {
        _cleanup_free_ char *dropins = NULL;
        struct dirent **names = NULL;
        int r, n;

        assert(c);
        assert(path);

        r = config_parse_file(c, path);
        if (r < 0 && r != -ENOENT)
                return r == -EINVAL ? r : log_error_errno(r, "Failed to open %s: %m", path);

        if (asprintf(&dropins, "%s.d", path) < 0)
                return log_oom();
        n = scandir(dropins, &names, conf_filter, alphasort);
        if (n < 0)
                return 0;
        r = 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = path_join(dropins, names[i]->d_name);
                if (r >= 0) {
                        if (!p)
                                r = log_oom();
                        else {
                                r = config_parse_file(c, p);
                                if (r < 0 && r != -EINVAL)
                                        log_error_errno(r, "Failed to open %s: %m", p);
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}
