#!/usr/bin/env bash
# Speed of `check` and `diagram` on a large log, on release builds of the
# real binary: a consistent run of EVENTS events over NODES nodes written by
# examples/big_log.rs, then RUNS timed runs of `check`, `check --regex` on
# the same run merged by `shiviz`, `diagram -o x.svg` and `diagram -o x.html`; prints the median and slowest wall time of each.
# Usage: vclock-demo/benches/logs.sh [EVENTS [NODES [RUNS]]]
set -euo pipefail
cd "$(dirname "$0")/../.."
events="${1:-50000}" nodes="${2:-4}" runs="${3:-5}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p vclock-demo --bins --examples
bin="$target/release/vclock-demo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$target/release/examples/big_log" "$work/logs" "$events" "$nodes"
time_runs() {
  local what="$1"; shift
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "$what failed: $*" >&2; "$@"; exit 1; }
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
  done
  local sorted
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  printf '%-22s median %5s ms   slowest %5s ms   (%s runs)\n' "$what" \
    "$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")" "$(echo "$sorted" | tail -1)" "$runs"
}
time_runs "check" "$bin" check "$work/logs"
"$bin" shiviz "$work/logs" -o "$work/merged.log"
time_runs "check --regex (merged)" "$bin" check --regex '(?<host>\S*) (?<clock>{.*})\n(?<event>.*)' "$work/merged.log"
time_runs "diagram -o run.svg" "$bin" diagram "$work/logs" -o "$work/run.svg"
time_runs "diagram -o run.html" "$bin" diagram "$work/logs" -o "$work/run.html"
ls -l "$work/run.svg" "$work/run.html" | awk '{print $5, $9}'
