//! Resident memory each idle tunnel costs the client and the server process.

use crate::{load::echo_once, peers::Stacks, report::Row};
use std::{net::SocketAddr, time::Duration};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Resident memory of a process, in kilobytes.
fn rss_kb(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

/// Kilobytes of RSS per idle tunnel in the client and in the server process, for the systems
/// with their own processes (client and server of one kind); the mixed pairs share them.
pub(crate) async fn idle_memory(
    stacks: &Stacks,
    target: SocketAddr,
    tunnels: usize,
) -> Result<[Row; 2]> {
    let mut client = Vec::new();
    let mut server = Vec::new();
    for system in &stacks.systems {
        if !system.is_pure() {
            client.push(None);
            server.push(None);
            continue;
        }
        let pids = [system.client.pid(), stacks.server(system.server_kind).pid()];
        let before = [rss_kb(pids[0])?, rss_kb(pids[1])?];
        let mut open_tunnels = Vec::with_capacity(tunnels);
        for _ in 0..tunnels {
            open_tunnels.push(echo_once(Some(system.client.addr), target).await?.1);
        }
        let per_tunnel = |pid, before: f64| -> Result<Option<f64>> {
            Ok(Some((rss_kb(pid)? - before).max(0.0) / tunnels as f64))
        };
        client.push(per_tunnel(pids[0], before[0])?);
        server.push(per_tunnel(pids[1], before[1])?);
        drop(open_tunnels);
        // Let both ends see the closes before the next system is measured.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    Ok(memory_rows(client, server))
}

/// The two memory rows from per-system kilobytes per tunnel.
pub(crate) fn memory_rows(client: Vec<Option<f64>>, server: Vec<Option<f64>>) -> [Row; 2] {
    [
        Row {
            metric: "RSS per idle tunnel, client",
            unit: "KB",
            direct: None,
            values: client,
        },
        Row {
            metric: "RSS per idle tunnel, server",
            unit: "KB",
            direct: None,
            values: server,
        },
    ]
}
