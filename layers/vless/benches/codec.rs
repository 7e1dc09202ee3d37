//! Criterion micro-benchmarks of the VLESS header codecs: `cargo bench -p xypro-vless`.

#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use uuid::Uuid;
use xypro_vless::proto::{Command, Request};

fn requests() -> Vec<(&'static str, Request)> {
    let user = Uuid::from_u128(0x2ad043a0_b930_46f8_bd55_1fcefc93339a);
    vec![
        (
            "ipv4",
            Request::new(user, Command::Tcp("93.184.216.34:443".parse().unwrap())),
        ),
        (
            "domain",
            Request::new(user, Command::Tcp("www.example.com:443".parse().unwrap())),
        ),
        (
            "ipv6",
            Request::new(user, Command::Udp("[2606:4700::1111]:53".parse().unwrap())),
        ),
    ]
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("vless request encode");
    for (name, request) in requests() {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(name), &request, |b, request| {
            let mut buf = Vec::with_capacity(64);
            b.iter(|| {
                buf.clear();
                black_box(request).write_to_buf(&mut buf).unwrap();
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("vless request parse");
    for (name, request) in requests() {
        let mut wire = Vec::new();
        request.write_to_buf(&mut wire).unwrap();
        wire.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            b.iter(|| Request::parse(black_box(wire)).unwrap().unwrap().1)
        });
    }
    group.finish();
}

criterion_group!(benches, encode, parse);
criterion_main!(benches);
