//! `setup-compare`: did per-connection setup get slower between xypro-stack builds?
//!
//! Starts a VLESS/WS/TLS server and SOCKS5 client pair of each binary (the configs of
//! `xypro-bench`, without options an older build may not know), then measures setup latency
//! (200 sequential connect-echo samples, p50 and p99), connections per second (64 concurrent
//! clients) and the client's and server's CPU time per connection of each, interleaved round
//! by round in one run (which binary goes first rotates), and prints every round and the
//! median with the range of each figure.
//!
//! Run it: `target/release/setup-compare OLD_BINARY target/release/xypro-stack` (build the old
//! one in a worktree of the old commit; `--rate-seconds 0` measures setup alone).

use clap::Parser;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
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
use xypro_bench::process::{Proc, cpu_seconds, free_port};
use xypro_socks5::Socks5Client;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// Compare setup latency and connection rate of xypro-stack binaries, interleaved.
#[derive(Debug, Parser)]
struct Args {
    /// The binaries to compare, the baseline first.
    #[arg(required = true, num_args = 2..)]
    binaries: Vec<PathBuf>,
    /// Rounds; each measures every binary, rotating which goes first.
    #[arg(long, default_value_t = 6)]
    rounds: usize,
    /// Sequential samples per setup measurement.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Seconds of each connection-rate measurement (0 skips it).
    #[arg(long, default_value_t = 3)]
    rate_seconds: u64,
    /// Concurrent clients of the connection-rate measurement.
    #[arg(long, default_value_t = 64)]
    clients: usize,
}

/// Runs `xypro run -c` on `config` (written to `name` in `dir`) and waits until `port` accepts.
async fn start(xypro: &Path, dir: &Path, name: &str, config: &str, port: u16) -> Result<Proc> {
    Ok(Proc::spawn(xypro, &["run", "-c"], dir, name, config, port).await?)
}

/// A server and a client of one binary; the client's SOCKS5 address is the entry point.
struct Pair {
    socks: SocketAddr,
    server: Proc,
    client: Proc,
}

impl Pair {
    /// CPU seconds (user + system) the client and the server have used so far.
    fn cpu_seconds(&self) -> Result<f64> {
        Ok(cpu_seconds(self.client.pid())? + cpu_seconds(self.server.pid())?)
    }
}

async fn pair(xypro: &Path, dir: &Path, label: &str) -> Result<Pair> {
    let certs = std::env::current_dir()?.join("examples/certs");
    let cert = certs.join("server.pem").display().to_string();
    let key = certs.join("server.key").display().to_string();
    let ca = certs.join("ca.pem").display().to_string();
    let server_port = free_port()?;
    let server = format!(
        "log: warn\ninbounds:\n  server:\n    listen: 127.0.0.1:{server_port}\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n      - websocket: {{ path: /xy }}\n\
         \x20     - vless: {{ users: [{{ name: bench, id: {ID} }}], allow_private: true }}\n\
         \x20   outbound: free\noutbounds:\n  free: [direct]\n"
    );
    let server = start(
        xypro,
        dir,
        &format!("{label}-server.yaml"),
        &server,
        server_port,
    )
    .await?;
    let port = free_port()?;
    let client = format!(
        "log: warn\ninbounds:\n  socks:\n    listen: 127.0.0.1:{port}\n    pipeline: [socks5]\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n    - vless: {{ id: {ID} }}\n\
         \x20   - websocket: {{ path: /xy, host: example.test, early_data: 2048, early_data_resend: true }}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n    - tcp: {{ address: 127.0.0.1:{server_port} }}\n"
    );
    let client = start(xypro, dir, &format!("{label}-client.yaml"), &client, port).await?;
    Ok(Pair {
        socks: SocketAddr::from(([127, 0, 0, 1], port)),
        server,
        client,
    })
}

/// An echo server on 127.0.0.1:0.
async fn echo_target() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok(addr)
}

/// Connects through `socks` to `target`, sends one byte and waits for it to come back.
async fn echo_once(socks: SocketAddr, target: SocketAddr) -> Result<()> {
    let mut stream = TcpStream::connect(socks).await?;
    stream.set_nodelay(true)?;
    Socks5Client::new()
        .connect(&mut stream, &target.into())
        .await?;
    stream.write_all(&[1]).await?;
    stream.read_u8().await?;
    Ok(())
}

/// Setup latency p50 and p99 in microseconds over `samples` sequential connections.
async fn setup(socks: SocketAddr, target: SocketAddr, samples: usize) -> Result<(f64, f64)> {
    let mut all = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        echo_once(socks, target).await?;
        all.push(started.elapsed().as_secs_f64() * 1e6);
    }
    all.sort_by(f64::total_cmp);
    Ok((all[all.len() / 2], all[all.len() * 99 / 100]))
}

/// Completed connect-echo cycles per second with `clients` concurrent clients, and how many.
async fn rate(
    socks: SocketAddr,
    target: SocketAddr,
    clients: usize,
    run_for: Duration,
) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + run_for;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if echo_once(socks, target).await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let done = done.load(Ordering::Relaxed);
    (done as f64 / started.elapsed().as_secs_f64(), done)
}

/// Median, minimum and maximum, formatted.
fn summary(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.0} [{:.0}..{:.0}]",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

async fn run(args: Args) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("setup-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let target = echo_target().await?;
    let mut pairs = Vec::new();
    for (i, binary) in args.binaries.iter().enumerate() {
        let label = char::from(b'a' + i as u8).to_string();
        let started = pair(binary, &dir, &label).await?;
        pairs.push((label, started));
    }
    // Warm every pair up: first connections pay for lazy initialisation.
    for (_, pair) in &pairs {
        setup(pair.socks, target, 50).await?;
    }
    let n = pairs.len();
    let (mut p50, mut p99) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let mut per_second = vec![Vec::new(); n];
    let mut cpu_per_connection = vec![Vec::new(); n];
    let run_for = Duration::from_secs(args.rate_seconds);
    for round in 0..args.rounds {
        // Every setup of the round before any rate run: the sockets a rate run leaves in
        // TIME_WAIT and the memory it frees slow down whatever is measured right after it.
        let order: Vec<usize> = (0..n).map(|k| (round + k) % n).collect();
        for &i in &order {
            let (label, pair) = &pairs[i];
            let (median, tail) = setup(pair.socks, target, args.samples).await?;
            p50[i].push(median);
            p99[i].push(tail);
            eprintln!("round {round} {label}: setup p50 {median:.0} µs p99 {tail:.0} µs");
        }
        if args.rate_seconds == 0 {
            continue;
        }
        for &i in &order {
            let (label, pair) = &pairs[i];
            let before = pair.cpu_seconds()?;
            let (r, done) = rate(pair.socks, target, args.clients, run_for).await;
            let cpu = (pair.cpu_seconds()? - before) / done.max(1) as f64 * 1e6;
            per_second[i].push(r);
            cpu_per_connection[i].push(cpu);
            eprintln!("round {round} {label}: {r:.0} conn/s, {cpu:.0} µs CPU per connection");
        }
    }
    for (i, (label, _)) in pairs.iter().enumerate() {
        println!("{label} = {}", args.binaries[i].display());
        println!("  setup p50 µs: {}", summary(p50[i].clone()));
        println!("  setup p99 µs: {}", summary(p99[i].clone()));
        if !per_second[i].is_empty() {
            println!("  conn/s:       {}", summary(per_second[i].clone()));
            println!("  CPU µs/conn:  {}", summary(cpu_per_connection[i].clone()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(args))
}
