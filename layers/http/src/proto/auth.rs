//! `Proxy-Authorization: Basic base64(user:pass)` (RFC 7617).

use base64::{
    Engine,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose},
};

/// Standard base64 that accepts the credentials with or without padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The user and password of a `Basic` credentials value; `None` for another scheme or a value
/// that does not decode to `user:pass`.
pub fn basic_credentials(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = value.trim_ascii();
    let (scheme, token) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = LENIENT.decode(token.trim_ascii()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let (user, pass) = decoded.split_at(colon);
    Some((user.to_vec(), pass[1..].to_vec()))
}

/// Encodes `user:pass` as a `Basic` credentials value (for clients and tests).
pub fn basic_value(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_curl_sends_and_refuses_the_rest() {
        // curl --proxy-user alice:s3cret
        let (user, pass) = basic_credentials(b"Basic YWxpY2U6czNjcmV0").unwrap();
        assert_eq!(
            (user.as_slice(), pass.as_slice()),
            (&b"alice"[..], &b"s3cret"[..])
        );
        let colon = basic_credentials(basic_value("bob", "a:b").as_bytes()).unwrap();
        assert_eq!(colon.1, b"a:b", "the password may hold colons");
        let unpadded = basic_credentials(b"basic  YTpiYw").unwrap();
        assert_eq!(unpadded, (b"a".to_vec(), b"bc".to_vec()));
        for bad in [
            &b"Bearer YWxpY2U6czNjcmV0"[..],
            b"Basic",
            b"Basic !!!",
            b"Basic YWxpY2U=",
        ] {
            assert_eq!(basic_credentials(bad), None, "{bad:?}");
        }
    }
}
