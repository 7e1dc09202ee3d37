//! `GET /connections` (one snapshot) and `DELETE /connections[/{id}]` (really closes).

use super::snapshot;
use crate::admin::{
    reply::{self, Body},
    state::State,
};
use hyper::{Response, StatusCode};
use std::time::Duration;

/// The open connections now.
pub(crate) fn list(state: &State) -> Response<Body> {
    let bytes = state.snapshots.get(state, Duration::ZERO);
    reply::with_type(StatusCode::OK, "application/json", bytes)
}

/// Closes every open connection; `204`.
pub(crate) fn close_all(state: &State) -> Response<Body> {
    let open = state.table.len();
    state.table.close_all();
    tracing::info!("admin API closed {open} connections");
    reply::empty(StatusCode::NO_CONTENT)
}

/// Closes the connection `id` and those opened on its behalf; `204` even for an unknown id.
pub(crate) fn close(state: &State, id: &str) -> Response<Body> {
    if let Some(id) = snapshot::table_id(id)
        && state.table.close(id)
    {
        tracing::info!(id, "admin API closed a connection");
    }
    reply::empty(StatusCode::NO_CONTENT)
}
