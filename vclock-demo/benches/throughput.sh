#!/usr/bin/env bash
# Speed of the demo network, on release builds of the real binary:
#   (a) messages/s from node 1 to node 2 (50,000 piped lines `2 msg-i`,
#       timed until node 2 has printed every receipt; stdout to pipes),
#       plain, auth, auth-log, log and fsync;
#   (b) time from `launch -n 32 --console inline` to all nodes listening;
#   (c) latency between two nodes while a third is stopped.
# Usage: vclock-demo/benches/throughput.sh [[NAME=]OTHER-BINARY]... [--messages N]
#        [--runs R] [--variants plain,auth-log] [--parts a,b,c] [--latency-samples N]
# Other binaries given (an older build, say) are measured in the same run,
# interleaved with this checkout's build (named `this`), which comes last.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p vclock-demo --bins --examples
exec "$target/release/examples/throughput" "$@" "this=$target/release/vclock-demo"
