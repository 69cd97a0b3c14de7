#!/usr/bin/env bash
# The soak: Vox holding many concurrent calls for a long time (default one hour at 100 calls),
# watched for memory growth and late audio. One command:
#
#   bash benches/soak.sh [--minutes N] [--calls N] [--out DIR]
#
# Fetches the local models (Silero VAD), then runs `cargo bench --bench soak` (benches/soak.rs:
# fake models, an LLM agent, `vox sim` callers in rounds of ~5 minutes). Output:
# DIR/report.json (default bench-report/soak/). Passes with RSS growth under 5%, no late frame
# and no failed call; the result goes in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vox-target}"

out="bench-report/soak"
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--out" ]; then out="$2"; shift 2; else args+=("$1"); shift; fi
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

echo "== local models (Silero VAD)"
cargo run --release -q -p vox-server -- models fetch

echo "== soaking (cargo bench --bench soak)"
cargo bench -q -p vox-server --bench soak -- --out "$out" ${args[@]+"${args[@]}"}
