//! Double Ratchet sessions: conversations, out-of-order delivery, limits, replays, tampering,
//! forward secrecy, saved state and hostile inputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pqxdh::ratchet::session::{MAX_MESSAGE_GAP, MAX_SKIPPED_KEYS};
use pqxdh::ratchet::{DecryptError, Session, WireMessage};
use pqxdh::{ChainKey, KeyPair, RootKey};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use rand_core::Rng;

const PREKEY_HEADER: &[u8] = b"opaque pre-key header";

fn sessions(seed: u64) -> (Session, Session, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut root = [0u8; 32];
    let mut chain = [0u8; 32];
    let mut ad = vec![0u8; 66];
    rng.fill_bytes(&mut root);
    rng.fill_bytes(&mut chain);
    rng.fill_bytes(&mut ad);
    let spk = KeyPair::generate(&mut rng);
    let alice = Session::new_initiator(
        RootKey::from_bytes(root),
        ChainKey::from_bytes(chain),
        *spk.public_key(),
        ad.clone(),
        PREKEY_HEADER.to_vec(),
        &mut rng,
    )
    .unwrap();
    let bob = Session::new_responder(
        RootKey::from_bytes(root),
        ChainKey::from_bytes(chain),
        spk,
        ad,
    );
    (alice, bob, rng)
}

fn text(who: &str, i: usize) -> Vec<u8> {
    format!("{who} message {i}").into_bytes()
}

/// Asserts that decrypting `wire` fails with `expected` and leaves `session` byte-for-byte unchanged.
fn refused(session: &mut Session, wire: &[u8], expected: Option<DecryptError>) {
    let before = session.to_bytes();
    let err = session.decrypt(wire).expect_err("message must be refused");
    if let Some(expected) = expected {
        assert_eq!(err, expected);
    }
    assert_eq!(*session.to_bytes(), *before, "state changed after {err:?}");
}

#[test]
fn conversation_with_many_ratchet_turns() {
    let (mut alice, mut bob, mut rng) = sessions(1);
    let mut count = 0;
    for turn in 0..30 {
        let burst = 1 + turn % 4;
        let (sender, receiver, name) = if turn % 2 == 0 {
            (&mut alice, &mut bob, "alice")
        } else {
            (&mut bob, &mut alice, "bob")
        };
        let key_before = sender.info().our_ratchet_key;
        for i in 0..burst {
            let wire = sender.encrypt(&text(name, i), &mut rng).unwrap();
            // Alice sends pre-key messages until her first reply.
            let expected_type = if turn == 0 { 0x02 } else { 0x01 };
            assert_eq!(wire[1], expected_type, "turn {turn}");
            assert_eq!(receiver.decrypt(&wire).unwrap(), text(name, i));
            count += 1;
        }
        if turn >= 2 {
            // Every turn after the first two starts a new sending chain with a new ratchet key.
            assert_ne!(sender.info().our_ratchet_key, key_before, "turn {turn}");
        }
        assert_eq!(sender.info().sending_counter, Some(burst as u32));
        // The receiver did only the receive half: its send half waits for its next encrypt.
        if turn >= 1 {
            assert_eq!(receiver.info().sending_counter, None, "turn {turn}");
        }
    }
    assert_eq!(count, (0..30).map(|t| 1 + t % 4).sum::<usize>());
    assert!(alice.info().has_received && bob.info().has_received);
    assert_eq!(alice.info().skipped_keys, 0);
    assert_eq!(bob.info().receiving_chains, 5);
}

#[test]
fn responder_can_send_first_and_previous_counter_is_sent() {
    let (mut alice, mut bob, mut rng) = sessions(2);
    // Bob sends on the PQXDH chain key before hearing from Alice.
    let b0 = bob.encrypt(b"early", &mut rng).unwrap();
    let b1 = bob.encrypt(b"early 2", &mut rng).unwrap();
    let a0 = alice.encrypt(b"hi", &mut rng).unwrap();
    assert_eq!(alice.decrypt(&b1).unwrap(), b"early 2");
    assert_eq!(alice.info().skipped_keys, 1);
    // Alice's receiving chain was Bob's signed prekey: no DH step, so her chain continues.
    assert_eq!(alice.info().sending_counter, Some(1));
    assert!(!alice.info().sends_prekey_messages);
    assert_eq!(bob.decrypt(&a0).unwrap(), b"hi");
    assert_eq!(alice.decrypt(&b0).unwrap(), b"early");
    let b2 = bob.encrypt(b"after", &mut rng).unwrap();
    let parsed = WireMessage::parse(&b2).unwrap();
    assert_eq!(parsed.message().previous_counter, 2);
    assert_eq!(parsed.message().counter, 0);
    assert_eq!(alice.decrypt(&b2).unwrap(), b"after");
}

#[test]
fn prekey_message_binds_its_header() {
    let (mut alice, mut bob, mut rng) = sessions(3);
    let wire = alice.encrypt(b"first", &mut rng).unwrap();
    let parsed = WireMessage::parse(&wire).unwrap();
    assert_eq!(parsed.prekey_header(), Some(PREKEY_HEADER));
    // The embedded message alone, or with another header, does not verify.
    refused(
        &mut bob,
        &parsed.message().to_bytes(),
        Some(DecryptError::InvalidTag),
    );
    let mut other = match parsed.clone() {
        WireMessage::PreKey(m) => m,
        WireMessage::Normal(_) => panic!("expected a pre-key message"),
    };
    other.prekey_header = b"another header".to_vec();
    refused(&mut bob, &other.to_bytes(), Some(DecryptError::InvalidTag));
    assert_eq!(bob.decrypt(&wire).unwrap(), b"first");
}

#[test]
fn too_far_ahead_is_refused_and_state_unchanged() {
    let (mut alice, mut bob, mut rng) = sessions(4);
    let first = alice.encrypt(b"0", &mut rng).unwrap();
    bob.decrypt(&first).unwrap();
    let mut wires = Vec::new();
    for i in 0..=MAX_MESSAGE_GAP + 1 {
        wires.push(alice.encrypt(i.to_string().as_bytes(), &mut rng).unwrap());
    }
    // Bob expects N = 1; N = 1 + MAX_MESSAGE_GAP + 1 would skip one key too many.
    let last = wires.last().unwrap().clone();
    refused(&mut bob, &last, Some(DecryptError::TooFarAhead));
    // Exactly MAX_MESSAGE_GAP skipped keys is allowed.
    let at_limit = &wires[MAX_MESSAGE_GAP as usize];
    assert_eq!(
        bob.decrypt(at_limit).unwrap(),
        MAX_MESSAGE_GAP.to_string().as_bytes()
    );
    assert_eq!(bob.info().skipped_keys, MAX_MESSAGE_GAP as usize);
    assert_eq!(
        bob.decrypt(&last).unwrap(),
        (MAX_MESSAGE_GAP + 1).to_string().as_bytes()
    );
    assert_eq!(bob.decrypt(&wires[7]).unwrap(), b"7");
}

#[test]
fn too_far_ahead_in_a_new_chain_and_via_previous_counter() {
    let (mut alice, mut bob, mut rng) = sessions(5);
    bob.decrypt(&alice.encrypt(b"x", &mut rng).unwrap())
        .unwrap();
    // Alice sends many messages Bob never sees, then a reply from Bob makes her ratchet.
    for _ in 0..MAX_MESSAGE_GAP + 1 {
        alice.encrypt(b"lost", &mut rng).unwrap();
    }
    alice
        .decrypt(&bob.encrypt(b"r", &mut rng).unwrap())
        .unwrap();
    let next = alice.encrypt(b"new chain", &mut rng).unwrap();
    assert_eq!(
        WireMessage::parse(&next)
            .unwrap()
            .message()
            .previous_counter,
        MAX_MESSAGE_GAP + 2
    );
    // Storing keys 1..PN of the old chain would skip MAX_MESSAGE_GAP + 1 keys.
    refused(&mut bob, &next, Some(DecryptError::TooFarAhead));
}

#[test]
fn skipped_key_store_evicts_the_oldest() {
    let (mut alice, mut bob, mut rng) = sessions(6);
    let mut wires = Vec::new();
    for i in 0..MAX_SKIPPED_KEYS + 4 {
        wires.push(alice.encrypt(i.to_string().as_bytes(), &mut rng).unwrap());
    }
    let half = MAX_SKIPPED_KEYS / 2 + 1;
    assert_eq!(
        bob.decrypt(&wires[half]).unwrap(),
        half.to_string().as_bytes()
    );
    let last = MAX_SKIPPED_KEYS + 3;
    assert_eq!(
        bob.decrypt(&wires[last]).unwrap(),
        last.to_string().as_bytes()
    );
    assert_eq!(bob.info().skipped_keys, MAX_SKIPPED_KEYS);
    // Keys 0 and 1 were the oldest and are gone; key 2 is still there.
    refused(&mut bob, &wires[0], Some(DecryptError::Duplicate));
    refused(&mut bob, &wires[1], Some(DecryptError::Duplicate));
    assert_eq!(bob.decrypt(&wires[2]).unwrap(), b"2");
}

#[test]
fn replays_are_refused_as_duplicates_without_state_change() {
    let (mut alice, mut bob, mut rng) = sessions(7);
    let a: Vec<_> = (0..3)
        .map(|i| alice.encrypt(&text("a", i), &mut rng).unwrap())
        .collect();
    bob.decrypt(&a[2]).unwrap();
    bob.decrypt(&a[0]).unwrap();
    refused(&mut bob, &a[2], Some(DecryptError::Duplicate)); // current chain
    refused(&mut bob, &a[0], Some(DecryptError::Duplicate)); // used skipped key
    // Move Bob's receiving chain on: the old chain's messages are still recognised.
    alice
        .decrypt(&bob.encrypt(b"r", &mut rng).unwrap())
        .unwrap();
    bob.decrypt(&alice.encrypt(b"new", &mut rng).unwrap())
        .unwrap();
    refused(&mut bob, &a[2], Some(DecryptError::Duplicate));
    assert_eq!(bob.decrypt(&a[1]).unwrap(), text("a", 1));
    refused(&mut bob, &a[1], Some(DecryptError::Duplicate));
}

#[test]
fn forward_secrecy_after_save_and_restore() {
    let (mut alice, mut bob, mut rng) = sessions(8);
    let m0 = alice.encrypt(b"secret", &mut rng).unwrap();
    let m1 = alice.encrypt(b"secret 2", &mut rng).unwrap();
    let before = bob.to_bytes();
    bob.decrypt(&m1).unwrap();
    bob.decrypt(&m0).unwrap();
    let after = bob.to_bytes();
    let mut restored = Session::from_bytes(&after).unwrap();
    refused(&mut restored, &m0, Some(DecryptError::Duplicate));
    refused(&mut restored, &m1, Some(DecryptError::Duplicate));
    // The state saved before decrypting still can.
    let mut earlier = Session::from_bytes(&before).unwrap();
    assert_eq!(earlier.decrypt(&m0).unwrap(), b"secret");
}

#[test]
fn every_bit_flip_is_refused_without_state_change() {
    let (mut alice, mut bob, mut rng) = sessions(9);
    let prekey = alice.encrypt(b"pre-key", &mut rng).unwrap();
    for wire in [prekey.clone()] {
        for bit in 0..wire.len() * 8 {
            let mut bad = wire.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            refused(&mut bob, &bad, None);
        }
    }
    bob.decrypt(&prekey).unwrap();
    alice
        .decrypt(&bob.encrypt(b"reply", &mut rng).unwrap())
        .unwrap();
    let _skipped = alice.encrypt(b"one", &mut rng).unwrap();
    let normal = alice.encrypt(b"a normal message", &mut rng).unwrap();
    assert_eq!(normal[1], 0x01);
    for bit in 0..normal.len() * 8 {
        let mut bad = normal.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        refused(&mut bob, &bad, None);
    }
    assert_eq!(bob.decrypt(&normal).unwrap(), b"a normal message");
}

#[test]
fn small_order_ratchet_key_is_non_contributory() {
    let (mut alice, mut bob, mut rng) = sessions(10);
    let wire = alice.encrypt(b"x", &mut rng).unwrap();
    let mut msg = WireMessage::parse(&wire).unwrap();
    if let WireMessage::PreKey(m) = &mut msg {
        m.message.ratchet_key = pqxdh::PublicKey::from_bytes([0; 32]);
    }
    refused(
        &mut bob,
        &msg.to_bytes(),
        Some(DecryptError::NonContributory),
    );
}

#[test]
fn saved_sizes() {
    let (mut alice, mut bob, mut rng) = sessions(11);
    let initiator_fresh = alice.to_bytes().len();
    bob.decrypt(&alice.encrypt(b"a", &mut rng).unwrap())
        .unwrap();
    alice
        .decrypt(&bob.encrypt(b"b", &mut rng).unwrap())
        .unwrap();
    for _ in 0..4 {
        bob.decrypt(&alice.encrypt(b"a", &mut rng).unwrap())
            .unwrap();
        alice
            .decrypt(&bob.encrypt(b"b", &mut rng).unwrap())
            .unwrap();
    }
    let idle = alice.to_bytes().len();
    assert_eq!(idle, alice.saved_len());
    assert!(idle <= 512, "idle session is {idle} bytes");
    assert!(bob.to_bytes().len() <= 512);
    let mut sizes = vec![];
    for n in [1usize, 10, 100, 1000] {
        let (mut a, mut b, mut rng) = sessions(12);
        for _ in 0..n {
            a.encrypt(b"lost", &mut rng).unwrap();
        }
        b.decrypt(&a.encrypt(b"last", &mut rng).unwrap()).unwrap();
        assert_eq!(b.info().skipped_keys, n);
        sizes.push((n, b.to_bytes().len()));
    }
    eprintln!(
        "initiator before reply: {initiator_fresh} bytes; idle: {idle} bytes; skipped: {sizes:?}"
    );
    // Each further skipped key in the same run costs 36 bytes.
    assert_eq!(sizes[1].1 - sizes[0].1, 9 * 36);
}

#[test]
fn restored_state_round_trips_and_rejects_bad_headers() {
    let (mut alice, mut bob, mut rng) = sessions(13);
    bob.decrypt(&alice.encrypt(b"a", &mut rng).unwrap())
        .unwrap();
    let saved = bob.to_bytes();
    assert_eq!(*Session::from_bytes(&saved).unwrap().to_bytes(), *saved);
    use pqxdh::StateError;
    let mut bad = saved.to_vec();
    bad[0] = b'X';
    assert_eq!(Session::from_bytes(&bad).err(), Some(StateError::BadMagic));
    let mut bad = saved.to_vec();
    bad[2] = 9;
    assert_eq!(
        Session::from_bytes(&bad).err(),
        Some(StateError::UnsupportedVersion(9))
    );
    let mut bad = saved.to_vec();
    bad[3] |= 0x80;
    assert!(matches!(
        Session::from_bytes(&bad),
        Err(StateError::Invalid(_))
    ));
    let mut bad = saved.to_vec();
    bad.push(0);
    assert_eq!(
        Session::from_bytes(&bad).err(),
        Some(StateError::TrailingBytes)
    );
    for len in 0..saved.len() {
        assert!(Session::from_bytes(&saved[..len]).is_err(), "prefix {len}");
    }
}

/// One step of a random conversation.
#[derive(Debug, Clone)]
enum Op {
    Send { alice: bool },
    Deliver { to_alice: bool, pick: usize },
    SaveRestore { alice: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<bool>().prop_map(|alice| Op::Send { alice }),
        4 => (any::<bool>(), any::<usize>()).prop_map(|(to_alice, pick)| Op::Deliver { to_alice, pick }),
        1 => any::<bool>().prop_map(|alice| Op::SaveRestore { alice }),
    ]
}

fn save_restore(session: &mut Session) {
    let saved = session.to_bytes();
    let restored = Session::from_bytes(&saved).unwrap();
    assert_eq!(*restored.to_bytes(), *saved);
    *session = restored;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Random interleavings of sends, out-of-order deliveries and save/restore: every message
    /// decrypts exactly once to its plaintext, and replays are refused.
    #[test]
    fn random_conversations_with_save_restore(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..60)) {
        let (mut alice, mut bob, mut rng) = sessions(seed);
        let mut to_bob: Vec<(Vec<u8>, Vec<u8>)> = vec![];
        let mut to_alice: Vec<(Vec<u8>, Vec<u8>)> = vec![];
        let mut delivered: Vec<(bool, Vec<u8>)> = vec![];
        let mut sent = 0usize;
        for op in ops {
            match op {
                Op::Send { alice: true } => {
                    let pt = text("alice", sent);
                    to_bob.push((alice.encrypt(&pt, &mut rng).unwrap(), pt));
                    sent += 1;
                }
                Op::Send { alice: false } => {
                    let pt = text("bob", sent);
                    to_alice.push((bob.encrypt(&pt, &mut rng).unwrap(), pt));
                    sent += 1;
                }
                Op::Deliver { to_alice: to_a, pick } => {
                    let (queue, session) = if to_a { (&mut to_alice, &mut alice) } else { (&mut to_bob, &mut bob) };
                    if !queue.is_empty() {
                        let (wire, pt) = queue.remove(pick % queue.len());
                        prop_assert_eq!(session.decrypt(&wire).unwrap(), pt);
                        // An immediate replay is recognised as a duplicate.
                        refused(session, &wire, Some(DecryptError::Duplicate));
                        delivered.push((to_a, wire));
                    }
                }
                Op::SaveRestore { alice: true } => save_restore(&mut alice),
                Op::SaveRestore { alice: false } => save_restore(&mut bob),
            }
        }
        // Later replays are refused too: as duplicates while their chain is remembered, as
        // unauthentic (a failed DH step) once more than 5 receiving chains have passed.
        for (to_a, wire) in delivered {
            let session = if to_a { &mut alice } else { &mut bob };
            refused(session, &wire, None);
        }
    }

    /// Alice sends a batch, Bob replies after one of them, Alice sends a second batch on a new
    /// ratchet key: any permutation of everything still in flight decrypts each message once.
    #[test]
    fn any_permutation_of_a_window_decrypts_once(
        seed in any::<u64>(),
        n1 in 1usize..8,
        n2 in 0usize..6,
        replies in 1usize..4,
        first in any::<usize>(),
        order in any::<u64>(),
    ) {
        let (mut alice, mut bob, mut rng) = sessions(seed);
        let batch1: Vec<_> = (0..n1).map(|i| (alice.encrypt(&text("a", i), &mut rng).unwrap(), text("a", i))).collect();
        let first = first % n1;
        prop_assert_eq!(bob.decrypt(&batch1[first].0).unwrap(), batch1[first].1.clone());
        let reply: Vec<_> = (0..replies).map(|i| (bob.encrypt(&text("b", i), &mut rng).unwrap(), text("b", i))).collect();
        prop_assert_eq!(alice.decrypt(&reply[0].0).unwrap(), reply[0].1.clone());
        let batch2: Vec<_> = (0..n2).map(|i| (alice.encrypt(&text("c", i), &mut rng).unwrap(), text("c", i))).collect();

        let mut pending: Vec<(bool, Vec<u8>, Vec<u8>)> = vec![];
        for (i, (w, p)) in batch1.iter().enumerate() {
            if i != first { pending.push((false, w.clone(), p.clone())); }
        }
        for (w, p) in batch2.iter() { pending.push((false, w.clone(), p.clone())); }
        for (w, p) in reply.iter().skip(1) { pending.push((true, w.clone(), p.clone())); }
        let mut shuffle = ChaCha20Rng::seed_from_u64(order);
        for i in (1..pending.len()).rev() {
            let j = (shuffle.next_u64() % (i as u64 + 1)) as usize;
            pending.swap(i, j);
        }
        for (to_alice, wire, pt) in &pending {
            let session = if *to_alice { &mut alice } else { &mut bob };
            prop_assert_eq!(session.decrypt(wire).unwrap(), pt.clone());
        }
        prop_assert_eq!(bob.info().skipped_keys, 0);
        prop_assert_eq!(alice.info().skipped_keys, 0);
        for (to_alice, wire, _) in &pending {
            let session = if *to_alice { &mut alice } else { &mut bob };
            refused(session, wire, Some(DecryptError::Duplicate));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random bytes, and valid messages with random bytes spliced in, give typed errors.
    #[test]
    fn garbage_messages_give_typed_errors(bytes in prop::collection::vec(any::<u8>(), 0..160), cut in any::<usize>()) {
        let (mut alice, mut bob, mut rng) = sessions(14);
        refused(&mut bob, &bytes, None);
        let _ = WireMessage::parse(&bytes);
        let wire = alice.encrypt(b"hello", &mut rng).unwrap();
        let cut = cut % (wire.len() + 1);
        let mut spliced = wire[..cut].to_vec();
        spliced.extend_from_slice(&bytes);
        if spliced != wire {
            refused(&mut bob, &spliced, None);
        }
        assert_eq!(bob.decrypt(&wire).unwrap(), b"hello");
    }

    /// Random bytes and corrupted saved states never panic `from_bytes`.
    #[test]
    fn garbage_states_give_typed_errors(bytes in prop::collection::vec(any::<u8>(), 0..600), at in any::<usize>(), xor in 1u8..) {
        let _ = Session::from_bytes(&bytes);
        let mut with_magic = b"DR\x01".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Session::from_bytes(&with_magic);
        let (mut alice, mut bob, mut rng) = sessions(15);
        for _ in 0..3 {
            bob.decrypt(&alice.encrypt(b"m", &mut rng).unwrap()).unwrap();
        }
        let _ = alice.encrypt(b"skipped", &mut rng).unwrap();
        bob.decrypt(&alice.encrypt(b"m", &mut rng).unwrap()).unwrap();
        let mut saved = bob.to_bytes().to_vec();
        let at = at % saved.len();
        saved[at] ^= xor;
        if let Ok(mut session) = Session::from_bytes(&saved) {
            // Whatever was accepted can be used and saved again without panicking.
            let _ = session.decrypt(&alice.encrypt(b"m", &mut rng).unwrap());
            let _ = session.encrypt(b"x", &mut rng);
            let _ = session.to_bytes();
        }
    }
}
