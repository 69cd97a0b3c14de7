//! A browser call as a call: vox-webrtc's [`BrowserCall`] bridged to a [`CallActor`], as the
//! carrier stream bridges a WebSocket.

use tokio::sync::mpsc;
use tracing::{Instrument as _, info};
use vox_call::{Admission, AgentSession, CallerFrame, OutboundMsg, TransportEvent};
use vox_core::CallId;
use vox_webrtc::{BrowserCall, Command, EndReason, Inbound};

use crate::MediaState;

/// Runs the call to its end: waits for the browser to connect, then bridges the caller's
/// frames (through the VAD) and the marks into the actor, and the actor's output into the
/// browser call.
pub(crate) async fn run(
    call_id: CallId,
    session: AgentSession,
    mut call: BrowserCall,
    mut hangup: mpsc::Receiver<()>,
    state: MediaState,
    admission: Admission,
) {
    // nothing runs (no greeting spoken into the void) until media flows
    loop {
        let inbound = tokio::select! {
            i = call.inbound.recv() => i,
            _ = hangup.recv() => {
                let _ = call.commands.send(Command::Hangup).await;
                Some(Inbound::Ended(EndReason::Closed))
            }
        };
        let why = match inbound {
            Some(Inbound::Connected) => break,
            Some(Inbound::Ended(why)) => why,
            None => EndReason::HungUp,
            Some(_) => continue,
        };
        info!(
            reason = why.kind(),
            "browser call ended before it connected"
        );
        metrics::counter!("vox_webrtc_calls_not_connected_total", "reason" => why.kind())
            .increment(1);
        return;
    }
    info!("browser call connected");
    let cfg = &state.config;
    let mut session = session;
    // the page hears of the call as it happens, then the call's own observer (its record)
    let observer: Option<std::sync::Arc<dyn vox_call::CallObserver>> =
        Some(std::sync::Arc::new(crate::page_events::PageEvents {
            commands: call.commands.clone(),
            inner: session.services.observer.take(),
        }));
    session.services.observer = observer.clone();
    let crate::StartedCall {
        audio: audio_tx,
        events: events_tx,
        outbound: mut out_rx,
        task: actor_task,
    } = crate::start_call(
        call_id,
        session,
        cfg,
        cfg.send_ahead,
        admission.cancel.clone(),
    );
    let commands = call.commands.clone();
    // the actor's output, into the browser call
    let writer = tokio::spawn(
        async move {
            while let Some(msg) = out_rx.recv().await {
                let cmd = match msg {
                    OutboundMsg::Audio(f) => Command::Audio(f),
                    OutboundMsg::Mark(name) => Command::Mark(name),
                    OutboundMsg::Clear => Command::Clear,
                    OutboundMsg::Hangup { .. } => Command::Hangup,
                };
                let last = matches!(cmd, Command::Hangup);
                if commands.send(cmd).await.is_err() || last {
                    break;
                }
            }
        }
        .in_current_span(),
    );
    let mut vad = state.vad.create();
    let end = loop {
        let inbound = tokio::select! {
            i = call.inbound.recv() => i,
            // the page hung up (WHIP DELETE): for the call, the caller hung up
            _ = hangup.recv() => Some(Inbound::Ended(EndReason::Closed)),
        };
        match inbound {
            Some(Inbound::Audio(frame)) => {
                let vad = vad.process(&frame);
                audio_tx.push(CallerFrame { frame, vad });
            }
            Some(Inbound::Mark(name)) => {
                if events_tx.send(TransportEvent::Mark(name)).await.is_err() {
                    break None; // the actor is gone
                }
            }
            Some(Inbound::Connected | Inbound::Message(_)) => {}
            Some(Inbound::Ended(why)) => break Some(why),
            None => break Some(EndReason::HungUp),
        }
    };
    if let Some(why) = end {
        info!(reason = why.kind(), "the browser call ended");
        // the browser left: tell the actor, as a carrier's stop does
        if why != EndReason::HungUp {
            let _ = events_tx.send(TransportEvent::Stop).await;
        }
    }
    drop(audio_tx);
    drop(events_tx);
    let result = actor_task.await;
    if let Some(o) = &observer {
        o.ended(result.as_ref().ok());
    }
    match result {
        Ok(summary) => info!(
            end = summary.end.kind(),
            transcript_lines = summary.transcript.len(),
            frames_in = summary.frames_in,
            frames_out = summary.frames_out,
            turns = summary.turns,
            barge_ins = summary.barge_ins,
            "call ended"
        ),
        Err(e) => {
            tracing::error!(error = %e, "call actor failed");
            metrics::counter!("vox_call_panics_total").increment(1);
        }
    }
    // whatever ended it, the browser is hung up (after the page heard how it ended)
    let _ = call.commands.send(Command::Hangup).await;
    writer.abort();
    // the peer's last counts are in once its channel closes (it closes at once on hang-up)
    let closed = tokio::time::timeout(PEER_CLOSE_WAIT, async {
        while call.inbound.recv().await.is_some() {}
    })
    .await;
    if closed.is_err() {
        tracing::warn!("the browser call's peer did not close in time");
    }
    record_received(&call.received.borrow());
    drop(admission);
}

/// How long a hung-up browser call's peer may take to close (it sends DTLS close alerts).
const PEER_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What became of the caller's packets, into the log and metrics: the audio the recognizer
/// heard is only as good as these counts.
fn record_received(stats: &vox_webrtc::ReceiveStats) {
    info!(
        packets = stats.received,
        late = stats.late,
        duplicate = stats.duplicate,
        recovered = stats.recovered,
        concealed = stats.concealed,
        corrupt = stats.corrupt,
        "the caller's packets"
    );
    for (outcome, n) in stats.by_outcome() {
        if n > 0 {
            metrics::counter!("vox_webrtc_inbound_packets_total", "outcome" => outcome)
                .increment(n);
        }
    }
}
