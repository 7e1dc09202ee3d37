//! `/metrics`: Prometheus text from the connection table, the process-wide event counters, the
//! handshake failures, dial times and the process itself. Labels come from the config (inbound,
//! outbound and user names) or from fixed lists; never a destination or a client address.

use super::{process, state::State};
use crate::serve::{HandshakeFailure, handshake_failures};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::{Registry, Unit},
};
use std::{collections::BTreeMap, fmt, sync::Arc};
use xypro_core::{Network, TableTotals, Totals, events};

/// Labels of one sample: fixed names, values from the config or from fixed lists.
type Labels = Vec<(&'static str, String)>;

/// Renders every metric as Prometheus (OpenMetrics) text.
pub(crate) fn render(state: &State) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_with_unit(
        "xypro_dial_duration",
        "Time from the start of a connection until its outbound connected, by outbound",
        Unit::Seconds,
        state.dials.seconds(),
    );
    registry.register(
        "xypro_dial_failures",
        "Connections whose outbound failed to connect, by outbound and failure",
        state.dials.failures(),
    );
    registry.register_collector(Box::new(Figures::now(state)));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// The figures of one scrape, read before encoding.
#[derive(Debug)]
struct Figures {
    totals: TableTotals,
    udp_sessions: u64,
    udp_destinations: u64,
    failures: Vec<(Arc<str>, HandshakeFailure, u64)>,
    open_fds: Option<u64>,
    resident: Option<u64>,
}

impl Figures {
    fn now(state: &State) -> Self {
        let (mut udp_sessions, mut udp_destinations) = (0, 0);
        for context in state.table.list() {
            match (context.network(), context.parent()) {
                (Network::Udp, None) => udp_sessions += 1,
                (Network::Udp, Some(_)) => udp_destinations += 1,
                _ => {}
            }
        }
        Figures {
            totals: state.table.totals(),
            udp_sessions,
            udp_destinations,
            failures: handshake_failures(),
            open_fds: process::open_fds(),
            resident: process::resident_bytes(),
        }
    }
}

/// One metric family: its descriptor, then a sample per label set.
fn family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, u64)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for (labels, value) in samples {
        let sample = metric.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(value).encode(sample)?,
            _ => ConstGauge::new(value).encode(sample)?,
        }
    }
    Ok(())
}

/// The connection and byte families of one key (inbound, outbound or user).
fn keyed(
    encoder: &mut DescriptorEncoder,
    key: &'static str,
    totals: &BTreeMap<Arc<str>, Totals>,
) -> fmt::Result {
    let labels = |name: &Arc<str>| vec![(key, name.to_string())];
    family(
        encoder,
        &format!("xypro_{key}_connections_open"),
        &format!("Logical connections open now, by {key}"),
        None,
        MetricType::Gauge,
        totals.iter().map(|(name, t)| (labels(name), t.open)),
    )?;
    family(
        encoder,
        &format!("xypro_{key}_connections"),
        &format!("Logical connections opened, by {key}"),
        None,
        MetricType::Counter,
        totals
            .iter()
            .map(|(name, t)| (labels(name), t.connections())),
    )?;
    family(
        encoder,
        &format!("xypro_{key}_traffic"),
        &format!("Bytes relayed, by {key} and direction (up: towards destinations)"),
        Some(Unit::Bytes),
        MetricType::Counter,
        totals.iter().flat_map(|(name, t)| {
            let with = |direction: &str| {
                let mut labels = labels(name);
                labels.push(("direction", direction.to_owned()));
                labels
            };
            [(with("up"), t.up), (with("down"), t.down)]
        }),
    )
}

fn no_labels(value: u64) -> [(Labels, u64); 1] {
    [(Vec::new(), value)]
}

fn labelled<const N: usize>(labels: [(&'static str, &str); N], value: u64) -> (Labels, u64) {
    let labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    (labels, value)
}

impl Collector for Figures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        use MetricType::{Counter, Gauge};
        let e = &mut encoder;
        let all = self.totals.all;
        family(
            e,
            "xypro_connections_open",
            "Logical connections open now",
            None,
            Gauge,
            no_labels(all.open),
        )?;
        family(
            e,
            "xypro_connections",
            "Logical connections opened",
            None,
            Counter,
            no_labels(all.connections()),
        )?;
        family(
            e,
            "xypro_traffic",
            "Bytes relayed, by direction (up: towards destinations)",
            Some(Unit::Bytes),
            Counter,
            [
                labelled([("direction", "up")], all.up),
                labelled([("direction", "down")], all.down),
            ],
        )?;
        keyed(e, "inbound", &self.totals.by_inbound)?;
        keyed(e, "outbound", &self.totals.by_outbound)?;
        keyed(e, "user", &self.totals.by_user)?;
        family(
            e,
            "xypro_udp_sessions_open",
            "UDP connections open now that belong to no session (UDP associations, XUDP sessions, plain VLESS UDP)",
            None,
            Gauge,
            no_labels(self.udp_sessions),
        )?;
        family(
            e,
            "xypro_udp_destinations_open",
            "UDP destinations open now inside sessions",
            None,
            Gauge,
            no_labels(self.udp_destinations),
        )?;
        family(
            e,
            "xypro_handshake_failures",
            "Inbound handshakes that failed, by inbound, stage and reason",
            None,
            Counter,
            self.failures.iter().map(|(inbound, failure, n)| {
                labelled(
                    [
                        ("inbound", inbound),
                        ("stage", failure.stage),
                        ("reason", failure.reason),
                    ],
                    *n,
                )
            }),
        )?;
        family(
            e,
            "xypro_tls_handshakes",
            "TLS handshakes finished, by side and kind (full or resumed)",
            None,
            Counter,
            [
                labelled(
                    [("side", "server"), ("kind", "full")],
                    events::TLS_ACCEPTED_FULL.get(),
                ),
                labelled(
                    [("side", "server"), ("kind", "resumed")],
                    events::TLS_ACCEPTED_RESUMED.get(),
                ),
                labelled(
                    [("side", "client"), ("kind", "full")],
                    events::TLS_CONNECTED_FULL.get(),
                ),
                labelled(
                    [("side", "client"), ("kind", "resumed")],
                    events::TLS_CONNECTED_RESUMED.get(),
                ),
            ],
        )?;
        family(
            e,
            "xypro_datagrams_dropped",
            "Datagrams UDP sessions dropped at their caps or for gone destinations",
            None,
            Counter,
            no_labels(events::DATAGRAMS_DROPPED.get()),
        )?;
        family(
            e,
            "xypro_rate_limit_waits",
            "Waits for a rate limit, by kind (connection: before dialling; bytes: a read or write)",
            None,
            Counter,
            [
                labelled(
                    [("kind", "connection")],
                    events::RATE_LIMIT_CONNECTION_WAITS.get(),
                ),
                labelled([("kind", "bytes")], events::RATE_LIMIT_BYTE_WAITS.get()),
            ],
        )?;
        if let Some(fds) = self.open_fds {
            family(
                e,
                "process_open_fds",
                "Open file descriptors",
                None,
                Gauge,
                no_labels(fds),
            )?;
        }
        if let Some(resident) = self.resident {
            family(
                e,
                "process_resident_memory",
                "Resident memory",
                Some(Unit::Bytes),
                Gauge,
                no_labels(resident),
            )?;
        }
        family(
            e,
            "xypro_build_info",
            "The running build, as labels",
            None,
            Gauge,
            [labelled([("version", env!("CARGO_PKG_VERSION"))], 1)],
        )
    }
}
