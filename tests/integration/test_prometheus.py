# SPDX-License-Identifier: GPL-2.0-or-later
"""A real Prometheus server scrapes jouled's /metrics and answers a query;
promtool checks the exposition format and the textfile output."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def wait_http(url, timeout=30, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise jtest.Failure("%s exited early (%s)" % (proc.args[0], proc.returncode))
        try:
            return get(url)
        except OSError:
            time.sleep(0.2)
    raise jtest.Failure("%s did not answer in %ds" % (url, timeout))


def promtool_check(text):
    if not os.path.exists(PROMTOOL):
        return
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "promtool check metrics: %s%s" % (r.stdout, r.stderr))


def test_metrics_endpoint_and_textfile():
    port = free_port()
    with jtest.TempDir() as tmp, jtest.Daemon(tmp, ["--source", "model", "--interval", "0.5",
                                                   "--metrics-listen", "127.0.0.1:%d" % port,
                                                   "--metrics-textfile", tmp]) as d:
        d.wait_intervals(3)
        status, ctype, body = wait_http("http://127.0.0.1:%d/metrics" % port, proc=d.proc)
        check(status == 200 and ctype.startswith("text/plain; version=0.0.4"), "status %s type %s" % (status, ctype))
        for name in ("jouled_domain_energy_joules_total{", "jouled_process_energy_joules_total{",
                     "jouled_unit_energy_joules_total{", "jouled_user_energy_joules_total{",
                     "jouled_process_cpu_seconds_total{", "jouled_intervals_total ",
                     "jouled_tracker_exits_lost_total ", "jouled_info{", 'estimated="true"'):
            check(name in body, "%s missing from /metrics" % name)
        n_procs = sum(1 for l in body.splitlines() if l.startswith("jouled_process_energy_joules_total{"))
        check(0 < n_procs <= 10, "%d process series (top 10 expected)" % n_procs)
        promtool_check(body)

        def intervals(text):
            return float([l for l in text.splitlines() if l.startswith("jouled_intervals_total ")][0].split()[1])
        time.sleep(1.2)
        _, _, body2 = get("http://127.0.0.1:%d/metrics" % port)
        check(intervals(body2) > intervals(body), "jouled_intervals_total did not grow")

        with open(os.path.join(tmp, "jouled.prom")) as f:
            prom = f.read()
        check("jouled_domain_energy_joules_total{" in prom, "textfile lacks the domain energy")
        promtool_check(prom)
        check(not os.path.exists(os.path.join(tmp, ".jouled.prom.tmp")), "temporary textfile left behind")
        try:
            get("http://127.0.0.1:%d/nope" % port)
            raise jtest.Failure("/nope answered 200")
        except urllib.error.HTTPError as e:
            check(e.code == 404, "/nope answered %d" % e.code)
        check(d.stop() == 0, "jouled did not exit 0")


def parse_samples(text):
    """{name{labels}: value} of every sample line."""
    out = {}
    for l in text.splitlines():
        if l and not l.startswith("#"):
            k, v = l.rsplit(" ", 1)
            out[k] = float(v)
    return out


def test_with_idle_and_idle_estimate_series():
    """Beside each dynamic energy counter, its energy with the CPU-time share
    of idle; the idle estimate per domain as gauges with its method."""
    port = free_port()
    with jtest.TempDir() as tmp, jtest.Daemon(tmp, ["--source", "model", "--interval", "0.5",
                                                   "--metrics-listen", "127.0.0.1:%d" % port]) as d:
        d.wait_intervals(4)
        _, _, body = wait_http("http://127.0.0.1:%d/metrics" % port, proc=d.proc)
        check(os.path.exists(PROMTOOL), "promtool is needed to check the exposition")
        promtool_check(body)
        for fam in ("unit", "user", "slice", "process"):
            name = "jouled_%s_energy_with_idle_joules_total" % fam
            check("# HELP %s " % name in body and "# TYPE %s counter" % name in body, "%s lacks HELP/TYPE" % name)
        s = parse_samples(body)
        # The model states its own idle power: method source, band 0.
        idle_w = [v for k, v in s.items() if k.startswith('jouled_domain_idle_power_watts{domain="package-0",'
                                                             'source="model",method="source"}')]
        band = [v for k, v in s.items() if k.startswith('jouled_domain_idle_power_band_watts{domain="package-0",'
                                                           'source="model",method="source"}')]
        check(len(idle_w) == 1 and idle_w[0] > 0 and band == [0.0], "idle gauges: %r %r\n%s" % (idle_w, band, body))
        idle_j = sum(v for k, v in s.items() if k.startswith("jouled_domain_idle_joules_total{domain=\"package-0\""))
        for fam, label in (("unit", "unit"), ("user", "user")):
            dyn = {k.split("{", 1)[1]: v for k, v in s.items() if k.startswith("jouled_%s_energy_joules_total{" % fam)}
            wi = {k.split("{", 1)[1]: v for k, v in s.items()
                  if k.startswith("jouled_%s_energy_with_idle_joules_total{" % fam)}
            check(dyn and sorted(dyn) == sorted(wi), "%s: the two families' series differ: %r %r" % (fam, dyn, wi))
            check(all(wi[k] >= dyn[k] for k in dyn), "%s: with idle below dynamic: %r %r" % (fam, dyn, wi))
            extra = sum(wi.values()) - sum(dyn.values())
            # Every process is in some unit and some user: the shares add up to
            # the idle energy of intervals where processes ran (at most all of it).
            check(0 < extra <= idle_j * (1 + 1e-9) + 1e-9, "%s: idle shares %r, idle %r" % (fam, extra, idle_j))
        procs = {k.split("{", 1)[1]: v for k, v in s.items() if k.startswith("jouled_process_energy_joules_total{")}
        wi = {k.split("{", 1)[1]: v for k, v in s.items()
              if k.startswith("jouled_process_energy_with_idle_joules_total{")}
        check(procs and sorted(procs) == sorted(wi) and all(wi[k] >= procs[k] for k in procs), "processes with idle")
        check(d.stop() == 0, "jouled did not exit 0")


def test_bad_listen_address_refused():
    with jtest.TempDir() as tmp:
        r = subprocess.run([jtest.JOULED, "--db", os.path.join(tmp, "j.db"), "--metrics-listen", "localhost:99999"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "--metrics-listen" in r.stderr, "rc %d: %s" % (r.returncode, r.stderr))


def test_prometheus_scrapes_jouled():
    if not os.path.exists(PROMETHEUS):
        print("SKIP: prometheus not installed")
        sys.exit(jtest.SKIP)
    port, pport = free_port(), free_port()
    with jtest.TempDir() as tmp, jtest.Daemon(tmp, ["--source", "model", "--interval", "0.5",
                                                   "--metrics-listen", "127.0.0.1:%d" % port]) as d:
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: jouled\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % port)
        plog = open(os.path.join(tmp, "prometheus.log"), "w")
        prom = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                                 "--web.listen-address=127.0.0.1:%d" % pport],
                                stdout=plog, stderr=subprocess.STDOUT)
        try:
            d.wait_intervals(2)
            wait_http("http://127.0.0.1:%d/-/ready" % pport, timeout=60, proc=prom)
            url = "http://127.0.0.1:%d/api/v1/query?query=jouled_process_energy_joules_total" % pport
            result = []
            end = time.monotonic() + 60
            while time.monotonic() < end and not result:
                _, _, body = get(url)
                data = json.loads(body)
                check(data.get("status") == "success", "query failed: %s" % body[:300])
                result = data["data"]["result"]
                if not result:
                    time.sleep(0.5)
            check(result, "Prometheus has no jouled_process_energy_joules_total after 60s")
            m = result[0]["metric"]
            check(m.get("job") == "jouled" and m.get("estimated") == "true" and "pid" in m and "comm" in m,
                  "labels: %s" % m)
            up = json.loads(get("http://127.0.0.1:%d/api/v1/query?query=up" % pport)[2])["data"]["result"]
            check(up and up[0]["value"][1] == "1", "up: %s" % up)
        finally:
            prom.terminate()
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
            plog.close()
        check(d.stop() == 0, "jouled did not exit 0")


def cgroup2_root():
    """The cgroup v2 hierarchy: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


class HostileWorkload:
    """Busy processes named with invalid UTF-8 (\xff\xfe), UTF-8 cut by the
    kernel at 15 bytes ("ääääääää" is 16), a terminal escape, and one in a
    cgroup whose directory name holds an invalid byte. Everything is stopped
    and removed by its own PID and path."""

    COMMS = [b"\xff\xfe", "ääääääää".encode(), b"\x1b[31mred\x7f"]

    def __init__(self, tmp, seconds=60):
        self.procs = []
        self.cg_parent = self.cg_leaf = None
        root = cgroup2_root()
        if root:
            self.cg_parent = os.path.join(root, "jouled-test-%d.slice" % os.getpid()).encode()
            self.cg_leaf = os.path.join(self.cg_parent, b"bad\xffcg-%d.scope" % os.getpid())
            os.mkdir(self.cg_parent)
            os.mkdir(self.cg_leaf)
        ms = str(seconds * 1000)
        # Named by prctl(PR_SET_NAME) in the burner's child ...
        for comm in self.COMMS:
            self.procs.append(subprocess.Popen([jtest.BURNER, comm, "1", ms], start_new_session=True,
                                               stdout=subprocess.DEVNULL))
        # ... by exec'ing a symlink of that name ...
        link = os.path.join(tmp.encode(), b"\xfe\xff-link")
        os.symlink(b"/bin/sh", link)
        self.procs.append(subprocess.Popen([link, "-c", "while :; do :; done"], start_new_session=True))
        # ... and one in the cgroup with the invalid byte.
        if self.cg_leaf:
            procs_file = os.path.join(self.cg_leaf, b"cgroup.procs")

            def enter():
                with open(procs_file, "w") as f:
                    f.write("0")
            self.procs.append(subprocess.Popen([jtest.BURNER, "cgburn", "1", ms], start_new_session=True,
                                               stdout=subprocess.DEVNULL, preexec_fn=enter))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)   # the burner and its child: our own session
            p.wait()
        for d in (self.cg_leaf, self.cg_parent):
            if not d:
                continue
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def test_hostile_names_keep_target_up():
    if not os.path.exists(PROMETHEUS):
        print("SKIP: prometheus not installed")
        sys.exit(jtest.SKIP)
    port, pport = free_port(), free_port()
    with jtest.TempDir() as tmp:
        work = HostileWorkload(tmp)
        try:
            with jtest.Daemon(tmp, ["--source", "model", "--interval", "0.5", "--metrics-listen", "127.0.0.1:%d" % port,
                                    "--metrics-textfile", tmp]) as d:
                cfg = os.path.join(tmp, "prometheus.yml")
                with open(cfg, "w") as f:
                    f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                            "scrape_configs:\n  - job_name: jouled\n    static_configs:\n"
                            "      - targets: ['127.0.0.1:%d']\n" % port)
                plog = open(os.path.join(tmp, "prometheus.log"), "w")
                prom = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                                         "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                                         "--web.listen-address=127.0.0.1:%d" % pport],
                                        stdout=plog, stderr=subprocess.STDOUT)
                try:
                    d.wait_intervals(2)
                    wait_http("http://127.0.0.1:%d/-/ready" % pport, timeout=60, proc=prom)
                    want_comms = {"\ufffd\ufffd", "ä" * 7 + "\ufffd", "\x1b[31mred\x7f", "\ufffd\ufffd-link"}
                    want_unit = "bad\ufffdcg-%d.scope" % os.getpid()

                    def series(q):
                        body = get("http://127.0.0.1:%d/api/v1/query?query=%s" % (pport, q))[2]
                        return [r["metric"] for r in json.loads(body)["data"]["result"]]

                    end = time.monotonic() + 60
                    comms = units = set()
                    while time.monotonic() < end:
                        comms = {m.get("comm") for m in series("jouled_process_energy_joules_total")}
                        units = {m.get("unit") for m in series("jouled_unit_energy_joules_total")}
                        if want_comms <= comms and (not work.cg_leaf or want_unit in units):
                            break
                        time.sleep(0.5)
                    # The kernel keeps 15 bytes: seven ä and the first byte of the eighth.
                    check({"\ufffd\ufffd", "ä" * 7 + "\ufffd", "\x1b[31mred\x7f"} <= comms,
                          "hostile comms not in Prometheus: %r" % comms)
                    check("\ufffd\ufffd-link" in comms, "symlink-exec comm not in Prometheus: %r" % comms)
                    if work.cg_leaf:
                        check(want_unit in units, "cgroup with an invalid byte not in Prometheus: %r" % units)
                        slices = {m.get("slice") for m in series("jouled_slice_energy_joules_total")}
                        check("jouled-test-%d.slice" % os.getpid() in slices, "no slice series: %r" % slices)
                    targets = json.loads(get("http://127.0.0.1:%d/api/v1/targets" % pport)[2])["data"]["activeTargets"]
                    check(targets and all(t["health"] == "up" and not t["lastError"] for t in targets),
                          "target not up: %s" % targets)
                    up = json.loads(get("http://127.0.0.1:%d/api/v1/query?query=up" % pport)[2])["data"]["result"]
                    check(up and up[0]["value"][1] == "1", "up: %s" % up)
                    _, _, body = get("http://127.0.0.1:%d/metrics" % port)
                    promtool_check(body)
                    with open(os.path.join(tmp, "jouled.prom"), "rb") as f:
                        prom_text = f.read()
                    prom_text.decode("utf-8")   # strict: raises on invalid UTF-8
                    promtool_check(prom_text.decode())
                finally:
                    prom.terminate()
                    try:
                        prom.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        prom.kill()
                        prom.wait()
                    plog.close()
                check(d.stop() == 0, "jouled did not exit 0")
        finally:
            work.stop()


def test_metrics_config_keys():
    port = free_port()
    with jtest.TempDir() as tmp:
        conf = os.path.join(tmp, "jouled.conf")
        with open(conf, "w") as f:
            f.write("[Metrics]\nMaxSeries=150\nSeriesIdleTimeout=2min\nTopProcesses=3\n")
        with jtest.Daemon(tmp, ["--config", conf, "--source", "model", "--interval", "0.3",
                                "--metrics-listen", "127.0.0.1:%d" % port]) as d:
            d.wait_intervals(3)
            _, _, body = wait_http("http://127.0.0.1:%d/metrics" % port, proc=d.proc)
            check("\njouled_metrics_max_series 150\n" in body, "MaxSeries=150 not applied")
            n = sum(1 for l in body.splitlines() if l and not l.startswith("#"))
            check(n <= 150, "%d series over MaxSeries=150" % n)
            for name in ("jouled_host_energy_joules_total{domains=\"package-0\"", "jouled_write_errors_total ",
                         "jouled_intervals_buffered ", "jouled_intervals_dropped_total ",
                         "jouled_counters_discarded_total ", "jouled_last_sample_timestamp_seconds ",
                         "jouled_self_cpu_seconds_total ", "jouled_self_resident_memory_bytes ",
                         'source="model"', "model_min_watts_per_cpu=",
                         'idle_policy="separate"'):
                check(name in body, "%s missing from /metrics" % name)
            promtool_check(body)
            check(d.stop() == 0, "jouled did not exit 0")
        for bad in ("MaxSeries=5", "MaxSeries=x", "SeriesIdleTimeout=0", "SeriesIdleTimeout=soon"):
            with open(conf, "w") as f:
                f.write("[Metrics]\n%s\n" % bad)
            r = subprocess.run([jtest.JOULED, "--config", conf, "--db", os.path.join(tmp, "x.db")],
                               capture_output=True, text=True, timeout=30)
            check(r.returncode == 1 and "jouled.conf:2:" in r.stderr, "%s: rc %d: %s" % (bad, r.returncode, r.stderr))


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_metrics_endpoint_and_textfile, test_with_idle_and_idle_estimate_series,
                     test_bad_listen_address_refused, test_prometheus_scrapes_jouled,
                     test_hostile_names_keep_target_up, test_metrics_config_keys])
