#!/usr/bin/env bash
# Vox vs Pipecat, side by side, from scratch: one command.
#
#   bash benches/compare.sh [--out DIR] [--only NAME,...] [--max-level N] [--turns N]
#                           [--split-cores]
#
# NAME: vox, pipecat, vox-energy-vad, vox-webrtc. --split-cores pins each runtime to CPU 0 and
# the simulator to CPU 1, so a concurrency limit is the runtime's on one core.
#
# Prepares Pipecat (pipecat-ai from PyPI, pinned, into a venv under ~/.cache/vox), makes sure
# the local models are fetched (Silero VAD for Vox, so both run the same VAD model), runs
# `cargo bench --bench compare` (benches/compare.rs: fake models, both runtimes, `vox sim`),
# then draws the plots. Output: DIR/report.json, report.md, latency.png, concurrency.png
# (DIR defaults to bench-report/). Takes about 10-15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vox-target}"

PIPECAT_VERSION="1.14.0"
venv="$HOME/.cache/vox/bench-venv-pipecat-$PIPECAT_VERSION"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pipecat, matplotlib' 2>/dev/null; then
  echo "== installing pipecat-ai $PIPECAT_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "pipecat-ai[silero,openai,websocket]==$PIPECAT_VERSION" fastapi uvicorn matplotlib
fi
export VOX_BENCH_PYTHON="$venv/bin/python"

# the bench runs in crates/vox-server: give it an absolute output directory
out="bench-report"
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--out" ]; then out="$2"; shift 2; else args+=("$1"); shift; fi
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

echo "== local models (Silero VAD for Vox)"
cargo run --release -q -p vox-server -- models fetch

echo "== measuring (cargo bench --bench compare)"
cargo bench -q -p vox-server --bench compare -- --out "$out" ${args[@]+"${args[@]}"}

echo "== plots"
"$VOX_BENCH_PYTHON" benches/peers/plot.py "$out/report.json"
echo "report: $out/report.md, $out/report.json, $out/latency.png, $out/concurrency.png"
