//! The Bearer secret: compared in constant time, from the header or, on WebSocket upgrades,
//! from `?token=` (browsers cannot set WebSocket headers).

use hyper::{Request, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The secret as a digest, so a comparison takes the same time whatever the token's length.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// The secret `text`.
    pub(crate) fn new(text: &str) -> Self {
        Secret(Sha256::digest(text.as_bytes()).into())
    }

    /// Whether `token` is the secret, in constant time.
    fn matches(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        bool::from(digest.ct_eq(&self.0))
    }
}

/// Whether `request` may pass: no secret is set, or it carries the secret as a Bearer token
/// (or as `?token=` when it is a WebSocket upgrade).
pub(crate) fn allowed<B>(secret: Option<&Secret>, request: &Request<B>, upgrade: bool) -> bool {
    let Some(secret) = secret else {
        return true;
    };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if bearer.is_some_and(|token| secret.matches(token)) {
        return true;
    }
    upgrade
        && super::router::query(request.uri(), "token").is_some_and(|token| secret.matches(&token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, authorization: Option<&str>) -> Request<()> {
        let mut builder = Request::get(uri);
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_secret_passes_as_a_bearer_token_or_as_a_token_on_upgrades_only() {
        let secret = Secret::new("s3cret");
        let check = |uri, authorization, upgrade| {
            allowed(Some(&secret), &request(uri, authorization), upgrade)
        };
        assert!(check("/version", Some("Bearer s3cret"), false));
        assert!(!check("/version", Some("Bearer s3cre"), false));
        assert!(!check("/version", Some("s3cret"), false));
        assert!(!check("/version", None, false));
        assert!(check("/traffic?token=s3cret", None, true));
        assert!(!check("/traffic?token=s3cret", None, false));
        assert!(!check("/traffic?token=wrong", None, true));
        assert!(allowed(None, &request("/version", None), false));
    }
}
