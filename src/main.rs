//! The `xypro-stack` command line: run, check, uuid.

use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};
use tracing_subscriber::EnvFilter;
use xypro_stack::{Config, Registry, error_chain, pipeline, serve};

/// A tower-middleware proxy: SOCKS5 and VLESS over WebSocket over TLS, as YAML pipelines.
#[derive(Debug, Parser)]
#[command(name = "xypro-stack", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every inbound in the config until SIGINT/SIGTERM; SIGHUP reloads the file.
    Run {
        /// The YAML pipeline file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Validate the config (every reference, path and value) and exit.
    Check {
        /// The YAML pipeline file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Print a fresh random UUID, usable as a VLESS user id.
    Uuid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Uuid => {
            println!("{}", uuid::Uuid::new_v4());
            ExitCode::SUCCESS
        }
        Command::Check { config } => match check(&config) {
            Ok(summary) => {
                println!("{}: ok ({summary})", config.display());
                ExitCode::SUCCESS
            }
            Err(message) => fail(message),
        },
        Command::Run { config } => run(config),
    }
}

fn check(path: &std::path::Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let built = pipeline::build(&config, &Registry::with_builtin()).map_err(|e| e.to_string())?;
    Ok(format!(
        "{} inbounds, {} outbounds",
        built.inbounds.len(),
        config.raw.outbounds.len()
    ))
}

fn run(path: PathBuf) -> ExitCode {
    let level = match Config::load(&path) {
        Ok(config) => config.raw.log.map_or("info", |l| l.as_str()),
        Err(e) => return fail(e.to_string()),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(serve::run_until_signalled(path, Registry::with_builtin())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(error_chain(&*e)),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
