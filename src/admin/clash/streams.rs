//! The streaming endpoints as sequences of JSON lines: `/traffic` and `/memory` once a second,
//! `/logs` per event, `/connections` every `interval`. Each is sent as chunked HTTP or as
//! WebSocket text frames by the caller.

use crate::admin::{
    logs::{self, LogLine},
    sampler::Sample,
    state::State,
};
use bytes::Bytes;
use futures_util::{
    StreamExt,
    stream::{self, BoxStream},
};
use serde_json::json;
use std::{sync::Arc, time::Duration};
use tokio::{sync::broadcast::error::RecvError, time::MissedTickBehavior};
use tracing::Level;

/// A stream of JSON texts, each one frame or chunk.
pub(crate) type Lines = BoxStream<'static, Bytes>;

/// The shortest `/connections` interval a client may ask for.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Ends `lines` when the admin server stops.
fn until_stopped(state: &State, lines: Lines) -> Lines {
    lines
        .take_until(state.stop.clone().cancelled_owned())
        .boxed()
}

/// Each new sample as a line, from the next one on; `line` learns whether it is the first.
fn samples(state: &State, line: fn(&Sample, bool) -> String) -> Lines {
    let mut receiver = state.samples.clone();
    receiver.mark_unchanged();
    let lines = stream::unfold((receiver, true), move |(mut receiver, first)| async move {
        receiver.changed().await.ok()?;
        let sample = *receiver.borrow_and_update();
        Some((Bytes::from(line(&sample, first)), (receiver, false)))
    });
    until_stopped(state, lines.boxed())
}

/// `/traffic`: `{"up","down","upTotal","downTotal"}` and a newline, every second.
pub(crate) fn traffic(state: &State) -> Lines {
    samples(state, |sample, _| {
        format!(
            "{}\n",
            json!({
                "up": sample.up,
                "down": sample.down,
                "upTotal": sample.up_total,
                "downTotal": sample.down_total,
            })
        )
    })
}

/// `/memory`: `{"inuse","oslimit"}` and a newline, every second; the first `inuse` is 0.
pub(crate) fn memory(state: &State) -> Lines {
    samples(state, |sample, first| {
        let inuse = if first { 0 } else { sample.resident };
        format!("{}\n", json!({ "inuse": inuse, "oslimit": 0 }))
    })
}

/// `/logs?level=`: `{"type","payload"}` and a newline per event at `level` or above.
pub(crate) fn logs(state: &State, level: String) -> Lines {
    let Some(control) = &state.controls.logs else {
        return until_stopped(state, stream::pending().boxed());
    };
    let receiver = control.hub().subscribe();
    let lines = stream::unfold(receiver, move |mut receiver| {
        let level = level.clone();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(line) if logs::passes(line.level, &level) => {
                        return Some((log_line(&line), receiver));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    until_stopped(state, lines.boxed())
}

fn log_line(line: &LogLine) -> Bytes {
    let kind = match line.level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        _ => "debug",
    };
    Bytes::from(format!(
        "{}\n",
        json!({ "type": kind, "payload": &*line.text })
    ))
}

/// `/connections` over WebSocket: a snapshot now, then one every `interval`.
pub(crate) fn connections(state: &Arc<State>, interval: Duration) -> Lines {
    let interval = interval.max(MIN_INTERVAL);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Dashboards at the same interval share one rendering.
    let max_age = interval.min(Duration::from_secs(1)) / 2;
    let lines = stream::unfold((state.clone(), tick), move |(state, mut tick)| async move {
        tick.tick().await;
        let snapshot = state.snapshots.get(&state, max_age);
        Some((snapshot, (state, tick)))
    });
    until_stopped(state, lines.boxed())
}
