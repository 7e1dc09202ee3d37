//! The `xypro-stack` command line: run, check, uuid, link.

use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};
use tracing_subscriber::EnvFilter;
use xypro_stack::{
    Config, Registry, error_chain,
    link::{LinkError, ShareLink, links_for_inbound},
    pipeline, serve,
};

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
    /// Print the outbound pipeline for a vless:// link, or the links of a VLESS inbound.
    Link {
        /// A `vless://` share link.
        #[arg(required_unless_present = "config", conflicts_with_all = ["config", "inbound"])]
        uri: Option<String>,
        /// The YAML pipeline file holding the VLESS inbound.
        #[arg(short, long, requires = "inbound")]
        config: Option<PathBuf>,
        /// The VLESS inbound whose users get links.
        #[arg(long, requires = "config")]
        inbound: Option<String>,
        /// The public host (and port) clients dial, when the inbound listens on a wildcard.
        #[arg(long, requires = "inbound")]
        address: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        // `check` and `link` show the same warnings `run` would log (`insecure: true`, short
        // ids, readable key files), without timestamps.
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .without_time()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
    }
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
        Command::Link {
            uri,
            config,
            inbound,
            address,
        } => match link(uri, config, inbound, address) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => fail(message),
        },
    }
}

fn link(
    uri: Option<String>,
    config: Option<PathBuf>,
    inbound: Option<String>,
    address: Option<String>,
) -> Result<String, String> {
    if let Some(uri) = uri {
        let link: ShareLink = uri.parse().map_err(|e: LinkError| e.to_string())?;
        let name = outbound_name(&link.remark);
        return Ok(format!("# {link}\n{}", link.to_pipeline_yaml(&name)));
    }
    let (Some(path), Some(inbound)) = (config, inbound) else {
        return Err("give a vless:// link, or -c FILE --inbound NAME".into());
    };
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let links = links_for_inbound(&config, &inbound, address.as_deref())?;
    Ok(links.iter().map(|l| format!("{l}\n")).collect())
}

/// A YAML-friendly outbound name from a link's remark.
fn outbound_name(remark: &str) -> String {
    let name: String = remark
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    match name.trim_matches('-') {
        "" => "proxy".to_owned(),
        trimmed => trimmed.to_owned(),
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
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!("file descriptor limit: {limit}"),
        Err(e) => tracing::warn!("cannot raise the file descriptor limit: {e}"),
    }
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
