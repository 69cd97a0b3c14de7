# What the walk-through scripts share (sourced, not run): the build, a scratch directory
# cleaned up on exit (with the logs shown when the script fails), the fake carrier and
# model, `vox serve` on loopback, and curl helpers that print each request and its answer.
#
# Before sourcing, a script sets `walkthrough` (its name, for messages); `--release` as its
# first argument builds and runs the release binaries instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
profile=debug
cargo_flags=(--locked -q)
if [ "${1:-}" = "--release" ]; then profile=release; cargo_flags+=(--release); fi
need() { command -v "$1" >/dev/null || { echo "$walkthrough: needs $1 ($2)"; exit 2; }; }
need curl "apt-get install curl"
need python3 "apt-get install python3"
cargo build "${cargo_flags[@]}" -p vox-server -p vox-testkit --bin vox --bin vox-fake
target="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
vox="$target/$profile/vox"
fake="$target/$profile/vox-fake"
# the agents run on the local models (idempotent: only checks hashes once they are there)
"$vox" models fetch >/dev/null

work="$(mktemp -d)"
pids=()
cleanup() {
  local status=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" != 0 ]; then
    for f in server.log twilio.out twilio.err openai.err; do [ -s "$work/$f" ] && { echo "--- $f (last lines)"; tail -25 "$work/$f"; }; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# json FILE EXPR: a value out of a JSON file (EXPR over `d`, in Python)
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if isinstance(v,str) else json.dumps(v))' "$1" "$2"; }
step() { printf '\n== %s\n' "$*"; }
fail() { echo "$walkthrough: $*"; exit 1; }

# api METHOD PATH [curl args...]: a request with the bearer $token and the headers in
# api_headers; prints it and the answer (kept in $work/last.json); the HTTP status in $code
api_headers=()
api() {
  local method=$1 path=$2; shift 2
  # an API key is a secret: shown cut
  local shown=("${api_headers[@]/#X-API-Key: */X-API-Key: vk_…}")
  printf '$ curl -X %s %s%s %s%s\n' "$method" "$base" "$path" "${shown[*]:+${shown[*]} }" "$*"
  code=$(curl -g -s -o "$work/last.json" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token" "${api_headers[@]}" "$@" "$base$path")
  printf '%s ' "$code"; head -c 700 "$work/last.json"; echo
}
expect() { [ "$code" = "$1" ] || fail "expected HTTP $1, got $code"; }

# fake_twilio ARGS...: `vox-fake twilio` on a free port (ARGS: its callee turns and numbers);
# sets twilio_port, and sid / auth, the account a pool must use
fake_twilio() {
  twilio_port=$(free_port)
  "$fake" twilio --port "$twilio_port" "$@" >"$work/twilio.out" 2>"$work/twilio.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/twilio.out" ] && break; sleep 0.1; done
  head -1 "$work/twilio.out" >"$work/twilio.json"
  sid=$(json "$work/twilio.json" 'd["accountSid"]'); auth=$(json "$work/twilio.json" 'd["authToken"]')
}

# fake_openai ARGS...: `vox-fake openai` on a free port (ARGS: its scripted replies); sets
# ai_port
fake_openai() {
  ai_port=$(free_port)
  "$fake" openai --port "$ai_port" "$@" >"$work/openai.out" 2>"$work/openai.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/openai.out" ] && break; sleep 0.1; done
  [ -s "$work/openai.out" ] || fail "vox-fake openai did not start"
}

# serve: `vox serve --config $work/vox.toml` (its port in $port), once healthy; sets base
serve() {
  "$vox" serve --config "$work/vox.toml" >"$work/server.log" 2>&1 &
  pids+=($!)
  base="http://127.0.0.1:$port"
  for _ in $(seq 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
  curl -sf "$base/healthz" >/dev/null || { echo "vox serve did not start:"; tail -20 "$work/server.log"; exit 1; }
}

# token [SCOPES]: a client-credentials token for the client in $work/creds.json (all its
# scopes, or SCOPES); sets token
token() {
  printf '$ curl -d grant_type=client_credentials -d client_id=... -d client_secret=... %s %s/v1/oauth/token\n' "${1:+-d scope=\"$1\"}" "$base"
  curl -sf -d grant_type=client_credentials -d "client_id=$(json "$work/creds.json" 'd["clientId"]')" -d "client_secret=$(json "$work/creds.json" 'd["clientSecret"]')" \
    ${1:+-d "scope=$1"} "$base/v1/oauth/token" >"$work/token.json"
  token=$(json "$work/token.json" 'd["access_token"]')
  echo "200 {\"access_token\": \"…\", \"scope\": \"$(json "$work/token.json" 'd["scope"]' | cut -c1-70)…\"}"
}
