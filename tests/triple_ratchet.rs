//! The triple ratchet (Double Ratchet plus SPQR, wire version 0x03): the default for new PQXDH
//! sessions. Epochs complete over a conversation, every tampering and downgrade is refused with
//! the session unchanged, replays are refused, and saved sessions carry the SPQR state.
#![cfg(feature = "spqr")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{bundle_with_opk, conversation, conversation_with, flip, parties, refused};
use pqxdh::ratchet::message::{NORMAL_HEADER_LEN, WIRE_VERSION, WIRE_VERSION_TRIPLE};
use pqxdh::sessions::establish::{self, RatchetKind};
use pqxdh::{Backend, DecryptError, KemType, Session, WireMessage};

fn triple(seed: u64) -> common::Conversation {
    conversation_with(seed, RatchetKind::Triple)
}

#[test]
fn new_pqxdh_sessions_are_triple_ratchets_by_default() {
    let (mut rng, alice, mut bob) = parties(1, KemType::MlKem1024);
    let mut a =
        pqxdh::initiate(&alice, &bundle_with_opk(&bob), Backend::Libcrux, &mut rng).unwrap();
    assert!(a.session.is_triple_ratchet());
    let wire = a.session.encrypt(b"hi", &mut rng).unwrap();
    assert_eq!(wire[0], WIRE_VERSION_TRIPLE);
    let (b, text) = pqxdh::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
    assert_eq!(text, b"hi");
    assert!(b.session.is_triple_ratchet());
    assert_eq!(b.session.info().pq_epoch, Some(1));
}

#[test]
fn a_long_conversation_completes_spqr_epochs_and_survives_saves() {
    let mut c = triple(2);
    for round in 0..300 {
        c.a_to_b(format!("a{round}").as_bytes());
        c.b_to_a(format!("b{round}").as_bytes());
        if round % 50 == 49 {
            assert_eq!(c.alice.saved_len(), c.alice.to_bytes().len());
            c.alice = Session::from_bytes(&c.alice.to_bytes()).unwrap();
            c.bob = Session::from_bytes(&c.bob.to_bytes()).unwrap();
        }
    }
    let epoch = c.alice.info().pq_epoch.unwrap();
    assert!(epoch >= 5, "only {epoch} epochs after 600 messages");
    assert_eq!(
        c.alice.to_bytes()[2],
        0x03,
        "saved as a triple-ratchet state"
    );
}

#[test]
fn every_bit_flip_of_a_triple_message_is_refused_and_changes_nothing() {
    let mut c = triple(3);
    c.a_to_b(b"zero");
    let wire = c.alice.encrypt(b"one", &mut c.rng).unwrap();
    assert_eq!(wire[0], WIRE_VERSION_TRIPLE);
    for bit in 0..wire.len() * 8 {
        let bad = flip(&wire, bit);
        let before = c.bob.to_bytes();
        assert!(c.bob.decrypt(&bad).is_err(), "bit {bit} accepted");
        assert_eq!(*c.bob.to_bytes(), *before, "bit {bit} changed the session");
    }
    assert_eq!(c.bob.decrypt(&wire).unwrap(), b"one");
}

#[test]
fn stripping_spqr_to_downgrade_is_refused() {
    let mut c = triple(4);
    let wire = c.alice.encrypt(b"secret", &mut c.rng).unwrap();
    let parsed = WireMessage::parse(&wire).unwrap();
    let mut stripped = parsed.message().clone();
    stripped.pq_message = None;
    let downgraded = stripped.to_bytes();
    assert_eq!(downgraded[0], WIRE_VERSION);
    refused(
        &mut c.bob,
        &downgraded,
        &DecryptError::VersionMismatch(WIRE_VERSION),
    );
    // And a classical session refuses a triple-ratchet message.
    let mut classical = conversation(4);
    refused(
        &mut classical.bob,
        &wire,
        &DecryptError::VersionMismatch(WIRE_VERSION_TRIPLE),
    );
    assert_eq!(c.bob.decrypt(&wire).unwrap(), b"secret");
}

#[test]
fn a_stripped_first_message_opens_no_session() {
    let (mut rng, alice, mut bob) = parties(5, KemType::MlKem1024);
    let mut a =
        pqxdh::initiate(&alice, &bundle_with_opk(&bob), Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"first", &mut rng).unwrap();
    let WireMessage::PreKey(mut pre) = WireMessage::parse(&wire).unwrap() else {
        panic!("a pre-key message");
    };
    pre.message.pq_message = None;
    let err = pqxdh::accept(&mut bob, &pre.to_bytes(), Backend::Libcrux).unwrap_err();
    assert_eq!(
        err,
        pqxdh::EstablishError::Decrypt(DecryptError::InvalidTag),
        "the classical keys differ from the triple ones and the version byte is authenticated"
    );
    // The genuine message still opens the session: the refusal consumed nothing.
    assert_eq!(
        pqxdh::accept(&mut bob, &wire, Backend::Libcrux).unwrap().1,
        b"first"
    );
}

#[test]
fn replays_are_refused_in_and_out_of_order() {
    let mut c = triple(6);
    let mut sent = Vec::new();
    for i in 0..120 {
        let w = c
            .alice
            .encrypt(format!("m{i}").as_bytes(), &mut c.rng)
            .unwrap();
        sent.push(w);
        if i % 3 == 0 {
            c.b_to_a(b"ack");
        }
    }
    // Deliver out of order, then replay everything.
    for w in sent.iter().rev() {
        c.bob.decrypt(w).unwrap();
    }
    for w in &sent {
        refused(&mut c.bob, w, &DecryptError::Duplicate);
    }
    c.still_talks();
}

#[test]
fn a_failed_decrypt_and_a_restored_state_reuse_no_key() {
    let mut c = triple(7);
    c.a_to_b(b"warm up");
    let saved = c.alice.to_bytes();
    let first = c.alice.encrypt(b"same counter", &mut c.rng).unwrap();
    // Alice restores the older state and sends again on the same counters.
    let mut restored = Session::from_bytes(&saved).unwrap();
    let second = restored.encrypt(b"same counter", &mut c.rng).unwrap();
    // Same header position, different salt and ciphertext: no (key, nonce) is repeated.
    let salt = NORMAL_HEADER_LEN - 16..NORMAL_HEADER_LEN;
    assert_ne!(first[salt.clone()], second[salt]);
    assert_ne!(first[NORMAL_HEADER_LEN..], second[NORMAL_HEADER_LEN..]);
    assert_eq!(c.bob.decrypt(&first).unwrap(), b"same counter");
    // The second copy uses the same SPQR key index: refused as a repeat.
    refused(&mut c.bob, &second, &DecryptError::Duplicate);
}

#[test]
fn classical_sessions_stay_available() {
    let (mut rng, alice, mut bob) = parties(8, KemType::MlKem1024);
    let mut a = establish::initiate_with_ratchet(
        &alice,
        &bundle_with_opk(&bob),
        Backend::Libcrux,
        RatchetKind::Classical,
        &mut rng,
    )
    .unwrap();
    let wire = a.session.encrypt(b"classic", &mut rng).unwrap();
    assert_eq!(wire[0], WIRE_VERSION);
    let (b, _) = pqxdh::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
    assert!(!b.session.is_triple_ratchet());
    assert_eq!(
        b.session.to_bytes()[2],
        0x02,
        "classical sessions keep state version 2"
    );
}

#[test]
fn a_message_of_another_session_is_never_called_a_repeat() {
    // A client with two sessions with one peer tries each; only an authenticated repeat may
    // stop it. SPQR's counters of the two sessions overlap, so its verdict must not be final.
    let mut one = triple(9);
    let mut two = triple(10);
    // Bob of session one is further along SPQR's chain than Alice of session two, and has a
    // sending chain, so the foreign message gets past the Double Ratchet's checks to SPQR.
    for _ in 0..6 {
        one.a_to_b(b"warm");
    }
    one.b_to_a(b"reply");
    two.a_to_b(b"warm");
    let wire = two
        .alice
        .encrypt(b"for the second session", &mut two.rng)
        .unwrap();
    let before = one.bob.to_bytes();
    let err = one.bob.decrypt(&wire).unwrap_err();
    assert_ne!(err, DecryptError::Duplicate);
    assert_eq!(*one.bob.to_bytes(), *before);
    assert_eq!(two.bob.decrypt(&wire).unwrap(), b"for the second session");
}
