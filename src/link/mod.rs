//! `vless://` share links: parsed into an outbound pipeline, and written for a VLESS inbound.
//!
//! The link format is the one Xray, v2rayN, sing-box and Clash clients exchange:
//! `vless://UUID@HOST:PORT?type=ws&security=tls&sni=NAME&host=NAME&path=%2Fxy%3Fed%3D2048#REMARK`,
//! with `type=httpupgrade` (`path`, `host`), `type=http` (HTTP/2: `path`, `host`) and
//! `type=grpc` (`serviceName`) for the other transports.

mod inbound;
mod transport;

pub use inbound::links_for_inbound;
pub use transport::TransportLink;

use serde_yaml::{Mapping, Value};
use std::fmt;
use url::Url;

/// A parsed share link, limited to what xypro-stack can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// The VLESS user id (a UUID or a 1-30 byte string).
    pub id: String,
    /// Server host name or IP literal.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// The transport between VLESS and TLS; `None` for plain TCP.
    pub transport: Option<TransportLink>,
    /// TLS settings, when `security=tls`.
    pub tls: Option<TlsLink>,
    /// The human-readable name after `#`.
    pub remark: String,
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
            transport: TransportLink::parse(
                query.get("type").as_deref().unwrap_or("tcp"),
                |key| query.get(key),
            )?,
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

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `text` percent-encoded for a link's query or fragment.
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
        if let Some(transport) = &self.transport {
            let (kind, options) = transport.layer();
            layers.push(layer(kind, options));
        }
        if let Some(tls) = &self.tls {
            let name = server_name.clone().unwrap_or_else(|| self.host.clone());
            let mut options = vec![("server_name", Value::from(name))];
            // An HTTP/1.1 upgrade cannot run over HTTP/2: `h2` is dropped from its offer.
            let http1 = self
                .transport
                .as_ref()
                .is_some_and(TransportLink::needs_http1);
            let alpn: Vec<Value> = tls
                .alpn
                .iter()
                .filter(|p| !(http1 && *p == "h2"))
                .cloned()
                .map(Value::from)
                .collect();
            if !alpn.is_empty() {
                options.push(("alpn", Value::Sequence(alpn)));
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
        match &self.transport {
            Some(transport) => f.write_str(&transport.query())?,
            None => write!(f, "&type=tcp")?,
        }
        write!(f, "#{}", percent_encode(&self.remark))
    }
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
        assert_eq!(
            link.transport,
            Some(TransportLink::WebSocket {
                path: "/xy".into(),
                host: Some("cdn.example.test".into()),
                early_data: 2048
            })
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
        assert!(matches!(
            link.transport,
            Some(TransportLink::WebSocket {
                early_data: 1024,
                ..
            })
        ));
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
            ("vless://id@h:1?type=xhttp", "transport type"),
            (
                "vless://id@h:1?type=grpc&serviceName=a&mode=multi",
                "grpc mode",
            ),
            ("vless://id@h:1?type=grpc", "serviceName"),
            ("vless://id@h:1?flow=xtls-rprx-vision", "flow"),
            ("vmess://id@h:1", "scheme"),
        ] {
            let err = link.parse::<ShareLink>().unwrap_err().to_string();
            assert!(err.contains(what), "{link}: {err}");
        }
    }

    #[test]
    fn each_transport_round_trips_into_its_layer() {
        let base = "vless://2ad043a0-b930-46f8-bd55-1fcefc93339a@example.test:443?security=tls&sni=example.test";
        for (query, layer, options) in [
            (
                "type=httpupgrade&path=%2Fhu%3Fed%3D2048&host=cdn.test",
                "httpupgrade",
                "{ path: '/hu?ed=2048', host: cdn.test }",
            ),
            (
                "type=http&path=%2Fh2&host=a.test,b.test",
                "h2",
                "{ path: /h2, host: a.test }",
            ),
            ("type=h2&path=%2Fh2", "h2", "{ path: /h2 }"),
            (
                "type=grpc&serviceName=gun&mode=gun&authority=cdn.test",
                "grpc",
                "{ service_name: gun, authority: cdn.test }",
            ),
            ("type=grpc&serviceName=gun", "grpc", "{ service_name: gun }"),
        ] {
            let link: ShareLink = format!("{base}&{query}#x").parse().unwrap();
            assert_eq!(
                link.to_string().parse::<ShareLink>().unwrap(),
                link,
                "{query}"
            );
            let doc: Value = serde_yaml::from_str(&link.to_pipeline_yaml("p")).unwrap();
            let expected: Value = serde_yaml::from_str(options).unwrap();
            assert_eq!(doc["outbounds"]["p"][1][layer], expected, "{query}");
        }
    }

    #[test]
    fn h2_is_dropped_from_the_alpn_of_an_http1_upgrade() {
        let link: ShareLink =
            "vless://id@example.test:443?security=tls&alpn=h2,http/1.1&type=ws&path=%2Fxy"
                .parse()
                .unwrap();
        let doc: Value = serde_yaml::from_str(&link.to_pipeline_yaml("p")).unwrap();
        let expected: Value = serde_yaml::from_str("[http/1.1]").unwrap();
        assert_eq!(doc["outbounds"]["p"][2]["tls"]["alpn"], expected);
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
