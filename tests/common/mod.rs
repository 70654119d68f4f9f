//! Shared set-up for the hardening tests: parties, established sessions, refusal checks.
#![allow(dead_code)]

use pqxdh::handshake::prekey::{OneTimePreKey, PreKeyId};
use pqxdh::ratchet::{DecryptError, Session};
use pqxdh::sessions::establish::{self, Established};
use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

/// Id of the one-time EC prekey that [`parties`] adds to the responder's store.
pub const OPK_ID: PreKeyId = 7;

/// An initiator identity and a responder store (signed prekey 1, last-resort PQ prekey 1 of
/// `kem`, one-time EC prekey [`OPK_ID`]).
pub fn parties(seed: u64, kem: KemType) -> (ChaCha20Rng, IdentityKeyPair, PreKeyStore) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = IdentityKeyPair::generate(&mut rng);
    let mut bob =
        PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), kem, &mut rng).unwrap();
    bob.add_one_time_prekey(OneTimePreKey::generate(OPK_ID, &mut rng));
    (rng, alice, bob)
}

/// The responder's bundle naming the one-time prekey.
pub fn bundle_with_opk(store: &PreKeyStore) -> PreKeyBundle {
    store.bundle(1, 1, Some(OPK_ID)).unwrap()
}

/// A conversation whose handshake is complete: Alice sent a pre-key message, Bob accepted it and
/// replied, and Alice decrypted the reply.
pub struct Conversation {
    pub rng: ChaCha20Rng,
    pub alice_identity: IdentityKeyPair,
    pub bob_store: PreKeyStore,
    pub alice: Session,
    pub bob: Session,
}

/// A classical Double Ratchet conversation: the byte-level tests predict its wire layout
/// (SPEC.md section 8.4, version 0x02). [`conversation_with`] picks the ratchet.
pub fn conversation(seed: u64) -> Conversation {
    conversation_with(seed, establish::RatchetKind::Classical)
}

/// A conversation on the given ratchet, after one message each way.
pub fn conversation_with(seed: u64, ratchet: establish::RatchetKind) -> Conversation {
    let (mut rng, alice_identity, mut bob_store) = parties(seed, KemType::MlKem1024);
    let bundle = bundle_with_opk(&bob_store);
    let Established {
        session: mut alice, ..
    } = establish::initiate_with_ratchet(
        &alice_identity,
        &bundle,
        Backend::Libcrux,
        ratchet,
        &mut rng,
    )
    .unwrap();
    let first = alice.encrypt(b"hello Bob", &mut rng).unwrap();
    let (
        Established {
            session: mut bob, ..
        },
        text,
    ) = establish::accept(&mut bob_store, &first, Backend::Libcrux).unwrap();
    assert_eq!(text, b"hello Bob");
    let reply = bob.encrypt(b"hello Alice", &mut rng).unwrap();
    assert_eq!(alice.decrypt(&reply).unwrap(), b"hello Alice");
    Conversation {
        rng,
        alice_identity,
        bob_store,
        alice,
        bob,
    }
}

impl Conversation {
    /// Alice sends, Bob decrypts.
    pub fn a_to_b(&mut self, text: &[u8]) {
        let wire = self.alice.encrypt(text, &mut self.rng).unwrap();
        assert_eq!(self.bob.decrypt(&wire).unwrap(), text);
    }

    /// Bob sends, Alice decrypts.
    pub fn b_to_a(&mut self, text: &[u8]) {
        let wire = self.bob.encrypt(text, &mut self.rng).unwrap();
        assert_eq!(self.alice.decrypt(&wire).unwrap(), text);
    }

    /// `count` messages from Alice, `"{prefix}{i}"`, not delivered.
    pub fn alice_sends(&mut self, prefix: &str, count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| {
                let text = format!("{prefix}{i}");
                self.alice.encrypt(text.as_bytes(), &mut self.rng).unwrap()
            })
            .collect()
    }

    /// Both directions still work.
    pub fn still_talks(&mut self) {
        self.a_to_b(b"still there?");
        self.b_to_a(b"yes");
        self.a_to_b(b"good");
    }
}

/// Asserts that `session` refuses `wire` with exactly `expected` and is byte-for-byte unchanged.
pub fn refused(session: &mut Session, wire: &[u8], expected: &DecryptError) {
    let before = session.to_bytes();
    let err = session.decrypt(wire).expect_err("message must be refused");
    assert_eq!(&err, expected, "wire of {} bytes", wire.len());
    assert_eq!(*session.to_bytes(), *before, "state changed after {err:?}");
}

/// What `session` answers a normal message under a ratchet key it has never seen: with no sending
/// chain (it has received on its latest key and not yet answered) no honest peer can have a new
/// key, so it is refused before any key derivation; otherwise the DH step runs and the tag fails.
pub fn new_key_error(session: &Session) -> DecryptError {
    if session.info().sending_counter.is_none() {
        DecryptError::UnexpectedRatchetKey
    } else {
        DecryptError::InvalidTag
    }
}

/// `bytes` with bit `bit` (counted from byte 0's least significant bit) flipped.
pub fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Reads a file under `kat/`.
pub fn kat_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("kat")
        .join(rel)
}

/// The big-endian u32 at `at`.
pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Layout of the pre-key header with a one-time prekey and a KEM ciphertext (SPEC.md):
/// version, EncodeEC(IK_A), EncodeEC(EK_A), SPK id, flags, OPK id, PQ prekey id, KEM type, CT.
pub const H_IK: usize = 1;
pub const H_EK: usize = H_IK + 33;
pub const H_SPK_ID: usize = H_EK + 33;
pub const H_FLAGS: usize = H_SPK_ID + 4;
pub const H_OPK_ID: usize = H_FLAGS + 1;
pub const H_PQ_ID: usize = H_OPK_ID + 4;
pub const H_KEM: usize = H_PQ_ID + 4;
pub const H_CT: usize = H_KEM + 1;
pub const H_LEN: usize = H_CT + 1568;
