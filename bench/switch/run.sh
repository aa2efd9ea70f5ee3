#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cost of jouled on the context-switch path, as root:
#   bench/switch/run.sh [--quick] [BUILD_DIR]
# stress-ng --switch bogo ops/s with no monitor, with jouled as it runs by
# default (TrackerAccounting=auto: it leaves per-switch counting when
# switches are this frequent), with each way of reading CPU time pinned
# (--tracker-accounting iterator, per-switch), and with the package-split
# switch program forced on (topology override: CPU 0 and CPU 1 as two
# packages); then the BPF programs' own cost per run from bpf_stats, per
# configuration (kernel.bpf_stats_enabled is restored afterwards). Prints
# markdown.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."

SECS=10
if [ "${1:-}" = "--quick" ]; then SECS=3; shift; fi
BUILD=${1:-build}
JOULED=$BUILD/daemon/jouled
[ -x "$JOULED" ] || { echo "run.sh: $JOULED not built (meson compile -C $BUILD)" >&2; exit 1; }
command -v stress-ng >/dev/null || { echo "run.sh: stress-ng missing (apt-get install stress-ng)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (BPF)" >&2; exit 1; }

TMP=$(mktemp -d)
JPID=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
    [ -n "$JPID" ] && kill "$JPID" 2>/dev/null && wait "$JPID" 2>/dev/null || true
    sysctl -q -w kernel.bpf_stats_enabled="$OLD_STATS" || true
    rm -rf "$TMP"
}
trap cleanup EXIT

bogo() {  # bogo ops/s (real time) of the switch stressor
    stress-ng --switch 2 -t "$SECS" --metrics-brief 2>&1 |
        awk '/metrc:/ && $4 == "switch" && $5 ~ /^[0-9]+$/ { v = $(NF-1) } END { print v }'
}

start_jouled() {  # $1: topology override or ""; then extra jouled arguments
    local topo=$1
    shift
    if [ -n "$topo" ]; then
        JOULED_TOPOLOGY=$topo "$JOULED" --db "$TMP/j.db" --source model --interval 1 "$@" >"$TMP/log" 2>&1 &
    else
        "$JOULED" --db "$TMP/j.db" --source model --interval 1 "$@" >"$TMP/log" 2>&1 &
    fi
    JPID=$!
    sleep 2
    kill -0 "$JPID" || { echo "run.sh: jouled failed: $(cat "$TMP/log")" >&2; exit 1; }
}

stop_jouled() {
    kill "$JPID"; wait "$JPID" || true; JPID=
    rm -f "$TMP"/j.db*
}

prog_stats() {  # name run_cnt run_time_ns of tracker programs loaded since $BEFORE (ours)
    bpftool prog show 2>/dev/null | awk -v before=" $BEFORE " '
        /^[0-9]+:/ { id = $1; name = ""; c = 0; t = 0
                     for (i = 1; i <= NF; i++) { if ($i == "name") name = $(i+1); if ($i == "run_time_ns") t = $(i+1); if ($i == "run_cnt") c = $(i+1) }
                     if (name ~ /^tracker_/ && index(before, " " id " ") == 0) print name, c, t }'
}

sysctl -q -w kernel.bpf_stats_enabled=1
run_config() {  # label, topology, jouled arguments...: one row, and its programs' costs
    local label=$1 topo=$2 v
    shift 2
    BEFORE=$(bpftool prog show 2>/dev/null | awk '/^[0-9]+:/ { printf "%s ", $1 }')
    start_jouled "$topo" "$@"
    v=$(bogo)
    prog_stats | sed "s|^|$label\t|" >>"$TMP/stats"
    stop_jouled
    printf '%s\t%s\n' "$label" "$v" >>"$TMP/rows"
}
: >"$TMP/stats"
: >"$TMP/rows"
base=$(bogo)
run_config "jouled, default (auto)" ""
run_config "jouled, task walk pinned (--tracker-accounting iterator)" "" --tracker-accounting iterator
run_config "jouled, per-switch counting pinned (--tracker-accounting per-switch)" "" --tracker-accounting per-switch
run_config "jouled, package-split switch program forced on (JOULED_TOPOLOGY=0:0,1:1)" "0:0,1:1" --tracker-accounting iterator

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", (a - b) * 100 / b; else print "n/a" }'; }
echo "### Context-switch cost (stress-ng --switch 2, ${SECS}s, $(nproc) CPUs, $(uname -r))"
echo
echo "| configuration | bogo ops/s | vs no monitor |"
echo "|---|---:|---:|"
echo "| no monitor | $base | |"
while IFS=$'\t' read -r label v; do
    echo "| $label | $v | $(pct "$v" "$base") |"
done <"$TMP/rows"
echo
echo "| configuration | BPF program | runs | ns per run |"
echo "|---|---|---:|---:|"
while IFS=$'\t' read -r label rest; do
    read -r name cnt ns <<<"$rest"
    [ -n "$name" ] || continue
    awk -v l="$label" -v n="$name" -v c="$cnt" -v t="$ns" 'BEGIN { printf "| %s | %s | %d | %s |\n", l, n, c, (c > 0 ? sprintf("%.0f", t / c) : "n/a") }'
done <"$TMP/stats"
