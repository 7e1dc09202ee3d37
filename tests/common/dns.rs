//! A tiny DNS server on 127.0.0.1:0 for tests: fixed A/AAAA answers, NXDOMAIN otherwise, and
//! a count of the queries it got.

use hickory_resolver::proto::{
    op::{Message, OpCode, ResponseCode},
    rr::{RData, Record, RecordType, rdata},
};
use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};
use tokio::net::UdpSocket;

/// A running test DNS server.
pub struct DnsServer {
    /// Where it answers (UDP).
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

impl DnsServer {
    /// Queries answered so far, for any name.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

/// Serves `records` (name without the trailing dot, address) until the test ends.
pub async fn dns_server(records: &[(&str, IpAddr)]) -> DnsServer {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let records: Vec<(String, IpAddr)> = records
        .iter()
        .map(|(name, ip)| (name.to_ascii_lowercase(), *ip))
        .collect();
    let queries = Arc::new(AtomicUsize::new(0));
    let counted = queries.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut answer = Message::response(query.metadata.id, OpCode::Query);
            let mut found = false;
            for question in &query.queries {
                answer.add_query(question.clone());
                let name = question
                    .name()
                    .to_string()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                for (_, ip) in records.iter().filter(|(known, _)| *known == name) {
                    found = true;
                    let data = match (ip, question.query_type()) {
                        (IpAddr::V4(v4), RecordType::A) => RData::A(rdata::A(*v4)),
                        (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(rdata::AAAA(*v6)),
                        _ => continue,
                    };
                    answer.add_answer(Record::from_rdata(question.name().clone(), 60, data));
                }
            }
            if !found {
                answer.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Ok(bytes) = answer.to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    });
    DnsServer { addr, queries }
}
