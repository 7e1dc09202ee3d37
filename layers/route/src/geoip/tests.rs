//! GeoIP lookups on databases written by the test itself.

use super::*;
use crate::{Facts, Resources, RouteOptions, Router};
use mmdb_writer::{Writer, ipnet::IpNet};
use serde::Serialize;
use std::sync::Arc;
use xypro_core::{Address, Network, ResolveError};

#[derive(Serialize)]
struct Country {
    iso_code: &'static str,
}

#[derive(Serialize)]
struct Record {
    country: Country,
    continent: Continent,
}

#[derive(Serialize)]
struct Continent {
    code: &'static str,
}

/// A GeoLite2-style database: 1.0.0.0/8 in AU, 2001:db8::/32 in CN.
fn maxmind() -> Vec<u8> {
    let mut writer = Writer::new("GeoLite2-Country");
    for (net, code) in [("1.0.0.0/8", "AU"), ("2001:db8::/32", "CN")] {
        let record = Record {
            country: Country { iso_code: code },
            continent: Continent { code: "XX" },
        };
        writer
            .insert(net.parse::<IpNet>().unwrap(), &record)
            .unwrap();
    }
    writer.to_bytes().unwrap()
}

/// A sing-geoip database: the data is the bare code, in lower case.
fn sing_geoip() -> Vec<u8> {
    let mut writer = Writer::new("sing-geoip");
    writer
        .insert("1.0.0.0/8".parse::<IpNet>().unwrap(), "au")
        .unwrap();
    writer
        .insert("8.8.8.0/24".parse::<IpNet>().unwrap(), "us")
        .unwrap();
    writer.to_bytes().unwrap()
}

#[test]
fn reads_country_codes_of_both_kinds() {
    let db = GeoIp::from_bytes(maxmind()).unwrap();
    assert_eq!(db.country("1.2.3.4".parse().unwrap()), Some("AU"));
    assert_eq!(db.country("::ffff:1.2.3.4".parse().unwrap()), Some("AU"));
    assert_eq!(db.country("2001:db8::1".parse().unwrap()), Some("CN"));
    assert_eq!(db.country("9.9.9.9".parse().unwrap()), None);
    assert!(db.heap_bytes() > 0);
    let sing = GeoIp::from_bytes(sing_geoip()).unwrap();
    assert_eq!(sing.country("1.2.3.4".parse().unwrap()), Some("au"));
    assert_eq!(sing.country("8.8.8.8".parse().unwrap()), Some("us"));
    assert_eq!(sing.country("8.8.9.8".parse().unwrap()), None);
}

#[test]
fn bad_files_are_named() {
    let err = GeoIp::from_bytes(b"not a database".to_vec()).unwrap_err();
    assert!(matches!(err, GeoIpError::Invalid { .. }), "{err:?}");
    let missing = std::env::temp_dir().join("xypro-route-missing.mmdb");
    let err = GeoIp::open(&missing).unwrap_err();
    assert!(
        err.to_string().contains("xypro-route-missing.mmdb"),
        "{err}"
    );
    let dir = std::env::temp_dir();
    let name = format!("xypro-route-bad-{}.mmdb", std::process::id());
    let file = dir.join(&name);
    std::fs::write(&file, b"\xAB\xCD\xEFMaxMind.com garbage").unwrap();
    let options: GeoIpOptions = serde_yaml::from_str(&format!("{{ path: {name} }}")).unwrap();
    let err = options.load(&dir).unwrap_err();
    std::fs::remove_file(&file).unwrap();
    assert!(
        err.to_string()
            .ends_with(&format!("{} is not a MaxMind DB", file.display())),
        "{err}"
    );
}

#[tokio::test]
async fn geoip_rules_match_countries_and_resolve_lazily() {
    for db in [maxmind(), sing_geoip()] {
        let resources = Resources {
            geoip: Some(Arc::new(GeoIp::from_bytes(db).unwrap())),
            ..Resources::default()
        };
        let options: RouteOptions = serde_yaml::from_str(
            "rules:\n  - { geoip: [au, nz], outbound: oceania }\n  - 'GEOIP,US,us,no-resolve'\nfinal: f",
        )
        .unwrap();
        let router = Router::new(&options, &resources).unwrap();
        let resolve = |host: &str| {
            let ip = match host {
                "au.example" => "1.1.1.1",
                _ => "8.8.8.8",
            };
            async move { Ok::<_, ResolveError>(vec![ip.parse().unwrap()]) }
        };
        let decide = async |dest: &str| {
            let dest: Address = dest.parse().unwrap();
            let decision = router
                .decide(&Facts::new(&dest, Network::Tcp), &resolve)
                .await;
            (decision.outbound.to_owned(), decision.label.kind)
        };
        assert_eq!(decide("1.2.3.4:443").await, ("oceania".into(), "GeoIP"));
        assert_eq!(decide("au.example:443").await, ("oceania".into(), "GeoIP"));
        assert_eq!(decide("9.9.9.9:443").await, ("f".into(), "final"));
    }
    // Only the sing-geoip database lists 8.8.8.8, and the US rule needs an IP destination.
    let resources = Resources {
        geoip: Some(Arc::new(GeoIp::from_bytes(sing_geoip()).unwrap())),
        ..Resources::default()
    };
    let options: RouteOptions =
        serde_yaml::from_str("rules: ['GEOIP,US,us,no-resolve']\nfinal: f").unwrap();
    let router = Router::new(&options, &resources).unwrap();
    let never = |_: &str| async {
        Err::<Vec<std::net::IpAddr>, _>(ResolveError {
            host: String::new(),
            source: None,
        })
    };
    let ip: Address = "8.8.8.8:53".parse().unwrap();
    let name: Address = "dns.google:53".parse().unwrap();
    assert_eq!(
        router
            .decide(&Facts::new(&ip, Network::Udp), &never)
            .await
            .outbound,
        "us"
    );
    assert_eq!(
        router
            .decide(&Facts::new(&name, Network::Udp), &never)
            .await
            .outbound,
        "f"
    );
}
