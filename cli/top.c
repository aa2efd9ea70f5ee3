/* SPDX-License-Identifier: GPL-2.0-or-later */
/* joulectl top: a live view of the database the running daemon writes.
 *
 * Each refresh reads the intervals stored since the previous one (the first
 * screen: the intervals that ended within the last --delay, at least the
 * latest one). POWER is a row's energy over those intervals divided by their
 * length; ENERGY is its energy since top started (with --once: over the
 * shown window); CPU% is its CPU time over the window's length (100% = one
 * CPU). The header shows the host's measured power over the same window and
 * its sources, with "estimated" where a source is a model. WAKE/S is a
 * row's wakeups (voluntary context switches of its threads, samples.wakeups)
 * over the window divided by its length.
 *
 * Only raw intervals (level 0) are read: rollups of the same moments would
 * count them twice.
 *
 * Keys: p power, e energy, c cpu, w wakeups, n name, Tab next sort key,
 * b next grouping, q or Ctrl-C quit. --once prints one screen on stdout, without ncurses. */

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-util.h"
#include "string-table.h"
#include "sanitize.h"
#include "timeparse.h"
#include "util.h"
#include "verbs.h"

typedef enum TopSort {
        TOP_SORT_POWER,
        TOP_SORT_ENERGY,
        TOP_SORT_CPU,
        TOP_SORT_NAME,
        TOP_SORT_WAKEUPS,
        _TOP_SORT_MAX,
        _TOP_SORT_INVALID = -1,
} TopSort;

static const char *const top_sort_table[] = {
        [TOP_SORT_POWER] = "power",
        [TOP_SORT_ENERGY] = "energy",
        [TOP_SORT_CPU] = "cpu",
        [TOP_SORT_NAME] = "name",
        [TOP_SORT_WAKEUPS] = "wakeups",
};
DEFINE_PRIVATE_STRING_TABLE_LOOKUP(top_sort, TopSort, TOP_SORT);

typedef struct TopRow {
        char key[96];            /* pid, comm, unit, user name, slice or container */
        int64_t pid;
        char comm[32];
        char unit[64];
        char user[32];
        uint64_t cpu_ns;         /* in the window */
        uint64_t wakeups;        /* in the window */
        double energy_j;         /* in the window */
        double total_j;          /* since top started (--once: the window) */
        bool seen;               /* in the current window */
} TopRow;

typedef struct Top {
        Store *store;
        GroupBy by;
        TopSort sort;
        uint64_t delay_ns;
        bool once;
        Carbon carbon;

        uint64_t last_end;       /* end_ns of the newest interval shown */
        uint64_t window_ns;      /* length of the window's intervals */
        size_t window_intervals;
        double host_j, idle_j;
        bool estimated;
        char sources[160];
        char idle[256];          /* each host-total domain's idle estimate: W ± band (method) */
        bool have_data;

        TopRow *rows;
        size_t n_rows;
} Top;

static volatile sig_atomic_t top_quit;

static void on_signal(int sig) {
        top_quit = sig;
}

static TopRow *top_row_get(Top *t, const char *key) {
        TopRow *p;

        for (size_t i = 0; i < t->n_rows; i++)
                if (strcmp(t->rows[i].key, key) == 0)
                        return &t->rows[i];
        p = realloc(t->rows, (t->n_rows + 1) * sizeof(*p));
        if (!p)
                return NULL;
        t->rows = p;
        p = &t->rows[t->n_rows++];
        *p = (TopRow) {};
        strscpy(p->key, sizeof(p->key), key);
        return p;
}

static void text_append(char *buf, size_t size, const char *s) {
        size_t len = strlen(buf);
        if (len < size)
                snprintf(buf + len, size - len, "%s", s);
}

/* Display columns of UTF-8 text (continuation bytes take none). */
static size_t text_columns(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char) *s & 0xc0) != 0x80;
        return n;
}

/* The idle estimate of each host-total domain over the window: mean power,
 * band and the latest method, as many as fit one 80-column line. */
static int top_idle_load(Top *t, uint64_t after, uint64_t until) {
        StoreIdle *v = NULL;
        size_t n = 0;
        int r;

        r = store_query_idle(t->store, after, until, &v, &n);
        if (r < 0)
                return r;
        t->idle[0] = 0;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(t->idle);
                double band = cli_idle_band_w(v[i].method, v[i].band_w);
                char d[64], m[64], b[32] = "\u00b1?", one[192];

                if (!isfinite(v[i].idle_w))
                        continue;
                if (isfinite(band))
                        snprintf(b, sizeof(b), "\u00b1%.2f", band);
                snprintf(one, sizeof(one), "%s%s %.2f%s W %s%s", len ? ", " : "",
                         text_cell(v[i].domain, 0, false, d, sizeof(d)), v[i].idle_w, b,
                         v[i].method ? text_cell(v[i].method, 0, false, m, sizeof(m)) : "unknown",
                         cli_idle_provisional(v[i].method) ? " (provisional)" : "");
                /* "Idle: " and the line within 80 columns; " …" says more. */
                if (6 + text_columns(t->idle) + text_columns(one) > 78) {
                        text_append(t->idle, sizeof(t->idle), " \u2026");
                        break;
                }
                text_append(t->idle, sizeof(t->idle), one);
        }
        store_idle_free(v, n);
        return 0;
}

/* Read the intervals newer than t->last_end (first time: the last --delay).
 * Returns 1 when new intervals were read, 0 when there were none, or
 * negative errno (printed). */
static int top_refresh(Top *t) {
        StoreSource *sources = NULL;
        StoreGroupRow *groups = NULL;
        size_t n_sources = 0, n_groups = 0;
        uint64_t after, max_end;
        StoreWindow w;
        int r;

        r = store_query_last_end(t->store, true, &max_end);
        if (r <= 0)
                goto finish;
        if (t->have_data && max_end <= t->last_end)
                return 0;

        if (t->have_data)
                after = t->last_end;
        else
                after = max_end > t->delay_ns ? MIN(max_end - t->delay_ns, max_end - 1) : 0;

        r = store_query_window(t->store, after, max_end, &w);
        if (r < 0)
                goto finish;
        t->window_intervals = w.n_intervals;
        t->window_ns = w.duration_ns;
        t->host_j = w.measured_j;
        t->idle_j = w.idle_j;

        r = store_query_window_sources(t->store, after, max_end, &sources, &n_sources);
        if (r < 0)
                goto finish;
        t->sources[0] = 0;
        t->estimated = false;
        for (size_t i = 0; i < n_sources; i++) {
                size_t n = strlen(t->sources);
                char d[64], src[64];
                snprintf(t->sources + n, sizeof(t->sources) - n, "%s%s %s%s", n ? ", " : "",
                         text_cell(sources[i].domain, 0, false, d, sizeof(d)),
                         text_cell(sources[i].source, 0, false, src, sizeof(src)),
                         sources[i].estimated ? " (estimated)" : "");
                t->estimated = t->estimated || sources[i].estimated;
        }

        r = top_idle_load(t, after, max_end);
        if (r < 0)
                goto finish;

        r = store_query_window_groups(t->store, t->by, after, max_end, &groups, &n_groups);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < t->n_rows; i++) {
                t->rows[i].seen = false;
                t->rows[i].cpu_ns = 0;
                t->rows[i].wakeups = 0;
                t->rows[i].energy_j = 0;
        }
        for (size_t i = 0; i < n_groups; i++) {
                const StoreGroupRow *g = &groups[i];
                uint32_t uid = (uint32_t) g->uid;
                char key[96];
                TopRow *row;

                switch (t->by) {
                case GROUP_BY_PROCESS:
                        /* The process's id in the store: the same pid reused by
                         * another process is another row. */
                        snprintf(key, sizeof(key), "%" PRIi64, g->key.i);
                        break;
                case GROUP_BY_USER:
                        /* The group is a uid, or the text "[kernel]" for kernel threads. */
                        strscpy(key, sizeof(key), g->key.text ? g->key.text : cli_user_name(uid));
                        break;
                default:
                        strscpy(key, sizeof(key), g->key.text ? g->key.text : "-");
                }
                row = top_row_get(t, key);
                if (!row) {
                        r = -ENOMEM;
                        goto finish;
                }
                row->seen = true;
                row->pid = g->pid;
                strscpy(row->comm, sizeof(row->comm), g->comm ? g->comm : "-");
                strscpy(row->unit, sizeof(row->unit), g->unit ? g->unit : "-");
                strscpy(row->user, sizeof(row->user), cli_user_name(uid));
                row->cpu_ns = g->cpu_ns;
                row->energy_j = g->energy_j;
                row->total_j += row->energy_j;
                row->wakeups = g->wakeups;
        }

        t->last_end = max_end;
        t->have_data = true;
        r = 1;
finish:
        store_sources_free(sources, n_sources);
        store_group_rows_free(groups, n_groups);
        if (r < 0)
                cli_store_error(t->store, r);
        return r;
}

static Top *sort_top;   /* for qsort */

static int top_row_compare(const void *a, const void *b) {
        const TopRow *x = a, *y = b;
        double dx = 0, dy = 0;

        /* Rows absent from the window go last. */
        if (x->seen != y->seen)
                return x->seen ? -1 : 1;
        switch (sort_top->sort) {
        case TOP_SORT_NAME: {
                int c = sort_top->by == GROUP_BY_PROCESS ? strcmp(x->comm, y->comm) : strcmp(x->key, y->key);
                if (c != 0)
                        return c;
                break;
        }
        case TOP_SORT_ENERGY:
                dx = x->total_j, dy = y->total_j;
                break;
        case TOP_SORT_CPU:
                dx = (double) x->cpu_ns, dy = (double) y->cpu_ns;
                break;
        case TOP_SORT_WAKEUPS:
                dx = (double) x->wakeups, dy = (double) y->wakeups;
                break;
        default:
                dx = x->energy_j, dy = y->energy_j;
        }
        if (dx != dy)
                return dx < dy ? 1 : -1;
        if (x->energy_j != y->energy_j)
                return x->energy_j < y->energy_j ? 1 : -1;
        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return strcmp(x->key, y->key);
}

/* Lines of one screen, width columns wide, at most max_lines. */
typedef void (*EmitLine)(int y, const char *text, bool bold, void *userdata);

static void top_render(Top *t, int width, int max_lines, EmitLine emit, void *userdata) {
        char line[512], e1[32], e2[32], tbuf[64], tbuf2[160], cell[256], c1[128], c2[128], c3[128];
        double secs = (double) t->window_ns / 1e9;
        int y = 0;

        width = MAX(MIN(width, (int) sizeof(line) - 1), 40);
        sort_top = t;
        qsort_safe(t->rows, t->n_rows, sizeof(t->rows[0]), top_row_compare);

        snprintf(line, sizeof(line), "joulectl top - %s - every %.1f s - by %s - sort: %s",
                 t->have_data ? format_iso8601(t->last_end, false, tbuf, sizeof(tbuf)) : "no data",
                 (double) t->delay_ns / 1e9, group_by_to_string(t->by), top_sort_to_string(t->sort));
        emit(y++, line, true, userdata);
        if (!t->have_data) {
                emit(y++, "No intervals recorded yet: is jouled running and writing this database?", false,
                     userdata);
                return;
        }
        /* Data older than three intervals: the daemon stopped writing. */
        double interval = t->window_intervals > 0 ? secs / (double) t->window_intervals : 1;
        uint64_t now = now_ns(CLOCK_REALTIME);
        double age = now > t->last_end ? (double) (now - t->last_end) / 1e9 : 0;
        char stale[64] = "";
        if (age > 3 * MAX(interval, 0.001))
                snprintf(stale, sizeof(stale), " - STALE: %s old", format_age(age, e1, sizeof(e1)));
        snprintf(line, sizeof(line), "Host: %.2f W %s%s, idle %.2f W, over %.1f s%s",
                 secs > 0 ? t->host_j / secs : 0.0, t->estimated ? "estimated" : "measured",
                 t->estimated ? " (model)" : "", secs > 0 ? t->idle_j / secs : 0.0, secs, stale);
        emit(y++, line, false, userdata);
        snprintf(line, sizeof(line), "Sources: %s", t->sources[0] ? t->sources : "none");
        emit(y++, line, false, userdata);
        snprintf(line, sizeof(line), "Idle: %s", t->idle[0] ? t->idle : "none");
        emit(y++, line, false, userdata);
        snprintf(line, sizeof(line), "Carbon: %s/h at this power (%s)",
                 format_co2(carbon_grams(&t->carbon, secs > 0 ? t->host_j / secs * 3600 : 0), e1, sizeof(e1)),
                 text_cell(format_carbon_origin(&t->carbon, tbuf2, sizeof(tbuf2)), 0, false, cell, sizeof(cell)));
        emit(y++, line, false, userdata);
        emit(y++, "", false, userdata);

        /* 80 columns: UNIT gets what is left (15 characters). */
        if (t->by == GROUP_BY_PROCESS)
                snprintf(line, sizeof(line), "%7s %-15s %-8s %6s %8s %8s %6s %s", "PID", "COMM", "USER", "CPU%",
                         "POWER(W)", t->once ? "ENERGY" : "ENERGY*", "WAKE/S", "UNIT");
        else
                snprintf(line, sizeof(line), "%-32s %6s %9s %10s %7s", group_by_to_string(t->by), "CPU%",
                         "POWER(W)", t->once ? "ENERGY" : "ENERGY*", "WAKE/S");
        for (char *p = line; t->by != GROUP_BY_PROCESS && *p && *p != ' '; p++)
                *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        emit(y++, line, true, userdata);

        for (size_t i = 0; i < t->n_rows && y < max_lines - 1; i++) {
                const TopRow *r = &t->rows[i];
                double cpu = secs > 0 ? (double) r->cpu_ns / 1e9 / secs * 100 : 0;
                double w = secs > 0 ? r->energy_j / secs : 0;
                double wps = secs > 0 ? (double) r->wakeups / secs : 0;

                if (!r->seen && t->once)
                        continue;
                format_energy(r->total_j, false, tbuf, sizeof(tbuf));
                if (t->by == GROUP_BY_PROCESS)
                        snprintf(line, sizeof(line), "%7" PRIi64 " %s %s %6.1f %8.3f %s %6.1f %s", r->pid,
                                 text_cell(r->comm, 15, false, c1, sizeof(c1)),
                                 text_cell(r->user, 8, false, c2, sizeof(c2)), cpu, w,
                                 text_cell(tbuf, 8, true, e2, sizeof(e2)), wps,
                                 text_cell(r->unit, 0, false, c3, sizeof(c3)));
                else
                        snprintf(line, sizeof(line), "%s %6.1f %9.3f %s %7.1f",
                                 text_cell(r->key, 32, false, c1, sizeof(c1)), cpu, w,
                                 text_cell(tbuf, 10, true, e2, sizeof(e2)), wps);
                /* Cut by display width, at a character boundary. */
                line[text_fit(line, (size_t) width)] = 0;
                emit(y++, line, false, userdata);
        }
        if (!t->once) {
                snprintf(line, sizeof(line), "*since start. keys: p power e energy c cpu w wake n name Tab b group q quit");
                line[width] = 0;
                emit(max_lines - 1, line, true, userdata);
        }
}

static void emit_stdout(int y, const char *text, bool bold, void *userdata) {
        puts(text);
}

static void emit_curses(int y, const char *text, bool bold, void *userdata) {
        if (bold)
                attron(A_BOLD);
        mvaddnstr(y, 0, text, COLS);
        if (bold)
                attroff(A_BOLD);
}

static int top_interactive(Top *t) {
        struct sigaction sa = { .sa_handler = on_signal };
        uint64_t next;
        int r;

        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
                fprintf(stderr, "joulectl: top needs a terminal on standard input and output (use --once for "
                                "scripts)\n");
                return 1;
        }
        if (!newterm(NULL, stdout, stdin)) {
                fprintf(stderr, "joulectl: cannot initialise the terminal (TERM=%s); use --once\n",
                        getenv("TERM") ? getenv("TERM") : "");
                return 1;
        }
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        curs_set(0);

        r = top_refresh(t);
        next = now_ns(CLOCK_MONOTONIC) + t->delay_ns;
        while (r >= 0 && !top_quit) {
                uint64_t now;
                int ch;

                erase();
                top_render(t, COLS, LINES, emit_curses, NULL);
                refresh();

                now = now_ns(CLOCK_MONOTONIC);
                timeout(now < next ? (int) MAX((next - now) / NSEC_PER_MSEC, (uint64_t) 1) : 0);
                ch = getch();
                switch (ch) {
                case 'q':
                case 'Q':
                        top_quit = 1;
                        break;
                case 'p': t->sort = TOP_SORT_POWER; break;
                case 'e': t->sort = TOP_SORT_ENERGY; break;
                case 'c': t->sort = TOP_SORT_CPU; break;
                case 'n': t->sort = TOP_SORT_NAME; break;
                case 'w': t->sort = TOP_SORT_WAKEUPS; break;
                case '\t': t->sort = (TopSort) ((t->sort + 1) % _TOP_SORT_MAX); break;
                case 'b':
                        t->by = (GroupBy) ((t->by + 1) % _GROUP_BY_MAX);
                        free(t->rows);
                        t->rows = NULL;
                        t->n_rows = 0;
                        t->have_data = false;
                        r = top_refresh(t);
                        break;
                default:
                        break;
                }
                if (!top_quit && now_ns(CLOCK_MONOTONIC) >= next) { /* q: leave at once, no query */
                        r = top_refresh(t);
                        next = now_ns(CLOCK_MONOTONIC) + t->delay_ns;
                }
        }
        endwin();
        return r < 0 ? 1 : 0;
}

static int terminal_width(void) {
        struct winsize ws;
        const char *c = getenv("COLUMNS");
        uint64_t v;

        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        if (c && parse_u64(c, &v) >= 0 && v >= 40 && v < 500)
                return (int) v;
        return 80;
}

int verb_top(int argc, char **argv, const CliGlobals *g_in) {
        enum { ARG_BY = 0x100, ARG_SORT, ARG_DELAY, ARG_ONCE, ARG_LIMIT, ARG_CARBON };
        static const struct option options[] = {
                { "by", required_argument, NULL, ARG_BY },
                { "sort", required_argument, NULL, ARG_SORT },
                { "delay", required_argument, NULL, ARG_DELAY },
                { "once", no_argument, NULL, ARG_ONCE },
                { "limit", required_argument, NULL, ARG_LIMIT },
                { "carbon-intensity", required_argument, NULL, ARG_CARBON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        CliGlobals g = *g_in;
        Top t = { .by = GROUP_BY_PROCESS, .sort = TOP_SORT_POWER, .delay_ns = NSEC_PER_SEC };
        uint64_t limit = 20;
        double delay;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hd:1", options, NULL)) >= 0) {
                switch (c) {
                case ARG_BY:
                        t.by = group_by_from_string(optarg);
                        if (t.by == _GROUP_BY_INVALID) {
                                fprintf(stderr, "joulectl: invalid --by '%s': expected process, comm, unit, user, slice or "
                                        "container\n",
                                        cli_safe(optarg));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_SORT:
                        t.sort = top_sort_from_string(optarg);
                        if (t.sort == _TOP_SORT_INVALID) {
                                fprintf(stderr, "joulectl: invalid --sort '%s': expected power, energy, cpu, name or wakeups\n",
                                        cli_safe(optarg));
                                return EXIT_USAGE;
                        }
                        break;
                case 'd':
                case ARG_DELAY:
                        if (parse_duration_s(optarg, &delay) < 0 || delay < 0.1 || delay > 3600) {
                                fprintf(stderr,
                                        "joulectl: invalid --delay '%s': expected 0.1 s to 3600 s, seconds (e.g. "
                                        "2, 0.5) or " DURATION_ACCEPTED "\n",
                                        cli_safe(optarg));
                                return EXIT_USAGE;
                        }
                        t.delay_ns = (uint64_t) (delay * 1e9);
                        break;
                case '1':
                case ARG_ONCE:
                        t.once = true;
                        break;
                case ARG_LIMIT:
                        if (parse_u64(optarg, &limit) < 0 || limit > 100000) {
                                fprintf(stderr, "joulectl: invalid --limit '%s': expected a whole number of rows "
                                                "(0 for all)\n",
                                        cli_safe(optarg));
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl top [--by process|comm|unit|user|slice|container]\n"
                               "                    [--sort power|energy|cpu|name|wakeups] [--delay S] [--once [--limit N]]\n"
                               "Keys: p power, e energy, c cpu, w wakeups, n name, Tab next sort, b next grouping, q quit.\n");
                        return 0;
                default:
                        return cli_option_error(c, argv, "top",
                                                "--by, --sort, --delay, --once, --limit, --carbon-intensity");
                }
        }
        if (cli_no_arguments(argc, argv, "top", NULL) != 0)
                return EXIT_USAGE;
        if (g.parse_only)
                return 0;

        r = cli_open_store(&g, &t.store);
        if (r != 0)
                return r;
        /* Schema 4 brought wakeups (older rows read 0), slices and container ids. */
        r = cli_require_group_by_schema(t.store, "top", t.by);
        if (r == 0 && t.sort == TOP_SORT_WAKEUPS)
                r = cli_require_schema(t.store, STORE_SCHEMA_GROUPS, "top --sort wakeups");
        if (r != 0) {
                store_free(t.store);
                return r;
        }
        cli_carbon_resolve(&g, t.store, &t.carbon);

        if (t.once) {
                r = top_refresh(&t);
                if (r >= 0) {
                        /* header (6 lines) + rows */
                        int lines = limit == 0 ? INT32_MAX : (int) limit + 7;
                        top_render(&t, terminal_width(), lines, emit_stdout, NULL);
                        if (fflush(stdout) != 0) {
                                fprintf(stderr, "joulectl: cannot write output: %s\n", strerror(errno));
                                r = -EIO;
                        }
                }
                r = r < 0 ? 1 : 0;
        } else
                r = top_interactive(&t);

        free(t.rows);
        store_free(t.store);
        return r;
}
