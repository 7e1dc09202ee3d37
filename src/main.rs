//! The `xypro-stack` command line: run, check, uuid, link.

use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, reload, util::SubscriberInitExt};
use xypro_stack::{
    Config, Registry,
    admin::{LogControl, LogHub},
    error_chain,
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
        /// Also print each link as a QR code, for phone clients that import by scanning.
        #[arg(long)]
        qr: bool,
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
            qr,
        } => match link(uri, config, inbound, address, qr) {
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
    qr: bool,
) -> Result<String, String> {
    if let Some(uri) = uri {
        let link: ShareLink = uri.parse().map_err(|e: LinkError| e.to_string())?;
        let name = outbound_name(&link.remark);
        let mut text = format!("# {link}\n{}", link.to_pipeline_yaml(&name));
        if qr {
            text.push_str(&xypro_stack::qr::to_terminal(&link.to_string())?);
        }
        return Ok(text);
    }
    let (Some(path), Some(inbound)) = (config, inbound) else {
        return Err("give a vless:// link, or -c FILE --inbound NAME".into());
    };
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let links = links_for_inbound(&config, &inbound, address.as_deref())?;
    let mut text = String::new();
    for link in &links {
        text.push_str(&format!("{link}\n"));
        if qr {
            text.push_str(&xypro_stack::qr::to_terminal(&link.to_string())?);
        }
    }
    Ok(text)
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
    // The filter sits behind a reload handle so that the admin API can change the level.
    let (filter, handle) = reload::Layer::new(filter);
    let hub = LogHub::new();
    let terminal = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    tracing_subscriber::registry()
        .with(filter)
        .with(terminal.and_then(hub.layer()))
        .init();
    let logs = LogControl::new(hub, level, move |directive| {
        handle
            .modify(|filter| *filter = EnvFilter::new(directive))
            .map_err(|e| e.to_string())
    });
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
    let serving = serve::run_until_signalled(path, Registry::with_builtin(), Some(logs));
    match runtime.block_on(serving) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(error_chain(&*e)),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
