//! Time to the first echoed byte with a delay relay between client and server, for a freshly
//! started client (cold) and for one that has just made a connection (warm).

use crate::{
    load::{Settings, echo_once, median},
    peers::{Kind, Stacks},
    relay,
    report::Row,
};
use std::net::SocketAddr;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Connections each client makes one after another after its first one; their median is the
/// warm figure.
const WARM_CONNECTIONS: usize = 5;

/// The ready TLS sessions of our client in the `preconnect` rows.
const PRECONNECT: usize = 2;

/// Milliseconds to the first byte of the first connection and of the warm ones.
async fn cold_and_warm(socks: Option<SocketAddr>, target: SocketAddr) -> Result<(f64, Vec<f64>)> {
    let ms = |(took, _): (std::time::Duration, _)| took.as_secs_f64() * 1e3;
    let cold = ms(echo_once(socks, target).await?);
    let mut warm = Vec::with_capacity(WARM_CONNECTIONS);
    for _ in 0..WARM_CONNECTIONS {
        warm.push(ms(echo_once(socks, target).await?));
    }
    Ok((cold, warm))
}

/// The round-trip rows: for every pure system, and for ours with `preconnect`, a fresh client
/// process is started `settings.rtt_starts` times (the kinds interleaved) against the already
/// running server behind a relay; `direct` goes through a relay straight to the target.
pub(crate) async fn first_byte(
    stacks: &Stacks,
    target: SocketAddr,
    settings: &Settings,
) -> Result<[Row; ROWS.len()]> {
    eprintln!(
        "round trips through a {} ms relay",
        settings.delay.as_millis()
    );
    let mut relays = Vec::new();
    for kind in Kind::ALL {
        relays.push(relay::start(stacks.server(kind).addr, settings.delay).await?);
    }
    let to_target = relay::start(target, settings.delay).await?;
    // One list per kind (in `Kind::ALL` order), then direct, then ours with preconnect.
    let direct = Kind::ALL.len();
    let preconnected = direct + 1;
    let mut cold = vec![Vec::new(); direct + 2];
    let mut warm = vec![Vec::new(); direct + 2];
    for _ in 0..settings.rtt_starts {
        for (kind, relay) in Kind::ALL.into_iter().zip(&relays) {
            let client = stacks.launcher.client(kind, relay.addr, kind).await?;
            let (first, later) = cold_and_warm(Some(client.addr), target).await?;
            cold[kind as usize].push(first);
            warm[kind as usize].extend(later);
        }
        let ours = &relays[Kind::Ours as usize];
        let client = (stacks.launcher)
            .client_with(Kind::Ours, ours.addr, Kind::Ours, PRECONNECT)
            .await?;
        let (first, later) = cold_and_warm(Some(client.addr), target).await?;
        cold[preconnected].push(first);
        warm[preconnected].extend(later);
        let (first, later) = cold_and_warm(None, to_target.addr).await?;
        cold[direct].push(first);
        warm[direct].extend(later);
    }
    let round_trip_ms = 2.0 * settings.delay.as_secs_f64() * 1e3;
    Ok(ROWS.map(|(metric, unit, in_round_trips)| {
        let samples = if metric.contains("cold") {
            &cold
        } else {
            &warm
        };
        let scale = if in_round_trips { round_trip_ms } else { 1.0 };
        let of = |i: usize| median(samples[i].clone()) / scale;
        let with_preconnect = metric.contains("preconnect");
        Row {
            metric,
            unit,
            direct: Some(of(direct)),
            values: (stacks.systems.iter())
                .map(|s| match (with_preconnect, s.is_pure(), s.client_kind) {
                    (false, true, kind) => Some(of(kind as usize)),
                    (true, true, Kind::Ours) => Some(of(preconnected)),
                    _ => None,
                })
                .collect(),
        }
    }))
}

/// The metric of the first connection of a freshly started client.
const COLD: &str = "first byte via relay, cold client";
/// The metric of later connections of the same client.
const WARM: &str = "first byte via relay, warm client";
/// The metric of later connections of our client with ready TLS sessions.
const WARM_PRECONNECT: &str = "first byte via relay, warm client, `preconnect: 2`";
/// The rows: metric, unit, and whether the figure is in round trips (else milliseconds).
const ROWS: [(&str, &str, bool); 6] = [
    (COLD, "ms", false),
    (COLD, "round trips", true),
    (WARM, "ms", false),
    (WARM, "round trips", true),
    (WARM_PRECONNECT, "ms", false),
    (WARM_PRECONNECT, "round trips", true),
];

/// The rows with nothing measured.
pub(crate) fn empty_rows(systems: usize) -> [Row; ROWS.len()] {
    ROWS.map(|(metric, unit, _)| Row {
        metric,
        unit,
        direct: None,
        values: vec![None; systems],
    })
}
