#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""jouled against the monitors users would pick instead, on one machine, in one run.

Started by bench/run.sh (which installs the peers, builds jouled and the helper
programs); writes markdown to --output. Python 3 standard library only.

Every monitor runs at 1 s sampling, in its own session; its cost is read from
/proc/PID/stat (utime + stime) and /proc/PID/status (VmHWM) of every process in
that session, plus the run time of the BPF programs it holds open
(/proc/PID/fdinfo: run_time_ns, run_cnt; kernel.bpf_stats_enabled is switched
on for the run and restored). BPF iterator programs run inside the monitor's
own read() and are already in its system time: they are shown, not added.
Peak RSS is taken over the measured window (VmHWM reset through
/proc/PID/clear_refs at its start); the start-up peak is shown beside it.
Runs alternate (A B C … A B C …) and tables give the median and the spread
over the repetitions.
"""
import argparse
import glob
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HZ = os.sysconf("SC_CLK_TCK")
SHORT_COMM = "jb-short"
MONITORS = ["jouled", "pidstat", "atop", "powertop", "bpftrace"]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- /proc readers

def proc_stat(pid):
    """(session id, utime+stime seconds) of one process, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): session is field 6, utime 14, stime 15.
    return int(rest[3]), (int(rest[11]) + int(rest[12])) / HZ


def status_kb(pid, key):
    """A kB field of /proc/PID/status (VmHWM, RssAnon…), 0 if absent."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def session_pids(sid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st and st[0] == sid:
            pids.append(int(d))
    return pids


def bpf_fdinfos(pid, kind):
    """fdinfo (a dict) of each descriptor of a process that is anon_inode:KIND (bpf-prog, bpf_link)."""
    out = []
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:" + kind:
                continue
            info = {}
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k.strip()] = v.strip()
            out.append(info)
        except OSError:
            continue
    return out


def bpf_progs(pid):
    """{prog_id: (run_time_ns, run_cnt)} for the BPF programs a process holds open."""
    progs = {}
    for info in bpf_fdinfos(pid, "bpf-prog"):
        try:
            progs[int(info["prog_id"])] = (int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0)))
        except (KeyError, ValueError):
            continue
    return progs


def iter_prog_ids(pid):
    """IDs of the BPF programs behind the iterator links a process holds open
    (/proc/PID/fdinfo of its bpf_link descriptors: link_type iter)."""
    ids = set()
    for info in bpf_fdinfos(pid, "bpf_link"):
        try:
            if info.get("link_type") == "iter":
                ids.add(int(info["prog_id"]))
        except (KeyError, ValueError):
            continue
    return ids


def iter_prog_ids_system():
    """IDs of the programs of every iterator link on the system (`bpftool link
    show -j`: "type": "iter"), for links a monitor does not hold as a
    descriptor (pinned ones). Empty if bpftool fails."""
    try:
        r = subprocess.run(["bpftool", "link", "show", "-j"], capture_output=True, text=True, timeout=10)
        return {int(l["prog_id"]) for l in json.loads(r.stdout or "[]")
                if l.get("type") == "iter" and "prog_id" in l}
    except (OSError, ValueError, TypeError, KeyError, subprocess.SubprocessError):
        return set()


def prog_name(prog_id):
    try:
        r = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id), "--json"],
                           capture_output=True, text=True, timeout=10)
        j = json.loads(r.stdout)
        return "%s (%s)" % (j.get("name", "?"), j.get("type", "?"))
    except (OSError, ValueError, subprocess.SubprocessError):
        return "id %d" % prog_id


def thread_ns(pid):
    """{tid: CPU ns} of a process's live threads (/proc/PID/task/TID/schedstat)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[(pid, int(tid))] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


class Snapshot:
    """A monitor's session at one moment: CPU (utime+stime, clock ticks), live
    threads' CPU in ns, summed VmHWM, BPF programs' run time."""

    def __init__(self, sid):
        self.t = time.monotonic()
        self.cpu = 0.0
        self.hwm_kb = 0
        self.anon_kb = 0
        self.progs = {}
        self.iters = iter_prog_ids_system()
        self.threads = {}
        for pid in session_pids(sid):
            st = proc_stat(pid)
            if st:
                self.cpu += st[1]
            self.hwm_kb += status_kb(pid, "VmHWM")
            self.anon_kb += status_kb(pid, "RssAnon")
            self.threads.update(thread_ns(pid))
            self.progs.update(bpf_progs(pid))
            self.iters |= iter_prog_ids(pid)

    def cpu_since(self, a):
        """CPU seconds used since snapshot a. utime+stime has a 10 ms resolution;
        where the same threads were alive at both ends, their schedstat
        nanoseconds give the same figure precisely (a thread that came and
        went in between would be missed, so ticks decide then)."""
        ticks = self.cpu - a.cpu
        if set(self.threads) == set(a.threads):
            ns = sum(self.threads.values()) - sum(a.threads.values())
            if ns / 1e9 >= ticks - 2.5 / HZ:
                return ns / 1e9
        return ticks

    def bpf_ns(self):
        return sum(v[0] for v in self.progs.values())


def bpf_split(a, b):
    """BPF run time between snapshots a and b, in seconds, as (other, iter):
    other, programs that run in other tasks' context (tracepoints,
    sched_switch, perf_event), which the monitor's own CPU time does not
    include; iter, iterator programs, which run inside the monitor's own
    read() and so are already in its system time."""
    iters = a.iters | b.iters
    other = it = 0
    for pid, (ns, _cnt) in bpf_delta(a, b).items():
        if pid in iters:
            it += ns
        else:
            other += ns
    return other / 1e9, it / 1e9


def reset_hwm(sid):
    """Sum of VmHWM (kB) of the processes in a session, then reset each one's
    VmHWM to its current RSS (write 5 to /proc/PID/clear_refs, proc(5)), so
    that VmHWM read later is the peak since now."""
    total = 0
    for pid in session_pids(sid):
        total += status_kb(pid, "VmHWM")
        try:
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
        except (FileNotFoundError, ProcessLookupError):
            continue   # exited meanwhile
        except OSError as e:
            raise BenchError("cannot reset the peak RSS of pid %d: %s" % (pid, e))
    return total


def bpf_delta(a, b):
    """{prog_id: (ns, cnt)} run between two snapshots."""
    out = {}
    for pid, (ns, cnt) in b.progs.items():
        ns0, cnt0 = a.progs.get(pid, (0, 0))
        out[pid] = (ns - ns0, cnt - cnt0)
    return out


# ---------------------------------------------------------------- monitors

class Monitor:
    """One monitor process (and whatever it starts), in its own session."""

    def __init__(self, name, ctx, wd):
        self.name = name
        self.ctx = ctx
        self.wd = wd
        os.makedirs(wd, exist_ok=True)
        self.out = os.path.join(wd, "stdout")
        self.err = os.path.join(wd, "stderr")
        self.db = os.path.join(wd, "jouled.db")
        self.atop_raw = os.path.join(wd, "atop.raw")
        self.powertop_csv = os.path.join(wd, "powertop.csv")
        self.proc = None

    def command(self):
        c = self.ctx
        if self.name == "jouled":
            return [c.jouled, "--interval", "1", "--db", self.db, "--source", "model"]
        if self.name == "pidstat":
            return ["pidstat", "-u", "-h", "1"]
        if self.name == "atop":
            return ["atop", "-w", self.atop_raw, "1"]
        if self.name == "powertop":
            # One CSV report per 1 s measurement, as many as the run needs;
            # powertop writes FILE-<timestamp>.csv for each iteration.
            return ["powertop", "--csv=" + self.powertop_csv, "--time=1", "--iteration=100000"]
        if self.name == "bpftrace":
            return ["bpftrace", os.path.join(c.bench_dir, "peers", "switch-accounting.bt")]
        raise BenchError("unknown monitor " + self.name)

    def start(self):
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen(self.command(), stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=self.wd)
        self.ctx.started.append(self.proc)

    def _ready(self):
        if self.name == "jouled":
            try:
                con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=2)
                try:
                    return con.execute("SELECT COUNT(*) FROM intervals").fetchone()[0] >= 1
                finally:
                    con.close()
            except sqlite3.Error:
                return False
        if self.name == "pidstat":
            return os.path.exists(self.out) and "Command" in open(self.out).read()
        if self.name == "atop":
            return os.path.exists(self.atop_raw) and os.path.getsize(self.atop_raw) > 0
        if self.name == "powertop":
            return bool(self.powertop_files())
        if self.name == "bpftrace":
            return "Attaching" in open(self.out).read() + open(self.err).read()
        return True

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError("%s exited early (%d): %s" % (self.name, self.proc.returncode,
                                                               open(self.err).read()[-500:]))
            if self._ready():
                time.sleep(1.0)   # one more sample: past start-up
                return
            time.sleep(0.1)
        raise BenchError("%s not ready within %ds" % (self.name, timeout))

    def snapshot(self):
        return Snapshot(self.proc.pid)

    # pidstat and bpftrace print their last figures on SIGINT; jouled writes its
    # last interval on SIGTERM; atop -w and powertop ignore SIGINT.
    STOP_SIGNAL = {"pidstat": signal.SIGINT, "bpftrace": signal.SIGINT}

    def stop(self):
        if self.proc is None:
            return
        stop_group(self.proc, self.STOP_SIGNAL.get(self.name, signal.SIGTERM))
        if self.proc in self.ctx.started:
            self.ctx.started.remove(self.proc)

    def powertop_files(self):
        base = self.powertop_csv[:-len(".csv")]
        return sorted(glob.glob(base + "-*.csv"))

    # What the monitor attributed to processes named comm, in CPU seconds.
    def attributed(self, comm):
        if self.name == "jouled":
            r = subprocess.run([self.ctx.joulectl, "--db", self.db, "report", "--by", "comm", "--json"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise BenchError("joulectl report failed: " + r.stderr.strip())
            rows = json.loads(r.stdout).get("rows", [])
            return sum(row.get("cpu_seconds", 0.0) for row in rows if row.get("key") == comm)
        if self.name == "pidstat":
            total = 0.0
            cols = None
            for line in open(self.out):
                f = line.split()
                if line.startswith("#"):
                    cols = f[1:]
                    continue
                if cols and len(f) == len(cols) and f[-1] == comm:
                    total += float(f[cols.index("%CPU")]) / 100.0   # 1 s samples
            return total
        if self.name == "atop":
            r = subprocess.run(["atop", "-r", self.atop_raw, "-P", "PRC"], capture_output=True,
                               text=True, timeout=120)
            total = 0.0
            for line in r.stdout.splitlines():
                m = re.match(r"PRC \S+ \d+ \S+ \S+ \d+ \d+ \((.*)\) (\S) (\d+) (\d+) (\d+)", line)
                if m and m.group(1) == comm:
                    total += (int(m.group(4)) + int(m.group(5))) / int(m.group(3))
            return total
        if self.name == "powertop":
            total = 0.0
            units = {"s/s": 1.0, "ms/s": 1e-3, "us/s": 1e-6, "ns/s": 1e-9}
            for path in self.powertop_files():
                section = False
                for line in open(path, errors="replace"):
                    if "Overview of Software Power Consumers" in line:
                        section = True
                        continue
                    if section and line.startswith("_"):
                        break
                    if not section:
                        continue
                    f = line.rstrip("\n").split(";")
                    if len(f) < 7 or f[5] != "Process":
                        continue
                    desc = f[6]
                    if comm not in desc:
                        continue
                    m = re.match(r"\s*([\d.]+)\s*(\S+)", f[0])
                    if m and m.group(2) in units:
                        total += float(m.group(1)) * units[m.group(2)]   # 1 s measurements
            return total
        if self.name == "bpftrace":
            total = 0
            for line in open(self.out):
                m = re.match(r"@ns\[(\d+), (.*)\]: (\d+)$", line.strip())
                if m and m.group(2) == comm:
                    total += int(m.group(3))
            return total / 1e9
        raise BenchError("unknown monitor " + self.name)


def stop_group(proc, sig, timeout=20):
    """Signal a process group we started (by its leader's PID), then SIGKILL it if it lingers."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---------------------------------------------------------------- statistics and formatting

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs, fmt):
    if not xs:
        return "–"
    if len(xs) == 1:
        return "n=1"
    return (fmt + "–" + fmt) % (min(xs), max(xs))


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def verdict(ok):
    return "**met**" if ok else "**not met**"


# ---------------------------------------------------------------- context

class Ctx:
    def __init__(self, a):
        self.jouled = a.jouled
        self.joulectl = a.joulectl
        self.bench_dir = os.path.dirname(os.path.abspath(__file__))
        self.helpers = a.helpers
        self.quick = a.quick
        self.tmp = tempfile.mkdtemp(prefix="jouled-bench-")
        self.started = []   # Popen objects still to stop on the way out
        self.run_no = 0

    def workdir(self, label):
        self.run_no += 1
        return os.path.join(self.tmp, "%03d-%s" % (self.run_no, label))

    def cleanup(self):
        for p in list(self.started):
            stop_group(p, signal.SIGKILL, timeout=5)
        self.started.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def rounds_order(names, r):
    """Rotate the order every round so no monitor always runs first or last."""
    k = r % len(names)
    return names[k:] + names[:k]


# ---------------------------------------------------------------- scenario 1: context switches

STRESS = ["stress-ng", "--switch", "1", "--taskset", "0"]   # see docs/benchmarks.md for the choice


def run_stress(ctx, seconds, wd):
    """One stress-ng run: (bogo ops/s real time, bogo ops/s of usr+sys time)."""
    yaml = os.path.join(wd, "stress.yaml")
    os.makedirs(wd, exist_ok=True)
    p = subprocess.Popen(STRESS + ["--timeout", "%ds" % seconds, "--metrics-brief", "--yaml", yaml],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ctx.started.append(p)
    try:
        p.wait(timeout=seconds + 60)
    finally:
        stop_group(p, signal.SIGKILL, timeout=1)
        ctx.started.remove(p)
    text = open(yaml).read()
    real = re.search(r"bogo-ops-per-second-real-time:\s*([\d.]+)", text)
    cpu = re.search(r"bogo-ops-per-second-usr-sys-time:\s*([\d.]+)", text)
    if not real or not cpu:
        raise BenchError("stress-ng wrote no throughput to " + yaml)
    return float(real.group(1)), float(cpu.group(1))


def quartiles(xs):
    """(first, third) quartile; inclusive method, so they stay within the values."""
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def scenario_switch(ctx):
    seconds = 2 if ctx.quick else 5
    reps = 1 if ctx.quick else 7
    configs = ["none"] + MONITORS
    ops = {c: [] for c in configs}       # real time, one per round, in round order
    cpu_ops = {c: [] for c in configs}   # per usr+sys second
    bpf = {}   # monitor -> {prog name: [ns, cnt, iterator?]}
    log("scenario 1: %s, %d s per run, %d round(s)" % (" ".join(STRESS), seconds, reps))
    for r in range(reps):
        for c in rounds_order(configs, r):
            wd = ctx.workdir("switch-" + c)
            m = None
            if c != "none":
                m = Monitor(c, ctx, wd)
                m.start()
                m.wait_ready()
                s0 = m.snapshot()
            try:
                real, cpu = run_stress(ctx, seconds, wd)
                ops[c].append(real)
                cpu_ops[c].append(cpu)
                if m:
                    s1 = m.snapshot()
                    iters = s0.iters | s1.iters
                    for pid, (ns, cnt) in bpf_delta(s0, s1).items():
                        agg = bpf.setdefault(c, {}).setdefault(prog_name(pid), [0, 0, False])
                        agg[0] += ns
                        agg[1] += cnt
                        agg[2] = agg[2] or pid in iters
            finally:
                if m:
                    m.stop()
            log("  round %d %-9s %.0f ops/s (%.0f per usr+sys s)" % (r + 1, c, real, cpu))

    def paired(series, c):
        """Change against the same round's `none` run, per round, in %."""
        return [(x / b - 1) * 100 for x, b in zip(series[c], series["none"])]

    rows = []
    for c in configs:
        q1, q3 = quartiles(ops[c])
        row = [c, "%.0f" % med(ops[c]), "%.0f–%.0f" % (q1, q3), spread(ops[c], "%.0f")]
        if c == "none":
            row += ["–", "–"]
        else:
            ch = paired(ops, c)
            row += ["%+.2f%%" % med(ch), spread(ch, "%+.1f%%")]
        row.append("%.0f" % med(cpu_ops[c]))
        row.append("–" if c == "none" else "%+.2f%%" % med(paired(cpu_ops, c)))
        rows.append(row)
    base = med(ops["none"])
    jouled_cost = -med(paired(ops, "jouled"))
    noise = (max(ops["none"]) - min(ops["none"])) / base * 100
    q1, q3 = quartiles(ops["none"])
    iqr = (q3 - q1) / base * 100
    if reps < 3:
        s1_verdict = "not judged (%d run(s) each: too few to measure the noise)" % reps
    elif noise >= 1.0:
        s1_verdict = ("not judged: the run-to-run spread of `none` alone (min–max %.1f%%, interquartile "
                      "%.1f%%) is larger than the 1%% to resolve; run on a quiet machine" % (noise, iqr))
    elif abs(jouled_cost - 1.0) < noise / 2:
        s1_verdict = ("not judged: %.2f%% is within the noise of `none` (min–max %.2f%%) of the 1%% line"
                      % (jouled_cost, noise))
    else:
        s1_verdict = "%s (run-to-run spread of `none` alone: min–max %.2f%%, interquartile %.2f%%)" % (
            verdict(jouled_cost <= 1.0), noise, iqr)
    out = ["## 1. Context-switch cost",
           "",
           "`%s --timeout %ds` (a pipe ping-pong between two processes, both pinned to CPU 0, so "
           "every exchange is a context switch on that CPU) with each monitor running, unpinned, at "
           "1 s sampling, versus none; %d round(s), the order rotated every round. Throughput is "
           "stress-ng's bogo ops per second (real time). The change against none is paired: each "
           "run against the same round's `none` run, then the median and min–max over the rounds, "
           "so that a slow drift of the machine cancels out. Ops per usr+sys second is stress-ng's "
           "figure per CPU second of the pair: it leaves out the time the pair waited while other "
           "tasks ran on CPU 0 (a monitor's own work among them) and keeps work done inside the "
           "pair's switches (BPF programs on the switch path run in the switching tasks' context)."
           % (" ".join(STRESS), seconds, reps),
           "",
           table(["monitor", "median ops/s", "interquartile", "min–max", "throughput vs none (paired median)",
                  "paired min–max", "ops per usr+sys s", "per usr+sys s vs none"], rows),
           "",
           "Target: jouled costs at most 1%% of throughput (paired median, real time): it cost %.2f%% → %s."
           % (jouled_cost, s1_verdict),
           "",
           "### BPF programs' own cost per event",
           "",
           "From `kernel.bpf_stats_enabled=1`: run_cnt and run_time_ns of each program the monitor "
           "holds open, summed over the scenario's runs (%d s of stress-ng per monitor). \"Runs in\" "
           "says where the time goes: an iterator program (an `iter` link) runs inside the monitor's "
           "own read(), once per task walked; every other program runs in other tasks' context, "
           "when its hook fires (a sched_switch program on every context switch, exec/exit "
           "tracepoints once per process event, perf_event programs once per timer sample). Runs "
           "per second show how often each one fired under this load." % (seconds * reps),
           ""]
    brows = []
    for c in MONITORS:
        for name, (ns, cnt, is_iter) in sorted(bpf.get(c, {}).items()):
            brows.append([c, name, cnt, "%.3f" % (ns / 1e6), "%.0f" % (ns / cnt) if cnt else "–",
                          "%.0f" % (cnt / (seconds * reps)),
                          "monitor's own read() (iterator)" if is_iter else "other tasks' context (hook)"])
    out.append(table(["monitor", "program", "runs", "total ms", "ns per run", "runs per s", "runs in"], brows)
               if brows else "No BPF programs were seen.")
    out.append("")
    return "\n".join(out), {"jouled_cost_pct": jouled_cost}


# ---------------------------------------------------------------- scenario 2: overhead at scale

def spawn_idle(ctx, n):
    p = subprocess.Popen([os.path.join(ctx.helpers, "spawn-idle"), str(n)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    ctx.started.append(p)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        err = p.stderr.read() if p.poll() is not None else ""
        raise BenchError("spawn-idle %d failed: %s" % (n, (line + err).strip()))
    return p


def scenario_scale(ctx):
    scales = [100] if ctx.quick else [100, 1000, 10000]
    window = 3 if ctx.quick else 60
    reps = 1
    res = {}   # (scale, monitor) -> list of dicts
    log("scenario 2: %s idle processes, %d s window, %d round(s)" % (scales, window, reps))
    for n in scales:
        idle = spawn_idle(ctx, n)
        try:
            for r in range(reps):
                for name in rounds_order(MONITORS, r + scales.index(n)):
                    m = Monitor(name, ctx, ctx.workdir("scale%d-%s" % (n, name)))
                    m.start()
                    try:
                        m.wait_ready()
                        startup_hwm_kb = reset_hwm(m.proc.pid)   # the window's peak starts here
                        s0 = m.snapshot()
                        time.sleep(window)
                        s1 = m.snapshot()
                    finally:
                        m.stop()
                    wall = s1.t - s0.t
                    bpf_other, bpf_iter = bpf_split(s0, s1)
                    d = {"user_sys": s1.cpu_since(s0), "bpf": bpf_other, "bpf_iter": bpf_iter,
                         "startup": s0.cpu, "hwm_mb": s1.hwm_kb / 1024.0,
                         "startup_hwm_mb": startup_hwm_kb / 1024.0,
                         "anon_mb": s1.anon_kb / 1024.0, "wall": wall}
                    # Iterator time is already in user+sys (the monitor's own read()): not added.
                    d["total"] = d["user_sys"] + d["bpf"]
                    res.setdefault((n, name), []).append(d)
                    log("  %5d procs %-9s %.3f CPU-s (+%.3f BPF; iterators %.3f, in user+sys) "
                        "peak %.1f MB (start-up %.1f MB)" % (n, name, d["user_sys"], d["bpf"], d["bpf_iter"],
                                                           d["hwm_mb"], d["startup_hwm_mb"]))
        finally:
            stop_group(idle, signal.SIGTERM, timeout=60)   # spawn-idle reaps its children
            ctx.started.remove(idle)

    out = ["## 2. Monitor overhead at scale",
           "",
           "Each monitor at 1 s sampling for a %d s window (after its start-up and first sample) "
           "with N mostly idle processes (`bench/spawn-idle.c`: every 100th wakes once a second "
           "for 0.1 ms, the rest sleep in pause()); %d round(s). CPU is utime+stime of every "
           "process in the monitor's session over the window. The BPF columns are the run time "
           "of the BPF programs it holds open over the same window (kernel side, from "
           "bpf_stats), split by where they run: programs that run in other tasks' context "
           "(tracepoints, sched_switch, perf_event) are not in the monitor's own CPU time and "
           "are added to the total; iterator programs (an `iter` link: jouled's task iterator) "
           "run inside the monitor's own read(), so their time is already in its system time: "
           "that column is shown but not added, so nothing is counted twice. For powertop, which "
           "has the kernel write sched events to perf buffers, that kernel work is not counted "
           "here (scenario 1 shows it). Start-up CPU is the CPU used before the window (bpftrace "
           "compiles its script with LLVM). Peak RSS is the peak over the window: at its start "
           "the suite writes 5 to /proc/PID/clear_refs of every process in the monitor's session "
           "(which resets VmHWM to the current RSS) and reads VmHWM at its end (shared libraries "
           "and mapped BPF buffers included). Start-up peak is VmHWM read just before that reset: "
           "the peak since the monitor started, one-off start-up work included (jouled: libbpf "
           "parsing the kernel's BTF). Anon RSS is the private part (RssAnon) at the end of the "
           "window. The RSS target is judged on the window's peak." % (window, reps),
           ""]
    targets = []
    for n in scales:
        rows = []
        for name in MONITORS:
            ds = res[(n, name)]
            tot = [d["total"] for d in ds]
            rows.append([name, "%.3f" % med([d["user_sys"] for d in ds]), "%.3f" % med([d["bpf"] for d in ds]),
                         "%.3f" % med(tot), spread(tot, "%.3f"),
                         "%.3f%%" % (med(tot) / window * 100),
                         "%.3f" % med([d["bpf_iter"] for d in ds]),
                         "%.1f" % med([d["hwm_mb"] for d in ds]),
                         "%.1f" % med([d["startup_hwm_mb"] for d in ds]),
                         "%.1f" % med([d["anon_mb"] for d in ds]),
                         "%.2f" % med([d["startup"] for d in ds])])
        out += ["### %d processes" % n, "",
                table(["monitor", "CPU-s user+sys", "CPU-s BPF, other tasks' context (added)", "CPU-s total",
                       "spread", "% of one core", "CPU-s BPF iterators (in user+sys, not added)",
                       "peak RSS MB (window)", "start-up peak RSS MB", "anon RSS MB (end)",
                       "start-up CPU-s"], rows), ""]
        j = med([d["total"] for d in res[(n, "jouled")]])
        others = {name: med([d["total"] for d in res[(n, name)]]) for name in MONITORS if name != "jouled"}
        lowest = all(j < v for v in others.values())
        targets.append("- %d processes: jouled the lowest CPU of all (%.3f CPU-s; next: %s %.3f) → %s" % (
            n, j, min(others, key=others.get), min(others.values()), verdict(lowest)))
        if n == 1000:
            pct = j / window * 100
            targets.append("- 1,000 processes: at most 0.2%% of one core: %.3f%% → %s" % (pct, verdict(pct <= 0.2)))
        if n == 10000:
            mb = med([d["hwm_mb"] for d in res[(n, "jouled")]])
            smb = med([d["startup_hwm_mb"] for d in res[(n, "jouled")]])
            targets.append("- 10,000 processes: RSS at most 16 MB (peak over the window): %.1f MB → %s "
                           "(start-up peak, not judged: %.1f MB)" % (mb, verdict(mb <= 16), smb))
    if ctx.quick:
        targets.append("- (--quick: only %s processes; the 1,000 and 10,000 targets need the full run)" % scales)
    out += ["Targets:", ""] + targets + [""]
    return "\n".join(out), res


# ---------------------------------------------------------------- scenario 3: short-lived processes

def run_short(ctx, n, wd):
    os.makedirs(wd, exist_ok=True)
    p = subprocess.Popen([os.path.join(ctx.helpers, "shortlived"), "gen", str(n), str(os.cpu_count() or 2),
                          os.path.join(ctx.helpers, SHORT_COMM), "42"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    ctx.started.append(p)
    try:
        out, err = p.communicate(timeout=600)
    finally:
        stop_group(p, signal.SIGKILL, timeout=1)
        ctx.started.remove(p)
    if p.returncode != 0:
        raise BenchError("shortlived failed: " + err.strip())
    return json.loads(out)


HOW_SEEN = {
    "jouled": "every process: live ones by its BPF tracker each interval, exited ones by their final counters "
              "(ring buffer)",
    "pidstat": "only processes alive at two consecutive 1 s samples",
    "atop": "live processes at each sample; exited ones through process accounting, which atop switches on",
    "powertop": "per-process usage from sched events during each 1 s measurement; not between measurements",
    "bpftrace": "every switch while attached (per-switch accounting)",
}


def scenario_short(ctx):
    n = 200 if ctx.quick else 2000
    reps = 1 if ctx.quick else 2
    res = {name: [] for name in MONITORS}
    truth_all = []
    log("scenario 3: %d short-lived processes, %d round(s)" % (n, reps))
    for r in range(reps):
        for name in rounds_order(MONITORS, r):
            m = Monitor(name, ctx, ctx.workdir("short-" + name))
            m.start()
            try:
                m.wait_ready()
                truth = run_short(ctx, n, m.wd)
                time.sleep(2.5)   # let every monitor take the samples that cover the end
            finally:
                m.stop()
            seen = m.attributed(SHORT_COMM)
            t = truth["cpu_ns"] / 1e9
            truth_all.append(t)
            res[name].append((t, seen))
            log("  round %d %-9s truth %.3f s, seen %.3f s (%.1f%%)" % (r + 1, name, t, seen, seen / t * 100))
    rows = []
    for name in MONITORS:
        shares = [s / t * 100 for t, s in res[name]]
        rows.append([name, "%.3f" % med([t for t, _ in res[name]]), "%.3f" % med([s for _, s in res[name]]),
                     "%.1f%%" % med(shares), spread(shares, "%.1f%%"), HOW_SEEN[name]])
    j = med([s / t * 100 for t, s in res["jouled"]])
    out = ["## 3. Short-lived processes",
           "",
           "A build-like workload (`bench/shortlived.c`): %d processes named `%s`, %d at a time, "
           "each exec'd and burning 1–20 ms of CPU. The truth is the generator's "
           "getrusage(RUSAGE_CHILDREN); each monitor's figure is the CPU time it attributes to "
           "`%s` (jouled: `joulectl report --by comm --json` cpu_seconds; pidstat: Σ %%CPU × 1 s; "
           "atop: Σ utime+stime of its PRC records, exited processes included; powertop: Σ usage "
           "× 1 s over its per-iteration CSVs; bpftrace: Σ of the per-switch map by comm). "
           "%d round(s)." % (n, SHORT_COMM, os.cpu_count() or 2, SHORT_COMM, reps),
           "",
           table(["monitor", "truth CPU-s", "attributed CPU-s", "share", "spread", "what it sees"], rows),
           "",
           "Target: jouled attributes at least 99.5%%: %.2f%% → %s." % (j, verdict(j >= 99.5)),
           ""]
    return "\n".join(out), j


# ---------------------------------------------------------------- scenario 5: a fork storm beside idle processes

STORM_RATE = 5100      # processes a second aimed at: at least 5,000 reached where the host can
STORM_SECONDS = 25     # how long the aimed storm lasts
STORM_FAST_N = 40000   # processes of the storm that forks as fast as it can
STORM_BURN_US = 50     # CPU each child burns (user space, by its own CPU clock)
STORM_CONC = 8         # children alive at a time, per forking parent


def storm_status(ctx, db):
    r = subprocess.run([ctx.joulectl, "--db", db, "status", "--json"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError("joulectl status failed: " + r.stderr.strip())
    return json.loads(r.stdout)


def storm_comm_cpu(db, comm):
    """CPU time jouled stored (raw intervals, level 0) under a comm, in ns."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return con.execute("SELECT COALESCE(SUM(s.cpu_ns), 0) FROM samples s JOIN intervals i ON i.id = s.interval_id "
                           "JOIN labels l ON l.id = s.labels_id WHERE i.level = 0 AND l.comm = ?",
                           (comm,)).fetchone()[0]
    finally:
        con.close()


def storm_folded(pid):
    """jouled's tracker counters of exit events (lost, folded: they found the
    ring buffer full and waited in its overflow map), from its `lost` BPF
    array (bpftool); None where it cannot be read."""
    ids = set()
    for info in bpf_fdinfos(pid, "bpf-map"):
        try:
            ids.add(int(info["map_id"]))
        except (KeyError, ValueError):
            continue
    try:
        maps = json.loads(subprocess.run(["bpftool", "map", "show", "-j"], capture_output=True, text=True,
                                         timeout=10).stdout or "[]")
        for m in maps:
            if m.get("id") in ids and m.get("name") == "lost" and m.get("max_entries") == 2:
                rows = json.loads(subprocess.run(["bpftool", "map", "dump", "id", str(m["id"]), "-j"],
                                                 capture_output=True, text=True, timeout=10).stdout)
                vals = {}
                for e in rows:
                    if "formatted" in e:
                        vals[int(e["formatted"]["key"])] = int(e["formatted"]["value"])
                    else:
                        vals[int(e["key"][0], 16)] = int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little")
                return vals.get(0, 0), vals.get(1, 0)
    except (OSError, ValueError, TypeError, KeyError, subprocess.SubprocessError):
        pass
    return None


def host_busy_s():
    """CPU seconds the host has been busy since boot, all CPUs (/proc/stat:
    user, nice, system, irq, softirq, steal), and of them steal (time the
    hypervisor gave this VM's CPUs to others)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ, v[7] / HZ


def sched_wait_s(pid):
    """Seconds the process's main thread has waited on a run queue (schedstat)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def storm_run(ctx, name, n, seconds):
    """One storm (`bench/storm.c` through a link named `name`, its comm):
    its "key value" output as a dict."""
    p = subprocess.Popen([os.path.join(ctx.helpers, name), str(n), "%g" % seconds, str(STORM_BURN_US),
                          str(os.cpu_count() or 2), str(STORM_CONC)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)   # makes its own group
    ctx.started.append(p)
    out, err = p.communicate(timeout=600)
    ctx.started.remove(p)
    if p.returncode != 0:
        raise BenchError("storm failed: " + err.strip())
    v = dict(zip(out.split()[0::2], out.split()[1::2]))
    return {"n": int(v["processes"]), "wall": int(v["wall_ns"]) / 1e9, "truth": int(v["cpu_ns"]) / 1e9,
            "children": int(v["children_cpu_ns"]) / 1e9, "rate": float(v["rate"])}


def storm_once(ctx, mode, storms, n_idle):
    """jouled (pinned to accounting `mode`; None: no jouled) and n_idle idle
    processes, then each storm (name, n, seconds) in turn. A list of dicts."""
    wd = ctx.workdir("storm-" + (mode or "none"))
    os.makedirs(wd, exist_ok=True)
    db = os.path.join(wd, "jouled.db")
    jd = idle = None
    results = []
    try:
        if mode:
            with open(os.path.join(wd, "log"), "w") as lg:
                jd = subprocess.Popen([ctx.jouled, "--interval", "1", "--db", db, "--source", "model",
                                       "--tracker", "bpf", "--tracker-accounting", mode],
                                      stdout=lg, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, cwd=wd)
            ctx.started.append(jd)
            end = time.monotonic() + 60
            while True:
                if jd.poll() is not None:
                    raise BenchError("jouled exited early: " + open(os.path.join(wd, "log")).read()[-500:])
                try:
                    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
                    try:
                        if con.execute("SELECT COUNT(*) FROM intervals").fetchone()[0] >= 2:
                            break
                    finally:
                        con.close()
                except sqlite3.Error:
                    pass
                if time.monotonic() > end:
                    raise BenchError("jouled not ready within 60 s")
                time.sleep(0.1)
        idle = spawn_idle(ctx, n_idle)
        time.sleep(2)
        for name, n, seconds in storms:
            d = {"name": name, "load_start": loadavg()}
            busy0 = host_busy_s()
            if jd:
                base = storm_status(ctx, db)["counters"]
                fold0 = storm_folded(jd.pid)
                snap0, wait0 = Snapshot(jd.pid), sched_wait_s(jd.pid)
                log_at = os.path.getsize(os.path.join(wd, "log"))
            d.update(storm_run(ctx, name, n, seconds))
            busy1 = host_busy_s()
            # What else ran meanwhile: the host's busy time less the storm's
            # own (less jouled's, below).
            d["other"] = busy1[0] - busy0[0] - d["truth"]
            d["steal"] = busy1[1] - busy0[1]
            if jd:
                snap1, wait1 = Snapshot(jd.pid), sched_wait_s(jd.pid)
                # A backlog drains after the storm, and free events come an
                # RCU grace period after each exit: seconds late when the
                # CPUs are saturated (RCU's grace-period kthread and
                # ksoftirqd run at normal priority and wait for a CPU like
                # any other task), and the exit-time
                # counters of such a process stand in for them after 4
                # intervals (exits_early_only) until they come. Wait until
                # the attributed figure and that count have stood still
                # for 3 s (at most 60 s).
                seen, last, steady = 0, None, 0
                for _ in range(60):
                    time.sleep(1)
                    after = storm_status(ctx, db)["counters"]
                    now = (storm_comm_cpu(db, name), after.get("exits_early_only"))
                    steady = steady + 1 if now == last else 0
                    last = now
                    seen = now[0]
                    if steady == 3:
                        break
                fold1 = storm_folded(jd.pid)
                other, _it = bpf_split(snap0, snap1)
                with open(os.path.join(wd, "log")) as f:
                    f.seek(log_at)
                    d["warned"] = "exit events lost" in f.read()
                d["other"] -= snap1.cpu_since(snap0)
                d.update({"seen": seen / 1e9,
                          "lost": (after.get("exits_lost") or 0) - (base.get("exits_lost") or 0),
                          "early_only": (after.get("exits_early_only") or 0) - (base.get("exits_early_only") or 0),
                          "folded": fold1[1] - fold0[1] if fold0 and fold1 else None,
                          "jouled_cpu": snap1.cpu_since(snap0) + other,
                          "jouled_wait": wait1 - wait0})
            d["load_end"] = loadavg()
            results.append(d)
    finally:
        if idle is not None:
            stop_group(idle, signal.SIGTERM, timeout=60)
            ctx.started.remove(idle)
        if jd is not None:
            stop_group(jd, signal.SIGTERM)
            ctx.started.remove(jd)
    return results


def scenario_storm(ctx):
    if ctx.quick:
        rate, seconds, fast_n, n_idle = 1000, 1.0, 1000, 100
    else:
        rate, seconds, fast_n, n_idle = STORM_RATE, STORM_SECONDS, STORM_FAST_N, 10000
    n = int(rate * seconds)
    storms = [("jb-storm", n, seconds), ("jb-storm-max", fast_n, 0)]
    log("scenario 5: storms of %d processes over %.0f s (%d a second aimed at) and of %d as fast as the host "
        "forks, beside %d idle ones" % (n, seconds, rate, fast_n, n_idle))
    rows, fast_rows, targets = [], [], []
    base = storm_once(ctx, None, storms, n_idle)
    log("  no jouled: %.0f forks/s aimed at %d, %.0f as fast as it can" % (base[0]["rate"], rate, base[1]["rate"]))
    rows.append(["no jouled", "%.0f" % base[0]["rate"], "%.3f" % base[0]["truth"]] + ["–"] * 8 +
                ["%.1f (%.1f)" % (base[0]["other"], base[0]["steal"]), base[0]["load_start"]])
    fast_rows.append(["no jouled", "%d" % base[1]["n"], "%.0f" % base[1]["rate"], "%.3f" % base[1]["truth"],
                      "–", "–", "–", "–", "–"])
    for mode in ("iterator", "per-switch"):
        aimed, fast = storm_once(ctx, mode, storms, n_idle)
        share = aimed["seen"] / aimed["truth"] * 100 if aimed["truth"] else 0
        fshare = fast["seen"] / fast["truth"] * 100 if fast["truth"] else 0
        log("  %-10s %.0f forks/s, truth %.3f s, attributed %.3f s (%.3f%%), exits_lost %d; as fast as it can: "
            "%.0f forks/s, %.3f%%, exits_lost %d" % (mode, aimed["rate"], aimed["truth"], aimed["seen"], share,
                                                     aimed["lost"], fast["rate"], fshare, fast["lost"]))
        rows.append([mode, "%.0f" % aimed["rate"], "%.3f" % aimed["truth"], "%.3f" % aimed["seen"], "%.3f%%" % share,
                     "%d" % aimed["lost"], "–" if aimed["folded"] is None else "%d" % aimed["folded"],
                     "%d" % aimed["early_only"], "%.2f" % aimed["jouled_cpu"], "%.1f" % aimed["jouled_wait"],
                     "yes" if aimed["warned"] else "no", "%.1f (%.1f)" % (aimed["other"], aimed["steal"]),
                     aimed["load_start"]])
        fast_rows.append([mode, "%d" % fast["n"], "%.0f" % fast["rate"], "%.3f" % fast["truth"], "%.3f" % fast["seen"],
                          "%.3f%%" % fshare, "%d" % fast["lost"],
                          "–" if fast["folded"] is None else "%d" % fast["folded"], "%d" % fast["early_only"]])
        reached = aimed["rate"] >= 5000 or ctx.quick
        targets.append("- %s: %.0f processes a second reached (at least 5,000: %s); no exit event lost: %d → %s; "
                       "at least 99.9%% of the storm's CPU attributed: %.3f%% → %s"
                       % (mode, aimed["rate"], "yes" if reached else
                          "**no**, this host forks no faster with jouled running (%.0f a second without)"
                          % base[0]["rate"], aimed["lost"], verdict(aimed["lost"] == 0), share, verdict(share >= 99.9)))
    out = ["## 5. Fork storm beside idle processes",
           "",
           "jouled alone at 1 s, each accounting mode pinned (`--tracker-accounting`), %d mostly idle processes "
           "(`bench/spawn-idle.c`), then a storm of %d processes spread over %.0f s (%d a second aimed at), "
           "then one of %d as fast as the host forks. The storm (`bench/storm.c`): one forking parent per CPU "
           "(%d), each with at most %d children alive; a child burns %d µs of its own CPU time in user space "
           "and calls _exit() (no exec). Every process of a storm has the comm of its link (`jb-storm`, "
           "`jb-storm-max`) from its exec. The truth is the storm's getrusage() (RUSAGE_SELF + RUSAGE_CHILDREN "
           "of its first process: parents and children); attributed is the CPU time jouled stored under that "
           "comm (raw intervals), read once it and exits_early_only have stood still for 3 s (a backlog drains after "
           "the storm, and free events come an RCU grace period after each exit, seconds late on saturated CPUs: "
           "until then the exit-time counters stand, counted in exits_early_only, which the free event, when it "
           "comes, completes). The first row runs the same storms with no jouled. "
           "exits_lost and exits_early_only are the change in `joulectl status`; folded: exit events that found "
           "the ring buffer full and waited in its overflow map (jouled's `lost` BPF array, not lost); "
           "jouled CPU-s: its utime+stime over the storm plus its BPF programs' run time in other tasks' "
           "context; run-queue wait: the time jouled's main thread was ready to run but waited for a CPU "
           "(schedstat); warned: whether jouled's log said, during the storm or after it, that exit events "
           "were lost (it says so at most once a minute); "
           "other CPU-s: what else kept the host's CPUs busy during the storm (/proc/stat busy time less the "
           "storm's and jouled's; the host is shared), in brackets the part of it that was steal time "
           "(the hypervisor running other guests); load average: at the storm's start (a storm raises it "
           "for minutes: the short processes count as runnable)."
           % (n_idle, n, seconds, rate, fast_n, os.cpu_count() or 2, STORM_CONC, STORM_BURN_US),
           "",
           table(["accounting", "forks/s reached", "truth CPU-s", "attributed CPU-s", "share", "exits_lost",
                  "folded", "exits_early_only", "jouled CPU-s", "run-queue wait s", "warned",
                  "other CPU-s (steal)", "load average"], rows),
           "",
           "As fast as the host forks:",
           "",
           table(["accounting", "processes", "forks/s reached", "truth CPU-s", "attributed CPU-s", "share",
                  "exits_lost", "folded", "exits_early_only"], fast_rows),
           "",
           "Targets (the aimed storm):",
           ""] + targets + [""]
    return "\n".join(out), rows


# ---------------------------------------------------------------- scenario 4 and per-switch: other suites

def other_suite(ctx, rel, title, what):
    path = os.path.join(ctx.bench_dir, rel)
    head = ["## " + title, ""]
    if not os.access(path, os.X_OK):
        return "\n".join(head + ["not available (`bench/%s` does not exist yet): %s" % (rel, what), ""])
    args = [path] + (["--quick"] if ctx.quick else [])
    # The same jouled as ours: its build directory goes to the other suites as
    # BUILD (bench/storage) and as the positional BUILD_DIR (bench/switch).
    env = dict(os.environ, JOULED=ctx.jouled, JOULECTL=ctx.joulectl)
    build = os.path.dirname(os.path.dirname(os.path.abspath(ctx.jouled)))
    if os.path.exists(os.path.join(build, "build.ninja")):
        env["BUILD"] = build
        if rel.startswith("switch/"):
            args.append(build)
    log("%s: %s" % (title, " ".join(args)))
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=1800, env=env, start_new_session=True)
    except subprocess.TimeoutExpired:
        return "\n".join(head + ["`bench/%s` did not finish within 30 minutes." % rel, ""])
    if r.returncode != 0:
        return "\n".join(head + ["`bench/%s` failed (exit %d):" % (rel, r.returncode), "", "```",
                                 (r.stderr or r.stdout).strip()[-2000:], "```", ""])
    body = r.stdout.strip()
    # Nest the suite's own headings below ours.
    levels = [len(h) for h in re.findall(r"^(#+) ", body, flags=re.M)]
    shift = 3 - min(levels) if levels else 0
    body = re.sub(r"^(#+) ", lambda m: "#" * max(1, min(len(m.group(1)) + shift, 6)) + " ", body, flags=re.M)
    return "\n".join(head + ["Output of `bench/%s%s`:" % (rel, " --quick" if ctx.quick else ""), "", body, ""])


# ---------------------------------------------------------------- machine description

def cmd_first_line(args, pattern=None):
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "not found"
    text = (r.stdout + r.stderr).strip()
    for line in text.splitlines():
        if pattern is None or re.search(pattern, line):
            return line.strip()
    return text.splitlines()[0].strip() if text else "?"


def machine(ctx):
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        debian = open("/etc/debian_version").read().strip()
    except OSError:
        debian = "?"
    mem = "?"
    with open("/proc/meminfo") as f:
        mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576)
    try:
        commit = subprocess.run(["git", "-C", ctx.bench_dir, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        commit = "?"
    rows = [["CPU", model], ["CPUs (nproc)", str(os.cpu_count())], ["memory", mem],
            ["kernel", platform.release()], ["Debian", debian], ["jouled commit", commit],
            ["jouled", cmd_first_line([ctx.jouled, "--version"])],
            ["pidstat", cmd_first_line(["pidstat", "-V"], "version")],
            ["atop", cmd_first_line(["atop", "-V"], "Version")],
            ["powertop", cmd_first_line(["powertop", "--version"], "ersion")],
            ["bpftrace", cmd_first_line(["bpftrace", "--version"])],
            ["stress-ng", cmd_first_line(["stress-ng", "--version"])]]
    return table(["", ""], rows)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="jouled benchmarks against its peers (run by bench/run.sh)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and durations (smoke test)")
    ap.add_argument("--output", required=True)
    ap.add_argument("--jouled", required=True)
    ap.add_argument("--joulectl", required=True)
    ap.add_argument("--helpers", required=True,
                    help="directory with spawn-idle, shortlived, jb-short, jb-storm, jb-storm-max")
    ap.add_argument("--only", default="1,2,3,4,5,switch",
                    help="comma list of parts to run: 1,2,3,4,5,switch (default: all)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    bad = only - {"1", "2", "3", "4", "5", "switch"}
    if bad:
        print("bench: bad --only %s (accepted: 1,2,3,4,5,switch)" % ",".join(sorted(bad)), file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("bench: must run as root (BPF, process accounting, bpf_stats)", file=sys.stderr)
        return 1

    # SIGTERM/SIGHUP: unwind through the finally blocks (stop monitors, restore the sysctl).
    def on_signal(sig, _frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    ctx = Ctx(a)
    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    old_stats = open(stats_path).read().strip()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_start = loadavg()
    machine_table = machine(ctx)   # what was measured: jouled's commit at the start
    t0 = time.monotonic()
    parts = []
    try:
        with open(stats_path, "w") as f:
            f.write("1\n")
        if "1" in only:
            parts.append(scenario_switch(ctx)[0])
        if "switch" in only:
            parts.append(other_suite(ctx, "switch/run.sh", "1b. Per-switch accounting benchmark (bench/switch)",
                                     "the per-switch benchmark's results will appear here"))
        if "2" in only:
            parts.append(scenario_scale(ctx)[0])
        if "3" in only:
            parts.append(scenario_short(ctx)[0])
        if "4" in only:
            parts.append(other_suite(ctx, "storage/run.sh", "4. Storage and queries",
                                     "database growth per day and `report --since 30d` latency"))
        if "5" in only:
            parts.append(scenario_storm(ctx)[0])
    except KeyboardInterrupt as e:
        log("interrupted (%s): cleaning up" % e)
        return 130
    except BenchError as e:
        log("error: %s" % e)
        return 1
    finally:
        ctx.cleanup()
        with open(stats_path, "w") as f:
            f.write(old_stats + "\n")

    minutes = (time.monotonic() - t0) / 60
    doc = ["# jouled benchmarks",
           "",
           "Generated by `bench/run.sh%s` — do not edit by hand; run the command again. "
           "Method and how to read these tables: [docs/benchmarks.md](../docs/benchmarks.md)." % (
               " --quick" if a.quick else ""),
           "",
           "Run %s, %.1f minutes%s. Load average (1, 5, 15 min) at start: %s; at end: %s "
           "(well above 0 at the start means other work shared the machine)." % (
               started, minutes, ", **--quick mode: tiny sizes, not results**" if a.quick else "",
               load_start, loadavg()),
           "",
           "## Machine",
           "",
           machine_table,
           ""] + parts
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(doc).rstrip() + "\n")
    os.replace(tmp, a.output)
    log("wrote %s" % a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
