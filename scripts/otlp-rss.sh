#!/usr/bin/env bash
# RSS of the whole agent process with the OTLP push on, for the issue's setup: three sites on
# one simulator of 30,000 jobs and 200 storage units (~9,400 OTLP series, ~19,000 lines on the
# bridge), pushing every second to an endpoint where nothing listens (every export is
# collected, converted and cut, then refused at connect).
#
#   scripts/otlp-rss.sh [EXPORTS]        # default: 30 exports after the first collection
#
# Prints VmRSS and VmHWM after the first collection of every site, then VmRSS every 5 s, and
# after EXPORTS more seconds VmRSS, VmHWM and the number of exports the agent counted
# (`nbu_otlp_exports_total`, read from `/metrics` after the last RSS reading, so the bridge's
# rendering is not in the figures).
#
# Environment:
#   NBU_OTEL_BIN   use this binary instead of building target/release/nbu-otel
#   OTLP=false     the same agent without the push (the bridge-only reference)
#   JOBS, UNITS    the simulator's size (30000, 200)
#   KEEP_DIR=1     keep the work directory (configs, logs) and print its path
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/sim-process.sh
. scripts/sim-process.sh
exports=${1:-30}
jobs=${JOBS:-30000}
units=${UNITS:-200}

bin=${NBU_OTEL_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet --bin nbu-otel
    bin=target/release/nbu-otel
fi

work=$(mktemp -d)
sim_pid=""
agent_pid=""
cleanup() {
    for p in "$agent_pid" "$sim_pid"; do
        if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    if [ "${KEEP_DIR:-0}" = 1 ]; then echo "work directory: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

api_key=otlp-rss-key
NBU_SIM_API_KEY=$api_key "$bin" sim --listen 127.0.0.1:0 --jobs "$jobs" --storage-units "$units" \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
url=""
for _ in $(seq 1 400); do
    url=$(grep -o 'http://[^ ]*/netbackup' "$work/sim.out" 2>/dev/null || true)
    [ -n "$url" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err" >&2; exit 1; }
    sleep 0.05
done
[ -n "$url" ] || { echo "otlp-rss: the simulator did not start" >&2; exit 1; }

port=$((19440 + RANDOM % 500))
{
    echo "sites:"
    for i in 0 1 2; do
        printf '  - name: primary-%s\n    url: %s\n    api_key: %s\n' "$i" "$url" "$api_key"
    done
    cat <<EOF
collection:
  jobs_window: 72h
  requests_per_second: 1000
server:
  listen: 127.0.0.1:$port
  prometheus_bridge: true
logging:
  level: info
EOF
    if [ "${OTLP:-true}" = false ]; then
        printf 'otlp:\n  enabled: false\n'
    else
        printf 'otlp:\n  endpoint: http://127.0.0.1:9\n  timeout: 1s\n'
    fi
} >"$work/agent.yaml"

OTEL_METRIC_EXPORT_INTERVAL=1000 "$bin" run --config "$work/agent.yaml" >"$work/agent.out" 2>"$work/agent.err" &
agent_pid=$!
for _ in $(seq 1 1200); do
    done_sites=$(grep -c 'jobs window read whole' "$work/agent.err" || true)
    [ "$done_sites" -ge 3 ] && break
    kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.err" >&2; exit 1; }
    sleep 0.1
done
# Let the storage walks and the first export after the jobs walks finish.
sleep 2
echo "after_first_collection vmrss_kib=$(status "$agent_pid" VmRSS) vmhwm_kib=$(status "$agent_pid" VmHWM)"
for ((s = 5; s <= exports; s += 5)); do
    sleep 5
    echo "t=${s}s vmrss_kib=$(status "$agent_pid" VmRSS)"
done
rss=$(status "$agent_pid" VmRSS)
hwm=$(status "$agent_pid" VmHWM)
count=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^nbu_otlp_exports_total/ { n += $2 } END { print n + 0 }')
lines=$(curl -s "http://127.0.0.1:$port/metrics" | grep -vc '^#' || true)
echo "end vmrss_kib=$rss vmhwm_kib=$hwm otlp_exports=$count bridge_lines=$lines"
