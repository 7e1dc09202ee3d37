//! Country lookups in a MaxMind DB: GeoIP2/GeoLite2 country records, or sing-geoip databases
//! whose data is a bare country code.

use crate::GeoIpError;
use maxminddb::Reader;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::{
    fmt,
    net::IpAddr,
    path::{Path, PathBuf},
};

/// The `geoip` entry of the config: `{ path: Country.mmdb }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpOptions {
    /// The `.mmdb` file, relative to the config's folder unless absolute.
    pub path: PathBuf,
}

impl GeoIpOptions {
    /// Reads the database, resolving a relative path against `base_dir`.
    pub fn load(&self, base_dir: &Path) -> Result<GeoIp, GeoIpError> {
        GeoIp::open(&base_dir.join(&self.path))
    }
}

/// A GeoIP database, read whole into memory.
#[derive(Debug)]
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
    size: usize,
}

impl GeoIp {
    /// Reads a `.mmdb` file.
    pub fn open(path: &Path) -> Result<Self, GeoIpError> {
        let bytes = std::fs::read(path).map_err(|source| GeoIpError::Read {
            file: path.to_owned(),
            source,
        })?;
        Self::from_bytes(bytes).map_err(|e| match e {
            GeoIpError::Invalid { source, .. } => GeoIpError::Invalid {
                file: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Reads a database from its bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoIpError> {
        let size = bytes.len();
        Reader::from_source(bytes)
            .map(|reader| GeoIp { reader, size })
            .map_err(|source| GeoIpError::Invalid {
                file: Default::default(),
                source,
            })
    }

    /// The ISO country code of an address (`country.iso_code`, or the bare string of a
    /// sing-geoip database), in the database's case; `None` when the address is not listed.
    pub fn country(&self, ip: IpAddr) -> Option<&str> {
        let found = self.reader.lookup(ip.to_canonical()).ok()?;
        found.decode::<CountryCode<'_>>().ok().flatten()?.0
    }

    /// Whether the address's country is one of `codes` (lower case).
    pub(crate) fn is_in(&self, ip: IpAddr, codes: &[String]) -> bool {
        self.country(ip)
            .is_some_and(|found| codes.iter().any(|c| c.eq_ignore_ascii_case(found)))
    }

    /// Heap bytes of the database.
    pub fn heap_bytes(&self) -> usize {
        self.size
    }
}

/// A record's country code: a bare string, or a map's `country.iso_code`.
struct CountryCode<'a>(Option<&'a str>);

impl<'de> de::Deserialize<'de> for CountryCode<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = CountryCode<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a country code or a map with country.iso_code")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(CountryCode(Some(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut code = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "country" => code = map.next_value::<IsoCode<'de>>()?.0,
                "iso_code" => code = Some(map.next_value::<&'de str>()?),
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(CountryCode(code))
    }
}

/// The `iso_code` of a `country` map.
struct IsoCode<'a>(Option<&'a str>);

impl<'de> de::Deserialize<'de> for IsoCode<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(RecordVisitor)
            .map(|code| IsoCode(code.0))
    }
}

#[cfg(test)]
mod tests;
