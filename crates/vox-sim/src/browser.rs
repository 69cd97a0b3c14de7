//! `vox sim --webrtc`: the caller as a browser, over WHIP (RFC 9725) and WebRTC (vox-webrtc's
//! client: Opus, ICE, DTLS-SRTP), saying the same script as a carrier call. There are no
//! marks and no clear: the agent's audio arrives paced in real time and stops when the server
//! stops sending it, so what the caller hears is what arrived, played as it arrives.
//!
//! An API agent's web call is placed with `--param callId=... --param token=...` (from
//! `POST .../web-call`); a file agent's with its WHIP URL alone, from a trusted address.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::{Instant, MissedTickBehavior};
use vox_core::AudioFrame;
use vox_webrtc::{ClientState, WebRtcClient};

use crate::call::{CallState, TICK};

/// How long ICE and DTLS may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the call; `Some((1000, reason))` when the server ended it.
pub(crate) async fn run(st: &mut CallState<'_>) -> anyhow::Result<Option<(u16, String)>> {
    let plan = st.plan();
    let (client, offer) = WebRtcClient::offer().await?;
    let http = reqwest::Client::new();
    let mut url =
        reqwest::Url::parse(&plan.url).with_context(|| format!("--url {:?}", plan.url))?;
    if let Some(call_id) = plan.params.get("callId") {
        url.query_pairs_mut().append_pair("callId", call_id);
    }
    let mut post = http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/sdp")
        .body(offer);
    if let Some(token) = plan.params.get("token") {
        post = post.bearer_auth(token);
    }
    let res = post
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = res.status();
    if status != reqwest::StatusCode::CREATED {
        let body = res.text().await.unwrap_or_default();
        bail!("the WHIP offer was refused: {status} {body}");
    }
    let session = res
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| url.join(l))
        .transpose()?
        .context("the WHIP answer has no Location")?;
    let answer = res.text().await?;
    let mut call = client.start(&answer)?;
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT,
        call.state.wait_for(|s| *s != ClientState::Connecting),
    )
    .await
    .is_ok_and(|s| s.is_ok_and(|s| *s == ClientState::Connected));
    if !connected {
        bail!("the call did not connect within {CONNECT_TIMEOUT:?}");
    }

    let started = st.begin();
    let mut tick = tokio::time::interval_at(started, TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut events_open = true;
    let ended_by_server = loop {
        tokio::select! {
            at = tick.tick() => {
                if Instant::now().duration_since(at) > TICK {
                    st.late_tick();
                }
                let samples = st.on_browser_tick(at);
                let frame = AudioFrame::from_slice(&samples)
                    .context("a caller frame is not 20 ms at 16 kHz")?;
                if call.speak.send(frame).await.is_err() {
                    break true;
                }
                if st.hanging_up() {
                    break false;
                }
            }
            heard = call.heard.recv() => match heard {
                Some(h) => st.on_agent_audio(h.frame.samples().to_vec(), Instant::from_std(h.at)),
                None => break true,
            },
            event = call.messages.recv(), if events_open => match event {
                // the page's events; `ended` is the server hanging up
                Some(text) => {
                    let ended = serde_json::from_str::<serde_json::Value>(&text)
                        .is_ok_and(|v| v["type"] == "ended");
                    if ended {
                        break true;
                    }
                }
                None => events_open = false,
            },
            changed = call.state.changed() => {
                if changed.is_err() || *call.state.borrow() == ClientState::Ended {
                    break true;
                }
            }
        }
    };
    if ended_by_server {
        // after the caller's last turn, the agent hanging up is how a call ends
        if !st.script_done() {
            st.error("the server ended the call before the caller's last turn".into());
        }
        return Ok(Some((1000, "the server ended the call".into())));
    }
    // the caller hangs up: DELETE on the session, as a WHIP client does
    let close = match http.delete(session.clone()).send().await {
        Ok(r) if r.status().is_success() => None,
        // the agent hung up as the caller did (its `ended` event lost with the connection)
        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
            Some((1000, "the server had ended the call".to_owned()))
        }
        Ok(r) => {
            st.error(format!("DELETE {session}: {}", r.status()));
            None
        }
        Err(e) => {
            st.error(format!("DELETE {session}: {e}"));
            None
        }
    };
    let _ = call.hangup.send(()).await;
    Ok(close)
}
