//! VLESS user ids: a UUID, or a short string mapped to a UUIDv5 as Xray and sing-box do.

use uuid::Uuid;

/// The longest string that maps to a UUIDv5 instead of being parsed as a UUID.
pub const MAX_NAME_ID: usize = 30;

/// Why a string is not a usable VLESS user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserIdError {
    /// The id is empty.
    #[error("empty user id")]
    Empty,
    /// The id is longer than 30 bytes and is not a UUID.
    #[error("not a UUID, and longer than 30 bytes so not a mappable string either")]
    NotUuid,
}

/// Parses a user id: a UUID (32 hex digits, hyphens optional), or any string of 1-30 bytes,
/// mapped to the UUIDv5 of that string in the all-zero namespace.
pub fn parse_user_id(id: &str) -> Result<Uuid, UserIdError> {
    match id.len() {
        0 => Err(UserIdError::Empty),
        1..=MAX_NAME_ID => Ok(Uuid::new_v5(&Uuid::nil(), id.as_bytes())),
        32 | 36 => Uuid::try_parse(id).map_err(|_| UserIdError::NotUuid),
        _ => Err(UserIdError::NotUuid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_parse_with_or_without_hyphens() {
        let expected = Uuid::from_u128(0x2ad043a0_b930_46f8_bd55_1fcefc93339a);
        assert_eq!(
            parse_user_id("2ad043a0-b930-46f8-bd55-1fcefc93339a").unwrap(),
            expected
        );
        assert_eq!(
            parse_user_id("2AD043A0B93046F8BD551FCEFC93339A").unwrap(),
            expected
        );
    }

    #[test]
    fn short_strings_map_to_uuidv5_in_the_nil_namespace() {
        // SHA-1 over 16 zero bytes followed by the name, version 5, RFC 4122 variant
        // (computed independently with Python's uuid.uuid5(UUID(int=0), name)).
        assert_eq!(
            parse_user_id("example").unwrap().to_string(),
            "feb54431-301b-52bb-a6dd-e1e93e81bb9e"
        );
        assert_eq!(
            parse_user_id(&"a".repeat(30)).unwrap().to_string(),
            "d20a3bd4-9d58-52e0-8caa-820ca42d1ad0"
        );
    }

    #[test]
    fn refuses_empty_long_and_malformed_ids() {
        assert_eq!(parse_user_id(""), Err(UserIdError::Empty));
        assert_eq!(parse_user_id(&"a".repeat(31)), Err(UserIdError::NotUuid));
        assert_eq!(
            parse_user_id("zad043a0-b930-46f8-bd55-1fcefc93339a"),
            Err(UserIdError::NotUuid)
        );
        assert_eq!(
            parse_user_id("{2ad043a0-b930-46f8-bd55-1fcefc93339a}"),
            Err(UserIdError::NotUuid)
        );
    }
}
