#!/usr/bin/env bash
# Regenerates docs/run.svg, the diagram on the README's first screen, from a
# real run: three nodes launched inline with --log-dir, the lines below piped
# in (a short pause after each so every message arrives before the next
# line), then `check` and `diagram` on the logs.
# Usage: docs/refresh-run-svg.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p vclock-demo
bin="$target/release/vclock-demo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
  for line in "1: 2 hello" "2: all hi both" "3: 3 note to self" "1: 3 ping" "3: 1 pong" "2: 2 done"; do
    echo "$line"
    sleep 0.3
  done
} | "$bin" launch -n 3 --console inline --log-dir "$work/logs"
"$bin" check "$work/logs"
"$bin" diagram "$work/logs" -o docs/run.svg
