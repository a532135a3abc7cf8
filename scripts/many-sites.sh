#!/usr/bin/env bash
# One agent for many primaries: N sites (distinct names) on one living simulator, the
# Prometheus bridge on, the OTLP push off, two opt-in sources on (tape and
# alerts; SOURCES changes them). For each N prints one line of the table in
# docs/BENCHMARKS.md (the many-sites row).
#
#   scripts/many-sites.sh [SITES...]        # default: 1 10 50 100
#
# For each N, against the same simulator (started once, as its own process:
# `nbu-otel sim --jobs $JOBS --live`, new jobs every minute):
#   - writes the agent's configuration: sites site-000 .. site-N-1, all on the simulator's URL;
#   - starts the release agent (`nbu-otel run`) and waits until every site has read its jobs
#     window whole and collected both opt-in sources (the agent's log): "first fill";
#   - lets it settle ($SETTLE s), then reads its CPU time (utime + stime, /proc/<pid>/stat)
#     at the start and the end of $STEADY s, while /metrics is scraped every $SCRAPE_EVERY s
#     as Prometheus would: "steady CPU", in % of one core;
#   - reads VmRSS and VmHWM (/proc/<pid>/status) at the end of that minute;
#   - scrapes /metrics once (plain text, as curl asks): its time and bytes, and the series
#     (sample lines); checks that every site has its `nbu_last_scrape_timestamp_seconds` of
#     the jobs source; then reads VmRSS and VmHWM again.
#
# Environment:
#   NBU_OTEL_BIN   use this binary instead of building target/release/nbu-otel
#   JOBS           jobs of the simulator (20000)
#   STEADY         seconds of the steady CPU measurement (60)
#   SETTLE         seconds between the first fill and the steady measurement (10)
#   SCRAPE_EVERY   seconds between two scrapes during the steady measurement (15; 0: none)
#   SOURCES        the opt-in sources on ("tape alerts"; clients get the allowlist ["*"])
#   KEEP_DIR=1     keep the work directory (configs, logs) and print its path
#
# Memory: the simulator generates its jobs lazily (a few tens of MB); the agent held ~7 MB
# per site of 20,000 jobs before the compact bridge, so 100 sites fit any machine of 2 GB.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/sim-process.sh
. scripts/sim-process.sh

jobs=${JOBS:-20000}
steady=${STEADY:-60}
settle=${SETTLE:-10}
scrape_every=${SCRAPE_EVERY:-15}
sources=${SOURCES:-tape alerts}
nsources=$(echo "$sources" | wc -w)
if [ "$#" -eq 0 ]; then set -- 1 10 50 100; fi

bin=${NBU_OTEL_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet --bin nbu-otel
    bin=${CARGO_TARGET_DIR:-target}/release/nbu-otel
fi

work=$(mktemp -d)
sim_pid=""
agent_pid=""
stop_agent() {
    if [ -n "$agent_pid" ]; then
        kill "$agent_pid" 2>/dev/null || true
        wait "$agent_pid" 2>/dev/null || true
        agent_pid=""
    fi
}
cleanup() {
    stop_agent
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    if [ "${KEEP_DIR:-0}" = 1 ]; then echo "work directory: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks (fields 14 and 15, after the command's parentheses).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
now() { date +%s.%N; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
hz=$(getconf CLK_TCK)

api_key=many-sites-key
NBU_SIM_API_KEY=$api_key "$bin" sim --listen 127.0.0.1:0 --jobs "$jobs" --live \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
url=""
for _ in $(seq 1 400); do
    url=$(grep -o 'http://[^ ]*/netbackup' "$work/sim.out" 2>/dev/null || true)
    [ -n "$url" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err" >&2; exit 1; }
    sleep 0.05
done
[ -n "$url" ] || { echo "many-sites: the simulator did not start" >&2; exit 1; }

printf '| sites | first fill of all (s) | steady CPU over %s s (%% of a core) | VmRSS (MiB) | VmHWM (MiB) | series | one scrape (ms) | scrape bytes | VmRSS / VmHWM after the scrape (MiB) |\n' "$steady"
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
for n in "$@"; do
    port=$((19440 + RANDOM % 500))
    cfg="$work/agent-$n.yaml"
    {
        echo "sites:"
        for ((i = 0; i < n; i++)); do
            printf '  - name: site-%03d\n    url: %s\n    api_key: %s\n' "$i" "$url" "$api_key"
        done
        cat <<EOF
collection:
  jobs_window: 72h
  requests_per_second: 1000
EOF
        echo "sources:"
        for s in $sources; do
            printf '  %s:\n    enabled: true\n' "$s"
            if [ "$s" = clients ]; then printf '    allowlist: ["*"]\n'; fi
        done
        cat <<EOF
server:
  listen: 127.0.0.1:$port
  prometheus_bridge: true
otlp:
  enabled: false
logging:
  level: info
EOF
    } >"$cfg"

    log="$work/agent-$n.err"
    start=$(now)
    # Full walks are logged at info, sources collected at debug.
    RUST_LOG=info,nbu_otel::agent::site_task=debug "$bin" run --config "$cfg" \
        >"$work/agent-$n.out" 2>"$log" &
    agent_pid=$!
    filled=""
    for _ in $(seq 1 6000); do
        walks=$(grep -c 'jobs window read whole' "$log" || true)
        collected=$(grep -c "source collected" "$log" || true)
        if [ "$walks" -ge "$n" ] && [ "$collected" -ge $((nsources * n)) ]; then
            filled=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
            break
        fi
        kill -0 "$agent_pid" 2>/dev/null || { tail -20 "$log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$filled" ] || { echo "many-sites: $n sites not filled in 600 s" >&2; exit 1; }

    sleep "$settle"
    t0=$(now)
    c0=$(cpu_ticks "$agent_pid")
    # Scraped as Prometheus would, every $scrape_every s (0: not at all).
    if [ "$scrape_every" -gt 0 ]; then
        for ((t = scrape_every; t <= steady; t += scrape_every)); do
            sleep "$scrape_every"
            curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
        done
        sleep $((steady % scrape_every))
    else
        sleep "$steady"
    fi
    c1=$(cpu_ticks "$agent_pid")
    t1=$(now)
    cpu=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.2f", 100 * c / hz / (b - a) }')
    rss=$(status "$agent_pid" VmRSS)
    hwm=$(status "$agent_pid" VmHWM)

    body="$work/metrics-$n.txt"
    took=$(curl -s -o "$body" -w '%{time_total}' "http://127.0.0.1:$port/metrics")
    bytes=$(stat -c %s "$body")
    series=$(grep -vc '^#' "$body" || true)
    fresh=$(grep -c '^nbu_last_scrape_timestamp_seconds{site="[^"]*",source="jobs"}' "$body" || true)
    [ "$fresh" -eq "$n" ] || echo "many-sites: $fresh of $n sites have jobs data" >&2
    rss2=$(status "$agent_pid" VmRSS)
    hwm2=$(status "$agent_pid" VmHWM)
    stop_agent

    printf '| %s | %s | %s | %s | %s | %s | %.0f | %s | %s / %s |\n' \
        "$n" "$filled" "$cpu" "$(mib "$rss")" "$(mib "$hwm")" "$series" \
        "$(awk -v t="$took" 'BEGIN { print t * 1000 }')" "$bytes" "$(mib "$rss2")" "$(mib "$hwm2")"
done
