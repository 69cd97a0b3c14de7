#!/usr/bin/env bash
# Seed 000 (the Voice AI API) with curl against a real `vox serve` on loopback, with no
# carrier or model account: `vox-fake twilio` rings the agent's number and speaks two caller
# turns (the local Whisper transcribes them, Piper speaks the agent: run `vox models fetch`
# first), and `vox-fake openai` is the language model, its decisions scripted so the actions
# run the same every time. An agent is made through seed 000 and read through seed 002, put
# on a pool number, given three actions, called; its call log shows the actions that ran.
#
# Usage: scripts/voice-ai-walkthrough.sh   (CI runs it after the tests)
# Every request is printed with its answer; the script fails on the first unexpected one.
walkthrough=voice-ai-walkthrough
. "$(dirname "$0")/walkthrough-lib.sh"
# seed 000 requires its Version header
api_headers=(-H "Version: 2021-04-15")
number="+15125550122"

# the carrier: a fake Twilio whose caller waits for the greeting, then speaks two turns
fake_twilio --turn tests/data/audio/book-1.wav --turn tests/data/audio/bye-1.wav
# the language model: save the caller's e-mail, start the quote workflow, say goodbye
cat >"$work/replies.json" <<'EOF'
[{"toolCalls": [{"name": "caller_email", "arguments": {"value": "dana@example.com"}}]},
 {"text": "Thanks, I have your e-mail address."},
 {"toolCalls": [{"name": "start_quote", "arguments": {"details": "a drain cleaning quote"}}]},
 {"text": "Your quote is on its way. Goodbye!", "toolCalls": [{"name": "endCall", "arguments": {}}]}]
EOF
fake_openai --replies "$work/replies.json" --extraction '{"field_budget": "500 dollars"}'

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
[voice_agents]
llm = { baseUrl = "http://127.0.0.1:$ai_port/v1", model = "scripted" }
[[telephony.pools]]
carrier = "twilio"
numbers = ["$number"]
account_sid = "$sid"
auth_token = "$auth"
api_base = "http://127.0.0.1:$twilio_port"
EOF
step "vox admin create: an organization, a location (business) and an API client"
"$vox" admin create --config "$work/vox.toml" --org Acme --business "Acme Plumbing" | tee "$work/creds.json"
biz=$(json "$work/creds.json" 'd["businessId"]')
serve

step "A token with seed 000's scopes"
token "voice-ai-agents.readonly voice-ai-agents.write voice-ai-agent-goals.readonly voice-ai-agent-goals.write voice-ai-dashboard.readonly voice-agents:read"

step "POST /voice-ai/agents: an agent answering on a pool number"
api POST /voice-ai/agents -H 'Content-Type: application/json' -d "{\"locationId\": \"$biz\", \"agentName\": \"Front Desk\",
  \"agentPrompt\": \"Take the caller's e-mail address and start a quote when they ask for one.\",
  \"welcomeMessage\": \"Hi, this is Acme Plumbing.\", \"inboundNumber\": \"$number\", \"maxCallDuration\": 300,
  \"patienceLevel\": \"medium\", \"timezone\": \"America/Chicago\"}"
expect 201; agent=$(json "$work/last.json" 'd["id"]')
step "The same agent through seed 002"
printf '$ curl %s/v1/businesses/%s/voice-agents/%s\n' "$base" "$biz" "$agent"
curl -sf -H "Authorization: Bearer $token" "$base/v1/businesses/$biz/voice-agents/$agent" >"$work/p.json"
echo "name=$(json "$work/p.json" 'd["name"]') phoneNumber=$(json "$work/p.json" 'd["phoneNumber"]') onDuty=$(json "$work/p.json" 'd["onDuty"]') maxCallDuration=$(json "$work/p.json" 'd["maxCallDuration"]')"
[ "$(json "$work/p.json" 'd["phoneNumber"]')" = "$number" ] || { echo "not deployed on $number"; exit 1; }

step "POST /voice-ai/actions: three actions"
api POST /voice-ai/actions -H 'Content-Type: application/json' -d "{\"agentId\": \"$agent\", \"locationId\": \"$biz\", \"actionType\": \"IN_CALL_DATA_EXTRACTION\", \"name\": \"Caller email\",
  \"actionParameters\": {\"contactFieldId\": \"field_email\", \"description\": \"e-mail address\", \"examples\": [\"dana@example.com\"]}}"
expect 201; email_action=$(json "$work/last.json" 'd["id"]')
api POST /voice-ai/actions -H 'Content-Type: application/json' -d "{\"agentId\": \"$agent\", \"locationId\": \"$biz\", \"actionType\": \"WORKFLOW_TRIGGER\", \"name\": \"Start quote\",
  \"actionParameters\": {\"triggerPrompt\": \"When the caller wants a quote\", \"triggerMessage\": \"I will start that now.\", \"workflowId\": \"wf_quote\"}}"
expect 201
api POST /voice-ai/actions -H 'Content-Type: application/json' -d "{\"agentId\": \"$agent\", \"locationId\": \"$biz\", \"actionType\": \"DATA_EXTRACTION\", \"name\": \"Budget\",
  \"actionParameters\": {\"contactFieldId\": \"field_budget\", \"description\": \"the caller's budget\", \"examples\": [\"500 dollars\"]}}"
expect 201
api GET "/voice-ai/actions/$email_action?locationId=$biz"; expect 200
step "PATCH /voice-ai/agents/{id}, then GET it with its actions"
api PATCH "/voice-ai/agents/$agent?locationId=$biz" -H 'Content-Type: application/json' -d '{"reminderAfterIdleTimeSeconds": 10}'
expect 200
api GET "/voice-ai/agents/$agent?locationId=$biz"; expect 200
[ "$(json "$work/last.json" 'len(d["actions"])')" = 3 ] || { echo "expected 3 actions"; exit 1; }
api GET "/voice-ai/agents?locationId=$biz&query=front&pageSize=10"; expect 200

step "Rules: no Version header (400), pageSize over 50 (422)"
printf '$ curl %s/voice-ai/agents?locationId=%s   (no Version header)\n' "$base" "$biz"
code=$(curl -s -o "$work/last.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$base/voice-ai/agents?locationId=$biz"); echo "$code $(cat "$work/last.json")"
expect 400
api GET "/voice-ai/agents?locationId=$biz&pageSize=51"; expect 422

step "A caller rings the number (the fake Twilio), talks, the agent runs its actions"
printf '$ curl -X POST %s/fake/ring -d {"voxBase", "from", "to"}\n' "http://127.0.0.1:$twilio_port"
curl -sf -X POST -H 'Content-Type: application/json' -d "{\"voxBase\": \"$base\", \"from\": \"+14155550123\", \"to\": \"$number\"}" "http://127.0.0.1:$twilio_port/fake/ring"; echo
printf 'waiting for the call, its summary and data'
call=""
for _ in $(seq 600); do
  curl -s -o "$work/calls.json" -H "Authorization: Bearer $token" -H "Version: 2021-04-15" "$base/voice-ai/dashboard/call-logs?locationId=$biz"
  if [ "$(json "$work/calls.json" 'd["total"]')" = 1 ] && [ -n "$(json "$work/calls.json" 'd["callLogs"][0]["summary"]')" ]; then
    call=$(json "$work/calls.json" 'd["callLogs"][0]["id"]'); break
  fi
  printf '.'; sleep 0.2
done
echo
[ -n "$call" ] || { echo "the call did not end with its summary"; exit 1; }

step "GET /voice-ai/dashboard/call-logs: the call with the actions that ran"
api GET "/voice-ai/dashboard/call-logs?locationId=$biz&agentId=$agent&actionType=WORKFLOW_TRIGGER&sortBy=createdAt&sort=descend"; expect 200
api GET "/voice-ai/dashboard/call-logs/$call?locationId=$biz"; expect 200
python3 - "$work/last.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
ran = [a["actionType"] for a in c["executedCallActions"]]
print(f"duration={c['duration']}s fromNumber={c['fromNumber']} trialCall={c['trialCall']}")
print(f"executedCallActions: {ran}")
print(f"extractedData: {json.dumps(c['extractedData'])}")
print("transcript:\n  " + c["transcript"].replace("\n", "\n  "))
if ran != ["IN_CALL_DATA_EXTRACTION", "WORKFLOW_TRIGGER", "DATA_EXTRACTION"]:
    sys.exit("voice-ai-walkthrough: expected the three actions to have run, in order")
if c["extractedData"].get("field_email") != "dana@example.com" or c["extractedData"].get("field_budget") != "500 dollars":
    sys.exit("voice-ai-walkthrough: expected the e-mail kept during the call and the budget extracted after it")
lines = c["transcript"].splitlines()
if not (any(l.startswith("bot:") for l in lines) and any(l.startswith("human:") for l in lines)):
    sys.exit("voice-ai-walkthrough: expected both sides in the transcript")
EOF
step "DELETE an action, then the agent"
api DELETE "/voice-ai/actions/$email_action?locationId=$biz&agentId=$agent"; expect 204
api DELETE "/voice-ai/agents/$agent?locationId=$biz"; expect 204
api GET "/voice-ai/agents/$agent?locationId=$biz"; expect 404
echo; echo "voice-ai walk-through: OK"
