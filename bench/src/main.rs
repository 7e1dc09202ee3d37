//! `xypro-bench`: measures xypro-stack against v2ray and sing-box, interleaved in one run, and
//! prints a markdown table of ratios.
//!
//! Run it with `scripts/bench.sh` (builds the release binaries first).

mod load;
mod memory;
mod peers;
mod relay;
mod report;
mod rtt;
mod target;
mod transports;

use clap::Parser;
use std::{path::PathBuf, time::Duration};

/// Benchmark xypro-stack against v2ray and sing-box (VLESS over WebSocket over TLS) on this machine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The xypro-stack binary.
    #[arg(long, default_value = "target/release/xypro-stack")]
    xypro: PathBuf,
    /// The v2ray 4.34 binary (a bare name is looked up on PATH).
    #[arg(long, default_value = "v2ray")]
    v2ray: PathBuf,
    /// The sing-box 1.14.4 binary (installed by scripts/install-peers.sh).
    #[arg(long, default_value = "target/peers/sing-box")]
    sing_box: PathBuf,
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
    /// One-way delay, in milliseconds, of the relay in the round-trip measurement.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    delay_ms: u64,
    /// Freshly started clients per system in the round-trip measurement.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    rtt_starts: u64,
    /// Measure only these (comma-separated); the other rows show `–`.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = load::Measure::ALL)]
    only: Vec<load::Measure>,
    /// Where to write the markdown report.
    #[arg(long, default_value = "target/bench/results.md")]
    out: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let programs = peers::Programs {
        ours: args.xypro.clone(),
        v2ray: args.v2ray.clone(),
        sing_box: args.sing_box.clone(),
    };
    if let Err(missing) = programs.check() {
        eprintln!("xypro-bench: {missing}");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args, programs))?;
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &report)?;
    println!("{report}");
    eprintln!("written to {}", args.out.display());
    Ok(())
}

async fn run(args: &Args, programs: peers::Programs) -> Result<String, Box<dyn std::error::Error>> {
    let target = target::start().await?;
    let certs = std::env::current_dir()?.join("examples/certs");
    let versions = programs.versions();
    let stacks = peers::Stacks::start(peers::Launcher::new(programs, &certs)?).await?;
    let settings = load::Settings {
        bytes: args.megabytes << 20,
        rounds: args.rounds,
        idle_tunnels: args.idle_tunnels,
        rate_for: Duration::from_secs(args.rate_seconds),
        delay: Duration::from_millis(args.delay_ms),
        rtt_starts: args.rtt_starts as usize,
        only: args.only.clone(),
    };
    let results = load::measure_all(&stacks, target, &settings).await?;
    let mut report = report::render(&results, &settings, &versions, &load::limits().await);
    if settings.wants(load::Measure::Transports) {
        let measured = transports::measure(&stacks.launcher, target, &settings).await?;
        report.push_str(&transports::render(&measured));
    }
    Ok(report)
}
