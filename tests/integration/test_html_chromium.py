# SPDX-License-Identifier: GPL-2.0-or-later
"""joulectl report --html renders in headless Chromium.

Takes a screenshot of the report of a synthetic database and checks that it
is not blank: the PNG (decoded with zlib, stdlib only) must have many
distinct colours, including the charts' palette. Skips (77) without chromium.

Then a steady 7 W load whose older half exists only as minute rollups
(make-db --steady --prune-raw), the rest as raw 2 s intervals beside minute
rollups: the host line (its data-watts) stays within 10% of the mean at
every point, idle is drawn as its own band, and shares are over attributed
energy. $JOULED_SCREENSHOT_DIR, when set, keeps the screenshots to look at.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jtest  # noqa: E402
from jtest import check  # noqa: E402

MAKE_DB = os.environ.get("MAKE_DB", "build/tests/make-db")


def png_pixels(path):
    """Decode an 8-bit RGB/RGBA non-interlaced PNG into a list of (r, g, b)."""
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = hdr
    check(depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format %r" % (hdr,))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    pixels = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp):
            pixels.append((line[x], line[x + 1], line[x + 2]))
        prev = line
    return w, h, pixels


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def screenshot(chromium, d, html, shot, size="1200,900"):
    r = subprocess.run([chromium] + CHROMIUM_FLAGS + ["--user-data-dir=" + os.path.join(d, "profile"),
                        "--screenshot=" + shot, "--window-size=" + size, "file://" + html],
                       capture_output=True, text=True, timeout=120)
    check(os.path.exists(shot), "chromium made no screenshot (%d): %s" % (r.returncode, r.stderr[-500:]))
    keep = os.environ.get("JOULED_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, os.path.join(keep, os.path.basename(shot)))
    return png_pixels(shot)


def test_html_steady_across_rollups():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with jtest.TempDir() as d:
        db = os.path.join(d, "jouled.db")
        r = subprocess.run([MAKE_DB, db, "--steady", "--prune-raw"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "make-db: %s" % r.stderr)
        html = os.path.join(d, "steady.html")
        jtest.joulectl("report", "--html", html, db=db)
        text = open(html).read()
        m = re.search(r'class="host"[^>]*data-watts="([^"]*)"', text)
        check(m, "no host line with data-watts")
        watts = [float(x) for x in m.group(1).split()]
        mean = sum(watts) / len(watts)
        check(abs(mean - 7.0) < 0.35, "mean host power %.3f W, wanted 7 W" % mean)
        bad = [(i, w) for i, w in enumerate(watts) if abs(w - mean) > 0.1 * mean]
        check(not bad, "host line leaves 10%% of the mean %.3f W at %d of %d points: %r"
              % (mean, len(bad), len(watts), bad[:10]))
        check("idle (" in text and "#d0d0d0" in text, "idle is not drawn as its own band")
        check("Share of attributed energy" in text, "shares not labelled as over attributed energy")
        # One process: its share of attributed energy is 100%, not 4/14 of the host's.
        check("100.0%" in text, "share not computed over attributed energy")
        w, h, px = screenshot(chromium, d, html, os.path.join(d, "steady.png"))
        # #d0d0d0 at 85% over white.
        grey = sum(1 for p in px if abs(p[0] - 0xd7) < 6 and abs(p[1] - 0xd7) < 6 and abs(p[2] - 0xd7) < 6)
        check(grey > 20000, "the idle band is not drawn (%d pixels)" % grey)


def test_html_renders():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with jtest.TempDir() as d:
        db = os.path.join(d, "jouled.db")
        r = subprocess.run([MAKE_DB, db], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "make-db: %s" % r.stderr)
        html = os.path.join(d, "report.html")
        jtest.joulectl("report", "--html", html, db=db)
        w, h, px = screenshot(chromium, d, html, os.path.join(d, "shot.png"))
        check((w, h) == (1200, 900), "screenshot size %dx%d" % (w, h))
        colours = set(px)
        check(len(colours) >= 50, "screenshot nearly blank: %d distinct colours" % len(colours))
        # The first series' colour (#1f77b4) and the bars must be drawn: many such pixels.
        blue = sum(1 for p in px if abs(p[0] - 0x1f) < 12 and abs(p[1] - 0x77) < 12 and abs(p[2] - 0xb4) < 12)
        check(blue > 2000, "the charts are not drawn (only %d pixels of the first series' colour)" % blue)


def test_html_two_views():
    """The table shows the energy with idle share beside the dynamic energy,
    and the summary the idle figure with its band and method: in the DOM
    Chromium renders, and on a screenshot of the whole page."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with jtest.TempDir() as d:
        db = os.path.join(d, "jouled.db")
        r = subprocess.run([MAKE_DB, db, "--steady"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "make-db: %s" % r.stderr)
        html = os.path.join(d, "two.html")
        jtest.joulectl("report", "--html", html, db=db)
        r = subprocess.run([chromium] + CHROMIUM_FLAGS + ["--user-data-dir=" + os.path.join(d, "profile"),
                           "--dump-dom", "file://" + html], capture_output=True, text=True, timeout=120)
        dom = r.stdout
        check("<th class=\"n\">Energy with idle (J)</th>" in dom, "rendered table lacks the with-idle column")
        # steady.service: 1.2 kJ dynamic, 3.9 kJ with its share of idle.
        check(re.search(r'<td class="n">1200</td><td class="n with-idle">3900</td>', dom),
              "the with-idle cell beside the dynamic one: %s" % re.findall(r"<tr>.*?</tr>", dom)[-1:])
        check(re.search(r'<tr class="idle"><td>Idle</td><td>[0-9.]+ \u00b1 [0-9.]+ kJ \(package-0 4\.50 \u00b1 0\.50 W '
                        r'<span class="idle-method">regression</span>\)', dom), "rendered idle row")
        check("idle (estimate: package-0 regression)" in dom, "the chart's idle legend lacks the method")
        w, h, px = screenshot(chromium, d, html, os.path.join(d, "two-views.png"), size="1200,1500")
        check((w, h) == (1200, 1500), "screenshot size %dx%d" % (w, h))
        check(len(set(px)) >= 50, "screenshot nearly blank")


if __name__ == "__main__":
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        print("SKIP: chromium not installed")
        sys.exit(jtest.SKIP)
    jtest.run_tests([test_html_renders, test_html_steady_across_rollups, test_html_two_views])
