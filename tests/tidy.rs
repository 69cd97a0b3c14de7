//! Architectural invariants, read from `cargo metadata` (see ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Normal (non-dev, non-build) dependencies of each workspace crate.
fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(vox_testkit::repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let mut map = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("name").to_owned())
            .collect();
        map.insert(p["name"].as_str().expect("name").to_owned(), deps);
    }
    map
}

#[test]
fn layers_point_down_only() {
    let deps = workspace_deps();
    let forbidden_low = [
        "tokio",
        "reqwest",
        "axum",
        "sqlx",
        "tokio-tungstenite",
        "hyper",
    ];
    // Which internal crates each lower-layer crate may use.
    let allowed: [(&str, &[&str]); 10] = [
        ("vox-core", &[]),
        ("vox-crypto", &[]),
        // browser media: its own UDP socket and tasks, no call runtime, no HTTP
        ("vox-webrtc", &["vox-core"]),
        ("vox-audio", &["vox-core"]),
        ("vox-engine", &["vox-core"]),
        ("vox-telephony", &["vox-core"]),
        ("vox-providers", &["vox-core", "vox-audio"]),
        // the built-in calendar and the knowledge base read vox-store; embeddings are vox-providers'
        (
            "vox-tools",
            &[
                "vox-core",
                "vox-crypto",
                "vox-engine",
                "vox-providers",
                "vox-store",
            ],
        ),
        ("vox-models", &["vox-core", "vox-audio", "vox-providers"]),
        (
            "vox-call",
            &[
                "vox-core",
                "vox-audio",
                "vox-engine",
                "vox-providers",
                "vox-tools",
            ],
        ),
    ];
    for (krate, ok) in allowed {
        let d = &deps[krate];
        if !matches!(
            krate,
            "vox-call" | "vox-providers" | "vox-tools" | "vox-models" | "vox-webrtc"
        ) {
            for f in forbidden_low {
                assert!(
                    !d.contains(f),
                    "{krate} (sans-IO, L0/L1) must not depend on {f}"
                );
            }
        }
        for internal in d.iter().filter(|x| x.starts_with("vox-")) {
            assert!(
                ok.contains(&internal.as_str()),
                "{krate} must not depend on {internal}"
            );
        }
    }
    assert!(
        !deps["vox-engine"].contains("vox-audio"),
        "the engine reasons about events, not DSP"
    );
    for vendorish in ["vox-telephony", "vox-media", "axum", "tokio-tungstenite"] {
        assert!(
            !deps["vox-call"].contains(vendorish),
            "vox-call never names a transport or vendor: {vendorish}"
        );
    }
    for t in [
        "vox-carriers",
        "vox-telephony",
        "vox-media",
        "axum",
        "tokio-tungstenite",
    ] {
        assert!(
            !deps["vox-agents"].contains(t),
            "vox-agents runs agents for any transport and carrier: not {t}"
        );
    }
    for (krate, d) in &deps {
        assert!(!d.contains("vox-server"), "{krate} depends on the binary");
        assert!(
            !d.contains("vox-testkit"),
            "{krate} has vox-testkit as a normal dependency"
        );
        if krate != "vox-server" && krate != "vox-sim" && krate != "vox-testkit" {
            assert!(
                !d.contains("anyhow"),
                "{krate}: anyhow is for the binary and tools only"
            );
        }
    }
}

/// Every `.rs` file under `crates/*/src`, with its text up to its `#[cfg(test)]` module (test
/// code sits at the bottom of a file, by convention), for the source checks below.
fn library_sources() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let root = vox_testkit::repo_root();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates"))
        .expect("crates")
        .flatten()
    {
        let src = krate.path().join("src");
        if src.is_dir() {
            walk(&src, &mut files);
        }
    }
    files.sort();
    files
        .into_iter()
        // test-only modules (declared under #[cfg(test)])
        .filter(|p| {
            let s = p.to_string_lossy();
            !s.contains("/src/voice/tests/")
                && !s.ends_with("/props.rs")
                && !s.ends_with("tests.rs")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read source");
            let body = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
            let rel = p
                .strip_prefix(&root)
                .expect("under root")
                .display()
                .to_string();
            (rel, body)
        })
        .collect()
}

#[test]
fn no_unbounded_channel() {
    // every queue says its bound; std's mpsc::channel() and tokio's unbounded_channel have none
    for (file, body) in library_sources() {
        for bad in ["unbounded_channel", "mpsc::channel()", "unbounded("] {
            assert!(
                !body.contains(bad),
                "{file}: {bad} (use a bounded channel and say its overflow policy)"
            );
        }
    }
}

#[test]
fn background_work_goes_through_the_tracked_spawner() {
    // Where a bare tokio::spawn is allowed, and why. Anything else uses vox_call::Tasks, so
    // shutdown cancels it and waits for it.
    let allowed: &[(&str, &str)] = &[
        (
            "crates/vox-call/src/background.rs",
            "the tracked spawner itself",
        ),
        (
            "crates/vox-call/src/tasks.rs",
            "a turn's LLM, TTS and tool tasks, under the turn's token",
        ),
        (
            "crates/vox-call/src/actor.rs",
            "a call's end-of-turn and edge scoring, answered into the actor's channels",
        ),
        (
            "crates/vox-media/src/stream.rs",
            "a connection's writer, awaited by the connection",
        ),
        (
            "crates/vox-media/src/lib.rs",
            "start_call: a call's actor, awaited by its transport (stream or browser)",
        ),
        (
            "crates/vox-media/src/whip.rs",
            "a browser call, under its admission (the registry's shutdown cancels it)",
        ),
        (
            "crates/vox-media/src/browser.rs",
            "a browser call's writer, ended with the call",
        ),
        (
            "crates/vox-providers/src/segmented.rs",
            "an ASR session, ending with its input",
        ),
        (
            "crates/vox-providers/src/live/mod.rs",
            "a streaming ASR session, ending with its input",
        ),
        (
            "crates/vox-providers/src/incremental.rs",
            "a streaming Whisper session, ending with its input",
        ),
        (
            "crates/vox-webrtc/src/mux.rs",
            "the shared UDP socket's reader, aborted when the socket's last user drops it",
        ),
        (
            "crates/vox-webrtc/src/server.rs",
            "a browser call's task, ending when its runtime hangs up or drops its commands",
        ),
        (
            "crates/vox-webrtc/src/client.rs",
            "a test caller's task, ending when its ClientCall is dropped",
        ),
        ("crates/vox-testkit/", "test fakes"),
        ("crates/vox-sim/", "the simulated carrier (a client tool)"),
    ];
    for (file, body) in library_sources() {
        if allowed.iter().any(|(prefix, _)| file.starts_with(prefix)) {
            continue;
        }
        for bad in [
            "tokio::spawn(",
            "tokio::task::spawn(",
            "std::thread::spawn(",
        ] {
            assert!(
                !body.contains(bad),
                "{file}: {bad} (spawn through vox_call::Tasks)"
            );
        }
    }
}

#[test]
fn every_metric_is_described() {
    // a metric's `# HELP` is written where it is emitted (vox_call::metrics::describe,
    // vox_media::describe_metrics, vox_carriers::describe_metrics); none is left without
    let sources = library_sources();
    let mut described = BTreeSet::new();
    let mut emitted = BTreeMap::new();
    for (file, body) in &sources {
        for (i, _) in body.match_indices("!(\"vox_") {
            let name: String = body[i + 3..].chars().take_while(|c| *c != '"').collect();
            let before = &body[..i];
            if before.ends_with("describe_counter")
                || before.ends_with("describe_gauge")
                || before.ends_with("describe_histogram")
            {
                described.insert(name);
            } else {
                emitted.entry(name).or_insert_with(|| file.clone());
            }
        }
        // rustfmt may put a long description's name on its own line
        for (i, _) in body.match_indices("describe_") {
            if let Some(rest) = body[i..].split_once("!(").map(|(_, r)| r.trim_start())
                && let Some(name) = rest.strip_prefix('"').and_then(|r| r.split('"').next())
            {
                described.insert(name.to_owned());
            }
        }
    }
    assert!(!emitted.is_empty(), "no metrics found: the scan is broken");
    for (name, file) in &emitted {
        assert!(
            described.contains(name),
            "{name} (emitted in {file}) has no description"
        );
    }
}

/// `a/{b,c}/d` -> `a/b/d`, `a/c/d` (one brace group, as the table writes them).
fn expand_braces(path: &str) -> Vec<String> {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => path[open + 1..close]
            .split(',')
            .map(|alt| format!("{}{}{}", &path[..open], alt, &path[close + 1..]))
            .collect(),
        _ => vec![path.to_owned()],
    }
}

#[test]
fn where_is_x_points_at_files_that_exist() {
    let root = vox_testkit::repo_root();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let table = doc
        .split("\n## Where is X\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("ARCHITECTURE.md has a \"Where is X\" section");
    let mut checked = 0;
    let mut missing = Vec::new();
    for quoted in table.split('`').skip(1).step_by(2) {
        let roots = ["crates/", "config/", "tests/", "benches/"];
        if !roots.iter().any(|r| quoted.starts_with(r)) {
            continue;
        }
        for path in expand_braces(quoted) {
            checked += 1;
            if !root.join(&path).exists() {
                missing.push(path);
            }
        }
    }
    assert!(checked >= 20, "only {checked} paths found in the table");
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's \"Where is X\" names paths that do not exist: {missing:?}"
    );
}
