//! Hostile inputs at the session level: each refusal is checked for its exact error variant and
//! for leaving the session (or prekey store, or output directory) unchanged, after which the
//! conversation must go on normally.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Read;

use common::{
    H_EK, H_FLAGS, H_IK, H_KEM, H_LEN, H_OPK_ID, H_PQ_ID, H_SPK_ID, OPK_ID, bundle_with_opk,
    conversation, flip, kat_path, new_key_error, parties, refused, u32_at,
};
use pqxdh::handshake::bundle::BundleError;

use pqxdh::sessions::establish::{self, EstablishError};

use pqxdh::handshake::HandshakeError;
use pqxdh::handshake::prekey::{OneTimePreKeyPublic, PqPreKey, PqPreKeyKind};
use pqxdh::primitives::kem::{KemError, KemKeyPair, KemPublicKey, PUBLIC_KEY_LEN};
use pqxdh::primitives::keys::KeyError;
use pqxdh::primitives::xeddsa::Signature;
use pqxdh::ratchet::message::{MAX_PREKEY_HEADER_LEN, MIN_NORMAL_LEN, NORMAL_HEADER_LEN};
use pqxdh::ratchet::session::{MAX_MESSAGE_GAP, MAX_RECEIVING_CHAINS, MAX_SKIPPED_KEYS};
use pqxdh::ratchet::{DecryptError, PreKeyMessage, Session, WireMessage};
use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore, PublicKey};

use rand_core::CryptoRng;

/// Offsets inside a normal message.
const M_KEY: usize = 2;
const M_PN: usize = M_KEY + 33;
const M_N: usize = M_PN + 4;

fn decrypt_err(e: DecryptError) -> Option<EstablishError> {
    Some(EstablishError::Decrypt(e))
}

fn handshake_err(e: HandshakeError) -> Option<EstablishError> {
    Some(EstablishError::Handshake(e))
}

/// The error for a classical message whose version byte (at `at`) was changed: an unknown
/// version is `UnknownVersion`; the triple ratchet's 0x03 reads the classical bytes as a
/// triple-ratchet layout, which fails to parse or, if it parses, is the wrong version for the
/// session.
fn version_error(wire: &[u8], at: usize) -> DecryptError {
    match (wire[at], pqxdh::WireMessage::parse(wire)) {
        (pqxdh::ratchet::message::WIRE_VERSION_TRIPLE, Err(e)) => e,
        (pqxdh::ratchet::message::WIRE_VERSION_TRIPLE, Ok(_)) => {
            DecryptError::VersionMismatch(pqxdh::ratchet::message::WIRE_VERSION_TRIPLE)
        }
        (v, _) => DecryptError::UnknownVersion(v),
    }
}

/// The error `establish::accept` must give for the pre-key message `wire` with bit `bit` flipped
/// (`None`: the message length field, where the error depends on the bytes it now points at).
fn expected_prekey_flip(wire: &[u8], bit: usize) -> Option<EstablishError> {
    let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
    let flipped = wire[byte] ^ mask;
    let header = 6;
    let inner = header + H_LEN;
    let field_u32 = |at: usize| u32_at(&flip(wire, bit), at);
    match byte {
        0 => decrypt_err(version_error(&flip(wire, bit), 0)),
        1 => decrypt_err(DecryptError::UnknownType(flipped)),
        2..6 => {
            let len = field_u32(2) as usize;
            if len > MAX_PREKEY_HEADER_LEN {
                decrypt_err(DecryptError::Malformed("pre-key header too long"))
            } else if header + len > wire.len() {
                decrypt_err(DecryptError::Malformed("truncated message"))
            } else {
                None
            }
        }
        b if b < inner => {
            let o = b - header;
            match o {
                0 => handshake_err(HandshakeError::UnknownHeaderVersion(flipped)),
                H_IK | H_EK => {
                    handshake_err(HandshakeError::Key(KeyError::UnknownKeyType(flipped)))
                }
                H_SPK_ID..H_FLAGS => handshake_err(HandshakeError::UnknownSignedPreKey(field_u32(
                    header + H_SPK_ID,
                ))),
                H_FLAGS => match mask {
                    // Without the one-time flag the OPK id is read as the PQ prekey id and the
                    // PQ prekey id's first byte (0x00) as the KEM type.
                    0x01 => handshake_err(HandshakeError::Kem(KemError::UnknownType(
                        wire[header + H_PQ_ID],
                    ))),
                    0x02 => handshake_err(HandshakeError::MalformedHeader("trailing bytes")),
                    _ => handshake_err(HandshakeError::MalformedHeader("unknown flag bits")),
                },
                H_OPK_ID..H_PQ_ID => handshake_err(HandshakeError::UnknownOneTimePreKey(
                    field_u32(header + H_OPK_ID),
                )),
                H_PQ_ID..H_KEM => {
                    handshake_err(HandshakeError::UnknownPqPreKey(field_u32(header + H_PQ_ID)))
                }
                H_KEM if flipped == KemType::Kyber1024.type_byte() => {
                    handshake_err(HandshakeError::KemMismatch {
                        expected: KemType::MlKem1024,
                        actual: KemType::Kyber1024,
                    })
                }
                H_KEM => handshake_err(HandshakeError::Kem(KemError::UnknownType(flipped))),
                // IK_A and EK_A bits change the DH outputs (or, for bit 255, which X25519
                // ignores, the authenticated header); KEM ciphertext bits decapsulate to the
                // implicit-rejection secret. All end in the tag check.
                _ => decrypt_err(DecryptError::InvalidTag),
            }
        }
        b => match b - inner {
            0 => decrypt_err(version_error(&flip(wire, bit), inner)),
            1 => decrypt_err(DecryptError::UnknownType(flipped)),
            M_KEY => decrypt_err(DecryptError::Malformed(
                "ratchet key is not a Curve25519 EncodeEC key",
            )),
            o if (M_N..M_N + 4).contains(&o) && field_u32(inner + M_N) > MAX_MESSAGE_GAP => {
                decrypt_err(DecryptError::TooFarAhead)
            }
            _ => decrypt_err(DecryptError::InvalidTag),
        },
    }
}

/// The pre-key message Alice sends first (with a one-time prekey and ML-KEM-1024).
fn first_message(seed: u64) -> (PreKeyStore, Vec<u8>) {
    let (mut rng, alice, bob) = parties(seed, KemType::MlKem1024);
    // The classical ratchet: the byte offsets below are those of wire version 0x02.
    let mut a = establish::initiate_with_ratchet(
        &alice,
        &bundle_with_opk(&bob),
        Backend::Libcrux,
        establish::RatchetKind::Classical,
        &mut rng,
    )
    .unwrap();
    let wire = a.session.encrypt(b"first message", &mut rng).unwrap();
    assert_eq!(wire.len(), 6 + H_LEN + NORMAL_HEADER_LEN + 13 + 16);
    (bob, wire)
}

/// Alice's first message to the owner of `bundle`.
fn send_first<R: CryptoRng>(
    alice: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    rng: &mut R,
    text: &[u8],
) -> Vec<u8> {
    let mut a = establish::initiate(alice, bundle, Backend::Libcrux, rng).unwrap();
    a.session.encrypt(text, rng).unwrap()
}

/// `accept` refuses `bad`, the store keeps its one-time prekey, and the error is `expected`
/// (`None`: any wire-format error).
fn accept_refuses(store: &mut PreKeyStore, bad: &[u8], expected: Option<&EstablishError>) {
    let err = establish::accept(store, bad, Backend::Libcrux).expect_err("must be refused");
    match expected {
        Some(e) => assert_eq!(&err, e),
        None => assert!(
            matches!(
                err,
                EstablishError::Decrypt(
                    DecryptError::Malformed(_)
                        | DecryptError::UnknownVersion(_)
                        | DecryptError::UnknownType(_)
                )
            ),
            "{err:?}"
        ),
    }
    assert!(store.one_time_prekey(OPK_ID).is_some(), "after {err:?}");
    assert!(store.pq_prekey(1).is_some() && store.signed_prekey(1).is_some());
}

/// Every single-bit flip of a whole pre-key message (header, KEM ciphertext, ratchet message),
/// each through `accept` on the same store, which must keep its one-time prekey throughout.
#[test]
fn every_bit_flip_of_a_prekey_message() {
    let (mut store, wire) = first_message(1);
    for bit in 0..wire.len() * 8 {
        let expected = expected_prekey_flip(&wire, bit);
        accept_refuses(&mut store, &flip(&wire, bit), expected.as_ref());
    }
    let (mut bob, text) = establish::accept(&mut store, &wire, Backend::Libcrux).unwrap();
    assert_eq!(text, b"first message");
    assert!(store.one_time_prekey(OPK_ID).is_none());
    bob.session.encrypt(b"reply", &mut rand::rng()).unwrap();
}

#[test]
fn every_bit_flip_of_a_normal_message() {
    let mut c = conversation(2);
    // Bob has received Alice's messages 0 and 1 of her current chain: his next N is 2.
    c.a_to_b(b"zero");
    c.a_to_b(b"one");
    let wire = c.alice.encrypt(b"two", &mut c.rng).unwrap();
    assert_eq!(u32_at(&wire, M_N), 2);
    for bit in 0..wire.len() * 8 {
        let flipped = flip(&wire, bit);
        let byte = bit / 8;
        let expected = match byte {
            0 => version_error(&flipped, 0),
            1 => DecryptError::UnknownType(flipped[1]),
            M_KEY => DecryptError::Malformed("ratchet key is not a Curve25519 EncodeEC key"),
            b if (M_KEY + 1..M_PN).contains(&b) => new_key_error(&c.bob),
            b if (M_N..M_N + 4).contains(&b) => {
                let n = u32_at(&flipped, M_N);
                if n < 2 {
                    DecryptError::Duplicate
                } else if n - 2 > MAX_MESSAGE_GAP {
                    DecryptError::TooFarAhead
                } else {
                    DecryptError::InvalidTag
                }
            }
            _ => DecryptError::InvalidTag,
        };
        refused(&mut c.bob, &flipped, &expected);
    }
    assert_eq!(c.bob.decrypt(&wire).unwrap(), b"two");
    c.still_talks();
}

/// The error for a message cut to `len` bytes whose normal message starts at byte `inner`.
fn truncation_error(len: usize, inner: usize) -> DecryptError {
    if len < inner + NORMAL_HEADER_LEN {
        DecryptError::Malformed("truncated message")
    } else if len < inner + MIN_NORMAL_LEN {
        DecryptError::Malformed("ciphertext shorter than the tag")
    } else {
        DecryptError::InvalidTag
    }
}

/// `wire` with 1 to 64 bytes appended.
fn appended(wire: &[u8]) -> impl Iterator<Item = Vec<u8>> {
    (1..=64u8).map(|extra| {
        let mut long = wire.to_vec();
        long.resize(wire.len() + usize::from(extra), extra);
        long
    })
}

#[test]
fn truncation_at_every_length_and_appended_bytes() {
    let (mut store, prekey) = first_message(3);
    for len in 0..prekey.len() {
        let expected = EstablishError::Decrypt(truncation_error(len, 6 + H_LEN));
        accept_refuses(&mut store, &prekey[..len], Some(&expected));
    }
    let tag = EstablishError::Decrypt(DecryptError::InvalidTag);
    for long in appended(&prekey) {
        accept_refuses(&mut store, &long, Some(&tag));
    }

    let mut c = conversation(3);
    let wire = c.alice.encrypt(b"a normal message", &mut c.rng).unwrap();
    for len in 0..wire.len() {
        refused(&mut c.bob, &wire[..len], &truncation_error(len, 0));
    }
    for long in appended(&wire) {
        refused(&mut c.bob, &long, &DecryptError::InvalidTag);
    }
    assert_eq!(c.bob.decrypt(&wire).unwrap(), b"a normal message");
    c.still_talks();
    establish::accept(&mut store, &prekey, Backend::Libcrux).unwrap();
}

#[test]
fn every_wrong_version_and_type_byte() {
    let (mut store, prekey) = first_message(4);
    let inner = 6 + H_LEN;
    let mut c = conversation(4);
    let normal = c.alice.encrypt(b"normal", &mut c.rng).unwrap();
    for value in 0..=255u8 {
        let with = |wire: &[u8], at: usize| {
            let mut out = wire.to_vec();
            out[at] = value;
            out
        };
        if value != pqxdh::ratchet::message::WIRE_VERSION {
            refused(
                &mut c.bob,
                &with(&normal, 0),
                &version_error(&with(&normal, 0), 0),
            );
            let outer = with(&prekey, 0);
            accept_refuses(
                &mut store,
                &outer,
                Some(&EstablishError::Decrypt(version_error(&outer, 0))),
            );
            let embedded = with(&prekey, inner);
            accept_refuses(
                &mut store,
                &embedded,
                Some(&EstablishError::Decrypt(version_error(&embedded, inner))),
            );
        }
        // The message type of a normal message, of a pre-key message, and of the normal message
        // inside a pre-key message (which may not be another pre-key message).
        let normal_type = match value {
            1 => None,
            // The ratchet key's 0x05 type byte is read as the top of a 4-byte length.
            2 => Some(DecryptError::Malformed("pre-key header too long")),
            t => Some(DecryptError::UnknownType(t)),
        };
        if let Some(e) = normal_type {
            refused(&mut c.bob, &with(&normal, 1), &e);
        }
        let prekey_type = match value {
            2 => None,
            // The length's first byte (0x00) is read as the ratchet key's type byte.
            1 => Some(DecryptError::Malformed(
                "ratchet key is not a Curve25519 EncodeEC key",
            )),
            t => Some(DecryptError::UnknownType(t)),
        };
        if let Some(e) = prekey_type {
            accept_refuses(
                &mut store,
                &with(&prekey, 1),
                Some(&EstablishError::Decrypt(e)),
            );
        }
        if value != 1 {
            accept_refuses(
                &mut store,
                &with(&prekey, inner + 1),
                Some(&EstablishError::Decrypt(DecryptError::UnknownType(value))),
            );
        }
    }
    // A normal message is not a pre-key message: no session can come of it.
    assert_eq!(
        establish::accept(&mut store, &normal, Backend::Libcrux).err(),
        Some(EstablishError::NotPreKeyMessage)
    );
    assert_eq!(c.bob.decrypt(&normal).unwrap(), b"normal");
    establish::accept(&mut store, &prekey, Backend::Libcrux).unwrap();
}

#[test]
fn replay_of_every_message_of_a_conversation() {
    let (mut rng, alice_identity, mut bob_store) = parties(5, KemType::MlKem1024);
    let bundle = bundle_with_opk(&bob_store);
    // The classical ratchet: which refusal a replay meets is the Double Ratchet's order of checks
    // (tests/triple_ratchet.rs replays a triple-ratchet conversation).
    let mut alice = establish::initiate_with_ratchet(
        &alice_identity,
        &bundle,
        Backend::Libcrux,
        establish::RatchetKind::Classical,
        &mut rng,
    )
    .unwrap()
    .session;
    // Alice's chains (as seen by Bob) and Bob's chains (as seen by Alice), numbered from 0.
    let mut to_bob: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut to_alice: Vec<(usize, Vec<u8>)> = Vec::new();
    let first = alice.encrypt(b"a 0.0", &mut rng).unwrap();
    let second = alice.encrypt(b"a 0.1", &mut rng).unwrap();
    let (est, _) = establish::accept(&mut bob_store, &second, Backend::Libcrux).unwrap();
    let mut bob = est.session;
    assert_eq!(bob.decrypt(&first).unwrap(), b"a 0.0");
    to_bob.extend([(0, first.clone()), (0, second)]);
    let turns = 8;
    for turn in 0..turns {
        // Bob's chain `turn`, delivered in reverse order; then Alice's chain `turn + 1`.
        let wires: Vec<_> = (0..3)
            .map(|i| {
                bob.encrypt(format!("b {turn}.{i}").as_bytes(), &mut rng)
                    .unwrap()
            })
            .collect();
        for (i, w) in wires.iter().enumerate().rev() {
            assert_eq!(
                alice.decrypt(w).unwrap(),
                format!("b {turn}.{i}").as_bytes()
            );
            to_alice.push((turn, w.clone()));
        }
        for i in 0..2 {
            let w = alice
                .encrypt(format!("a {}.{i}", turn + 1).as_bytes(), &mut rng)
                .unwrap();
            assert_eq!(
                bob.decrypt(&w).unwrap(),
                format!("a {}.{i}", turn + 1).as_bytes()
            );
            to_bob.push((turn + 1, w));
        }
    }
    // A message of one of the last MAX_RECEIVING_CHAINS chains is a known duplicate; an older
    // chain's ratchet key is forgotten, so it is a new key: refused at once by Bob, who has not
    // answered Alice's latest chain, and by a failed tag after a fresh DH step at Alice.
    let expect = |chain: usize, last: usize, session: &Session| {
        if last - chain < MAX_RECEIVING_CHAINS {
            DecryptError::Duplicate
        } else {
            new_key_error(session)
        }
    };
    assert_eq!(new_key_error(&bob), DecryptError::UnexpectedRatchetKey);
    assert_eq!(new_key_error(&alice), DecryptError::InvalidTag);
    for (chain, wire) in &to_bob {
        let expected = expect(*chain, turns, &bob);
        refused(&mut bob, wire, &expected);
    }
    for (chain, wire) in &to_alice {
        let expected = expect(*chain, turns - 1, &alice);
        refused(&mut alice, wire, &expected);
    }
    // The pre-key message again at the store: its one-time prekey is gone.
    assert_eq!(
        establish::accept(&mut bob_store, &first, Backend::Libcrux).err(),
        Some(EstablishError::Handshake(
            HandshakeError::UnknownOneTimePreKey(OPK_ID)
        ))
    );
    let w = alice.encrypt(b"after the replays", &mut rng).unwrap();
    assert_eq!(bob.decrypt(&w).unwrap(), b"after the replays");
    let w = bob.encrypt(b"and back", &mut rng).unwrap();
    assert_eq!(alice.decrypt(&w).unwrap(), b"and back");
}

#[test]
fn skipped_keys_beyond_the_limit_across_chains() {
    let mut c = conversation(6);
    // Chain A: Bob sees only the last of 1,500 messages (1,499 keys stored).
    let first_chain = c.alice_sends("A", 1500);
    assert_eq!(c.bob.decrypt(&first_chain[1499]).unwrap(), b"A1499");
    c.b_to_a(b"turn");
    // Chain B: Bob sees only message 600: 600 more keys, 99 of chain A's evicted, oldest first.
    let second_chain = c.alice_sends("B", 601);
    assert_eq!(c.bob.decrypt(&second_chain[600]).unwrap(), b"B600");
    assert_eq!(c.bob.info().skipped_keys, MAX_SKIPPED_KEYS);
    let evicted = 1499 + 600 - MAX_SKIPPED_KEYS;
    assert_eq!(evicted, 99);
    for wire in &first_chain[..evicted] {
        refused(&mut c.bob, wire, &DecryptError::Duplicate);
    }
    assert_eq!(c.bob.decrypt(&first_chain[evicted]).unwrap(), b"A99");
    assert_eq!(c.bob.decrypt(&second_chain[0]).unwrap(), b"B0");

    // One message that skips MAX_MESSAGE_GAP keys of the old chain (by PN) and MAX_MESSAGE_GAP
    // keys of its own: the store keeps only the newest MAX_SKIPPED_KEYS.
    let mut c = conversation(7);
    let old = c.alice_sends("O", MAX_MESSAGE_GAP as usize + 1);
    assert_eq!(c.bob.decrypt(&old[0]).unwrap(), b"O0");
    c.b_to_a(b"turn");
    let new = c.alice_sends("N", MAX_MESSAGE_GAP as usize + 1);
    // Bob's receiving counter is 1; PN is 2,001: exactly MAX_MESSAGE_GAP keys to store.
    assert_eq!(
        c.bob.decrypt(&new[MAX_MESSAGE_GAP as usize]).unwrap(),
        b"N2000"
    );
    assert_eq!(c.bob.info().skipped_keys, MAX_SKIPPED_KEYS);
    refused(&mut c.bob, &old[1], &DecryptError::Duplicate);
    refused(&mut c.bob, &old[2000], &DecryptError::Duplicate);
    assert_eq!(c.bob.decrypt(&new[0]).unwrap(), b"N0");
    // One key further than the gap in a fresh chain is refused before any work.
    c.b_to_a(b"turn 2");
    let far = c.alice_sends("F", MAX_MESSAGE_GAP as usize + 2);
    refused(&mut c.bob, far.last().unwrap(), &DecryptError::TooFarAhead);
    assert_eq!(c.bob.decrypt(&far[0]).unwrap(), b"F0");
    // From N = 1, the same message is now exactly MAX_MESSAGE_GAP ahead.
    assert_eq!(c.bob.decrypt(far.last().unwrap()).unwrap(), b"F2001");
    c.still_talks();
}

/// Alice's bundle check and handshake on a modified bundle.
fn initiate_err(bundle: &PreKeyBundle, seed: u64) -> Option<EstablishError> {
    let mut rng = <rand::rngs::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(seed);
    let alice = IdentityKeyPair::generate(&mut rng);
    // The JSON path and the struct path give the same verdict.
    let decoded = PreKeyBundle::from_json(&bundle.to_json()).unwrap();
    assert_eq!(&decoded, bundle);
    establish::initiate(&alice, &decoded, Backend::Libcrux, &mut rng).err()
}

fn bundle_err(e: BundleError) -> Option<EstablishError> {
    handshake_err(HandshakeError::Bundle(e))
}

#[test]
fn forged_swapped_and_substituted_bundle_signatures() {
    let (mut rng, _, bob) = parties(8, KemType::MlKem1024);
    let good = bob.default_bundle().unwrap();
    assert_eq!(initiate_err(&good, 1), None);
    let signed: fn(&mut PreKeyBundle) -> &mut Signature = |b| &mut b.signed_prekey.signature;
    let pq: fn(&mut PreKeyBundle) -> &mut Signature = |b| &mut b.pq_prekey.signature;
    for (field, expected) in [
        (signed, BundleError::BadSignedPreKeySignature),
        (pq, BundleError::BadPqPreKeySignature),
    ] {
        for bit in 0..512 {
            let mut bad = good.clone();
            let sig = field(&mut bad);
            *sig = Signature::from_slice(&flip(sig.as_bytes(), bit)).unwrap();
            assert_eq!(bad.verify(), Err(expected.clone()), "bit {bit}");
        }
    }
    // Swapped signatures, one way, the other way, and both.
    let mut bad = good.clone();
    bad.pq_prekey.signature = good.signed_prekey.signature;
    assert_eq!(
        initiate_err(&bad, 2),
        bundle_err(BundleError::BadPqPreKeySignature)
    );
    let mut bad = good.clone();
    bad.signed_prekey.signature = good.pq_prekey.signature;
    assert_eq!(
        initiate_err(&bad, 3),
        bundle_err(BundleError::BadSignedPreKeySignature)
    );
    bad.pq_prekey.signature = good.signed_prekey.signature;
    assert_eq!(
        initiate_err(&bad, 4),
        bundle_err(BundleError::BadSignedPreKeySignature)
    );
    // Carol's identity key on Bob's prekeys.
    let carol = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    let mut bad = good.clone();
    bad.identity_key = *carol.identity().public_key();
    assert_eq!(
        initiate_err(&bad, 5),
        bundle_err(BundleError::BadSignedPreKeySignature)
    );
    // Bob's prekeys with Carol's signatures over them.
    let carols_sig =
        |msg: &[u8], rng: &mut rand::rngs::ChaCha20Rng| carol.identity().sign(msg, rng);
    let mut bad = good.clone();
    bad.signed_prekey.signature = carols_sig(&good.signed_prekey.key.encode(), &mut rng);
    assert_eq!(
        initiate_err(&bad, 6),
        bundle_err(BundleError::BadSignedPreKeySignature)
    );
    let mut bad = good.clone();
    bad.pq_prekey.signature = carols_sig(&good.pq_prekey.key.encode(), &mut rng);
    assert_eq!(
        initiate_err(&bad, 7),
        bundle_err(BundleError::BadPqPreKeySignature)
    );
}

#[test]
fn substituted_identity_with_its_own_signatures_fails_at_the_responder() {
    // A server that replaces Bob's whole bundle by Carol's (signatures valid under Carol's key)
    // is only caught by comparing fingerprints; Bob cannot decrypt, and his store is untouched.
    let (mut rng, alice, mut bob) = parties(9, KemType::MlKem1024);
    let carol = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    let wire = send_first(
        &alice,
        &carol.default_bundle().unwrap(),
        &mut rng,
        b"for Bob?",
    );
    accept_refuses(
        &mut bob,
        &wire,
        Some(&EstablishError::Decrypt(DecryptError::InvalidTag)),
    );
}

#[test]
fn kem_key_labelled_as_the_other_kem() {
    for (real, label) in [
        (KemType::MlKem1024, KemType::Kyber1024),
        (KemType::Kyber1024, KemType::MlKem1024),
    ] {
        let (mut rng, alice, mut bob) = parties(10, real);
        let good = bob.default_bundle().unwrap();
        let relabelled = KemPublicKey::from_slice(label, good.pq_prekey.key.as_bytes()).unwrap();
        assert_ne!(relabelled.encode(), good.pq_prekey.key.encode());
        // Relabelled by the server: Bob's signature covers the type byte.
        let mut bad = good.clone();
        bad.pq_prekey.key = relabelled.clone();
        assert_eq!(
            initiate_err(&bad, 11),
            bundle_err(BundleError::BadPqPreKeySignature)
        );
        // Relabelled and signed by Bob himself: Alice encapsulates with the wrong KEM, and Bob
        // refuses the ciphertext's KEM before decapsulating.
        bad.pq_prekey.signature = bob.identity().sign(&relabelled.encode(), &mut rng);
        let mut a = establish::initiate(&alice, &bad, Backend::Libcrux, &mut rng).unwrap();
        assert_eq!(a.kem, Some(label));
        let wire = a.session.encrypt(b"x", &mut rng).unwrap();
        assert_eq!(
            establish::accept(&mut bob, &wire, Backend::Libcrux).err(),
            handshake_err(HandshakeError::KemMismatch {
                expected: real,
                actual: label
            })
        );
        assert!(bob.pq_prekey(1).is_some());
    }
}

/// The parts of a pre-key message.
fn prekey_message(wire: &[u8]) -> PreKeyMessage {
    match WireMessage::parse(wire).unwrap() {
        WireMessage::PreKey(m) => m,
        WireMessage::Normal(_) => panic!("a pre-key message was expected"),
    }
}

/// The distinct Wycheproof X25519 public keys whose shared secret is all zeros.
fn zero_output_publics() -> Vec<PublicKey> {
    let text = std::fs::read_to_string(kat_path("wycheproof/x25519_test.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<PublicKey> = Vec::new();
    for group in json["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            let shared = hex::decode(test["shared"].as_str().unwrap()).unwrap();
            if shared.iter().any(|&b| b != 0) {
                continue;
            }
            let flags: Vec<&str> = test["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            assert!(flags.contains(&"ZeroSharedSecret"), "{flags:?}");
            let public = hex::decode(test["public"].as_str().unwrap()).unwrap();
            let key = PublicKey::from_slice(&public).unwrap();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

#[test]
fn wycheproof_zero_output_keys_are_non_contributory_everywhere() {
    let keys = zero_output_publics();
    assert!(keys.len() >= 10, "only {} keys", keys.len());
    let non_contributory = handshake_err(HandshakeError::Key(KeyError::NonContributory));
    let (mut rng, alice, mut bob) = parties(12, KemType::MlKem1024);
    let good = bundle_with_opk(&bob);
    let mut a = establish::initiate(&alice, &good, Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"hello", &mut rng).unwrap();
    let parsed = prekey_message(&wire);
    let header = pqxdh::InitialHeader::from_bytes(&parsed.prekey_header).unwrap();
    let mut c = conversation(12);
    let normal = c.alice.encrypt(b"normal", &mut c.rng).unwrap();
    for key in keys {
        // As the signed prekey (signed by Bob, so that the bundle verifies).
        let mut bundle = good.clone();
        bundle.signed_prekey.key = key;
        bundle.signed_prekey.signature = bob.identity().sign(&key.encode(), &mut rng);
        bundle.verify().unwrap();
        assert_eq!(
            establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).err(),
            non_contributory
        );
        // As the one-time prekey.
        let mut bundle = good.clone();
        bundle.one_time_prekey = Some(OneTimePreKeyPublic { id: OPK_ID, key });
        assert_eq!(
            establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).err(),
            non_contributory
        );
        // As the ephemeral key, and as the identity key, in the initial header.
        for replace in [0, 1] {
            let mut h = header.clone();
            if replace == 0 {
                h.ephemeral_key = key;
            } else {
                h.identity_key = key;
            }
            let mut m = parsed.clone();
            m.prekey_header = h.to_bytes();
            accept_refuses(&mut bob, &m.to_bytes(), non_contributory.as_ref());
        }
        // As the ratchet key of the message inside the pre-key message, and of a normal message.
        let mut m = parsed.clone();
        m.message.ratchet_key = key;
        accept_refuses(
            &mut bob,
            &m.to_bytes(),
            Some(&EstablishError::Decrypt(DecryptError::NonContributory)),
        );
        let mut m = WireMessage::parse(&normal).unwrap();
        if let WireMessage::Normal(n) = &mut m {
            n.ratchet_key = key;
        }
        refused(&mut c.bob, &m.to_bytes(), &DecryptError::NonContributory);
    }
    assert_eq!(c.bob.decrypt(&normal).unwrap(), b"normal");
    c.still_talks();
    establish::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
}

#[test]
fn cctv_invalid_mlkem_keys_are_refused_before_encapsulation() {
    let mut text = String::new();
    let file = std::fs::File::open(kat_path("cctv/ML-KEM/modulus/ML-KEM-1024.txt.gz")).unwrap();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    let (mut rng, _, bob) = parties(13, KemType::MlKem1024);
    let good: serde_json::Value =
        serde_json::from_str(&bob.default_bundle().unwrap().to_json()).unwrap();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let key = hex::decode(line.trim()).unwrap();
        assert_eq!(key.len(), PUBLIC_KEY_LEN);
        for kem in [KemType::MlKem1024, KemType::Kyber1024] {
            assert_eq!(
                KemPublicKey::from_slice(kem, &key).err(),
                Some(KemError::InvalidPublicKey)
            );
            // Published by Bob, with his valid signature over the encoding.
            let mut encoded = vec![kem.type_byte()];
            encoded.extend_from_slice(&key);
            let mut json = good.clone();
            json["pq_prekey"]["key"] = hex::encode(&encoded).into();
            json["pq_prekey"]["signature"] =
                hex::encode(bob.identity().sign(&encoded, &mut rng).as_bytes()).into();
            assert_eq!(
                PreKeyBundle::from_json(&json.to_string()).err(),
                Some(BundleError::Kem(KemError::InvalidPublicKey))
            );
        }
        count += 1;
    }
    assert_eq!(count, 1040);
}

#[test]
fn kem_ciphertext_for_another_key_fails_authentication() {
    let (mut rng, alice, mut bob) = parties(14, KemType::MlKem1024);
    let mut a =
        establish::initiate(&alice, &bundle_with_opk(&bob), Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"hi", &mut rng).unwrap();
    let mut parsed = prekey_message(&wire);
    let mut header = pqxdh::InitialHeader::from_bytes(&parsed.prekey_header).unwrap();
    // A ciphertext for another ML-KEM key, and one for another of Bob's own PQ prekeys.
    let other = KemKeyPair::generate(KemType::MlKem1024, Backend::Libcrux, &mut rng).unwrap();
    let own = PqPreKey::generate(
        2,
        PqPreKeyKind::OneTime,
        KemType::MlKem1024,
        bob.identity(),
        &mut rng,
    )
    .unwrap();
    let own_public = own.key_pair().public_key().clone();
    bob.add_pq_prekey(own);
    for key in [other.public_key(), &own_public] {
        let (ct, _) = key.encapsulate(Backend::Libcrux, &mut rng).unwrap();
        header.pq.as_mut().unwrap().ciphertext = ct;
        parsed.prekey_header = header.to_bytes();
        accept_refuses(
            &mut bob,
            &parsed.to_bytes(),
            Some(&EstablishError::Decrypt(DecryptError::InvalidTag)),
        );
    }
    assert!(bob.pq_prekey(2).is_some());
    assert_eq!(
        establish::accept(&mut bob, &wire, Backend::Libcrux)
            .unwrap()
            .1,
        b"hi"
    );
}

fn session_with<R: CryptoRng>(
    initiator: &IdentityKeyPair,
    responder: &mut PreKeyStore,
    rng: &mut R,
) -> (Session, Session) {
    let mut a = establish::initiate(
        initiator,
        &responder.default_bundle().unwrap(),
        Backend::Libcrux,
        rng,
    )
    .unwrap()
    .session;
    let first = a.encrypt(b"first", rng).unwrap();
    let (b, _) = establish::accept(responder, &first, Backend::Libcrux).unwrap();
    let mut b = b.session;
    a.decrypt(&b.encrypt(b"ack", rng).unwrap()).unwrap();
    (a, b)
}

#[test]
fn messages_from_another_identity_are_refused() {
    let (mut rng, alice, mut bob) = parties(15, KemType::MlKem1024);
    let carol = IdentityKeyPair::generate(&mut rng);
    let (mut alice_bob, mut bob_alice) = session_with(&alice, &mut bob, &mut rng);
    let (mut carol_bob, mut bob_carol) = session_with(&carol, &mut bob, &mut rng);
    // Carol's messages into Bob's session with Alice, and Bob's messages to Carol into Alice's.
    // Alice has received Bob's ack and not answered, so Bob's key to Carol is refused at once.
    assert_eq!(new_key_error(&bob_alice), DecryptError::InvalidTag);
    assert_eq!(
        new_key_error(&alice_bob),
        DecryptError::UnexpectedRatchetKey
    );
    for _ in 0..3 {
        let from_carol = carol_bob.encrypt(b"from Carol", &mut rng).unwrap();
        let expected = new_key_error(&bob_alice);
        refused(&mut bob_alice, &from_carol, &expected);
        assert_eq!(bob_carol.decrypt(&from_carol).unwrap(), b"from Carol");
        let to_carol = bob_carol.encrypt(b"to Carol", &mut rng).unwrap();
        let expected = new_key_error(&alice_bob);
        refused(&mut alice_bob, &to_carol, &expected);
        assert_eq!(carol_bob.decrypt(&to_carol).unwrap(), b"to Carol");
    }
    // A pre-key message whose IK_A was replaced by Carol's: the DH with IK_A and the associated
    // data both change.
    let wire = send_first(
        &alice,
        &bob.default_bundle().unwrap(),
        &mut rng,
        b"from Alice",
    );
    let mut parsed = prekey_message(&wire);
    let mut header = pqxdh::InitialHeader::from_bytes(&parsed.prekey_header).unwrap();
    header.identity_key = *carol.public_key();
    parsed.prekey_header = header.to_bytes();
    let err = establish::accept(&mut bob, &parsed.to_bytes(), Backend::Libcrux).err();
    assert_eq!(err, Some(EstablishError::Decrypt(DecryptError::InvalidTag)));
    // Bob's sessions carry on.
    let m = alice_bob.encrypt(b"still Alice", &mut rng).unwrap();
    assert_eq!(bob_alice.decrypt(&m).unwrap(), b"still Alice");
    let m = bob_carol.encrypt(b"still Carol", &mut rng).unwrap();
    assert_eq!(carol_bob.decrypt(&m).unwrap(), b"still Carol");
}
