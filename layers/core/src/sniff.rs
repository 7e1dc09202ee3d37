//! Sniffing: the host name a client is after, read from its first bytes (the TLS ClientHello's
//! server name, the HTTP `Host`), for routing rules and optionally as the destination.

use crate::{Address, ConnectionContext};
use bytes::BytesMut;
use serde::{Deserialize, Deserializer};
use std::{sync::Arc, time::Duration};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most first bytes sniffing reads and keeps (a ClientHello with post-quantum key shares
/// is under 2 KiB; a long HTTP head fits too).
pub const SNIFF_LIMIT: usize = 16 * 1024;

/// What the first bytes showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// `tls` or `http`.
    pub protocol: &'static str,
    /// The host name asked for, lowercased, without a port.
    pub host: String,
}

/// The verdict on the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniff {
    /// A host name was found.
    Found(Sniffed),
    /// More bytes could tell.
    Incomplete,
    /// These bytes are neither a ClientHello with a server name nor an HTTP request with `Host`.
    Unknown,
}

/// Looks for a TLS server name or an HTTP `Host` in the first bytes of a connection.
pub fn sniff(bytes: &[u8]) -> Sniff {
    match bytes.first() {
        None => Sniff::Incomplete,
        Some(0x16) => client_hello_server_name(bytes),
        Some(b'A'..=b'Z') => http_host(bytes),
        Some(_) => Sniff::Unknown,
    }
}

/// A big-endian length of `n` bytes at the front of `bytes`, and the rest.
fn split_len(bytes: &[u8], n: usize) -> Option<(usize, &[u8])> {
    let (len, rest) = bytes.split_at_checked(n)?;
    Some((
        len.iter().fold(0, |acc, b| acc << 8 | usize::from(*b)),
        rest,
    ))
}

/// The `len`-prefixed field at the front of `bytes` (with an `n`-byte length), and the rest.
fn field(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    let (len, rest) = split_len(bytes, n)?;
    rest.split_at_checked(len)
}

/// The server name of a TLS ClientHello, whose handshake message may span several records.
fn client_hello_server_name(bytes: &[u8]) -> Sniff {
    // Join the payloads of the handshake records received so far.
    let mut handshake = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest[0] != 0x16 {
            return Sniff::Unknown;
        }
        let Some(header) = rest.get(..5) else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        match rest.get(5..5 + len) {
            Some(payload) => handshake.extend_from_slice(payload),
            None => {
                handshake.extend_from_slice(&rest[5..]);
                break;
            }
        }
        rest = &rest[5 + len..];
    }
    let Some((&kind, message)) = handshake.split_first() else {
        return Sniff::Incomplete;
    };
    if kind != 1 {
        return Sniff::Unknown;
    }
    let Some((len, body)) = split_len(message, 3) else {
        return Sniff::Incomplete;
    };
    let Some(body) = body.get(..len) else {
        return Sniff::Incomplete;
    };
    match server_name(body) {
        Some(Some(host)) => Sniff::Found(Sniffed {
            protocol: "tls",
            host,
        }),
        Some(None) | None => Sniff::Unknown,
    }
}

/// The `server_name` extension of a whole ClientHello body: `None` when malformed,
/// `Some(None)` when absent.
fn server_name(body: &[u8]) -> Option<Option<String>> {
    let after_random = body.get(2 + 32..)?;
    let (_, rest) = field(after_random, 1)?; // session id
    let (_, rest) = field(rest, 2)?; // cipher suites
    let (_, rest) = field(rest, 1)?; // compression methods
    let (mut extensions, _) = field(rest, 2)?;
    while !extensions.is_empty() {
        let (kind, rest) = split_len(extensions, 2)?;
        let (data, rest) = field(rest, 2)?;
        extensions = rest;
        if kind != 0 {
            continue;
        }
        let (mut names, _) = field(data, 2)?;
        while !names.is_empty() {
            let (&name_type, rest) = names.split_first()?;
            let (name, rest) = field(rest, 2)?;
            names = rest;
            if name_type == 0 {
                let host = std::str::from_utf8(name).ok()?;
                return Some(Some(host.to_ascii_lowercase()));
            }
        }
    }
    Some(None)
}

/// The `Host` of an HTTP/1 request head.
fn http_host(bytes: &[u8]) -> Sniff {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return match bytes.len() < SNIFF_LIMIT {
            true => Sniff::Incomplete,
            false => Sniff::Unknown,
        };
    };
    let Ok(head) = std::str::from_utf8(&bytes[..end]) else {
        return Sniff::Unknown;
    };
    let mut lines = head.split("\r\n");
    let looks_like_http = lines.next().is_some_and(|line| {
        line.rsplit(' ')
            .next()
            .is_some_and(|v| v.starts_with("HTTP/1."))
    });
    if !looks_like_http {
        return Sniff::Unknown;
    }
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("host") {
            let value = value.trim();
            let host = match value.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => value.rsplit_once(':').map_or(value, |(host, _)| host),
            };
            if host.is_empty() {
                return Sniff::Unknown;
            }
            return Sniff::Found(Sniffed {
                protocol: "http",
                host: host.to_ascii_lowercase(),
            });
        }
    }
    Sniff::Unknown
}

/// An inbound's `sniff` option: `true`, or `{ override_destination, timeout }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SniffSettings {
    /// Dial the sniffed host instead of the destination asked for (default false: the
    /// sniffed host serves routing only).
    pub override_destination: bool,
    /// How long to wait for the first bytes (default 300 ms).
    pub timeout: Duration,
}

impl Default for SniffSettings {
    fn default() -> Self {
        SniffSettings {
            override_destination: false,
            timeout: Duration::from_millis(300),
        }
    }
}

/// Deserializes an inbound's `sniff` option: `false`/absent, `true`, or a map.
pub fn deserialize_sniff<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SniffSettings>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Map {
        #[serde(default)]
        override_destination: bool,
        #[serde(default, with = "crate::duration::option")]
        timeout: Option<Duration>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        On(bool),
        Map(Map),
    }
    Ok(match Form::deserialize(deserializer)? {
        Form::On(false) => None,
        Form::On(true) => Some(SniffSettings::default()),
        Form::Map(map) => Some(SniffSettings {
            override_destination: map.override_destination,
            timeout: map.timeout.unwrap_or(SniffSettings::default().timeout),
        }),
    })
}

/// Reads the client's first bytes until they show a host name, `settings.timeout` passes, the
/// client stops, or [`SNIFF_LIMIT`] is read; records what it found in `context` and, when
/// asked to, makes it the destination. Returns every byte read, to be replayed.
pub async fn sniff_client<R: AsyncRead + Unpin>(
    io: &mut R,
    settings: SniffSettings,
    context: &ConnectionContext,
    destination: &mut Address,
) -> std::io::Result<BytesMut> {
    let mut read = BytesMut::new();
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let found = loop {
        match sniff(&read) {
            Sniff::Found(found) => break Some(found),
            Sniff::Unknown => break None,
            Sniff::Incomplete if read.len() >= SNIFF_LIMIT => break None,
            Sniff::Incomplete => {}
        }
        read.reserve(SNIFF_LIMIT - read.len());
        match tokio::time::timeout_at(deadline, io.read_buf(&mut read)).await {
            Ok(Ok(0)) | Err(_) => break None,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
    };
    if let Some(found) = found {
        if settings.override_destination
            && let Ok(sniffed) = Address::from_host(&found.host, destination.port())
        {
            *destination = sniffed;
        }
        context.update_route(|route| {
            route.sniffed_protocol = Some(found.protocol);
            route.sniffed_host = Some(Arc::from(found.host));
        });
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello for `host` as rustls writes it.
    fn client_hello(host: &str) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::new();
        let mut body = vec![3, 3];
        body.extend([7u8; 32]); // random
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one cipher suite
        body.extend([1, 0]); // null compression
        let name = host.as_bytes();
        let mut sni = Vec::new();
        sni.extend(((name.len() + 3) as u16).to_be_bytes());
        sni.push(0);
        sni.extend((name.len() as u16).to_be_bytes());
        sni.extend(name);
        let mut extensions = vec![0, 0];
        extensions.extend((sni.len() as u16).to_be_bytes());
        extensions.extend(sni);
        body.extend((extensions.len() as u16).to_be_bytes());
        body.extend(extensions);
        let mut handshake = vec![1];
        handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
        handshake.extend(body);
        out.write_all(&[0x16, 3, 1]).unwrap();
        out.extend((handshake.len() as u16).to_be_bytes());
        out.extend(handshake);
        out
    }

    #[test]
    fn finds_the_server_name_of_a_client_hello_whatever_the_split() {
        let hello = client_hello("Example.COM");
        let found = Sniff::Found(Sniffed {
            protocol: "tls",
            host: "example.com".into(),
        });
        assert_eq!(sniff(&hello), found);
        for cut in [1, 5, 10, hello.len() - 1] {
            assert_eq!(sniff(&hello[..cut]), Sniff::Incomplete, "cut at {cut}");
        }
        // The same handshake split over two records.
        let handshake = &hello[5..];
        let (a, b) = handshake.split_at(20);
        let mut two = vec![0x16, 3, 1];
        two.extend((a.len() as u16).to_be_bytes());
        two.extend(a);
        two.extend([0x16, 3, 1]);
        two.extend((b.len() as u16).to_be_bytes());
        two.extend(b);
        assert_eq!(sniff(&two), found);
    }

    #[test]
    fn finds_the_http_host_without_its_port() {
        let found = |host: &str| {
            Sniff::Found(Sniffed {
                protocol: "http",
                host: host.into(),
            })
        };
        assert_eq!(
            sniff(b"GET / HTTP/1.1\r\nUser-Agent: x\r\nhost: Example.org:8080\r\n\r\n"),
            found("example.org")
        );
        assert_eq!(
            sniff(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"),
            found("::1")
        );
        assert_eq!(sniff(b"GET / HTTP/1.1\r\nHost: a"), Sniff::Incomplete);
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n\r\n"), Sniff::Unknown);
        assert_eq!(sniff(b"SSH-2.0-OpenSSH\r\n\r\n"), Sniff::Unknown);
        assert_eq!(sniff(b"\x05\x01\x00"), Sniff::Unknown);
    }

    #[test]
    fn garbage_never_panics() {
        for bytes in [
            &[0x16][..],
            &[0x16, 3, 1, 0, 1, 1],
            &[0x16, 3, 1, 0xff, 0xff, 1, 0, 0, 9],
        ] {
            let _ = sniff(bytes);
        }
    }

    #[tokio::test]
    async fn sniffing_records_the_host_and_keeps_every_byte() {
        let context = ConnectionContext::default();
        let mut destination: Address = "93.184.216.34:443".parse().unwrap();
        let hello = client_hello("example.com");
        let mut io = &hello[..];
        let settings = SniffSettings {
            override_destination: true,
            ..SniffSettings::default()
        };
        let read = sniff_client(&mut io, settings, &context, &mut destination)
            .await
            .unwrap();
        assert_eq!(&read[..], &hello[..]);
        assert_eq!(destination.to_string(), "example.com:443");
        let route = context.route();
        assert_eq!(route.sniffed_host.as_deref(), Some("example.com"));
        assert_eq!(route.sniffed_protocol, Some("tls"));
    }

    #[test]
    fn the_option_is_a_bool_or_a_map() {
        #[derive(Deserialize)]
        struct Options {
            #[serde(default, deserialize_with = "deserialize_sniff")]
            sniff: Option<SniffSettings>,
        }
        let parse = |yaml: &str| serde_yaml::from_str::<Options>(yaml).map(|o| o.sniff);
        assert_eq!(parse("{}").unwrap(), None);
        assert_eq!(parse("sniff: false").unwrap(), None);
        assert_eq!(
            parse("sniff: true").unwrap(),
            Some(SniffSettings::default())
        );
        let map = parse("sniff: { override_destination: true, timeout: 1s }")
            .unwrap()
            .unwrap();
        assert!(map.override_destination);
        assert_eq!(map.timeout, Duration::from_secs(1));
        assert!(parse("sniff: { overide: true }").is_err());
    }
}
