//! One request's way through the admin server: CORS preflight, `/ui/`, the secret, then the
//! route; cross-origin answers get their CORS headers.

use super::{
    auth,
    clash::{configs, connections, delay, proxies, streams},
    cors, metrics,
    reply::{self, Body},
    state::State,
    ui, ws,
};
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::{
    Method, Request, Response, StatusCode, Uri,
    body::{Frame, Incoming},
    header,
};
use serde_json::json;
use std::{convert::Infallible, sync::Arc, time::Duration};

/// Answers one request.
pub(crate) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if let Some(preflight) = cors::preflight(&request) {
        return Ok(preflight);
    }
    let cross_origin = request.headers().contains_key(header::ORIGIN);
    let mut response = route(&state, request).await;
    if cross_origin {
        cors::allow(&mut response);
    }
    Ok(response)
}

async fn route(state: &Arc<State>, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let access = state.access();
    if path == "/ui" || path.starts_with("/ui/") {
        return ui::serve(access.ui.as_deref(), &request).await;
    }
    let upgrade = ws::is_upgrade(&request);
    if !auth::allowed(access.secret.as_ref(), &request, upgrade) {
        return reply::unauthorized();
    }
    let Some(segments) = path[1..]
        .split('/')
        .map(percent_decode)
        .collect::<Option<Vec<_>>>()
    else {
        return reply::not_found();
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = request.uri().query().map(str::to_owned);
    let query = query.as_deref();
    match (request.method().clone(), segments.as_slice()) {
        (Method::GET, [""]) => reply::json(StatusCode::OK, &json!({ "hello": "clash" })),
        (Method::GET, ["version"]) => reply::json(
            StatusCode::OK,
            &json!({
                "version": concat!("xypro-stack ", env!("CARGO_PKG_VERSION")),
                "meta": true,
                "premium": true,
            }),
        ),
        (Method::GET, ["metrics"]) => match metrics::render(state) {
            Ok(text) => reply::with_type(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                text,
            ),
            Err(_) => reply::message(StatusCode::INTERNAL_SERVER_ERROR, "Metrics failed"),
        },
        (Method::GET, ["configs"]) => configs::get(state),
        (Method::PATCH, ["configs"]) => configs::patch(state, request).await,
        (Method::PUT, ["configs"]) => configs::reload(state, request).await,
        (Method::GET, ["proxies"]) => proxies::list(state),
        (Method::GET, ["proxies", name]) => proxies::one(state, name),
        (Method::PUT, ["proxies", name]) => proxies::select(state, name, request).await,
        (Method::GET, ["proxies", name, "delay"]) => delay::proxy(state, name, query).await,
        (Method::GET, ["group", name, "delay"]) => delay::group(state, name, query).await,
        (Method::GET, ["connections"]) if upgrade => {
            let interval = query_value(query, "interval")
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::from_secs(1), Duration::from_millis);
            ws::respond(request, streams::connections(state, interval))
        }
        (Method::GET, ["connections"]) => connections::list(state),
        (Method::DELETE, ["connections"]) => connections::close_all(state),
        (Method::DELETE, ["connections", id]) => connections::close(state, id),
        (Method::GET, ["traffic"]) => stream(request, upgrade, streams::traffic(state)),
        (Method::GET, ["memory"]) => stream(request, upgrade, streams::memory(state)),
        (Method::GET, ["logs"]) => {
            let level = query_value(query, "level").unwrap_or_else(|| "info".into());
            stream(request, upgrade, streams::logs(state, level))
        }
        (Method::GET, ["rules"]) => reply::json(StatusCode::OK, &json!({ "rules": [] })),
        (Method::GET, ["providers", "proxies" | "rules"]) => {
            reply::json(StatusCode::OK, &json!({ "providers": {} }))
        }
        _ => reply::not_found(),
    }
}

/// Sends `lines` as WebSocket text frames, or as a chunked JSON body flushed per line.
fn stream(request: Request<Incoming>, upgrade: bool, lines: streams::Lines) -> Response<Body> {
    if upgrade {
        return ws::respond(request, lines);
    }
    let body = StreamBody::new(lines.map(|line| Ok::<_, Infallible>(Frame::data(line))));
    let mut response = Response::new(BodyExt::boxed_unsync(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The first value of `key` in a query string.
fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The first value of `key` in `uri`'s query.
pub(crate) fn query(uri: &Uri, key: &str) -> Option<String> {
    query_value(uri.query(), key)
}

/// Decodes `%XX` escapes of a path segment; `None` if one is malformed or the result is not
/// UTF-8.
pub(crate) fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_decode_or_refuse() {
        assert_eq!(percent_decode("my%20proxy").unwrap(), "my proxy");
        assert_eq!(percent_decode("%E4%BB%A3%E7%90%86").unwrap(), "代理");
        assert!(percent_decode("%2").is_none());
        assert!(percent_decode("%+1").is_none());
        assert!(percent_decode("%ff").is_none());
    }
}
