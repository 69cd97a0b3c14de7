#!/usr/bin/env bash
# The Partner API's step-by-step guide (seed 002) with curl against a real `vox serve`, on
# loopback, with no carrier account: `vox-fake twilio` plays the carrier. It answers the
# outbound call Vox places through its REST API, opens the media stream from the TwiML and
# speaks two caller turns; the agent (the `[voice_agents]` runtime: the local models, so run
# `vox models fetch` first) conducts the call; the call then shows in the history with its
# transcript.
#
# Usage: scripts/seed-walkthrough.sh [--release]   (CI runs it after the tests)
# Every request is printed with its answer; the script fails on the first unexpected one.
walkthrough=seed-walkthrough
. "$(dirname "$0")/walkthrough-lib.sh"

# the carrier: a fake Twilio whose callee waits for the greeting, asks to book, says goodbye
fake_twilio --turn tests/data/audio/book-1.wav --turn tests/data/audio/bye-1.wav --record "$work/recordings"

port=$(free_port)
cat >"$work/vox.toml" <<EOF
[server]
host = "127.0.0.1"
port = $port
[store]
url = "sqlite://$work/vox.db"
[api]
files_dir = "$work/files"
recordings_dir = "$work/calls"
[models]
dir = "$root/models"
[[telephony.pools]]
carrier = "twilio"
numbers = ["+15125550122", "+12125550111"]
account_sid = "$sid"
auth_token = "$auth"
api_base = "http://127.0.0.1:$twilio_port"
EOF
step "vox admin create: an organization, a business and an API client"
"$vox" admin create --config "$work/vox.toml" --org Acme --business "Acme Plumbing" --phone +15125550100 | tee "$work/creds.json"
biz=$(json "$work/creds.json" 'd["businessId"]')
serve

step "Prerequisites: a token (client credentials)"
token

step "Step 2.1: the tool library"
api GET /v1/tools; expect 200
transfer_template=$(json "$work/last.json" '[t["id"] for t in d["items"] if t["type"] == "transferCall"][0]')
step "Step 2.2: a transfer tool"
api POST "/v1/businesses/$biz/tools" -H 'Content-Type: application/json' -d "{\"templateToolId\": \"$transfer_template\", \"configOverride\": {\"destinations\": [{\"name\": \"Office\", \"phoneNumber\": \"+15125550144\", \"description\": \"The front office\"}]}}"
expect 201; tool=$(json "$work/last.json" 'd["id"]')
step "Step 2.4: the business's tools"
api GET "/v1/businesses/$biz/tools"; expect 200

step "Step 3: a knowledge-base file, processed until ready"
printf '# Prices\n\nA drain cleaning costs 120 dollars. We are open Monday to Friday, 8 to 6.\n' >"$work/prices.md"
api POST "/v1/businesses/$biz/files" -F "file=@$work/prices.md;type=text/markdown"
expect 201; file=$(json "$work/last.json" 'd["id"]')
for _ in $(seq 100); do
  api GET "/v1/businesses/$biz/files/$file" >/dev/null
  [ "$(json "$work/last.json" 'd["status"]')" = processing ] || break
  sleep 0.2
done
api GET "/v1/businesses/$biz/files/$file"; [ "$(json "$work/last.json" 'd["status"]')" = ready ] || { echo "the file did not become ready"; exit 1; }

step "Step 4: voices"
api GET /v1/voices; expect 200
voice=$(json "$work/last.json" 'd[0]["id"] if d else ""')

step "Step 5: an OUTBOUND voice agent"
cat >"$work/agent.json" <<EOF
{"name": "Acme Outreach", "type": "OUTBOUND",
 "conversationFlow": "Greet the customer, offer a drain cleaning visit and answer questions about prices and opening hours. Keep answers short.",
 "customInstructions": "Never give a quote over the phone beyond the listed prices.",
 ${voice:+\"voiceId\": \"$voice\",}
 "toolIds": ["$tool"], "knowledgeBaseDocumentIds": ["$file"],
 "personality": {"tone": "friendly", "style": "conversational", "useEmpathy": true},
 "firstMessage": "Hello, this is Acme Plumbing calling about your drain cleaning request.",
 "collectFields": ["name", "preferred_day"]}
EOF
api POST "/v1/businesses/$biz/voice-agents" -H 'Content-Type: application/json' -d "@$work/agent.json"
expect 201; agent=$(json "$work/last.json" 'd["id"]')

step "Step 6: deploy (a number from the pool, on duty)"
api POST "/v1/businesses/$biz/voice-agents/$agent/deploy"; expect 200
echo "phoneNumber=$(json "$work/last.json" 'd["phoneNumber"]') onDuty=$(json "$work/last.json" 'd["onDuty"]')"
step "Off duty, then on duty"
api PATCH "/v1/businesses/$biz/voice-agents/$agent/off"; expect 200
[ "$(json "$work/last.json" 'd["onDuty"]')" = false ] || { echo "still on duty"; exit 1; }
api PATCH "/v1/businesses/$biz/voice-agents/$agent/on"; expect 200

step "Initiating an outbound call (the fake Twilio answers; its callee talks to the agent)"
api POST "/v1/businesses/$biz/voice-agents/$agent/call" -H 'Content-Type: application/json' -d '{"phoneNumber": "+15552345678", "name": "John Doe", "context": "Asked for a drain cleaning quote", "additionalInfo": "Saw our ad"}'
expect 200; call=$(json "$work/last.json" 'd["callId"]')
printf 'waiting for the call to end'
for _ in $(seq 900); do
  code=$(curl -s -o "$work/call.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$base/v1/businesses/$biz/calls/$call")
  case "$(json "$work/call.json" 'd.get("status")')" in SCHEDULED|IN_PROGRESS) printf '.'; sleep 0.2 ;; *) break ;; esac
done
echo
# the recording, summary and extracted fields are written after the call, by the same LLM
printf 'waiting for its recording, summary and structured data'
for _ in $(seq 300); do
  curl -s -o "$work/call.json" -H "Authorization: Bearer $token" "$base/v1/businesses/$biz/calls/$call"
  [ "$(json "$work/call.json" 'd.get("recordingUrl") is not None and d.get("summary") is not None')" = True ] && break
  printf '.'; sleep 0.2
done
echo

step "Call history: the call with its transcript"
api GET "/v1/businesses/$biz/calls?type=OUTBOUND&orderBy[field]=startedAt&orderBy[direction]=desc"; expect 200
api GET "/v1/businesses/$biz/calls/$call"; expect 200
python3 - "$work/last.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"status={c['status']} endedReason={c['endedReason']} durationMs={c['durationMs']} recordingUrl={c['recordingUrl']}")
print("transcript:")
print("  " + (c["transcript"] or "").replace("\n", "\n  "))
print(f"summary: {c['summary']}")
print(f"structuredData: {json.dumps(c['structuredData'])}")
lines = (c["transcript"] or "").splitlines()
ok = c["status"] == "COMPLETED" and any(l.startswith("Agent:") for l in lines) and any(l.startswith("Caller:") for l in lines)
if not ok:
    sys.exit("seed-walkthrough: expected a COMPLETED call whose transcript has both the agent's and the caller's words")
if not c["recordingUrl"]:
    sys.exit("seed-walkthrough: the call has no recording")
EOF
echo "fake Twilio's view of the call:"; tail -n +2 "$work/twilio.out"
step "The recording (two channels: caller, agent)"
printf '$ curl %s/v1/businesses/%s/calls/%s/recording -o call.wav\n' "$base" "$biz" "$call"
code=$(curl -s -o "$work/call.wav" -w '%{http_code}' -H "Authorization: Bearer $token" "$base/v1/businesses/$biz/calls/$call/recording")
expect 200
python3 -c 'import sys, wave; w = wave.open(sys.argv[1]); print(f"{w.getnchannels()} channels, {w.getframerate()} Hz, {w.getnframes() / w.getframerate():.1f} s"); sys.exit(0 if w.getnchannels() == 2 and w.getnframes() > 0 else 1)' "$work/call.wav"
echo; echo "seed walk-through: OK"
