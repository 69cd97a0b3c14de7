#!/usr/bin/env bash
# Seed 003 (the agent-call and CRM API) with curl against a real `vox serve` on loopback, with
# no carrier or model account: `vox-fake twilio` answers the calls Vox places and speaks a
# callee turn (the local Whisper hears it, Piper speaks the agent: run `vox models fetch`
# first), and `vox-fake openai` is the model, scripted to end each call and to say which
# objectives were met. Custom fields and contacts, a conversation (and bulk), an ad hoc
# StartAgentCall whose objectives are reported, a stored agent's call with context variables,
# a task for an AI employee due in a few seconds that places its call, an external call
# logged, a custom field in use refused deletion (409) then deleted with force.
#
# Usage: scripts/crm-walkthrough.sh [--release]   (CI runs it after the tests)
# Every request is printed with its answer; the script fails on the first unexpected one.
walkthrough=crm-walkthrough
. "$(dirname "$0")/walkthrough-lib.sh"

fake_twilio --turn tests/data/audio/bye-1.wav
fake_openai --otherwise '{"text": "Thank you, goodbye!", "toolCalls": [{"name": "endCall", "arguments": {}}]}' \
  --extraction '{"objective_1": true, "objective_2": false}'

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
numbers = ["+15125550122"]
account_sid = "$sid"
auth_token = "$auth"
api_base = "http://127.0.0.1:$twilio_port"
EOF
step "vox admin create: an organization, a business, an API client and an API key"
"$vox" admin create --config "$work/vox.toml" --org Acme --business "Acme Plumbing" --phone +15125550100 >"$work/creds.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["clientSecret"]=d["apiKey"]="…"; print(json.dumps(d, indent=2))' "$work/creds.json"
biz=$(json "$work/creds.json" 'd["businessId"]')
key=$(json "$work/creds.json" 'd["apiKey"]')
serve
token
# seed 003's requests carry the business's API key
api_headers=(-H "X-API-Key: $key")
J=(-H 'Content-Type: application/json')
# poll PATH EXPR: GETs PATH until EXPR (Python over `d`) holds, at most a minute
poll() {
  for _ in $(seq 300); do
    curl -s -o "$work/poll.json" -H "X-API-Key: $key" "$base$1"
    [ "$(json "$work/poll.json" "bool($2)")" = true ] && return 0
    sleep 0.2
  done
  fail "waited a minute for $1: $(cat "$work/poll.json")"
}

step "A wrong key is refused in the seed's error body"
code=$(curl -s -o "$work/last.json" -w '%{http_code}' -H "X-API-Key: vk_wrong" "$base/api/v1/contacts"); echo "$code $(cat "$work/last.json")"
expect 401

step "Custom fields: a LIST with two options, a NUMBER"
api POST /api/v1/custom-fields/definitions "${J[@]}" -d '{"entityType": "CONTACT", "fieldKey": "plan", "fieldType": "LIST", "fieldLabel": "Plan"}'
expect 200; plan=$(json "$work/last.json" 'd["id"]')
for v in gold silver; do
  api POST "/api/v1/custom-fields/definitions/$plan/options" "${J[@]}" -d "{\"definitionId\": $plan, \"value\": \"$v\"}"; expect 200
done
api POST /api/v1/custom-fields/definitions "${J[@]}" -d '{"entityType": "CONTACT", "fieldKey": "budget", "fieldType": "NUMBER"}'; expect 200
api GET "/api/v1/custom-fields/definitions?filterBy=entityType:CONTACT&sortBy=fieldKey=asc"; expect 200
api GET "/api/v1/custom-fields/definitions/$plan/options"; expect 200

step "Contacts: create, read, update, list, search"
api POST /api/v1/contacts "${J[@]}" -d '{"firstName": "Pedro", "lastName": "Gomez", "customFields": {"plan": "gold", "budget": 500},
  "addresses": [{"address": "+15552345678", "channelType": "PHONE"}, {"address": "pedro@example.com", "channelType": "EMAIL"}]}'
expect 200; pedro=$(json "$work/last.json" 'd["id"]')
api GET "/api/v1/contacts/$pedro"; expect 200
api PUT "/api/v1/contacts/$pedro" "${J[@]}" -d '{"companyPosition": "Owner"}'; expect 200
api POST /api/v1/contacts "${J[@]}" -d '{"firstName": "Ana", "phone": "+15552345679"}'; expect 200
ana=$(json "$work/last.json" 'd["id"]')
api GET "/api/v1/contacts?filterBy=lastName:gomez&sortBy=createdAt=desc&pageSize=10"; expect 200
[ "$(json "$work/last.json" 'd["totalCount"]')" = 1 ] || fail "expected Pedro by filterBy"
api POST /api/v1/contacts/search "${J[@]}" -d '{"filters": [{"field": "addresses.address", "operator": "eq", "value": "+15552345678"},
  {"field": "customFields.budget", "operator": "gte", "value": 100}], "sort": [{"field": "createdAt", "direction": "desc"}], "size": 20, "includeTotalCount": true}'
expect 200; [ "$(json "$work/last.json" 'd["totalCount"]')" = 1 ] || fail "expected Pedro by search"

step "Conversations: one by contact, a bulk create (a duplicate reported), a bulk update"
api POST /api/v1/conversations "${J[@]}" -d "{\"funnelId\": 1, \"contactId\": $pedro}"; expect 200
conv=$(json "$work/last.json" 'd["id"]')
api POST /api/v1/conversations/bulk "${J[@]}" -d "{\"conversations\": [{\"funnelId\": 1, \"contactId\": $pedro},
  {\"funnelId\": 1, \"contact\": {\"firstName\": \"Ana\", \"phones\": [\"+15552345679\"]}}]}"
expect 200
[ "$(json "$work/last.json" 'd["report"]["counts"]["duplicates"]')" = 1 ] || fail "expected one duplicate"
api PUT /api/v1/conversations/bulk "${J[@]}" -d "{\"conversations\": [{\"id\": $conv, \"funnelStatusId\": 2}]}"; expect 200

step "StartAgentCall, ad hoc: an agent made from objectives calls Pedro"
api POST /api/v2/calls "${J[@]}" -d '{"toPhoneNumber": "+15552345678", "objectives": ["Confirm the visit on Tuesday", "Get the gate code"],
  "constraints": ["Never discuss prices"], "personality": {"name": "Ana", "communicationStyle": "professional"},
  "contactInfo": {"firstName": "Pedro"}, "knowledgeBase": "Visits take two hours.", "maxDurationSeconds": 300,
  "provider": "vapi", "providerConfig": {"voice": {"provider": "11labs", "voiceId": "x"}}}'
expect 200; adhoc=$(json "$work/last.json" 'd["id"]')
printf 'waiting for the call and its objectives'
poll "/api/v1/calls/$adhoc" 'd["status"] == "completed" and d["metadata"]["results"][0]["met"] is not None'; echo
api GET "/api/v1/calls/$adhoc"; expect 200
python3 - "$work/last.json" "$walkthrough" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print("results:", c["metadata"]["results"], "ignored:", c["metadata"]["ignored"], "contactId:", c["contactId"])
if [r["met"] for r in c["metadata"]["results"]] != [True, False]:
    sys.exit(f"{sys.argv[2]}: expected the first objective met and the second not")
PY
api GET "/api/v1/calls/$adhoc/transcription"; expect 200
api GET "/api/v1/calls/$adhoc/recording"; expect 200
url=$(json "$work/last.json" 'd["url"]')
code=$(curl -s -o "$work/rec.wav" -w '%{http_code}' "$url"); echo "$ curl <recording url>: $code, $(wc -c <"$work/rec.wav") bytes"
[ "$code" = 200 ] && [ "$(head -c 4 "$work/rec.wav")" = RIFF ] || fail "expected the WAV without a token"

step "StartAgentCall by agent: a stored OUTBOUND agent with context variables"
printf '$ curl -X POST %s/v1/businesses/%s/voice-agents (Partner API) ...\n' "$base" "$biz"
curl -sf -H "Authorization: Bearer $token" "${J[@]}" -d '{"name": "Reminder", "type": "OUTBOUND",
  "conversationFlow": "Remind {{customerFirstName}} of the visit on {{day}}.", "firstMessage": "Hi {{customerFirstName}}, this is Acme."}' \
  "$base/v1/businesses/$biz/voice-agents" >"$work/agent.json"
agent=$(json "$work/agent.json" 'd["id"]')
curl -sf -X POST -H "Authorization: Bearer $token" "$base/v1/businesses/$biz/voice-agents/$agent/deploy" >/dev/null
api POST /api/v1/calls/agent "${J[@]}" -d "{\"voiceAgentId\": \"$agent\", \"to\": \"+15552345679\",
  \"contextVariables\": {\"customerFirstName\": \"Ana\", \"day\": \"Tuesday\"}, \"customData\": {\"ticket\": \"T-1\"}}"
expect 200; byagent=$(json "$work/last.json" 'd["id"]')
poll "/api/v1/calls/$byagent" 'd["status"] == "completed"'
api GET "/api/v1/calls/$byagent/transcription"; expect 200
grep -q "Hi Ana, this is Acme" "$work/last.json" || fail "expected the greeting filled from contextVariables"

step "A task for the AI employee, due in three seconds: it places its call"
due=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
api POST /api/v1/tasks "${J[@]}" -d "{\"context\": {\"conversationId\": $conv}, \"objective\": \"Confirm the gate code\",
  \"createdBy\": {\"id\": \"user-1\", \"type\": \"user\"}, \"assignedTo\": {\"id\": \"$agent\", \"type\": \"ai_employee\"}, \"dueDate\": \"$due\"}"
expect 200; task=$(json "$work/last.json" 'd["id"]')
printf 'waiting for the task to be called and completed'
poll "/api/v1/tasks/$task" 'd["status"] == "completed"'; echo
api GET "/api/v1/tasks/$task"; expect 200
[ "$(json "$work/last.json" 'd["callId"] is not None')" = true ] || fail "expected the task's call"
api GET "/api/v1/tasks?assignedToType=ai_employee&status=completed&limit=10"; expect 200
api PUT "/api/v1/tasks/$task" "${J[@]}" -d '{"objective": "Confirm the gate code (done)"}'; expect 200

step "CreateCall: a call made elsewhere, logged; GetCall"
api POST /api/v1/calls "${J[@]}" -d '{"status": "completed", "userId": null, "metadata": {"source": "pbx"}, "from": "+15552345679",
  "to": "+15125550100", "duration": 42, "direction": "incoming", "startTime": "2024-02-15T10:00:00Z"}'
expect 200; ext=$(json "$work/last.json" 'd["id"]')
api GET "/api/v1/calls/$ext"; expect 200
[ "$(json "$work/last.json" 'd["contactId"]')" = "$ana" ] || fail "expected the call linked to Ana"

step "A custom field in use: deleting it is 409, then with force=true"
api DELETE "/api/v1/custom-fields/definitions/$plan"; expect 409
api DELETE "/api/v1/custom-fields/definitions/$plan?force=true"; expect 200
api GET "/api/v1/contacts/$pedro"; expect 200
[ "$(json "$work/last.json" '"plan" in d["customFields"]')" = false ] || fail "expected plan gone from Pedro"

step "Rules: a call with no objectives is 400 naming the field"
api POST /api/v2/calls "${J[@]}" -d '{"toPhoneNumber": "+15552345678", "objectives": []}'; expect 400
step "Deleting: the task, then a contact with its conversations"
api DELETE "/api/v1/tasks/$task"; expect 200
api DELETE "/api/v1/contacts/$ana"; expect 200
echo; echo "crm walk-through: OK"
