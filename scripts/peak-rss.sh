#!/usr/bin/env bash
# Peak RSS of one full collection (`nbu-otel once`: a full walk into a new job store) against
# the simulator, per dataset size.
#
#   scripts/peak-rss.sh                      # 10,000, 100,000 and 1,000,000 jobs
#   scripts/peak-rss.sh 10000 100000         # any sizes; the first one is the reference
#
# Targets: at most 40 MB (40,000,000 bytes) of peak RSS up to 100,000 jobs in the window, at
# most 120 MB up to 1,000,000.
#
# For each size N it starts the simulator as its own process (`nbu-otel sim --jobs N`), then
# runs the agent as another process (`nbu-otel once --format json`) with a config whose window
# holds every simulated job (jobs_window 72h > the simulator's 48h of history; unfinished jobs
# are always collected), 100 jobs per page and 1000 requests/s. Only the agent process is
# measured: its peak RSS is the kernel's ru_maxrss, read by GNU time (`apt-get install -y time`)
# or, without it, VmHWM polled from /proc/<pid>/status. The simulator's own peak RSS is printed
# for information. The collection must report exactly N jobs, or the script fails.
#
# Environment:
#   NBU_OTEL_BIN  use this binary instead of building target/release/nbu-otel
#   KEEP_DIR=1    keep the work directory (configs, outputs) and print its path
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/sim-process.sh
. scripts/sim-process.sh
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)

bin=${NBU_OTEL_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet --bin nbu-otel
    bin=target/release/nbu-otel
fi
[ -x "$bin" ] || { echo "peak-rss: $bin is not executable" >&2; exit 2; }

gnu_time=""
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' true 2>/dev/null; then
    gnu_time=/usr/bin/time
fi

work=$(mktemp -d)
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    if [ "${KEEP_DIR:-0}" = 1 ]; then echo "work directory: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

mib() { awk -v k="$1" 'BEGIN { print k / 1024 }'; }

hwm_kib() { # VmHWM of a live process, in KiB (0 once it is gone)
    local status
    status=$(cat "/proc/$1/status" 2>/dev/null || true)
    awk '/^VmHWM:/ { print $2; found = 1 } END { if (!found) print 0 }' <<<"$status"
}

api_key=peak-rss-key
declare -A rss wall cpu_s sim_rss
for n in "${sizes[@]}"; do
    # The simulator, on a free port that it prints.
    start_sim "$bin" "$n" "$work/sim-$n" "$api_key"

    write_once_config "$work/agent-$n.yaml" 72h

    # The agent, measured.
    start=$(date +%s.%N)
    if [ -n "$gnu_time" ]; then
        status=0
        "$gnu_time" -f '%M %e %U %S' -o "$work/time-$n" \
            "$bin" once --config "$work/agent-$n.yaml" --format json >"$work/once-$n.json" 2>"$work/once-$n.err" || status=$?
        read -r peak secs user sys <"$work/time-$n" || true
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    else
        "$bin" once --config "$work/agent-$n.yaml" --format json >"$work/once-$n.json" 2>"$work/once-$n.err" &
        pid=$!
        peak=0
        while kill -0 "$pid" 2>/dev/null; do
            h=$(hwm_kib "$pid")
            [ "$h" -gt "$peak" ] && peak=$h
            sleep 0.02
        done
        status=0
        wait "$pid" || status=$?
        cpu="n/a"
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    fi
    if [ "$status" -ne 0 ]; then
        echo "peak-rss: nbu-otel once failed (exit $status) at $n jobs:" >&2
        cat "$work/once-$n.err" >&2
        grep -A3 '"errors"' "$work/once-$n.json" >&2 || true
        exit 1
    fi
    got=$(once_jobs "$work/once-$n.json")
    pages=$(grep -oE '"pages": [0-9]+' "$work/once-$n.json" | head -1 | grep -oE '[0-9]+$')
    if [ "$got" != "$n" ]; then
        echo "peak-rss: collected $got jobs, expected $n" >&2
        exit 1
    fi
    sim_rss[$n]=$(hwm_kib "$sim_pid")
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=""
    rss[$n]=$peak
    wall[$n]=$secs
    cpu_s[$n]=$cpu
    printf 'jobs=%s pages=%s agent_peak_rss_kib=%s wall_s=%s agent_cpu_s=%s sim_peak_rss_kib=%s\n' \
        "$n" "$pages" "$peak" "$secs" "$cpu" "${sim_rss[$n]}"
done

ref=${sizes[0]}
echo
echo "| jobs | agent peak RSS (MiB) | growth vs $ref (MiB) | wall (s) | agent CPU (s) | simulator peak RSS (MiB) |"
echo "|---:|---:|---:|---:|---:|---:|"
fail=0
for n in "${sizes[@]}"; do
    growth=$(( rss[$n] - rss[$ref] ))
    printf '| %s | %.1f | %+.1f | %s | %s | %.1f |\n' "$n" "$(mib "${rss[$n]}")" "$(mib "$growth")" \
        "${wall[$n]}" "${cpu_s[$n]}" "$(mib "${sim_rss[$n]}")"
    # Targets in KiB: 40 MB up to 100,000 jobs, 120 MB up to 1,000,000.
    limit=0
    if [ "$n" -le 100000 ]; then limit=39062; elif [ "$n" -le 1000000 ]; then limit=117187; fi
    if [ "$limit" -gt 0 ] && [ "${rss[$n]}" -gt "$limit" ]; then
        echo "target MISSED at $n jobs: ${rss[$n]} KiB > $limit KiB" >&2
        fail=1
    fi
done
echo
if [ "$fail" = 0 ]; then
    echo "targets met: peak RSS <= 40 MB up to 100,000 jobs, <= 120 MB up to 1,000,000"
else
    exit 1
fi
