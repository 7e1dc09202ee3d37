//! Property tests: framed datagrams (`len(2, BE) | data`) read back unchanged and in order,
//! however the stream is cut into reads.

use proptest::prelude::*;
use std::io;
use xypro_core::{DatagramReader, MAX_DATAGRAM, encode_datagram};

fn datagrams() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let small = prop::collection::vec(any::<u8>(), 0..300);
    let large = prop::collection::vec(any::<u8>(), MAX_DATAGRAM - 8..=MAX_DATAGRAM);
    prop::collection::vec(prop_oneof![8 => small, 1 => large], 0..6)
}

/// A mock stream that returns `wire` in reads of the given sizes (cycled), then ends.
fn chunked(wire: &[u8], sizes: &[usize]) -> tokio_test::io::Mock {
    let mut builder = tokio_test::io::Builder::new();
    let mut rest = wire;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*size).min(rest.len()));
        builder.read(now);
        rest = later;
    }
    builder.build()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn datagrams_read_back_whatever_the_reads(
        datagrams in datagrams(),
        sizes in prop::collection::vec(1usize..5000, 1..6),
    ) {
        let mut wire = Vec::new();
        for datagram in &datagrams {
            encode_datagram(&mut wire, datagram).unwrap();
        }
        prop_assert_eq!(wire.len(), datagrams.iter().map(|d| 2 + d.len()).sum::<usize>());
        let mut io = chunked(&wire, &sizes);
        let read = runtime().block_on(async {
            let mut reader = DatagramReader::new();
            let mut read = Vec::new();
            while let Some(datagram) = reader.next(&mut io).await? {
                read.push(datagram.to_vec());
            }
            io::Result::Ok(read)
        })?;
        prop_assert_eq!(read, datagrams);
    }

    #[test]
    fn a_stream_cut_inside_a_frame_is_an_error(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        for datagram in &datagrams {
            encode_datagram(&mut wire, datagram).unwrap();
        }
        let last = wire.len() - 2 - datagrams.last().unwrap().len();
        let cut = last + 1 + cut.index(wire.len() - last - 1);
        let mut io = chunked(&wire[..cut], &[7]);
        let result = runtime().block_on(async {
            let mut reader = DatagramReader::new();
            let mut whole = 0;
            loop {
                match reader.next(&mut io).await {
                    Ok(Some(_)) => whole += 1,
                    Ok(None) => return Ok(whole),
                    Err(e) => return Err((whole, e.kind())),
                }
            }
        });
        prop_assert_eq!(result, Err((datagrams.len() - 1, io::ErrorKind::UnexpectedEof)));
    }
}
