#!/usr/bin/env bash
# Agent CPU per job of one full collection (`nbu-otel once`) against the simulator, for one or
# more agent binaries measured in turn (interleaved, so that they share the machine's load).
#
#   scripts/agent-cpu.sh                         # target/release/nbu-otel, 100,000 jobs, 5 runs
#   scripts/agent-cpu.sh old/nbu-otel new/nbu-otel   # compare binaries in the same session
#
# The simulator (the first binary's `sim`) runs as its own process with JOBS jobs; each agent
# runs `once --format json` with a window that holds every simulated job, 100 jobs per page and
# 1000 requests/s, over loopback HTTP. Only the agent is measured: user + system CPU from GNU
# time (`apt-get install -y time`). Prints the mean CPU seconds and jobs per CPU-second of each
# binary, and each binary's ratio to the first one.
#
# Environment: JOBS (default 100000), RUNS (default 5).
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/sim-process.sh
. scripts/sim-process.sh
jobs=${JOBS:-100000}
runs=${RUNS:-5}
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
    cargo build --release --quiet --bin nbu-otel
    bins=(target/release/nbu-otel)
fi
[ -x /usr/bin/time ] || { echo "agent-cpu: GNU time is needed (apt-get install -y time)" >&2; exit 2; }

work=$(mktemp -d)
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

api_key=agent-cpu-key
start_sim "${bins[0]}" "$jobs" "$work/sim" "$api_key"

write_once_config "$work/agent.yaml" 366d

for run in $(seq 1 "$runs"); do
    for i in "${!bins[@]}"; do
        /usr/bin/time -f '%U %S' -o "$work/time" \
            "${bins[$i]}" once --config "$work/agent.yaml" --format json >"$work/once.json" 2>"$work/once.err" \
            || { echo "agent-cpu: ${bins[$i]} once failed:" >&2; cat "$work/once.err" >&2; exit 1; }
        got=$(once_jobs "$work/once.json")
        [ "$got" = "$jobs" ] || { echo "agent-cpu: collected $got jobs, expected $jobs" >&2; exit 1; }
        read -r user sys <"$work/time"
        echo "$i $user $sys" >>"$work/cpu"
        echo "run $run ${bins[$i]}: user ${user}s sys ${sys}s" >&2
    done
done

awk -v jobs="$jobs" -v names="${bins[*]}" '
    { cpu[$1] += $2 + $3; n[$1]++ }
    END {
        split(names, name, " ")
        for (i = 0; i in cpu; i++) {
            mean = cpu[i] / n[i]
            if (i == 0) first = mean
            printf "%s: %d runs, mean CPU %.3f s, %.0f jobs per CPU-second, %.2fx the first\n",
                name[i + 1], n[i], mean, jobs / mean, first / mean
        }
    }' "$work/cpu"
