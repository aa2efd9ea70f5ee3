# SPDX-License-Identifier: GPL-2.0-or-later
"""/metrics stays up: slow clients hold only their own share of connections,
and malformed requests write a bounded number of log lines."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port, source="127.0.0.2", timeout=3):
    """GET /metrics from another loopback address (another client, as a
    Prometheus server is to an attacker). Returns the status line and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def wait_up(port, d):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if d.proc.poll() is not None:
            raise jtest.Failure("jouled exited: %s" % d.read_log())
        try:
            status, body = scrape(port)
            if status.endswith("200 OK") and b"jouled_intervals_total" in body:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise jtest.Failure("/metrics did not answer: %s" % d.read_log())


class SlowClients:
    """n connections to 127.0.0.1 that each send a request one header line a second."""

    def __init__(self, port, n):
        self.port, self.n = port, n
        self.stop_ev = threading.Event()
        self.socks = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        for _ in range(self.n):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=2, source_address=("127.0.0.1", 0))
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                self.socks.append(s)
            except OSError:
                pass
        i = 0
        while not self.stop_ev.wait(1.0):
            for s in list(self.socks):
                try:
                    s.sendall(b"X-Slow-%d: %d\r\n" % (i, i))
                except OSError:
                    self.socks.remove(s)
                    s.close()
            i += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def test_slow_connections_do_not_stop_scrapes():
    port = free_port()
    with jtest.TempDir() as tmp, jtest.Daemon(tmp, ["--source", "model", "--interval", "0.5",
                                                   "--metrics-listen", "127.0.0.1:%d" % port]) as d:
        wait_up(port, d)
        with SlowClients(port, 32):
            time.sleep(2)   # all 32 connected (or refused) and trickling
            ok = 0
            for _ in range(5):
                status, body = scrape(port)
                check(status.endswith("200 OK") and b"jouled_intervals_total" in body,
                      "scrape during 32 slow connections: %r" % status)
                ok += 1
                time.sleep(1)
            check(ok == 5, "only %d of 5 scrapes worked" % ok)
        check(d.stop() == 0, "jouled did not exit 0")


def test_malformed_requests_bounded_log():
    port = free_port()
    with jtest.TempDir() as tmp, jtest.Daemon(tmp, ["--source", "model", "--interval", "0.5",
                                                   "--metrics-listen", "127.0.0.1:%d" % port]) as d:
        wait_up(port, d)
        before = len(d.read_log().splitlines())
        bad = [b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"GET /metrics HTTP/9.9\r\n\r\n",
               b"GET / HTTP/1.1\r\nX: " + b"\x1b" * 20000 + b"\r\n\r\n", b"GET /\x1b[2J HTTP/1.1\r\n\r\n"]
        for i in range(1000):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(bad[i % len(bad)])
                    s.recv(4096)
            except OSError:
                pass
        status, _ = scrape(port)
        check(status.endswith("200 OK"), "scrape after 1,000 malformed requests: %r" % status)
        log = d.read_log().splitlines()[before:]
        http = [l for l in log if "Metrics HTTP server" in l]
        # At most METRICS_LOG_BURST (10) a minute, plus a "suppressed" line per minute.
        check(len(http) <= 12, "%d HTTP log lines for 1,000 malformed requests:\n%s" % (len(http), "\n".join(http[:20])))
        check(len(log) <= 30, "%d log lines for 1,000 malformed requests" % len(log))
        check(not any("\x1b" in l for l in log), "a raw escape byte reached the log")
        check(d.stop() == 0, "jouled did not exit 0")
        log = d.read_log()
        check("messages suppressed" in log or len(http) < 10, "no line says how many were suppressed")


if __name__ == "__main__":
    jtest.require_root()
    jtest.run_tests([test_slow_connections_do_not_stop_scrapes, test_malformed_requests_bounded_log])
