#!/usr/bin/env bash
# Instructions per message of one node, counted by callgrind (stable on a
# loaded machine, where wall-clock rates are not): node 1 pipes N lines
# `2 msg-i` to node 2, one of them runs under `valgrind --tool=callgrind`,
# and the count is taken for two values of N, so that starting up (keys,
# handshake) cancels out: per message = (total(N2) - total(N1)) / (N2 - N1).
# Usage: vclock-demo/benches/callgrind.sh [BINARY] [NODE] [VARIANT] [N1] [N2]
#   BINARY   default: target/release/vclock-demo (built first when default)
#   NODE     1 (the sender) or 2 (the receiver), default 2
#   VARIANT  plain, auth, log or auth-log (as throughput.rs), default auth-log
#   N1 N2    default 2000 8000
# The callgrind files are left in a temporary directory it names, for
# `callgrind_annotate --inclusive=yes FILE`.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
binary="${1:-}"
if [ -z "$binary" ]; then
  cargo build --quiet --release -p vclock-demo --bins
  binary="$target/release/vclock-demo"
fi
node="${2:-2}"
variant="${3:-auth-log}"
counts=("${4:-2000}" "${5:-8000}")
out=$(mktemp -d /tmp/vclock-callgrind.XXXXXX)

# Two free loopback ports.
free_ports() {
  python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
}

# One run of N messages; prints callgrind's total for node $node.
run() {
  local n=$1 dir="$out/run-$1" p1 p2 pid1 pid2
  mkdir -p "$dir"
  read -r p1 p2 < <(free_ports)
  local args1=() args2=()
  case $variant in
    auth*)
      "$binary" cluster new --dir "$dir/cluster" "127.0.0.1:$p1" "127.0.0.1:$p2" >/dev/null
      args1=(--cluster "$dir/cluster/cluster.toml" --key "$dir/cluster/node1.key")
      args2=(--cluster "$dir/cluster/cluster.toml" --key "$dir/cluster/node2.key") ;;
    plain|log) args1=(--ports "$p1,$p2"); args2=(--ports "$p1,$p2") ;;
    *) echo "unknown variant $variant (plain, auth, log, auth-log)" >&2; exit 2 ;;
  esac
  case $variant in
    *log) args1+=(--log-dir "$dir/logs"); args2+=(--log-dir "$dir/logs") ;;
  esac
  local grind=(valgrind --tool=callgrind "--callgrind-out-file=$out/callgrind.$n")
  local wrap1=() wrap2=()
  if [ "$node" = 1 ]; then wrap1=("${grind[@]}"); else wrap2=("${grind[@]}"); fi
  mkfifo "$dir/in1" "$dir/in2"
  "${wrap2[@]}" "$binary" node --id 2 "${args2[@]}" <"$dir/in2" >"$dir/out2" 2>"$dir/err2" &
  pid2=$!
  exec 7>"$dir/in2"
  until grep -q "^Listening at" "$dir/out2"; do sleep 0.1; done
  "${wrap1[@]}" "$binary" node --id 1 "${args1[@]}" <"$dir/in1" >"$dir/out1" 2>"$dir/err1" &
  pid1=$!
  exec 8>"$dir/in1"
  until grep -q "^Listening at" "$dir/out1"; do sleep 0.1; done
  for ((i = 0; i < n; i++)); do echo "2 msg-$i"; done >&8
  until [ "$(grep -c '^Message received from node 1: msg-' "$dir/out2")" -ge "$n" ]; do
    sleep 0.2
  done
  # End of input stops both nodes.
  exec 8>&- 7>&-
  wait "$pid1" "$pid2"
  grep -h '^totals:' "$out/callgrind.$n" | awk '{print $2}'
}

first=$(run "${counts[0]}")
second=$(run "${counts[1]}")
echo "node $node, $variant: ${counts[0]} messages $first instructions, ${counts[1]} messages $second"
echo "per message: $(( (second - first) / (counts[1] - counts[0]) )) instructions (callgrind files in $out)"
