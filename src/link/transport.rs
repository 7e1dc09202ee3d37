//! The transport part of a share link (`type=ws|httpupgrade|http|grpc`): read from the query,
//! written back, and turned into the outbound layer that speaks it.

use super::{LinkError, percent_encode, unsupported};
use serde_yaml::Value;

/// The transport between VLESS and TLS a link names; `None` in a link means plain TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportLink {
    /// `type=ws`: WebSocket.
    WebSocket {
        /// Request path without the `?ed=` parameter.
        path: String,
        /// `Host` header, when it differs from the server name.
        host: Option<String>,
        /// Early-data bytes carried in `Sec-WebSocket-Protocol` (0 = off).
        early_data: usize,
    },
    /// `type=httpupgrade`: HTTPUpgrade (Xray's `?ed=` stays in the path).
    HttpUpgrade {
        /// Request path.
        path: String,
        /// `Host` header, when it differs from the server name.
        host: Option<String>,
    },
    /// `type=http` (or `h2`): HTTP/2, one stream per tunnel.
    H2 {
        /// Request path.
        path: String,
        /// The `:authority`, when set (the first of a comma list).
        host: Option<String>,
    },
    /// `type=grpc`: gRPC "gun", `Tun` only.
    Grpc {
        /// The service name (`/<service_name>/Tun`).
        service_name: String,
        /// The `:authority`, when set.
        authority: Option<String>,
    },
}

impl TransportLink {
    /// The transport of `type=kind` from the link's parameters (`get`); `None` for TCP.
    pub(super) fn parse(
        kind: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TransportLink>, LinkError> {
        let path = || get("path").unwrap_or_else(|| "/".into());
        let host = || {
            let first = get("host")?.split(',').next()?.trim().to_owned();
            (!first.is_empty()).then_some(first)
        };
        Ok(Some(match kind {
            "tcp" | "raw" => return Ok(None),
            "ws" => {
                let (path, in_path) = split_early_data(&path());
                let top_level = get("ed").and_then(|ed| ed.parse().ok());
                TransportLink::WebSocket {
                    path,
                    host: host(),
                    early_data: in_path.or(top_level).unwrap_or(0),
                }
            }
            "httpupgrade" => TransportLink::HttpUpgrade {
                path: path(),
                host: host(),
            },
            "http" | "h2" => TransportLink::H2 {
                path: path(),
                host: host(),
            },
            "grpc" => {
                if let Some(mode) = get("mode").filter(|m| m != "gun" && !m.is_empty()) {
                    return Err(unsupported("grpc mode", mode, "gun"));
                }
                let service_name = get("serviceName").unwrap_or_default();
                if service_name.is_empty() {
                    return Err(LinkError::Syntax("type=grpc without a serviceName".into()));
                }
                TransportLink::Grpc {
                    service_name,
                    authority: get("authority").filter(|a| !a.is_empty()),
                }
            }
            other => {
                let supported = "tcp, raw, ws, httpupgrade, http, grpc";
                return Err(unsupported("transport type", other.into(), supported));
            }
        }))
    }

    /// The link's query parameters for this transport, `&type=...` first.
    pub(super) fn query(&self) -> String {
        let host = |host: &Option<String>| match host {
            Some(host) => format!("&host={}", percent_encode(host)),
            None => String::new(),
        };
        match self {
            TransportLink::WebSocket {
                path,
                host: h,
                early_data,
            } => {
                let path = match early_data {
                    0 => path.clone(),
                    n if path.contains('?') => format!("{path}&ed={n}"),
                    n => format!("{path}?ed={n}"),
                };
                format!("&type=ws&path={}{}", percent_encode(&path), host(h))
            }
            TransportLink::HttpUpgrade { path, host: h } => {
                format!("&type=httpupgrade&path={}{}", percent_encode(path), host(h))
            }
            TransportLink::H2 { path, host: h } => {
                format!("&type=http&path={}{}", percent_encode(path), host(h))
            }
            TransportLink::Grpc {
                service_name,
                authority,
            } => {
                let authority = match authority {
                    Some(a) => format!("&authority={}", percent_encode(a)),
                    None => String::new(),
                };
                let name = percent_encode(service_name);
                format!("&type=grpc&serviceName={name}&mode=gun{authority}")
            }
        }
    }

    /// Whether the transport is an HTTP/1.1 upgrade, which TLS must not negotiate `h2` under.
    pub(super) fn needs_http1(&self) -> bool {
        matches!(
            self,
            TransportLink::WebSocket { .. } | TransportLink::HttpUpgrade { .. }
        )
    }

    /// The outbound layer, as its YAML name and options.
    pub(super) fn layer(&self) -> (&'static str, Vec<(&'static str, Value)>) {
        let with_host = |mut options: Vec<(&'static str, Value)>, key, host: &Option<String>| {
            if let Some(host) = host {
                options.push((key, Value::from(host.clone())));
            }
            options
        };
        match self {
            TransportLink::WebSocket {
                path,
                host,
                early_data,
            } => {
                let mut options =
                    with_host(vec![("path", Value::from(path.clone()))], "host", host);
                if *early_data > 0 {
                    options.push(("early_data", Value::from(*early_data as u64)));
                }
                ("websocket", options)
            }
            TransportLink::HttpUpgrade { path, host } => (
                "httpupgrade",
                with_host(vec![("path", Value::from(path.clone()))], "host", host),
            ),
            TransportLink::H2 { path, host } => (
                "h2",
                with_host(vec![("path", Value::from(path.clone()))], "host", host),
            ),
            TransportLink::Grpc {
                service_name,
                authority,
            } => (
                "grpc",
                with_host(
                    vec![("service_name", Value::from(service_name.clone()))],
                    "authority",
                    authority,
                ),
            ),
        }
    }

    /// The `Host` or `:authority` the transport sends, if the link sets one.
    pub(super) fn host(&self) -> Option<&str> {
        match self {
            TransportLink::WebSocket { host, .. }
            | TransportLink::HttpUpgrade { host, .. }
            | TransportLink::H2 { host, .. } => host.as_deref(),
            TransportLink::Grpc { authority, .. } => authority.as_deref(),
        }
    }
}

/// Splits `/path?ed=2048` into the path and the early-data size.
fn split_early_data(path: &str) -> (String, Option<usize>) {
    let Some((bare, query)) = path.split_once('?') else {
        return (path.to_owned(), None);
    };
    let mut early = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("ed=") {
            Some(n) => {
                early = n.parse().ok();
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    match rest.is_empty() {
        true => (bare.to_owned(), early),
        false => (format!("{bare}?{}", rest.join("&")), early),
    }
}
