//! YAML options of the `timeout`, `rate_limit` and `concurrency_limit` layers, and the
//! settings they validate into.

use crate::{ConcurrencyLimitLayer, RateLimitLayer, TimeoutLayer, size::ByteRate};
use serde::Deserialize;
use std::{
    num::{NonZeroU32, NonZeroU64},
    time::Duration,
};
use xypro_core::{BuildContext, InvalidOptions, LayerOptions};

/// Options of the `timeout` layer: `{ connect, idle }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOptions {
    /// Deadline for everything below the layer to produce a stream: dial and handshakes.
    #[serde(default, with = "xypro_core::duration::option")]
    pub connect: Option<Duration>,
    /// Close the stream when no byte moved either way for this long.
    #[serde(default, with = "xypro_core::duration::option")]
    pub idle: Option<Duration>,
}

/// Validated `timeout` settings; `None` turns that deadline off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeoutSettings {
    /// Deadline for the inner connector's call.
    pub connect: Option<Duration>,
    /// Longest silence (no byte either way) a returned stream survives.
    pub idle: Option<Duration>,
}

impl LayerOptions for TimeoutOptions {
    type Output = TimeoutLayer;

    fn validate(self, _: &BuildContext<'_>) -> Result<TimeoutLayer, InvalidOptions> {
        self.settings().map(TimeoutLayer::new)
    }
}

impl TimeoutOptions {
    /// Checks that at least one deadline is set and none is zero.
    pub fn settings(&self) -> Result<TimeoutSettings, InvalidOptions> {
        for (name, value) in [("connect", self.connect), ("idle", self.idle)] {
            if value == Some(Duration::ZERO) {
                return Err(InvalidOptions::at(name, "must be longer than 0s"));
            }
        }
        if self.connect.is_none() && self.idle.is_none() {
            return Err(InvalidOptions::new(
                "timeout needs `connect`, `idle` or both (e.g. `{ connect: 10s, idle: 5m }`)",
            ));
        }
        Ok(TimeoutSettings {
            connect: self.connect,
            idle: self.idle,
        })
    }
}

/// Options of the `concurrency_limit` layer: `{ max }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyLimitOptions {
    /// At most this many connections open through the pipeline at once.
    pub max: u64,
}

impl LayerOptions for ConcurrencyLimitOptions {
    type Output = ConcurrencyLimitLayer;

    fn validate(self, _: &BuildContext<'_>) -> Result<ConcurrencyLimitLayer, InvalidOptions> {
        self.permits().map(ConcurrencyLimitLayer::new)
    }
}

impl ConcurrencyLimitOptions {
    /// Checks `max` and returns it as a permit count.
    pub fn permits(&self) -> Result<usize, InvalidOptions> {
        if self.max == 0 {
            return Err(InvalidOptions::at("max", "must be at least 1"));
        }
        let limit = tokio::sync::Semaphore::MAX_PERMITS as u64;
        if self.max > limit {
            return Err(InvalidOptions::at(
                "max",
                format!("must be at most {limit}"),
            ));
        }
        Ok(self.max as usize)
    }
}

/// Options of the `rate_limit` layer:
/// `{ connections_per_second, burst, bytes_per_second, per_user }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitOptions {
    /// New connections admitted per second once the burst is spent.
    #[serde(default)]
    pub connections_per_second: Option<u32>,
    /// How many connections may pass at once before the rate applies (default 1).
    #[serde(default)]
    pub burst: Option<u32>,
    /// Bytes per second in each direction (download and upload each get this budget).
    #[serde(default)]
    pub bytes_per_second: Option<ByteRate>,
    /// One budget per authenticated user (`target.meta().user`) instead of one shared budget.
    #[serde(default)]
    pub per_user: bool,
}

/// A validated connection rate: `per_second` once `burst` connections have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRate {
    /// Connections admitted per second.
    pub per_second: NonZeroU32,
    /// Connections admitted at once from a full budget.
    pub burst: NonZeroU32,
}

/// Validated `rate_limit` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// The connection rate, if connections are limited.
    pub connections: Option<ConnectionRate>,
    /// The byte rate of each direction, if bytes are limited.
    pub bytes_per_second: Option<NonZeroU64>,
    /// Whether every user gets budgets of their own.
    pub per_user: bool,
}

impl LayerOptions for RateLimitOptions {
    type Output = RateLimitLayer;

    fn validate(self, _: &BuildContext<'_>) -> Result<RateLimitLayer, InvalidOptions> {
        self.settings().map(RateLimitLayer::new)
    }
}

impl RateLimitOptions {
    /// Checks every rate and that something is limited at all.
    pub fn settings(&self) -> Result<RateLimitSettings, InvalidOptions> {
        let connections = match (self.connections_per_second, self.burst) {
            (None, Some(_)) => {
                return Err(InvalidOptions::at(
                    "burst",
                    "needs connections_per_second (it is the connection burst)",
                ));
            }
            (None, None) => None,
            (Some(rate), burst) => Some(ConnectionRate {
                per_second: NonZeroU32::new(rate).ok_or_else(|| {
                    InvalidOptions::at("connections_per_second", "must be at least 1")
                })?,
                burst: NonZeroU32::new(burst.unwrap_or(1))
                    .ok_or_else(|| InvalidOptions::at("burst", "must be at least 1"))?,
            }),
        };
        let bytes_per_second =
            match self.bytes_per_second {
                None => None,
                Some(rate) => Some(NonZeroU64::new(rate.bytes_per_second()).ok_or_else(|| {
                    InvalidOptions::at("bytes_per_second", "must be at least 1B/s")
                })?),
            };
        if connections.is_none() && bytes_per_second.is_none() {
            return Err(InvalidOptions::new(
                "rate_limit needs connections_per_second, bytes_per_second or both",
            ));
        }
        Ok(RateLimitSettings {
            connections,
            bytes_per_second,
            per_user: self.per_user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn timeout_options() {
        let options: TimeoutOptions = parse("{ connect: 10s, idle: 5m }").unwrap();
        let settings = options.settings().unwrap();
        assert_eq!(settings.connect, Some(Duration::from_secs(10)));
        assert_eq!(settings.idle, Some(Duration::from_secs(300)));
        let err = parse::<TimeoutOptions>("{ connect: soon }").unwrap_err();
        assert!(err.contains("connect"), "{err}");
        let err = parse::<TimeoutOptions>("{ conect: 1s }").unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
        let err = parse::<TimeoutOptions>("{ idle: 0s }")
            .unwrap()
            .settings()
            .unwrap_err();
        assert_eq!(err.to_string(), "idle: must be longer than 0s");
        assert_eq!(err.key(), Some("idle"));
        assert!(parse::<TimeoutOptions>("{}").unwrap().settings().is_err());
    }

    #[test]
    fn concurrency_options() {
        let options: ConcurrencyLimitOptions = parse("{ max: 100 }").unwrap();
        assert_eq!(options.permits().unwrap(), 100);
        let err = parse::<ConcurrencyLimitOptions>("{ max: 0 }")
            .unwrap()
            .permits()
            .unwrap_err();
        assert_eq!(err.to_string(), "max: must be at least 1");
        assert!(parse::<ConcurrencyLimitOptions>("{}").is_err());
        assert!(parse::<ConcurrencyLimitOptions>("{ max: -1 }").is_err());
    }

    #[test]
    fn rate_limit_options() {
        let options: RateLimitOptions = parse(
            "{ connections_per_second: 5, burst: 10, bytes_per_second: 1MiB/s, per_user: true }",
        )
        .unwrap();
        let settings = options.settings().unwrap();
        let connections = settings.connections.unwrap();
        assert_eq!(
            (connections.per_second.get(), connections.burst.get()),
            (5, 10)
        );
        assert_eq!(
            settings.bytes_per_second.map(NonZeroU64::get),
            Some(1 << 20)
        );
        assert!(settings.per_user);

        let defaults: RateLimitOptions = parse("{ connections_per_second: 2 }").unwrap();
        let settings = defaults.settings().unwrap();
        assert_eq!(settings.connections.unwrap().burst.get(), 1);
        assert!(!settings.per_user);

        let cases = [
            (
                "{ connections_per_second: 0 }",
                "connections_per_second: must be at least 1",
            ),
            (
                "{ connections_per_second: 1, burst: 0 }",
                "burst: must be at least 1",
            ),
            ("{ burst: 3 }", "burst: needs connections_per_second"),
            (
                "{ bytes_per_second: 0 }",
                "bytes_per_second: must be at least 1B/s",
            ),
            ("{ per_user: true }", "rate_limit needs"),
        ];
        for (yaml, expected) in cases {
            let err = parse::<RateLimitOptions>(yaml)
                .unwrap()
                .settings()
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{yaml}: {err}");
        }
        let err = parse::<RateLimitOptions>("{ bytes_per_second: quick }").unwrap_err();
        assert!(err.contains("invalid byte rate `quick`"), "{err}");
    }
}
