//! `xypro-bench`: measures xypro-stack against v2ray, interleaved in one run, and prints a
//! markdown table of ratios.
//!
//! Run it with `scripts/bench.sh` (builds the release binaries first).

mod load;
mod peers;
mod report;
mod target;

use clap::Parser;
use std::{path::PathBuf, time::Duration};

/// Benchmark xypro-stack against v2ray (VLESS over WebSocket over TLS) on this machine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The xypro-stack binary.
    #[arg(long, default_value = "target/release/xypro-stack")]
    xypro: PathBuf,
    /// The v2ray binary.
    #[arg(long, default_value = "/usr/bin/v2ray")]
    v2ray: PathBuf,
    /// Megabytes per single-connection transfer.
    #[arg(long, default_value_t = 512)]
    megabytes: u64,
    /// Rounds of every measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Idle tunnels opened for the memory measurement.
    #[arg(long, default_value_t = 1000)]
    idle_tunnels: usize,
    /// Seconds of the connections-per-second measurement.
    #[arg(long, default_value_t = 3)]
    rate_seconds: u64,
    /// Measure only these (comma-separated); the other rows show `–`.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = load::Measure::ALL)]
    only: Vec<load::Measure>,
    /// Where to write the markdown report.
    #[arg(long, default_value = "target/bench/results.md")]
    out: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args))?;
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &report)?;
    println!("{report}");
    eprintln!("written to {}", args.out.display());
    Ok(())
}

async fn run(args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    let target = target::start().await?;
    let certs = std::env::current_dir()?.join("examples/certs");
    let stacks = peers::Stacks::start(&args.xypro, &args.v2ray, &certs).await?;
    let settings = load::Settings {
        bytes: args.megabytes << 20,
        rounds: args.rounds,
        idle_tunnels: args.idle_tunnels,
        rate_for: Duration::from_secs(args.rate_seconds),
        only: args.only.clone(),
    };
    let results = load::measure_all(&stacks, target, &settings).await?;
    Ok(report::render(&results, &settings, &load::limits().await))
}
