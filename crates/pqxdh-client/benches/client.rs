//! The durable client's costs per message: encrypt and commit to the store (one fsync'd
//! transaction), and a whole send-deliver-receive-acknowledge through an in-process server on
//! 127.0.0.1, both with the store's durability on (WAL, synchronous = FULL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use pqxdh_client::{AccountOptions, Client, Content, StoreProtection};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob, _server_dir) = rt.block_on(async {
        let (base, server_dir) = support::server().await;
        let mut clients = Vec::new();
        for name in ["alice", "bob"] {
            clients.push(
                Client::create(
                    &dir.path().join(format!("{name}.db")),
                    StoreProtection::Unprotected,
                    &AccountOptions::new(name, &base),
                )
                .await
                .unwrap(),
            );
        }
        let bob = clients.pop().unwrap();
        let alice = clients.pop().unwrap();
        alice.send_text("bob", "hello").await.unwrap();
        bob.receive(Duration::ZERO).await.unwrap();
        bob.send_text("alice", "hi").await.unwrap();
        alice.receive(Duration::ZERO).await.unwrap();
        (alice, bob, server_dir)
    });
    let text = Content::Text {
        text: "x".repeat(64),
    };
    let mut group = c.benchmark_group("client");
    group.sample_size(30);
    group.bench_function("queue_64B (encrypt + commit)", |b| {
        b.iter(|| rt.block_on(alice.queue("bob", &text)).unwrap())
    });
    // Deliver what the first benchmark queued, so the round trip starts from an empty outbox.
    rt.block_on(async {
        alice.deliver().await.unwrap();
        while !bob.receive(Duration::ZERO).await.unwrap().is_empty() {}
    });
    group.bench_function("round_trip_64B (send, deliver, receive, ack)", |b| {
        b.iter(|| {
            rt.block_on(async {
                alice.send_text("bob", "ping").await.unwrap();
                let got = bob.receive(Duration::from_secs(5)).await.unwrap();
                assert_eq!(got.len(), 1);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
