//! Arbitrary first bytes never panic the sniffer or the chooser, and a sniffed path is a
//! slice of the request line.

use proptest::prelude::*;
use xypro_fallback::{FallbackOptions, Request, sniff_path};

proptest! {
    #[test]
    fn sniffing_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Some(path) = sniff_path(&bytes) {
            prop_assert!(path.starts_with('/'));
            prop_assert!(path.len() < 64);
            prop_assert!(!path.contains(['?', ' ', '\r', '\n']));
        }
    }

    #[test]
    fn sniffs_any_request_line(path in "/[a-zA-Z0-9/._-]{0,40}", method in "(GET|POST|HEAD|PUT|DELETE)") {
        let request = format!("{method} {path} HTTP/1.1\r\nHost: example.test\r\n\r\n");
        prop_assert_eq!(sniff_path(request.as_bytes()), Some(path.as_str()));
    }

    #[test]
    fn choosing_is_total(sni in ".{0,20}", alpn in ".{0,8}", first in proptest::collection::vec(any::<u8>(), 0..80)) {
        let options: FallbackOptions = serde_yaml::from_str(
            "[{ outbound: a }, { path: /x, outbound: b }, { sni: ex, alpn: h2, outbound: c }]",
        ).unwrap();
        let fallbacks = options.validate().unwrap();
        let request = Request { sni: Some(&sni), alpn: Some(&alpn), first_bytes: &first };
        prop_assert!(fallbacks.choose(&request).is_some());
    }
}
