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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-util.h"
#include "report.h"
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

static const char *const top_sort_names[_TOP_SORT_MAX] = {
        [TOP_SORT_POWER] = "power",
        [TOP_SORT_ENERGY] = "energy",
        [TOP_SORT_CPU] = "cpu",
        [TOP_SORT_NAME] = "name",
        [TOP_SORT_WAKEUPS] = "wakeups",
};

/* top groups as report does (kernel threads as "[kernel]", and so on). */
static const char *top_by_sql(CliGroupBy by) {
        static const ReportBy map[_CLI_BY_MAX] = {
                [CLI_BY_PROCESS] = REPORT_BY_PROCESS,
                [CLI_BY_COMM] = REPORT_BY_COMM,
                [CLI_BY_UNIT] = REPORT_BY_UNIT,
                [CLI_BY_USER] = REPORT_BY_USER,
        };
        return report_by_sql_expr(map[by]);
}

typedef struct TopRow {
        char key[96];            /* pid, comm, unit or user name */
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
        CliGroupBy by;
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
        bool have_data;

        TopRow *rows;
        size_t n_rows;
} Top;

static volatile sig_atomic_t top_quit;

static void on_signal(int sig) {
        top_quit = sig;
}

static void stmt_finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}

/* Prepare a query over the window (?1, ?2] of interval end times. */
static int top_prepare_window(sqlite3 *db, const char *sql, uint64_t after, uint64_t until, sqlite3_stmt **ret) {
        int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK)
                return rc;
        sqlite3_bind_int64(*ret, 1, (int64_t) after);
        sqlite3_bind_int64(*ret, 2, (int64_t) until);
        return SQLITE_OK;
}

static int top_db_error(Top *t, int rc) {
        fprintf(stderr, "joulectl: cannot read database: %s\n", sqlite3_errmsg(store_db(t->store)));
        return store_errno(rc == SQLITE_OK || rc == SQLITE_ROW ? SQLITE_ERROR : rc);
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

/* Read the intervals newer than t->last_end (first time: the last --delay).
 * Returns 1 when new intervals were read, 0 when there were none, or
 * negative errno (printed). */
static int top_refresh(Top *t) {
        _cleanup_(stmt_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(t->store);
        uint64_t after, max_end;
        char sql[1024];
        int rc;

        rc = sqlite3_prepare_v2(db, "SELECT max(end_ns) FROM intervals WHERE level = 0", -1, &st, NULL);
        if (rc != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW)
                return top_db_error(t, rc);
        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                return 0;
        max_end = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(TAKE_PTR(st));
        if (t->have_data && max_end <= t->last_end)
                return 0;

        if (t->have_data)
                after = t->last_end;
        else
                after = max_end > t->delay_ns ? MIN(max_end - t->delay_ns, max_end - 1) : 0;

        rc = top_prepare_window(db,
                                "SELECT count(*), coalesce(sum(end_ns - start_ns), 0) FROM intervals "
                                "WHERE end_ns > ?1 AND end_ns <= ?2 AND level = 0",
                                after, max_end, &st);
        if (rc != SQLITE_OK)
                return top_db_error(t, rc);
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
                return top_db_error(t, rc);
        t->window_intervals = (size_t) sqlite3_column_int64(st, 0);
        t->window_ns = (uint64_t) sqlite3_column_int64(st, 1);
        sqlite3_finalize(TAKE_PTR(st));

        rc = top_prepare_window(db,
                                "SELECT total(idm.measured_j), total(idm.idle_j) FROM intervals i "
                                "JOIN interval_domains idm ON idm.interval_id = i.id "
                                "WHERE i.end_ns > ?1 AND i.end_ns <= ?2 AND i.level = 0 AND idm.host_total = 1",
                                after, max_end, &st);
        if (rc != SQLITE_OK)
                return top_db_error(t, rc);
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
                return top_db_error(t, rc);
        t->host_j = sqlite3_column_double(st, 0);
        t->idle_j = sqlite3_column_double(st, 1);
        sqlite3_finalize(TAKE_PTR(st));

        rc = top_prepare_window(db,
                                "SELECT d.name, d.source, max(d.estimated) FROM domains d WHERE d.id IN "
                                "(SELECT idm.domain_id FROM intervals i JOIN interval_domains idm "
                                "ON idm.interval_id = i.id WHERE i.end_ns > ?1 AND i.end_ns <= ?2 "
                                "AND i.level = 0 AND idm.host_total = 1) GROUP BY 1, 2 ORDER BY 1, 2",
                                after, max_end, &st);
        if (rc != SQLITE_OK)
                return top_db_error(t, rc);
        t->sources[0] = 0;
        t->estimated = false;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                size_t n = strlen(t->sources);
                bool est = sqlite3_column_int(st, 2);
                snprintf(t->sources + n, sizeof(t->sources) - n, "%s%s %s%s", n ? ", " : "",
                         (const char *) sqlite3_column_text(st, 0), (const char *) sqlite3_column_text(st, 1),
                         est ? " (estimated)" : "");
                t->estimated = t->estimated || est;
        }
        if (rc != SQLITE_DONE)
                return top_db_error(t, rc);
        sqlite3_finalize(TAKE_PTR(st));

        snprintf(sql, sizeof(sql),
                 "SELECT %s, sum(s.cpu_ns), total(s.energy_j), p.pid, p.comm, p.unit, p.uid, sum(s.wakeups) "
                 "FROM intervals i JOIN samples s ON s.interval_id = i.id "
                 "JOIN processes p ON p.id = s.process_id "
                 "WHERE i.end_ns > ?1 AND i.end_ns <= ?2 AND i.level = 0 GROUP BY 1",
                 top_by_sql(t->by));
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return top_db_error(t, rc);
        sqlite3_bind_int64(st, 1, (int64_t) after);
        sqlite3_bind_int64(st, 2, (int64_t) max_end);
        for (size_t i = 0; i < t->n_rows; i++) {
                t->rows[i].seen = false;
                t->rows[i].cpu_ns = 0;
                t->rows[i].wakeups = 0;
                t->rows[i].energy_j = 0;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                char key[96];
                const char *comm = (const char *) sqlite3_column_text(st, 4);
                const char *unit = (const char *) sqlite3_column_text(st, 5);
                uint32_t uid = (uint32_t) sqlite3_column_int64(st, 6);
                TopRow *row;

                switch (t->by) {
                case CLI_BY_PROCESS:
                        /* p.id: the same pid reused by another process is another row. */
                        snprintf(key, sizeof(key), "%" PRIi64, (int64_t) sqlite3_column_int64(st, 0));
                        break;
                case CLI_BY_USER:
                        /* The group is a uid, or the text "[kernel]" for kernel threads. */
                        strscpy(key, sizeof(key), sqlite3_column_type(st, 0) == SQLITE_TEXT ?
                                (const char *) sqlite3_column_text(st, 0) : cli_user_name(uid));
                        break;
                default:
                        strscpy(key, sizeof(key),
                                sqlite3_column_text(st, 0) ? (const char *) sqlite3_column_text(st, 0) : "-");
                }
                row = top_row_get(t, key);
                if (!row)
                        return -ENOMEM;
                row->seen = true;
                row->pid = sqlite3_column_int64(st, 3);
                strscpy(row->comm, sizeof(row->comm), comm ? comm : "-");
                strscpy(row->unit, sizeof(row->unit), unit ? unit : "-");
                strscpy(row->user, sizeof(row->user), cli_user_name(uid));
                row->cpu_ns = (uint64_t) sqlite3_column_int64(st, 1);
                row->energy_j = sqlite3_column_double(st, 2);
                row->total_j += row->energy_j;
                row->wakeups = (uint64_t) sqlite3_column_int64(st, 7);
        }
        if (rc != SQLITE_DONE)
                return top_db_error(t, rc);

        t->last_end = max_end;
        t->have_data = true;
        return 1;
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
                int c = sort_top->by == CLI_BY_PROCESS ? strcmp(x->comm, y->comm) : strcmp(x->key, y->key);
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
        char line[512], e1[32], e2[32], tbuf[64];
        double secs = (double) t->window_ns / 1e9;
        int y = 0;

        width = MAX(MIN(width, (int) sizeof(line) - 1), 40);
        sort_top = t;
        if (t->n_rows > 0) /* storage: UBSan, qsort(NULL, 0) */
                qsort(t->rows, t->n_rows, sizeof(t->rows[0]), top_row_compare);

        snprintf(line, sizeof(line), "joulectl top - %s - every %.1f s - by %s - sort: %s",
                 t->have_data ? format_iso8601(t->last_end, false, tbuf, sizeof(tbuf)) : "no data",
                 (double) t->delay_ns / 1e9, cli_group_by_to_string(t->by), top_sort_names[t->sort]);
        emit(y++, line, true, userdata);
        if (!t->have_data) {
                emit(y++, "No intervals recorded yet: is jouled running and writing this database?", false,
                     userdata);
                return;
        }
        snprintf(line, sizeof(line), "Host: %.2f W %s%s, idle %.2f W, over %.1f s",
                 secs > 0 ? t->host_j / secs : 0.0, t->estimated ? "estimated" : "measured",
                 t->estimated ? " (model)" : "", secs > 0 ? t->idle_j / secs : 0.0, secs);
        emit(y++, line, false, userdata);
        snprintf(line, sizeof(line), "Sources: %s", t->sources[0] ? t->sources : "none");
        emit(y++, line, false, userdata);
        snprintf(line, sizeof(line), "Carbon: %s/h at this power (%g g/kWh, %s)",
                 format_co2(carbon_grams(&t->carbon, secs > 0 ? t->host_j / secs * 3600 : 0), e1, sizeof(e1)),
                 t->carbon.g_per_kwh, t->carbon.origin);
        emit(y++, line, false, userdata);
        emit(y++, "", false, userdata);

        /* 80 columns: UNIT gets what is left (15 characters). */
        if (t->by == CLI_BY_PROCESS)
                snprintf(line, sizeof(line), "%7s %-15s %-8s %6s %8s %8s %6s %s", "PID", "COMM", "USER", "CPU%",
                         "POWER(W)", t->once ? "ENERGY" : "ENERGY*", "WAKE/S", "UNIT");
        else
                snprintf(line, sizeof(line), "%-32s %6s %9s %10s %7s", cli_group_by_to_string(t->by), "CPU%",
                         "POWER(W)", t->once ? "ENERGY" : "ENERGY*", "WAKE/S");
        for (char *p = line; t->by != CLI_BY_PROCESS && *p && *p != ' '; p++)
                *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        emit(y++, line, true, userdata);

        for (size_t i = 0; i < t->n_rows && y < max_lines - 1; i++) {
                const TopRow *r = &t->rows[i];
                double cpu = secs > 0 ? (double) r->cpu_ns / 1e9 / secs * 100 : 0;
                double w = secs > 0 ? r->energy_j / secs : 0;
                double wps = secs > 0 ? (double) r->wakeups / secs : 0;

                if (!r->seen && t->once)
                        continue;
                format_energy(r->total_j, false, e2, sizeof(e2));
                if (t->by == CLI_BY_PROCESS)
                        snprintf(line, sizeof(line), "%7" PRIi64 " %-15.15s %-8.8s %6.1f %8.3f %8s %6.1f %s", r->pid,
                                 r->comm, r->user, cpu, w, e2, wps, r->unit);
                else
                        snprintf(line, sizeof(line), "%-32.32s %6.1f %9.3f %10s %7.1f", r->key, cpu, w, e2, wps);
                line[width] = 0;
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
                        t->by = (CliGroupBy) ((t->by + 1) % _CLI_BY_MAX);
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
        Top t = { .by = CLI_BY_PROCESS, .sort = TOP_SORT_POWER, .delay_ns = NSEC_PER_SEC };
        uint64_t limit = 20;
        double delay;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hd:1", options, NULL)) >= 0) {
                switch (c) {
                case ARG_BY:
                        t.by = cli_group_by_from_string(optarg);
                        if (t.by == _CLI_BY_INVALID) {
                                fprintf(stderr, "joulectl: invalid --by '%s': expected process, comm, unit or user\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_SORT:
                        t.sort = _TOP_SORT_INVALID;
                        for (int i = 0; i < _TOP_SORT_MAX; i++)
                                if (strcmp(optarg, top_sort_names[i]) == 0)
                                        t.sort = (TopSort) i;
                        if (t.sort == _TOP_SORT_INVALID) {
                                fprintf(stderr, "joulectl: invalid --sort '%s': expected power, energy, cpu, name or wakeups\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'd':
                case ARG_DELAY:
                        if (parse_duration_s(optarg, &delay) < 0 || delay < 0.1 || delay > 3600) {
                                fprintf(stderr,
                                        "joulectl: invalid --delay '%s': expected seconds between 0.1 and 3600 "
                                        "(e.g. 2, 0.5, 500ms)\n",
                                        optarg);
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
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_CARBON:
                        if (cli_carbon_option(&g, optarg) != 0)
                                return EXIT_USAGE;
                        break;
                case 'h':
                        printf("Usage: joulectl top [--by process|comm|unit|user] [--sort power|energy|cpu|name|wakeups]\n"
                               "                    [--delay S] [--once [--limit N]]\n"
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
        /* Schema 4 brought wakeups: older rows read 0. */
        if (t.sort == TOP_SORT_WAKEUPS) {
                r = cli_require_schema(t.store, 4, "top --sort wakeups");
                if (r != 0) {
                        store_free(t.store);
                        return r;
                }
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
