#!/usr/bin/env bash
# How many concurrent calls the fully local stack sustains on this machine: `vox serve --demo`
# (Whisper tiny.en, MiniLM workflow, Piper) called by `vox sim` with the demo script at rising
# concurrency. Prints response latency (caller's end of speech -> first agent audio, measured
# by the simulated carrier) per level, and the ratio to the single-call figure.
# Usage: benches/local-concurrency.sh [LEVELS...]   (default: 1 2 4 6 8)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$HOME/.cache/vox-target}"
cargo build -q --release --locked -p vox-server
vox="$target/release/vox"
"$vox" models fetch >/dev/null 2>&1
port=18181
"$vox" serve --demo --port "$port" --max-calls 64 >/tmp/vox-local-concurrency.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
levels=("$@"); [ ${#levels[@]} -gt 0 ] || levels=(1 2 4 6 8)
base=""
printf "%-12s %-8s %-10s %-10s %-10s %-8s %s\n" concurrency calls p50_ms p95_ms max_ms late unanswered
for c in "${levels[@]}"; do
  report=$(mktemp)
  "$vox" sim --quiet --url "ws://127.0.0.1:$port/media/twilio" --script tests/data/scripts/demo-local.toml \
    --calls "$c" --concurrency "$c" --ramp-ms 3000 --reply-timeout-ms 15000 --report "$report" >/dev/null || true
  python3 - "$report" "$c" "${base:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s = r["summary"]; lat = s["response_latency_ms"]
unanswered = sum(1 for c in r["calls"] for t in c["turns"] if t.get("response_latency_ms") is None)
base = float(sys.argv[3]) if sys.argv[3] else lat["p95"]
print(f'{sys.argv[2]:<12} {s["calls"]:<8} {lat["p50"]:<10} {lat["p95"]:<10} {lat["max"]:<10} {s["late_frames"]:<8} {unanswered}   p95 x{lat["p95"]/base:.2f}')
open("/tmp/vox-local-concurrency.base", "w").write(str(base))
PY
  base=$(cat /tmp/vox-local-concurrency.base)
  rm -f "$report"
done
