# SPDX-License-Identifier: GPL-2.0-or-later
"""Packaging: the unit's exposure level, the Debian package builds, installs
(without systemd as PID 1, and under a real systemd, where it starts), all in
a throwaway overlay of / so the host is never changed.
JOULED_SKIP_DEB=1 skips the package build (about 15 s here)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402
import test_systemd  # noqa: E402

UNIT = os.path.join(jtest.SOURCE_ROOT, "packaging", "systemd", "jouled.service")
BUILD_DEB = os.path.join(jtest.SOURCE_ROOT, "packaging", "debian", "build-deb.sh")

NO_PID1_SCRIPT = r"""
set -e
T="$1"; DEB="$2"
mount --make-rprivate /
mount -t tmpfs tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
for d in proc sys dev; do mount --rbind "/$d" "$T/root/$d"; done
mount -t tmpfs tmpfs "$T/root/run"
mount -t tmpfs tmpfs "$T/root/tmp"
cp "$DEB" "$T/root/tmp/jouled.deb"
chroot "$T/root" sh -c '
  set -e
  rm -rf /var/lib/jouled /etc/jouled /run/jouled
  dpkg -i /tmp/jouled.deb
  test -x /usr/sbin/jouled && test -x /usr/bin/joulectl
  test -f /lib/systemd/system/jouled.service || test -f /usr/lib/systemd/system/jouled.service
  test -f /usr/lib/sysusers.d/jouled.conf && test -f /usr/lib/tmpfiles.d/jouled.conf
  test -f /etc/jouled/jouled.conf
  test -f /usr/share/man/man8/jouled.8.gz
  getent passwd jouled
  /usr/sbin/jouled --version
  test -d /var/lib/jouled
  dpkg -r jouled
  test ! -e /usr/sbin/jouled
  # Purge removes the state and the system user (and its group).
  dpkg -P jouled
  test ! -e /var/lib/jouled
  ! getent passwd jouled
  ! getent group jouled
  echo PACKAGE-OK
'
"""


def test_exposure_level():
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", UNIT], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and "offline" in r.stderr:
        print("SKIP: systemd-analyze has no --offline")
        return
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    check(m, "no exposure level in: %s %s" % (r.stdout[-300:], r.stderr[-300:]))
    # 2.0 for the unit's hardening, plus 0.3 for CAP_SETUID and CAP_SETGID in
    # the bounding set, which [Daemon] User= needs at start (jouled drops them).
    check(float(m.group(1)) <= 2.3, "exposure level %s > 2.3" % m.group(1))


def build_deb(outdir):
    r = subprocess.run([BUILD_DEB, outdir], capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "build-deb.sh failed: %s" % r.stderr[-2000:])
    debs = [f for f in os.listdir(outdir) if f.startswith("jouled_") and f.endswith(".deb")]
    check(len(debs) == 1, "no .deb built: %s" % os.listdir(outdir))
    return os.path.join(outdir, debs[0])


def lint_deb(deb):
    """lintian: no error and no warning (overrides carry their reason)."""
    if not shutil.which("lintian"):
        print("SKIP: lintian not installed")
        return
    r = subprocess.run(["lintian", "--allow-root", deb], capture_output=True, text=True, timeout=300)
    bad = [l for l in r.stdout.splitlines() if l.startswith(("E:", "W:"))]
    check(not bad, "lintian: %s" % bad)


def test_deb_builds_installs_starts():
    if os.environ.get("JOULED_SKIP_DEB"):
        print("SKIP: JOULED_SKIP_DEB set")
        return
    for tool in ("dpkg-buildpackage", "dh"):
        if not shutil.which(tool):
            print("SKIP: %s not installed" % tool)
            return
    with jtest.TempDir() as tmp:
        deb = build_deb(tmp)
        r = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, timeout=60)
        for path in ("./usr/sbin/jouled", "./usr/bin/joulectl", "jouled.service", "./usr/share/man/man5/jouled.conf.5"):
            check(path in r.stdout, "%s not in the package" % path)
        lint_deb(deb)

        # 1. dpkg -i where systemd is not PID 1: postinst must not fail.
        mnt = tempfile.mkdtemp(prefix="jouled-deb-root-")
        try:
            r = subprocess.run(["unshare", "--fork", "--pid", "--mount", "--mount-proc", "sh", "-c", NO_PID1_SCRIPT,
                                "install", mnt, deb], capture_output=True, text=True, timeout=300)
        finally:
            os.rmdir(mnt)
        check(r.returncode == 0 and "PACKAGE-OK" in r.stdout, "install without systemd: %s %s" % (r.stdout[-1500:], r.stderr[-1500:]))

        # 2. dpkg -i under a real systemd: the service is enabled and starts.
        c = test_systemd.Container()
        try:
            if not c.find_pid1() or not c.wait_booted():
                print("SKIP: systemd could not boot here; package installed without it only")
                return
            # A machine that never had jouled: no state left by anything that
            # ran on the host (the container's / is an overlay of the host's).
            c.run("rm", "-rf", "/var/lib/jouled", "/etc/jouled", "/run/jouled")
            shutil.copy(deb, c.root + "/tmp/jouled.deb")
            r = c.run("dpkg", "-i", "/tmp/jouled.deb", timeout=300)
            check(r.returncode == 0, "dpkg -i under systemd: %s %s" % (r.stdout[-1500:], r.stderr[-1500:]))
            c.run("systemctl", "start", "jouled.service", timeout=90)  # postinst started it already; idempotent
            state = c.show("ActiveState")
            log = c.run("journalctl", "-u", "jouled", "--no-pager", "-o", "cat").stdout
            check(state == "active", "jouled.service is %s after install: %s" % (state, log[-1500:]))
            check(c.show("UnitFileState") == "enabled", "not enabled: %s" % c.show("UnitFileState"))

            # A member of group jouled reads the database with joulectl.
            r = c.run("useradd", "--no-create-home", "-G", "jouled", "jreader")
            check(r.returncode == 0, "useradd: %s" % r.stderr)
            r = c.run("runuser", "-u", "jreader", "--", "joulectl", "status")
            check(r.returncode == 0, "joulectl status as a member of jouled: %s %s" % (r.stdout[-500:], r.stderr[-500:]))
            r = c.run("stat", "-c", "%U:%G %a", "/var/lib/jouled", "/var/lib/jouled/jouled.db")
            check(r.stdout.split("\n")[:2] == ["root:jouled 750", "root:jouled 640"],
                  "state directory and database: %r" % r.stdout)

            # [Daemon] User=jouled works with the shipped unit: it switches
            # at start and keeps running, without a restart loop.
            os.makedirs(c.root + "/etc/jouled/jouled.conf.d", exist_ok=True)
            with open(c.root + "/etc/jouled/jouled.conf.d/user.conf", "w") as f:
                f.write("[Daemon]\nUser=jouled\n")
            r = c.run("systemctl", "restart", "jouled.service", timeout=90)
            log = c.run("journalctl", "-u", "jouled", "--no-pager", "-o", "cat").stdout
            check(r.returncode == 0 and c.show("ActiveState") == "active",
                  "restart with User=jouled: %s %s" % (r.stderr, log[-1500:]))
            uid = c.run("id", "-u", "jouled").stdout.strip()
            pid = c.show("MainPID")
            st = c.run("cat", "/proc/%s/status" % pid).stdout
            uids = [l.split()[1:] for l in st.splitlines() if l.startswith("Uid:")][0]
            check(uids and all(u == uid for u in uids), "not running as jouled (%s): %s" % (uid, uids))
            time.sleep(3)
            check(c.show("ActiveState") == "active" and c.show("NRestarts") == "0" and c.show("MainPID") == pid,
                  "User=jouled: restarted or stopped: %s" % log[-1500:])
            r = c.run("runuser", "-u", "jreader", "--", "joulectl", "status")
            check(r.returncode == 0, "joulectl status with User=jouled: %s" % r.stderr[-500:])
            r = c.run("systemctl", "stop", "jouled.service")
            check(r.returncode == 0 and c.show("Result") == "success", "stop: %s" % c.show("Result"))
        finally:
            c.kill()
    check(not os.path.exists("/tmp/jouled.deb"), "host /tmp touched")


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_exposure_level, test_deb_builds_installs_starts])
