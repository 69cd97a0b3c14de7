//! The side-by-side report of `benches/compare.rs` as Markdown: Vox against Pipecat, and
//! Vox's browser calls (WebRTC) against its Twilio WebSocket path.

use serde_json::Value;

use super::{
    ASR_MS, SILENCE_WAIT_MS, TOKENS_PER_SEC, TTFT_MS, TTS_TTFB_MS, VAD_START_MS, VAD_STOP_MS,
    VAD_THRESHOLD,
};

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn fmt(v: Option<f64>, unit: &str) -> String {
    v.map_or("n/a".into(), |x| {
        if unit == "ms" {
            format!("{x:.0} ms")
        } else {
            format!("{x:.2}{unit}")
        }
    })
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.abs() > 1e-9 => format!("{:.2}", a / b),
        _ => "n/a".into(),
    }
}

#[allow(clippy::too_many_lines)]
pub(crate) fn markdown(report: &Value) -> String {
    let rts = report["runtimes"].as_array().cloned().unwrap_or_default();
    let get = |name: &str| {
        rts.iter()
            .find(|r| r["runtime"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (v, p) = (get("vox"), get("pipecat"));
    let floor = report["floor_ms"].as_f64().unwrap_or(0.0);
    let over = |r: &Value, q: &str| f(&r["voice_to_voice_ms"][q]).map(|x| x - floor);
    let mut md = String::new();
    md.push_str(&format!(
        "# Vox vs Pipecat ({})\n\n",
        report["date"].as_str().unwrap_or_default()
    ));
    md.push_str(&format!("Machine: {}. Pipecat {}. Fake models: ASR {ASR_MS} ms, LLM first token {TTFT_MS} ms then {TOKENS_PER_SEC} tokens/s, TTS first byte {TTS_TTFB_MS} ms. Endpointing on both: {} speech threshold {VAD_THRESHOLD}, VAD start {VAD_START_MS} ms / stop {VAD_STOP_MS} ms, then {SILENCE_WAIT_MS} ms of silence; ASR once per VAD segment.\n\n",
        report["machine"].as_str().unwrap_or_default(), report["pipecat_version"].as_str().unwrap_or("?"), report["vad"].as_str().unwrap_or_default()));
    md.push_str(&format!("Floor (waits + model latencies on the critical path): VAD stop {VAD_STOP_MS} + max(silence wait {SILENCE_WAIT_MS}, ASR {ASR_MS}) + first token {TTFT_MS} + TTS first byte {TTS_TTFB_MS} = **{floor:.0} ms**.\n\n"));
    md.push_str("| measure (caller's side) | Vox | Pipecat | Vox / Pipecat |\n| --- | ---: | ---: | ---: |\n");
    let row = |md: &mut String, name: &str, a: Option<f64>, b: Option<f64>, unit: &str| {
        md.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            fmt(a, unit),
            fmt(b, unit),
            ratio(a, b)
        ))
    };
    row(
        &mut md,
        "voice-to-voice p50",
        f(&v["voice_to_voice_ms"]["p50"]),
        f(&p["voice_to_voice_ms"]["p50"]),
        "ms",
    );
    row(
        &mut md,
        "voice-to-voice p95",
        f(&v["voice_to_voice_ms"]["p95"]),
        f(&p["voice_to_voice_ms"]["p95"]),
        "ms",
    );
    row(
        &mut md,
        "overhead above the floor, p50",
        over(&v, "p50"),
        over(&p, "p50"),
        "ms",
    );
    row(
        &mut md,
        "overhead above the floor, p95",
        over(&v, "p95"),
        over(&p, "p95"),
        "ms",
    );
    row(
        &mut md,
        "greeting (call start -> first audio)",
        f(&v["greeting_ms"]["p50"]),
        f(&p["greeting_ms"]["p50"]),
        "ms",
    );
    row(
        &mut md,
        "barge-in onset -> agent audio stops, p50",
        f(&v["barge_in_to_silence_ms"]["p50"]),
        f(&p["barge_in_to_silence_ms"]["p50"]),
        "ms",
    );
    row(
        &mut md,
        "barge-in onset -> agent audio stops, p95",
        f(&v["barge_in_to_silence_ms"]["p95"]),
        f(&p["barge_in_to_silence_ms"]["p95"]),
        "ms",
    );
    row(
        &mut md,
        "CPU-seconds per call-minute",
        f(&v["cpu_seconds_per_call_minute"]),
        f(&p["cpu_seconds_per_call_minute"]),
        "",
    );
    row(
        &mut md,
        "memory per call (MB)",
        f(&v["memory_per_call_mb"]),
        f(&p["memory_per_call_mb"]),
        "",
    );
    row(
        &mut md,
        "idle memory (MB)",
        f(&v["idle_rss_mb"]),
        f(&p["idle_rss_mb"]),
        "",
    );
    row(
        &mut md,
        "most concurrent calls, p95 within 20% of one call",
        f(&v["max_concurrent_calls_within_20pct"]),
        f(&p["max_concurrent_calls_within_20pct"]),
        "",
    );
    // the same load for both: the largest level both runtimes held
    let level_of = |r: &Value, n: u64| {
        r["sweep"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["calls"].as_u64() == Some(n) && l["within_limit"] == true)
            .cloned()
    };
    let common = v["sweep"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["calls"].as_u64())
        .filter(|n| level_of(&v, *n).is_some() && level_of(&p, *n).is_some())
        .max();
    if let Some(n) = common {
        let (lv, lp) = (
            level_of(&v, n).unwrap_or_default(),
            level_of(&p, n).unwrap_or_default(),
        );
        row(
            &mut md,
            &format!("CPU-seconds per call-minute, both at {n} calls"),
            f(&lv["cpu_seconds_per_call_minute"]),
            f(&lp["cpu_seconds_per_call_minute"]),
            "",
        );
        row(
            &mut md,
            &format!("memory per call (MB), both at {n} calls"),
            f(&lv["memory_per_call_mb"]),
            f(&lp["memory_per_call_mb"]),
            "",
        );
    }
    let e = get("vox-energy-vad");
    if !e.is_null() {
        md.push_str(&format!(
            "\nVox with its default energy VAD instead of Silero (same run, one call): voice-to-voice p50 {} / p95 {} (overhead above the floor {} / {}), barge-in to silence p50 {}. The difference to the Silero rows is the VAD model's own end-of-speech and onset lag, which the Silero rows include for both runtimes.\n",
            fmt(f(&e["voice_to_voice_ms"]["p50"]), "ms"),
            fmt(f(&e["voice_to_voice_ms"]["p95"]), "ms"),
            fmt(over(&e, "p50"), "ms"),
            fmt(over(&e, "p95"), "ms"),
            fmt(f(&e["barge_in_to_silence_ms"]["p50"]), "ms"),
        ));
    }
    md.push_str(&format!(
        "\nCPU per call-minute is taken at the largest concurrency within the limit (Vox: {} calls, Pipecat: {} calls), memory per call (peak RSS growth during a level / its calls) at the largest such level that was larger than every level before it (Vox: {}, Pipecat: {}). Ratios below 1 favour Vox except for the concurrency row.\n",
        v["cost_measured_at_calls"], p["cost_measured_at_calls"], v["memory_measured_at_calls"], p["memory_measured_at_calls"]
    ));
    let w = get("vox-webrtc");
    if !w.is_null() {
        webrtc_section(&mut md, &v, &w, floor);
    }
    md.push_str("\n## Concurrency sweep\n\n| runtime | calls | v2v p50 | v2v p95 | failed | late frames | simulator late ticks | CPU s / call-min | MB / call |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in [&v, &p, &w] {
        for l in r["sweep"].as_array().into_iter().flatten() {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |\n",
                r["runtime"].as_str().unwrap_or_default(),
                l["calls"],
                fmt(f(&l["v2v_p50_ms"]), "ms"),
                fmt(f(&l["v2v_p95_ms"]), "ms"),
                l["calls_failed"],
                l["late_frames"],
                l["sim_late_ticks"],
                f(&l["cpu_seconds_per_call_minute"]).unwrap_or(0.0),
                f(&l["memory_per_call_mb"]).map_or("-".into(), |m| format!("{m:.1}"))
            ));
        }
    }
    md
}

/// Browser calls against carrier calls: the same server, agent, fake models and script.
fn webrtc_section(md: &mut String, v: &Value, w: &Value, floor: f64) {
    let over = |r: &Value, q: &str| f(&r["voice_to_voice_ms"][q]).map(|x| x - floor);
    md.push_str("\n## Browser calls (WebRTC) against the Twilio WebSocket\n\nThe same Vox server and agent, called by `vox sim` as a carrier (Twilio Media Streams, mu-law 8 kHz over a WebSocket) and as a browser (`--webrtc`: WHIP, Opus 48 kHz over DTLS-SRTP, ICE; the caller's side is vox-webrtc's client in the simulator process). Server CPU includes Opus, DTLS and SRTP on the WebRTC row.\n\n| measure (caller's side) | Twilio WebSocket | WebRTC | WebRTC / Twilio |\n| --- | ---: | ---: | ---: |\n");
    let row = |md: &mut String, name: &str, a: Option<f64>, b: Option<f64>, unit: &str| {
        md.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            fmt(a, unit),
            fmt(b, unit),
            ratio(b, a)
        ));
    };
    for q in ["p50", "p95"] {
        row(
            md,
            &format!("voice-to-voice {q}"),
            f(&v["voice_to_voice_ms"][q]),
            f(&w["voice_to_voice_ms"][q]),
            "ms",
        );
    }
    for q in ["p50", "p95"] {
        row(
            md,
            &format!("overhead above the floor, {q}"),
            over(v, q),
            over(w, q),
            "ms",
        );
    }
    row(
        md,
        "greeting (call start -> first audio)",
        f(&v["greeting_ms"]["p50"]),
        f(&w["greeting_ms"]["p50"]),
        "ms",
    );
    for q in ["p50", "p95"] {
        row(
            md,
            &format!("barge-in onset -> agent audio stops, {q}"),
            f(&v["barge_in_to_silence_ms"][q]),
            f(&w["barge_in_to_silence_ms"][q]),
            "ms",
        );
    }
    row(
        md,
        "CPU-seconds per call-minute (server)",
        f(&v["cpu_seconds_per_call_minute"]),
        f(&w["cpu_seconds_per_call_minute"]),
        "",
    );
    row(
        md,
        "memory per call (MB)",
        f(&v["memory_per_call_mb"]),
        f(&w["memory_per_call_mb"]),
        "",
    );
    row(
        md,
        "most concurrent calls, p95 within 20% of one call",
        f(&v["max_concurrent_calls_within_20pct"]),
        f(&w["max_concurrent_calls_within_20pct"]),
        "",
    );
    md.push_str(&format!(
        "\nCPU per call-minute at the largest level within the limit (Twilio: {} calls, WebRTC: {} calls). The simulator's own late ticks are in the sweep table: a WebRTC caller costs the simulator Opus encoding and decoding too, so at high levels check that the limit is the server's.\n",
        v["cost_measured_at_calls"], w["cost_measured_at_calls"]
    ));
}
