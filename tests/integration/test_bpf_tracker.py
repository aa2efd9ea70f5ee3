#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The BPF process tracker, for real (root): it loads, it loses no short
process, its CPU times agree with the kernel's own accounting, threads are
summed into their process, and identity fields are right. Every check runs
twice: with CPU time read by the task walk (iterator) and at each context
switch (per-switch); then the automatic choice between them is checked.

Uses tests/tracker-dump (TRACKER_DUMP), which prints one JSON line per sample."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

TRACKER_DUMP = os.environ.get("TRACKER_DUMP", "build/tests/tracker-dump")
WORKLOAD = os.environ.get("TRACKER_WORKLOAD", "build/tests/tracker-workload")
SPAWN = os.environ.get("SPAWN_IDLE", "build/tests/spawn-idle")
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")
ACCOUNTING = ["iterator"]   # set per pass by main


class Dump:
    """tracker-dump running in the background, writing to a file; stopped by its PID."""

    def __init__(self, workdir, interval_ms=200, count=1000, mode="bpf", accounting=None, extra=()):
        self.path = os.path.join(workdir, "dump.jsonl")
        self.out = open(self.path, "w")
        self.err_path = os.path.join(workdir, "dump.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([TRACKER_DUMP, "--mode", mode, "--interval-ms", str(interval_ms),
                                      "--count", str(count), "--accounting", accounting or ACCOUNTING[0]] + list(extra),
                                     stdout=self.out, stderr=self.err)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise jtest.Failure("tracker-dump exited %d: %s" % (self.proc.returncode, self.stderr()))
            lines = self.lines()
            if lines:
                self.mode = lines[0].get("mode")
                return
            time.sleep(0.05)
        raise jtest.Failure("tracker-dump printed nothing in 20 s")

    def stderr(self):
        self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def lines(self):
        # errors="replace": other programs on the host may name themselves in any bytes
        with open(self.path, errors="replace") as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def samples(self):
        return [s for s in self.lines() if "deltas" in s]

    def wait_samples(self, n, timeout=20):
        """Wait until n more samples were printed."""
        start = len(self.samples())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.samples()) >= start + n:
                return
            if self.proc.poll() is not None:
                raise jtest.Failure("tracker-dump exited early: %s" % self.stderr())
            time.sleep(0.05)
        raise jtest.Failure("tracker-dump printed no new sample in %d s" % timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def deltas(samples, pred):
    return [d for s in samples for d in s["deltas"] if pred(d)]


def proc_cpu_ns(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_NS


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


class Cgroup:
    """A cgroup v2 leaf of our own, so that the processes we start have a unit name."""

    def __init__(self):
        self.path = None
        root = cgroup2_root()
        if root:
            path = os.path.join(root, "jouled-test-%d.scope" % os.getpid())
            try:
                os.mkdir(path)
                self.path = path
            except OSError:
                pass
        self.name = os.path.basename(self.path) if self.path else None

    def enter(self):
        """preexec_fn: move the child into the cgroup."""
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write("0")

    def remove(self):
        if not self.path:
            return
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


def test_bpf_mode_loads():
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=100, count=3) as dump:
        check(dump.mode == "bpf", "tracker mode is %r, wanted bpf: %s" % (dump.mode, dump.stderr()))
        # Something that runs in every interval: the table holds what ran.
        busy = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.01)"])
        try:
            check(dump.proc.wait(timeout=20) == 0, "tracker-dump failed: %s" % dump.stderr())
        finally:
            busy.kill()
            busy.wait()
        samples = dump.samples()
        check(len(samples) == 3, "wanted 3 samples, got %d" % len(samples))
        st = samples[-1]["stats"]
        check(st["processes_tracked"] >= 1, "no process tracked: %s" % st)
        check(st["per_switch_mode"] == (ACCOUNTING[0] == "per-switch"),
              "per_switch_mode %r with --accounting %s" % (st["per_switch_mode"], ACCOUNTING[0]))
        check(st["iter_errors"] == 0 and st["exits_lost"] == 0, "stats: %s" % st)
        check("warning" not in dump.stderr().lower(), "unexpected warnings: %s" % dump.stderr())


def test_500_short_processes():
    """Children shorter than the interval: none lost, CPU within 99-102% of rusage; identity right."""
    cg = Cgroup()
    try:
        with jtest.TempDir() as tmp, Dump(tmp, interval_ms=200) as dump:
            burner = subprocess.Popen([jtest.BURNER, "trk500", "500", "4"], stdout=subprocess.PIPE,
                                      text=True, preexec_fn=cg.enter)
            out, _ = burner.communicate(timeout=120)
            check(burner.returncode == 0, "burner failed")
            truth = json.loads(out)["children_cpu_ns"]
            dump.wait_samples(3)
            dump.stop()
            samples = dump.samples()

            kids = deltas(samples, lambda d: d["ppid"] == burner.pid and d["pid"] != burner.pid)
            total = sum(d["cpu_ns"] for d in kids)
            ratio = total / truth
            check(0.99 <= ratio <= 1.02,
                  "children's CPU %.0f ns is %.4f of rusage %d ns (wanted 0.99-1.02)" % (total, ratio, truth))
            # On the 6.18 development VMs about 1 in 1000 short children gets
            # no sched_process_free run (not a ring buffer loss, not a
            # recursion miss): allow 1%, as the CPU bound does.
            pids = {d["pid"] for d in kids}
            check(len(pids) >= 495, "saw %d of the 500 children" % len(pids))
            exited = {d["pid"] for d in kids if d["exited"]}
            check(len(exited) >= 495 and exited <= pids, "exit events for %d of the 500 children" % len(exited))
            burner_exe = os.path.realpath(jtest.BURNER)
            for d in kids:
                if d["exited"]:
                    check(d["comm"] == "trk500", "child %d comm %r" % (d["pid"], d["comm"]))
                check(d["uid"] == os.getuid(), "child %d uid %r" % (d["pid"], d["uid"]))
                check(d["exe"] == burner_exe, "child %d exe %r, wanted %r" % (d["pid"], d["exe"], burner_exe))
                check(not d["kernel_thread"], "child %d marked kernel thread" % d["pid"])
                if cg.name:
                    check(d["unit"] == cg.name, "child %d unit %r, wanted %r" % (d["pid"], d["unit"], cg.name))
            parent = deltas(samples, lambda d: d["pid"] == burner.pid)
            check(parent and parent[-1]["ppid"] == os.getpid(), "burner's ppid is not ours: %s" % parent[-1:])
            check(parent[-1]["exe"] == burner_exe, "burner exe %r" % parent[-1]["exe"])
            st = samples[-1]["stats"]
            check(st["exits_lost"] == 0, "exit events lost: %s" % st)
            if not cg.name:
                print("note: no cgroup v2 hierarchy; unit not checked")
    finally:
        cg.remove()


def test_exec_identity():
    """A process that exec'd and exited between samples carries its exec'd file name."""
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=200) as dump:
        pids = []
        for _ in range(20):
            p = subprocess.Popen(["/bin/true"])
            p.wait()
            pids.append(p.pid)
        # Final counters come when the kernel frees a process (an RCU grace
        # period later, longer on a loaded machine): wait for them, or for
        # the exit-time counters to stand (4 intervals).
        for _ in range(20):
            dump.wait_samples(1)
            done = {d["pid"] for d in deltas(dump.samples(), lambda d: d["pid"] in pids and d["exited"])}
            if len(done) == len(pids):
                break
        dump.stop()
        seen = {d["pid"]: d for d in deltas(dump.samples(), lambda d: d["pid"] in pids and d["exited"])}
        check(len(seen) == 20, "saw %d of 20 /bin/true runs" % len(seen))
        for d in seen.values():
            check(d["exited"], "pid %d not marked exited" % d["pid"])
            check(d["comm"] == "true", "pid %d comm %r" % (d["pid"], d["comm"]))
            check(d["exe"] in ("/bin/true", "/usr/bin/true"), "pid %d exe %r" % (d["pid"], d["exe"]))
            check(d["ppid"] == os.getpid(), "pid %d ppid %r, wanted %d" % (d["pid"], d["ppid"], os.getpid()))


BUSY = """
import sys, threading, time
n, secs, keep = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
stop = threading.Event()
def burn(stay):
    end = time.thread_time() + secs
    while time.thread_time() < end:
        pass
    if stay:
        stop.wait()
ts = [threading.Thread(target=burn, args=(i < keep,), daemon=True) for i in range(n)]
for t in ts: t.start()
while sum(t.is_alive() for t in ts) > keep: time.sleep(0.01)
print(" ".join(sorted(str(t.native_id) for t in ts)), flush=True)
sys.stdin.read()
"""


def run_busy(threads, secs, keep):
    """Run the busy helper to completion of its burn; measure tracker vs /proc. Returns (tracked, proc, tids)."""
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=200) as dump:
        p = subprocess.Popen([sys.executable, "-c", BUSY, str(threads), str(secs), str(keep)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            tids = [int(x) for x in p.stdout.readline().split()]
            dump.wait_samples(2)
            truth = proc_cpu_ns(p.pid)
            dump.wait_samples(1)
            dump.stop()
        finally:
            p.stdin.close()
            p.wait(timeout=10)
        samples = dump.samples()
        tracked = sum(d["cpu_ns"] for d in deltas(samples, lambda d: d["pid"] == p.pid))
        others = deltas(samples, lambda d: d["pid"] in tids and d["pid"] != p.pid)
        check(not others, "threads reported as processes: %s" % others[:3])
        return p.pid, tracked, truth


def test_busy_process_matches_proc():
    pid, tracked, truth = run_busy(1, 1.0, 0)
    check(truth >= 0.9e9, "busy helper burned only %.0f ns" % truth)
    check(abs(tracked - truth) <= 0.05 * truth,
          "tracker says %.0f ns, /proc/%d/stat %.0f ns (more than 5%% apart)" % (tracked, pid, truth))


def test_threads_summed():
    """4 threads of 0.3 s each, 2 of them already gone: one entry with all of it."""
    pid, tracked, truth = run_busy(4, 0.3, 2)
    check(truth >= 4 * 0.3e9 * 0.95, "threads burned only %.0f ns" % truth)
    check(abs(tracked - truth) <= 0.05 * truth,
          "tracker says %.0f ns, /proc/%d/stat %.0f ns (more than 5%% apart)" % (tracked, pid, truth))


def test_exec_from_thread_keeps_counters():
    """Two threads burn 0.6 s each, then the second (not the group leader)
    execs a program that burns 0.6 s more and sleeps: the process's CPU time
    is all there while it still lives, not held back until the new
    program's passes the old total."""
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=200) as dump:
        p = subprocess.Popen([WORKLOAD, "exec-thread", "jt-exec", "0.6"], stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline().split()
            check(line[:1] == ["ready"], "the workload did not exec: %r" % line)
            truth = int(line[1])
            dump.wait_samples(3)
            dump.stop()
        finally:
            p.kill()
            p.wait()
        mine = deltas(dump.samples(), lambda d: d["pid"] == p.pid)
        tracked = sum(d["cpu_ns"] for d in mine)
    print("exec from a thread: tracked %.0f ms, the process's clock %.0f ms, comm %s" %
          (tracked / 1e6, truth / 1e6, sorted({d["comm"] for d in mine})))
    check(truth >= 1.15e9, "the workload burned only %.0f ms" % (truth / 1e6))
    check(abs(tracked - truth) <= 0.02 * truth,
          "tracker says %.0f ms, the process's own clock %.0f ms (more than 2%% apart)" % (tracked / 1e6, truth / 1e6))


def test_idle_process_costs_nothing_and_is_kept():
    """A process that sleeps between its bursts: reported when it runs only, never dropped, no CPU lost."""
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=100) as dump:
        p = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                              "def burn(s):\n e = time.thread_time() + s\n while time.thread_time() < e: pass\n"
                              "burn(0.2); sys.stdout.write('a\\n'); sys.stdout.flush(); sys.stdin.readline()\n"
                              "burn(0.2); sys.stdout.write('b\\n'); sys.stdout.flush(); sys.stdin.readline()\n"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            p.stdout.readline()
            dump.wait_samples(8)   # idle 0.8 s
            first = proc_cpu_ns(p.pid)
            mid = len(dump.samples())
            p.stdin.write("\n")
            p.stdin.flush()
            p.stdout.readline()
            dump.wait_samples(3)
            truth = proc_cpu_ns(p.pid)
        finally:
            p.stdin.close()
            p.wait(timeout=10)
        dump.wait_samples(2)
        dump.stop()
        samples = dump.samples()
        ours = deltas(samples, lambda d: d["pid"] == p.pid)
        tracked = sum(d["cpu_ns"] for d in ours)
        idle = [s for s in samples[mid - 6:mid] if any(d["pid"] == p.pid for d in s["deltas"])]
        check(first >= 0.15e9 and truth >= first + 0.15e9, "helper burned %.0f then %.0f ns" % (first, truth))
        check(len(idle) <= 1, "the sleeping process was reported in %d of 6 idle samples" % len(idle))
        check(abs(tracked - truth) <= 0.05 * truth + 2 * TICK_NS,
              "tracker says %.0f ns, /proc/%d/stat %.0f ns" % (tracked, p.pid, truth))


def test_auto_follows_switch_rate():
    """auto: per-switch when switches are rare; back to the task walk within the busy burst; no CPU lost."""
    stress = "/usr/bin/stress-ng"
    if not os.path.exists(stress):
        print("note: stress-ng missing; auto mode switch not checked")
        return
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=200, accounting="auto") as dump:
        end = time.monotonic() + 30
        while time.monotonic() < end and not (dump.samples() and dump.samples()[-1]["stats"]["per_switch_mode"]):
            time.sleep(0.2)
        st = dump.samples()[-1]["stats"]
        if not st["per_switch_mode"]:
            print("note: the machine is too busy for per-switch counting (%s); not checked" % st)
            return
        changes = st["accounting_changes"]
        s = subprocess.run([stress, "--switch", "1", "--timeout", "3s", "--metrics-brief"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        check(s.returncode == 0, "stress-ng failed: %s" % s.stdout[-300:])
        dump.wait_samples(2)
        dump.stop()
        after = dump.samples()[-1]["stats"]
        check(after["accounting_changes"] > changes,
              "still per-switch after a context-switch storm: %s" % after)


def test_per_switch_entered_and_left_10_times():
    """Per-switch counting entered and left 10 times in a row (auto mode,
    forced at each sample): every entry attaches (no EBADF: the timers' fds
    stay ours), and no perf event fd is leaked or closed twice."""
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=100, count=22, accounting="auto",
                                      extra=["--toggle-per-switch"]) as dump:
        dump.proc.wait(timeout=60)
        check(dump.proc.returncode == 0, "tracker-dump exited %d: %s" % (dump.proc.returncode, dump.stderr()))
        samples = dump.samples()
    check(len(samples) == 22, "%d samples of 22" % len(samples))
    forced = [s for s in samples if s["sample"] > 0]
    bad = [(s["sample"], s["forced"]) for s in forced if s["forced"] != "ok"]
    if bad and all(f == "EOPNOTSUPP" for _, f in bad):
        print("note: no per-CPU timers here; per-switch entry not checked")
        return
    check(not bad, "forcing per-switch mode failed: %s" % bad)
    entries = [s for s in forced if s["sample"] % 2 == 1]
    check(len(entries) == 11 and all(s["per_switch_after_force"] for s in entries),
          "per-switch not entered each time: %s" % [(s["sample"], s["per_switch_after_force"]) for s in entries])
    check(not any(s["per_switch_after_force"] for s in forced if s["sample"] % 2 == 0),
          "per-switch not left each time")
    # Each link holds a duplicate of its timer's fd while attached.
    fds = [s["perf_fds"] for s in samples]
    print("perf event fds per sample: %s" % fds)
    check(len(set(fds[0::2])) == 1 and len(set(fds[1::2])) == 1,
          "perf event fds leaked or closed across 10 entries and exits: %s" % fds)
    changes = samples[-1]["stats"]["accounting_changes"]
    check(changes >= 20, "accounting_changes %d after 10 entries and 10 exits" % changes)


def test_lost_exits_are_logged():
    """A ring buffer far too small (4 KiB, and room for 128 more events in
    its overflow map) and two fork storms while the reader is stopped: exit
    events are lost, and the log says so with counts, once (rate-limited),
    not only the stats."""
    import re
    import signal
    with jtest.TempDir() as tmp, Dump(tmp, interval_ms=500, count=8, extra=["--ringbuf-bytes", "4096"]) as dump:
        for _ in range(2):
            os.kill(dump.proc.pid, signal.SIGSTOP)
            try:
                s = subprocess.run([SPAWN, "storm", "500", "0.2", "20"], capture_output=True, text=True, timeout=120)
            finally:
                os.kill(dump.proc.pid, signal.SIGCONT)
            check(s.returncode == 0, "storm failed: %s" % s.stderr)
            dump.wait_samples(1)
        dump.proc.wait(timeout=60)
        err = dump.stderr()
        st = dump.samples()[-1]["stats"]
    warnings = [l for l in err.splitlines() if "exit events lost" in l]
    print("stats: exits_lost %d, exits_folded %d; log: %s" % (st["exits_lost"], st["exits_folded"], warnings))
    check(st["exits_lost"] > 0, "no exit event lost with a 4 KiB ring buffer: %s" % st)
    check(len(warnings) == 1, "wanted one warning (rate-limited), got %d: %s" % (len(warnings), err[-1500:]))
    m = re.search(r"(\d+) exit events lost", warnings[0])
    check(m and int(m.group(1)) > 0, "the warning has no count: %s" % warnings[0])


def schedstat_ns(pid):
    """The process's CPU time (all its threads), from the kernel's schedstat."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def stored_cpu_ns(db, pid):
    """CPU time jouled stored for pid (this boot; pids are not reused within a test)."""
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        (ns,) = con.execute("""SELECT COALESCE(SUM(s.cpu_ns), 0) FROM samples s
                               JOIN processes p ON p.id = s.process_id WHERE p.pid = ?""", (pid,)).fetchone()
    finally:
        con.close()
    return ns


def test_cgroup_path_after_privilege_drop():
    """jouled as it runs by default as root (privileges dropped after
    start-up: no CAP_DAC_READ_SEARCH, so no open_by_handle_at()), and a
    process started after that in a new cgroup: it is stored with its cgroup
    path, unit and slice."""
    root = cgroup2_root()
    if not root:
        print("note: no cgroup v2 mount; not checked")
        return
    top = os.path.join(root, "jouled-test-%d.slice" % os.getpid())
    leaf = os.path.join(top, "foo.service")
    with jtest.TempDir() as d:
        try:
            os.makedirs(leaf)
            with jtest.Daemon(d, ["--interval", "0.2", "--source", "model", "--tracker", "bpf"]) as dm:
                dm.wait_intervals(2)
                check("Dropped privileges" in dm.read_log(), "jouled did not drop privileges: %s" % dm.read_log()[-2000:])

                def enter():
                    with open(os.path.join(leaf, "cgroup.procs"), "w") as f:
                        f.write("0")
                p = subprocess.Popen([WORKLOAD, "spin", "jt-cgroup"], preexec_fn=enter)
                try:
                    time.sleep(1.0)
                finally:
                    p.kill()
                    p.wait()
                dm.wait_intervals(3 + dm.wait_intervals(1))
                rc = dm.stop()
            check(rc == 0, "jouled exited %s: %s" % (rc, dm.read_log()[-2000:]))
            import sqlite3
            con = sqlite3.connect("file:%s?mode=ro" % dm.db, uri=True)
            try:
                row = con.execute("SELECT cgroup_path, unit, slice FROM processes WHERE pid = ? AND comm = ?",
                                  (p.pid, "jt-cgroup")).fetchone()
            finally:
                con.close()
        finally:
            for path in (leaf, top):
                for _ in range(50):
                    try:
                        os.rmdir(path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)
    want = ("/%s/foo.service" % os.path.basename(top), "foo.service", os.path.basename(top))
    print("stored (cgroup_path, unit, slice): %s" % (row,))
    check(row is not None, "process %d not stored" % p.pid)
    check(tuple(row) == want, "stored %r, wanted %r" % (tuple(row), want))


def test_sigterm_counts_running_task():
    """jouled pinned to per-switch counting, a CPU-bound process running at
    SIGTERM: the last interval holds its CPU up to then (within 10 ms), not
    only up to its last switch or timer tick."""
    with jtest.TempDir() as d, jtest.Daemon(d, ["--interval", "1", "--source", "model", "--tracker", "bpf",
                                                "--tracker-accounting", "per-switch"]) as dm:
        dm.wait_intervals(1)
        # The spinner alone on its CPU, ahead of others' work there (SCHED_FIFO,
        # for 3 s at most), so that it keeps running: jouled on other CPUs.
        cpus = sorted(os.sched_getaffinity(0))

        def alone():
            if len(cpus) > 1:
                os.sched_setaffinity(0, {cpus[-1]})
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        if len(cpus) > 1:
            os.sched_setaffinity(dm.proc.pid, set(cpus[:-1]))
        p = subprocess.Popen([WORKLOAD, "spin", "jt-spin"], preexec_fn=alone)
        try:
            time.sleep(2.6)
            before = schedstat_ns(p.pid)
            rc = dm.stop()
            after = schedstat_ns(p.pid)
        finally:
            p.kill()
            p.wait()
        check(rc == 0, "jouled exited %s: %s" % (rc, dm.read_log()[-2000:]))
        stored = stored_cpu_ns(dm.db, p.pid)
    print("spinner: %.1f ms at SIGTERM, %.1f ms after jouled exited, %.1f ms stored (%+.1f ms)" %
          (before / 1e6, after / 1e6, stored / 1e6, (stored - before) / 1e6))
    check(stored >= before - 10e6, "per-switch mode lost %.1f ms of a running task at SIGTERM" % ((before - stored) / 1e6))
    check(stored <= after + 1e6, "stored %.1f ms, more than the %.1f ms it ran" % (stored / 1e6, after / 1e6))


def in_mode(fn, mode):
    def run():
        ACCOUNTING[0] = mode
        fn()
    run.__name__ = "%s[%s]" % (fn.__name__, mode)
    return run


if __name__ == "__main__":
    jtest.require_root()
    if not os.path.exists(TRACKER_DUMP):
        print("SKIP: tracker-dump not built")
        sys.exit(jtest.SKIP)
    each = [test_bpf_mode_loads, test_500_short_processes, test_exec_identity,
            test_busy_process_matches_proc, test_threads_summed, test_idle_process_costs_nothing_and_is_kept,
            test_exec_from_thread_keeps_counters]
    jtest.run_tests([in_mode(fn, m) for m in ("iterator", "per-switch") for fn in each] +
                    [test_auto_follows_switch_rate, test_per_switch_entered_and_left_10_times,
                     test_sigterm_counts_running_task, test_cgroup_path_after_privilege_drop,
                     test_lost_exits_are_logged])
