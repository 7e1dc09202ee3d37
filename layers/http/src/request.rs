//! A client's request as the proxy understands it: what it asks for, how its body is framed,
//! whether the connection stays open after it, and the head it becomes for the origin.

use crate::proto::{
    ConnectionOptions, ForwardTarget, Framing, ProtoError, RequestHead, Version,
    connect_destination, forward_target,
};
use xypro_core::Address;

/// What a request asks the proxy to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `CONNECT host:port`: a tunnel.
    Connect(Address),
    /// An absolute-URI request to forward; `upgrade` when it asks for a protocol switch
    /// (`Connection: upgrade`), after which the connection becomes a raw tunnel.
    Forward {
        target: ForwardTarget,
        upgrade: bool,
    },
}

/// A request head that passed the proxy's checks.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) head: RequestHead,
    pub(crate) kind: Kind,
    pub(crate) framing: Framing,
    pub(crate) options: ConnectionOptions,
}

impl Request {
    /// Checks a head: a CONNECT authority, or an `http://` URI with a body framing that
    /// cannot be misread.
    pub(crate) fn from_head(head: RequestHead) -> Result<Request, ProtoError> {
        let options = ConnectionOptions::of(&head.headers);
        let (kind, framing) = match head.is_connect() {
            true => (
                Kind::Connect(connect_destination(&head.target)?),
                Framing::Empty,
            ),
            false => {
                let target = forward_target(&head.target, head.header("host"))?;
                let upgrade = options.has("upgrade") && head.header("upgrade").is_some();
                (Kind::Forward { target, upgrade }, Framing::request(&head)?)
            }
        };
        Ok(Request {
            head,
            kind,
            framing,
            options,
        })
    }

    /// Where the request goes.
    pub(crate) fn destination(&self) -> &Address {
        match &self.kind {
            Kind::Connect(destination) => destination,
            Kind::Forward { target, .. } => &target.destination,
        }
    }

    /// The request's HTTP version.
    pub(crate) fn version(&self) -> Version {
        self.head.version
    }

    /// Whether the client keeps the connection open after this exchange.
    pub(crate) fn keep_alive(&self) -> bool {
        self.options.keep_alive(self.head.version)
    }

    /// Appends the head the origin receives: origin-form target, the `Host` the proxy chose
    /// first, no hop-by-hop fields, then `Connection: Upgrade` with the `Upgrade` field for an
    /// upgrade, or `Connection: close` when `close`.
    pub(crate) fn write_forward_head(&self, buf: &mut Vec<u8>, close: bool) {
        let Kind::Forward { target, upgrade } = &self.kind else {
            unreachable!("only forwarded requests have a head for the origin")
        };
        let head = &self.head;
        for part in [
            &head.method,
            " ",
            &target.path,
            " ",
            head.version.as_str(),
            "\r\n",
        ] {
            buf.extend_from_slice(part.as_bytes());
        }
        buf.extend_from_slice(format!("Host: {}\r\n", target.host).as_bytes());
        for header in &head.headers {
            if !header.is("host") && !self.options.is_hop_by_hop(&header.name) {
                header.write_to_buf(buf);
            }
        }
        match (upgrade, head.header("upgrade")) {
            (true, Some(protocol)) => {
                buf.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: ");
                buf.extend_from_slice(protocol);
                buf.extend_from_slice(b"\r\n");
            }
            _ if close => buf.extend_from_slice(b"Connection: close\r\n"),
            _ => {}
        }
        buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(wire: &str) -> Result<Request, ProtoError> {
        let (head, _) = RequestHead::parse(wire.as_bytes())?.expect("a whole head");
        Request::from_head(head)
    }

    fn forwarded(wire: &str, close: bool) -> String {
        let mut buf = Vec::new();
        request(wire).unwrap().write_forward_head(&mut buf, close);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn strips_hop_by_hop_fields_and_rewrites_target_and_host() {
        let wire = "GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\
                    User-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\
                    Proxy-Authorization: Basic YTpi\r\nConnection: X-Drop\r\nX-Drop: 1\r\n\
                    TE: trailers\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            forwarded(wire, false),
            "GET /p?q HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88.1\r\n\
             Accept: */*\r\n\r\n"
        );
        let old = "GET http://example.com/ HTTP/1.0\r\n\r\n";
        assert_eq!(
            forwarded(old, true),
            "GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn keeps_framing_fields_and_upgrades() {
        let chunked = "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\
                       Connection: transfer-encoding\r\n\r\n";
        let request = request(chunked).unwrap();
        assert_eq!(request.framing, Framing::Chunked);
        assert!(forwarded(chunked, false).contains("Transfer-Encoding: chunked\r\n"));

        let upgrade = "GET http://a/ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\
                       Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n";
        assert!(matches!(
            request_kind(upgrade),
            Kind::Forward { upgrade: true, .. }
        ));
        assert_eq!(
            forwarded(upgrade, true),
            "GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        );
    }

    fn request_kind(wire: &str) -> Kind {
        request(wire).unwrap().kind
    }

    #[test]
    fn connect_and_keep_alive() {
        let pip = request("CONNECT pypi.org:443 HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(pip.kind, Kind::Connect("pypi.org:443".parse().unwrap()));
        assert!(!pip.keep_alive());
        let apt = request("GET http://deb.example/ HTTP/1.1\r\nHost: deb.example\r\n\r\n").unwrap();
        assert!(apt.keep_alive());
        assert_eq!(apt.destination().to_string(), "deb.example:80");
        assert!(request("GET /relative HTTP/1.1\r\nHost: a\r\n\r\n").is_err());
        assert!(request("CONNECT a HTTP/1.1\r\n\r\n").is_err());
    }
}
