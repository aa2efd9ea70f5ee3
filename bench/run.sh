#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# jouled's benchmarks against the monitors users would pick instead, in one run.
#
#   bench/run.sh [--quick] [--output FILE] [--only 1,2,3,4,5,switch]     (as root)
#
# Installs the peers with apt-get if missing (sysstat, atop, powertop,
# bpftrace, stress-ng), builds jouled (meson, in $BUILD or build-bench, or an
# existing build directory), compiles the helper programs, runs every
# scenario and writes markdown to FILE (default bench/RESULTS.md).
# With JOULED and JOULECTL set in the environment, uses those binaries and
# builds nothing. --quick: tiny sizes and durations (about 2 minutes), for
# the smoke test; its numbers are not results.
set -euo pipefail
BENCH=$(dirname "$(readlink -f "$0")")
ROOT=$(dirname "$BENCH")

QUICK=()
ONLY=()
OUTPUT=$BENCH/RESULTS.md
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=(--quick) ;;
    --output) [ $# -ge 2 ] || { echo "bench: --output needs a FILE" >&2; exit 2; }; OUTPUT=$2; shift ;;
    --output=*) OUTPUT=${1#--output=} ;;
    --only) [ $# -ge 2 ] || { echo "bench: --only needs a list (1,2,3,4,5,switch)" >&2; exit 2; }; ONLY=(--only "$2"); shift ;;
    --only=*) ONLY=(--only "${1#--only=}") ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument '$1' (accepted: --quick, --output FILE, --only LIST)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$(id -u)" -ne 0 ]; then
    echo "bench: must run as root (BPF, process accounting, kernel.bpf_stats_enabled)" >&2
    exit 1
fi

PEERS=(sysstat atop powertop bpftrace stress-ng)
NEED=(python3 gcc bpftool)
missing=()
for p in "${PEERS[@]}" "${NEED[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "${JOULED:-}" ] || [ -z "${JOULECTL:-}" ]; then
    BUILD=${BUILD:-$ROOT/build-bench}
    if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$ROOT" >/dev/null
    fi
    if ! meson compile -C "$BUILD" >"$BUILD/bench-build.log" 2>&1; then
        grep -E "error|FAILED" "$BUILD/bench-build.log" | head -20 >&2
        echo "bench: building jouled in $BUILD failed (log: $BUILD/bench-build.log)" >&2
        exit 1
    fi
    JOULED=$BUILD/daemon/jouled
    JOULECTL=$BUILD/cli/joulectl
fi
for b in "$JOULED" "$JOULECTL"; do
    [ -x "$b" ] || { echo "bench: $b is not an executable" >&2; exit 1; }
done

HELPERS=$(mktemp -d -t jouled-bench-helpers-XXXXXX)   # in $TMPDIR, like the run's own temporary directory
trap 'rm -rf "$HELPERS"' EXIT
cc -O2 -Wall -o "$HELPERS/spawn-idle" "$BENCH/spawn-idle.c"
cc -O2 -Wall -o "$HELPERS/shortlived" "$BENCH/shortlived.c"
ln -s shortlived "$HELPERS/jb-short"
# Scenario 5's storm, static: a smaller process forks faster. Its comm is its link's name.
cc -O2 -Wall -static -o "$HELPERS/storm" "$BENCH/storm.c" 2>/dev/null || cc -O2 -Wall -o "$HELPERS/storm" "$BENCH/storm.c"
ln -s storm "$HELPERS/jb-storm"
ln -s storm "$HELPERS/jb-storm-max"

python3 "$BENCH/bench.py" "${QUICK[@]}" "${ONLY[@]}" --output "$OUTPUT" \
    --jouled "$JOULED" --joulectl "$JOULECTL" --helpers "$HELPERS"
