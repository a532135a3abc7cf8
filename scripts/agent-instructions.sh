#!/usr/bin/env bash
# Instructions the agent executes in user space for one full collection (`nbu-otel once`)
# against the simulator, for one or more agent binaries. Unlike CPU time, the count does not
# move with the machine's load, so small changes can be compared on a shared machine; it leaves
# out the kernel's share (socket reads, page faults), which `scripts/agent-cpu.sh` includes.
#
#   scripts/agent-instructions.sh                          # target/release/nbu-otel
#   scripts/agent-instructions.sh old/nbu-otel new/nbu-otel  # compare binaries
#
# The simulator (the first binary's `sim`) runs as its own process with JOBS jobs; each agent
# runs `once --format json` under valgrind's cachegrind (`apt-get install -y valgrind`), with
# the configuration of scripts/agent-cpu.sh. Prints each binary's instruction count, per job,
# and its ratio to the first. About 20 times slower than a plain run.
#
# Environment: JOBS (default 20000).
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/sim-process.sh
. scripts/sim-process.sh
jobs=${JOBS:-20000}
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
    cargo build --release --quiet --bin nbu-otel
    bins=(target/release/nbu-otel)
fi
command -v valgrind >/dev/null || { echo "agent-instructions: valgrind is needed (apt-get install -y valgrind)" >&2; exit 2; }

work=$(mktemp -d)
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

api_key=agent-instructions-key
start_sim "${bins[0]}" "$jobs" "$work/sim" "$api_key"

write_once_config "$work/agent.yaml" 366d

first=""
for bin in "${bins[@]}"; do
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$bin" once --config "$work/agent.yaml" --format json >"$work/once.json" 2>"$work/once.err" \
        || { echo "agent-instructions: $bin once failed:" >&2; tail -5 "$work/once.err" >&2; exit 1; }
    got=$(once_jobs "$work/once.json")
    [ "$got" = "$jobs" ] || { echo "agent-instructions: $bin collected $got jobs, expected $jobs" >&2; exit 1; }
    count=$(grep -oE 'I +refs: +[0-9,]+' "$work/once.err" | grep -oE '[0-9,]+$' | tr -d ,)
    [ -z "$first" ] && first=$count
    awk -v bin="$bin" -v n="$count" -v jobs="$jobs" -v first="$first" 'BEGIN {
        printf "%s: %d instructions, %.0f per job, %.3fx the first\n", bin, n, n / jobs, n / first
    }'
done
