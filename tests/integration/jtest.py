# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared helpers for jouled's integration tests.

Every test runs the real binaries (paths from the environment set by meson:
JOULED, JOULECTL, BURNER), in its own temporary directory, and cleans up what
it started: daemons are stopped by their own PID, never by name.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77

JOULED = os.environ.get("JOULED", "build/daemon/jouled")
JOULECTL = os.environ.get("JOULECTL", "build/cli/joulectl")
BURNER = os.environ.get("BURNER", "build/tests/burner")
SOURCE_ROOT = os.environ.get("JOULED_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def require_root():
    if os.geteuid() != 0:
        print("SKIP: needs root (BPF)")
        sys.exit(SKIP)


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class TempDir:
    def __init__(self, prefix="jouled-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class PowercapFixture:
    """A powercap sysfs tree (intel-rapl layout) whose counters the test advances.

    zones: list of dicts {"path": "intel-rapl:0", "name": "package-0",
    "max_energy_range_uj": N, "energy_uj": start}. Subzones are written as
    "intel-rapl:0/intel-rapl:0:0"."""

    def __init__(self, root, zones):
        self.root = root
        self.zones = {}
        self.lock = threading.Lock()
        self.truth_uj = {}
        self._thread = None
        self._stop = threading.Event()
        for z in zones:
            d = os.path.join(root, z["path"])
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "name"), "w") as f:
                f.write(z["name"] + "\n")
            with open(os.path.join(d, "max_energy_range_uj"), "w") as f:
                f.write("%d\n" % z["max_energy_range_uj"])
            with open(os.path.join(d, "enabled"), "w") as f:
                f.write("1\n")
            self.zones[z["path"]] = dict(z)
            self.truth_uj[z["path"]] = 0
            self._write(z["path"], z.get("energy_uj", 0))

    def _write(self, path, value):
        p = os.path.join(self.root, path, "energy_uj")
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % value)
        os.replace(tmp, p)
        self.zones[path]["energy_uj"] = value

    def advance(self, path, uj):
        """Advance one zone's counter by uj micro-joules, wrapping like hardware."""
        with self.lock:
            z = self.zones[path]
            rng = z["max_energy_range_uj"]
            self._write(path, (z["energy_uj"] + uj) % (rng + 1))
            self.truth_uj[path] += uj

    def run_power(self, watts, period=0.05):
        """Advance every zone at watts[path] W in a background thread."""
        def loop():
            last = time.monotonic()
            while not self._stop.is_set():
                time.sleep(period)
                now = time.monotonic()
                for path, w in watts.items():
                    self.advance(path, int(w * (now - last) * 1e6))
                last = now
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread:
            self._stop.set()
            self._thread.join()
            self._thread = None


class Daemon:
    """A jouled started by the test and stopped by its own PID."""

    def __init__(self, workdir, args, db=None):
        self.db = db or os.path.join(workdir, "jouled.db")
        self.log_path = os.path.join(workdir, "jouled.log")
        self.log = open(self.log_path, "w")
        cmd = [JOULED, "--db", self.db] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_intervals(self, n, timeout=30):
        """Wait until at least n intervals are stored."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise Failure("jouled exited early (%s): %s" % (self.proc.returncode, self.read_log()))
            try:
                con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=5)
                try:
                    (count,) = con.execute("SELECT COUNT(*) FROM intervals").fetchone()
                finally:
                    con.close()
                if count >= n:
                    return count
            except sqlite3.Error:
                pass
            time.sleep(0.1)
        raise Failure("jouled stored fewer than %d intervals in %ds: %s" % (n, timeout, self.read_log()))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("jouled did not exit within %ds of signal %d" % (timeout, sig))
        self.log.close()
        return self.proc.returncode

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_dirs():
    """Every cgroup directory on the host, in every mounted hierarchy."""
    found = set()
    for top, dirs, _files in os.walk(CGROUP_ROOT):
        for d in dirs:
            found.add(os.path.join(top, d))
    return found


# Where a systemd booted as PID 1 puts its cgroups: its top-level units, and
# its mount and swap units (which only systemd makes).
SYSTEMD_TOP_CGROUPS = ("init.scope", "system.slice", "user.slice", "machine.slice")


def systemd_made(path):
    """Whether a cgroup directory is a booted systemd's (under one of its
    top-level units): other programs on the host (another test, the
    machine's own agents) make cgroups of their own while a test runs, and
    those are neither ours to remove nor ours to report."""
    rel = os.path.relpath(path, CGROUP_ROOT).split("/")
    return any(part in SYSTEMD_TOP_CGROUPS or part.endswith((".mount", ".swap")) for part in rel[:2])


def cgroups_new_systemd(before):
    """systemd's cgroups made since `before`."""
    return sorted(d for d in cgroup_dirs() - before if systemd_made(d))


def cgroup_remove_new(before):
    """Remove systemd's cgroups made since `before` (deepest first): a systemd
    booted in a container over the host's /sys creates its slices in the
    host's hierarchies. Returns those that could not be removed."""
    left = []
    for d in sorted(cgroups_new_systemd(before), key=lambda p: p.count("/"), reverse=True):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            left.append(d)
    return left


def comm_cpu_ns(db, comm):
    """CPU time stored so far for processes named comm (read-only, while the daemon runs)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        (ns,) = con.execute("""SELECT COALESCE(SUM(s.cpu_ns), 0) FROM samples s
                               JOIN processes p ON p.id = s.process_id WHERE p.comm = ?""", (comm,)).fetchone()
    finally:
        con.close()
    return ns


def wait_until(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def joulectl(*args, db=None, check_rc=0):
    cmd = [JOULECTL] + (["--db", db] if db else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check_rc is not None and r.returncode != check_rc:
        raise Failure("%s exited %d (wanted %d): %s" % (" ".join(cmd), r.returncode, check_rc, r.stderr))
    return r


def joulectl_json(*args, db=None):
    r = joulectl(*args, "--json", db=db)
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise Failure("joulectl %s printed invalid JSON (%s): %r" % (" ".join(args), e, r.stdout[:500]))


def run_tests(tests):
    """Run test functions; print a plain closing line; exit 0/1."""
    passed = failed = 0
    for t in tests:
        name = t.__name__
        try:
            t()
        except Failure as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
        except Exception as e:  # a crash of the test itself is a failure too
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        else:
            passed += 1
            print("ok   %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
