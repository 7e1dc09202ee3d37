//! The measurements: throughput, setup latency, connection rate, CPU per GiB, and the order
//! they run in with idle memory and round trips.

use crate::{
    memory,
    peers::{Stacks, System},
    report::{Results, Row},
    rtt,
    target::{DOWNLOAD, ECHO, UPLOAD},
};
use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use xypro_bench::process::cpu_seconds;
use xypro_socks5::Socks5Client;

/// How much work each measurement does.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Bytes per single-connection transfer.
    pub(crate) bytes: u64,
    /// Rounds per measurement.
    pub(crate) rounds: usize,
    /// Tunnels held open for the memory reading.
    pub(crate) idle_tunnels: usize,
    /// Duration of the connection-rate measurement.
    pub(crate) rate_for: Duration,
    /// One-way delay of the relay in the round-trip measurement.
    pub(crate) delay: Duration,
    /// Freshly started clients per kind in the round-trip measurement.
    pub(crate) rtt_starts: usize,
    /// The measurements to run.
    pub(crate) only: Vec<Measure>,
}

/// A group of rows that can be measured on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Measure {
    /// Download, upload and 16 parallel downloads.
    Throughput,
    /// Setup latency p50 and p99.
    Setup,
    /// Connections per second.
    Rate,
    /// CPU seconds per GiB.
    Cpu,
    /// RSS per idle tunnel.
    Memory,
    /// Round trips to the first byte, cold and warm, through a delay relay.
    Rtt,
    /// Throughput, setup and connection rate over HTTPUpgrade, HTTP/2 and gRPC, against sing-box.
    Transports,
}

impl Measure {
    /// Every measurement, in report order.
    pub(crate) const ALL: [Measure; 7] = [
        Measure::Throughput,
        Measure::Setup,
        Measure::Rate,
        Measure::Cpu,
        Measure::Memory,
        Measure::Rtt,
        Measure::Transports,
    ];
}

impl Settings {
    pub(crate) fn wants(&self, measure: Measure) -> bool {
        self.only.contains(&measure)
    }
}

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Opens a stream to `target` through the SOCKS5 port `socks`, or straight to it.
pub(crate) async fn open(socks: Option<SocketAddr>, target: SocketAddr) -> io::Result<TcpStream> {
    let Some(socks) = socks else {
        let stream = TcpStream::connect(target).await?;
        stream.set_nodelay(true)?;
        return Ok(stream);
    };
    let mut stream = TcpStream::connect(socks).await?;
    stream.set_nodelay(true)?;
    Socks5Client::new()
        .connect(&mut stream, &target.into())
        .await
        .map_err(io::Error::other)?;
    Ok(stream)
}

/// Seconds to download `bytes` over one connection.
pub(crate) async fn download(
    socks: Option<SocketAddr>,
    target: SocketAddr,
    bytes: u64,
) -> Result<f64> {
    let mut stream = open(socks, target).await?;
    let started = Instant::now();
    stream.write_all(&[DOWNLOAD]).await?;
    stream.write_u64(bytes).await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < bytes {
        match stream.read(&mut buf).await? {
            0 => return Err(format!("download ended after {got} of {bytes} bytes").into()),
            n => got += n as u64,
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds to upload `bytes` over one connection, until the target acknowledges.
pub(crate) async fn upload(
    socks: Option<SocketAddr>,
    target: SocketAddr,
    bytes: u64,
) -> Result<f64> {
    let mut stream = open(socks, target).await?;
    let started = Instant::now();
    stream.write_all(&[UPLOAD]).await?;
    stream.write_u64(bytes).await?;
    let chunk = vec![0x5au8; 256 * 1024];
    let mut left = bytes as usize;
    while left > 0 {
        let n = left.min(chunk.len());
        stream.write_all(&chunk[..n]).await?;
        left -= n;
    }
    stream.read_u8().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds for `streams` parallel downloads of `bytes` each.
pub(crate) async fn parallel_download(
    socks: Option<SocketAddr>,
    target: SocketAddr,
    streams: usize,
    bytes: u64,
) -> Result<f64> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|_| {
            tokio::spawn(async move {
                download(socks, target, bytes)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Opens a stream that echoes, sends one byte and returns the time from connecting (to the
/// SOCKS5 port, or straight to `target`) until it came back, with the open stream.
pub(crate) async fn echo_once(
    socks: Option<SocketAddr>,
    target: SocketAddr,
) -> Result<(Duration, TcpStream)> {
    let started = Instant::now();
    let mut stream = open(socks, target).await?;
    stream.write_all(&[ECHO, 1]).await?;
    stream.read_u8().await?;
    Ok((started.elapsed(), stream))
}

/// Microseconds from connecting to the SOCKS5 port until the first echoed byte, sorted.
pub(crate) async fn setup_latencies(
    socks: Option<SocketAddr>,
    target: SocketAddr,
    samples: usize,
) -> Result<Vec<f64>> {
    let mut all = Vec::with_capacity(samples);
    for _ in 0..samples {
        all.push(echo_once(socks, target).await?.0.as_secs_f64() * 1e6);
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

/// Completed connect-echo-close cycles per second with `clients` concurrent clients.
pub(crate) async fn connection_rate(
    socks: Option<SocketAddr>,
    target: SocketAddr,
    clients: usize,
    run_for: Duration,
) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + run_for;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let Ok(mut stream) = open(socks, target).await else {
                        continue;
                    };
                    if stream.write_all(&[ECHO, 1]).await.is_ok() && stream.read_u8().await.is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    for task in tasks {
        task.await?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Median of the samples.
pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Runs every measurement for every system, interleaved round by round.
pub(crate) async fn measure_all(
    stacks: &Stacks,
    target: SocketAddr,
    settings: &Settings,
) -> Result<Results> {
    let systems: Vec<&System> = stacks.systems.iter().collect();
    let mb = settings.bytes as f64 / 1e6;
    let mut results = Results::new(systems.iter().map(|s| s.name()).collect());
    // Memory first, while every process is fresh: later bulk transfers leave freed memory
    // in the allocators that would hide what idle tunnels cost.
    let memory = if settings.wants(Measure::Memory) {
        memory::idle_memory(stacks, target, settings.idle_tunnels).await?
    } else {
        let none = vec![None; systems.len()];
        memory::memory_rows(none.clone(), none)
    };
    // Round trips next, before bulk transfers have grown any process.
    let round_trips = if settings.wants(Measure::Rtt) {
        rtt::first_byte(stacks, target, settings).await?
    } else {
        rtt::empty_rows(systems.len())
    };
    let mut samples = vec![vec![Vec::new(); systems.len() + 1]; 7];
    for round in 0..settings.rounds {
        eprintln!("round {} of {}", round + 1, settings.rounds);
        for (i, entry) in systems
            .iter()
            .map(|s| Some(s.client.addr))
            .chain([None])
            .enumerate()
        {
            if settings.wants(Measure::Throughput) {
                samples[0][i].push(mb / download(entry, target, settings.bytes).await?);
                samples[1][i].push(mb / upload(entry, target, settings.bytes).await?);
                let each = settings.bytes / 16;
                let seconds = parallel_download(entry, target, 16, each).await?;
                samples[2][i].push(16.0 * each as f64 / 1e6 / seconds);
            }
            if settings.wants(Measure::Setup) {
                let latencies = setup_latencies(entry, target, 200).await?;
                samples[3][i].push(latencies[latencies.len() / 2]);
                samples[4][i].push(latencies[latencies.len() * 99 / 100]);
            }
            if settings.wants(Measure::Rate) {
                samples[5][i].push(connection_rate(entry, target, 64, settings.rate_for).await?);
            }
        }
        if settings.wants(Measure::Cpu) {
            for (i, system) in systems.iter().enumerate() {
                let server = stacks.server(system.server_kind).pid();
                let before = cpu_seconds(system.client.pid())? + cpu_seconds(server)?;
                download(Some(system.client.addr), target, settings.bytes).await?;
                let after = cpu_seconds(system.client.pid())? + cpu_seconds(server)?;
                let gib = settings.bytes as f64 / (1u64 << 30) as f64;
                samples[6][i].push((after - before) / gib);
            }
        }
    }
    let rows = [
        ("download, one connection", "MB/s"),
        ("upload, one connection", "MB/s"),
        ("16 parallel downloads", "MB/s"),
        ("setup p50", "µs"),
        ("setup p99", "µs"),
        ("connections/s, 64 clients", "1/s"),
        ("CPU s per GiB (client+server)", "s"),
    ];
    for ((metric, unit), per_system) in rows.into_iter().zip(samples) {
        let mut values: Vec<Option<f64>> = per_system
            .into_iter()
            .map(|s| (!s.is_empty()).then(|| median(s)))
            .collect();
        let direct = values.pop().flatten();
        results.rows.push(Row {
            metric,
            unit,
            direct,
            values,
        });
    }
    results.rows.extend(memory);
    results.rows.extend(round_trips);
    Ok(results)
}

/// The machine's limits: one-core AES-128-GCM throughput from `openssl speed`, in MB/s.
pub(crate) async fn limits() -> Option<f64> {
    let output = tokio::process::Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-128-gcm",
            "-bytes",
            "16384",
            "-seconds",
            "2",
        ])
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().find(|l| l.starts_with("AES-128-GCM"))?;
    let kbytes: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kbytes * 1000.0 / 1e6)
}
