//! The durable client against an in-process server: store protection, a conversation between
//! two stores, repeats recognized, identity changes refused until trusted, upkeep.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use pqxdh::handshake::bundle_cache::CacheStats;
use pqxdh_client::{
    AccountOptions, Client, Content, Error, Received, Store, StoreError, StoreProtection,
};
use pqxdh_files::identity_file::KdfParams;
mod support;

use support::server;

const PASS: StoreProtection<'static> = StoreProtection::Passphrase {
    passphrase: b"pass",
    params: KdfParams::INSECURE_FAST,
};

async fn account(dir: &std::path::Path, base: &str, name: &str, prekeys: u32) -> Client {
    let mut options = AccountOptions::new(name, base);
    options.one_time_prekeys = prekeys;
    Client::create(&dir.join(format!("{name}.db")), PASS, &options)
        .await
        .unwrap()
}

fn text(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .filter_map(|r| match r {
            Received::Message(m) => match &m.content {
                Content::Text { text } => Some(text.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_protection() {
    let (base, _server) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account(dir.path(), &base, "alice", 2).await;
    let path = alice.store().path().to_owned();
    alice.close().await;
    assert!(Store::is_protected(&path).await.unwrap());
    assert!(matches!(
        Client::open(&path, None).await,
        Err(Error::Store(StoreError::PassphraseRequired))
    ));
    assert!(matches!(
        Client::open(&path, Some(b"wrong")).await,
        Err(Error::Store(StoreError::WrongPassphrase))
    ));
    let reopened = Client::open(&path, Some(b"pass")).await.unwrap();
    assert_eq!(reopened.account(), "alice");
    reopened.close().await;
    // Creating over an existing store is refused.
    assert!(matches!(
        Client::create(&path, PASS, &AccountOptions::new("alice", &base)).await,
        Err(Error::Store(StoreError::Exists(_)))
    ));
    // The name is taken by another identity: refused, and the new store is removed.
    let other = dir.path().join("other.db");
    assert!(matches!(
        Client::create(&other, PASS, &AccountOptions::new("alice", &base)).await,
        Err(Error::NameTaken(name)) if name == "alice"
    ));
    assert!(!other.exists());
    // No secret is in the file in the clear: the identity key's private bytes are sealed.
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(8).any(|w| w == b"PQXDHID\0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_repeats_and_identity_change() {
    let (base, _server) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account(dir.path(), &base, "alice", 3).await;
    let bob = account(dir.path(), &base, "bob", 3).await;
    alice.send_text("bob", "one").await.unwrap();
    alice.send_text("bob", "two").await.unwrap();
    let got = bob.receive(Duration::from_secs(5)).await.unwrap();
    assert_eq!(text(&got), ["one", "two"]);
    bob.send_text("alice", "three").await.unwrap();
    assert_eq!(
        text(&alice.receive(Duration::from_secs(5)).await.unwrap()),
        ["three"]
    );

    // A repeated envelope (the sender crashed after the deposit, before marking it delivered)
    // is dropped as a duplicate, and the inbox keeps one copy.
    let outbox = alice.outbox().await.unwrap();
    let last = outbox.last().unwrap();
    alice.server().send("bob", &last.wire).await.unwrap();
    alice.send_text("bob", "four").await.unwrap();
    let got = bob.receive(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(&got[0], Received::Dropped { reason, .. } if reason == "duplicate"));
    assert_eq!(text(&got), ["four"]);
    assert_eq!(bob.inbox(false).await.unwrap().len(), 3);

    // A repeated envelope id (the recipient crashed after its commit, before the ack) is
    // recognized and only acknowledged.
    alice
        .server()
        .send("bob", &alice.outbox().await.unwrap()[0].wire)
        .await
        .unwrap();
    let got = bob.receive(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(&got[0], Received::Dropped { reason, .. } if reason == "duplicate"));

    // A message too large for an envelope is refused before anything is committed.
    let before = alice.outbox().await.unwrap().len();
    assert!(matches!(
        alice.send_text("bob", &"x".repeat(300 * 1024)).await,
        Err(Error::TooLarge(_))
    ));
    assert_eq!(alice.outbox().await.unwrap().len(), before);

    // More than one page of mail (the server returns 100 at a time) is read in one receive.
    for i in 0..130 {
        alice
            .queue(
                "bob",
                &Content::Text {
                    text: format!("bulk-{i}"),
                },
            )
            .await
            .unwrap();
    }
    alice.deliver().await.unwrap();
    let got = text(&bob.receive(Duration::ZERO).await.unwrap());
    assert_eq!(got.len(), 130);
    assert_eq!(got.last().map(String::as_str), Some("bulk-129"));

    // Safety numbers agree.
    assert_eq!(
        alice.safety_number("bob").await.unwrap(),
        bob.safety_number("alice").await.unwrap()
    );

    // Bob reinstalls under the same name: alice's delivery is refused by the server, the new
    // key is pending, nothing more is sent until she trusts it.
    bob.delete_account().await.unwrap();
    bob.close().await;
    let bob2 = Client::create(
        &dir.path().join("bob2.db"),
        PASS,
        &AccountOptions::new("bob", &base),
    )
    .await
    .unwrap();
    assert!(matches!(
        alice.send_text("bob", "five").await,
        Err(Error::IdentityChanged(name)) if name == "bob"
    ));
    assert!(matches!(
        alice.send_text("bob", "six").await,
        Err(Error::IdentityChanged(_))
    ));
    assert!(alice.contact("bob").await.unwrap().pending_key.is_some());
    assert!(text(&bob2.receive(Duration::ZERO).await.unwrap()).is_empty());
    // New Bob writes first: his pre-key message is held at Alice's until she trusts him.
    bob2.send_text("alice", "it's me, new phone").await.unwrap();
    let got = alice.receive(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(&got[0], Received::Held { sender } if sender == "bob"));
    let report = alice.trust("bob").await.unwrap();
    assert!(report.accepted_new_key);
    assert_eq!(text(&report.released), ["it's me, new phone"]);
    assert_eq!(report.requeued, 1);
    assert_eq!(
        text(&bob2.receive(Duration::from_secs(5)).await.unwrap()),
        ["five"]
    );
    assert_eq!(
        alice.safety_number("bob").await.unwrap(),
        bob2.safety_number("alice").await.unwrap()
    );
}

fn cache_stats(hits: u64, verifications: u64) -> CacheStats {
    CacheStats {
        hits,
        verifications,
        rejected: 0,
        evictions: 0,
    }
}

/// The verified-bundle cache (SPEC.md sections 5.1 and 13.4): a bundle claimed again with the
/// same signed material is not verified again, the old identity's entries go when it changes,
/// and a reopened client starts with none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_bundles_are_verified_once() {
    let (base, _server) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account(dir.path(), &base, "alice", 0).await;
    let bob = account(dir.path(), &base, "bob", 0).await;
    assert_eq!(alice.bundle_cache_stats(), cache_stats(0, 0));
    alice.send_text("bob", "one").await.unwrap();
    assert_eq!(alice.bundle_cache_stats(), cache_stats(0, 1));

    // Bob reinstalls with no one-time prekeys: every claim of his bundle now carries the same
    // signed prekey and last-resort PQ prekey, with the same signatures.
    bob.delete_account().await.unwrap();
    bob.close().await;
    let mut options = AccountOptions::new("bob", &base);
    options.one_time_prekeys = 0;
    let bob2 = Client::create(&dir.path().join("bob2.db"), PASS, &options)
        .await
        .unwrap();
    // The refused delivery makes Alice claim the new bundle: a new identity, so verified.
    assert!(matches!(
        alice.send_text("bob", "two").await,
        Err(Error::IdentityChanged(_))
    ));
    assert_eq!(alice.bundle_cache_stats(), cache_stats(0, 2));
    // Trusting the new key claims the bundle again for the new session: no signature checked.
    let report = alice.trust("bob").await.unwrap();
    assert_eq!(report.requeued, 1);
    assert_eq!(alice.bundle_cache_stats(), cache_stats(1, 2));
    assert_eq!(
        text(&bob2.receive(Duration::from_secs(5)).await.unwrap()),
        ["two"]
    );

    // In memory only: nothing of the cache is in the store.
    let path = alice.store().path().to_owned();
    alice.close().await;
    let alice = Client::open(&path, Some(b"pass")).await.unwrap();
    assert_eq!(alice.bundle_cache_stats(), CacheStats::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upkeep_replenishes_and_rotates() {
    let (base, _server) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = account(dir.path(), &base, "bob", 2).await;
    let alice = account(dir.path(), &base, "alice", 2).await;
    let carol = account(dir.path(), &base, "carol", 2).await;
    let counts = bob.server().key_counts().await.unwrap();
    assert_eq!((counts.one_time_prekeys, counts.pq_prekeys), (2, 2));
    alice.send_text("bob", "a").await.unwrap();
    carol.send_text("bob", "c").await.unwrap();
    // Both one-time keys claimed: below the threshold, the next receive refills.
    let got = bob.receive(Duration::from_secs(5)).await.unwrap();
    assert_eq!(text(&got), ["a", "c"]);
    let counts = bob.server().key_counts().await.unwrap();
    assert_eq!((counts.one_time_prekeys, counts.pq_prekeys), (2, 2));
    let report = bob.rotate_prekeys().await.unwrap();
    assert!(report.rotated && report.published_signed);
    let counts = bob.server().key_counts().await.unwrap();
    assert_eq!(counts.signed_prekey_id, 2);
    // The conversation continues; a new initiator uses signed prekey 2.
    alice.send_text("bob", "after").await.unwrap();
    let dave = account(dir.path(), &base, "dave", 1).await;
    dave.send_text("bob", "d").await.unwrap();
    let header = pqxdh::sessions::establish::prekey_header(&dave.outbox().await.unwrap()[0].wire)
        .unwrap()
        .unwrap();
    assert_eq!(header.signed_prekey_id, 2);
    assert_eq!(
        text(&bob.receive(Duration::from_secs(5)).await.unwrap()),
        ["after", "d"]
    );
    // Nothing to do now.
    let report = bob.upkeep().await.unwrap();
    assert_eq!(report, pqxdh_client::UpkeepReport::default());
}
