//! The UDP relay header: `RSV(2) | FRAG | ATYP | DST.ADDR | DST.PORT | DATA`.

use super::{ProtoError, parse_address, write_address};
use xypro_core::Address;

/// A parsed UDP request header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpHeader {
    /// Fragment number; this server drops anything but 0.
    pub frag: u8,
    /// The datagram's destination (or, on replies, its source).
    pub address: Address,
}

impl UdpHeader {
    /// Parses the header of a whole datagram, returning it and where the data starts.
    ///
    /// A datagram is never partial, so a short one is an error rather than "incomplete".
    pub fn parse(datagram: &[u8]) -> Result<(UdpHeader, usize), ProtoError> {
        let head = datagram.get(..3).ok_or(ProtoError::Reserved)?;
        if head[..2] != [0, 0] {
            return Err(ProtoError::Reserved);
        }
        let (address, used) = parse_address(&datagram[3..])?.ok_or(ProtoError::Domain)?;
        Ok((
            UdpHeader {
                frag: head[2],
                address,
            },
            3 + used,
        ))
    }

    /// Appends an unfragmented header for `address`.
    pub fn write(buf: &mut Vec<u8>, address: &Address) {
        buf.extend_from_slice(&[0, 0, 0]);
        write_address(buf, address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_short_datagrams() {
        let address: Address = "10.0.0.1:53".parse().unwrap();
        let mut wire = Vec::new();
        UdpHeader::write(&mut wire, &address);
        wire.extend_from_slice(b"query");
        let (header, at) = UdpHeader::parse(&wire).unwrap();
        assert_eq!(
            (header.frag, &header.address, &wire[at..]),
            (0, &address, &b"query"[..])
        );
        assert!(UdpHeader::parse(&wire[..6]).is_err());
        assert!(UdpHeader::parse(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]).is_err());
    }
}
