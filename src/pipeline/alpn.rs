//! What the transport above a `tls` layer needs it to negotiate: HTTP/2 and gRPC need ALPN
//! `h2`, WebSocket and HTTPUpgrade need HTTP/1.1 (an HTTP/2 connection cannot carry their
//! upgrade).

use crate::config::LayerSpec;
use serde_yaml::Value;
use std::borrow::Cow;
use xypro_core::InvalidOptions;

/// The ALPN protocol the transport `kind` needs from the TLS layer below it, if it is one.
fn needed_by(kind: &str) -> Option<&'static str> {
    match kind {
        "h2" | "grpc" => Some("h2"),
        "websocket" | "httpupgrade" => Some("http/1.1"),
        _ => None,
    }
}

/// The options of the `tls` layer `spec`, given the layers above it (nearest first): `alpn:
/// [h2]` added under an HTTP/2 transport when `alpn` is not set (`[h2, http/1.1]` when a
/// fallback takes the HTTP/1.1 clients), and an error naming the entry
/// when `alpn` offers `h2` under an HTTP/1.1 upgrade — unless the inbound has a fallback
/// (`fallback`), which takes the clients that choose `h2` (browsers, as Xray's setups do).
pub(super) fn tls_options<'a>(
    spec: &'a LayerSpec,
    mut above: impl Iterator<Item = &'a LayerSpec>,
    fallback: bool,
) -> Result<Cow<'a, Value>, InvalidOptions> {
    let Some((kind, needed)) = above.find_map(|l| needed_by(&l.kind).map(|n| (&l.kind, n))) else {
        return Ok(Cow::Borrowed(&spec.options));
    };
    let alpn = spec.options.get("alpn");
    match (needed, alpn) {
        ("h2", None) => {
            let mut options = match &spec.options {
                Value::Mapping(map) => map.clone(),
                _ => Default::default(),
            };
            let offered = if fallback {
                &["h2", "http/1.1"][..]
            } else {
                &["h2"]
            };
            let offered = offered.iter().map(|p| Value::String((*p).into())).collect();
            options.insert(Value::String("alpn".into()), Value::Sequence(offered));
            Ok(Cow::Owned(Value::Mapping(options)))
        }
        ("http/1.1", Some(Value::Sequence(offered))) if !fallback => {
            match offered.iter().position(|p| p.as_str() == Some("h2")) {
                Some(index) => Err(InvalidOptions::at(
                    format!("alpn[{index}]"),
                    format!(
                        "`h2` cannot be offered under the `{kind}` layer: its HTTP/1.1 upgrade \
                         does not work over HTTP/2 (offer http/1.1, or give the inbound a \
                         fallback for the clients that choose h2)"
                    ),
                )),
                None => Ok(Cow::Borrowed(&spec.options)),
            }
        }
        _ => Ok(Cow::Borrowed(&spec.options)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> LayerSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn h2_is_added_only_when_alpn_is_unset() {
        let tls = spec("tls: { server_name: a.test }");
        let grpc = spec("grpc: { service_name: gun }");
        let options = tls_options(&tls, [&grpc].into_iter(), false).unwrap();
        assert_eq!(
            options.get("alpn").unwrap(),
            &serde_yaml::from_str::<Value>("[h2]").unwrap()
        );
        let own = spec("tls: { server_name: a.test, alpn: [h2, http/1.1] }");
        let options = tls_options(&own, [&grpc].into_iter(), false).unwrap();
        assert_eq!(options.get("alpn").unwrap().as_sequence().unwrap().len(), 2);
        let plain = spec("vless: { id: x }");
        assert_eq!(
            tls_options(&tls, [&plain].into_iter(), false)
                .unwrap()
                .get("alpn"),
            None
        );
    }

    #[test]
    fn a_fallback_adds_http_1_1_under_http_2() {
        let tls = spec("tls: { cert: c, key: k }");
        let h2 = spec("h2: { path: /h2 }");
        let options = tls_options(&tls, [&h2].into_iter(), true).unwrap();
        assert_eq!(
            options.get("alpn").unwrap(),
            &serde_yaml::from_str::<Value>("[h2, http/1.1]").unwrap()
        );
    }

    #[test]
    fn h2_under_an_upgrade_is_refused_at_its_entry() {
        let tls = spec("tls: { cert: c, key: k, alpn: [http/1.1, h2] }");
        let ws = spec("websocket: { path: /xy }");
        let vless = spec("vless: { users: [] }");
        let err = tls_options(&tls, [&ws, &vless].into_iter(), false).unwrap_err();
        assert_eq!(err.key(), Some("alpn[1]"));
        assert!(err.message().contains("`websocket`"), "{err}");
        let fine = spec("tls: { cert: c, key: k, alpn: [http/1.1] }");
        assert!(tls_options(&fine, [&ws].into_iter(), false).is_ok());
        assert!(
            tls_options(&tls, [&ws].into_iter(), true).is_ok(),
            "a fallback takes the h2 clients"
        );
    }
}
