#!/usr/bin/env bash
# Fuzzes the control-plane API with schemathesis against a real `vox serve` (SQLite in a
# temp dir): every operation of /openapi.json, generated inputs, and the check that no
# response is a 5xx. Installs schemathesis into ~/.cache/vox/schemathesis-venv on first use.
# Usage: scripts/api-fuzz.sh [MAX_EXAMPLES]   (CI runs it after the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-50}"
venv="$HOME/.cache/vox/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
# the binary the workspace tests use (same features, so nothing is rebuilt after them)
cargo test -q --workspace --locked --no-run >/dev/null 2>&1
bin="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}/debug/vox"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VOX__STORE__URL="sqlite://$work/vox.db" VOX__API__FILES_DIR="$work/files" RUST_LOG=warn
creds=$("$bin" admin create --org Fuzz --business "Fuzz Plumbing" --phone +15125550100 2>/dev/null)
"$bin" serve --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
base="http://127.0.0.1:$port"
read -r biz id secret < <(python3 -c 'import json,sys; c=json.loads(sys.argv[1]); print(c["businessId"], c["clientId"], c["clientSecret"])' "$creds")
token=$(curl -sf -d grant_type=client_credentials -d "client_id=$id" -d "client_secret=$secret" "$base/v1/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# the document with the real business as the only business_id and locationId, so generated
# requests reach the handlers behind the tenant check, not only the 404/403 in front of it
curl -sf "$base/openapi.json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for ops in doc["paths"].values():
    for op in ops.values():
        for p in op.get("parameters", []):
            if p["name"] in ("business_id", "locationId"):
                p["schema"] = {"type": "string", "enum": [sys.argv[1]]}
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "locationId" in body.get("properties", {}):
            body["properties"]["locationId"] = {"type": "string", "enum": [sys.argv[1]]}
json.dump(doc, open(sys.argv[2], "w"))' "$biz" "$work/openapi.json"
status=0
# from the temp dir: schemathesis keeps a cache (.schemathesis/) in its working directory
(cd "$work" && "$venv/bin/schemathesis" run openapi.json --url "$base" -H "Authorization: Bearer $token" \
  --checks not_a_server_error -n "$examples" --generation-deterministic --request-timeout 10) || status=$?
if grep -q "internal error in the API\|panicked" "$work/server.log"; then
  echo "the server logged internal errors:"; grep -B2 -A5 "internal error in the API\|panicked" "$work/server.log" | head -60
  status=1
fi
exit $status
