//! The markdown report: one row per metric, one column per system, and ratios against v2ray.

use crate::load::Settings;

/// One metric across every system.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) metric: &'static str,
    pub(crate) unit: &'static str,
    /// The same measurement straight to the target, where it means something.
    pub(crate) direct: Option<f64>,
    /// One value per system, in [`Results::systems`] order.
    pub(crate) values: Vec<Option<f64>>,
}

/// Every row of a run.
#[derive(Debug)]
pub(crate) struct Results {
    pub(crate) systems: Vec<&'static str>,
    pub(crate) rows: Vec<Row>,
}

impl Results {
    pub(crate) fn new(systems: Vec<&'static str>) -> Self {
        Results {
            systems,
            rows: Vec::new(),
        }
    }
}

fn cell(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// Renders the table; the ratio column is ours / v2ray (the first two systems).
pub(crate) fn render(results: &Results, settings: &Settings, aes_gcm: &Option<f64>) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "VLESS over WebSocket over TLS, SOCKS5 in, loopback target; medians of {} rounds; {} MiB per transfer; \
         {} idle tunnels; {} CPUs.\n\n",
        settings.rounds,
        settings.bytes >> 20,
        settings.idle_tunnels,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    ));
    out.push_str("| metric | direct | ");
    out.push_str(&results.systems.join(" | "));
    out.push_str(" | ours / v2ray | goal |\n|---|---|");
    out.push_str(&"---|".repeat(results.systems.len() + 2));
    out.push('\n');
    for row in &results.rows {
        let ratio = match (
            row.values.first().copied().flatten(),
            row.values.get(1).copied().flatten(),
        ) {
            (Some(ours), Some(theirs)) if theirs > 0.0 => format!("{:.2}x", ours / theirs),
            _ => "–".into(),
        };
        let goal = goal(row.metric);
        out.push_str(&format!(
            "| {} ({}) | {} | ",
            row.metric,
            row.unit,
            cell(row.direct)
        ));
        let values: Vec<String> = row.values.iter().map(|v| cell(*v)).collect();
        out.push_str(&values.join(" | "));
        out.push_str(&format!(" | {ratio} | {goal} |\n"));
    }
    if let Some(row) = results.rows.first() {
        if let (Some(direct), Some(Some(ours))) = (row.direct, row.values.first()) {
            let bound = direct / 3.0;
            out.push_str(&format!(
                "\nEvery tunnelled byte crosses three loopback connections (target, tunnel, SOCKS5) on the same \
                 cores, so one-connection throughput is bounded near direct / 3 = {bound:.0} MB/s; ours reached {:.0}% of it.\n",
                ours / bound * 100.0
            ));
        }
    }
    if let Some(aes) = aes_gcm {
        out.push_str(&format!(
            "\nOne-core AES-128-GCM (`openssl speed`, 16 KiB blocks): {aes:.0} MB/s.\n"
        ));
    }
    out.push_str("\nColumns: `ours` is our client and server; `ours->v2ray` our client with v2ray's server; `v2ray->ours` v2ray's client with our server.\n");
    out
}

fn goal(metric: &str) -> &'static str {
    match metric {
        "download, one connection" | "upload, one connection" => ">= 5.0x",
        "16 parallel downloads" => ">= 4.0x",
        "setup p50" => "<= 0.33x",
        "connections/s, 64 clients" => ">= 3.0x",
        "CPU s per GiB (client+server)" => "<= 0.25x",
        m if m.starts_with("RSS") => "<= 0.25x",
        _ => "",
    }
}
