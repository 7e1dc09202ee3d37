//! Talking to the admin server of a running binary: curl for HTTP, a WebSocket client for the
//! streams, and a Prometheus text parser for `/metrics`.

use super::Proxy;
use std::{net::SocketAddr, process::Command, time::Duration};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    WebSocketStream, client_async,
    tungstenite::{self, Message, client::IntoClientRequest},
};

/// What the log line announcing the admin server says before its address.
const LISTENING: &str = "admin server listening on ";

impl Proxy {
    /// Where the admin server listens, as the binary logged it.
    pub fn admin_addr(&self) -> SocketAddr {
        let logged = self
            .log_text()
            .lines()
            .find(|l| l.contains(LISTENING))
            .map(str::to_owned);
        let line = logged.unwrap_or_else(|| self.wait_for_log(LISTENING));
        line.split(LISTENING)
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// An HTTP response as curl received it.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The first value of header `name`, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Runs curl against `addr` with `args` after the URL and returns the response.
pub fn curl_admin(addr: SocketAddr, method: &str, path: &str, args: &[&str]) -> Reply {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20", "-X", method])
        .arg(format!("http://{addr}{path}"))
        .args(args)
        .output()
        .expect("curl is installed");
    parse_reply(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|| panic!("no HTTP response: {}", String::from_utf8_lossy(&out.stderr)))
}

/// `method path` with the secret as a Bearer token (and a JSON body, if any).
pub fn api(addr: SocketAddr, secret: &str, method: &str, path: &str, body: Option<&str>) -> Reply {
    let auth = format!("Authorization: Bearer {secret}");
    let mut args = vec!["-H", auth.as_str()];
    if let Some(body) = body {
        args.extend([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    curl_admin(addr, method, path, &args)
}

fn parse_reply(text: &str) -> Option<Reply> {
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Reads a streaming endpoint with curl for `seconds` and returns its lines.
pub fn stream_lines(addr: SocketAddr, secret: &str, path: &str, seconds: f64) -> Vec<String> {
    let out = Command::new("curl")
        .args(["-sS", "-N", "--max-time", &seconds.to_string()])
        .args(["-H", &format!("Authorization: Bearer {secret}")])
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A WebSocket client of the admin server.
pub type AdminSocket = WebSocketStream<TcpStream>;

/// Opens `ws://addr{path}`, answering the upgrade or failing with what the server said.
pub async fn websocket(addr: SocketAddr, path: &str) -> Result<AdminSocket, tungstenite::Error> {
    let request = format!("ws://{addr}{path}").into_client_request()?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(tungstenite::Error::Io)?;
    let (socket, _) = client_async(request, stream).await?;
    Ok(socket)
}

/// The next text frame, within `limit`.
pub async fn next_text(socket: &mut AdminSocket, limit: Duration) -> String {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(limit, socket.next())
            .await
            .expect("a frame in time")
            .expect("the stream goes on")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// `/metrics` parsed by a Prometheus text parser.
pub fn scrape(addr: SocketAddr, secret: &str) -> prometheus_parse::Scrape {
    let reply = api(addr, secret, "GET", "/metrics", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines = reply.body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text")
}

/// The value of the sample `name` whose labels include `labels`, if there is one.
pub fn sample(
    scrape: &prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a plain number"),
        })
}

/// Whether a `/connections` item goes to destination port `port` (ports are strings there).
pub fn port_is(item: &serde_json::Value, port: u16) -> bool {
    item["metadata"]["destinationPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
        == Some(port)
}
