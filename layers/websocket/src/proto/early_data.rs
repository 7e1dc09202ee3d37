//! Early data in `Sec-WebSocket-Protocol`: base64url without padding out, either alphabet in.

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use bytes::Bytes;

/// Encodes like Xray and sing-box (url-safe, no padding); decodes with or without padding,
/// tolerating non-zero trailing bits as Go's decoder does.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The header value that carries `data` as early data.
pub fn encode(data: &[u8]) -> String {
    ENGINE.encode(data)
}

/// Decodes a `Sec-WebSocket-Protocol` value as early data, accepting both the url-safe
/// (`-_`) and the standard (`+/`) alphabet; `None` when it is not base64 or decodes to nothing
/// (then it is an ordinary subprotocol offer, which this server neither takes nor echoes).
pub fn decode(value: &[u8]) -> Option<Bytes> {
    let normalized: Vec<u8> = value
        .iter()
        .map(|&b| match b {
            b'+' => b'-',
            b'/' => b'_',
            other => other,
        })
        .collect();
    let data = ENGINE.decode(normalized).ok()?;
    (!data.is_empty()).then(|| Bytes::from(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_both_alphabets() {
        let data: Vec<u8> = (0..=255).collect();
        let url = encode(&data);
        assert!(!url.contains(['+', '/', '=']));
        assert_eq!(decode(url.as_bytes()).unwrap(), &data[..]);
        let standard = base64::engine::general_purpose::STANDARD.encode(&data);
        assert!(standard.contains('+') && standard.contains('/') && standard.ends_with('='));
        assert_eq!(decode(standard.as_bytes()).unwrap(), &data[..]);
        let unpadded = standard.trim_end_matches('=');
        assert_eq!(decode(unpadded.as_bytes()).unwrap(), &data[..]);
    }

    #[test]
    fn non_base64_is_not_early_data() {
        assert_eq!(decode(b"chat, superchat"), None);
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"a"), None);
        assert_eq!(decode("é".as_bytes()), None);
    }
}
