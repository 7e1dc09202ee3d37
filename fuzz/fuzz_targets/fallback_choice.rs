//! Fallbacks: `xypro_fallback::sniff_path` and the SNI/ALPN/path choice on any first bytes,
//! SNI and ALPN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use xypro_fallback::{FallbackOptions, Fallbacks, Request, sniff_path};

static FALLBACKS: LazyLock<Fallbacks> = LazyLock::new(|| {
    let options: FallbackOptions = serde_yaml::from_str(
        "[{ outbound: site }, { path: /blog, outbound: blog }, { alpn: h2, outbound: h2c }, \
          { sni: example.com, outbound: ex }, { sni: a.example.com, path: /x, outbound: ax }]",
    )
    .unwrap();
    options.validate().unwrap()
});

fuzz_target!(|data: &[u8]| {
    if let Some(path) = sniff_path(data) {
        assert!(path.starts_with('/') && path.len() < 64);
        assert!(!path.contains(['?', ' ', '\r', '\n']));
    }
    let (head, first_bytes) = data.split_at(data.len().min(24));
    let text = String::from_utf8_lossy(head);
    let (sni, alpn) = text.split_once('|').unwrap_or((&text, ""));
    let request = Request {
        sni: Some(sni),
        alpn: Some(alpn),
        first_bytes,
    };
    assert!(FALLBACKS.choose(&request).is_some(), "the default entry covers everything");
});
