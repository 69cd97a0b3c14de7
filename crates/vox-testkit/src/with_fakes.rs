//! A `vox serve` wired to the fakes, as the end-to-end tests of the control plane need it: its
//! calls go through a [`FakeTwilio`] (one pool number), its `[voice_agents]` run on a
//! [`FakeOpenAi`], and an organization, a business and a logged-in API client exist.

use std::path::Path;

use crate::{ApiClient, FakeOpenAi, FakeTwilio, VoxServer, admin_create, scratch_dir};

/// The server and what a test needs of it.
#[derive(Debug)]
pub struct ServedWithFakes {
    /// The process (killed on drop).
    pub server: VoxServer,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client with every scope.
    pub api: ApiClient,
    /// The business `vox admin create` made.
    pub business_id: String,
    /// The scratch directory of its configuration, database and recordings.
    pub dir: std::path::PathBuf,
}

/// Starts `bin serve` (in the scratch directory `label`) with `number` in a Twilio pool on
/// `twilio`, the agents' models on `ai`, `extra_config` (TOML sections) before those, and
/// `env` set. Recordings go to the scratch directory's `recordings`.
pub async fn serve_with_fakes(
    bin: &Path,
    label: &str,
    twilio: &FakeTwilio,
    ai: &FakeOpenAi,
    number: &str,
    extra_config: &str,
    env: &[(&str, &str)],
) -> ServedWithFakes {
    let dir = scratch_dir(label);
    let config = dir.join("vox.toml");
    let ai = ai.base_url();
    std::fs::write(
        &config,
        format!(
            r#"{extra_config}
[telephony]
[[telephony.pools]]
carrier = "twilio"
numbers = ["{number}"]
account_sid = "{sid}"
auth_token = "{token}"
api_base = "{api}"

[voice_agents]
llm = {{ baseUrl = "{ai}", apiKey = "sk-test-secret", model = "fake-llm" }}
asr = {{ baseUrl = "{ai}", model = "fake-asr" }}
tts = {{ baseUrl = "{ai}", model = "fake-tts", voice = "v1" }}
"#,
            sid = twilio.account_sid(),
            token = twilio.auth_token(),
            api = twilio.api_base()
        ),
    )
    .expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let rec = dir.join("recordings").display().to_string();
    let mut all: Vec<(String, String)> = vec![
        ("VOX__STORE__URL".into(), db),
        ("VOX__API__RECORDINGS_DIR".into(), rec),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let creds = {
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        admin_create(bin, &config, &pairs, "Acme", "Acme Plumbing", None)
    };
    let business_id = creds["businessId"].as_str().expect("businessId").to_owned();
    let (bin, config_arg) = (bin.to_owned(), config.display().to_string());
    let server = tokio::task::spawn_blocking(move || {
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        VoxServer::start(&bin, &["--config", &config_arg], &pairs)
    })
    .await
    .expect("server");
    let base = format!("http://{}", server.addr);
    let api = ApiClient::login(
        &base,
        creds["clientId"].as_str().expect("id"),
        creds["clientSecret"].as_str().expect("secret"),
    )
    .await;
    ServedWithFakes {
        server,
        base,
        api,
        business_id,
        dir,
    }
}
