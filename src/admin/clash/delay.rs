//! `/proxies/{name}/delay` and `/group/{name}/delay`: a real HTTP request through the
//! outbound to the given URL, timed, and the last results kept as each outbound's `history`.

use crate::admin::{
    reply::{self, Body},
    state::State,
};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, Response, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant, SystemTime},
};
use tower::{Service, ServiceExt};
use xypro_core::{Address, BoxConnector, BoxError, BoxIo, Io, Target};

/// How many results each outbound's history keeps.
const HISTORY: usize = 10;

/// The longest timeout a request may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// The timeout when a request names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The last delay results of each outbound.
#[derive(Debug, Default)]
pub(crate) struct Delays {
    by_outbound: Mutex<HashMap<String, VecDeque<(SystemTime, u64)>>>,
}

impl Delays {
    fn record(&self, outbound: &str, delay: u64) {
        let mut all = self
            .by_outbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let history = all.entry(outbound.to_owned()).or_default();
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back((SystemTime::now(), delay));
    }

    /// `[{"time", "delay"}]`, oldest first; a failed test reads as delay `0`.
    pub(crate) fn history(&self, outbound: &str) -> Value {
        let all = self
            .by_outbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = all
            .get(outbound)
            .into_iter()
            .flatten()
            .map(|(time, delay)| {
                json!({
                    "time": humantime::format_rfc3339_millis(*time).to_string(),
                    "delay": delay,
                })
            });
        Value::Array(entries.collect())
    }
}

/// Why a delay test gave no number.
#[derive(Debug)]
enum DelayError {
    Timeout,
    Failed(BoxError),
}

/// The `url` and `timeout` query parameters, or what is wrong with them.
fn parameters(query: Option<&str>) -> Result<(Uri, Duration), &'static str> {
    let query = query.unwrap_or("");
    let find = |key: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let url: Uri = find("url")
        .ok_or("Body invalid: url is missing")?
        .parse()
        .map_err(|_| "Body invalid: url is not a URL")?;
    if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
        return Err("Body invalid: url must be http:// or https://");
    }
    let timeout = match find("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|_| "Body invalid: timeout is not a number of milliseconds")?,
        ),
    };
    Ok((url, timeout.min(MAX_TIMEOUT)))
}

/// `GET /proxies/{name}/delay?url=&timeout=`: `{"delay": ms}`, `504` on timeout, `503` on
/// failure.
pub(crate) async fn proxy(state: &State, name: &str, query: Option<&str>) -> Response<Body> {
    let (url, timeout) = match parameters(query) {
        Ok(parameters) => parameters,
        Err(text) => return reply::message(StatusCode::BAD_REQUEST, text),
    };
    let Some(connector) = state.view().outbound(name).map(|o| o.connector.clone()) else {
        return reply::not_found();
    };
    match measure(state, connector, &url, timeout).await {
        Ok(delay) => {
            state.delays.record(name, delay);
            reply::json(StatusCode::OK, &json!({ "delay": delay }))
        }
        Err(DelayError::Timeout) => {
            state.delays.record(name, 0);
            tracing::debug!(outbound = name, %url, "delay test timed out");
            reply::message(StatusCode::GATEWAY_TIMEOUT, "Timeout")
        }
        Err(DelayError::Failed(error)) => {
            state.delays.record(name, 0);
            let error = xypro_core::error_chain(&*error);
            tracing::debug!(outbound = name, %url, "delay test failed: {error}");
            reply::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "An error occurred in the delay test",
            )
        }
    }
}

/// `GET /group/{name}/delay?url=&timeout=`: every member tested at once, `{"member": ms}` for
/// those that answered.
pub(crate) async fn group(state: &State, name: &str, query: Option<&str>) -> Response<Body> {
    let (url, timeout) = match parameters(query) {
        Ok(parameters) => parameters,
        Err(text) => return reply::message(StatusCode::BAD_REQUEST, text),
    };
    let view = state.view();
    let Some(group) = view.outbound(name).filter(|o| !o.members.is_empty()) else {
        return reply::not_found();
    };
    let tests = group.members.iter().filter_map(|member| {
        let connector = view.outbound(member)?.connector.clone();
        let url = &url;
        Some(async move { (member, measure(state, connector, url, timeout).await) })
    });
    let mut delays = serde_json::Map::new();
    for (member, result) in futures_util::future::join_all(tests).await {
        let delay = result.unwrap_or(0);
        state.delays.record(member, delay);
        if delay > 0 {
            delays.insert(member.clone(), json!(delay));
        }
    }
    reply::json(StatusCode::OK, &Value::Object(delays))
}

/// Milliseconds from the start of the dial until the response head of a `HEAD url` request
/// sent through `connector` (TLS on top for `https`).
async fn measure(
    state: &State,
    connector: BoxConnector,
    url: &Uri,
    timeout: Duration,
) -> Result<u64, DelayError> {
    let started = Instant::now();
    let request = async { head(dial(state, connector, url).await?, url).await };
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Err(DelayError::Timeout),
        Ok(Err(error)) => Err(DelayError::Failed(error)),
        Ok(Ok(())) => Ok((started.elapsed().as_millis() as u64).max(1)),
    }
}

/// Dials `url`'s host through `connector`, with TLS on top for `https`.
async fn dial(state: &State, connector: BoxConnector, url: &Uri) -> Result<BoxIo, BoxError> {
    let host = url.host().ok_or("the URL has no host")?;
    let https = url.scheme_str() == Some("https");
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let address: Address = match bare_host.parse::<std::net::IpAddr>() {
        Ok(ip) => Address::Ip((ip, port).into()),
        Err(_) => Address::Domain(bare_host.to_owned(), port),
    };
    let target = Target::tcp(address);
    if !https {
        return connector.oneshot(target).await;
    }
    let settings = xypro_tls::ClientOptions::new(bare_host).settings(&state.base_dir)?;
    let mut tls = xypro_tls::TlsConnector::new(connector, settings);
    tls.ready().await?;
    // Named as the boxed future it is: the connector's `Future` projection, held across an
    // await, would defeat the `Send` inference of every caller.
    let handshake: TlsFuture = tls.call(target);
    Ok(BoxIo::new(handshake.await?))
}

/// What [`xypro_tls::TlsConnector`] returns over an outbound.
type TlsFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<xypro_tls::ClientTlsStream<BoxIo>, BoxError>>
            + Send,
    >,
>;

/// Sends `HEAD url` over `io` and waits for the response head.
async fn head(io: impl Io, url: &Uri) -> Result<(), BoxError> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let authority = url.authority().map_or("", |a| a.as_str());
    let request = Request::head(path)
        .header(header::HOST, authority)
        .header(
            header::USER_AGENT,
            concat!("xypro-stack/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())?;
    sender.send_request(request).await?;
    Ok(())
}
