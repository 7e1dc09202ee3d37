//! The `/connections` snapshot in the exact item shape dashboards read, cached briefly so that
//! many streaming dashboards share one rendering.

use crate::admin::{
    process,
    state::{State, View},
};
use bytes::Bytes;
use serde_json::{Value, json};
use std::{
    sync::{LazyLock, Mutex, PoisonError},
    time::{Duration, Instant},
};
use uuid::Uuid;
use xypro_core::{Address, ConnectionContext};

/// The high half of every connection's UUID: random per process, so a dashboard that outlives
/// a restart does not mix up ids.
static ID_PREFIX: LazyLock<u64> = LazyLock::new(|| Uuid::new_v4().as_u64_pair().0);

/// The API id of the connection with table id `id`.
pub(crate) fn api_id(id: u64) -> String {
    Uuid::from_u64_pair(*ID_PREFIX, id).to_string()
}

/// The table id of an API id, if it is one of this process's.
pub(crate) fn table_id(api_id: &str) -> Option<u64> {
    let (prefix, id) = Uuid::parse_str(api_id).ok()?.as_u64_pair();
    (prefix == *ID_PREFIX).then_some(id)
}

/// The last rendering, reused while it is young enough.
#[derive(Debug, Default)]
pub(crate) struct Snapshots {
    last: Mutex<Option<(Instant, Bytes)>>,
}

impl Snapshots {
    /// A rendering of the table at most `max_age` old.
    pub(crate) fn get(&self, state: &State, max_age: Duration) -> Bytes {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, bytes)) = &*last
            && at.elapsed() <= max_age
        {
            return bytes.clone();
        }
        let bytes = Bytes::from(serde_json::to_vec(&render(state)).unwrap_or_default());
        *last = Some((Instant::now(), bytes.clone()));
        bytes
    }
}

/// `{"downloadTotal", "uploadTotal", "connections": [...], "memory"}`, `[]` when empty.
fn render(state: &State) -> Value {
    let view = state.view();
    let totals = state.table.totals().all;
    let connections: Vec<Value> = state.table.list().iter().map(|c| item(&view, c)).collect();
    json!({
        "downloadTotal": totals.down,
        "uploadTotal": totals.up,
        "connections": connections,
        "memory": process::resident_bytes().unwrap_or(0),
    })
}

/// One connection as sing-box and mihomo describe it: ports are strings, `chains` lists the
/// outbound that carries it first.
fn item(view: &View, context: &ConnectionContext) -> Value {
    let meta = context.meta();
    let route = context.route();
    let destination = context.destination();
    let (host, destination_ip) = match destination {
        Address::Domain(name, _) => (
            name.clone(),
            route
                .resolved
                .map_or_else(String::new, |a| a.ip().to_string()),
        ),
        Address::Ip(addr) => (String::new(), addr.ip().to_string()),
    };
    let (rule, payload) = route
        .rule
        .as_ref()
        .map_or(("final", ""), |(kind, payload)| (&**kind, &**payload));
    json!({
        "id": api_id(context.id()),
        "upload": context.traffic().up(),
        "download": context.traffic().down(),
        "start": humantime::format_rfc3339_nanos(context.started()).to_string(),
        "chains": route.chain.iter().rev().map(|name| &**name).collect::<Vec<_>>(),
        "rule": rule,
        "rulePayload": payload,
        "metadata": {
            "network": context.network().as_str(),
            "type": clash_inbound_type(view.protocol(&meta.inbound)),
            "sourceIP": meta.peer.map_or_else(String::new, |p| p.ip().to_string()),
            "sourcePort": meta.peer.map_or_else(String::new, |p| p.port().to_string()),
            "destinationIP": destination_ip,
            "destinationPort": destination.port().to_string(),
            "host": host,
            "dnsMode": "normal",
            "processPath": "",
            "inboundName": &*meta.inbound,
            "inboundUser": meta.user.as_deref().unwrap_or(""),
            "sniffHost": route.sniffed_host.as_deref().unwrap_or(""),
            "remoteDestination": route.resolved.map_or_else(String::new, |a| a.ip().to_string()),
        },
    })
}

/// mihomo's name for an inbound protocol (`Socks5`, `Vless`, `HTTP`).
fn clash_inbound_type(protocol: &str) -> String {
    match protocol {
        "socks5" => "Socks5".into(),
        "vless" => "Vless".into(),
        "http" => "HTTP".into(),
        other => {
            let mut chars = other.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_round_trip_and_foreign_ones_are_refused() {
        let id = api_id(42);
        assert_eq!(id.len(), 36);
        assert_eq!(table_id(&id), Some(42));
        assert_eq!(table_id("00000000-0000-0000-0000-00000000002a"), None);
        assert_eq!(table_id("42"), None);
    }

    #[test]
    fn inbound_types_read_as_mihomo_names_them() {
        assert_eq!(clash_inbound_type("socks5"), "Socks5");
        assert_eq!(clash_inbound_type("mixed"), "Mixed");
        assert_eq!(clash_inbound_type(""), "");
    }
}
