# SPDX-License-Identifier: GPL-2.0-or-later
"""`jouled --probe` against fixture trees (--powercap-root, --sys-root,
--dev-root, --proc-root): it must name the right source for each domain, and
on a host without any meter say plainly that the model is used.

The perf fixture describes a "power" PMU whose type is the kernel's software
PMU (type 1, event 0 = cpu-clock): the real perf_event_open() then succeeds,
which is all the probe needs to pick perf (the counts are not energies).
"""
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

SOURCES = ["perf", "rapl", "msr", "hwmon", "battery", "nvml", "model"]


def write(root, rel, content):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def msr(root, cpu, values):
    path = os.path.join(root, "dev", "cpu", str(cpu), "msr")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab"):
        pass
    with open(path, "r+b") as f:
        for addr, v in values.items():
            f.seek(addr)
            f.write(struct.pack("<Q", v))


def base_tree(root, vendor="GenuineIntel", family=6, model=85, cpus=((0, 0), (1, 0))):
    """proc/stat, proc/cpuinfo and the CPU topology; empty powercap root."""
    stat = "cpu  100 0 100 1000 0 0 0 0 0 0\n"
    info = ""
    for cpu, pkg in cpus:
        stat += "cpu%d 50 0 50 500 0 0 0 0 0 0\n" % cpu
        info += ("processor\t: %d\nvendor_id\t: %s\ncpu family\t: %d\nmodel\t\t: %d\n"
                 "model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: %d\n\n"
                 % (cpu, vendor, family, model, pkg))
        write(root, "sys/devices/system/cpu/cpu%d/topology/physical_package_id" % cpu, "%d\n" % pkg)
        write(root, "sys/devices/system/cpu/cpu%d/topology/core_id" % cpu, "%d\n" % cpu)
    write(root, "proc/stat", stat + "intr 0\n")
    write(root, "proc/cpuinfo", info)
    os.makedirs(os.path.join(root, "powercap"), exist_ok=True)
    os.makedirs(os.path.join(root, "dev"), exist_ok=True)


def probe(root, *extra):
    args = [jtest.JOULED, "--probe",
            "--powercap-root", os.path.join(root, "powercap"),
            "--sys-root", os.path.join(root, "sys"),
            "--dev-root", os.path.join(root, "dev"),
            "--proc-root", os.path.join(root, "proc")] + list(extra)
    return run_probe(args)


def run_probe(args):
    env = dict(os.environ)
    env.setdefault("JOULED_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1")
    env.pop("JOULED_TOPOLOGY", None)
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    check(r.returncode == 0, "jouled --probe failed (%d): %s%s" % (r.returncode, r.stdout, r.stderr))
    return parse(r.stdout), r.stdout


def parse(out):
    """{"sources": {name: (status, details)}, "domains": {name: (source, kind, total)}}"""
    sources, domains, section = {}, {}, None
    for line in out.splitlines():
        if line.startswith("Energy sources"):
            section = "s"
            continue
        if line.startswith("Domains:"):
            section = "d"
            continue
        if not line.startswith("  ") or line.strip().startswith(("SOURCE ", "DOMAIN ", "(none")):
            continue
        f = line.split()
        if section == "s":
            status = "in use" if f[1] == "in" else f[1]
            sources[f[0]] = (status, line)
        elif section == "d":
            rest = line.split(None, 2)[2]
            kind = "estimated" if rest.startswith("estimated") else \
                "measured (from power)" if rest.startswith("measured (from power)") else "measured"
            total = rest[len(kind):].strip()
            domains[f[0]] = (f[1], kind, total)
    check(set(sources) == set(SOURCES), "probe lists %r, expected every source %r:\n%s" % (sorted(sources), SOURCES, out))
    return {"sources": sources, "domains": domains}


def expect_domains(p, out, expected):
    got = {d: v[0] for d, v in p["domains"].items()}
    check(got == expected, "domains fed by %r, expected %r:\n%s" % (got, expected, out))


def test_intel_msr():
    with jtest.TempDir() as root:
        base_tree(root)
        msr(root, 0, {0x606: 0xA0E03, 0x611: 1000, 0x619: 2000, 0x639: 3000})
        p, out = probe(root)
        expect_domains(p, out, {"package-0": "msr", "core-0": "msr", "dram-0": "msr"})
        check(p["sources"]["msr"][0] == "in use", out)
        check("GenuineIntel" in p["sources"]["msr"][1], out)
        check(p["sources"]["rapl"][0] == "missing", out)
        check(p["domains"]["package-0"][2] == "yes" and p["domains"]["dram-0"][2] == "yes", out)
        check(p["domains"]["core-0"][2].startswith("no"), out)
        check("No hardware energy meter" not in out, out)


def powercap_two_sockets(root):
    for pkg in (0, 1):
        z = "powercap/intel-rapl/intel-rapl:%d" % pkg
        write(root, z + "/name", "package-%d\n" % pkg)
        write(root, z + "/energy_uj", "%d\n" % (1000 + pkg))
        write(root, z + "/max_energy_range_uj", "262143328850\n")
        sz = z + "/intel-rapl:%d:0" % pkg
        write(root, sz + "/name", "dram\n")
        write(root, sz + "/energy_uj", "5\n")
        write(root, sz + "/max_energy_range_uj", "65712999613\n")


def test_powercap_two_sockets():
    with jtest.TempDir() as root:
        base_tree(root, cpus=((0, 0), (1, 1)))
        powercap_two_sockets(root)
        p, out = probe(root)
        expect_domains(p, out, {"package-0": "rapl", "package-1": "rapl", "dram-0": "rapl", "dram-1": "rapl"})
        for d in p["domains"]:
            check(p["domains"][d][2] == "yes", "%s should be in the host total:\n%s" % (d, out))


def test_perf_preferred_over_powercap():
    with jtest.TempDir() as root:
        base_tree(root, cpus=((0, 0), (1, 0)))
        powercap_two_sockets(root)
        pmu = "sys/bus/event_source/devices/power"
        write(root, pmu + "/type", "1\n")  # the software PMU: opens for real
        write(root, pmu + "/cpumask", "0\n")
        write(root, pmu + "/events/energy-pkg", "event=0x00\n")
        write(root, pmu + "/events/energy-pkg.scale", "2.3283064365386962890625e-10\n")
        write(root, pmu + "/events/energy-pkg.unit", "Joules\n")
        p, out = probe(root)
        check(p["domains"].get("package-0", ("?",))[0] == "perf", "package-0 not from perf:\n" + out)
        check(p["sources"]["perf"][0] == "in use", out)
        # powercap still feeds what perf lacks; package-0 is perf's alone.
        expect_domains(p, out, {"package-0": "perf", "package-1": "rapl", "dram-0": "rapl", "dram-1": "rapl"})
        check("already measured: package-0 (perf)" in p["sources"]["rapl"][1], out)
        # --source names one explicitly.
        p, out = probe(root, "--source", "rapl")
        check(p["domains"]["package-0"][0] == "rapl", out)


def test_hwmon_and_battery():
    with jtest.TempDir() as root:
        base_tree(root)
        write(root, "sys/class/hwmon/hwmon0/name", "power_meter\n")
        write(root, "sys/class/hwmon/hwmon0/power1_average", "180000000\n")
        write(root, "sys/class/power_supply/BAT0/type", "Battery\n")
        write(root, "sys/class/power_supply/BAT0/status", "Discharging\n")
        write(root, "sys/class/power_supply/BAT0/power_now", "12000000\n")
        p, out = probe(root)
        expect_domains(p, out, {"system": "hwmon", "battery": "battery"})
        check(p["domains"]["system"][1] == "measured (from power)", out)
        check(p["domains"]["system"][2] == "yes", out)
        check(p["domains"]["battery"][2].startswith("no"), out)
        # A charging battery alone: usable, counted only while discharging.
        os.unlink(os.path.join(root, "sys/class/hwmon/hwmon0/power1_average"))
        write(root, "sys/class/power_supply/BAT0/status", "Charging\n")
        p, out = probe(root)
        expect_domains(p, out, {"battery": "battery"})
        check("not discharging now" in p["sources"]["battery"][1], out)


def test_nothing_means_model():
    with jtest.TempDir() as root:
        base_tree(root)
        p, out = probe(root)
        expect_domains(p, out, {"package-0": "model"})
        check("No hardware energy meter found: using the model source (estimated)" in out, out)
        check("CPU table entry" in p["sources"]["model"][1], out)  # Xeon Gold 6248 is in the table
        for s in SOURCES[:-1]:
            check(p["sources"][s][0] != "in use", out)


def host_has_meter():
    pc = "/sys/class/powercap"
    if os.path.isdir(pc) and any("rapl" in e for e in os.listdir(pc)):
        return True
    if os.path.exists("/sys/bus/event_source/devices/power") or os.path.exists("/dev/cpu/0/msr"):
        return True
    if os.path.isdir("/sys/class/hwmon") and os.listdir("/sys/class/hwmon"):
        return True
    ps = "/sys/class/power_supply"
    if os.path.isdir(ps) and os.listdir(ps):
        return True
    return any(os.path.exists(os.path.join(d, "libnvidia-ml.so.1"))
               for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"))


def test_this_host():
    p, out = run_probe([jtest.JOULED, "--probe"])
    if host_has_meter():
        print("note: this host has a meter; only the table is checked")
        return
    check("No hardware energy meter found: using the model source (estimated)" in out, out)
    check(p["sources"]["model"][0] == "in use", out)
    for s in SOURCES[:-1]:
        check(p["sources"][s][0] == "missing", "%s should be missing here:\n%s" % (s, out))
    expect_domains(p, out, {"package-0": "model"})


def gpu_rows(db):
    """interval_domains rows of the GPUs and each GPU's per-process dynamic energy, by interval
    (rows with only a share of idle energy, which every process that ran gets, are left out)."""
    con = jtest.sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        doms = con.execute("""SELECT i.id, i.start_ns, i.end_ns, d.name, x.measured_j, x.idle_j, x.attributed_j,
                                     x.unattributed_j FROM interval_domains x JOIN intervals i ON i.id = x.interval_id
                              JOIN domains d ON d.id = x.domain_id ORDER BY i.id""").fetchall()
        procs = con.execute("""SELECT sd.interval_id, d.name, p.pid, sd.energy_j FROM sample_domains sd
                               JOIN processes p ON p.id = sd.process_id JOIN domains d ON d.id = sd.domain_id
                               WHERE d.name LIKE 'gpu-%' AND sd.energy_j != 0""").fetchall()
    finally:
        con.close()
    per = {}
    for iid, dom, pid, j in procs:
        per.setdefault((iid, dom), {})
        per[(iid, dom)][pid] = per[(iid, dom)].get(pid, 0) + j
    return doms, per


def test_nvml_gpu_shares():
    """jouled with the NVML stub in script mode: gpu-0 used by real processes
    A (60%), B (20%), C (20%, leaves half-way) and D (20%, a pid gone before
    jouled started: nobody's); gpu-1 used by nobody."""
    stub = os.path.join(os.environ.get("JOULED_BUILD_ROOT", "build"), "tests", "libstub-nvml.so")
    if not os.path.exists(stub):
        print("note: no NVML stub built, skipped")
        return
    waker = [sys.executable, "-c", "import time\nwhile True: time.sleep(0.05)"]
    kids = [subprocess.Popen(waker) for _ in range(3)]
    gone = subprocess.Popen(["true"])
    gone.wait()
    a, b, c, d = kids[0].pid, kids[1].pid, kids[2].pid, gone.pid
    try:
        with jtest.TempDir() as root:
            script = os.path.join(root, "nvml-script")

            def lines(procs):
                text = "gpus 2\npower 0 100000\npower 1 30000\n"
                text += "".join("proc 0 %d %d\n" % (pid, sm) for pid, sm in procs)
                with open(script + ".new", "w") as f:
                    f.write(text)
                os.rename(script + ".new", script)

            lines([(a, 60), (b, 20), (c, 20), (d, 20)])
            env = dict(os.environ, JOULED_NVML_LIBRARY=stub, STUB_NVML_SCRIPT=script)
            db = os.path.join(root, "jouled.db")
            cmd = [jtest.JOULED, "--db", db, "--source", "nvml", "--interval", "500ms",
                   "--idle-power", "gpu-0:20", "--idle-power", "gpu-1:10"]
            with open(os.path.join(root, "jouled.log"), "w") as log:
                daemon = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
                try:
                    def intervals():
                        try:
                            return len({r[0] for r in gpu_rows(db)[0]})
                        except jtest.sqlite3.Error:
                            return 0
                    check(jtest.wait_until(lambda: daemon.poll() is None and intervals() >= 5, 30),
                          "jouled stored no intervals with the NVML stub")
                    removed_ns = time.time_ns()
                    lines([(a, 60), (b, 20), (d, 20)])  # C leaves the GPU, then exits
                    kids[2].kill()
                    kids[2].wait()
                    n = intervals()
                    check(jtest.wait_until(lambda: intervals() >= n + 7, 30), "jouled stopped storing intervals")
                finally:
                    daemon.terminate()
                    daemon.wait(timeout=30)
            with open(os.path.join(root, "jouled.log")) as f:
                out = f.read()
            check(daemon.returncode == 0, "jouled failed (%s): %s" % (daemon.returncode, out))
            doms, per = gpu_rows(db)
    finally:
        for k in kids:
            k.kill()
            k.wait()

    before = after = 0
    for iid, start, end, dom, m, idle, att, unatt in doms:
        check(abs(m - idle - att - unatt) < 1e-9, "interval %d %s: %r != %r + %r + %r" % (iid, dom, m, idle, att, unatt))
        shares = per.get((iid, dom), {})
        if dom == "gpu-1":
            check(att == 0 and not shares, "gpu-1 ran nothing but gave %r: %r" % (att, shares))
            continue
        check(dom == "gpu-0", "unexpected domain %s" % dom)
        if m - idle < 1e-3 or end - start < 200_000_000:
            continue  # e.g. the last one, cut short by SIGTERM: A and B may not have woken up in it
        # Per interval, exactly as the utilisation: A three times B.
        check(abs(shares.get(a, 0) - 3 * shares.get(b, 0)) < 1e-6 * m, "interval %d: A %r, B %r" % (iid, shares.get(a), shares.get(b)))
        check(d not in shares, "a pid nobody tracks got energy: %r" % shares)
        if end < removed_ns:  # C there all along: C = B; D's 20 of 120 unattributed
            before += 1
            check(abs(shares.get(c, 0) - shares.get(b, 0)) < 1e-6 * m, "interval %d: C %r, B %r" % (iid, shares.get(c), shares.get(b)))
            check(abs(unatt - (m - idle) * 20 / 120) < 1e-6 * m, "interval %d: unattributed %r of %r" % (iid, unatt, m - idle))
        elif start > removed_ns + 1_000_000_000:  # C gone: nothing for it; D's 20 of 100
            after += 1
            check(c not in shares, "interval %d: C left but got %r" % (iid, shares.get(c)))
            check(abs(unatt - (m - idle) * 20 / 100) < 1e-6 * m, "interval %d: unattributed %r of %r" % (iid, unatt, m - idle))
    total = {pid: sum(v.get(pid, 0) for (_, dom), v in per.items() if dom == "gpu-0") for pid in (a, b, c)}
    g0 = [r for r in doms if r[3] == "gpu-0"]
    print("gpu-0: %.3f J measured, %.3f idle, %.3f attributed (A %.3f, B %.3f, C %.3f), %.3f unattributed; "
          "%d intervals checked with C, %d after it left"
          % (sum(r[4] for r in g0), sum(r[5] for r in g0), sum(r[6] for r in g0), total[a], total[b], total[c],
             sum(r[7] for r in g0), before, after))
    check(before >= 2 and after >= 2, "too few intervals to check (%d before C left, %d after)" % (before, after))


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_intel_msr, test_powercap_two_sockets, test_perf_preferred_over_powercap,
                     test_hwmon_and_battery, test_nothing_means_model, test_this_host,
                     test_nvml_gpu_shares])
