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
    let allowed: [(&str, &[&str]); 8] = [
        ("vox-core", &[]),
        ("vox-audio", &["vox-core"]),
        ("vox-engine", &["vox-core"]),
        ("vox-telephony", &["vox-core"]),
        ("vox-providers", &["vox-core", "vox-audio"]),
        // the built-in calendar and the knowledge base read vox-store; embeddings are vox-providers'
        (
            "vox-tools",
            &["vox-core", "vox-engine", "vox-providers", "vox-store"],
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
            "vox-call" | "vox-providers" | "vox-tools" | "vox-models"
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
