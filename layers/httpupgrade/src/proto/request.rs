//! The client's `GET` upgrade request and the server's checks of it, as sing-box makes them.

use super::{MAX_HEADERS, head_len};
use crate::{ClientSettings, HttpUpgradeError, ServerSettings};
use xypro_core::upgrade_request::{self, has_token};

/// Appends the `GET` upgrade request for `settings` to `buf`: `Host`, the custom headers,
/// `Connection: Upgrade`, `Upgrade: websocket`, and no `Sec-WebSocket-Key`.
pub fn write_request(buf: &mut Vec<u8>, settings: &ClientSettings) {
    let headers = settings
        .headers
        .iter()
        .map(|(name, value)| (name.as_bytes(), value.as_bytes()));
    upgrade_request::write_request(buf, &settings.path, &settings.host, headers, []);
}

/// Parses a request head from the start of `buf` and checks it against `settings`:
/// `Ok(None)` while incomplete, else the head's length; bytes past it are tunnel data.
///
/// A miss is [`HttpUpgradeError::Rejected`] naming the check: not `GET`, not HTTP/1.1, a path
/// (percent-decoded, query ignored) other than the configured one, no `Upgrade: websocket` and
/// `Connection: upgrade`, a `Sec-WebSocket-Key` (a WebSocket client, not HTTPUpgrade), or a
/// `Host` other than the configured one, port included. sing-box answers the last with `400`;
/// every miss here gets the same `404`, so a probe learns nothing from the status.
pub fn parse_request(
    buf: &[u8],
    settings: &ServerSettings,
) -> Result<Option<usize>, HttpUpgradeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = request.parse(buf).map_err(HttpUpgradeError::Malformed)?;
    let Some(head_len) = head_len(parsed, buf.len())? else {
        return Ok(None);
    };
    let reject = |reason| Err(HttpUpgradeError::Rejected { reason });
    if request.method != Some("GET") {
        return reject("method is not GET");
    }
    if request.version != Some(1) {
        return reject("not HTTP/1.1");
    }
    let target = request.path.unwrap_or_default();
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if percent_decoded(path).as_deref() != Some(settings.path.as_bytes()) {
        return reject("wrong path");
    }
    let values = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if !values("upgrade").any(|v| has_token(v, b"websocket")) {
        return reject("no `Upgrade: websocket`");
    }
    if !values("connection").any(|v| has_token(v, b"upgrade")) {
        return reject("no `Connection: upgrade`");
    }
    if values("sec-websocket-key").next().is_some() {
        return reject("a WebSocket key (not an HTTPUpgrade client)");
    }
    if let Some(host) = &settings.host {
        let sent = values("host").next().map(<[u8]>::trim_ascii);
        if !sent.is_some_and(|sent| sent.eq_ignore_ascii_case(host.as_bytes())) {
            return reject("wrong Host");
        }
    }
    Ok(Some(head_len))
}

/// `path` with `%XX` escapes decoded, or `None` when an escape is malformed.
fn percent_decoded(path: &str) -> Option<Vec<u8>> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::MAX_HEAD;
    use crate::{ClientOptions, ServerOptions};

    const UPGRADE: &str = "Connection: Upgrade\r\nUpgrade: websocket\r\n";

    fn server(path: &str, host: Option<&str>) -> ServerSettings {
        let mut options = ServerOptions::new(path);
        options.host = host.map(str::to_owned);
        options.settings().unwrap()
    }

    fn check(request: &str, settings: &ServerSettings) -> Result<Option<usize>, &'static str> {
        parse_request(request.as_bytes(), settings).map_err(|e| match e {
            HttpUpgradeError::Rejected { reason } => reason,
            other => panic!("{other}"),
        })
    }

    #[test]
    fn writes_the_exact_head() {
        let mut options = ClientOptions::new("/hu?x=1");
        options.headers.insert("User-Agent".into(), "test/1".into());
        let settings = options.settings(Some("hu.example")).unwrap();
        let mut buf = Vec::new();
        write_request(&mut buf, &settings);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "GET /hu?x=1 HTTP/1.1\r\nHost: hu.example\r\nUser-Agent: test/1\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        );
    }

    #[test]
    fn accepts_what_sing_box_sends_and_our_client_writes() {
        let settings = server("/hu", Some("hu.example"));
        let sing_box = "GET /hu HTTP/1.1\r\nHost: hu.example\r\nUser-Agent: Go-http-client/1.1\r\n\
                        Connection: Upgrade\r\nUpgrade: websocket\r\nX-Test: a\r\n\r\n";
        let mut data = sing_box.as_bytes().to_vec();
        data.extend_from_slice(b"\x00vless");
        for cut in 0..sing_box.len() {
            assert_eq!(parse_request(&data[..cut], &settings).unwrap(), None);
        }
        assert_eq!(check(sing_box, &settings), Ok(Some(sing_box.len())));
        let query = format!("GET /hu?ed=1 HTTP/1.1\r\nHost: HU.example\r\n{UPGRADE}\r\n");
        assert!(check(&query, &settings).is_ok(), "query ignored");
        let mut client = ClientOptions::new("/hu");
        client.host = Some("hu.example".into());
        let mut ours = Vec::new();
        write_request(&mut ours, &client.settings(None).unwrap());
        assert!(parse_request(&ours, &settings).unwrap().is_some());
        let escaped = format!("GET /h%75 HTTP/1.1\r\nHost: hu.example\r\n{UPGRADE}\r\n");
        assert!(check(&escaped, &settings).is_ok(), "escapes are decoded");
    }

    #[test]
    fn names_each_miss() {
        let settings = server("/hu", Some("hu.example"));
        let with = |line: &str, extra: &str| format!("{line}\r\nHost: hu.example\r\n{extra}\r\n");
        let cases = [
            (with("POST /hu HTTP/1.1", UPGRADE), "method is not GET"),
            (with("GET /hu HTTP/1.0", UPGRADE), "not HTTP/1.1"),
            (with("GET /hu/ HTTP/1.1", UPGRADE), "wrong path"),
            (with("GET /HU HTTP/1.1", UPGRADE), "wrong path"),
            (with("GET /h%zz HTTP/1.1", UPGRADE), "wrong path"),
            (
                with("GET /hu HTTP/1.1", "Connection: Upgrade\r\n"),
                "no `Upgrade: websocket`",
            ),
            (
                with("GET /hu HTTP/1.1", "Upgrade: websocket\r\n"),
                "no `Connection: upgrade`",
            ),
            (
                with(
                    "GET /hu HTTP/1.1",
                    &format!("{UPGRADE}Sec-WebSocket-Key: x\r\n"),
                ),
                "a WebSocket key (not an HTTPUpgrade client)",
            ),
            (
                format!("GET /hu HTTP/1.1\r\nHost: hu.example:443\r\n{UPGRADE}\r\n"),
                "wrong Host",
            ),
            (format!("GET /hu HTTP/1.1\r\n{UPGRADE}\r\n"), "wrong Host"),
        ];
        for (request, reason) in cases {
            assert_eq!(check(&request, &settings), Err(reason), "{request:?}");
        }
        let any_host = server("/hu", None);
        assert!(check(&format!("GET /hu HTTP/1.1\r\n{UPGRADE}\r\n"), &any_host).is_ok());
    }

    #[test]
    fn malformed_and_oversized_heads_are_errors() {
        let settings = server("/", None);
        assert!(matches!(
            parse_request(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", &settings),
            Err(HttpUpgradeError::Malformed(_))
        ));
        let mut endless = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        endless.resize(MAX_HEAD, b'a');
        assert!(matches!(
            parse_request(&endless, &settings),
            Err(HttpUpgradeError::HeadTooLarge { .. })
        ));
    }
}
