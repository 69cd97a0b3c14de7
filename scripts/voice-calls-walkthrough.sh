#!/usr/bin/env bash
# Seed 004 (the Voice Calls API) with curl against a real `vox serve` on loopback, with no
# carrier or model account: a campaign with a post-call survey calls five numbers through
# `vox-fake twilio` (one busy on its first call and retried, one that never answers, one that
# answers the survey on the keypad, one by voice, one that hangs up before it); the local
# Whisper hears the callees and Piper speaks the agent (run `vox models fetch` first), and
# `vox-fake openai` is the language model, scripted to end each call. Seed 004 then lists the
# campaign's calls with their outcomes and survey (EPA) results, and a call's recording link
# downloads without a token until it expires.
#
# Usage: scripts/voice-calls-walkthrough.sh [--release]   (CI runs it after the tests)
# Every request is printed with its answer; the script fails on the first unexpected one.
walkthrough=voice-calls-walkthrough
. "$(dirname "$0")/walkthrough-lib.sh"

# the callees' spoken survey answers, in Piper's voice
"$vox" say "I would give it a four." -o "$work/four.wav" >/dev/null
"$vox" say "Two, yes it was." -o "$work/two.wav" >/dev/null
bye=tests/data/audio/bye-1.wav
ann=+15552345670 bo=+15552345671 cy=+15552345672 di=+15552345673 ed=+15552345674
# the carrier: every callee says goodbye to the agent, then Cy presses 4 and 2, Di says four
# and two; Bo is busy the first time, Ed never picks up
fake_twilio --turn "$bye" --busy-once "$bo" --unanswered "$ed" \
  --callee "$cy=$bye,press:4,press:2" --callee "$di=$bye,$work/four.wav,$work/two.wav"
# the language model ends every call when the callee has spoken, which starts the survey
fake_openai --otherwise '{"text": "Thanks for your time.", "toolCalls": [{"name": "endCall", "arguments": {}}]}'

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
# short-lived recording links, to see one refused once expired (the seed's default is 900)
signed_link_ttl_secs = 8
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
step "vox admin create: an organization, a business and an API client"
"$vox" admin create --config "$work/vox.toml" --org Acme --business "Acme Plumbing" --phone +15125550100 | tee "$work/creds.json"
biz=$(json "$work/creds.json" 'd["businessId"]')
serve

step "A token with the scopes of seed 004 (voice:read, audio:download), campaigns and agents"
token "voice:read audio:download campaigns:read campaigns:write voice-agents:create voice-agents:read voice-agents:update"

step "An OUTBOUND agent, deployed"
api POST "/v1/businesses/$biz/voice-agents" -H 'Content-Type: application/json' -d '{"name": "Visit follow-up", "type": "OUTBOUND",
  "conversationFlow": "Ask the customer how the plumber'"'"'s visit went, then end the call.", "firstMessage": "Hi, this is Acme Plumbing about your visit."}'
expect 201; agent=$(json "$work/last.json" 'd["id"]')
api POST "/v1/businesses/$biz/voice-agents/$agent/deploy"; expect 200

step "A campaign of five numbers with a two-question survey"
cat >"$work/campaign.json" <<EOF
{"name": "Visit follow-ups", "agentId": "$agent", "concurrency": 2, "callsPerMinute": 60,
 "maxAttempts": 2, "retryAfterSecs": 2, "callingWindow": {"startTime": "00:00", "endTime": "24:00"},
 "contacts": [{"phoneNumber": "$ann", "name": "Ann"}, {"phoneNumber": "$bo", "name": "Bo"},
              {"phoneNumber": "$cy", "name": "Cy"}, {"phoneNumber": "$di", "name": "Di"},
              {"phoneNumber": "$ed", "name": "Ed"}],
 "survey": {"questions": [{"text": "How satisfied were you with the visit?", "answerType": "voice", "maxScore": 5},
                          {"text": "Was the problem fixed? One for no, two for yes.", "answerType": "voice", "maxScore": 2}],
            "questionTimeoutSecs": 10}}
EOF
api POST "/v1/businesses/$biz/campaigns" -H 'Content-Type: application/json' -d "@$work/campaign.json"
expect 201; campaign=$(json "$work/last.json" 'd["id"]')

step "The campaign runs: its progress until it completes"
state=""
for _ in $(seq 900); do
  curl -s -o "$work/c.json" -H "Authorization: Bearer $token" "$base/v1/businesses/$biz/campaigns/$campaign"
  now="$(json "$work/c.json" 'd["state"]') $(json "$work/c.json" 'd["progress"]')"
  [ "$now" = "$state" ] || { echo "$(date +%T) $now"; state=$now; }
  [ "$(json "$work/c.json" 'd["state"]')" = completed ] && break
  sleep 0.2
done
[ "$(json "$work/c.json" 'd["state"]')" = completed ] || fail "the campaign did not complete"
api GET "/v1/businesses/$biz/campaigns/$campaign/contacts"; expect 200
cp "$work/last.json" "$work/contacts.json"
python3 - "$work/contacts.json" "$walkthrough" <<'PY'
import json, sys
got = {k["name"]: (k["state"], k["attempts"]) for k in json.load(open(sys.argv[1]))["items"]}
want = {"Ann": ("done", 1), "Bo": ("done", 2), "Cy": ("done", 1), "Di": ("done", 1), "Ed": ("failed", 2)}
if got != want:
    sys.exit(f"{sys.argv[2]}: contacts (state, attempts) {got}, expected {want}")
PY

step "Seed 004: the campaign's calls, with their outcomes and survey results"
api GET "/api/v1/voice-calls?campaignId=$campaign&pageSize=20"; expect 200
cp "$work/last.json" "$work/calls.json"
python3 - "$work/calls.json" "$work/contacts.json" "$walkthrough" <<'PY'
import json, sys
page, contacts, me = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
def fail(why):
    sys.exit(f"{me}: {why}")
# seed 004's calls carry no numbers: each contact's last call is known by its id
# (Vox's call_... is seed 004's vc_...)
whose = {k["lastCallId"].replace("call_", "vc_", 1): k["name"] for k in contacts["items"]}
calls = page["items"]
print(f"{'call':30} {'contact':9} {'state':10} {'outcome':11} {'talk':>5}  survey")
for c in calls:
    e = c["epaResults"] or {}
    survey = f"{e['state']}, {e['completionReason']}, {e['questionsAnswered']}/{e['totalQuestions']} answered, score {e['calculatedScore']}" if e else "-"
    print(f"{c['id']:30} {whose.get(c['id'], '(earlier)'):9} {c['state']:10} {c['outcome'] or '-':11} {c['talkTimeSeconds']:5}  {survey}")
if page["totalCount"] != 7 or any(c["campaignId"] != calls[0]["campaignId"] for c in calls):
    fail(f"expected 7 calls tagged with the campaign, got {page['totalCount']}")
if sorted(c["state"] for c in calls) != ["Busy", "Completed", "Completed", "Completed", "Completed", "NoAnswer", "NoAnswer"]:
    fail("expected 4 completed calls, 1 busy (Bo's first) and 2 unanswered (Ed's)")
last = {whose[c["id"]]: c for c in calls if c["id"] in whose}
if (last["Ed"]["state"], last["Ed"]["outcome"]) != ("NoAnswer", "NotReached"):
    fail("Ed: expected not reached")
for who in ("Cy", "Di"):
    e = last[who]["epaResults"]
    if (last[who]["state"], e["state"], e["completionReason"], e["questionsAnswered"], e["calculatedScore"]) != ("Completed", "Completed", "AllAnswered", 2, 90.0):
        fail(f"{who}: expected the survey answered 4 of 5 and 2 of 2 (90.0): {e}")
    print(f"{who}'s answers:", [r["answer"] for r in e["responses"]])
if [r["answer"] for r in last["Cy"]["epaResults"]["responses"]] != ["4", "2"]:
    fail("Cy: expected the keys 4 and 2 as the answers")
for who in ("Ann", "Bo"):
    e = last[who]["epaResults"]
    if (e["completionReason"], e["questionsAnswered"]) != ("HangUp", 0):
        fail(f"{who}: expected the survey cut short by the hang-up: {e}")
PY
di_call=$(json "$work/contacts.json" '[k["lastCallId"] for k in d["items"] if k["name"] == "Di"][0].replace("call_", "vc_", 1)')
step "One call: its transcript (HH:MM:SS) and /epa-results"
api GET "/api/v1/voice-calls/$di_call"; expect 200
python3 -c 'import json,sys
for line in json.load(open(sys.argv[1]))["transcript"]:
    print("  %s %-8s %s" % (line["timestamp"], line["role"], line["text"]))' "$work/last.json"
api GET "/api/v1/voice-calls/$di_call/epa-results"; expect 200
step "Filters: state=Busy, and a bad pageSize (400, problem details)"
api GET "/api/v1/voice-calls?campaignId=$campaign&state=Busy"; expect 200
[ "$(json "$work/last.json" 'd["totalCount"]')" = 1 ] || fail "expected one busy call"
api GET "/api/v1/voice-calls?pageSize=500"; expect 400

step "The recording link: it downloads without a token, is refused altered, then expired"
api GET "/api/v1/voice-calls/$di_call/recording-url"; expect 200
link=$(json "$work/last.json" 'd["recordingUrl"]')
printf '$ curl %s   (no token)\n' "$link"
code=$(curl -s -o "$work/rec.wav" -w '%{http_code}' "$link"); echo "$code $(wc -c <"$work/rec.wav") bytes, $(head -c 4 "$work/rec.wav")"
[ "$code" = 200 ] && [ "$(head -c 4 "$work/rec.wav")" = RIFF ] || fail "expected the WAV"
printf '$ curl %s   (another call id in the path)\n' "${link/$di_call/vc_0}"
code=$(curl -s -o "$work/last.json" -w '%{http_code}' "${link/$di_call/vc_0}"); echo "$code $(cat "$work/last.json")"
expect 403
expires=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["se"][0])' "$link")
wait_s=$((expires - $(date +%s) + 1)); [ "$wait_s" -gt 0 ] && { echo "waiting ${wait_s}s for it to expire"; sleep "$wait_s"; }
printf '$ curl %s   (expired)\n' "$link"
code=$(curl -s -o "$work/last.json" -w '%{http_code}' "$link"); echo "$code $(cat "$work/last.json")"
expect 403
echo; echo "voice-calls walk-through: OK"
