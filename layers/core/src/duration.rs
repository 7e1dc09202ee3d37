//! Humane durations in options (`10s`, `5m`, `1h 30m`), bounded so that no deadline computed
//! from them can overflow: at most a day.
//!
//! Use with serde: `#[serde(default, with = "xypro_core::duration::option")]` for an
//! `Option<Duration>`, `#[serde(with = "xypro_core::duration")]` for a `Duration`.

use serde::{Deserializer, de};
use std::{fmt, time::Duration};

/// The longest duration an option may hold.
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a humane duration, refusing one longer than [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let duration =
        humantime::parse_duration(text).map_err(|e| format!("invalid duration `{text}`: {e}"))?;
    if duration > MAX {
        return Err(format!(
            "duration `{text}` is longer than the maximum of 1 day"
        ));
    }
    Ok(duration)
}

/// Reads the text of a duration and parses it while the deserializer can still say where.
struct Humane;

impl de::Visitor<'_> for Humane {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `10s` or `5m`")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }
}

/// Deserializes a humane duration of at most a day.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(Humane)
}

/// The same for an optional duration.
pub mod option {
    use super::*;

    struct MaybeHumane;

    impl<'de> de::Visitor<'de> for MaybeHumane {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as `10s` or `5m`, or nothing")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            super::deserialize(d).map(Some)
        }
    }

    /// Deserializes an optional humane duration of at most a day.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(MaybeHumane)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Options {
        #[serde(default, with = "super::option")]
        idle: Option<Duration>,
    }

    fn idle(yaml: &str) -> Result<Option<Duration>, String> {
        serde_yaml::from_str::<Options>(yaml)
            .map(|o| o.idle)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn humane_durations_up_to_a_day_and_nothing_that_overflows() {
        assert_eq!(idle("idle: 1m 30s").unwrap(), Some(Duration::from_secs(90)));
        assert_eq!(idle("{}").unwrap(), None);
        assert_eq!(idle("idle: 24h").unwrap(), Some(MAX));
        let err = idle("idle: 18446744073709551615s").unwrap_err();
        assert!(err.contains("longer than the maximum of 1 day"), "{err}");
        assert!(idle("idle: 25h").is_err());
        assert!(idle("idle: soon").unwrap_err().contains("invalid duration"));
    }
}
