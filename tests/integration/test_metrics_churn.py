# SPDX-License-Identifier: GPL-2.0-or-later
"""Series stay bounded under churn: 3,000 short-lived units (transient cgroup
v2 directories run-uN.scope under a test directory, each with a short
process) leave /metrics with at most 1,000 series, everything they used in
the `other` bucket, and jouled's RSS within 2 MB of what it was before."""
import os
import re
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

UNITS = 3000
WARMUP = 1000
IN_FLIGHT = 40
PROC_LIFE_S = 0.3


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise jtest.Failure("no %s for %d" % (field, pid))


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def series(text):
    return [l for l in text.splitlines() if l and not l.startswith("#")]


def burn(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class Churn:
    """Transient cgroups under our own directory, each with one short process;
    every cgroup is removed by its path once its process (reaped by PID) is gone."""

    def __init__(self, root):
        self.parent = os.path.join(root, "jouled-churn-%d.slice" % os.getpid())
        os.mkdir(self.parent)
        self.running = {}   # pid → cgroup path

    def reap(self, block):
        while self.running:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
            if pid == 0:
                return
            path = self.running.pop(pid, None)
            if path:
                self.rmdir(path)
            if not block:
                continue
            return

    @staticmethod
    def rmdir(path):
        for _ in range(100):
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)

    def start(self, n):
        path = os.path.join(self.parent, "run-u%d.scope" % n)
        os.mkdir(path)
        pid = os.fork()
        if pid == 0:
            try:
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write("0")
                burn(0.005)
                time.sleep(PROC_LIFE_S)
            finally:
                os._exit(0)
        self.running[pid] = path

    def run(self, first, count, on_tick=None):
        last = time.monotonic()
        for n in range(first, first + count):
            while len(self.running) >= IN_FLIGHT:
                self.reap(block=True)
            self.start(n)
            self.reap(block=False)
            if on_tick and time.monotonic() - last >= 1:
                on_tick()
                last = time.monotonic()
        while self.running:
            self.reap(block=True)

    def cleanup(self):
        for pid, path in list(self.running.items()):
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
            self.rmdir(path)
        self.running.clear()
        if os.path.isdir(self.parent):
            for d in os.listdir(self.parent):
                if d.startswith("run-u"):
                    self.rmdir(os.path.join(self.parent, d))
            self.rmdir(self.parent)


def test_3000_units_bounded_series_flat_rss():
    root = cgroup2_root()
    if not root:
        print("SKIP: no cgroup v2 hierarchy")
        sys.exit(jtest.SKIP)
    port = free_port()
    with jtest.TempDir() as tmp, jtest.Daemon(tmp, ["--source", "model", "--interval", "0.25",
                                                   "--metrics-listen", "127.0.0.1:%d" % port]) as d:
        churn = Churn(root)
        try:
            d.wait_intervals(4)
            # A first round, so that what a run allocates once and keeps (the
            # exporter's slots filled, the tracker's cgroup cache, SQLite's
            # page cache) is there: RSS must then stay flat under churn.
            churn.run(0, WARMUP)
            time.sleep(1)
            before, anon_before = rss_kb(d.proc.pid), rss_kb(d.proc.pid, "RssAnon")
            seen, counts = set(), []

            def tick():
                text = scrape(port)
                s = series(text)
                counts.append(len(s))
                seen.update(re.findall(r'unit="(run-u\d+\.scope)"', text))
            churn.run(WARMUP, UNITS, on_tick=tick)
            time.sleep(1.5)
            tick()
            after, anon_after = rss_kb(d.proc.pid), rss_kb(d.proc.pid, "RssAnon")
            text = scrape(port)
            print("series per scrape during churn: max %d, last %d; units seen with a series: %d; "
                  "RSS %d kB before, %d kB after (anonymous %d kB, %d kB)" % (max(counts), counts[-1], len(seen), before, after,
                                                               anon_before, anon_after))
            check(max(counts) <= 1000, "%d series in /metrics (cap 1000)" % max(counts))
            check(len(seen) >= 100, "only %d churned units ever had a series: the churn did not reach jouled" % len(seen))
            other = [l for l in series(text) if l.startswith('jouled_unit_energy_joules_total{unit="other"')]
            check(other and float(other[0].rsplit(" ", 1)[1]) > 0, "no unit=\"other\" series: %s" % other)
            check(after - before <= 2048, "RSS grew by %d kB (before %d kB, after %d kB)" % (after - before, before, after))
            check(d.stop() == 0, "jouled did not exit 0")
        finally:
            churn.cleanup()


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_3000_units_bounded_series_flat_rss])
