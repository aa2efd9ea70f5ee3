#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Storage benchmark. Prints a markdown results table on stdout.
#   bench/storage/run.sh          28 history days + 48 h at 1 s (24 h raw window), 200 processes (~10 min)
#   bench/storage/run.sh --quick  5 history days + 4 h at 1 s (1 h raw window): a smoke run (~1 min)
#   PROFILE=build-host bench/storage/run.sh [--quick]
#                                 the same, plus 1,000 short processes a minute (varied comms, 4 units)
# BUILD=dir picks the meson build directory (default: build). KEEP_DB=path
# keeps the database there (for EXPLAIN QUERY PLAN and the like).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
BUILD=${BUILD:-build}
if [ "${1:-}" = "--quick" ]; then
    HIST=5; FULL=4; RAW=1; MODE=quick
else
    HIST=28; FULL=48; RAW=24; MODE=full
fi
PROCS=${PROCS:-200}
PROFILE=${PROFILE:-long-lived}
case "$PROFILE" in
    long-lived) SHORT=0; GROWTH_MAX=34; TITLE="$PROCS long-lived processes" ;;
    build-host) SHORT=${SHORT:-1000}; GROWTH_MAX=60; TITLE="build host: $PROCS long-lived processes + ${SHORT:-1000} short ones a minute" ;;
    *) echo "PROFILE: long-lived or build-host" >&2; exit 2 ;;
esac
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
meson compile -C "$BUILD" bench-storage joulectl >/dev/null
tmp=$(mktemp -d /tmp/bench-storage-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
db=${KEEP_DB:-$tmp/jouled.db}
"$BUILD/bench/storage/bench-storage" "$db" "$HIST" "$FULL" "$RAW" "$PROCS" "$SHORT" > "$tmp/out"
get() { sed -n "s/^$1=//p" "$tmp/out"; }
days=$(( HIST + FULL / 24 ))
[ "$days" -ge 1 ] || days=1
# The real joulectl, warm cache, best and median of 5.
timed() {
    local times=() s e
    for i in 1 2 3 4 5; do
        s=$(date +%s%N)
        "$BUILD/cli/joulectl" --db "$db" report --since "${days}d" "$@" >/dev/null
        e=$(date +%s%N)
        times+=($(( (e - s) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' '
}
sorted=($(timed))
bycomm=($(timed --by comm))
ok() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v + 0 <= lim + 0) ? "yes" : "**no**" }'; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<MD
### Storage ($MODE run, $TITLE, 1 s interval, $(get history_days) days of history + $(get full_rate_hours) h at full rate, raw kept $(get raw_retention_hours) h)

| Measure | Result | Target | Met |
|---|---|---|---|
| Interval write p50 / p99 / p99.9 / max | $(get write_p50_ms) / $(get write_p99_ms) / $(get write_p999_ms) / $(get write_max_ms) ms | < 5 ms | $(ok "$(get write_p99_ms)" 5) (p99) |
| Growth per day, steady state (pages in use) | $(get growth_mb_per_day) MB | <= $GROWTH_MAX MB | $(ok "$(get growth_mb_per_day)" $GROWTH_MAX) |
| \`joulectl report --since ${days}d\` (median / best of 5) | ${sorted[2]} / ${sorted[0]} ms | < 200 ms | $(ok "${sorted[2]}" 200) |
| \`joulectl report --by comm --since ${days}d\` (median / best of 5) | ${bycomm[2]} / ${bycomm[0]} ms | < 200 ms | $(ok "${bycomm[2]}" 200) |
| Maintenance per call (mean / max, budget 20 ms) | $(get maintain_mean_ms) / $(get maintain_max_ms) ms | | |
| Maintenance per call at full rate (p50 / p99) | $(get maintain_full_p50_ms) / $(get maintain_full_p99_ms) ms | <= 20 ms + one step | $(ok "$(get maintain_full_p99_ms)" 30) (p99) |
| Database file / in use at the end ($days days) | $(awk -v b="$(get db_bytes)" 'BEGIN { printf "%.1f", b / 1e6 }') / $(awk -v b="$(get used_bytes)" 'BEGIN { printf "%.1f", b / 1e6 }') MB | <= 1000 MB | $(ok "$(awk -v b="$(get db_bytes)" 'BEGIN { printf "%.1f", b / 1e6 }')" 1000) |
| \`-wal\` at most while writing at full rate / at the end | $(awk -v b="$(get wal_max_bytes)" 'BEGIN { printf "%.1f", b / 1e6 }') / $(awk -v b="$(get wal_end_bytes)" 'BEGIN { printf "%.1f", b / 1e6 }') MB | <= 8 MB | $(ok "$(awk -v b="$(get wal_max_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')" 8) |

Writes measured: $(get writes_measured) (full-rate part). Host: $(nproc) CPUs, $(uname -r), load average $load at the end.
MD
