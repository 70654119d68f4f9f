//! A prekey store through its life: replayed pre-key messages on last-resort keys, rotation,
//! retired keys answering messages and files in flight, pruning, and the identity file that
//! saves all of it (issue 11, sections 2 and 4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pqxdh::handshake::HandshakeError;
use pqxdh::handshake::clock::{DAY, Timestamp};
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, SignedPreKey};
use pqxdh::handshake::prekey_store::{KeyTimes, RETIRED_PREKEY_RETENTION, RotateError};
use pqxdh::handshake::replay_record::{ReplayError, ReplayLimits};
use pqxdh::primitives::kem::{KemError, PUBLIC_KEY_LEN};
use pqxdh::primitives::xeddsa::SIGNATURE_LEN;
use pqxdh::sessions::establish::{self, EstablishError};
use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore};
use pqxdh_files::identity_file::{self, IdentityFileError, Protection};
use pqxdh_files::{self as files, EncryptOptions};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

const T0: Timestamp = Timestamp(1_800_000_000);

fn setup(seed: u64) -> (ChaCha20Rng, IdentityKeyPair, PreKeyStore) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = PreKeyStore::generate_at(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        T0,
        &mut rng,
    )
    .unwrap();
    (rng, alice, bob)
}

/// A new session's first two messages to `bundle` (both carry the pre-key header).
fn first_messages(
    alice: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    rng: &mut ChaCha20Rng,
) -> (Vec<u8>, Vec<u8>) {
    let mut a = establish::initiate(alice, bundle, Backend::Libcrux, rng).unwrap();
    let first = a.session.encrypt(b"first", rng).unwrap();
    let second = a.session.encrypt(b"second", rng).unwrap();
    (first, second)
}

/// Everything the store would save: its identity file bytes.
fn saved(store: &PreKeyStore) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    identity_file::encode(store, Protection::None, &mut rng)
        .unwrap()
        .to_vec()
}

#[test]
fn a_pre_key_message_on_last_resort_keys_establishes_one_session_only() {
    let (mut rng, alice, mut bob) = setup(1);
    let bundle = bob.default_bundle().unwrap();
    assert!(bundle.one_time_prekey.is_none());
    let (first, second) = first_messages(&alice, &bundle, &mut rng);
    let (mut est, text) = establish::accept(&mut bob, &first, Backend::Libcrux).unwrap();
    assert_eq!(text, b"first");
    let set = (bundle.signed_prekey.id, Some(bundle.pq_prekey.id));
    assert_eq!(bob.replay_record().len(set), 1);

    // The same message again, and the session's second message (same header, same base key),
    // cannot establish a second session; the store is unchanged.
    let before = saved(&bob);
    for wire in [&first, &second] {
        assert_eq!(
            establish::accept(&mut bob, wire, Backend::Libcrux).err(),
            Some(EstablishError::Replay(ReplayError::Replay))
        );
        assert_eq!(saved(&bob), before);
    }
    // The existing session still decrypts the repeated pre-key header of its second message.
    assert_eq!(est.session.decrypt(&second).unwrap(), b"second");

    // The record survives a save and a load.
    let mut loaded = identity_file::decode(&before, None).unwrap();
    assert_eq!(
        establish::accept(&mut loaded, &first, Backend::Libcrux).err(),
        Some(EstablishError::Replay(ReplayError::Replay))
    );
    // A new session from Alice (new base key) is accepted.
    let (other, _) = first_messages(&alice, &bundle, &mut rng);
    establish::accept(&mut bob, &other, Backend::Libcrux).unwrap();
    assert_eq!(bob.replay_record().len(set), 2);
}

#[test]
fn a_consumed_one_time_prekey_stays_refused_and_is_not_recorded() {
    let (mut rng, alice, mut bob) = setup(2);
    bob.add_one_time_prekey(OneTimePreKey::generate(9, &mut rng));
    let bundle = bob.bundle(1, 1, Some(9)).unwrap();
    let (first, _) = first_messages(&alice, &bundle, &mut rng);
    establish::accept(&mut bob, &first, Backend::Libcrux).unwrap();
    assert!(bob.replay_record().is_empty());
    assert_eq!(
        establish::accept(&mut bob, &first, Backend::Libcrux).err(),
        Some(EstablishError::Handshake(
            HandshakeError::UnknownOneTimePreKey(9)
        ))
    );
}

#[test]
fn a_file_decrypts_twice() {
    let (mut rng, alice, bob) = setup(3);
    let mut sealed = Vec::new();
    files::encrypt(
        &alice,
        &[bob.default_bundle().unwrap()],
        EncryptOptions::default(),
        &b"twice"[..],
        &mut sealed,
        &mut rng,
    )
    .unwrap();
    for _ in 0..2 {
        let mut out = Vec::new();
        files::decrypt(&bob, &sealed[..], &mut out).unwrap();
        assert_eq!(out, b"twice");
    }
}

#[test]
fn a_full_record_rotates_early_instead_of_evicting() {
    let (mut rng, alice, mut bob) = setup(4);
    bob.set_replay_limits(ReplayLimits {
        capacity: 3,
        rotate_at: 2,
    });
    let old = bob.default_bundle().unwrap();
    let mut accepted = Vec::new();
    for i in 0..3 {
        assert!(!bob.rotation_due() || i >= 2);
        let (wire, _) = first_messages(&alice, &old, &mut rng);
        establish::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
        accepted.push(wire);
    }
    assert!(bob.rotation_due());
    // Full: a fourth new session on the old keys is refused, and no entry was evicted.
    let (fourth, _) = first_messages(&alice, &old, &mut rng);
    assert_eq!(
        establish::accept(&mut bob, &fourth, Backend::Libcrux).err(),
        Some(EstablishError::Replay(ReplayError::Full))
    );
    for wire in &accepted {
        assert_eq!(
            establish::accept(&mut bob, wire, Backend::Libcrux).err(),
            Some(EstablishError::Replay(ReplayError::Replay))
        );
    }
    // Rotation publishes new keys with an empty record.
    bob.rotate(T0.plus(DAY), &mut rng).unwrap();
    assert!(!bob.rotation_due());
    let new = bob.default_bundle().unwrap();
    assert_eq!(
        (new.signed_prekey.id, new.pq_prekey.id),
        (old.signed_prekey.id + 1, old.pq_prekey.id + 1)
    );
    new.verify().unwrap();
    let (wire, _) = first_messages(&alice, &new, &mut rng);
    establish::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
}

#[test]
fn retired_keys_answer_messages_and_files_in_flight_until_pruned() {
    let (mut rng, alice, mut bob) = setup(5);
    let old = bob.default_bundle().unwrap();
    let (in_flight, _) = first_messages(&alice, &old, &mut rng);
    let mut file = Vec::new();
    files::encrypt(
        &alice,
        std::slice::from_ref(&old),
        EncryptOptions::default(),
        &b"sent before the rotation"[..],
        &mut file,
        &mut rng,
    )
    .unwrap();
    let (replayed, _) = first_messages(&alice, &old, &mut rng);
    establish::accept(&mut bob, &replayed, Backend::Libcrux).unwrap();

    let rotated_at = T0.plus(DAY);
    bob.rotate(rotated_at, &mut rng).unwrap();
    assert_eq!(
        bob.signed_prekey_times(old.signed_prekey.id),
        Some(KeyTimes {
            created: T0,
            retired: Some(rotated_at)
        })
    );
    assert_ne!(
        bob.default_bundle().unwrap().signed_prekey.id,
        old.signed_prekey.id
    );

    // Saved and loaded, the retired keys still answer, and the replay record still refuses.
    let mut bob = identity_file::decode(&saved(&bob), None).unwrap();
    assert_eq!(
        establish::accept(&mut bob, &replayed, Backend::Libcrux).err(),
        Some(EstablishError::Replay(ReplayError::Replay))
    );
    let mut out = Vec::new();
    files::decrypt(&bob, &file[..], &mut out).unwrap();
    assert_eq!(out, b"sent before the rotation");

    // Pruning before the retention period deletes nothing.
    let just_before = rotated_at.plus(RETIRED_PREKEY_RETENTION - 1);
    assert_eq!(bob.prune(just_before, RETIRED_PREKEY_RETENTION), 0);
    let (_, text) = establish::accept(&mut bob, &in_flight, Backend::Libcrux).unwrap();
    assert_eq!(text, b"first");

    // After it, the retired signed prekey and PQ prekey go, with their replay record.
    let after = rotated_at.plus(RETIRED_PREKEY_RETENTION);
    assert_eq!(bob.prune(after, RETIRED_PREKEY_RETENTION), 2);
    assert!(bob.signed_prekey(old.signed_prekey.id).is_none());
    assert!(bob.pq_prekey(old.pq_prekey.id).is_none());
    assert_eq!(
        bob.replay_record()
            .len((old.signed_prekey.id, Some(old.pq_prekey.id))),
        0
    );
    let mut out = Vec::new();
    assert!(files::decrypt(&bob, &file[..], &mut out).is_err());
    assert!(out.is_empty());
    assert_eq!(
        establish::accept(&mut bob, &replayed, Backend::Libcrux).err(),
        Some(EstablishError::Handshake(
            HandshakeError::UnknownSignedPreKey(old.signed_prekey.id)
        ))
    );
    // The current keys are never pruned.
    assert_eq!(bob.prune(after.plus(1000 * DAY), 0), 0);
    bob.default_bundle().unwrap().verify().unwrap();
}

#[test]
fn identity_file_keeps_every_prekey_with_its_times_version_1_loads_and_key_pairs_are_checked() {
    let (mut rng, _, mut bob) = setup(6);
    bob.rotate(T0.plus(DAY), &mut rng).unwrap();
    bob.rotate(T0.plus(2 * DAY), &mut rng).unwrap();
    let bytes = saved(&bob);
    assert_eq!(bytes[8], identity_file::IDENTITY_FILE_VERSION);
    let back = identity_file::decode(&bytes, None).unwrap();
    assert_eq!(saved(&back), bytes);
    assert_eq!(back.signed_prekeys().count(), 3);
    assert_eq!(back.pq_prekeys().count(), 3);
    assert_eq!(back.default_bundle(), bob.default_bundle());
    assert_eq!(
        back.pq_prekey_times(2),
        Some(KeyTimes {
            created: T0.plus(DAY),
            retired: Some(T0.plus(2 * DAY))
        })
    );
    // A passphrase for a file without one is refused.
    assert_eq!(
        identity_file::decode(&bytes, Some(b"secret")).err(),
        Some(IdentityFileError::UnexpectedPassphrase)
    );

    // Version 1, written by hand from its layout (SPEC.md section 9.2): one signed prekey and one
    // PQ prekey, loaded as current keys of unknown creation time with an empty replay record.
    let (mut rng, _, one) = setup(7);
    let signed = one.current_signed_prekey().unwrap();
    let pq = one.last_resort_pq_prekey().unwrap();
    let mut keys = Vec::new();
    keys.extend_from_slice(one.identity().key_pair().private_key().as_bytes());
    keys.extend_from_slice(&signed.id().to_be_bytes());
    keys.extend_from_slice(signed.key_pair().private_key().as_bytes());
    keys.extend_from_slice(signed.public().signature.as_bytes());
    keys.extend_from_slice(&pq.id().to_be_bytes());
    keys.extend_from_slice(&[1, KemType::MlKem1024.type_byte()]);
    keys.extend_from_slice(pq.key_pair().secret_key().as_bytes());
    keys.extend_from_slice(pq.key_pair().public_key().as_bytes());
    keys.extend_from_slice(pq.public().signature.as_bytes());
    assert_eq!(keys.len(), identity_file::KEYS_V1_LEN);
    let mut v1 = b"PQXDHID\0\x01\x00".to_vec();
    v1.extend_from_slice(&(keys.len() as u32).to_be_bytes());
    v1.extend_from_slice(&keys);
    let loaded = identity_file::decode(&v1, None).unwrap();
    assert_eq!(loaded.default_bundle(), one.default_bundle());
    assert_eq!(
        loaded.signed_prekey_times(signed.id()),
        Some(KeyTimes::default())
    );
    assert!(loaded.replay_record().is_empty());
    assert_eq!(saved(&loaded)[8], 2, "saved again in the current version");

    // A PQ prekey whose public key is another key pair's is refused on load.
    let other = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    let foreign = other
        .last_resort_pq_prekey()
        .unwrap()
        .key_pair()
        .public_key()
        .as_bytes();
    let at = v1.len() - SIGNATURE_LEN - PUBLIC_KEY_LEN;
    v1[at..at + PUBLIC_KEY_LEN].copy_from_slice(foreign);
    assert_eq!(
        identity_file::decode(&v1, None).err(),
        Some(IdentityFileError::Kem(KemError::MismatchedPair))
    );
}

#[test]
fn rotation_never_uses_the_reserved_highest_id() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut store = PreKeyStore::new(identity.clone());
    store.add_signed_prekey(SignedPreKey::generate(u32::MAX - 1, &identity, &mut rng));
    store.add_pq_prekey(
        PqPreKey::generate(
            1,
            PqPreKeyKind::LastResort,
            KemType::MlKem1024,
            &identity,
            &mut rng,
        )
        .unwrap(),
    );
    let before = store.default_bundle().unwrap();
    assert_eq!(
        store.rotate(T0, &mut rng).err(),
        Some(RotateError::IdsExhausted)
    );
    assert_eq!(store.default_bundle().unwrap(), before);
    assert_eq!(
        store.signed_prekey_times(u32::MAX - 1),
        Some(KeyTimes::default())
    );
}
