//! The storage traits: accepting a pre-key message reads the store only and returns the change
//! to commit; a failing store gives a typed error and changes nothing; sessions kept in a
//! session store survive a reload.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{OPK_ID, bundle_with_opk, parties};
use pqxdh::handshake::error::StoreError;
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PreKeyId, SignedPreKey};
use pqxdh::handshake::replay_record::{KeySet, ReplayError};
use pqxdh::handshake::store::{PreKeySink, PreKeySource, PreKeyUse};
use pqxdh::sessions::establish::{self, EstablishError};
use pqxdh::sessions::store::{MemorySessionStore, SessionStore};
use pqxdh::{Backend, HandshakeError, IdentityKeyPair, KemType, PreKeyStore, PublicKey, Session};

/// The store's observable state: its replay record and which one-time keys it holds.
fn state(store: &PreKeyStore) -> (Vec<u8>, Vec<PreKeyId>, usize) {
    (
        store.replay_record().to_bytes(),
        store.one_time_prekeys().map(|k| k.id()).collect(),
        store.pq_prekeys().count(),
    )
}

#[test]
fn accepting_reads_the_store_and_returns_the_change_to_commit() {
    let (mut rng, alice, mut bob) = parties(31, KemType::MlKem1024);
    // On last-resort keys: the change is a replay entry.
    let bundle = bob.default_bundle().unwrap();
    let mut a = establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"first", &mut rng).unwrap();
    let before = state(&bob);
    let accepted = establish::accept_pending(&bob, &wire, Backend::Libcrux).unwrap();
    assert_eq!(accepted.plaintext, b"first");
    assert_eq!(state(&bob), before, "accept_pending wrote to the store");
    let set: KeySet = (bundle.signed_prekey.id, Some(bundle.pq_prekey.id));
    let header = establish::prekey_header(&wire).unwrap().unwrap();
    assert_eq!(
        accepted.prekey_use,
        PreKeyUse {
            one_time_prekey: None,
            one_time_pq_prekey: None,
            replay_entry: Some((set, header.ephemeral_key)),
        }
    );
    // Not committed yet: the same message is still accepted.
    establish::accept_pending(&bob, &wire, Backend::Libcrux).unwrap();
    bob.record_use(&accepted.prekey_use).unwrap();
    assert_eq!(
        establish::accept_pending(&bob, &wire, Backend::Libcrux).err(),
        Some(EstablishError::Replay(ReplayError::Replay))
    );

    // With a one-time prekey: the change deletes it, and nothing is recorded.
    let bundle = bundle_with_opk(&bob);
    let mut a = establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"second", &mut rng).unwrap();
    let accepted = establish::accept_pending(&bob, &wire, Backend::Libcrux).unwrap();
    assert_eq!(accepted.prekey_use.one_time_prekey, Some(OPK_ID));
    assert_eq!(accepted.prekey_use.replay_entry, None);
    assert!(bob.one_time_prekey(OPK_ID).is_some());
    bob.record_use(&accepted.prekey_use).unwrap();
    assert!(bob.one_time_prekey(OPK_ID).is_none());
}

/// A store that reads from a `PreKeyStore` and fails on `fail_reads` / on every write.
struct Flaky {
    inner: PreKeyStore,
    fail_reads: bool,
}

impl PreKeySource for Flaky {
    fn identity_key_pair(&self) -> &IdentityKeyPair {
        self.inner.identity_key_pair()
    }
    fn load_signed_prekey(&self, id: PreKeyId) -> Result<Option<SignedPreKey>, StoreError> {
        if self.fail_reads {
            return Err(StoreError("disk unplugged".into()));
        }
        self.inner.load_signed_prekey(id)
    }
    fn load_one_time_prekey(&self, id: PreKeyId) -> Result<Option<OneTimePreKey>, StoreError> {
        self.inner.load_one_time_prekey(id)
    }
    fn load_pq_prekey(&self, id: PreKeyId) -> Result<Option<PqPreKey>, StoreError> {
        self.inner.load_pq_prekey(id)
    }
    fn check_replay_entry(
        &self,
        set: KeySet,
        base_key: &PublicKey,
    ) -> Result<Result<(), ReplayError>, StoreError> {
        self.inner.check_replay_entry(set, base_key)
    }
}

impl PreKeySink for Flaky {
    fn record_use(&mut self, _: &PreKeyUse) -> Result<(), StoreError> {
        Err(StoreError("transaction aborted".into()))
    }
}

#[test]
fn a_failing_store_gives_a_typed_error_and_changes_nothing() {
    let (mut rng, alice, bob) = parties(32, KemType::MlKem1024);
    let bundle = bob.default_bundle().unwrap();
    let mut a = establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"first", &mut rng).unwrap();
    let mut flaky = Flaky {
        inner: bob,
        fail_reads: true,
    };
    let before = state(&flaky.inner);
    assert_eq!(
        establish::accept(&mut flaky, &wire, Backend::Libcrux).err(),
        Some(EstablishError::Handshake(HandshakeError::Store(
            StoreError("disk unplugged".into())
        )))
    );
    flaky.fail_reads = false;
    assert_eq!(
        establish::accept(&mut flaky, &wire, Backend::Libcrux).err(),
        Some(EstablishError::Handshake(HandshakeError::Store(
            StoreError("transaction aborted".into())
        )))
    );
    assert_eq!(state(&flaky.inner), before);
    // The message was never committed: the real store still accepts it once.
    let mut bob = flaky.inner;
    establish::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
}

#[test]
fn sessions_in_a_session_store_survive_a_reload() {
    let (mut rng, alice, mut bob) = parties(33, KemType::MlKem1024);
    let mut a = establish::initiate(
        &alice,
        &bob.default_bundle().unwrap(),
        Backend::Libcrux,
        &mut rng,
    )
    .unwrap();
    let wire = a.session.encrypt(b"hello", &mut rng).unwrap();
    let (b, _) = establish::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
    let mut store = MemorySessionStore::new();
    assert!(store.is_empty());
    store.store_session("alice", &b.session).unwrap();
    assert_eq!(store.len(), 1);
    assert!(store.load_session("carol").unwrap().is_none());
    let mut loaded: Session = store.load_session("alice").unwrap().unwrap();
    let wire = a.session.encrypt(b"after the reload", &mut rng).unwrap();
    assert_eq!(loaded.decrypt(&wire).unwrap(), b"after the reload");
    let reply = loaded.encrypt(b"reply", &mut rng).unwrap();
    assert_eq!(a.session.decrypt(&reply).unwrap(), b"reply");
    store.store_session("alice", &loaded).unwrap();
    assert_eq!(
        *store.load_session("alice").unwrap().unwrap().to_bytes(),
        *loaded.to_bytes()
    );
    // Debug names the peers and never shows a saved session.
    assert_eq!(
        format!("{store:?}"),
        r#"MemorySessionStore { peers: ["alice"], .. }"#
    );
}
