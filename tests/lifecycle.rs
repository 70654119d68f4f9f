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

/// Whether `haystack` contains `needle` anywhere.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn responder_session_drops_the_signed_prekey_private_key_at_its_first_decrypt() {
    let (mut alice, mut bob, mut rng) = pair(7);
    let spk_private = [7u8 | 0x40; 32];
    // Before any message the responder sends on its signed prekey: the key is still needed.
    assert!(contains(&bob.to_bytes(), &spk_private));
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    // Receive-only from here: the saved form holds the public key only.
    let saved = bob.to_bytes();
    assert!(!contains(&saved, &spk_private));
    assert_eq!(saved[2], 0x02, "saved-session version");
    let w = alice.encrypt(b"again", &mut rng).unwrap();
    assert_eq!(bob.decrypt(&w).unwrap(), b"again");
    assert!(!contains(&bob.to_bytes(), &spk_private));
    // After the reply (a new ratchet key) and restore, the conversation continues.
    let reply = bob.encrypt(b"hello", &mut rng).unwrap();
    assert!(!contains(&bob.to_bytes(), &spk_private));
    let mut bob = Session::from_bytes(&bob.to_bytes()).unwrap();
    assert_eq!(alice.decrypt(&reply).unwrap(), b"hello");
    let w = alice.encrypt(b"third", &mut rng).unwrap();
    assert_eq!(bob.decrypt(&w).unwrap(), b"third");
}

#[test]
fn version_1_saved_session_holding_the_prekey_private_key_is_upgraded_on_load() {
    let (mut alice, mut bob, mut rng) = pair(8);
    let spk_private = [8u8 | 0x40; 32];
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    let current = bob.to_bytes();
    // Version 1 wrote our ratchet private key where version 2 writes the public key (after
    // magic, version, flags and the root key) even with the sending half deferred.
    const KEY_AT: usize = 2 + 1 + 1 + 32;
    assert_eq!(current[3] & 0x02, 0, "no sending chain");
    let mut v1 = current.to_vec();
    v1[2] = 0x01;
    v1[KEY_AT..KEY_AT + 32].copy_from_slice(&spk_private);
    let mut upgraded = Session::from_bytes(&v1).unwrap();
    assert_eq!(*upgraded.to_bytes(), *current);
    assert!(!contains(&upgraded.to_bytes(), &spk_private));
    let w = alice.encrypt(b"after upgrade", &mut rng).unwrap();
    assert_eq!(upgraded.decrypt(&w).unwrap(), b"after upgrade");
    let reply = upgraded.encrypt(b"reply", &mut rng).unwrap();
    assert_eq!(alice.decrypt(&reply).unwrap(), b"reply");
}

#[test]
fn a_new_ratchet_key_before_we_answered_is_refused_without_key_derivation() {
    let (mut alice, mut bob, mut rng) = pair(9);
    let w = alice.encrypt(b"hi", &mut rng).unwrap();
    bob.decrypt(&w).unwrap();
    // A message under a ratchet key Bob never answered: Alice cannot have made it honestly.
    let (mut mallory, _, _) = pair(10);
    let forged = mallory.encrypt(b"forged", &mut rng).unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.decrypt(&forged),
        Err(DecryptError::UnexpectedRatchetKey)
    );
    assert_eq!(*bob.to_bytes(), *before);
    let w = alice.encrypt(b"still fine", &mut rng).unwrap();
    assert_eq!(bob.decrypt(&w).unwrap(), b"still fine");
}
