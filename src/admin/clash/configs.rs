//! `/configs`: the stub dashboards read, `PATCH` for the mode and the log level (which really
//! changes), `PUT` to reload the config file.

use super::body;
use crate::admin::{
    reply::{self, Body},
    state::State,
};
use hyper::{Request, Response, StatusCode, body::Incoming};
use serde_json::json;
use tokio::sync::oneshot;

/// `GET /configs`, in sing-box's shape.
pub(crate) fn get(state: &State) -> Response<Body> {
    let view = state.view();
    let socks_port = view
        .inbounds
        .iter()
        .find(|inbound| &*inbound.protocol == "socks5")
        .map_or(0, |inbound| inbound.listen.port());
    let allow_lan = view.inbounds.iter().any(|i| !i.listen.ip().is_loopback());
    let level = state
        .controls
        .logs
        .as_ref()
        .map_or("info", |logs| logs.level());
    reply::json(
        StatusCode::OK,
        &json!({
            "mode": "Rule",
            "mode-list": ["Rule"],
            "log-level": level,
            "allow-lan": allow_lan,
            "bind-address": "*",
            "port": 0,
            "socks-port": socks_port,
            "mixed-port": 0,
            "ipv6": false,
            "tun": null,
        }),
    )
}

/// What `PATCH /configs` may change; other keys are accepted and ignored, as sing-box does.
#[derive(Debug, Default, serde::Deserialize)]
struct Patch {
    mode: Option<String>,
    #[serde(rename = "log-level")]
    log_level: Option<String>,
}

/// `PATCH /configs`: `204`, or `400` for a mode or level that does not exist.
pub(crate) async fn patch(state: &State, request: Request<Incoming>) -> Response<Body> {
    let patch: Patch = match body::json(request).await {
        Ok(patch) => patch,
        Err(response) => return response,
    };
    if let Some(mode) = &patch.mode
        && !mode.eq_ignore_ascii_case("rule")
    {
        return reply::message(StatusCode::BAD_REQUEST, "Body invalid: unknown mode");
    }
    if let Some(level) = &patch.log_level {
        let Some(logs) = &state.controls.logs else {
            return reply::message(StatusCode::BAD_REQUEST, "Log level cannot be changed here");
        };
        if let Err(e) = logs.set_level(level) {
            return reply::message(StatusCode::BAD_REQUEST, &format!("Body invalid: {e}"));
        }
    }
    reply::empty(StatusCode::NO_CONTENT)
}

/// The body of `PUT /configs`; `path` and `payload` name another file or inline config in
/// mihomo, and are refused here: the server reloads the file it was started with.
#[derive(Debug, Default, serde::Deserialize)]
struct Reload {
    #[serde(default)]
    path: String,
    #[serde(default)]
    payload: String,
}

/// `PUT /configs`: reloads the config file; `204`, or `400` with why the file was rejected
/// (the running config then stays).
pub(crate) async fn reload(state: &State, request: Request<Incoming>) -> Response<Body> {
    let reload: Reload = match body::json(request).await {
        Ok(reload) => reload,
        Err(response) => return response,
    };
    if !reload.path.is_empty() || !reload.payload.is_empty() {
        return reply::message(
            StatusCode::BAD_REQUEST,
            "Body invalid: only the config file the server runs can be reloaded",
        );
    }
    let Some(requests) = &state.controls.reload else {
        return reply::message(StatusCode::SERVICE_UNAVAILABLE, "Reload is not available");
    };
    let (answer, outcome) = oneshot::channel();
    if requests.send(answer).await.is_err() {
        return reply::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
        );
    }
    match outcome.await {
        Ok(Ok(())) => reply::empty(StatusCode::NO_CONTENT),
        Ok(Err(message)) => reply::message(StatusCode::BAD_REQUEST, &message),
        Err(_) => reply::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
        ),
    }
}
