//! A browser-like caller (the crate's own client, full ICE) against the server (ICE-lite on
//! its shared socket), over real UDP on loopback: DTLS-SRTP comes up, Opus flows both ways
//! paced in real time, marks come back after their audio, a clear stops the audio, the data
//! channel carries text, and a hang-up ends both sides.

use std::time::{Duration, Instant};

use tokio::time::timeout;
use vox_core::{AudioFrame, FRAME_SAMPLES};
use vox_webrtc::{
    ClientState, Command, EndReason, Inbound, PLAYOUT_DELAY, WebRtcClient, WebRtcConfig,
    WebRtcServer,
};

fn tone(frames: usize, hz: f32) -> Vec<AudioFrame> {
    (0..frames)
        .map(|f| {
            let s: Vec<i16> = (0..FRAME_SAMPLES)
                .map(|i| {
                    let t = (f * FRAME_SAMPLES + i) as f32 / 16_000.0;
                    ((t * hz * std::f32::consts::TAU).sin() * 9000.0) as i16
                })
                .collect();
            AudioFrame::from_slice(&s).expect("frame")
        })
        .collect()
}

fn loud(f: &AudioFrame) -> bool {
    let e: f64 = f
        .samples()
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / FRAME_SAMPLES as f64;
    e.sqrt() > 1500.0
}

async fn server() -> WebRtcServer {
    WebRtcServer::bind(WebRtcConfig {
        ports: 0..=0,
        ..WebRtcConfig::default()
    })
    .await
    .expect("bind")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_carries_audio_both_ways_with_marks_clear_and_hangup() {
    let server = server().await;
    let (client, offer) = WebRtcClient::offer().await.expect("offer");
    let (answer, mut call) = server.answer(&offer).expect("answer");
    assert!(answer.contains("a=ice-lite"), "{answer}");
    assert!(
        answer.contains(&format!("{} typ host", server.candidate().port())),
        "the answer carries the shared socket's candidate: {answer}"
    );
    let mut caller = client.start(&answer).expect("start");

    // connected on both sides
    let first = timeout(Duration::from_secs(10), call.inbound.recv())
        .await
        .expect("connects in time");
    assert!(matches!(first, Some(Inbound::Connected)), "{first:?}");
    timeout(
        Duration::from_secs(5),
        caller.state.wait_for(|s| *s == ClientState::Connected),
    )
    .await
    .expect("client connects")
    .expect("state");

    // the caller speaks a second of tone: the server hears it, in order, in real time
    for f in tone(50, 440.0) {
        caller.speak.send(f).await.expect("speak");
    }
    let begun = Instant::now();
    let mut heard_loud = 0;
    while heard_loud < 40 {
        match timeout(Duration::from_secs(3), call.inbound.recv()).await {
            Ok(Some(Inbound::Audio(f))) => heard_loud += usize::from(loud(&f)),
            Ok(Some(_)) => {}
            other => panic!("the caller's audio stopped after {heard_loud} loud frames: {other:?}"),
        }
    }
    assert!(
        begun.elapsed() >= Duration::from_millis(700),
        "paced in real time, not a burst: {:?}",
        begun.elapsed()
    );

    // the agent speaks 40 frames then a mark: the caller hears them 20 ms apart, and the
    // mark comes back after the last has been sent, plus the playout estimate
    let sent_at = Instant::now();
    for f in tone(40, 300.0) {
        call.commands.send(Command::Audio(f)).await.expect("audio");
    }
    call.commands
        .send(Command::Mark("m1".into()))
        .await
        .expect("mark");
    let mut agent_frames = Vec::new();
    let mark_at = loop {
        tokio::select! {
            h = caller.heard.recv() => {
                let h = h.expect("heard");
                if loud(&h.frame) { agent_frames.push(h.at); }
            }
            m = call.inbound.recv() => match m {
                Some(Inbound::Mark(name)) => { assert_eq!(name, "m1"); break Instant::now(); }
                Some(Inbound::Audio(_) | Inbound::Connected | Inbound::Message(_)) => {}
                other => panic!("{other:?}"),
            },
            () = tokio::time::sleep(Duration::from_secs(5)) => panic!("no mark; heard {}", agent_frames.len()),
        }
    };
    assert!(
        agent_frames.len() >= 35,
        "heard {} of 40",
        agent_frames.len()
    );
    let span = agent_frames[agent_frames.len() - 1].duration_since(agent_frames[0]);
    assert!(
        span >= Duration::from_millis(600),
        "the agent's audio is paced, not burst: {span:?}"
    );
    assert!(
        mark_at.duration_since(sent_at)
            >= Duration::from_millis(780) + PLAYOUT_DELAY - Duration::from_millis(20),
        "the mark waits for its audio: {:?}",
        mark_at.duration_since(sent_at)
    );

    // a clear cuts the agent off: of 2 s queued, little is heard
    while caller.heard.try_recv().is_ok() {}
    for f in tone(100, 300.0) {
        call.commands.send(Command::Audio(f)).await.expect("audio");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    call.commands.send(Command::Clear).await.expect("clear");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut after = 0;
    while let Ok(h) = caller.heard.try_recv() {
        after += usize::from(loud(&h.frame));
    }
    assert!(
        (5..=20).contains(&after),
        "about 200 ms heard before the clear, nothing after: {after} frames"
    );

    // text on the data channel
    call.commands
        .send(Command::Send(r#"{"type":"hello"}"#.into()))
        .await
        .expect("send");
    let text = timeout(Duration::from_secs(3), caller.messages.recv())
        .await
        .expect("message in time");
    assert_eq!(text.as_deref(), Some(r#"{"type":"hello"}"#));

    // Vox hangs up: the call ends on both sides
    call.commands.send(Command::Hangup).await.expect("hangup");
    let end = loop {
        match timeout(Duration::from_secs(3), call.inbound.recv()).await {
            Ok(Some(Inbound::Ended(r))) => break r,
            Ok(Some(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(end, EndReason::HungUp);
}

#[tokio::test]
async fn offers_without_opus_audio_or_not_sdp_are_refused() {
    let server = server().await;
    let err = server.answer("hello").expect_err("not SDP");
    assert!(err.to_string().contains("SDP"), "{err}");
    let video_only = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n";
    let err = server.answer(video_only).expect_err("no audio");
    assert!(err.to_string().contains("Opus"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_never_connects_is_dropped_after_the_timeout() {
    let server = WebRtcServer::bind(WebRtcConfig {
        ports: 0..=0,
        connect_timeout: Duration::from_millis(500),
        ..WebRtcConfig::default()
    })
    .await
    .expect("bind");
    let (_client, offer) = WebRtcClient::offer().await.expect("offer");
    let (_answer, mut call) = server.answer(&offer).expect("answer");
    // the client never starts: no checks arrive
    let end = timeout(Duration::from_secs(5), call.inbound.recv())
        .await
        .expect("ends in time");
    assert!(
        matches!(end, Some(Inbound::Ended(EndReason::ConnectTimeout))),
        "{end:?}"
    );
}
