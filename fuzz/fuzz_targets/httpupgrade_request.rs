//! HTTPUpgrade server: `xypro_httpupgrade::proto::request::parse_request` on any request head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use xypro_httpupgrade::{
    ServerOptions, ServerSettings,
    proto::{MAX_HEAD, request::parse_request},
};

static SETTINGS: LazyLock<ServerSettings> = LazyLock::new(|| {
    let mut options = ServerOptions::new("/hu");
    options.host = Some("hu.example".into());
    options.settings().unwrap()
});

fuzz_target!(|data: &[u8]| {
    match parse_request(data, &SETTINGS) {
        Ok(Some(len)) => {
            assert!(len <= data.len() && len <= MAX_HEAD);
            assert_eq!(
                parse_request(&data[..len], &SETTINGS).unwrap(),
                Some(len),
                "the head alone parses the same"
            );
            for cut in [0, len / 2, len - 1] {
                assert_eq!(parse_request(&data[..cut], &SETTINGS).unwrap(), None);
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEAD, "waits only below the size cap"),
        Err(_) => {}
    }
});
