//! The per-turn tasks a call actor spawns: LLM streaming, TTS, tool calls. Each runs under
//! the turn's cancellation token and reports to the actor over a bounded channel, waiting
//! for room (so a slow actor slows the producer instead of growing memory).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vox_audio::Framer;
use vox_core::{AudioFrame, FRAME_SAMPLES, ToolCall, TurnId};
use vox_engine::{LlmCall, LlmEvent};
use vox_providers::{LlmDelta, LlmProvider, LlmRequest, TtsProvider};
use vox_tools::{ToolOutcome, ToolRunner};

/// From an LLM task.
#[derive(Debug)]
pub(crate) enum LlmMsg {
    Event(LlmEvent),
    Done,
    Failed { retryable: bool },
}

/// From a TTS worker.
#[derive(Debug)]
pub(crate) enum TtsMsg {
    Audio {
        turn: TurnId,
        segment: u32,
        frames: Vec<AudioFrame>,
    },
    SegmentDone {
        turn: TurnId,
        segment: u32,
    },
    /// The worker has synthesized every segment it was given and its input is closed.
    Finished {
        turn: TurnId,
    },
}

pub(crate) fn spawn_llm(
    llm: Arc<dyn LlmProvider>,
    turn: TurnId,
    call: LlmCall,
    token: CancellationToken,
    tx: mpsc::Sender<(TurnId, LlmMsg)>,
) {
    tokio::spawn(async move {
        let mut stream = llm.stream(LlmRequest {
            messages: call.messages,
            tools: call.tools,
        });
        loop {
            let item = tokio::select! {
                () = token.cancelled() => return,
                item = stream.next() => item,
            };
            let msg = match item {
                Some(Ok(LlmDelta::Text(t))) => LlmMsg::Event(LlmEvent::Text(t)),
                Some(Ok(LlmDelta::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                })) => LlmMsg::Event(LlmEvent::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                }),
                Some(Err(e)) => {
                    tracing::warn!(%turn, error = %e, "LLM failed");
                    metrics::counter!("vox_provider_errors_total", "provider" => "llm")
                        .increment(1);
                    let _ = tx
                        .send((
                            turn,
                            LlmMsg::Failed {
                                retryable: e.retryable,
                            },
                        ))
                        .await;
                    return;
                }
                None => {
                    let _ = tx.send((turn, LlmMsg::Done)).await;
                    return;
                }
            };
            if tx.send((turn, msg)).await.is_err() {
                return;
            }
        }
    });
}

/// Starts a TTS worker for `turn`: send it `(segment, text)` in order; drop the sender when
/// the turn has no more segments.
pub(crate) fn spawn_tts(
    tts: Arc<dyn TtsProvider>,
    turn: TurnId,
    token: CancellationToken,
    tx: mpsc::Sender<TtsMsg>,
) -> mpsc::Sender<(u32, String)> {
    let (seg_tx, mut seg_rx) = mpsc::channel::<(u32, String)>(32);
    tokio::spawn(async move {
        while let Some((segment, text)) = tokio::select! {
            () = token.cancelled() => return,
            s = seg_rx.recv() => s,
        } {
            let mut stream = tts.synthesize(text);
            let mut framer = Framer::new();
            loop {
                let item = tokio::select! {
                    () = token.cancelled() => return,
                    item = stream.next() => item,
                };
                match item {
                    Some(Ok(samples)) => {
                        let mut frames = Vec::with_capacity(samples.len() / FRAME_SAMPLES + 1);
                        framer.push(&samples, |f| frames.push(f));
                        if !frames.is_empty()
                            && tx
                                .send(TtsMsg::Audio {
                                    turn,
                                    segment,
                                    frames,
                                })
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(%turn, segment, error = %e, "TTS failed; skipping the segment");
                        metrics::counter!("vox_provider_errors_total", "provider" => "tts")
                            .increment(1);
                        break;
                    }
                    None => break,
                }
            }
            if framer.pending() > 0 {
                // pad the segment's last partial frame with silence
                let pad = vec![0i16; FRAME_SAMPLES - framer.pending()];
                let mut frames = Vec::new();
                framer.push(&pad, |f| frames.push(f));
                if tx
                    .send(TtsMsg::Audio {
                        turn,
                        segment,
                        frames,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if tx
                .send(TtsMsg::SegmentDone { turn, segment })
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = tx.send(TtsMsg::Finished { turn }).await;
    });
    seg_tx
}

pub(crate) fn spawn_tool(
    runner: Arc<dyn ToolRunner>,
    turn: TurnId,
    call: ToolCall,
    token: CancellationToken,
    timeout: Duration,
    tx: mpsc::Sender<(TurnId, String, ToolOutcome)>,
) {
    tokio::spawn(async move {
        let id = call.id.clone();
        let name = call.name.clone();
        let result = tokio::select! {
            () = token.cancelled() => return,
            r = tokio::time::timeout(timeout, runner.run(call)) => r.unwrap_or_else(|_| ToolOutcome::text(format!("Error: the {name} tool timed out."))),
        };
        let _ = tx.send((turn, id, result)).await;
    });
}
