# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl against databases of every older schema version.

After a package upgrade the new joulectl reads the old daemon's database
until jouled restarts and migrates it. joulectl never migrates (it opens
read-only): it reads an older schema as the newest (daemon/store-compat.c),
refuses with one line and exit status 4 what needs the newer schema, and
refuses a newer database. Each database is made here with Python's sqlite3
from schema/0001..000N, as jouled N left it, and must stay byte-identical.

Needs no root.
"""
import glob
import hashlib
import os
import re
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

SOURCE_ROOT = os.environ.get("JOULED_SOURCE_ROOT",
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MIGRATIONS = sorted(glob.glob(os.path.join(SOURCE_ROOT, "schema", "[0-9][0-9][0-9][0-9]-*.sql")))
LATEST = len(MIGRATIONS)
EXIT_OLD_SCHEMA = 4
GROUPS_SCHEMA = 4             # slices, container ids and wakeups came with schema 4
LABELS_SCHEMA = 5             # samples refer to label sets; rollups are per label set
DERIVED_SCHEMA = 6            # raw rows and rollups in tables of their own; samples, processes are views
OLD_LINE = re.compile(r"database schema (\d+) is older than this joulectl \((\d+)\): restart jouled to upgrade it")

S = 1000000000
T0 = 1700000000 * S           # 2023-11-14T22:13:20Z, 20 s into its minute
MINUTE0 = T0 - 20 * S
N = 4                         # raw intervals of 1 s
# Per raw interval. Every figure is a multiple of 1/8 J: sums are exact.
DOMAINS = {  # name: (id, measured, idle, attributed, unattributed)
    "package-0": (1, 8.0, 5.0, 2.5, 0.5),
    "dram-0": (2, 2.0, 1.0, 0.75, 0.25),
}
PROCS = {  # pid: (id, comm, cpu_ns, {domain: J})
    100: (1, "make", 100000000, {"package-0": 1.5, "dram-0": 0.5}),
    200: (2, "cc1", 50000000, {"package-0": 1.0, "dram-0": 0.25}),
}


def apply(con, sql_file):
    version = int(os.path.basename(sql_file)[:4])
    with open(sql_file) as f:
        con.executescript("BEGIN;\n%s\nPRAGMA user_version = %d;\nCOMMIT;" % (f.read(), version))


def make_old_db(path, version):
    """A database as jouled `version` wrote it: WAL, raw intervals and, from
    schema 2 on, the minute rollup of them (readers must not count both)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    for f in MIGRATIONS[:version]:
        apply(con, f)
    con.execute("BEGIN")
    for name, (did, *_rest) in DOMAINS.items():
        con.execute("INSERT INTO domains (id, name, kind, source, estimated, host_total) VALUES (?, ?, ?, 'rapl', 0, 1)",
                    (did, name, name.split("-")[0]))
    if version >= DERIVED_SCHEMA:
        con.execute("INSERT INTO boots (id, boot_id) VALUES (1, 'boot')")
    for pid, (pid_id, comm, _cpu, _e) in PROCS.items():
        if version >= DERIVED_SCHEMA:
            con.execute("INSERT INTO procs (id, boot, pid, start_boot_ns, start_ns, labels_id, ppid) "
                        "VALUES (?, 1, ?, ?, ?, ?, 1)", (pid_id, pid, pid, T0 - S, pid_id))
        else:
            con.execute("INSERT INTO processes (id, boot_id, pid, start_boot_ns, start_ns, comm, exe, uid, ppid, unit) "
                        "VALUES (?, 'boot', ?, ?, ?, ?, ?, 0, 1, 'session-1.scope')",
                        (pid_id, pid, pid, T0 - S, comm, "/usr/bin/" + comm))
        if version >= LABELS_SCHEMA:
            con.execute("INSERT INTO labels (id, comm, exe, uid, unit) VALUES (?, ?, ?, 0, 'session-1.scope')",
                        (pid_id, comm, "/usr/bin/" + comm))

    def interval(iid, start, end, k, extra_cols="", extra_vals=()):
        con.execute("INSERT INTO intervals (id, start_ns, end_ns%s) VALUES (?, ?, ?%s)"
                    % (extra_cols, ", ?" * len(extra_vals)), (iid, start, end) + tuple(extra_vals))
        for did, m, idle, a, u in DOMAINS.values():
            con.execute("INSERT INTO interval_domains (interval_id, domain_id, host_total, measured_j, idle_j, "
                        "attributed_j, unattributed_j) VALUES (?, ?, 1, ?, ?, ?, ?)",
                        (iid, did, k * m, k * idle, k * a, k * u))
        for pid_id, _comm, cpu, per_domain in PROCS.values():
            if version >= DERIVED_SCHEMA:
                # No rates (the split is not by CPU time here): per-process rows hold the energies.
                if extra_vals:
                    con.execute("INSERT INTO rollup_samples (interval_id, labels_id, cpu_ns, energy_j, n_procs) "
                                "VALUES (?, ?, ?, ?, 1)", (iid, pid_id, k * cpu, k * sum(per_domain.values())))
                else:
                    con.execute("INSERT INTO raw_samples (interval_id, process_id, labels_id, cpu_ns) "
                                "VALUES (?, ?, ?, ?)", (iid, pid_id, pid_id, k * cpu))
                for dname, j in per_domain.items():
                    if extra_vals:
                        con.execute("INSERT INTO rollup_sample_domains (interval_id, labels_id, domain_id, energy_j) "
                                    "VALUES (?, ?, ?, ?)", (iid, pid_id, DOMAINS[dname][0], k * j))
                    else:
                        con.execute("INSERT INTO raw_sample_domains (interval_id, process_id, labels_id, domain_id, "
                                    "energy_j) VALUES (?, ?, ?, ?, ?)", (iid, pid_id, pid_id, DOMAINS[dname][0], k * j))
                continue
            if version >= LABELS_SCHEMA:
                # Rollups are per label set (process_id 0); each process has a label set of its own here.
                proc = 0 if extra_vals else pid_id
                con.execute("INSERT INTO samples (interval_id, process_id, labels_id, cpu_ns, energy_j, n_procs) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (iid, proc, pid_id, k * cpu, k * sum(per_domain.values()),
                                                          1 if extra_vals else None))
                for dname, j in per_domain.items():
                    con.execute("INSERT INTO sample_domains (interval_id, process_id, labels_id, domain_id, energy_j) "
                                "VALUES (?, ?, ?, ?, ?)", (iid, proc, pid_id, DOMAINS[dname][0], k * j))
                continue
            con.execute("INSERT INTO samples (interval_id, process_id, cpu_ns, energy_j) VALUES (?, ?, ?, ?)",
                        (iid, pid_id, k * cpu, k * sum(per_domain.values())))
            for dname, j in per_domain.items():
                con.execute("INSERT INTO sample_domains VALUES (?, ?, ?, ?)", (iid, pid_id, DOMAINS[dname][0], k * j))

    for i in range(N):
        interval(i + 1, T0 + i * S, T0 + (i + 1) * S, 1)
    if version >= 2:
        interval(N + 1, MINUTE0, MINUTE0 + 60 * S, N, ", level, n_raw, duration_ns", (1, N, N * S))
        con.execute("UPDATE rollup_state SET minute_done_ns = ?", (MINUTE0 + 60 * S,))
    for k, v in (("tracker_mode", "bpf"), ("last_sample", str(T0 + N * S)), ("pid", "4242")):
        con.execute("INSERT INTO daemon_state VALUES (?, ?, ?)", (k, v, T0))
    con.execute("INSERT INTO source_probes VALUES ('rapl', 'usable', 0, 1, NULL)")
    con.execute("COMMIT")
    con.close()


def fingerprint(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), st.st_mtime_ns, st.st_size


def without_volatile(out):
    """A report without what depends on the moment or the level read."""
    return {k: v for k, v in out.items() if k not in ("since", "until")}


def check_report(out, version):
    t = out["totals"]
    want = {k: N * sum(d[i] for d in DOMAINS.values())
            for k, i in (("measured_joules", 1), ("idle_joules", 2), ("attributed_joules", 3),
                         ("unattributed_joules", 4))}
    for k, v in want.items():
        check(t[k] == v, "schema %d: totals.%s %r, wanted %r" % (version, k, t[k], v))
    check(t["cpu_seconds"] == N * sum(p[2] for p in PROCS.values()) / 1e9,
          "schema %d: cpu_seconds %r" % (version, t["cpu_seconds"]))
    rows = {r["pid"]: r for r in out["rows"]}
    check(sorted(rows) == sorted(PROCS), "schema %d: rows %r" % (version, sorted(rows)))
    for pid, (_id, comm, cpu, per_domain) in PROCS.items():
        r = rows[pid]
        check(r["comm"] == comm and r["unit"] == "session-1.scope", "schema %d: row %r" % (version, r))
        check(r["cpu_seconds"] == N * cpu / 1e9, "schema %d: %s cpu %r" % (version, comm, r["cpu_seconds"]))
        check(r["energy_joules"] == N * sum(per_domain.values()),
              "schema %d: %s energy %r" % (version, comm, r["energy_joules"]))
        check(r["domains"] == {d: N * j for d, j in per_domain.items()},
              "schema %d: %s domains %r" % (version, comm, r["domains"]))
        check(r["wakeups"] == 0, "schema %d: %s wakeups %r (none stored)" % (version, comm, r["wakeups"]))


def test_every_old_schema_reads_as_migrated():
    check(LATEST >= 2, "no migrations found under %s" % SOURCE_ROOT)
    for version in range(1, LATEST + 1):
        with jtest.TempDir() as d:
            db = os.path.join(d, "old.db")
            make_old_db(db, version)
            before = fingerprint(db)

            out = jtest.joulectl_json("report", db=db)
            check_report(out, version)
            status = jtest.joulectl_json("status", db=db)
            check(status["database"]["schema_version"] == version, "status: %r" % status["database"])
            check(status["database"]["schema_latest"] == LATEST, "status: %r" % status["database"])
            check(status["tracker"]["mode"] == "bpf", "status tracker: %r" % status["tracker"])
            check(status["intervals_stored"] == N + (version >= 2), "status intervals: %r" % status["intervals_stored"])
            check(status["processes_stored"] == len(PROCS), "status processes: %r" % status["processes_stored"])
            check([s["domain"] for s in status["domains"]] == sorted(DOMAINS),
                  "status domains: %r" % status["domains"])
            text = jtest.joulectl("status", db=db).stdout
            m = OLD_LINE.search(text)
            if version < LATEST:
                check(m and m.groups() == (str(version), str(LATEST)), "status does not say so: %s" % text)
            else:
                check(not m, "status of the newest schema calls it old: %s" % text)
            for verb in (["top", "--once"], ["export", "--since", "@0", "--format", "csv"],
                         ["report", "--by", "comm"], ["report", "--by", "user"]):
                jtest.joulectl(*verb, db=db)

            # What jouled will answer once it has migrated the file.
            migrated = os.path.join(d, "migrated.db")
            shutil.copy(db, migrated)
            con = sqlite3.connect(migrated, isolation_level=None)
            for f in MIGRATIONS[version:]:
                apply(con, f)
            con.close()
            check(without_volatile(jtest.joulectl_json("report", db=migrated)) == without_volatile(out),
                  "schema %d: report differs once migrated" % version)

            check(fingerprint(db) == before, "schema %d: joulectl changed the database file" % version)


def test_new_schema_queries_refused_in_one_line():
    for version in range(1, GROUPS_SCHEMA):
        with jtest.TempDir() as d:
            db = os.path.join(d, "old.db")
            make_old_db(db, version)
            before = fingerprint(db)
            for args, name in ((["report", "--by", "slice"], "report --by slice"),
                               (["report", "--by", "container", "--json"], "report --by container"),
                               (["top", "--once", "--sort", "wakeups"], "top --sort wakeups")):
                r = jtest.joulectl(*args, db=db, check_rc=EXIT_OLD_SCHEMA)
                lines = r.stderr.splitlines()
                check(len(lines) == 1 and r.stdout == "", "%s: not one line: %r %r" % (args, r.stderr, r.stdout))
                m = OLD_LINE.search(lines[0])
                check(m and m.groups() == (str(version), str(LATEST)), "%s: unclear: %s" % (args, lines[0]))
                check(name + " needs database schema" in lines[0], "%s: does not name the query: %s" % (args, lines[0]))
            check(fingerprint(db) == before, "schema %d: joulectl changed the database file" % version)
    # The newest schema answers them.
    with jtest.TempDir() as d:
        db = os.path.join(d, "new.db")
        make_old_db(db, LATEST)
        jtest.joulectl("report", "--by", "slice", db=db)
        jtest.joulectl("top", "--once", "--sort", "wakeups", db=db)


def test_newer_schema_refused():
    with jtest.TempDir() as d:
        db = os.path.join(d, "newer.db")
        make_old_db(db, LATEST)
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = %d" % (LATEST + 1))
        con.commit()
        con.close()
        before = fingerprint(db)
        for verb in (["report", "--json"], ["status", "--json"]):
            r = jtest.joulectl(*verb, db=db, check_rc=1)
            lines = r.stderr.splitlines()
            check(len(lines) == 1 and r.stdout == "", "%s: not one line: %r %r" % (verb, r.stderr, r.stdout))
            check("schema version %d, newer than this joulectl understands (%d)" % (LATEST + 1, LATEST) in lines[0],
                  "%s: unclear: %s" % (verb, lines[0]))
        check(fingerprint(db) == before, "joulectl changed the newer database file")


if __name__ == "__main__":
    jtest.run_tests([
        test_every_old_schema_reads_as_migrated,
        test_new_schema_queries_refused_in_one_line,
        test_newer_schema_refused,
    ])
