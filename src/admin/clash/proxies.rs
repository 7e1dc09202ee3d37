//! `/proxies`: the real outbounds with their kind, and for groups their members and current
//! choice; `PUT /proxies/{name}` switches a `select` group.

use super::body;
use crate::{
    admin::{
        reply::{self, Body},
        state::{State, View},
    },
    pipeline::OutboundPipeline,
};
use hyper::{Request, Response, StatusCode, body::Incoming};
use serde_json::{Map, Value, json};

/// The Clash type of an outbound: its group kind, its proxy protocol or what dials.
pub(crate) fn clash_type(outbound: &OutboundPipeline) -> &'static str {
    let last = outbound.layers.last().map_or("", String::as_str);
    match last {
        "select" => "Selector",
        "balance" => "LoadBalance",
        "reject" => "Reject",
        _ if outbound.layers.iter().any(|kind| kind == "vless") => "Vless",
        _ => "Direct",
    }
}

/// The member a `select` group uses now: the chosen one while it is a member, else the default.
pub(crate) fn now(state: &State, outbound: &OutboundPipeline) -> Option<String> {
    if clash_type(outbound) != "Selector" {
        return None;
    }
    let chosen = state.selections.group(&outbound.name).chosen();
    chosen
        .map(|name| name.to_string())
        .filter(|name| outbound.members.contains(name))
        .or_else(|| outbound.default.clone())
}

/// One outbound as dashboards read it.
fn item(state: &State, outbound: &OutboundPipeline) -> Value {
    let mut item = json!({
        "type": clash_type(outbound),
        "name": &*outbound.name,
        "udp": true,
        "history": state.delays.history(&outbound.name),
    });
    if !outbound.members.is_empty() {
        item["all"] = json!(outbound.members);
    }
    if let Some(now) = now(state, outbound) {
        item["now"] = json!(now);
    }
    item
}

/// `GLOBAL`, as sing-box lists it: every outbound, in file order, the first inbound's outbound
/// as `now`.
fn global(view: &View) -> Value {
    let all: Vec<&str> = view.outbounds.iter().map(|o| &*o.name).collect();
    json!({
        "type": "Fallback",
        "name": "GLOBAL",
        "udp": true,
        "history": [],
        "all": all,
        "now": all.first().copied().unwrap_or(""),
    })
}

/// `GET /proxies`.
pub(crate) fn list(state: &State) -> Response<Body> {
    let view = state.view();
    let mut proxies = Map::new();
    for outbound in &view.outbounds {
        proxies.insert(outbound.name.to_string(), item(state, outbound));
    }
    proxies.insert("GLOBAL".into(), global(&view));
    reply::json(StatusCode::OK, &json!({ "proxies": proxies }))
}

/// `GET /proxies/{name}`.
pub(crate) fn one(state: &State, name: &str) -> Response<Body> {
    let view = state.view();
    match view.outbound(name) {
        Some(outbound) => reply::json(StatusCode::OK, &item(state, outbound)),
        None if name == "GLOBAL" => reply::json(StatusCode::OK, &global(&view)),
        None => reply::not_found(),
    }
}

/// The body of `PUT /proxies/{name}`.
#[derive(Debug, Default, serde::Deserialize)]
struct Choice {
    #[serde(default)]
    name: String,
}

/// `PUT /proxies/{name}` with `{"name": member}`: the next connections through the `select`
/// group `name` use `member`; open ones stay where they are.
pub(crate) async fn select(
    state: &State,
    name: &str,
    request: Request<Incoming>,
) -> Response<Body> {
    let choice: Choice = match body::json(request).await {
        Ok(choice) => choice,
        Err(response) => return response,
    };
    let view = state.view();
    let Some(outbound) = view.outbound(name) else {
        return reply::not_found();
    };
    if clash_type(outbound) != "Selector" {
        return reply::message(StatusCode::BAD_REQUEST, "Must be a Selector");
    }
    if !outbound.members.contains(&choice.name) {
        return reply::message(
            StatusCode::BAD_REQUEST,
            "Selector update error: Proxy does not exist",
        );
    }
    state.selections.group(name).choose(&choice.name);
    tracing::info!(group = name, outbound = %choice.name, "admin API switched a select group");
    reply::empty(StatusCode::NO_CONTENT)
}
