//! Criterion micro-benchmark of the WebSocket byte-stream adapter: bytes written through one
//! `WsByteStream` and read back through another, over an in-memory pipe.
//! Run with `cargo bench -p xypro-websocket`.

#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use xypro_websocket::{Role, WsByteStream};

/// Bytes moved per iteration.
const TOTAL: usize = 8 << 20;

async fn transfer(chunk: usize) {
    let (a, b) = duplex(256 * 1024);
    let (mut writer, mut reader) = (
        WsByteStream::new(a, Role::Client),
        WsByteStream::new(b, Role::Server),
    );
    let sending = tokio::spawn(async move {
        let data = vec![0x5a; chunk];
        for _ in 0..TOTAL / chunk {
            writer.write_all(&data).await.unwrap();
        }
        writer.flush().await.unwrap();
        writer
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < TOTAL {
        got += reader.read(&mut buf).await.unwrap();
    }
    drop(sending.await.unwrap());
}

fn throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("websocket byte stream");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.sample_size(20);
    for chunk in [1024, 16 * 1024, 64 * 1024] {
        group.bench_with_input(
            BenchmarkId::new("write chunk", chunk),
            &chunk,
            |b, &chunk| b.iter(|| runtime.block_on(transfer(chunk))),
        );
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
