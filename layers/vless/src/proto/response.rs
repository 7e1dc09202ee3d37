//! The VLESS response header, `ver | addons_len | addons`, sent before the first downstream byte.

use super::{ProtoError, VERSION};

/// The response every server sends: version 0, no addons.
pub const RESPONSE_OK: [u8; 2] = [VERSION, 0];

/// A VLESS response header (server to client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The raw addons; clients ignore them.
    pub addons: Vec<u8>,
}

impl Response {
    /// How many bytes [`Response::write_to_buf`] appends.
    pub fn serialized_len(&self) -> usize {
        2 + self.addons.len()
    }

    /// Appends the header to `buf`; fails on addons over 255 bytes.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) -> Result<(), ProtoError> {
        let len = u8::try_from(self.addons.len()).map_err(|_| ProtoError::AddonsTooLong)?;
        buf.push(VERSION);
        buf.push(len);
        buf.extend_from_slice(&self.addons);
        Ok(())
    }

    /// Parses a header from the start of `buf`; `Ok(None)` means more bytes are needed.
    pub fn parse(buf: &[u8]) -> Result<Option<(Response, usize)>, ProtoError> {
        let Some(&version) = buf.first() else {
            return Ok(None);
        };
        if version != VERSION {
            return Err(ProtoError::Version(version));
        }
        let Some(&len) = buf.get(1) else {
            return Ok(None);
        };
        let end = 2 + usize::from(len);
        let Some(addons) = buf.get(2..end) else {
            return Ok(None);
        };
        let response = Response {
            addons: addons.to_vec(),
        };
        Ok(Some((response, end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_response_is_two_zero_bytes() {
        let mut buf = Vec::new();
        Response::default().write_to_buf(&mut buf).unwrap();
        assert_eq!(buf, RESPONSE_OK);
        assert_eq!(
            Response::parse(&[0, 0, b'x']).unwrap(),
            Some((Response::default(), 2))
        );
    }

    #[test]
    fn addons_are_skipped_whatever_the_split() {
        let wire = [0, 3, 1, 2, 3, b'p'];
        for cut in 0..5 {
            assert_eq!(Response::parse(&wire[..cut]).unwrap(), None);
        }
        let (response, used) = Response::parse(&wire).unwrap().unwrap();
        assert_eq!((response.addons.as_slice(), used), (&[1, 2, 3][..], 5));
        assert_eq!(Response::parse(&[5, 0]), Err(ProtoError::Version(5)));
    }
}
