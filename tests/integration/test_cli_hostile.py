# SPDX-License-Identifier: GPL-2.0-or-later
"""Every byte safe in joulectl's outputs, whatever a process is named.

Names any user can choose: invalid UTF-8 (\\xff\\xfe), UTF-8 cut by the kernel
mid-character at 15 bytes, an ESC sequence, a BEL, a newline, a spreadsheet
formula. First in a synthetic database (make-db --hostile), then (as root)
from real processes named with prctl() (burner) and by exec of a symlink, as a
running jouled records them.

  - JSON (report --json, export --format json, status --json) is valid UTF-8
    and parses with a strict parser (the bytes decoded as strict UTF-8);
  - no raw control byte reaches the terminal from any verb: report (table and
    CSV), top --once, status, export csv (only \\n, and \\r\\n ending CSV lines);
  - CSV fields that begin with = + - @ are guarded with a leading ';
  - table columns are aligned by display width.
"""
import csv
import io
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

MAKE_DB = os.environ.get("MAKE_DB", "build/tests/make-db")

HOSTILE_COMMS = (b"\x1b[31mred\nx", b"\xff\xfebad", "ääääääää".encode()[:15])


def run_raw(db, *args):
    cmd = [jtest.JOULECTL, "--db", db] + list(args)
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    check(r.returncode == 0, "%s exited %d: %r" % (" ".join(args), r.returncode, r.stderr[-300:]))
    return r.stdout


def strict_json(db, *args):
    out = run_raw(db, *args)
    try:
        text = out.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise jtest.Failure("joulectl %s printed invalid UTF-8: %s" % (" ".join(args), e))
    try:
        return json.loads(text)
    except ValueError as e:
        raise jtest.Failure("joulectl %s printed invalid JSON: %s" % (" ".join(args), e))


def check_terminal_safe(out, what, crlf=False):
    """No C0 control byte but \\n (and \\r before \\n in CSV), no DEL, no C1."""
    data = out.replace(b"\r\n", b"\n") if crlf else out
    bad = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
    check(not bad, "%s: raw control bytes %r in %r" % (what, sorted(set(bad)), out[:400]))
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise jtest.Failure("%s: invalid UTF-8 reaches the terminal: %s" % (what, e))
    c1 = [c for c in text if 0x80 <= ord(c) < 0xa0]
    check(not c1, "%s: C1 control characters %r" % (what, c1))
    return text


def check_csv_guarded(text, what):
    for row in csv.reader(io.StringIO(text)):
        for field in row:
            check(not (field[:1] in ("=", "+", "-", "@") and field != "-" and not is_number(field)),
                  "%s: unguarded formula field %r" % (what, field))


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def test_synthetic_hostile_names():
    with jtest.TempDir() as d:
        db = os.path.join(d, "jouled.db")
        r = subprocess.run([MAKE_DB, db, "--hostile"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "make-db: %s" % r.stderr)

        for by in ("process", "comm", "unit"):
            out = strict_json(db, "report", "--json", "--by", by)
            keys = [row["key"] for row in out["rows"]]
            check(len(out["rows"]) >= 6, "report --by %s lost rows: %r" % (by, keys))
        comms = {row["comm"] for row in strict_json(db, "report", "--json")["rows"]}
        check("\ufffd\ufffdbad" in comms, "invalid bytes not replaced by U+FFFD: %r" % comms)
        check("ä" * 7 + "\ufffd" in comms, "cut UTF-8 not replaced: %r" % comms)
        check("\x1b[31mred\nx" in comms, "the ESC name (JSON escapes it) lost: %r" % comms)
        records = strict_json(db, "export", "--format", "json")
        check(any(x["exe"] == "/tmp/\ufffd\ufffd" for x in records), "export exe not sanitised")
        strict_json(db, "status", "--json")

        for args in (["report"], ["report", "--by", "comm"], ["report", "--by", "unit"], ["top", "--once"],
                     ["status"]):
            text = check_terminal_safe(run_raw(db, *args), " ".join(args))
            if args == ["report"]:
                check("\\e[31mred\\nx" in text and "\\xff\\xfebad" in text,
                      "names not escaped visibly (as ps does):\n" + text)
                # Aligned by display width: every process row as wide as the header.
                lines = text.splitlines()
                head = [l for l in lines if l.lstrip().startswith("PID")][0]
                rows = [l for l in lines if l.strip()[:1].isdigit()]
                check(len(rows) >= 7, "rows: %r" % rows)
                for l in rows:
                    check(len(l) == len(head), "row not aligned with the header (%d vs %d):\n%s\n%s"
                          % (len(l), len(head), head, l))
        for args in (["report", "--csv"], ["report", "--csv", "--by", "unit"], ["export", "--format", "csv"]):
            text = check_terminal_safe(run_raw(db, *args), " ".join(args), crlf=True)
            check_csv_guarded(text, " ".join(args))
            check("'=HYPERLINK" in text and "'+cmd|calc.scope" in text, "%s: formulas not guarded:\n%s"
                  % (" ".join(args), text[:2000]))


def test_arguments_echoed_safely():
    """A bad argument is named in the error, escaped: the terminal never gets
    the raw bytes back."""
    with jtest.TempDir() as d:
        db = os.path.join(d, "jouled.db")
        subprocess.run([MAKE_DB, db], check=True, timeout=60)
        for args in (["report", "--since", "\x1b[2J"], ["rep\x1bort"], ["report", "--every", "\x07"],
                     ["report", "--bogus\x1b"], ["export", "--format", "\x1b]0;x\x07"], ["top", "--sort", "\x9b"],
                     ["report", "extra\x1b"]):
            r = subprocess.run([jtest.JOULECTL, "--db", db] + args, capture_output=True, timeout=60)
            check(r.returncode == 2 and r.stderr.count(b"\n") == 1, "%r: %r" % (args, r.stderr))
            check_terminal_safe(r.stderr, "error for %r" % args)
        r = subprocess.run([jtest.JOULECTL, "--db", os.path.join(d, "no\x1b[2Jdb"), "status"], capture_output=True,
                           timeout=60)
        check(r.returncode == 1, "missing database: %r" % r.stderr)
        check_terminal_safe(r.stderr, "missing database error")


def test_real_processes_hostile_names():
    """As root: a running jouled records processes named by prctl() and by
    exec of a symlink; joulectl's outputs stay safe."""
    if os.geteuid() != 0:
        print("skip: not root")
        return
    with jtest.TempDir() as d, jtest.Daemon(d, ["--interval", "0.2", "--source", "model"]) as dm:
        dm.wait_intervals(2)
        for comm in HOSTILE_COMMS:
            subprocess.run([jtest.BURNER, comm, "2", "150"], capture_output=True, timeout=60)
        link = os.path.join(d.encode(), b"\x1b]0;pwn\x07\xe4\xb8\xad\xff\n")
        os.symlink(sys.executable, link)
        subprocess.run([link, "-c", "import time\nt=time.time()\nwhile time.time()-t<0.4: pass"], timeout=60)
        time.sleep(0.6)
        dm.wait_intervals(6)
        out = strict_json(dm.db, "report", "--json", "--by", "comm")
        keys = [row["key"] for row in out["rows"]]
        check(any("red" in k for k in keys) and any(k.startswith("\x1b]0;pwn") for k in keys),
              "the hostile processes were not recorded: %r" % keys)
        strict_json(dm.db, "export", "--format", "json")
        for args in (["report"], ["report", "--by", "comm"], ["top", "--once"], ["status"]):
            check_terminal_safe(run_raw(dm.db, *args), " ".join(args))
        for args in (["report", "--csv", "--by", "comm"], ["export", "--format", "csv"]):
            check_terminal_safe(run_raw(dm.db, *args), " ".join(args), crlf=True)
        dm.stop()


if __name__ == "__main__":
    if not os.path.exists(MAKE_DB) or not os.path.exists(jtest.JOULECTL):
        print("SKIP: %s or %s not built" % (MAKE_DB, jtest.JOULECTL))
        sys.exit(jtest.SKIP)
    jtest.run_tests([test_synthetic_hostile_names, test_arguments_echoed_safely, test_real_processes_hostile_names])
