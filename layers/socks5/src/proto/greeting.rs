//! The method-selection greeting: `VER | NMETHODS | METHODS`.

use super::ProtoError;

/// An authentication method a client may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `0x00`: no authentication.
    NoAuth,
    /// `0x02`: username and password (RFC 1929).
    UserPass,
}

impl Method {
    /// The method's wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Method::NoAuth => 0x00,
            Method::UserPass => 0x02,
        }
    }
}

/// The byte a server sends when it accepts none of the offered methods.
pub const NO_ACCEPTABLE_METHOD: u8 = 0xff;

/// A client's greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// The method bytes the client offers, as sent.
    pub methods: Vec<u8>,
}

impl Greeting {
    /// Parses a greeting; `Ok(None)` if more bytes are needed.
    pub fn parse(src: &[u8]) -> Result<Option<(Greeting, usize)>, ProtoError> {
        let Some(&version) = src.first() else {
            return Ok(None);
        };
        if version != 5 {
            return Err(ProtoError::Version(version));
        }
        let Some(&count) = src.get(1) else {
            return Ok(None);
        };
        if count == 0 {
            return Err(ProtoError::NoMethods);
        }
        let end = 2 + count as usize;
        Ok(src.get(2..end).map(|methods| {
            (
                Greeting {
                    methods: methods.to_vec(),
                },
                end,
            )
        }))
    }

    /// Whether the client offers `method`.
    pub fn offers(&self, method: Method) -> bool {
        self.methods.contains(&method.byte())
    }

    /// Appends this greeting's wire form.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&[5, self.methods.len() as u8]);
        buf.extend_from_slice(&self.methods);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_partial_greetings() {
        assert_eq!(Greeting::parse(&[5]), Ok(None));
        assert_eq!(Greeting::parse(&[5, 2, 0]), Ok(None));
        let (greeting, used) = Greeting::parse(&[5, 2, 0, 2, 99]).unwrap().unwrap();
        assert_eq!(used, 4);
        assert!(greeting.offers(Method::NoAuth) && greeting.offers(Method::UserPass));
    }

    #[test]
    fn rejects_wrong_version_and_empty_method_list() {
        assert_eq!(Greeting::parse(&[4, 1, 0]), Err(ProtoError::Version(4)));
        assert_eq!(Greeting::parse(&[5, 0]), Err(ProtoError::NoMethods));
    }
}
