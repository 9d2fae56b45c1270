#!/usr/bin/env bash
# What a restart costs a node with --log-dir after many confirmed sends
# (examples/restart.rs), on a release build of the real binary: sending
# rate, journal size, peak memory and time of the restart. Other builds
# given as arguments are measured in the same run, before this one.
# Usage: vclock-demo/benches/restart.sh [--sends N,N...] [--causal] [BINARY...]
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p vclock-demo --bins --examples
exec "$target/release/examples/restart" "$@" "$target/release/vclock-demo"
