//! The process's log events for `/logs` and the log level for `/configs`: a tracing layer that
//! hands each event to subscribed dashboards, and the handle that changes the level.

use std::{
    fmt::{self, Write as _},
    sync::{Arc, Mutex, PoisonError},
};
use tokio::sync::broadcast;
use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{Layer, layer::Context};

/// How many log lines a slow dashboard may fall behind before it misses some.
const BACKLOG: usize = 512;

/// One log event as dashboards see it.
#[derive(Debug, Clone)]
pub(crate) struct LogLine {
    /// Its level.
    pub(crate) level: Level,
    /// The message followed by its fields as `key=value`.
    pub(crate) text: Arc<str>,
}

/// Fans log events out to `/logs` subscribers; clones share one fan-out.
#[derive(Debug, Clone)]
pub struct LogHub {
    sender: broadcast::Sender<LogLine>,
}

impl Default for LogHub {
    fn default() -> Self {
        LogHub {
            sender: broadcast::Sender::new(BACKLOG),
        }
    }
}

impl LogHub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tracing layer that feeds this hub; it costs nothing while no one subscribes.
    pub fn layer(&self) -> HubLayer {
        HubLayer {
            sender: self.sender.clone(),
        }
    }

    /// Log lines from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.sender.subscribe()
    }
}

/// A tracing layer that sends each event to a [`LogHub`]'s subscribers.
#[derive(Debug)]
pub struct HubLayer {
    sender: broadcast::Sender<LogLine>,
}

impl<S: Subscriber> Layer<S> for HubLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let line = LogLine {
            level: *event.metadata().level(),
            text: text.finish().into(),
        };
        let _ = self.sender.send(line);
    }
}

/// An event's message and fields, rendered as the terminal log shows them.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(mut self) -> String {
        self.message.push_str(&self.fields);
        self.message
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            name => {
                let _ = write!(self.fields, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = match field.name() {
            "message" => write!(self.message, "{value:?}"),
            name => write!(self.fields, " {name}={value:?}"),
        };
    }
}

/// Sets the process's log filter from a directive such as `debug`.
type SetFilter = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// The running process's log level: read and changed through `/configs`, streamed by `/logs`.
#[derive(Clone)]
pub struct LogControl {
    hub: LogHub,
    level: Arc<Mutex<&'static str>>,
    set_filter: Arc<SetFilter>,
}

impl fmt::Debug for LogControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogControl")
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl LogControl {
    /// Control over a process logging at `level` (a tracing level name), whose filter
    /// `set_filter` replaces, with `hub` fed by its subscriber.
    pub fn new(
        hub: LogHub,
        level: &str,
        set_filter: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        LogControl {
            hub,
            level: Arc::new(Mutex::new(clash_level(level))),
            set_filter: Arc::new(set_filter),
        }
    }

    /// The hub dashboards subscribe to.
    pub(crate) fn hub(&self) -> &LogHub {
        &self.hub
    }

    /// The level by its Clash name (`debug`, `info`, `warning`, `error`, `silent`).
    pub(crate) fn level(&self) -> &'static str {
        *self.level.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the level, given by its Clash name.
    pub(crate) fn set_level(&self, clash: &str) -> Result<(), String> {
        let (name, directive) = match clash {
            "debug" => ("debug", "debug"),
            "info" => ("info", "info"),
            "warning" => ("warning", "warn"),
            "error" => ("error", "error"),
            "silent" => ("silent", "off"),
            other => return Err(format!("unknown log level `{other}`")),
        };
        (self.set_filter)(directive)?;
        *self.level.lock().unwrap_or_else(PoisonError::into_inner) = name;
        tracing::info!("log level set to {directive}");
        Ok(())
    }
}

/// The Clash name of a tracing level name.
fn clash_level(level: &str) -> &'static str {
    match level {
        "error" => "error",
        "warn" => "warning",
        "off" => "silent",
        "debug" | "trace" => "debug",
        _ => "info",
    }
}

/// Whether a line at `level` passes a subscriber that asked for Clash level `wanted`.
pub(crate) fn passes(level: Level, wanted: &str) -> bool {
    let floor = match wanted {
        "debug" => Level::TRACE,
        "warning" => Level::WARN,
        "error" => Level::ERROR,
        "silent" => return false,
        _ => Level::INFO,
    };
    level <= floor
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn events_reach_subscribers_with_their_fields() {
        let hub = LogHub::new();
        let mut lines = hub.subscribe();
        let subscriber = tracing_subscriber::registry().with(hub.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(inbound = "socks", n = 3, "handshake failed: {}", "eof");
        });
        let line = lines.try_recv().unwrap();
        assert_eq!(line.level, Level::WARN);
        assert_eq!(&*line.text, "handshake failed: eof inbound=socks n=3");
    }

    #[test]
    fn levels_map_between_tracing_and_clash() {
        let set = Arc::new(Mutex::new(String::new()));
        let control = LogControl::new(LogHub::new(), "warn", {
            let set = set.clone();
            move |directive| {
                *set.lock().unwrap() = directive.to_owned();
                Ok(())
            }
        });
        assert_eq!(control.level(), "warning");
        control.set_level("silent").unwrap();
        assert_eq!(
            (control.level(), set.lock().unwrap().as_str()),
            ("silent", "off")
        );
        assert!(control.set_level("loud").is_err());
        assert!(passes(Level::ERROR, "warning") && !passes(Level::INFO, "warning"));
        assert!(passes(Level::DEBUG, "debug") && !passes(Level::ERROR, "silent"));
    }
}
