//! The per-transport table: throughput, setup and connection rate over HTTPUpgrade, HTTP/2 and
//! gRPC, ours against sing-box and the mixed pairs, interleaved round by round.

use crate::{
    load::{
        Result, Settings, connection_rate, download, median, parallel_download, setup_latencies,
        upload,
    },
    peers::{Kind, Launcher, Proc, Transport, pair_name},
    report::Row,
};
use std::net::SocketAddr;

/// Client and server kinds of each column: the two pure systems, then the mixed pairs.
const PAIRS: [(Kind, Kind); 4] = [
    (Kind::Ours, Kind::Ours),
    (Kind::SingBox, Kind::SingBox),
    (Kind::Ours, Kind::SingBox),
    (Kind::SingBox, Kind::Ours),
];

/// The rows measured for each transport, in order.
const METRICS: [(&str, &str); 5] = [
    ("download, one connection", "MB/s"),
    ("upload, one connection", "MB/s"),
    ("16 parallel downloads", "MB/s"),
    ("setup p50", "µs"),
    ("connections/s, 64 clients", "1/s"),
];

/// The rows of one transport.
#[derive(Debug)]
pub(crate) struct Measured {
    transport: Transport,
    rows: Vec<Row>,
}

/// Measures every transport in turn, each with its own servers and clients, stopped before the
/// next transport starts.
pub(crate) async fn measure(
    launcher: &Launcher,
    target: SocketAddr,
    settings: &Settings,
) -> Result<Vec<Measured>> {
    let mut measured = Vec::new();
    for transport in Transport::ALL {
        eprintln!("transport {}", transport.label());
        let ours = launcher.transport_server(Kind::Ours, transport).await?;
        let sing_box = launcher.transport_server(Kind::SingBox, transport).await?;
        let mut clients: Vec<Proc> = Vec::new();
        for (client, server) in PAIRS {
            let upstream = if server == Kind::Ours {
                &ours
            } else {
                &sing_box
            }
            .addr;
            clients.push(
                launcher
                    .transport_client(client, upstream, transport)
                    .await?,
            );
        }
        let rows = measure_clients(&clients, target, settings).await?;
        measured.push(Measured { transport, rows });
    }
    Ok(measured)
}

/// Every metric through each client, interleaved round by round; medians per client.
async fn measure_clients(
    clients: &[Proc],
    target: SocketAddr,
    settings: &Settings,
) -> Result<Vec<Row>> {
    let mut samples = vec![vec![Vec::new(); clients.len()]; METRICS.len()];
    let mb = settings.bytes as f64 / 1e6;
    for _ in 0..settings.rounds {
        for (i, client) in clients.iter().enumerate() {
            let socks = Some(client.addr);
            samples[0][i].push(mb / download(socks, target, settings.bytes).await?);
            samples[1][i].push(mb / upload(socks, target, settings.bytes).await?);
            let each = settings.bytes / 16;
            let seconds = parallel_download(socks, target, 16, each).await?;
            samples[2][i].push(16.0 * each as f64 / 1e6 / seconds);
            let latencies = setup_latencies(socks, target, 200).await?;
            samples[3][i].push(latencies[latencies.len() / 2]);
            samples[4][i].push(connection_rate(socks, target, 64, settings.rate_for).await?);
        }
    }
    Ok(METRICS
        .into_iter()
        .zip(samples)
        .map(|((metric, unit), per_client)| Row {
            metric,
            unit,
            direct: None,
            values: per_client.into_iter().map(|s| Some(median(s))).collect(),
        })
        .collect())
}

/// The per-transport table in markdown, with ours / sing-box.
pub(crate) fn render(measured: &[Measured]) -> String {
    let columns: Vec<String> = PAIRS
        .into_iter()
        .map(|(client, server)| pair_name(client, server))
        .collect();
    let mut out = format!(
        "\n### Other transports, ours against sing-box\n\n| transport | metric | {} | ours / sing-box |\n|---|---|{}\n",
        columns.join(" | "),
        "---|".repeat(columns.len() + 1)
    );
    for Measured { transport, rows } in measured {
        for row in rows {
            let cells: Vec<String> = row.values.iter().map(|v| crate::report::cell(*v)).collect();
            out.push_str(&format!(
                "| {} | {} ({}) | {} | {} |\n",
                transport.label(),
                row.metric,
                row.unit,
                cells.join(" | "),
                crate::report::ratio(row.values[0], row.values[1])
            ));
        }
    }
    out.push_str(
        "\nSame target, sizes and rounds as the WebSocket table; no early data on any of these \
         transports; HTTP/2 and gRPC clients open every tunnel as a stream on a pooled connection.\n",
    );
    out
}
