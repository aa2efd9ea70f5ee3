# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl against a synthetic database written by tests/make-db.c.

Needs no root: the database is made by the helper, not by a running daemon.
The data set is described at the top of tests/make-db.c: 10 intervals of 1 s
from @1700000000, energies that are multiples of 1/8 J (so sums are exact).
"""
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

MAKE_DB = os.environ.get("MAKE_DB", "build/tests/make-db")
T0 = 1700000000
ISO_T0 = "2023-11-14T22:13:20Z"
ISO_T10 = "2023-11-14T22:13:30Z"


def make_db(workdir, *args, name="jouled.db"):
    path = os.path.join(workdir, name)
    r = subprocess.run([MAKE_DB, path] + list(args), capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "make-db failed (%d): %s" % (r.returncode, r.stderr))
    return path


def report(db, *args):
    return jtest.joulectl_json("report", *args, db=db)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def db_sums(db, since_ns=0, until_ns=2**63 - 1):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        rng = "i.end_ns > ? AND i.end_ns <= ?"
        measured, attributed, idle, unatt = con.execute(
            "SELECT total(measured_j), total(attributed_j), total(idle_j), total(unattributed_j) "
            "FROM intervals i JOIN interval_domains d ON d.interval_id = i.id "
            "WHERE host_total = 1 AND " + rng, (since_ns, until_ns)).fetchone()
        (cpu_ns,) = con.execute(
            "SELECT coalesce(sum(cpu_ns), 0) FROM intervals i JOIN samples s ON s.interval_id = i.id "
            "WHERE " + rng, (since_ns, until_ns)).fetchone()
        (energy,) = con.execute(
            "SELECT total(energy_j) FROM intervals i JOIN samples s ON s.interval_id = i.id "
            "WHERE " + rng, (since_ns, until_ns)).fetchone()
        return dict(measured=measured, attributed=attributed, idle=idle, unattributed=unatt,
                    cpu_ns=cpu_ns, energy=energy)
    finally:
        con.close()


def check_totals(out, sums):
    t = out["totals"]
    for k in ("measured_joules", "attributed_joules", "idle_joules", "unattributed_joules", "cpu_seconds"):
        check(isinstance(t[k], (int, float)), "totals.%s is not a number: %r" % (k, t[k]))
    check(t["measured_joules"] == sums["measured"], "measured %r != db %r" % (t["measured_joules"], sums["measured"]))
    check(t["attributed_joules"] == sums["attributed"], "attributed %r != db %r" % (t["attributed_joules"], sums["attributed"]))
    check(t["idle_joules"] == sums["idle"], "idle %r != db %r" % (t["idle_joules"], sums["idle"]))
    check(t["unattributed_joules"] == sums["unattributed"], "unattributed mismatch")
    check(t["cpu_seconds"] == sums["cpu_ns"] / 1e9, "cpu_seconds %r != %r" % (t["cpu_seconds"], sums["cpu_ns"] / 1e9))
    check(close(t["measured_joules"], t["attributed_joules"] + t["idle_joules"] + t["unattributed_joules"]),
          "measured != attributed + idle + unattributed: %r" % t)


def test_report_json_fields_and_totals():
    with jtest.TempDir() as d:
        db = make_db(d)
        out = report(db)
        for k in ("since", "until", "by", "sources", "totals", "rows", "estimated"):
            check(k in out, "report --json lacks %r: %s" % (k, sorted(out)))
        check(out["since"] == ISO_T0, "since without --since is the first interval's start: %r" % out["since"])
        check(out["until"].endswith("Z"), "until is not UTC ISO 8601: %r" % out["until"])
        check(out["by"] == "process", "by: %r" % out["by"])
        check(out["estimated"] is False, "rapl data is not estimated")
        doms = sorted((s["domain"], s["source"], s["estimated"]) for s in out["sources"])
        check(doms == [("core-0", "rapl", False), ("dram-0", "rapl", False), ("package-0", "rapl", False)],
              "sources: %r" % doms)
        sums = db_sums(db)
        check_totals(out, sums)
        # Known values of the synthetic data: 10 intervals, package idle 5 + dram idle 1.
        check(out["totals"]["idle_joules"] == 59.0, "idle: %r (10*5 + 9*1, dram missing once)" % out["totals"]["idle_joules"])
        check(out["totals"]["cpu_seconds"] == 5.35, "cpu: %r" % out["totals"]["cpu_seconds"])

        rows = out["rows"]
        check(len(rows) == 4, "4 processes with activity (the idle one has none): %d" % len(rows))
        keys = ("key", "pid", "start_time", "comm", "exe", "unit", "user", "uid", "ppid",
                "cpu_seconds", "energy_joules", "domains")
        for r in rows:
            for k in keys:
                check(k in r, "row lacks %r: %r" % (k, r))
            check(r["key"] == str(r["pid"]), "key is the pid as a string: %r" % r)
            check(r["start_time"].endswith("Z"), "start_time: %r" % r["start_time"])
            host = sum(v for name, v in r["domains"].items() if name in ("package-0", "dram-0"))
            check(close(host, r["energy_joules"]), "row energy is the host-total domains' sum: %r" % r)
        energies = [r["energy_joules"] for r in rows]
        check(energies == sorted(energies, reverse=True), "rows not sorted by energy: %r" % energies)
        check(close(sum(energies), out["totals"]["attributed_joules"]), "rows add up to attributed")
        check(close(sum(r["cpu_seconds"] for r in rows), out["totals"]["cpu_seconds"]), "rows add up to cpu")
        # pid reuse: two rows with pid 100, different start times and users.
        p100 = [r for r in rows if r["pid"] == 100]
        check(len(p100) == 2 and p100[0]["start_time"] != p100[1]["start_time"], "pid reuse: %r" % p100)
        reused = [r for r in p100 if r["comm"] == "cc1"][0]
        check(reused["uid"] == 65534 and reused["exe"] is None and reused["unit"] is None, "reused pid row: %r" % reused)
        check(reused["energy_joules"] == 15.625 and reused["cpu_seconds"] == 2.5, "reused pid figures: %r" % reused)
        make = [r for r in rows if r["comm"] == "make"][0]
        check(make["user"] == "root" and make["uid"] == 0 and make["unit"] == "session-1.scope", "make row: %r" % make)
        check(make["domains"] == {"package-0": 7.5, "core-0": 3.75, "dram-0": 1.375}, "make domains: %r" % make["domains"])


def test_report_estimated_labelled():
    with jtest.TempDir() as d:
        db = make_db(d, "--estimated")
        out = report(db)
        check(out["estimated"] is True, "model data must be marked estimated")
        check(all(s["estimated"] and s["source"] == "model" for s in out["sources"]), "sources: %r" % out["sources"])
        table = jtest.joulectl("report", db=db).stdout
        check("estimated" in table, "table output does not say estimated:\n" + table)
        rows = list(csv.DictReader(io.StringIO(jtest.joulectl("report", "--csv", db=db).stdout)))
        check(rows and all(r["estimated"] == "true" for r in rows), "csv rows not marked estimated")
        status = jtest.joulectl_json("status", db=db)
        check(status["estimated"] is True, "status does not say estimated")


def group_check(db, by, keyfunc):
    base = report(db)["rows"]
    out = report(db, "--by", by)
    check(out["by"] == by, "by: %r" % out["by"])
    want = {}
    for r in base:
        k = keyfunc(r)
        w = want.setdefault(k, {"cpu": 0.0, "energy": 0.0, "domains": {}})
        w["cpu"] += r["cpu_seconds"]
        w["energy"] += r["energy_joules"]
        for name, v in r["domains"].items():
            w["domains"][name] = w["domains"].get(name, 0.0) + v
    got = {r["key"]: r for r in out["rows"]}
    check(sorted(got) == sorted(want), "--by %s keys %r, wanted %r" % (by, sorted(got), sorted(want)))
    for k, w in want.items():
        r = got[k]
        check("pid" not in r and "comm" not in r and "start_time" not in r,
              "--by %s rows carry per-process fields: %r" % (by, r))
        check(close(r["cpu_seconds"], w["cpu"]), "--by %s %s cpu %r != %r" % (by, k, r["cpu_seconds"], w["cpu"]))
        check(close(r["energy_joules"], w["energy"]), "--by %s %s energy %r != %r" % (by, k, r["energy_joules"], w["energy"]))
        for name, v in w["domains"].items():
            check(close(r["domains"].get(name, 0.0), v), "--by %s %s domain %s" % (by, k, name))
    check(close(sum(r["energy_joules"] for r in out["rows"]), out["totals"]["attributed_joules"]),
          "--by %s rows do not add up to attributed" % by)
    return got


def test_report_grouping():
    with jtest.TempDir() as d:
        db = make_db(d)
        got = group_check(db, "comm", lambda r: r["comm"])
        check(got["cc1"]["energy_joules"] == 15.625 + 7.5, "cc1 groups two processes: %r" % got["cc1"])
        got = group_check(db, "unit", lambda r: r["unit"] if r["unit"] is not None else "-")
        check(got["session-1.scope"]["cpu_seconds"] == 2.75, "session-1.scope cpu: %r" % got["session-1.scope"])
        got = group_check(db, "user", lambda r: r["user"])
        check(set(got) == {"root", "nobody"}, "users: %r" % sorted(got))


def test_report_since_until():
    with jtest.TempDir() as d:
        db = make_db(d)
        # Intervals end at T0+1 .. T0+10; selected by since < end <= until.
        out = report(db, "--since", "@%d" % (T0 + 3), "--until", "@%d" % (T0 + 6))
        check(out["since"] == "2023-11-14T22:13:23Z" and out["until"] == "2023-11-14T22:13:26Z",
              "since/until echo: %r %r" % (out["since"], out["until"]))
        sums = db_sums(db, (T0 + 3) * 10**9, (T0 + 6) * 10**9)
        check_totals(out, sums)
        # Intervals 3, 4, 5 (dram-0 unreadable in 3): 3 * 5 + 2 * 1 J idle.
        check(out["totals"]["idle_joules"] == 17.0, "three intervals selected: %r" % out["totals"])
        # ISO 8601 forms give the same selection.
        out2 = report(db, "--since", "2023-11-14T22:13:23Z", "--until", "2023-11-14T23:13:26+01:00")
        check(out2["totals"] == out["totals"], "ISO 8601 range differs: %r vs %r" % (out2["totals"], out["totals"]))
        # Only the last five intervals: the first make/cc1 processes are gone.
        late = report(db, "--since", "@%d" % (T0 + 5))
        check(sorted(r["comm"] for r in late["rows"]) == ["cc1", "sshd"], "late rows: %r" % late["rows"])
        # Nothing in range: empty rows, zero totals, still valid.
        none = report(db, "--since", "1h")
        check(none["rows"] == [] and none["totals"]["measured_joules"] == 0, "recent range not empty: %r" % none)
        # --limit
        lim = report(db, "--limit", "2")
        check(len(lim["rows"]) == 2 and lim["rows"][0]["comm"] == "cc1", "--limit 2: %r" % lim["rows"])


def test_report_csv():
    with jtest.TempDir() as d:
        db = make_db(d)
        for by in ("process", "comm", "unit", "user"):
            r = jtest.joulectl("report", "--csv", "--by", by, db=db)
            rows = list(csv.DictReader(io.StringIO(r.stdout)))
            js = report(db, "--by", by)["rows"]
            check(len(rows) == len(js), "--csv --by %s: %d rows, json %d" % (by, len(rows), len(js)))
            for c, j in zip(rows, js):
                check(c["key"] == j["key"], "csv key %r != %r" % (c["key"], j["key"]))
                check(float(c["energy_joules"]) == j["energy_joules"], "csv energy not exact: %r" % c)
                check(float(c["cpu_seconds"]) == j["cpu_seconds"], "csv cpu not exact: %r" % c)
                for name, v in j["domains"].items():
                    check(float(c["joules:" + name]) == v, "csv domain %s: %r" % (name, c))
                if by == "process":
                    check(int(c["pid"]) == j["pid"] and c["comm"] == j["comm"], "csv process fields: %r" % c)


def test_table_output():
    with jtest.TempDir() as d:
        db = make_db(d)
        r = jtest.joulectl("report", db=db)
        lines = r.stdout.splitlines()
        check(any(ISO_T0 in l for l in lines[:2]), "header lacks the range:\n" + r.stdout)
        check("package-0" in r.stdout and "rapl" in r.stdout, "header lacks the sources:\n" + r.stdout)
        for col in ("PID", "COMM", "UNIT", "USER", "CPU(s)", "ENERGY"):
            check(col in r.stdout, "table lacks column %s:\n%s" % (col, r.stdout))
        check("15.6 J" in r.stdout, "energy not in human units:\n" + r.stdout)
        check("estimated" not in r.stdout, "measured data labelled estimated:\n" + r.stdout)


def expect_usage(args, word, db, rc=2):
    r = jtest.joulectl(*args, db=db, check_rc=None)
    check(r.returncode == rc, "joulectl %s: exit %d, wanted %d (%s)" % (" ".join(args), r.returncode, rc, r.stderr))
    err = r.stderr.strip()
    check(err.count("\n") == 0 and err, "joulectl %s: stderr is not one line: %r" % (" ".join(args), r.stderr))
    check("Traceback" not in err and "Segmentation" not in err, "crash: %r" % err)
    check(word in err, "joulectl %s: message does not name %r: %r" % (" ".join(args), word, err))
    check(r.stdout == "", "joulectl %s printed on stdout: %r" % (" ".join(args), r.stdout))


def test_bad_input():
    with jtest.TempDir() as d:
        db = make_db(d)
        expect_usage(["report", "--bogus"], "--bogus", db)
        expect_usage(["--bogus", "report"], "--bogus", db)
        expect_usage(["frobnicate"], "frobnicate", db)
        expect_usage([], "verb", db)
        expect_usage(["report", "--since", "3x"], "3x", db)
        expect_usage(["report", "--since", "3x"], "expected a duration", db)
        expect_usage(["report", "--until", "2026-13-01"], "2026-13-01", db)
        expect_usage(["report", "--since", ""], "--since", db)
        expect_usage(["report", "--since"], "--since", db)
        expect_usage(["report", "--by", "color"], "color", db)
        expect_usage(["report", "--by", "color"], "process, comm, unit, user, slice or container", db)
        expect_usage(["report", "--limit", "-1"], "-1", db)
        expect_usage(["report", "--limit", "ten"], "ten", db)
        expect_usage(["report", "--json", "--csv"], "--csv", db)
        expect_usage(["report", "--since", "@%d" % (T0 + 5), "--until", "@%d" % T0], "--until", db)
        expect_usage(["report", "extra"], "extra", db)
        expect_usage(["status", "--verbose"], "--verbose", db)
        missing = os.path.join(d, "nope", "missing.db")
        expect_usage(["report"], "cannot open database " + missing, missing, rc=1)
        expect_usage(["status", "--json"], "No such file", missing, rc=1)
        check(not os.path.exists(missing) and not os.path.exists(os.path.dirname(missing)),
              "a reader created the database")
        # A file that is not a database: refused, one line, untouched.
        junk = os.path.join(d, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"not a database\n" * 100)
        expect_usage(["report"], "junk.db", junk, rc=1)
        with open(junk, "rb") as f:
            check(f.read() == b"not a database\n" * 100, "joulectl modified a non-database file")


def test_db_from_environment():
    with jtest.TempDir() as d:
        db = make_db(d)
        env = dict(os.environ, JOULED_DB=db)
        r = subprocess.run([jtest.JOULECTL, "report", "--json"], capture_output=True, text=True, env=env, timeout=60)
        check(r.returncode == 0 and json.loads(r.stdout)["rows"], "JOULED_DB not used: %s" % r.stderr)


def test_status():
    with jtest.TempDir() as d:
        db = make_db(d)
        s = jtest.joulectl_json("status", db=db)
        check(s["tracker"]["mode"] == "procfs", "tracker mode: %r" % s["tracker"])
        check(s["tracker"]["accounting"] is None, "accounting in procfs mode: %r" % s["tracker"])
        check("short-lived" in (s["tracker"]["note"] or ""), "procfs note missing: %r" % s["tracker"])
        names = {p["name"]: p for p in s["sources"]}
        check(set(names) == {"rapl", "model"}, "sources: %r" % s["sources"])
        check(names["rapl"]["in_use"] is True and names["rapl"]["estimated"] is False, "rapl: %r" % names["rapl"])
        check(names["model"]["in_use"] is False and names["model"]["reason"], "model: %r" % names["model"])
        check(s["estimated"] is False, "status estimated: %r" % s["estimated"])
        check(s["database"]["size_bytes"] == os.path.getsize(db), "size: %r" % s["database"])
        check(s["database"]["schema_version"] >= 1, "schema version: %r" % s["database"])
        # pid 4242 recorded, but no such jouled runs: its PID is not shown as live.
        check(s["daemon"]["last_sample"] == ISO_T10 and s["daemon"]["last_pid"] == 4242, "daemon: %r" % s["daemon"])
        check(s["daemon"]["running"] is False and s["daemon"]["pid"] is None, "a dead daemon as live: %r" % s["daemon"])
        check(s["processes_tracked"] == 5 and s["processes_stored"] == 4, "processes: %r %r" %
              (s["processes_tracked"], s["processes_stored"]))
        check(s["counters"]["exits_lost"] == 0 and s["counters"]["vanished"] == 2, "counters: %r" % s["counters"])
        check(sorted(x["domain"] for x in s["domains"]) == ["core-0", "dram-0", "package-0"], "domains: %r" % s["domains"])
        text = jtest.joulectl("status", db=db).stdout
        check("procfs" in text and "short-lived" in text and "rapl" in text, "status text:\n" + text)
        check("Daemon:      not running" in text and "4242" not in text.split("Overhead")[0], "status text:\n" + text)
        check(s["power"]["host_watts"] == 9.53125 and "Power:       host 9.53 W" in text, "power: %r" % s["power"])
        idle = {x["domain"]: x for x in s["idle"]}
        check(idle["package-0"]["watts"] == 5.0 and idle["package-0"]["method"] == "configured", "idle: %r" % idle)
        # jouled's own estimate, with its band, where it keeps one.
        con = sqlite3.connect(db)
        con.execute("INSERT INTO daemon_state (key, value, updated_ns) VALUES "
                    "('idle_estimate.package-0', '4.250000 0.500000 regression', 0)")
        con.commit()
        con.close()
        s = jtest.joulectl_json("status", db=db)
        check(s["idle"] == [{"domain": "package-0", "watts": 4.25, "band_watts": 0.5, "method": "regression"}],
              "idle estimate: %r" % s["idle"])
        check("package-0 4.25 \u00b1 0.50 W (regression)" in jtest.joulectl("status", db=db).stdout, "idle text")


def test_status_attribution_and_self():
    with jtest.TempDir() as d:
        db = make_db(d)
        s = jtest.joulectl_json("status", db=db)
        check(s["attribution"] == {"basis": "cpu-time", "per_package": False}, "attribution: %r" % s.get("attribution"))
        check(s["counters"]["exits_early_only"] == 1, "exits_early_only: %r" % s["counters"])
        # The synthetic data is from 2023: nothing of jouled in the last hour.
        check(s["self"] == {"pid": 4242, "cpu_seconds": 0, "energy_joules": 0, "estimated": False,
                            "window_seconds": 3600}, "self without recent data: %r" % s.get("self"))
        text = jtest.joulectl("status", db=db).stdout
        for want in ("cpu-time", "per package no", "exits_early_only 1",
                     "jouled itself: 0.00 CPU-s, 0 J over the last hour"):
            check(want in text, "status text lacks %r:\n%s" % (want, text))
    with jtest.TempDir() as d:
        # --recent: jouled (pid 4242) ran 3 intervals ending in the last 3 s: 40 ms and
        # 0.5 J package-0 + 0.125 J dram-0 in each.
        db = make_db(d, "--recent", "--estimated")
        s = jtest.joulectl_json("status", db=db)
        check(s["self"] == {"pid": 4242, "cpu_seconds": 0.12, "energy_joules": 1.875, "estimated": True,
                            "window_seconds": 3600}, "self: %r" % s.get("self"))
        text = jtest.joulectl("status", db=db).stdout
        check("jouled itself: 0.12 CPU-s, 1.88 J (estimated) over the last hour" in text, "status text:\n" + text)
        # Another process with the same pid started earlier is not jouled.
        con = sqlite3.connect(db)
        # (processes is a view of procs and labels since schema 6.)
        con.execute("UPDATE procs SET pid = 4242 WHERE labels_id IN (SELECT id FROM labels WHERE comm = 'sshd')")
        con.commit()
        con.close()
        check(jtest.joulectl_json("status", db=db)["self"]["cpu_seconds"] == 0.12, "an older pid 4242 counted")
        # No self_pid: the daemon's pid.
        con = sqlite3.connect(db)
        con.execute("DELETE FROM daemon_state WHERE key IN ('self_pid', 'attribution_basis', "
                    "'attribution_per_package', 'exits_early_only')")
        con.commit()
        con.close()
        s = jtest.joulectl_json("status", db=db)
        check(s["self"]["pid"] == 4242 and s["self"]["cpu_seconds"] == 0.12, "self from pid: %r" % s["self"])
        check(s["attribution"] == {"basis": None, "per_package": None} and s["counters"]["exits_early_only"] is None,
              "unknown attribution state is null: %r" % s)


CONTAINER_ID = "ab" * 32


def test_report_slice_and_container():
    with jtest.TempDir() as d:
        db = make_db(d)
        slices = {"make": "user-0.slice", "cc1": "user-0.slice", "sshd": "system.slice"}
        got = group_check(db, "slice", lambda r: "-" if r["uid"] == 65534 else slices[r["comm"]])
        check(got["user-0.slice"]["cpu_seconds"] == 2.75 and got["system.slice"]["cpu_seconds"] == 0.1,
              "--by slice cpu: %r" % got)
        got = group_check(db, "container", lambda r: CONTAINER_ID if r["uid"] == 65534 else "-")
        check(got[CONTAINER_ID]["energy_joules"] == 15.625, "--by container: %r" % got)
        t = jtest.joulectl("report", "--by", "container", db=db).stdout
        check("CONTAINER" in t and CONTAINER_ID[:36] in t, "table --by container:\n" + t)
        t = jtest.joulectl("report", "--by", "slice", db=db).stdout
        check("SLICE" in t and "user-0.slice" in t and "system.slice" in t, "table --by slice:\n" + t)
        rows = list(csv.DictReader(io.StringIO(jtest.joulectl("report", "--csv", "--by", "slice", db=db).stdout)))
        check(sorted(r["key"] for r in rows) == ["-", "system.slice", "user-0.slice"], "csv --by slice: %r" % rows)


def test_report_kernel_group():
    with jtest.TempDir() as d:
        db = make_db(d, "--kthread")
        procs = report(db)["rows"]
        kw = [r for r in procs if r["comm"] == "kworker/0:1"]
        check(len(kw) == 1 and kw[0]["pid"] == 50, "kernel thread row by process: %r" % kw)
        # 10 intervals of 0.375 J package-0 + a quarter of it on dram-0 (unread in one), 30 ms CPU.
        check(kw[0]["energy_joules"] == 4.59375 and kw[0]["cpu_seconds"] == 0.3, "kernel thread figures: %r" % kw)
        for by in ("comm", "unit", "user", "slice", "container"):
            out = report(db, "--by", by)
            k = [r for r in out["rows"] if r["key"] == "[kernel]"]
            check(len(k) == 1 and k[0]["energy_joules"] == 4.59375 and k[0]["cpu_seconds"] == 0.3,
                  "--by %s: no [kernel] group with the kernel thread's figures: %r" % (by, out["rows"]))
            check("kworker/0:1" not in [r["key"] for r in out["rows"]], "--by %s: kernel thread outside [kernel]" % by)
            check(close(sum(r["energy_joules"] for r in out["rows"]), out["totals"]["attributed_joules"]),
                  "--by %s rows do not add up to attributed" % by)
        # uid 0, but not root's: the root row is the same as without the kernel thread.
        users = {r["key"]: r for r in report(db, "--by", "user")["rows"]}
        check(users["root"]["cpu_seconds"] == 2.85 and "[kernel]" in users,
              "--by user: %r" % users)
        t = jtest.joulectl("report", "--by", "comm", db=db).stdout
        check("[kernel]" in t, "table lacks [kernel]:\n" + t)
        # top groups the same way.
        for by in ("comm", "unit", "user"):
            t = jtest.joulectl("top", "--once", "--by", by, "--delay", "3600", db=db).stdout
            check("[kernel]" in t and "kworker/0:1" not in t, "top --by %s: kernel thread not in [kernel]:\n%s" % (by, t))


def irq_db_sum(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute("SELECT total(irq_j) FROM interval_domains WHERE host_total = 1").fetchone()[0]
    finally:
        con.close()


def test_report_irq():
    with jtest.TempDir() as d:
        db = make_db(d)
        for by in ("process", "comm"):
            out = report(db, "--by", by)
            t = out["totals"]
            # 0.125 J of package-0's 0.25 J unattributed in each of 10 intervals.
            check(t["irq_joules"] == 1.25 and t["irq_joules"] == irq_db_sum(db), "totals.irq_joules: %r" % t)
            check(t["irq_joules"] <= t["unattributed_joules"], "irq is part of unattributed: %r" % t)
            check(out["irq"] == {"key": "[irq]", "energy_joules": 1.25}, "irq object: %r" % out.get("irq"))
            check("[irq]" not in [r["key"] for r in out["rows"]], "[irq] is not a row that adds to attributed")
            table = jtest.joulectl("report", "--by", by, db=db).stdout
            irq = [l for l in table.splitlines() if "[irq]" in l]
            check(len(irq) == 1 and "1.25 J" in irq[0] and "unattributed" in irq[0], "table [irq] row:\n" + table)
        out = report(db, "--since", "@%d" % (T0 + 8))
        check(out["totals"]["irq_joules"] == 0.25 and out["irq"]["energy_joules"] == 0.25, "irq in a range: %r" % out)
        # No irq energy: no [irq] row in the table.
        con = sqlite3.connect(db)
        con.execute("UPDATE interval_domains SET irq_j = 0")
        con.commit()
        con.close()
        check("[irq]" not in jtest.joulectl("report", db=db).stdout, "[irq] row shown with no irq energy")
        check(report(db)["totals"]["irq_joules"] == 0, "irq_joules with none stored")


def test_report_wakeups_and_idle_power():
    with jtest.TempDir() as d:
        db = make_db(d)
        rows = report(db)["rows"]
        by_comm = {(r["comm"], r["uid"]): r for r in rows}
        # Wakeups per interval: make 10 (5 s), cc1 4 (5 s), sshd 3 (10 s), cc1' 0.
        for key, n, wps in ((("make", 0), 50, 10.0), (("cc1", 0), 20, 4.0), (("sshd", 0), 30, 3.0),
                            (("cc1", 65534), 0, 0.0)):
            r = by_comm[key]
            check(r["wakeups"] == n and r["wakeups_per_second"] == wps, "%s wakeups: %r" % (key, r))
        units = {r["key"]: r for r in report(db, "--by", "unit")["rows"]}
        check(units["session-1.scope"]["wakeups"] == 70 and units["session-1.scope"]["wakeups_per_second"] == 14.0,
              "--by unit wakeups over the time the group was present: %r" % units["session-1.scope"])
        t = jtest.joulectl("report", db=db).stdout
        check("WAKE/S" in t, "table lacks WAKE/S:\n" + t)
        make = [l for l in t.splitlines() if " make " in l]
        check(make and make[0].split()[-1] == "10.0", "make's WAKE/S in the table:\n" + t)
        # Sources: mean idle power and the latest method.
        src = {s["domain"]: s for s in report(db)["sources"]}
        for dom, w in (("package-0", 5.0), ("core-0", 2.0), ("dram-0", 1.0)):
            check(src[dom]["idle_w"] == w and src[dom]["idle_method"] == "configured", "sources idle: %r" % src[dom])


def test_version_and_help():
    r = jtest.joulectl("--version")
    check(r.stdout.startswith("joulectl "), "--version: %r" % r.stdout)
    r = jtest.joulectl("--help")
    check("report" in r.stdout and "status" in r.stdout, "--help: %r" % r.stdout)


def test_report_sort_limit_and_carbon():
    with jtest.TempDir() as d:
        db = make_db(d)
        rows = report(db, "--sort", "cpu")["rows"]
        cpus = [r["cpu_seconds"] for r in rows]
        check(cpus == sorted(cpus, reverse=True), "--sort cpu not by CPU: %r" % cpus)
        rows = report(db, "--sort", "power")["rows"]
        watts = [r["power_watts"] for r in rows]
        check(watts == sorted(watts, reverse=True), "--sort power not by power: %r" % watts)
        # make (pid 100) was present 5 s with 7.5 J package + 1.875 dram... power = energy / 5 s
        make = [r for r in rows if r["comm"] == "make"][0]
        check(close(make["power_watts"], make["energy_joules"] / 5.0), "make power: %r" % make)
        out = report(db, "--limit", "2")
        check(len(out["rows"]) == 2, "--limit 2 gave %d rows" % len(out["rows"]))
        # Carbon: default figure, then overridden by option and environment.
        check(out["carbon"]["intensity_g_per_kwh"] == 480.0 and "Ember" in out["carbon"]["origin"],
              "default carbon: %r" % out["carbon"])
        for r in out["rows"]:
            check(close(r["co2e_grams"], r["energy_joules"] / 3.6e6 * 480), "row co2e: %r" % r)
        out = report(db, "--carbon-intensity", "100")
        check(out["carbon"]["intensity_g_per_kwh"] == 100.0, "--carbon-intensity ignored: %r" % out["carbon"])
        check(close(out["totals"]["co2e_grams"], out["totals"]["measured_joules"] / 3.6e6 * 100), "totals co2e")
        env = dict(os.environ, JOULED_CARBON_INTENSITY="50")
        r = subprocess.run([jtest.JOULECTL, "--db", db, "report", "--json"], capture_output=True, text=True,
                           env=env, timeout=60)
        c = json.loads(r.stdout)["carbon"]
        check(c["intensity_g_per_kwh"] == 50.0 and "JOULED_CARBON_INTENSITY" in c["origin"], "env carbon: %r" % c)
        # The daemon's configured figure.
        con = sqlite3.connect(db)
        con.execute("INSERT OR REPLACE INTO daemon_state (key, value, updated_ns) VALUES ('carbon_g_per_kwh', '200', 0)")
        con.commit()
        con.close()
        c = report(db)["carbon"]
        check(c["intensity_g_per_kwh"] == 200.0 and "jouled.conf" in c["origin"], "daemon carbon: %r" % c)
        t = jtest.joulectl("report", db=db).stdout
        check("gCO2e" in t and "200 g/kWh" in t, "table lacks carbon:\n" + t)
        for col in ("AVG(W)", "gCO2e"):
            check(col in t, "table lacks %s:\n%s" % (col, t))


def test_export():
    with jtest.TempDir() as d:
        db = make_db(d)
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        (n_domain_rows,) = con.execute("SELECT count(*) FROM sample_domains").fetchone()
        (n_bare,) = con.execute(
            "SELECT count(*) FROM samples s WHERE NOT EXISTS (SELECT 1 FROM sample_domains sd "
            "WHERE sd.interval_id = s.interval_id AND sd.process_id = s.process_id)").fetchone()
        con.close()
        r = jtest.joulectl("export", "--format", "csv", db=db)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        check(len(rows) == n_domain_rows + n_bare, "export rows %d != %d" % (len(rows), n_domain_rows + n_bare))
        js = json.loads(jtest.joulectl("export", "--format", "json", db=db).stdout)
        check(len(js) == len(rows), "json %d records, csv %d" % (len(js), len(rows)))
        for k in ("interval_start", "interval_end", "pid", "comm", "cpu_seconds", "domain", "source",
                  "estimated", "host_total", "energy_joules"):
            check(k in js[0] and k in rows[0], "export lacks %r: %r" % (k, js[0]))
        host = sum(x["energy_joules"] for x in js if x["host_total"])
        check(host == report(db)["totals"]["attributed_joules"], "export host-total energy %r != attributed" % host)
        check(sum(float(x["energy_joules"]) for x in rows if x["host_total"] == "true") == host, "csv sum")
        # A range: intervals 1 and 2 only.
        js = json.loads(jtest.joulectl("export", "--since", "@%d" % (T0 + 1), "--until", "@%d" % (T0 + 3),
                                       "--format", "json", db=db).stdout)
        ends = sorted({x["interval_end"] for x in js})
        check(ends == ["2023-11-14T22:13:22.000Z", "2023-11-14T22:13:23.000Z"], "export range: %r" % ends)
        check(json.loads(jtest.joulectl("export", "--since", "@1", "--until", "@2", "--format", "json",
                                        db=db).stdout) == [], "empty export is not []")


def test_top_once():
    with jtest.TempDir() as d:
        db = make_db(d, "--estimated")
        t = jtest.joulectl("top", "--once", db=db).stdout
        lines = t.splitlines()
        check(lines[0].startswith("joulectl top") and "sort: power" in lines[0], "top header: %r" % lines[:1])
        check("estimated" in t and "model" in t, "top does not say estimated:\n" + t)
        check("W" in lines[1], "no host power:\n" + t)
        # The last interval holds pid 100 (cc1, 2.5 J) and pid 300 (sshd, 0.125 J); make has exited.
        rows = [l.split() for l in lines if l.strip() and l.split()[0].isdigit()]
        check([r[1] for r in rows] == ["cc1", "sshd"], "top rows: %r" % rows)
        check(rows[0][4] == "3.125", "cc1 power in W: %r" % rows[0])
        t = jtest.joulectl("top", "--once", "--sort", "name", "--delay", "10", db=db).stdout
        rows = [l.split() for l in t.splitlines() if l.strip() and l.split()[0].isdigit()]
        check([r[1] for r in rows][:2] == ["cc1", "cc1"] and "make" in [r[1] for r in rows],
              "--delay 10 window / --sort name: %r" % rows)
        t = jtest.joulectl("top", "--once", "--by", "unit", db=db).stdout
        check("UNIT" in t and "sshd.service" in t, "top --by unit:\n" + t)
        # WAKE/S: wakeups over the window's length (10 s): make 5, sshd 3, cc1 (200) 2, cc1' 0.
        t = jtest.joulectl("top", "--once", "--sort", "wakeups", "--delay", "10", db=db).stdout
        check("sort: wakeups" in t and "WAKE/S" in t, "top --sort wakeups:\n" + t)
        rows = [l.split() for l in t.splitlines() if l.strip() and l.split()[0].isdigit()]
        check([(r[1], r[7]) for r in rows] == [("make", "5.0"), ("sshd", "3.0"), ("cc1", "2.0"), ("cc1", "0.0")],
              "top WAKE/S by wakeups: %r" % rows)
        t = jtest.joulectl("top", "--once", "--by", "unit", "--delay", "10", db=db).stdout
        su = [l.split() for l in t.splitlines() if l.startswith("session-1.scope")]
        check(su and su[0][-1] == "7.0", "top --by unit WAKE/S (70 wakeups over 10 s):\n" + t)
        for l in jtest.joulectl("top", "--once", db=db).stdout.splitlines():
            check(len(l) <= 80, "top --once line wider than 80: %r" % l)
        with jtest.TempDir() as e:
            empty = os.path.join(e, "empty.db")
            subprocess.run([MAKE_DB, empty], capture_output=True, timeout=60)
            con = sqlite3.connect(empty)
            con.execute("DELETE FROM intervals")
            con.commit()
            con.close()
            t = jtest.joulectl("top", "--once", db=empty).stdout
            check("No intervals" in t, "top on an empty database:\n" + t)


def test_new_bad_input():
    with jtest.TempDir() as d:
        db = make_db(d)
        expect_usage(["report", "--sort", "size"], "--sort", db)
        expect_usage(["report", "--html", ""], "--html", db)
        expect_usage(["report", "--json", "--html", "x.html"], "--html", db)
        expect_usage(["report", "--carbon-intensity", "-5"], "--carbon-intensity", db)
        expect_usage(["--carbon-intensity", "lots", "report"], "--carbon-intensity", db)
        expect_usage(["top", "--delay", "0"], "--delay", db)
        expect_usage(["top", "--sort", "mem"], "--sort", db)
        expect_usage(["top", "--by", "host"], "--by", db)
        expect_usage(["top", "extra"], "extra", db)
        expect_usage(["export", "--format", "xml"], "--format", db)
        expect_usage(["export", "--since", "soon"], "--since", db)
        expect_usage(["export", "--since", "1h", "--until", "2h"], "--until", db)
        expect_usage(["run"], "command", db)
        expect_usage(["run", "--repeat", "0", "--", "true"], "--repeat", db)
        expect_usage(["run", "--budget", "-1", "--", "true"], "--budget", db)
        expect_usage(["run", "--bogus", "--", "true"], "--bogus", db)
        r = subprocess.run([jtest.JOULECTL, "--db", db, "report"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, JOULED_CARBON_INTENSITY="x"))
        check(r.returncode == 2 and "JOULED_CARBON_INTENSITY" in r.stderr, "bad env: %r" % r.stderr)
        r = jtest.joulectl("report", "--html", os.path.join(d, "no", "such", "dir.html"), db=db, check_rc=1)
        check("--html" in r.stderr and r.stderr.count("\n") == 1, "unwritable --html: %r" % r.stderr)


def test_report_html_file():
    with jtest.TempDir() as d:
        db = make_db(d)
        path = os.path.join(d, "r.html")
        jtest.joulectl("report", "--html", path, db=db)
        html = open(path).read()
        check(html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"), "not a whole document")
        check(html.count("<svg") == 2, "want 2 SVG charts, got %d" % html.count("<svg"))
        for banned in ("<script", "http://", "https://", "<link", "@import"):
            if banned == "http://":
                # Only the SVG namespace is allowed.
                check(html.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http://") == 0,
                      "external reference in the HTML")
                continue
            check(banned not in html, "HTML is not self-contained: %s" % banned)
        check("sshd" in html and "cc1" in html and "gCO2e" in html, "HTML lacks the table")


def test_report_filters():
    with jtest.TempDir() as d:
        db = make_db(d, "--kthread")
        base = report(db)
        keys = lambda out: sorted((r["pid"], r["comm"]) for r in out["rows"])
        out = report(db, "--unit", "session-*")
        check(keys(out) == [(100, "make"), (200, "cc1")], "--unit session-*: %r" % keys(out))
        check(out["totals"]["measured_joules"] == base["totals"]["measured_joules"], "filtered totals not the host's")
        check(close(out["totals"]["rows_joules"], sum(r["energy_joules"] for r in out["rows"])), "rows_joules")
        check(out["filter"] == {"unit": ["session-*"]} and "filter" not in base, "filter: %r" % out.get("filter"))
        out = report(db, "--comm", "cc?", "--comm", "sshd")
        check(keys(out) == [(100, "cc1"), (200, "cc1"), (300, "sshd")], "--comm cc? --comm sshd: %r" % keys(out))
        out = report(db, "--comm", "cc1", "--user", "nobody")
        check(keys(out) == [(100, "cc1")], "--comm cc1 --user nobody: %r" % keys(out))
        check(keys(report(db, "--user", "65534")) == [(100, "cc1")], "--user by uid")
        check(keys(report(db, "--pid", "[23]00")) == [(200, "cc1"), (300, "sshd")], "--pid [23]00")
        check(report(db, "--unit", "nothing*")["rows"] == [], "a filter matching nothing")
        # Grouped: the filter chooses processes, the grouping sums them.
        out = report(db, "--by", "comm", "--unit", "session-1.scope")
        rows = {r["key"]: r["energy_joules"] for r in out["rows"]}
        check(list(rows) == ["make", "cc1"] or sorted(rows) == ["cc1", "make"], "--by comm --unit: %r" % rows)
        check(rows["cc1"] == 7.5, "cc1 of session-1.scope only: %r" % rows)
        t = jtest.joulectl("report", "--unit", "sshd*", db=db).stdout
        check("[irq]" not in t and "sshd" in t and "make" not in t, "filtered table:\n" + t)
        expect_usage(["report", "--unit", ""], "--unit", db)


def test_report_sort_name_wakeups():
    with jtest.TempDir() as d:
        db = make_db(d)
        rows = report(db, "--sort", "name")["rows"]
        names = [r["comm"] for r in rows]
        check(names == sorted(names), "--sort name: %r" % names)
        check(report(db, "--sort", "name")["sort"] == "name", "sort not said")
        rows = report(db, "--sort", "wakeups")["rows"]
        w = [r["wakeups"] for r in rows]
        check(w == sorted(w, reverse=True) and w[0] == 50, "--sort wakeups: %r" % w)
        keys = [r["key"] for r in report(db, "--sort", "name", "--by", "unit")["rows"]]
        check(keys == sorted(keys), "--by unit --sort name: %r" % keys)


def test_report_every():
    with jtest.TempDir() as d:
        db = make_db(d)
        out = report(db, "--every", "5s", "--unit", "session-1.scope")
        check(out["every_seconds"] == 5 and len(out["buckets"]) == 2, "buckets: %r" % out.get("buckets"))
        b0, b1 = out["buckets"]
        check(b0["since"] == ISO_T0 and b0["until"] == "2023-11-14T22:13:25Z", "bucket 0 bounds: %r" % b0["since"])
        check(sorted(r["pid"] for r in b0["rows"]) == [100, 200] and b1["rows"] == [], "bucket rows")
        check(b0["totals"]["measured_joules"] == db_sums(db, 0, (T0 + 5) * 10**9)["measured"], "bucket totals")
        # Buckets add up to the whole range.
        whole = report(db)
        check(close(sum(b["totals"]["measured_joules"] for b in report(db, "--every", "2s")["buckets"]),
                    whole["totals"]["measured_joules"]), "buckets do not add up")
        r = jtest.joulectl("report", "--every", "5s", "--csv", db=db)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        check({x["bucket"] for x in rows} == {ISO_T0, "2023-11-14T22:13:25Z"}, "csv buckets: %r" % rows[:2])
        t = jtest.joulectl("report", "--every", "5s", db=db).stdout
        check(t.count("Energy from") == 2, "table: one block per bucket:\n" + t)
        expect_usage(["report", "--every", "0"], "--every", db)
        expect_usage(["report", "--every", "soon"], "--every", db)
        # Minute buckets of one unit over minute rollups and raw intervals.
        steady = make_db(d, "--steady", name="steady.db")
        out = report(steady, "--every", "1m", "--unit", "steady.service")
        check(len(out["buckets"]) == 10, "per-minute buckets: %d" % len(out["buckets"]))
        for b in out["buckets"]:
            check([r["key"] for r in b["rows"]] == ["700"] and b["rows"][0]["energy_joules"] == 120.0,
                  "minute bucket %s: %r" % (b["since"], b["rows"]))
        check(report(steady, "--every", "1m", "--unit", "other.service")["buckets"][0]["rows"] == [],
              "--unit other: rows of another unit")


def test_future_since():
    with jtest.TempDir() as d:
        db = make_db(d)
        for args in (["report", "--since", "2099-01-01"], ["report", "--json", "--since", "2099-01-01"],
                     ["export", "--since", "2099-01-01"]):
            expect_usage(args, "--since", db)


def test_export_levels():
    with jtest.TempDir() as d:
        for flags, want in (([], {"raw"}), (["--prune-raw"], {"raw", "minute"})):
            db = make_db(d, "--steady", *flags, name="s%d.db" % len(flags))
            js = json.loads(jtest.joulectl("export", "--format", "json", db=db).stdout)
            levels = {x["level"] for x in js}
            check(levels == want, "export levels %r, wanted %r" % (levels, want))
            for x in js:
                check(x["duration_seconds"] == (2.0 if x["level"] == "raw" else 60.0), "duration: %r" % x)
            check(sum(x["energy_joules"] for x in js) == report(db)["totals"]["attributed_joules"],
                  "export counts a moment twice")
            recent = json.loads(jtest.joulectl("export", "--since", "2m", "--format", "json", db=db).stdout)
            check(recent and all(x["level"] == "raw" and x["duration_seconds"] <= 3.0 for x in recent),
                  "export --since 2m: %r" % recent[:3])
            rows = list(csv.DictReader(io.StringIO(jtest.joulectl("export", "--format", "csv", db=db).stdout)))
            check({x["level"] for x in rows} == want, "csv levels")


def test_report_by_process_past_raw_retention():
    """Past the raw retention, --by process says that per-process detail is
    not kept (table and JSON) and shows the label sets, with the totals of
    any other grouping; within it, processes."""
    with jtest.TempDir() as d:
        kept = report(make_db(d, "--steady", name="kept.db"), "--by", "process")
        check(kept["per_process_detail"] is True and any(r["pid"] > 0 for r in kept["rows"]),
              "raw rows kept: processes expected: %r" % kept["rows"][:2])
        db = make_db(d, "--steady", "--prune-raw", name="pruned.db")
        js = report(db, "--by", "process")
        check(js["per_process_detail"] is False, "per_process_detail: %r" % js.get("per_process_detail"))
        check(js["rows"] and all(r.get("pid", 0) == 0 for r in js["rows"]), "label-set rows: %r" % js["rows"][:2])
        by_comm = report(db, "--by", "comm")
        check(close(sum(r["energy_joules"] for r in js["rows"]), sum(r["energy_joules"] for r in by_comm["rows"])),
              "label-set rows add up to the same energy as by comm")
        text = jtest.joulectl("report", "--by", "process", db=db).stdout
        check("Per-process detail is not kept past the raw retention" in text, "table says nothing: %s" % text[:400])
        check("per_process_detail" not in report(db, "--by", "comm"), "per_process_detail only with --by process")


def test_report_two_views():
    """Each row: energy_joules (dynamic) and energy_with_idle_joules (with its
    CPU-time share of idle); both views conserve energy; the idle figure comes
    with its method and band in every format."""
    with jtest.TempDir() as d:
        db = make_db(d, "--kthread")
        out = report(db)
        t, rows = out["totals"], out["rows"]
        for r in rows:
            check(r["energy_with_idle_joules"] >= r["energy_joules"], "with idle below dynamic: %r" % r)
        # Dynamic view: the rows add up to attributed.
        check(close(sum(r["energy_joules"] for r in rows), t["attributed_joules"]), "rows != attributed")
        # With idle: attributed + the processes' idle shares, at most idle, and
        # all of it here (every interval has CPU-using processes, all in rows).
        check(t["idle_share_joules"] <= t["idle_joules"] + 1e-9, "idle share above idle: %r" % t)
        check(close(t["idle_share_joules"], t["idle_joules"]), "every CPU-using process is a row: %r" % t)
        with_idle = sum(r["energy_with_idle_joules"] for r in rows)
        check(close(with_idle, t["attributed_joules"] + t["idle_share_joules"]),
              "rows with idle %r != attributed + idle share %r" % (with_idle, t))
        check(close(t["rows_with_idle_joules"], with_idle), "rows_with_idle_joules: %r" % t)
        # Each row's share is its CPU time over all processes' in each
        # interval: sshd 10 ms of 390 ms in interval 0 (make 100, cc1 250,
        # sshd 10, kworker 30), package-0 idle 5 J and dram-0 1 J.
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        (share,) = con.execute("SELECT total(s.idle_share_j) FROM samples s JOIN processes p ON p.id = s.process_id "
                               "WHERE p.pid = 300").fetchone()
        con.close()
        sshd = [r for r in rows if r["comm"] == "sshd"][0]
        check(close(sshd["energy_with_idle_joules"] - sshd["energy_joules"], share), "sshd share: %r" % sshd)
        # With a filter: the rows' part of each view.
        f = report(db, "--unit", "session-*")
        check(close(f["totals"]["rows_with_idle_joules"], sum(r["energy_with_idle_joules"] for r in f["rows"]))
              and f["totals"]["rows_with_idle_joules"] < with_idle, "filtered rows_with_idle_joules: %r" % f["totals"])
        # Grouped the same: by unit, both views still add up.
        units = report(db, "--by", "unit")
        check(close(sum(r["energy_with_idle_joules"] for r in units["rows"]),
                    units["totals"]["attributed_joules"] + units["totals"]["idle_share_joules"]), "by unit with idle")
        # The idle figure, its method and band (configured: exact, band 0).
        idle = {x["domain"]: x for x in out["idle"]}
        check(sorted(idle) == ["dram-0", "package-0"], "idle domains (host total): %r" % out["idle"])
        check(idle["package-0"]["watts"] == 5.0 and idle["package-0"]["band_watts"] == 0.0
              and idle["package-0"]["method"] == "configured" and idle["package-0"]["joules"] == 50.0
              and idle["package-0"]["provisional"] is False, "package-0 idle: %r" % idle["package-0"])
        check(t["idle_band_joules"] == 0.0 and t["idle_provisional"] is False, "totals band: %r" % t)
        table = jtest.joulectl("report", db=db).stdout
        check("ENERGY+IDLE" in table, "table lacks ENERGY+IDLE:\n" + table)
        check("package-0 5.00 \u00b1 0.00 W configured" in table, "table lacks the idle method and band:\n" + table)
        sshd_line = [l for l in table.splitlines() if " sshd " in l][0]
        check("%.2f J" % sshd["energy_with_idle_joules"] in sshd_line, "sshd's with-idle cell:\n" + table)
        rows_csv = list(csv.DictReader(io.StringIO(jtest.joulectl("report", "--csv", db=db).stdout)))
        check(close(sum(float(r["energy_with_idle_joules"]) for r in rows_csv), with_idle), "csv with idle")
        path = os.path.join(d, "r.html")
        jtest.joulectl("report", "--html", path, db=db)
        html = open(path).read()
        check("Energy with idle (J)" in html and html.count('class="n with-idle"') == len(rows), "html column")
        check('package-0 5.00 \u00b1 0.00 W <span class="idle-method">configured</span>' in html, "html idle row")

        # A regression estimate with a band: ± 0.5 W over 600 s is ± 300 J.
        steady = make_db(d, "--steady", "--prune-raw", name="steady.db")
        out = report(steady)
        idle = out["idle"][0]
        check(idle["method"] == "regression" and idle["watts"] == 4.5 and close(idle["band_watts"], 0.5),
              "steady idle: %r" % idle)
        check(close(out["totals"]["idle_band_joules"], 300.0) and close(idle["band_joules"], 300.0),
              "idle band over rollups and raw intervals: %r" % out["totals"])
        check(close(out["rows"][0]["energy_with_idle_joules"], 3900.0), "steady with idle: %r" % out["rows"][0])
        table = jtest.joulectl("report", db=steady).stdout
        check("Idle 2.70 \u00b1 0.30 kJ (package-0 4.50 \u00b1 0.50 W regression)" in table, "steady idle:\n" + table)


def test_idle_in_status_and_top():
    """status and top show each domain's idle estimate with its band and method."""
    with jtest.TempDir() as d:
        db = make_db(d)
        s = jtest.joulectl_json("status", db=db)
        idle = {x["domain"]: x for x in s["idle"]}
        # From the newest interval (jouled keeps no estimate here): configured is exact.
        check(idle["package-0"] == {"domain": "package-0", "watts": 5.0, "band_watts": 0.0, "method": "configured"},
              "status idle: %r" % idle)
        check("package-0 5.00 \u00b1 0.00 W (configured)" in jtest.joulectl("status", db=db).stdout, "status idle text")
        t = jtest.joulectl("top", "--once", db=db).stdout
        check("Idle: dram-0 1.00\u00b10.00 W configured, package-0 5.00\u00b10.00 W configured" in t, "top idle:\n" + t)
        con = sqlite3.connect(db)
        con.execute("INSERT INTO daemon_state (key, value, updated_ns) VALUES "
                    "('idle_estimate.package-0', '2.000000 1.000000 prior', 0)")
        con.commit()
        con.close()
        check("package-0 2.00 \u00b1 1.00 W (prior, provisional" in jtest.joulectl("status", db=db).stdout,
              "a prior is provisional")
        steady = make_db(d, "--steady", name="steady.db")
        t = jtest.joulectl("top", "--once", db=steady).stdout
        check("Idle: package-0 4.50\u00b10.50 W regression" in t, "top idle with a band:\n" + t)


def test_export_with_idle():
    with jtest.TempDir() as d:
        db = make_db(d)
        js = json.loads(jtest.joulectl("export", "--format", "json", db=db).stdout)
        t = report(db)["totals"]
        host = [x for x in js if x["host_total"]]
        check(close(sum(x["energy_with_idle_joules"] for x in host), t["attributed_joules"] + t["idle_share_joules"]),
              "export with idle != attributed + idle share")
        check(all(x["energy_with_idle_joules"] >= x["energy_joules"] for x in js), "with idle below dynamic")
        rows = list(csv.DictReader(io.StringIO(jtest.joulectl("export", "--format", "csv", db=db).stdout)))
        check(close(sum(float(x["energy_with_idle_joules"]) for x in rows if x["host_total"] == "true"),
                    t["attributed_joules"] + t["idle_share_joules"]), "csv export with idle")


def test_did_you_mean_and_help():
    with jtest.TempDir() as d:
        db = make_db(d)
        for args, near in ((["reprot"], "'report'"), (["report", "--sinse", "2h"], "'--since'"),
                           (["report", "--evry", "1m"], "'--every'"), (["export", "--formt", "json"], "'--format'"),
                           (["top", "--srot", "name"], "'--sort'"), (["--dv", "x", "status"], "'--db'")):
            expect_usage(args, "did you mean " + near, db)
        r = jtest.joulectl("report", "--zzzzzzzz", db=db, check_rc=2)
        check("did you mean" not in r.stderr, "a far word suggested: %r" % r.stderr)
        h = jtest.joulectl("--help").stdout
        check("export [--since T] [--until T] [--format csv|json]" in h, "export's optional flags:\n" + h)
        for flag in ("--every", "--unit", "--comm", "--user", "--pid", "name|wakeups"):
            check(flag in h and flag in jtest.joulectl("report", "--help").stdout, "--help lacks %s" % flag)
        check("DESIGN.md" not in h, "--help refers to DESIGN.md")


def complete(line):
    """What bash completion offers at the end of line (bash-completion loaded)."""
    comp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging", "completion",
                        "joulectl")
    script = ("source /usr/share/bash-completion/bash_completion; source %s; "
              "COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< \"$COMP_LINE\"; "
              "[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
              "_joulectl; printf '%%s\\n' \"${COMPREPLY[@]}\"" % (comp, json.dumps(line)))
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    return r.stdout.split()


def test_completion():
    if not os.path.exists("/usr/share/bash-completion/bash_completion"):
        print("skip: bash-completion not installed")
        return
    flags = complete("joulectl report --")
    for f in ("--unit", "--comm", "--user", "--pid", "--every", "--sort"):
        check(f in flags, "report completion lacks %s: %r" % (f, flags))
    check("wakeups" in complete("joulectl report --sort ") and "name" in complete("joulectl report --sort "),
          "report --sort completion")
    check("1h" in complete("joulectl report --every "), "--every completion")
    check("root" in complete("joulectl report --user ro"), "--user completion")
    check("report" in complete("joulectl rep"), "verb completion")


if __name__ == "__main__":
    if not os.path.exists(MAKE_DB) or not os.path.exists(jtest.JOULECTL):
        print("SKIP: %s or %s not built" % (MAKE_DB, jtest.JOULECTL))
        sys.exit(jtest.SKIP)
    jtest.run_tests([
        test_report_json_fields_and_totals,
        test_report_estimated_labelled,
        test_report_grouping,
        test_report_since_until,
        test_report_csv,
        test_table_output,
        test_bad_input,
        test_db_from_environment,
        test_status,
        test_status_attribution_and_self,
        test_report_slice_and_container,
        test_report_kernel_group,
        test_report_irq,
        test_report_wakeups_and_idle_power,
        test_version_and_help,
        test_report_sort_limit_and_carbon,
        test_export,
        test_top_once,
        test_new_bad_input,
        test_report_html_file,
        test_report_filters,
        test_report_sort_name_wakeups,
        test_report_every,
        test_future_since,
        test_export_levels,
        test_report_by_process_past_raw_retention,
        test_report_two_views,
        test_export_with_idle,
        test_idle_in_status_and_top,
        test_did_you_mean_and_help,
        test_completion,
    ])
