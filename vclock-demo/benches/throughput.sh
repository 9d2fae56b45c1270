#!/usr/bin/env bash
# Speed of the demo network, on release builds of the real binary:
#   (a) messages/s from node 1 to node 2 (10,000 piped lines `2 msg-i`,
#       timed until node 2 has printed every receipt; stdout to pipes);
#   (b) time from `launch -n 32 --console inline` to all nodes listening.
# Usage: vclock-demo/benches/throughput.sh [--messages N] [--runs R]
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p vclock-demo --bins --examples
exec "$target/release/examples/throughput" "$target/release/vclock-demo" "$@"
