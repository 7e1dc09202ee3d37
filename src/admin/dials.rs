//! Dial times and failures by outbound, as the dispatch reports each dial.

use prometheus_client::metrics::{
    counter::Counter,
    family::Family,
    histogram::{Histogram, exponential_buckets},
};
use std::time::Duration;
use xypro_core::{ConnectionContext, DialObserver, Failure};

/// Labels of one sample: the outbound's name, and a failure from a fixed list.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// A histogram's constructor, as a `Family` stores it.
pub(crate) type NewHistogram = fn() -> Histogram;

/// Dial times and failures by outbound, told by the dispatch.
#[derive(Debug)]
pub(crate) struct DialMetrics {
    seconds: Family<Labels, Histogram, NewHistogram>,
    failures: Family<Labels, Counter>,
}

impl Default for DialMetrics {
    fn default() -> Self {
        DialMetrics {
            seconds: Family::new_with_constructor(|| {
                // 1 ms to about 16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
            failures: Family::default(),
        }
    }
}

impl DialMetrics {
    /// Dial times by outbound (the histogram family; clones share it).
    pub(crate) fn seconds(&self) -> Family<Labels, Histogram, NewHistogram> {
        self.seconds.clone()
    }

    /// Dial failures by outbound and failure (the counter family; clones share it).
    pub(crate) fn failures(&self) -> Family<Labels, Counter> {
        self.failures.clone()
    }
}

impl DialObserver for DialMetrics {
    fn dialled(
        &self,
        context: &ConnectionContext,
        elapsed: Duration,
        outcome: Result<(), Failure>,
    ) {
        let outbound = context
            .route()
            .chain
            .last()
            .map_or_else(String::new, |o| o.to_string());
        match outcome {
            Ok(()) => self
                .seconds
                .get_or_create(&vec![("outbound", outbound)])
                .observe(elapsed.as_secs_f64()),
            Err(failure) => {
                let labels = vec![("outbound", outbound), ("failure", snake_case(&failure))];
                self.failures.get_or_create(&labels).inc();
            }
        }
    }
}

/// `ConnectionRefused` as `connection_refused`.
fn snake_case(failure: &Failure) -> String {
    let mut out = String::new();
    for (i, c) in format!("{failure:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
