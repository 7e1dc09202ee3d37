//! Once a second: the bytes moved in the last second and the process's memory, for `/traffic`
//! and `/memory`. One sampler serves every subscriber.

use super::process;
use std::time::Duration;
use tokio::{sync::watch, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use xypro_core::ConnectionTable;

/// How often a sample is taken.
pub(crate) const PERIOD: Duration = Duration::from_secs(1);

/// One second's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Bytes sent towards destinations in the last second.
    pub(crate) up: u64,
    /// Bytes sent back to clients in the last second.
    pub(crate) down: u64,
    /// Bytes sent towards destinations since the start.
    pub(crate) up_total: u64,
    /// Bytes sent back to clients since the start.
    pub(crate) down_total: u64,
    /// The process's resident memory.
    pub(crate) resident: u64,
}

/// Starts sampling `table` until `stop`; subscribers wait on the returned receiver.
pub(crate) fn start(table: ConnectionTable, stop: CancellationToken) -> watch::Receiver<Sample> {
    let (sender, receiver) = watch::channel(Sample::default());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.tick().await;
        let mut last = table.totals().all;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = table.totals().all;
            sender.send_replace(Sample {
                up: now.up.saturating_sub(last.up),
                down: now.down.saturating_sub(last.down),
                up_total: now.up,
                down_total: now.down,
                resident: process::resident_bytes().unwrap_or(0),
            });
            last = now;
        }
    });
    receiver
}
