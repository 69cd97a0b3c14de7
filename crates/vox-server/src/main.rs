//! `vox`: the one binary and the only composition root. It reads configuration, picks the
//! concrete parts (agents, VAD settings, later providers and storage), starts listeners and
//! handles signals. Subcommands: `serve` (the runtime), `sim` (a simulated carrier caller
//! and load generator).

mod agents;
mod config;
mod serve;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "vox", version, about = "Vox: a self-hosted real-time voice agent runtime")]
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
        /// Print the effective configuration as TOML and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Act as a carrier calling a Twilio-dialect media URL: play caller turns in real time,
    /// honour marks and clear, record both sides and report latencies as JSON.
    Sim(vox_sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, host, port, max_calls, agents, print_config } => {
            let overrides = config::Overrides { host, port, max_concurrent_calls: max_calls };
            serve::main(config.as_deref(), &overrides, &agents, print_config)
        }
        Command::Sim(args) => run_sim(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vox: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_sim(args: vox_sim::SimArgs) -> anyhow::Result<()> {
    telemetry::init_logging("warn", config::LogFormat::Text)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let ok = rt.block_on(vox_sim::run(args))?;
    if !ok {
        anyhow::bail!("some simulated calls failed (see the report)");
    }
    Ok(())
}
