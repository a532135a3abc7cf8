# Sourced by the measurement scripts: runs the simulator as its own process.
#
#   start_sim BIN JOBS OUT_PREFIX API_KEY   sets sim_pid, url (the simulator's API base URL)
#                                           and sim_key
#   write_once_config FILE WINDOW           a config for `nbu-otel once` against that simulator:
#                                           one site, jobs window WINDOW, no OTLP push
#   once_jobs FILE                          the jobs `once --format json` wrote to FILE collected
#
# The simulator listens on a free loopback port and prints its URL; the function waits for it
# (10 s at most) and exits the script with the simulator's error output if it does not start.

start_sim() {
    local bin=$1 jobs=$2 out=$3 key=$4
    sim_key=$key
    NBU_SIM_API_KEY=$key "$bin" sim --listen 127.0.0.1:0 --jobs "$jobs" >"$out.out" 2>"$out.err" &
    sim_pid=$!
    url=""
    for _ in $(seq 1 200); do
        url=$(grep -o 'http://[^ ]*/netbackup' "$out.out" 2>/dev/null || true)
        [ -n "$url" ] && return 0
        kill -0 "$sim_pid" 2>/dev/null || { cat "$out.err" >&2; exit 1; }
        sleep 0.05
    done
    echo "$(basename "$0"): the simulator did not start" >&2
    exit 1
}

write_once_config() {
    cat >"$1" <<EOF
sites:
  - name: sim
    url: $url
    api_key: $sim_key
collection:
  jobs_window: $2
  jobs_page_size: 100
  requests_per_second: 1000
otlp:
  enabled: false
logging:
  level: warn
EOF
}

once_jobs() {
    grep -oE '"jobs": [0-9]+' "$1" | head -1 | grep -oE '[0-9]+$'
}
