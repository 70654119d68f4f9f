//! The client against a real server (the server crate's own `Server`, on 127.0.0.1 with a
//! temporary SQLite database): a conversation, typed refusals, attachments both ways, and an
//! account deleted and its name registered again under a new identity key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use pqxdh::handshake::prekey::OneTimePreKey;
use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyStore, accept, initiate};
use pqxdh_client::{ClientError, ServerClient};
mod support;

use support::server;

fn account(base: &str, name: &str, one_time: u32) -> (ServerClient, PreKeyStore) {
    let mut rng = rand::rng();
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut store = PreKeyStore::generate(identity.clone(), KemType::MlKem1024, &mut rng).unwrap();
    for id in 0..one_time {
        store.add_one_time_prekey(OneTimePreKey::generate(10 + id, &mut rng));
    }
    (ServerClient::new(base, name, identity).unwrap(), store)
}

/// The status and code of a refusal.
fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Refused { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_and_attachments() {
    let (base, dir) = server().await;
    let (alice, alice_store) = account(&base, "alice", 0);
    let (bob, mut bob_store) = account(&base, "bob", 1);
    alice.register(&alice_store).await.unwrap();
    bob.register(&bob_store).await.unwrap();
    let counts = bob.key_counts().await.unwrap();
    assert_eq!((counts.one_time_prekeys, counts.pq_prekeys), (1, 0));

    let mut rng = rand::rng();
    let bundle = alice.bundle("bob").await.unwrap();
    assert_eq!(bundle.one_time_prekey.map(|k| k.id), Some(10));
    let mut sent = initiate(alice.identity(), &bundle, Backend::default(), &mut rng).unwrap();
    let wire = sent.session.encrypt(b"over the wire", &mut rng).unwrap();
    let id = alice.send("bob", &wire).await.unwrap();

    let mail = bob.fetch(Duration::from_secs(5)).await.unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(
        (mail[0].id.as_str(), mail[0].sender.as_str()),
        (id.as_str(), "alice")
    );
    let (_, plaintext) = accept(&mut bob_store, &mail[0].body, Backend::default()).unwrap();
    assert_eq!(plaintext, b"over the wire");
    bob.acknowledge(&id).await.unwrap();
    bob.acknowledge(&id).await.unwrap();
    assert!(bob.fetch(Duration::ZERO).await.unwrap().is_empty());

    // Refusals keep the server's status and code.
    assert_eq!(
        refusal(alice.bundle("nobody").await),
        (404, "not_found".into())
    );
    let (stranger, _) = account(&base, "stranger", 0);
    assert_eq!(refusal(stranger.send("bob", b"x").await).0, 401);

    // An attachment streamed up and down, checked against the sender's digest.
    let path = dir.path().join("blob");
    let mut data = vec![0u8; 1_000_000];
    rand::fill(&mut data[..]);
    std::fs::write(&path, &data).unwrap();
    let receipt = alice.upload_attachment(&path).await.unwrap();
    assert_eq!(receipt.size, 1_000_000);
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&receipt.sha256, &mut digest).unwrap();
    let mut out = Vec::new();
    let size = bob
        .download_attachment(&receipt.id, &digest, &mut out)
        .await
        .unwrap();
    assert_eq!(size, 1_000_000);
    assert!(out == data);
    let mut wrong = digest;
    wrong[0] ^= 1;
    let mut out = Vec::new();
    assert!(matches!(
        bob.download_attachment(&receipt.id, &wrong, &mut out).await,
        Err(ClientError::Digest)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_frees_its_name() {
    let (base, _dir) = server().await;
    let (alice, alice_store) = account(&base, "alice", 1);
    let (bob, bob_store) = account(&base, "bob", 0);
    alice.register(&alice_store).await.unwrap();
    bob.register(&bob_store).await.unwrap();
    bob.send("alice", b"for the old alice").await.unwrap();

    alice.delete_account().await.unwrap();
    assert_eq!(
        refusal(alice.delete_account().await),
        (401, "unauthenticated".into())
    );
    assert_eq!(
        refusal(bob.bundle("alice").await),
        (404, "not_found".into())
    );
    assert_eq!(
        refusal(bob.send("alice", b"x").await),
        (404, "not_found".into())
    );

    // A reinstall: the same name, a new identity key, an empty mailbox.
    let (again, again_store) = account(&base, "alice", 1);
    again.register(&again_store).await.unwrap();
    assert!(again.fetch(Duration::ZERO).await.unwrap().is_empty());
    let bundle = bob.bundle("alice").await.unwrap();
    assert_eq!(bundle.identity_key, *again.identity().public_key());
    assert_ne!(bundle.identity_key, *alice.identity().public_key());
}
