//! `admin-load`: does a thousand streaming dashboards on the admin server slow the data path?
//!
//! Starts a release xypro-stack VLESS/WS/TLS server (with its admin server) and a client, then
//! times single-connection downloads through the tunnel with no dashboards and with `--clients`
//! WebSocket dashboards (half on `/connections`, half on `/traffic`, as zashboard opens them),
//! interleaved ABBA in one run, and prints the medians and their ratio.
//!
//! Run it: `cargo build --release -p xypro-stack -p xypro-bench && target/release/admin-load`

use futures_util::StreamExt;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};
use tokio_tungstenite::{client_async, tungstenite::client::IntoClientRequest};
use xypro_bench::process::{Proc, free_port};
use xypro_socks5::Socks5Client;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";
const SECRET: &str = "bench";

/// Runs `xypro run -c` on `config` (written to `name` in `dir`) and waits until `port` accepts.
async fn start(xypro: &Path, dir: &Path, name: &str, config: &str, port: u16) -> Result<Proc> {
    Ok(Proc::spawn(xypro, &["run", "-c"], dir, name, config, port).await?)
}

/// A destination that sends the number of bytes each connection asks for.
async fn source() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let chunk = vec![0x5a; 256 * 1024];
                let Ok(mut left) = stream.read_u64().await else {
                    return;
                };
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    Ok(addr)
}

/// MB/s of one download of `bytes` through the SOCKS5 port.
async fn download(socks: SocketAddr, target: SocketAddr, bytes: u64) -> Result<f64> {
    let mut stream = TcpStream::connect(socks).await?;
    stream.set_nodelay(true)?;
    Socks5Client::new()
        .connect(&mut stream, &target.into())
        .await?;
    let started = Instant::now();
    stream.write_u64(bytes).await?;
    let mut buf = vec![0; 256 * 1024];
    let mut got = 0;
    while got < bytes {
        match stream.read(&mut buf).await? {
            0 => return Err("the download ended early".into()),
            n => got += n as u64,
        }
    }
    Ok(bytes as f64 / 1e6 / started.elapsed().as_secs_f64())
}

/// `count` dashboards reading their streams until aborted; returns once each got a frame.
async fn dashboards(admin: SocketAddr, count: usize) -> Result<JoinSet<()>> {
    let mut set = JoinSet::new();
    let (ready, mut readies) = tokio::sync::mpsc::channel(count);
    for i in 0..count {
        let path = match i % 2 {
            0 => format!("/connections?token={SECRET}"),
            _ => format!("/traffic?token={SECRET}"),
        };
        let request = format!("ws://{admin}{path}").into_client_request()?;
        let (mut socket, _) = client_async(request, TcpStream::connect(admin).await?).await?;
        let ready = ready.clone();
        set.spawn(async move {
            let mut first = true;
            while let Some(Ok(_)) = socket.next().await {
                if std::mem::take(&mut first) {
                    let _ = ready.send(()).await;
                }
            }
        });
    }
    for _ in 0..count {
        readies.recv().await.ok_or("a dashboard got no frame")?;
    }
    Ok(set)
}

/// The share of one core process `pid` used over `period`.
async fn cpu_share(pid: u32, period: Duration) -> Result<f64> {
    let ticks = || -> Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .ok_or("odd stat")?
            .1
            .split(' ')
            .collect();
        Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
    };
    let before = ticks()?;
    tokio::time::sleep(period).await;
    // Linux counts 100 ticks per second.
    Ok((ticks()? - before) as f64 / 100.0 / period.as_secs_f64())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let (clients, megabytes, rounds) = (
        arg("--clients", 1000) as usize,
        arg("--megabytes", 512),
        arg("--rounds", 4),
    );
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let xypro = root.join("target/release/xypro-stack");
    let certs = root.join("examples/certs");
    let dir = std::env::temp_dir().join(format!("xypro-admin-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let (server_port, admin_port, socks_port) = (free_port()?, free_port()?, free_port()?);
    let server = format!(
        "log: warn\ninbounds:\n  server:\n    listen: 127.0.0.1:{server_port}\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n      - websocket: {{ path: /xy }}\n\
         \x20     - vless: {{ users: [{{ name: bench, id: {ID} }}], allow_private: true }}\n\
         \x20   outbound: free\nadmin:\n  listen: 127.0.0.1:{admin_port}\n  secret: {SECRET}\n\
         outbounds:\n  free: [direct]\n",
        cert = certs.join("server.pem").display(),
        key = certs.join("server.key").display(),
    );
    let client = format!(
        "log: warn\ninbounds:\n  socks:\n    listen: 127.0.0.1:{socks_port}\n    pipeline: [socks5]\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n    - vless: {{ id: {ID} }}\n\
         \x20   - websocket: {{ path: /xy, host: example.test, early_data: 2048 }}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n    - tcp: {{ address: 127.0.0.1:{server_port} }}\n",
        ca = certs.join("ca.pem").display(),
    );
    let server = start(&xypro, &dir, "server.yaml", &server, server_port).await?;
    let _client = start(&xypro, &dir, "client.yaml", &client, socks_port).await?;
    let (socks, admin) = (
        SocketAddr::from(([127, 0, 0, 1], socks_port)),
        SocketAddr::from(([127, 0, 0, 1], admin_port)),
    );
    let target = source().await?;
    let bytes = megabytes << 20;
    download(socks, target, 16 << 20).await?;

    let (mut quiet, mut loaded) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // A B B A: drift over the run weighs on both sides alike.
        for with_dashboards in [round % 2 == 1, round % 2 == 0] {
            let watching = match with_dashboards {
                true => Some(dashboards(admin, clients).await?),
                false => None,
            };
            let rate = download(socks, target, bytes).await?;
            eprintln!(
                "round {round}: {rate:.0} MB/s {}",
                if with_dashboards {
                    "with dashboards"
                } else {
                    "without"
                }
            );
            match watching {
                Some(mut set) => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    loaded.push(rate);
                }
                None => quiet.push(rate),
            }
        }
    }
    // What the dashboards cost the server itself, with no traffic.
    let pid = server.pid();
    let idle = cpu_share(pid, Duration::from_secs(5)).await?;
    let watching = dashboards(admin, clients).await?;
    let busy = cpu_share(pid, Duration::from_secs(5)).await?;
    drop(watching);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "server CPU with no traffic: {:.1}% of a core idle, {:.1}% with {clients} dashboards",
        idle * 100.0,
        busy * 100.0
    );
    let (quiet, loaded) = (median(quiet), median(loaded));
    println!(
        "{megabytes} MiB downloads through VLESS/WS/TLS, median of {rounds}: {quiet:.0} MB/s without dashboards, \
         {loaded:.0} MB/s with {clients} streaming WebSocket dashboards on the server's admin port: ratio {:.3}",
        loaded / quiet
    );
    Ok(())
}
