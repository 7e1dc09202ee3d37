//! The share links of a VLESS inbound's users, read from its typed layer options.

use super::{ShareLink, TlsLink, TransportLink};
use crate::config::{Config, RawInbound};
use serde_yaml::{Mapping, Value};
use xypro_h2::{self as h2, grpc};
use xypro_httpupgrade as httpupgrade;
use xypro_tls as tls;
use xypro_vless as vless;
use xypro_websocket as ws;

/// The share links of every user of the VLESS inbound `name`, reachable at `address`.
///
/// `address` is the public `host` or `host:port` clients dial; it defaults to the listen
/// address when that is not a wildcard.
pub fn links_for_inbound(
    config: &Config,
    name: &str,
    address: Option<&str>,
) -> Result<Vec<ShareLink>, String> {
    let inbound = config
        .raw
        .inbounds
        .get(name)
        .ok_or_else(|| format!("no inbound named `{name}`"))?;
    let vless: vless::ServerOptions =
        options(inbound, "vless")?.ok_or_else(|| format!("inbound `{name}` has no vless layer"))?;
    if vless.users.is_empty() {
        return Err(format!("inbound `{name}` has no vless users"));
    }
    let (host, port) = public_address(name, inbound, address)?;
    let transport = transport(inbound)?;
    let tls = options::<tls::ServerOptions>(inbound, "tls")?.map(|_| TlsLink {
        server_name: transport
            .as_ref()
            .and_then(TransportLink::host)
            .map(str::to_owned)
            .or_else(|| Some(host.clone())),
        alpn: Vec::new(),
        insecure: false,
    });
    Ok(vless
        .users
        .into_iter()
        .map(|user| ShareLink {
            id: user.id,
            host: host.clone(),
            port,
            transport: transport.clone(),
            tls: tls.clone(),
            remark: user.name,
        })
        .collect())
}

/// The transport layer of an inbound's pipeline, as a link names it.
fn transport(inbound: &RawInbound) -> Result<Option<TransportLink>, String> {
    if let Some(ws) = options::<ws::ServerOptions>(inbound, "websocket")? {
        return Ok(Some(TransportLink::WebSocket {
            path: ws.path,
            host: ws.host,
            early_data: if ws.early_data { 2048 } else { 0 },
        }));
    }
    if let Some(upgrade) = options::<httpupgrade::ServerOptions>(inbound, "httpupgrade")? {
        return Ok(Some(TransportLink::HttpUpgrade {
            path: upgrade.path,
            host: upgrade.host,
        }));
    }
    if let Some(h2) = options::<h2::ServerOptions>(inbound, "h2")? {
        return Ok(Some(TransportLink::H2 {
            path: h2.path,
            host: h2.host,
        }));
    }
    Ok(
        options::<grpc::ServerOptions>(inbound, "grpc")?.map(|grpc| TransportLink::Grpc {
            service_name: grpc.service_name,
            authority: None,
        }),
    )
}

/// The typed options of the first `kind` layer of an inbound's pipeline, if it has one.
fn options<O: serde::de::DeserializeOwned>(
    inbound: &RawInbound,
    kind: &str,
) -> Result<Option<O>, String> {
    let Some(spec) = inbound.pipeline.iter().find(|spec| spec.kind == kind) else {
        return Ok(None);
    };
    let value = match &spec.options {
        Value::Null => Value::Mapping(Mapping::new()),
        other => other.clone(),
    };
    serde_yaml::from_value(value)
        .map(Some)
        .map_err(|e| format!("the {kind} layer's options: {e}"))
}

/// The host and port clients dial: `address` (`host` or `host:port`), else the listen address.
fn public_address(
    name: &str,
    inbound: &RawInbound,
    address: Option<&str>,
) -> Result<(String, u16), String> {
    let Some(given) = address else {
        if inbound.listen.ip().is_unspecified() {
            return Err(format!(
                "inbound `{name}` listens on {}: pass --address with its public host",
                inbound.listen
            ));
        }
        return Ok((inbound.listen.ip().to_string(), inbound.listen.port()));
    };
    let with_port = given
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .filter(|(h, _)| !h.ends_with(':') || h.starts_with('['));
    Ok(match with_port {
        Some((host, port)) => (
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        ),
        None => (given.to_owned(), inbound.listen.port()),
    })
}
