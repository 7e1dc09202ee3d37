//! Byte sizes (`64KiB`, `10MiB`) and byte rates (`1MiB/s`, `500KB/s`) as written in YAML.
//!
//! Binary units are powers of 1024 (`KiB`, `MiB`, `GiB`), decimal units powers of 1000
//! (`KB`, `MB`, `GB`); a plain number, or one ending in `B`, is bytes. Units are
//! case-insensitive (`b` is always bytes, never bits) and a decimal point is allowed
//! (`1.5MiB`); the result is rounded down to whole bytes.

use serde::{Deserialize, Deserializer, de};
use std::{fmt, str::FromStr};

/// A size or rate that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {what} `{input}`: expected a number with an optional unit \
     (B, KB, KiB, MB, MiB, GB, GiB){suffix}"
)]
pub struct SizeError {
    what: &'static str,
    input: String,
    suffix: &'static str,
}

/// A number of bytes, parsed from `65536`, `64KiB`, `10MB`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Bytes per second, parsed from `1MiB/s`, `500KB/s` or a plain `1048576`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteRate(pub u64);

impl ByteSize {
    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl ByteRate {
    /// The number of bytes per second.
    pub fn bytes_per_second(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(input: &str) -> Result<Self, SizeError> {
        parse_bytes(input.trim()).map(ByteSize).ok_or(SizeError {
            what: "byte size",
            input: input.to_owned(),
            suffix: "",
        })
    }
}

impl FromStr for ByteRate {
    type Err = SizeError;

    fn from_str(input: &str) -> Result<Self, SizeError> {
        let trimmed = input.trim();
        let amount = trimmed
            .strip_suffix("/s")
            .or_else(|| trimmed.strip_suffix("/S"))
            .unwrap_or(trimmed);
        parse_bytes(amount.trim_end())
            .map(ByteRate)
            .ok_or(SizeError {
                what: "byte rate",
                input: input.to_owned(),
                suffix: ", optionally followed by `/s`",
            })
    }
}

/// Parses `<number>[ ]<unit>`; `None` on anything else, including overflow.
fn parse_bytes(input: &str) -> Option<u64> {
    let split = input
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(split);
    let multiplier: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    match number.split_once('.') {
        None => {
            if number.is_empty() {
                return None;
            }
            number.parse::<u64>().ok()?.checked_mul(multiplier)
        }
        Some((whole, fraction)) => {
            if whole.is_empty() || fraction.is_empty() || fraction.contains('.') {
                return None;
            }
            let value: f64 = number.parse().ok()?;
            let bytes = value * multiplier as f64;
            (bytes < u64::MAX as f64).then_some(bytes as u64)
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B", self.0)
    }
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B/s", self.0)
    }
}

/// Accepts a YAML integer or a string with a unit.
struct Visit<T>(std::marker::PhantomData<T>);

impl<'de, T> de::Visitor<'de> for Visit<T>
where
    T: FromStr<Err = SizeError> + From<u64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte count or a string such as `64KiB` or `1MiB/s`")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        u64::try_from(v)
            .map(T::from)
            .map_err(|_| E::custom(format!("a byte count cannot be negative, got {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

impl From<u64> for ByteSize {
    fn from(bytes: u64) -> Self {
        ByteSize(bytes)
    }
}

impl From<u64> for ByteRate {
    fn from(bytes: u64) -> Self {
        ByteRate(bytes)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for ByteRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_decimal_units() {
        let size = |s: &str| s.parse::<ByteSize>().map(ByteSize::bytes);
        assert_eq!(size("64KiB"), Ok(65_536));
        assert_eq!(size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size("500KB"), Ok(500_000));
        assert_eq!(size("2 MB"), Ok(2_000_000));
        assert_eq!(size("1.5KiB"), Ok(1536));
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("7B"), Ok(7));
        assert_eq!(size("1kib"), Ok(1024));
    }

    #[test]
    fn rates_take_an_optional_per_second() {
        let rate = |s: &str| s.parse::<ByteRate>().map(ByteRate::bytes_per_second);
        assert_eq!(rate("1MiB/s"), Ok(1 << 20));
        assert_eq!(rate("500KB/s"), Ok(500_000));
        assert_eq!(rate("1 MiB /s"), Ok(1 << 20));
        assert_eq!(rate("1000"), Ok(1000));
    }

    #[test]
    fn rejects_garbage_with_a_clear_message() {
        for bad in [
            "",
            "MiB",
            "1XB",
            "1.MiB",
            ".5KB",
            "1..2KB",
            "-1",
            "1MiB/m",
            "99999999999GiB",
        ] {
            assert!(bad.parse::<ByteRate>().is_err(), "{bad:?} must not parse");
        }
        assert!("1MiB/s".parse::<ByteSize>().is_err());
        let err = "fast".parse::<ByteRate>().unwrap_err().to_string();
        assert!(err.contains("invalid byte rate `fast`"), "{err}");
        assert!(err.contains("MiB"), "{err}");
    }

    #[test]
    fn deserializes_numbers_and_strings() {
        let rate: ByteRate = serde_yaml::from_str("1MiB/s").unwrap();
        assert_eq!(rate, ByteRate(1 << 20));
        let size: ByteSize = serde_yaml::from_str("65536").unwrap();
        assert_eq!(size, ByteSize(65_536));
        let err = serde_yaml::from_str::<ByteSize>("-5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("negative"), "{err}");
        let err = serde_yaml::from_str::<ByteRate>("lots")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid byte rate"), "{err}");
    }
}
