//! `vless://` share links: parsed into an outbound pipeline, and written for a VLESS inbound.
//!
//! The link format is the one Xray, v2rayN, sing-box and Clash clients exchange:
//! `vless://UUID@HOST:PORT?type=ws&security=tls&sni=NAME&host=NAME&path=%2Fxy%3Fed%3D2048#REMARK`.

use crate::config::{Config, RawInbound};
use serde_yaml::{Mapping, Value};
use std::fmt;
use url::Url;
use xypro_tls as tls;
use xypro_vless as vless;
use xypro_websocket as ws;

/// A parsed share link, limited to what xypro-stack can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// The VLESS user id (a UUID or a 1-30 byte string).
    pub id: String,
    /// Server host name or IP literal.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// WebSocket settings, when `type=ws`.
    pub websocket: Option<WebSocketLink>,
    /// TLS settings, when `security=tls`.
    pub tls: Option<TlsLink>,
    /// The human-readable name after `#`.
    pub remark: String,
}

/// The WebSocket part of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketLink {
    /// Request path without the `?ed=` parameter.
    pub path: String,
    /// `Host` header, when it differs from the server name.
    pub host: Option<String>,
    /// Early-data bytes carried in `Sec-WebSocket-Protocol` (0 = off).
    pub early_data: usize,
}

/// The TLS part of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsLink {
    /// SNI and certificate name, when given.
    pub server_name: Option<String>,
    /// ALPN protocols, when given.
    pub alpn: Vec<String>,
    /// `allowInsecure=1`: skip certificate verification.
    pub insecure: bool,
}

/// Why a link cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a URL, or not `vless://`.
    #[error("not a vless:// link: {0}")]
    Syntax(String),
    /// A part of the link xypro-stack does not implement.
    #[error("unsupported {what} `{value}` (supported: {supported})")]
    Unsupported {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: String,
        /// What would work.
        supported: &'static str,
    },
}

impl std::str::FromStr for ShareLink {
    type Err = LinkError;

    fn from_str(text: &str) -> Result<Self, LinkError> {
        let url = Url::parse(text.trim()).map_err(|e| LinkError::Syntax(e.to_string()))?;
        if url.scheme() != "vless" {
            return Err(LinkError::Syntax(format!("scheme is `{}`", url.scheme())));
        }
        let id = percent_decode(url.username());
        if id.is_empty() {
            return Err(LinkError::Syntax("no user id before `@`".into()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| LinkError::Syntax("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port()
            .ok_or_else(|| LinkError::Syntax("no port".into()))?;
        let query = Query(&url);
        if let Some(flow) = query.get("flow").filter(|f| !f.is_empty()) {
            return Err(unsupported("flow", flow, "none"));
        }
        if let Some(encryption) = query.get("encryption").filter(|e| e != "none") {
            return Err(unsupported("encryption", encryption, "none"));
        }
        Ok(ShareLink {
            id,
            host,
            port,
            websocket: query.websocket()?,
            tls: query.tls()?,
            remark: url.fragment().map(percent_decode).unwrap_or_default(),
        })
    }
}

/// The query parameters of a share link.
struct Query<'a>(&'a Url);

impl Query<'_> {
    /// The first value of `key`.
    fn get(&self, key: &str) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The WebSocket part, for `type=ws`; `None` for plain TCP.
    fn websocket(&self) -> Result<Option<WebSocketLink>, LinkError> {
        match self.get("type").as_deref().unwrap_or("tcp") {
            "tcp" | "raw" => Ok(None),
            "ws" => {
                let raw_path = self.get("path").unwrap_or_else(|| "/".into());
                let (path, in_path) = split_early_data(&raw_path);
                let top_level = self.get("ed").and_then(|ed| ed.parse().ok());
                Ok(Some(WebSocketLink {
                    path,
                    host: self.get("host").filter(|h| !h.is_empty()),
                    early_data: in_path.or(top_level).unwrap_or(0),
                }))
            }
            other => Err(unsupported("transport type", other.into(), "tcp, raw, ws")),
        }
    }

    /// The TLS part, for `security=tls`; `None` without TLS.
    fn tls(&self) -> Result<Option<TlsLink>, LinkError> {
        let insecure = matches!(self.get("allowInsecure").as_deref(), Some("1" | "true"));
        if insecure {
            tracing::warn!(
                "the link sets allowInsecure=1: the pipeline gets `insecure: true`, which turns \
                 certificate verification OFF; anyone on the path can impersonate the server"
            );
        }
        match self.get("security").as_deref().unwrap_or("none") {
            "none" | "" => Ok(None),
            "tls" => Ok(Some(TlsLink {
                server_name: self.get("sni").filter(|s| !s.is_empty()),
                alpn: self
                    .get("alpn")
                    .map(|a| {
                        a.split(',')
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                insecure,
            })),
            other => Err(unsupported("security", other.into(), "none, tls")),
        }
    }
}

/// A link parameter xypro-stack does not implement.
fn unsupported(what: &'static str, value: String, supported: &'static str) -> LinkError {
    LinkError::Unsupported {
        what,
        value,
        supported,
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

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl ShareLink {
    /// The outbound pipeline this link describes, as a YAML `outbounds:` document.
    pub fn to_pipeline_yaml(&self, name: &str) -> String {
        let mut layers = vec![layer("vless", [("id", Value::from(self.id.clone()))])];
        let server_name = self.tls.as_ref().and_then(|t| t.server_name.clone());
        if let Some(ws) = &self.websocket {
            let mut options = vec![("path", Value::from(ws.path.clone()))];
            if let Some(host) = &ws.host {
                options.push(("host", Value::from(host.clone())));
            }
            if ws.early_data > 0 {
                options.push(("early_data", Value::from(ws.early_data as u64)));
            }
            layers.push(layer("websocket", options));
        }
        if let Some(tls) = &self.tls {
            let name = server_name.clone().unwrap_or_else(|| self.host.clone());
            let mut options = vec![("server_name", Value::from(name))];
            if !tls.alpn.is_empty() {
                options.push((
                    "alpn",
                    Value::Sequence(tls.alpn.iter().cloned().map(Value::from).collect()),
                ));
            }
            if tls.insecure {
                options.push(("insecure", Value::from(true)));
            }
            layers.push(layer("tls", options));
        }
        let address = match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        };
        layers.push(layer("tcp", [("address", Value::from(address))]));
        let mut outbounds = Mapping::new();
        outbounds.insert(Value::from(name), Value::Sequence(layers));
        let mut doc = Mapping::new();
        doc.insert(Value::from("outbounds"), Value::Mapping(outbounds));
        serde_yaml::to_string(&doc).expect("plain values serialize")
    }
}

fn layer<'a>(kind: &str, options: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let options: Mapping = options
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect();
    let mut entry = Mapping::new();
    entry.insert(Value::from(kind), Value::Mapping(options));
    Value::Mapping(entry)
}

impl fmt::Display for ShareLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        write!(
            f,
            "vless://{}@{host}:{}?encryption=none",
            percent_encode(&self.id),
            self.port
        )?;
        match &self.tls {
            Some(tls) => {
                write!(f, "&security=tls")?;
                if let Some(sni) = &tls.server_name {
                    write!(f, "&sni={}", percent_encode(sni))?;
                }
                if !tls.alpn.is_empty() {
                    write!(f, "&alpn={}", percent_encode(&tls.alpn.join(",")))?;
                }
                if tls.insecure {
                    write!(f, "&allowInsecure=1")?;
                }
            }
            None => write!(f, "&security=none")?,
        }
        match &self.websocket {
            Some(ws) => {
                let path = match ws.early_data {
                    0 => ws.path.clone(),
                    n if ws.path.contains('?') => format!("{}&ed={n}", ws.path),
                    n => format!("{}?ed={n}", ws.path),
                };
                write!(f, "&type=ws&path={}", percent_encode(&path))?;
                if let Some(host) = &ws.host {
                    write!(f, "&host={}", percent_encode(host))?;
                }
            }
            None => write!(f, "&type=tcp")?,
        }
        write!(f, "#{}", percent_encode(&self.remark))
    }
}

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
    let websocket = options::<ws::ServerOptions>(inbound, "websocket")?.map(|ws| WebSocketLink {
        path: ws.path,
        host: ws.host,
        early_data: if ws.early_data { 2048 } else { 0 },
    });
    let tls = options::<tls::ServerOptions>(inbound, "tls")?.map(|_| TlsLink {
        server_name: websocket
            .as_ref()
            .and_then(|ws| ws.host.clone())
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
            websocket: websocket.clone(),
            tls: tls.clone(),
            remark: user.name,
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "vless://2ad043a0-b930-46f8-bd55-1fcefc93339a@example.test:443?type=ws&security=tls\
                        &sni=cdn.example.test&host=cdn.example.test&path=%2Fxy%3Fed%3D2048&encryption=none#my%20server";

    #[test]
    fn parses_the_common_ws_tls_link() {
        let link: ShareLink = LINK.parse().unwrap();
        assert_eq!(link.id, "2ad043a0-b930-46f8-bd55-1fcefc93339a");
        assert_eq!((link.host.as_str(), link.port), ("example.test", 443));
        let ws = link.websocket.clone().unwrap();
        assert_eq!(
            (ws.path.as_str(), ws.host.as_deref(), ws.early_data),
            ("/xy", Some("cdn.example.test"), 2048)
        );
        assert_eq!(
            link.tls.clone().unwrap().server_name.as_deref(),
            Some("cdn.example.test")
        );
        assert_eq!(link.remark, "my server");
    }

    #[test]
    fn round_trips_through_display_with_early_data_in_the_path() {
        let link: ShareLink = LINK.parse().unwrap();
        let written = link.to_string();
        assert!(written.contains("path=%2Fxy%3Fed%3D2048"), "{written}");
        assert_eq!(written.parse::<ShareLink>().unwrap(), link);
    }

    #[test]
    fn top_level_ed_and_ipv6_hosts_are_understood() {
        let link: ShareLink =
            "vless://id@[2001:db8::1]:8443?type=ws&path=/a&ed=1024&security=none#x"
                .parse()
                .unwrap();
        assert_eq!(link.host, "2001:db8::1");
        assert_eq!(link.websocket.unwrap().early_data, 1024);
        let yaml = "vless://id@[2001:db8::1]:8443?security=none"
            .parse::<ShareLink>()
            .unwrap()
            .to_pipeline_yaml("p");
        assert!(yaml.contains("address: '[2001:db8::1]:8443'"), "{yaml}");
    }

    #[test]
    fn refuses_what_it_cannot_carry() {
        for (link, what) in [
            ("vless://id@h:1?security=reality", "security"),
            ("vless://id@h:1?type=grpc", "transport type"),
            ("vless://id@h:1?flow=xtls-rprx-vision", "flow"),
            ("vmess://id@h:1", "scheme"),
        ] {
            let err = link.parse::<ShareLink>().unwrap_err().to_string();
            assert!(err.contains(what), "{link}: {err}");
        }
    }

    #[test]
    fn pipeline_yaml_lists_layers_in_order() {
        let yaml = LINK
            .parse::<ShareLink>()
            .unwrap()
            .to_pipeline_yaml("my-server");
        let doc: Value = serde_yaml::from_str(&yaml).unwrap();
        let layers = doc["outbounds"]["my-server"].as_sequence().unwrap();
        let kinds: Vec<&str> = layers
            .iter()
            .map(|l| {
                l.as_mapping()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(kinds, ["vless", "websocket", "tls", "tcp"]);
        assert_eq!(layers[1]["websocket"]["early_data"].as_u64(), Some(2048));
        assert_eq!(
            layers[3]["tcp"]["address"].as_str(),
            Some("example.test:443")
        );
    }
}
