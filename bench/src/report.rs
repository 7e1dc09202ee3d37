//! The markdown report: one row per metric, one column per system, and ratios of ours against
//! v2ray and sing-box.

use crate::{load::Settings, peers::Kind};

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
    pub(crate) systems: Vec<String>,
    pub(crate) rows: Vec<Row>,
}

impl Results {
    pub(crate) fn new(systems: Vec<String>) -> Self {
        Results {
            systems,
            rows: Vec::new(),
        }
    }
}

/// A value as a table cell: whole numbers from 100, two decimals below, `–` when missing.
pub(crate) fn cell(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

impl Row {
    /// The value of the pure system of `kind`, given the column names.
    fn of(&self, systems: &[String], kind: Kind) -> Option<f64> {
        let i = systems.iter().position(|s| s == kind.label())?;
        self.values.get(i).copied().flatten()
    }
}

/// `ours / theirs` as a ratio cell.
pub(crate) fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(ours), Some(theirs)) if theirs > 0.0 => format!("{:.2}x", ours / theirs),
        _ => "–".into(),
    }
}

/// Renders the table, with ours / v2ray and ours / sing-box and the goal against sing-box.
pub(crate) fn render(
    results: &Results,
    settings: &Settings,
    versions: &[String],
    aes_gcm: &Option<f64>,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "VLESS over WebSocket over TLS, SOCKS5 in, loopback target; medians of {} rounds; {} MiB per transfer; \
         {} idle tunnels; round trips through a relay delaying {} ms each way, {} client starts; {} CPUs.\n\
         Peers: {}.\n\n",
        settings.rounds,
        settings.bytes >> 20,
        settings.idle_tunnels,
        settings.delay.as_millis(),
        settings.rtt_starts,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        versions.join("; "),
    ));
    out.push_str("| metric | direct | ");
    out.push_str(&results.systems.join(" | "));
    out.push_str(" | ours / v2ray | ours / sing-box | goal (vs sing-box) |\n|---|---|");
    out.push_str(&"---|".repeat(results.systems.len() + 3));
    out.push('\n');
    for row in &results.rows {
        let of = |kind| row.of(&results.systems, kind);
        let vs_v2ray = ratio(of(Kind::Ours), of(Kind::V2ray));
        let vs_sing_box = ratio(of(Kind::Ours), of(Kind::SingBox));
        let goal = goal(row.metric, row.unit);
        out.push_str(&format!(
            "| {} ({}) | {} | ",
            row.metric,
            row.unit,
            cell(row.direct)
        ));
        let values: Vec<String> = row.values.iter().map(|v| cell(*v)).collect();
        out.push_str(&values.join(" | "));
        out.push_str(&format!(" | {vs_v2ray} | {vs_sing_box} | {goal} |\n"));
    }
    if let Some(row) = results.rows.first()
        && let (Some(direct), Some(ours)) = (row.direct, row.of(&results.systems, Kind::Ours))
    {
        let bound = direct / 3.0;
        out.push_str(&format!(
                "\nEvery tunnelled byte crosses three loopback connections (target, tunnel, SOCKS5) on the same \
                 cores, so one-connection throughput is bounded near direct / 3 = {bound:.0} MB/s; ours reached {:.0}% of it.\n",
                ours / bound * 100.0
            ));
    }
    if let Some(aes) = aes_gcm {
        out.push_str(&format!(
            "\nOne-core AES-128-GCM (`openssl speed`, 16 KiB blocks): {aes:.0} MB/s.\n"
        ));
    }
    out.push_str(
        "\nColumns: `ours`, `v2ray` and `sing-box` are each one's client and server; `ours->v2ray` is our client with \
         v2ray's server, `v2ray->ours` v2ray's client with our server, and so on. v2ray 4.34 sends no early data; \
         ours and sing-box put the first 2048 bytes in `Sec-WebSocket-Protocol`.\n",
    );
    out.push_str(
        "\nFirst byte via relay: the time from connecting to the SOCKS5 port until the first byte echoed through the \
         tunnel comes back, with a relay between client and server that holds every chunk for the delay in each \
         direction (`direct` goes through the relay straight to the target, and shows the relay's own overhead: its \
         timers round up to the millisecond); in round trips it is ms / (2 × delay). \
         Cold is the first connection of a freshly started client process against a running server, warm the \
         median of the next connections of that process; the `preconnect: 2` row is our client keeping two \
         connected TLS sessions ready (the other rows use the default, none). The relay does not delay TCP handshakes: on a real link \
         every new connection to the server costs one round trip more (every cold figure, and every warm one that \
         does not reuse a connection).\n",
    );
    out
}

/// The goal for ours / sing-box from PERFORMANCE.md, for a row.
fn goal(metric: &str, unit: &str) -> &'static str {
    match (metric, unit) {
        ("download, one connection" | "upload, one connection", _) => ">= 2.0x",
        ("16 parallel downloads", _) => ">= 1.5x",
        ("setup p50", _) => "<= 0.25x",
        ("connections/s, 64 clients", _) => ">= 3.0x",
        ("CPU s per GiB (client+server)", _) => "<= 0.4x",
        (m, _) if m.starts_with("RSS") => "<= 0.2x",
        (m, "round trips") if m.ends_with("cold client") => "<= 1.0x",
        (m, "round trips") if m.contains("preconnect") => "ours <= 1.3",
        _ => "",
    }
}
