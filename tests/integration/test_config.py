# SPDX-License-Identifier: GPL-2.0-or-later
"""jouled's configuration cannot be misread, and `jouled --print` is safe.

  - `jouled --check-config` exits 1 with FILE:LINE for a bad value, an
    over-long line (never split into a second key), a Source= typo, a FIFO or
    a link to /dev/zero as a drop-in (refused at once, never read), and exits
    0 for a good configuration;
  - a running jouled told to reload a bad configuration keeps running with
    the previous one and says so;
  - `jouled --print` shows process names with their control bytes and
    invalid UTF-8 escaped (any user names a process).
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402


def check_config(conf, timeout=10):
    r = subprocess.run([jtest.JOULED, "--config", conf, "--check-config"],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def test_check_config():
    with jtest.TempDir() as d:
        conf = os.path.join(d, "jouled.conf")
        dropins = conf + ".d"
        os.mkdir(dropins)
        with open(conf, "w") as f:
            f.write("[Daemon]\nInterval=2s # every two seconds\nSource=model ; estimated\n")
        rc, out = check_config(conf)
        check(rc == 0 and out == "", "a good configuration refused (%d): %s" % (rc, out))

        cases = [
            # libinih cut this line at 199 bytes and applied Interval=0.07.
            ("[Daemon]\nDatabase=/tmp/%sInterval=0.07\n" % ("a" * 4200), "10-long.conf:2: line longer than 4096 bytes"),
            ("[Daemon]\nSource=bogus\n", "10-source.conf:2: invalid value 'bogus' for Source="),
            ("[Model]\nMinWattsPerCPU=5\nMaxWattsPerCPU=1\n", "10-model.conf:2: MinWattsPerCPU=5 is above MaxWattsPerCPU=1"),
            ("[Daemon]\nInterval=0\n", "10-interval.conf:2: invalid value '0' for Interval="),
        ]
        for text, want in cases:
            name = want.split(":")[0]
            p = os.path.join(dropins, name)
            with open(p, "w") as f:
                f.write(text)
            rc, out = check_config(conf)
            check(rc == 1 and want in out, "%s: exit %d, wanted %r in %r" % (name, rc, want, out[:600]))
            os.unlink(p)

        # Not regular files: refused at once with one line naming the file.
        fifo = os.path.join(dropins, "50-fifo.conf")
        os.mkfifo(fifo)
        zero = os.path.join(dropins, "60-zero.conf")
        for p in (fifo, zero):
            if p == zero:
                os.unlink(fifo)
                os.symlink("/dev/zero", zero)
            t0 = time.monotonic()
            rc, out = check_config(conf)
            check(time.monotonic() - t0 < 5, "%s: took %.1fs" % (p, time.monotonic() - t0))
            lines = [l for l in out.splitlines() if p in l]
            check(rc == 1 and len(lines) == 1 and "not a regular file" in lines[0],
                  "%s: exit %d: %r" % (p, rc, out))
        os.unlink(zero)
        rc, out = check_config(conf)
        check(rc == 0, "the good configuration again: %d %s" % (rc, out))


def test_reload_keeps_configuration():
    with jtest.TempDir() as d:
        conf = os.path.join(d, "jouled.conf")
        with open(conf, "w") as f:
            f.write("[Daemon]\nInterval=0.2s\n[Carbon]\nIntensityGramsPerKWh=100\n")
        os.mkdir(conf + ".d")
        with jtest.Daemon(d, ["--config", conf, "--source", "model", "--tracker", "procfs"]) as dm:
            dm.wait_intervals(2)
            with open(conf + ".d/50-bad.conf", "w") as f:
                f.write("[Carbon]\nIntensityGramsPerKWh=200\n[Daemon]\nSource=bogus\n")
            dm.proc.send_signal(signal.SIGHUP)
            check(jtest.wait_until(lambda: "keeping the running configuration" in dm.read_log(), 10),
                  "no refusal in the log: %s" % dm.read_log()[-800:])
            check("50-bad.conf:4: invalid value 'bogus' for Source=" in dm.read_log(), dm.read_log()[-800:])
            check(dm.proc.poll() is None, "jouled exited on a bad reload")
            n = dm.wait_intervals(1)
            dm.wait_intervals(n + 2)
            check(dm.stop() == 0, "exit status: %s" % dm.read_log()[-800:])
        r = subprocess.run(["sqlite3", os.path.join(d, "jouled.db"),
                            "SELECT value FROM daemon_state WHERE key = 'carbon_g_per_kwh'"],
                           capture_output=True, text=True)
        check(r.stdout.strip() in ("", "100"), "a refused reload applied a value: %r" % r.stdout)


def test_print_escapes_names():
    hostile = b"\x1b[31mred\nx"
    with jtest.TempDir() as d:
        log = os.path.join(d, "print.log")
        with open(log, "wb") as out:
            p = subprocess.Popen([jtest.JOULED, "--db", os.path.join(d, "j.db"), "--interval", "0.2",
                                  "--source", "model", "--tracker", "procfs", "--print"],
                                 stdout=out, stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.6)
                subprocess.run([jtest.BURNER, hostile, "3", "200"], capture_output=True, timeout=60)
                time.sleep(0.6)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
        with open(log, "rb") as f:
            data = f.read()
    check(b"\\e[31mred\\nx" in data, "the burner's escaped name is not printed: %r" % data[-1500:])
    bad = sorted({b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f})
    check(not bad, "raw control bytes %r in --print output" % bad)
    data.decode("utf-8", errors="strict")


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_check_config, test_reload_keeps_configuration, test_print_escapes_names])
