//! Basic authentication against the configured users, in constant time per user.

use crate::{
    HttpSettings,
    proto::{RequestHead, basic_credentials},
};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Why a request was not authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No usable `Proxy-Authorization: Basic` header.
    Missing,
    /// Credentials that match no user; the name is escaped and shortened for logs.
    Wrong(String),
}

/// The user a request authenticates as: `Ok(None)` when the inbound has no users.
pub(crate) fn authorize(
    settings: &HttpSettings,
    head: &RequestHead,
) -> Result<Option<Arc<str>>, Refusal> {
    if settings.users.is_empty() {
        return Ok(None);
    }
    let (user, pass) = head
        .header("proxy-authorization")
        .and_then(basic_credentials)
        .ok_or(Refusal::Missing)?;
    let mut matched = None;
    for (name, password) in &settings.users {
        let ok = name.as_bytes().ct_eq(&user) & password.as_bytes().ct_eq(&pass);
        if bool::from(ok) {
            matched = Some(name.as_str());
        }
    }
    matched
        .map(|name| Some(Arc::from(name)))
        .ok_or_else(|| Refusal::Wrong(for_log(&user)))
}

/// A client-chosen name made safe for a log line: escaped, at most 32 characters.
fn for_log(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let short: String = text.chars().take(32).collect();
    let mut escaped = format!("{short:?}");
    if text.chars().count() > 32 {
        escaped.push('…');
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Header, Version, basic_value};

    fn head(authorization: Option<&str>) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            target: "http://a/".into(),
            version: Version::Http11,
            headers: authorization
                .map(|value| Header::new("Proxy-Authorization", value))
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn matches_a_user_or_says_why_not() {
        let settings = HttpSettings {
            users: vec![
                ("alice".into(), "s3cret".into()),
                ("bob".into(), "pw".into()),
            ],
            ..HttpSettings::default()
        };
        let good = head(Some(&basic_value("bob", "pw")));
        assert_eq!(authorize(&settings, &good), Ok(Some(Arc::from("bob"))));
        assert_eq!(authorize(&settings, &head(None)), Err(Refusal::Missing));
        let wrong = head(Some(&basic_value("alice", "pw")));
        assert_eq!(
            authorize(&settings, &wrong),
            Err(Refusal::Wrong("\"alice\"".into()))
        );
        assert_eq!(authorize(&HttpSettings::default(), &head(None)), Ok(None));
    }

    #[test]
    fn names_in_logs_are_escaped_and_short() {
        assert_eq!(for_log(b"eve\nINFO fake"), "\"eve\\nINFO fake\"");
        assert_eq!(for_log(&[b'x'; 100]).chars().count(), 32 + 2 + 1);
    }
}
