# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl and a running jouled (root):

  - jouled records its database in $JOULED_RUNTIME_DIR/db (default
    /run/jouled/db) and joulectl finds it without --db; the record goes when
    jouled stops;
  - status says whether the daemon that owns the database runs, its PID only
    while it does, the current host power and the idle estimate;
  - top --once marks data older than three intervals as stale once jouled
    has stopped;
  - an unreadable database: the message names the reason, and a group only
    where the file has one.
"""
import grp
import json
import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402


def joulectl_env(env, *args):
    return subprocess.run([jtest.JOULECTL] + list(args), capture_output=True, text=True, timeout=60, env=env)


def test_live_status_and_discovery():
    with jtest.TempDir() as d:
        rundir = os.path.join(d, "run")
        os.environ["JOULED_RUNTIME_DIR"] = rundir
        try:
            dm = jtest.Daemon(d, ["--interval", "0.2", "--source", "model"])
        finally:
            del os.environ["JOULED_RUNTIME_DIR"]
        env = dict(os.environ, JOULED_RUNTIME_DIR=rundir)
        env.pop("JOULED_DB", None)
        with dm:
            dm.wait_intervals(3)
            record = os.path.join(rundir, "db")
            jtest.wait_until(lambda: os.path.exists(record), 10)
            check(open(record).read() == os.path.realpath(dm.db) + "\n", "record: %r" % open(record).read())
            r = joulectl_env(env, "status", "--json")
            check(r.returncode == 0, "status without --db: %s" % r.stderr)
            s = json.loads(r.stdout)
            check(s["database"]["path"] == os.path.realpath(dm.db), "found %r" % s["database"]["path"])
            check(s["daemon"]["running"] is True and s["daemon"]["pid"] == dm.proc.pid,
                  "daemon: %r (pid %d)" % (s["daemon"], dm.proc.pid))
            check(s["power"]["host_watts"] and s["power"]["host_watts"] > 0, "power: %r" % s["power"])
            check(s["idle"] and all(x["method"] for x in s["idle"]), "idle: %r" % s["idle"])
            t = joulectl_env(env, "status").stdout
            check("Daemon:      running, pid %d" % dm.proc.pid in t and "Idle:" in t and "Power:" in t,
                  "status text:\n" + t)
            t = joulectl_env(env, "top", "--once").stdout
            check("STALE" not in t, "live data marked stale:\n" + t)
            dm.stop()
            check(not os.path.exists(record), "the record stays after jouled stopped")
        s = jtest.joulectl_json("status", db=dm.db)
        check(s["daemon"]["running"] is False and s["daemon"]["pid"] is None and s["daemon"]["last_pid"] == dm.proc.pid,
              "stopped daemon: %r" % s["daemon"])
        time.sleep(1.0)
        t = jtest.joulectl("top", "--once", db=dm.db).stdout
        check("STALE" in t.splitlines()[1], "old data not marked stale:\n" + t)
        r = joulectl_env(env, "status")
        # Other jouleds may run on this host: the reason names jouled either way.
        check(r.returncode == 0 or ("cannot open database" in r.stderr and "jouled is" in r.stderr),
              "no record, no default database: %r" % r.stderr)


def test_permission_hint():
    if os.geteuid() != 0:
        print("skip: not root")
        return
    nobody = pwd.getpwnam("nobody")
    with jtest.TempDir() as d:
        os.chmod(d, 0o755)
        db = os.path.join(d, "jouled.db")
        subprocess.run([os.environ.get("MAKE_DB", "build/tests/make-db"), db], check=True, timeout=60)
        os.chmod(db, 0o600)

        def as_nobody(*args):
            return subprocess.run(["setpriv", "--reuid", str(nobody.pw_uid), "--regid", str(nobody.pw_gid),
                                   "--clear-groups", jtest.JOULECTL, "--db", db] + list(args),
                                  capture_output=True, text=True, timeout=60)
        r = as_nobody("status")
        # A group is named only where one exists that may read it.
        jouled_group = "jouled" in [x.gr_name for x in grp.getgrall()]
        check(r.returncode == 1 and "Permission denied" in r.stderr and "sudo" in r.stderr
              and ("'jouled' group" in r.stderr) == jouled_group and ("root only" in r.stderr) != jouled_group,
              "root-only file: %r" % r.stderr)
        g = grp.getgrnam("daemon") if "daemon" in [x.gr_name for x in grp.getgrall()] else None
        if g:
            os.chown(db, 0, g.gr_gid)
            os.chmod(db, 0o640)
            r = as_nobody("report")
            check(r.returncode == 1 and "'daemon' group (usermod -aG daemon $USER)" in r.stderr
                  and r.stderr.count("\n") == 1,
                  "group hint: %r" % r.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (runs jouled)")
        sys.exit(jtest.SKIP)
    jtest.run_tests([test_live_status_and_discovery, test_permission_hint])
