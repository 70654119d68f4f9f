//! Session lifecycle: saving, restoring an older state and encrypting again never reuses an
//! AES-GCM key and nonce (issue 11, section 1), and what the peer does with such messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pqxdh::ratchet::message::{NORMAL_HEADER_LEN, SALT_LEN, WireMessage};
use pqxdh::ratchet::message_key::TAG_LEN;
use pqxdh::{ChainKey, DecryptError, KeyPair, PrivateKey, RootKey, Session};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

fn pair(seed: u64) -> (Session, Session, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let spk = KeyPair::from_private(PrivateKey::from_bytes([seed as u8 | 0x40; 32]));
    let alice = Session::new_initiator(
        RootKey::from_bytes([1; 32]),
        ChainKey::from_bytes([2; 32]),
        *spk.public_key(),
        vec![9; 66],
        b"pre-key header".to_vec(),
        &mut rng,
    )
    .unwrap();
    let bob = Session::new_responder(
        RootKey::from_bytes([1; 32]),
        ChainKey::from_bytes([2; 32]),
        spk,
        vec![9; 66],
    );
    (alice, bob, rng)
}

/// The body (ciphertext without tag) and salt of a message.
fn body_and_salt(wire: &[u8]) -> (Vec<u8>, [u8; SALT_LEN]) {
    let parsed = WireMessage::parse(wire).unwrap();
    let m = parsed.message();
    (
        m.ciphertext[..m.ciphertext.len() - TAG_LEN].to_vec(),
        m.salt,
    )
}

/// Save, encrypt m1, restore the saved bytes, encrypt m2 (same length): the keystreams differ.
fn assert_restore_does_not_reuse(session: &mut Session, rng: &mut ChaCha20Rng) {
    let m1 = b"attack at dawn, bring the maps!!";
    let m2 = b"retreat at dusk, burn the maps!!";
    let saved = session.to_bytes();
    let c1 = session.encrypt(m1, rng).unwrap();
    let mut restored = Session::from_bytes(&saved).unwrap();
    let c2 = restored.encrypt(m2, rng).unwrap();
    assert_eq!(c1.len(), c2.len());
    let (b1, s1) = body_and_salt(&c1);
    let (b2, s2) = body_and_salt(&c2);
    assert_ne!(s1, s2, "a restored state drew the same salt");
    let cx: Vec<u8> = b1.iter().zip(&b2).map(|(a, b)| a ^ b).collect();
    let mx: Vec<u8> = m1.iter().zip(m2).map(|(a, b)| a ^ b).collect();
    assert_ne!(cx, mx, "c1 xor c2 == m1 xor m2: key and nonce reused");
    *session = restored;
}

#[test]
fn restored_initiator_before_first_reply_does_not_reuse_key_and_nonce() {
    let (mut alice, _bob, mut rng) = pair(1);
    assert!(alice.info().sends_prekey_messages);
    assert_restore_does_not_reuse(&mut alice, &mut rng);
}

#[test]
fn restored_initiator_with_live_chain_does_not_reuse_key_and_nonce() {
    let (mut alice, mut bob, mut rng) = pair(2);
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    let w = bob.encrypt(b"hello", &mut rng).unwrap();
    alice.decrypt(&w).unwrap();
    let w = alice.encrypt(b"normal", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    assert!(!alice.info().sends_prekey_messages);
    assert_restore_does_not_reuse(&mut alice, &mut rng);
}

#[test]
fn restored_responder_does_not_reuse_key_and_nonce() {
    let (mut alice, mut bob, mut rng) = pair(3);
    // Before receiving (sending on the PQXDH chain key) and after a turn.
    assert_restore_does_not_reuse(&mut bob, &mut rng);
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    assert_restore_does_not_reuse(&mut bob, &mut rng);
}

#[test]
fn peer_refuses_reused_counter_of_restored_sender_and_accepts_later_ones() {
    let (mut alice, mut bob, mut rng) = pair(4);
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    let w = bob.encrypt(b"hello", &mut rng).unwrap();
    alice.decrypt(&w).unwrap();
    // Alice's sending chain exists (her deferred step ran) before she saves.
    let w = alice.encrypt(b"start", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();

    let saved = alice.to_bytes();
    let first = alice.encrypt(b"n0", &mut rng).unwrap();
    let second = alice.encrypt(b"n1", &mut rng).unwrap();
    assert_eq!(bob.decrypt(&first).unwrap(), b"n0");
    assert_eq!(bob.decrypt(&second).unwrap(), b"n1");

    // Restored Alice re-sends on counters 0 and 1: Bob already used those keys.
    let mut restored = Session::from_bytes(&saved).unwrap();
    let again0 = restored.encrypt(b"r0", &mut rng).unwrap();
    let again1 = restored.encrypt(b"r1", &mut rng).unwrap();
    let before = bob.to_bytes();
    assert_eq!(bob.decrypt(&again0), Err(DecryptError::Duplicate));
    assert_eq!(bob.decrypt(&again1), Err(DecryptError::Duplicate));
    assert_eq!(bob.to_bytes(), before, "refusal changed the session");
    // Counter 3 is new to Bob: accepted.
    let later = restored.encrypt(b"r2", &mut rng).unwrap();
    assert_eq!(bob.decrypt(&later).unwrap(), b"r2");
}

#[test]
fn rollback_across_a_dh_step_is_refused_by_the_peer() {
    let (mut alice, mut bob, mut rng) = pair(5);
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    let saved = alice.to_bytes(); // Alice on her first chain, before Bob's reply.
    let reply = bob.encrypt(b"hello", &mut rng).unwrap();
    alice.decrypt(&reply).unwrap();
    let w = alice.encrypt(b"new chain", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();

    // Restored Alice continues on the old chain: Bob moved past it.
    let mut restored = Session::from_bytes(&saved).unwrap();
    let old_chain = restored.encrypt(b"old chain", &mut rng).unwrap();
    let before = bob.to_bytes();
    assert_eq!(bob.decrypt(&old_chain), Err(DecryptError::Duplicate));
    assert_eq!(bob.to_bytes(), before);

    // Restored Alice receives Bob's reply again and ratchets with a new key: Bob refuses it.
    let mut restored = Session::from_bytes(&saved).unwrap();
    restored.decrypt(&reply).unwrap();
    let forked = restored.encrypt(b"forked", &mut rng).unwrap();
    assert!(bob.decrypt(&forked).is_err());
    assert_eq!(bob.to_bytes(), before);
    // And Bob's next message does not decrypt at the restored Alice: the session must be
    // established again.
    let next = bob.encrypt(b"still there?", &mut rng).unwrap();
    assert!(restored.decrypt(&next).is_err());
}

#[test]
fn header_carries_the_salt() {
    assert_eq!(NORMAL_HEADER_LEN, 59);
    let (mut alice, mut bob, mut rng) = pair(6);
    let w = alice.encrypt(b"x", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    let w = bob.encrypt(b"abc", &mut rng).unwrap();
    assert_eq!(w.len(), NORMAL_HEADER_LEN + 3 + TAG_LEN);
    assert_eq!(w[0], 0x02);
    // An old-version message is refused with a typed error.
    let mut old = w.clone();
    old[0] = 0x01;
    assert_eq!(alice.decrypt(&old), Err(DecryptError::UnknownVersion(1)));
    // A modified salt is refused.
    let mut bad = w.clone();
    bad[NORMAL_HEADER_LEN - 1] ^= 1;
    assert_eq!(alice.decrypt(&bad), Err(DecryptError::InvalidTag));
    assert_eq!(alice.decrypt(&w).unwrap(), b"abc");
}
