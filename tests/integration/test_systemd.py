# SPDX-License-Identifier: GPL-2.0-or-later
"""jouled under a real systemd, with the packaged unit file.

systemd is installed here but is not PID 1. It boots as PID 1 inside new PID
and mount namespaces, over a throwaway root only: an overlay of / whose upper
layer is a tmpfs, fresh tmpfs on /run and /tmp. A plain boot would run its
boot-time cleanup on the host's real filesystem, so never boot without the
overlay. The container boots basic.target only (no host services such as
sshd or prometheus start in it). Killing its PID 1 ends everything in it.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

SYSTEMD = "/lib/systemd/systemd"
UNIT = os.path.join(jtest.SOURCE_ROOT, "packaging", "systemd", "jouled.service")
CAP_SYS_PTRACE = 19
WATCHDOG_S = 2

BOOT_SCRIPT = r"""
set -e
T="$1"
mount --make-rprivate /
mount -t tmpfs tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
for d in proc sys dev; do mount --rbind "/$d" "$T/root/$d"; done
mount -t tmpfs tmpfs "$T/root/run"
mount -t tmpfs tmpfs "$T/root/tmp"
exec chroot "$T/root" env container=jouled-test SYSTEMD_LOG_TARGET=console \
    "$2" --system --unit=basic.target
"""


class Container:
    def __init__(self):
        self.cgroups_before = jtest.cgroup_dirs()
        self.mnt = tempfile.mkdtemp(prefix="jouled-systemd-")
        self.log = open(self.mnt + ".log", "w")
        self.proc = subprocess.Popen(
            ["unshare", "--fork", "--pid", "--mount", "--mount-proc",
             "sh", "-c", BOOT_SCRIPT, "boot", self.mnt, SYSTEMD],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid1 = None

    def find_pid1(self, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                    kids = f.read().split()
                if kids:
                    pid = int(kids[0])
                    with open("/proc/%d/comm" % pid) as f:
                        if f.read().strip() == "systemd":
                            self.pid1 = pid
                            return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    @property
    def root(self):
        return "/proc/%d/root" % self.pid1

    def run(self, *args, timeout=60):
        return subprocess.run(["nsenter", "-t", str(self.pid1), "-m", "-p", "-r", "-w"] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def wait_booted(self, timeout=60):
        end = time.monotonic() + timeout
        state = ""
        while time.monotonic() < end:
            state = self.run("systemctl", "is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                return True
            time.sleep(0.3)
        return False

    def show(self, prop, unit="jouled.service"):
        return self.run("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()

    def kill(self):
        if self.pid1:
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        # Its cgroups are empty now that everything in it died; a killed
        # cgroup can take a moment to empty.
        left = jtest.cgroup_dirs()
        for _ in range(50):
            left = jtest.cgroup_remove_new(self.cgroups_before)
            if not left:
                break
            time.sleep(0.1)
        os.rmdir(self.mnt)  # the tmpfs lived in the namespace only: empty here
        os.unlink(self.mnt + ".log")


def install(c):
    r = c.root
    with open(jtest.JOULED, "rb") as src, open(r + "/usr/sbin/jouled", "wb") as dst:
        dst.write(src.read())
    os.chmod(r + "/usr/sbin/jouled", 0o755)
    with open(UNIT) as src, open(r + "/etc/systemd/system/jouled.service", "w") as dst:
        dst.write(src.read())
    # The package's sysusers.d and tmpfiles.d entries, applied as the
    # package's postinst does: the unit runs with Group=jouled.
    for kind in ("sysusers", "tmpfiles"):
        os.makedirs(r + "/etc/%s.d" % kind, exist_ok=True)
        with open(os.path.join(jtest.SOURCE_ROOT, "packaging", kind, "jouled.conf")) as src, \
                open(r + "/etc/%s.d/jouled.conf" % kind, "w") as dst:
            dst.write(src.read())
    check(c.run("systemd-sysusers", "/etc/sysusers.d/jouled.conf").returncode == 0, "systemd-sysusers failed")
    check(c.run("systemd-tmpfiles", "--create", "/etc/tmpfiles.d/jouled.conf").returncode == 0, "systemd-tmpfiles failed")
    os.makedirs(r + "/etc/systemd/system/jouled.service.d", exist_ok=True)
    with open(r + "/etc/systemd/system/jouled.service.d/test.conf", "w") as f:
        f.write("[Service]\nWatchdogSec=%ds\n" % WATCHDOG_S)
    os.makedirs(r + "/etc/jouled", exist_ok=True)
    with open(r + "/etc/jouled/jouled.conf", "w") as f:
        f.write("[Daemon]\nInterval=0.5s\nSource=model\n")
    check(c.run("systemctl", "daemon-reload").returncode == 0, "daemon-reload failed")


def test_service_lifecycle():
    if not os.path.exists(SYSTEMD):
        print("SKIP: %s not installed" % SYSTEMD)
        sys.exit(jtest.SKIP)
    marker = tempfile.NamedTemporaryFile(prefix="jouled-host-marker-", dir="/tmp", delete=False)
    marker.close()
    host_unit = "/etc/systemd/system/jouled.service"
    host_unit_before = os.path.exists(host_unit)
    host_bin_before = os.path.exists("/usr/sbin/jouled")
    c = Container()
    try:
        if not c.find_pid1() or not c.wait_booted():
            print("SKIP: systemd could not boot in a namespace here")
            c.kill()
            os.unlink(marker.name)
            sys.exit(jtest.SKIP)
        install(c)

        # Readiness: start returns after READY=1, i.e. after the first sample.
        r = c.run("systemctl", "start", "jouled.service", timeout=90)
        journal = lambda: c.run("journalctl", "-u", "jouled", "--no-pager", "-o", "cat").stdout
        check(r.returncode == 0, "systemctl start failed: %s %s" % (r.stderr, journal()))
        check(c.show("ActiveState") == "active", "not active after start: %s" % journal())
        status = c.show("StatusText")
        check(status.startswith("Sampling every 0.5s") and "estimated" in status,
              "StatusText: %r" % status)
        pid = int(c.show("MainPID"))
        check(pid > 0, "no MainPID")
        check(c.show("WatchdogUSec") == str(WATCHDOG_S * 1000000) or c.show("WatchdogUSec") == "%ds" % WATCHDOG_S,
              "WatchdogUSec=%s" % c.show("WatchdogUSec"))

        # Structured logging: the domain's message carries JOULED_DOMAIN= and JOULED_SOURCE=.
        r = c.run("journalctl", "--no-pager", "-o", "cat", "JOULED_DOMAIN=package-0", "JOULED_SOURCE=model")
        check("Domain package-0 from source model" in r.stdout, "no structured domain entry: %r" % r.stdout)
        # Each entry has one code location, the caller's (not log.c's as well).
        r = c.run("journalctl", "--no-pager", "-o", "json", "JOULED_DOMAIN=package-0", "JOULED_SOURCE=model")
        entries = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check(entries and all(isinstance(e.get("CODE_FILE"), str) and not e["CODE_FILE"].endswith("log.c")
                              for e in entries), "code location not the caller's, once: %r" % r.stdout[:600])

        # Least privilege: at most CAP_SYS_PTRACE is left.
        st = c.run("cat", "/proc/%d/status" % pid).stdout
        caps = {l.split(":")[0]: int(l.split()[1], 16) for l in st.splitlines() if l.startswith("Cap")}
        check(caps.get("CapEff", -1) & ~(1 << CAP_SYS_PTRACE) == 0, "CapEff not reduced: %s" % caps)
        check(caps.get("CapPrm", -1) & ~(1 << CAP_SYS_PTRACE) == 0, "CapPrm not reduced: %s" % caps)
        check("NoNewPrivs:\t1" in st, "no_new_privs not set")

        # Watchdog: stays up, same process, no restart, past 2 × WatchdogSec.
        time.sleep(WATCHDOG_S * 2 + 1)
        check(c.show("ActiveState") == "active" and int(c.show("MainPID")) == pid and c.show("NRestarts") == "0",
              "watchdog killed it? %s" % journal())

        # Reload: ExecReload sends SIGHUP; the daemon reloads and logs it.
        r = c.run("systemctl", "reload", "jouled.service")
        check(r.returncode == 0, "reload failed: %s" % r.stderr)
        time.sleep(0.5)
        check("Reloaded configuration from /etc/jouled/jouled.conf" in journal(), "no reload in the log: %s" % journal())
        check(int(c.show("MainPID")) == pid, "reload restarted the daemon")

        # Per-switch accounting works under the unit's hardening (system call
        # filter, capabilities): pinned to it, jouled refuses to start when it
        # cannot open its per-CPU timers.
        os.makedirs(c.root + "/etc/jouled/jouled.conf.d", exist_ok=True)
        with open(c.root + "/etc/jouled/jouled.conf.d/accounting.conf", "w") as f:
            f.write("[Daemon]\nTrackerAccounting=per-switch\n")
        r = c.run("systemctl", "restart", "jouled.service", timeout=90)
        check(r.returncode == 0 and c.show("ActiveState") == "active",
              "restart with per-switch accounting failed: %s %s" % (r.stderr, journal()[-800:]))
        r = c.run("sqlite3", "/var/lib/jouled/jouled.db",
                  "SELECT value FROM daemon_state WHERE key = 'tracker_accounting'")
        check(r.stdout.strip() == "per-switch", "tracker_accounting %r, wanted per-switch: %s" % (r.stdout, journal()[-1500:]))

        # Stop: exit 0, the database is whole.
        r = c.run("systemctl", "stop", "jouled.service")
        check(r.returncode == 0, "stop failed: %s" % r.stderr)
        check(c.show("ExecMainStatus") == "0" and c.show("Result") == "success",
              "stop: status %s result %s" % (c.show("ExecMainStatus"), c.show("Result")))
        r = c.run("sqlite3", "/var/lib/jouled/jouled.db", "PRAGMA integrity_check; SELECT COUNT(*) FROM intervals;")
        out = r.stdout.split()
        check(r.returncode == 0 and len(out) == 2 and out[0] == "ok", "integrity_check: %r %s" % (r.stdout, r.stderr))
        check(int(out[1]) >= 4, "only %s intervals stored" % out[1])
    finally:
        c.kill()
        # Nothing of the host changed.
        marker_kept = os.path.exists(marker.name)
        if marker_kept:
            os.unlink(marker.name)
    check(marker_kept, "host /tmp was cleaned: the marker is gone")
    check(os.path.exists(host_unit) == host_unit_before, "host %s changed" % host_unit)
    check(os.path.exists("/usr/sbin/jouled") == host_bin_before, "host /usr/sbin/jouled changed")
    left = jtest.cgroups_new_systemd(c.cgroups_before)
    check(not left, "cgroups left in the host's hierarchies: %s" % left[:5])


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_service_lifecycle])
