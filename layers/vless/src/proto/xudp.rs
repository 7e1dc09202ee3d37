//! Mux.Cool frames as XUDP uses them (VLESS command 3): UDP datagrams with per-packet addresses.
//!
//! `meta_len(2) | session(2) | status(1) | option(1) | [network(1) | port(2) | atyp | addr |
//! global_id(8)] | [data_len(2) | data]`. A `New` frame names the network and destination (and,
//! for UDP with data, an 8-byte global id); a `Keep` frame may name a UDP address (the
//! destination upstream, the source downstream); `End` and `KeepAlive` carry nothing else.
//! Option bit `0x01` means a length-prefixed payload follows the metadata, `0x02` an error.

use super::{ProtoError, address_len, parse_address, write_address};
use xypro_core::{Address, Network};

/// The longest metadata Xray accepts.
pub const MAX_META: usize = 512;

const OPTION_DATA: u8 = 0x01;
const OPTION_ERROR: u8 = 0x02;
const NETWORK_TCP: u8 = 1;
const NETWORK_UDP: u8 = 2;

/// What a frame does to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Opens a session to a destination.
    New,
    /// Carries data for an open session.
    Keep,
    /// Closes a session.
    End,
    /// Keeps the connection alive; any data is discarded.
    KeepAlive,
}

impl Status {
    fn byte(self) -> u8 {
        match self {
            Status::New => 1,
            Status::Keep => 2,
            Status::End => 3,
            Status::KeepAlive => 4,
        }
    }
}

/// One Mux.Cool / XUDP frame, borrowing its payload from the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The session id (XUDP clients use 0).
    pub session: u16,
    /// What the frame does.
    pub status: Status,
    /// The network and address: the destination on `New`, a per-packet address on UDP `Keep`.
    pub target: Option<(Network, Address)>,
    /// The XUDP global id of a `New` UDP frame, used by Xray to resume full-cone mappings.
    pub global_id: Option<[u8; 8]>,
    /// Whether the error option bit is set (on `End`).
    pub error: bool,
    /// The payload, if the data option bit is set.
    pub data: Option<&'a [u8]>,
}

impl<'a> Frame<'a> {
    /// A `Keep` frame carrying one UDP datagram from `source`, as a server sends downstream.
    pub fn udp_keep(session: u16, source: Address, data: &'a [u8]) -> Self {
        Frame {
            session,
            status: Status::Keep,
            target: Some((Network::Udp, source)),
            global_id: None,
            error: false,
            data: Some(data),
        }
    }

    /// An `End` frame for `session`.
    pub fn end(session: u16, error: bool) -> Self {
        Frame {
            session,
            status: Status::End,
            target: None,
            global_id: None,
            error,
            data: None,
        }
    }

    fn meta_len(&self) -> usize {
        let target = match (&self.status, &self.target) {
            (Status::New | Status::Keep, Some((_, address))) => 1 + address_len(address),
            _ => 0,
        };
        let global_id = match (&self.status, &self.global_id) {
            (Status::New, Some(_)) => 8,
            _ => 0,
        };
        4 + target + global_id
    }

    /// How many bytes [`Frame::write_to_buf`] appends.
    pub fn serialized_len(&self) -> usize {
        2 + self.meta_len() + self.data.map_or(0, |data| 2 + data.len())
    }

    /// Appends the frame; fails on a payload over 65535 bytes, a `New` frame without a target,
    /// or an unencodable address.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) -> Result<(), ProtoError> {
        let data_len = match self.data {
            Some(data) => Some(u16::try_from(data.len()).map_err(|_| ProtoError::FrameTooLong)?),
            None => None,
        };
        if self.status == Status::New && self.target.is_none() {
            return Err(ProtoError::FrameMeta);
        }
        let start = buf.len();
        let meta_len = u16::try_from(self.meta_len()).map_err(|_| ProtoError::FrameMeta)?;
        buf.reserve(self.serialized_len());
        buf.extend_from_slice(&meta_len.to_be_bytes());
        buf.extend_from_slice(&self.session.to_be_bytes());
        buf.push(self.status.byte());
        let mut option = 0;
        if data_len.is_some() {
            option |= OPTION_DATA;
        }
        if self.error {
            option |= OPTION_ERROR;
        }
        buf.push(option);
        if let (Status::New | Status::Keep, Some((network, address))) = (self.status, &self.target)
        {
            buf.push(match network {
                Network::Tcp => NETWORK_TCP,
                Network::Udp => NETWORK_UDP,
                _ => {
                    buf.truncate(start);
                    return Err(ProtoError::Network);
                }
            });
            if let Err(e) = write_address(address, buf) {
                buf.truncate(start);
                return Err(e);
            }
            if let (Status::New, Some(id)) = (self.status, &self.global_id) {
                buf.extend_from_slice(id);
            }
        }
        if let (Some(len), Some(data)) = (data_len, self.data) {
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(data);
        }
        Ok(())
    }

    /// Parses a frame from the start of `buf`; `Ok(None)` means more bytes are needed.
    pub fn parse(buf: &'a [u8]) -> Result<Option<(Frame<'a>, usize)>, ProtoError> {
        let Some(len) = buf.get(..2) else {
            return Ok(None);
        };
        let meta_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if !(4..=MAX_META).contains(&meta_len) {
            return Err(ProtoError::FrameMeta);
        }
        let Some(meta) = buf.get(2..2 + meta_len) else {
            return Ok(None);
        };
        let session = u16::from_be_bytes([meta[0], meta[1]]);
        let status = match meta[2] {
            1 => Status::New,
            2 => Status::Keep,
            3 => Status::End,
            4 => Status::KeepAlive,
            other => return Err(ProtoError::FrameStatus(other)),
        };
        let option = meta[3];
        let has_data = option & OPTION_DATA != 0;
        let rest = &meta[4..];
        let names_target = match status {
            Status::New => true,
            Status::Keep => rest.first() == Some(&NETWORK_UDP),
            Status::End | Status::KeepAlive => false,
        };
        let mut target = None;
        let mut global_id = None;
        if names_target {
            let network = match rest.first() {
                Some(&NETWORK_TCP) => Network::Tcp,
                Some(&NETWORK_UDP) => Network::Udp,
                Some(&other) => return Err(ProtoError::FrameNetwork(other)),
                None => return Err(ProtoError::FrameMeta),
            };
            let (address, used) = parse_address(&rest[1..])?.ok_or(ProtoError::FrameMeta)?;
            let after = &rest[1 + used..];
            if status == Status::New && network == Network::Udp && has_data {
                global_id = after.get(..8).and_then(|id| id.try_into().ok());
            }
            target = Some((network, address));
        }
        let mut used = 2 + meta_len;
        let data = match has_data {
            false => None,
            true => {
                let Some(len) = buf.get(used..used + 2) else {
                    return Ok(None);
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let Some(data) = buf.get(used + 2..used + 2 + len) else {
                    return Ok(None);
                };
                used += 2 + len;
                Some(data)
            }
        };
        let frame = Frame {
            session,
            status,
            target,
            global_id,
            error: option & OPTION_ERROR != 0,
            data,
        };
        Ok(Some((frame, used)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_parses_only_whole(wire: &[u8], expected: &Frame<'_>) {
        for cut in 0..wire.len() {
            assert_eq!(Frame::parse(&wire[..cut]).unwrap(), None, "cut at {cut}");
        }
        let mut with_more = wire.to_vec();
        with_more.extend_from_slice(&[0, 4]);
        assert_eq!(
            Frame::parse(&with_more).unwrap(),
            Some((expected.clone(), wire.len()))
        );
    }

    #[test]
    fn parses_an_xray_new_frame_with_global_id() {
        // As Xray's XUDP PacketWriter builds it: session 0, New, data, UDP, 8.8.8.8:53, global id.
        let wire = [
            0, 20, 0, 0, 1, 1, 2, 0, 53, 1, 8, 8, 8, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, b'a', b'b',
            b'c',
        ];
        let expected = Frame {
            session: 0,
            status: Status::New,
            target: Some((Network::Udp, "8.8.8.8:53".parse().unwrap())),
            global_id: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            error: false,
            data: Some(b"abc"),
        };
        assert_parses_only_whole(&wire, &expected);
        let mut again = Vec::new();
        expected.write_to_buf(&mut again).unwrap();
        assert_eq!(again, wire);
        assert_eq!(expected.serialized_len(), wire.len());
    }

    #[test]
    fn keep_frames_with_and_without_an_address() {
        let wire = [
            0, 12, 0, 0, 2, 1, 2, 1, 187, 2, 3, b'a', b'.', b'b', 0, 1, b'x',
        ];
        let keep = Frame::udp_keep(0, Address::Domain("a.b".into(), 443), b"x");
        // The domain is 3 bytes: meta = 4 + network + port(2) + atyp + len + 3 = 12.
        assert_parses_only_whole(&wire[..], &keep);
        let mut again = Vec::new();
        keep.write_to_buf(&mut again).unwrap();
        assert_eq!(again, wire);

        let bare = [0, 4, 0, 7, 2, 1, 0, 2, b'h', b'i'];
        let expected = Frame {
            session: 7,
            status: Status::Keep,
            target: None,
            global_id: None,
            error: false,
            data: Some(b"hi"),
        };
        assert_parses_only_whole(&bare, &expected);
    }

    #[test]
    fn end_keepalive_and_padding() {
        let mut wire = Vec::new();
        Frame::end(5, true).write_to_buf(&mut wire).unwrap();
        assert_eq!(wire, [0, 4, 0, 5, 3, 2]);
        assert_parses_only_whole(&wire, &Frame::end(5, true));
        // Padding after the fixed fields of a keepalive is tolerated.
        let (frame, used) = Frame::parse(&[0, 6, 0, 0, 4, 0, 0, 0]).unwrap().unwrap();
        assert_eq!(
            (frame.status, frame.data, used),
            (Status::KeepAlive, None, 8)
        );
    }

    #[test]
    fn a_new_tcp_frame_has_no_global_id() {
        let wire = [0, 12, 0, 1, 1, 0, 1, 0, 80, 1, 10, 0, 0, 1, 9, 9];
        let (frame, used) = Frame::parse(&wire).unwrap().unwrap();
        assert_eq!(
            frame.target,
            Some((Network::Tcp, "10.0.0.1:80".parse().unwrap()))
        );
        assert_eq!((frame.global_id, frame.data, used), (None, None, 14));
    }

    #[test]
    fn refuses_malformed_metadata() {
        assert_eq!(Frame::parse(&[0, 3]), Err(ProtoError::FrameMeta));
        assert_eq!(Frame::parse(&[2, 1]), Err(ProtoError::FrameMeta));
        assert_eq!(
            Frame::parse(&[0, 4, 0, 0, 9, 0]),
            Err(ProtoError::FrameStatus(9))
        );
        assert_eq!(
            Frame::parse(&[0, 4, 0, 0, 1, 0]),
            Err(ProtoError::FrameMeta),
            "New without a target"
        );
        assert_eq!(
            Frame::parse(&[0, 9, 0, 0, 1, 0, 3, 0, 53, 1, 1]),
            Err(ProtoError::FrameNetwork(3))
        );
        assert_eq!(
            Frame::parse(&[0, 7, 0, 0, 1, 0, 2, 0, 53]),
            Err(ProtoError::FrameMeta),
            "address cut by meta_len"
        );
        let big = vec![0; 65536];
        let frame = Frame::udp_keep(0, "1.1.1.1:53".parse().unwrap(), &big);
        assert_eq!(
            frame.write_to_buf(&mut Vec::new()),
            Err(ProtoError::FrameTooLong)
        );
    }
}
