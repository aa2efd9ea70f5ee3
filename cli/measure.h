/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Measuring one command's process tree, for joulectl run and compare.
 *
 * Which processes: the command runs in a cgroup v2 of its own
 * (<cgroup2 mount>/jouled-run-<pid>-<n> as root, else a child of our own
 * cgroup when it is delegated to us). The child moves itself into it before
 * exec, so every descendant (grandchildren, double-forked daemons) is inside
 * and nothing else is; cpu.stat usage_usec at the end is the tree's CPU time.
 * Processes still in the cgroup when the command exits are reported (count
 * and names) and then killed (cgroup.kill) so that the cgroup can be removed.
 * Where no cgroup can be made, the kernel's accounting of waited-for
 * descendants (wait4 rusage) gives the CPU time: descendants that were not
 * waited for are missed.
 *
 * Energy: the tree's share of the host's dynamic (above idle) energy during
 * the run, share = tree CPU time / host busy CPU time (/proc/stat) over the
 * run's wall window, capped at 1.
 *   - jouled running (the database has an interval that ended less than 3
 *     intervals ago): the host-total domains' measured minus idle energy of
 *     the stored intervals, each pro rata of its overlap with the run
 *     (waiting for the interval that covers the run's end).
 *   - otherwise: the energy sources are opened in this process (auto: RAPL
 *     where readable, else the utilisation model, marked estimated) and read
 *     during the run. Idle power: the sources' own where every host-total
 *     domain states it (the model: exact, method "source", band 0); else
 *     the model's minimum, 0.74 W per CPU (method "prior", ± half of it).
 *
 * Energy with idle: the dynamic energy above plus the tree's CPU-time share
 * (the same share) of the host's idle energy over the run's wall window:
 * from jouled, its stored idle energy, estimate, band and method of each
 * interval, pro rata; measured alone, the idle power above times wall time
 * (at most what the sources read).
 *
 * Ctrl-C: while measure_signals_catch() is in effect, SIGINT and SIGQUIT do
 * not stop joulectl; they reach the command from the terminal (same process
 * group). When one is sent to joulectl alone (kill), it is passed on to the
 * command. The run under way is marked interrupted; the caller stops. A
 * command that has not exited 3 s after the signal is killed. */

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "source.h"
#include "stats.h"
#include "store-query.h"

typedef struct Measure Measure;

typedef struct MeasureSource {
        char domain[32];
        char source[32];
        bool estimated;
} MeasureSource;

typedef enum MeasureOutput {
        MEASURE_OUTPUT_INHERIT,         /* the command's output goes where ours goes */
        MEASURE_OUTPUT_STDERR,          /* its stdout to our stderr (our stdout carries JSON) */
        MEASURE_OUTPUT_NULL,            /* stdout and stderr to /dev/null */
} MeasureOutput;

#define MEASURE_LEFTOVER_NAMES 256

typedef struct MeasureResult {
        int exit_status;                /* exit code, or 128 + signal number */
        double wall_s, cpu_s, energy_j;
        bool cgroup;                    /* CPU time from the run's cgroup (else rusage) */
        bool interrupted;               /* SIGINT/SIGQUIT arrived during the run */
        /* Host CPU time over the run's window (/proc/stat), seconds. */
        double host_busy_s, host_idle_s, host_steal_s;
        size_t n_cpus;
        /* Time at least one process of the tree was runnable but waiting for
         * a CPU (the cgroup's cpu.pressure "some" total); NAN unknown. */
        double cpu_wait_s;
        /* Idle: the host's idle energy over the run's window, the tree's
         * share of it (energy_j + idle_share_j is the energy with idle), the
         * mean idle power, its ± band (NAN: unknown) and how it was found
         * (jouled's methods, ", " between, or "source"/"prior" alone). */
        double idle_j, idle_share_j, idle_w, idle_band_w;
        char idle_method[64];
        /* Processes left in the run's cgroup when the command exited. */
        unsigned leftover;
        char leftover_names[MEASURE_LEFTOVER_NAMES];   /* their names, ", " between */
} MeasureResult;

/* Uses the daemon's database at db_path when it is fresh, else opens the
 * energy sources here. Prints why it cannot measure (one line) itself.
 * Returns 0, -ENODEV (nothing to measure with) or -ENOMEM. */
int measure_open(const char *db_path, Measure **ret);

/* The energy sources this host can read, opened in this process ("auto",
 * without the estimation model's notice: callers say "estimated"
 * themselves). probes (n_probes from source_all()) get each one's reason.
 * 0 with at least one source, else -ENODEV or -errno. Does not log. */
int measure_sources_open(SourceProbe *probes, size_t n_probes, EnergySource ***ret, size_t *ret_n);
/* Read every source; add(domain, microjoules, userdata) for each domain
 * read that counts in the host total. */
void measure_sources_read(EnergySource *const *sources, size_t n, bool have_psys,
                          void (*add)(const EnergyDomain *d, uint64_t uj, void *userdata), void *userdata);
Measure *measure_free(Measure *m);
static inline void measure_freep(Measure **m) {
        measure_free(*m);
}

/* Runs argv (execvp) once, in its own cgroup, and measures it; index names
 * the cgroup. Prints its own errors and the leftover-process notice.
 * Returns 0 (the command's failure is in exit_status), -ENOENT and the like
 * when it could not be started, or -EIO when the energy could not be read. */
int measure_run(Measure *m, char *const *argv, MeasureOutput output, unsigned index, MeasureResult *ret);

/* What the figures came from. */
bool measure_from_daemon(const Measure *m);
bool measure_estimated(const Measure *m);
/* The host-total domains and their sources seen so far. */
const MeasureSource *measure_sources(const Measure *m, size_t *ret_n);
/* The sources as a JSON array of {domain, source, estimated}. */
json_object *measure_sources_json(const Measure *m);
/* The open database (daemon mode) or NULL. */
Store *measure_store(const Measure *m);
/* Why the tree is counted by rusage (no cgroup), "" otherwise. */
const char *measure_cgroup_note(const Measure *m);

/* Ctrl-C handling as above, from catch() until release(). */
void measure_signals_catch(void);
void measure_signals_release(void);
/* Whether SIGINT or SIGQUIT arrived since catch(): the signal, or 0. */
int measure_interrupted(void);

/* Whether the run was starved of CPU: the tree waited for a CPU more than a
 * quarter of its wall time (cpu.pressure); without pressure figures, the
 * host had under 10% of its CPU time idle while the tree got less than 0.9
 * CPU-seconds per second of wall time. ret_wait_share (may be NULL): the
 * waiting time over wall time, NAN without pressure figures. */
bool measure_starved(const MeasureResult *r, double *ret_wait_share);
/* The share of the host's busy CPU time over the runs that went to other
 * work (0..1): the runs' energy is a CPU-time share of what the measured
 * domains used. */
double measure_others_share(const MeasureResult *r, size_t n);

/* An energy: a number of joules with an optional unit, "5", "5J", "250mJ",
 * "2kJ", "3MJ", "1Wh", "0.5mWh", "2kWh" (a space before the unit allowed).
 * Returns 0 or -EINVAL (negative, not finite, unknown unit). */
int measure_parse_energy(const char *s, double *ret);

/* Warnings about how far the runs' figures can be trusted, one line each
 * (no "joulectl:" prefix, no newline): runs starved of CPU
 * (measure_starved()), and other work taking more than half of the host's
 * busy CPU time (measure_others_share()). Fills up to max lines, returns
 * how many. */
#define MEASURE_WARNING_MAX 320
size_t measure_warnings(const MeasureResult *r, size_t n, char lines[][MEASURE_WARNING_MAX], size_t max);

/* The runs' idle figures: means of the energy with idle, the host's idle
 * energy, the tree's share of it, the idle power and its band (NAN:
 * unknown), and every method seen (", " between). */
typedef struct MeasureIdle {
        double with_idle_j, with_idle_stddev_j, idle_j, idle_share_j, idle_w, band_w;
        bool provisional;               /* a method is persisted or prior */
        char method[64];
} MeasureIdle;

void measure_idle_summarize(const MeasureResult *r, size_t n, MeasureIdle *ret);

/* Summaries of the runs' energy, CPU time and wall time (all zeros when
 * n is 0 or memory runs out). */
void measure_summarize(const MeasureResult *r, size_t n, StatsSummary *ret_energy, StatsSummary *ret_cpu,
                       StatsSummary *ret_wall);
