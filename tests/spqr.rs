//! SPQR (the ML-KEM Braid and its chain) under the delivery patterns the specification names:
//! ping-pong, one-sided bursts, loss, reordering inside and across epochs; tampering, replays,
//! saved states and hostile input.
#![cfg(feature = "spqr")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use pqxdh::spqr::{Direction, SpqrError, SpqrState};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

const AUTH_KEY: [u8; 32] = [0x29; 32];

struct Pair {
    a: SpqrState,
    b: SpqrState,
    rng: ChaCha20Rng,
}

/// A message in flight: its bytes and the key its sender used.
type Flight = (Vec<u8>, [u8; 32]);

impl Pair {
    fn new(seed: u64) -> Self {
        Self {
            a: SpqrState::new(&AUTH_KEY, Direction::AToB),
            b: SpqrState::new(&AUTH_KEY, Direction::BToA),
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    fn send(&mut self, from_a: bool) -> Flight {
        let state = if from_a { &mut self.a } else { &mut self.b };
        let (next, sent) = state.send(&mut self.rng).unwrap();
        *state = next;
        (sent.message, sent.key.expect("V1 always keys messages").0)
    }

    /// Delivers and checks the key; returns the receiver's result.
    fn deliver(&mut self, to_a: bool, flight: &Flight) -> Result<(), SpqrError> {
        let state = if to_a { &mut self.a } else { &mut self.b };
        let (next, received) = state.recv(&flight.0)?;
        assert_eq!(
            received.key.expect("keyed").0,
            flight.1,
            "receiver's key differs"
        );
        *state = next;
        Ok(())
    }
}

#[test]
fn ping_pong_completes_an_epoch_every_few_dozen_messages() {
    let mut p = Pair::new(1);
    let mut messages = 0;
    while p.a.epoch() < 6 {
        let m = p.send(true);
        p.deliver(false, &m).unwrap();
        let m = p.send(false);
        p.deliver(true, &m).unwrap();
        messages += 2;
        assert!(messages < 1000, "no progress");
    }
    // Five epochs: an epoch needs 3 header, 36 key, 30 ct1 and 5 ct2 chunks, partly in parallel.
    let per_epoch = messages / 5;
    assert!(
        (40..=120).contains(&per_epoch),
        "{per_epoch} messages per epoch"
    );
    assert_eq!(p.a.key_epoch(), p.b.key_epoch());
}

#[test]
fn one_side_sending_hundreds_then_the_other() {
    let mut p = Pair::new(2);
    for _ in 0..500 {
        let m = p.send(true);
        p.deliver(false, &m).unwrap();
    }
    // Without replies the braid waits in epoch 1; keys still flow on the auth key's chain.
    assert_eq!(p.a.epoch(), 1);
    for _ in 0..300 {
        let m = p.send(false);
        p.deliver(true, &m).unwrap();
    }
    for _ in 0..300 {
        let m = p.send(true);
        p.deliver(false, &m).unwrap();
    }
    // B now has the key and answers with ct2; A completes epoch 1 and moves on.
    for from_a in [false, true] {
        for _ in 0..100 {
            let m = p.send(from_a);
            p.deliver(!from_a, &m).unwrap();
        }
    }
    assert_eq!((p.a.epoch(), p.b.epoch()), (2, 2));
    assert_eq!(p.a.key_epoch(), 1);
}

#[test]
fn thirty_percent_loss_still_heals() {
    let mut p = Pair::new(3);
    let mut lost = 0;
    for _ in 0..1500 {
        for from_a in [true, false] {
            let m = p.send(from_a);
            if p.rng.random_bool(0.3) {
                lost += 1;
                continue;
            }
            p.deliver(!from_a, &m).unwrap();
        }
    }
    assert!(lost > 700, "{lost} lost");
    assert!(p.a.epoch() >= 5, "epoch {}", p.a.epoch());
}

#[test]
fn reordering_inside_and_across_epochs() {
    let mut p = Pair::new(4);
    let mut to_b: Vec<Flight> = Vec::new();
    let mut to_a: Vec<Flight> = Vec::new();
    let mut crossed = 0;
    for round in 0..2000 {
        to_b.push(p.send(true));
        to_a.push(p.send(false));
        // Deliver a random half of what is in flight, in random order, every few rounds.
        if round % 7 == 6 {
            for (queue, to_a_side) in [(&mut to_b, false), (&mut to_a, true)] {
                let mut batch: Vec<Flight> = Vec::new();
                queue.retain(|m| {
                    if p.rng.random_bool(0.5) {
                        batch.push(m.clone());
                        false
                    } else {
                        true
                    }
                });
                let n = batch.len();
                for i in (1..n).rev() {
                    let j = p.rng.random_range(0..=i);
                    batch.swap(i, j);
                }
                for m in &batch {
                    let before = if to_a_side { p.a.epoch() } else { p.b.epoch() };
                    match p.deliver(to_a_side, m) {
                        Ok(()) => {}
                        // A message held back more than an epoch behind is out of range.
                        Err(SpqrError::EpochOutOfRange(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                    let after = if to_a_side { p.a.epoch() } else { p.b.epoch() };
                    crossed += usize::from(after != before);
                }
            }
        }
    }
    assert!(
        crossed >= 5,
        "only {crossed} epoch changes during reordered delivery"
    );
}

#[test]
fn a_replayed_message_is_refused() {
    let mut p = Pair::new(5);
    let m = p.send(true);
    p.deliver(false, &m).unwrap();
    assert_eq!(p.deliver(false, &m), Err(SpqrError::KeyAlreadyUsed(1)));
}

#[test]
fn a_tampered_chunk_fails_authentication_and_changes_nothing() {
    let mut p = Pair::new(6);
    // The header piece is 96 bytes: three chunks. Tamper the data of the third.
    let h0 = p.send(true);
    let h1 = p.send(true);
    let h2 = p.send(true);
    p.deliver(false, &h0).unwrap();
    p.deliver(false, &h1).unwrap();
    let saved = p.b.to_bytes();
    let mut bad = h2.0.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(p.b.recv(&bad).unwrap_err(), SpqrError::MacVerifyFailed);
    assert_eq!(
        p.b.to_bytes(),
        saved,
        "a failed receive must not change the state"
    );
    p.deliver(false, &h2).unwrap();
}

#[test]
fn a_restored_state_carries_on_and_older_versions_are_refused() {
    let mut p = Pair::new(7);
    for i in 0..300 {
        let m = p.send(i % 3 != 0);
        p.deliver(i % 3 == 0, &m).unwrap();
        if i % 37 == 0 {
            p.a = SpqrState::from_bytes(&p.a.to_bytes()).unwrap();
            p.b = SpqrState::from_bytes(&p.b.to_bytes()).unwrap();
        }
    }
    // Empty (no SPQR) and version-0 messages are a downgrade.
    assert_eq!(p.a.recv(&[]).unwrap_err(), SpqrError::VersionTooLow);
    assert_eq!(
        p.a.recv(&[0, 1, 1, 0]).unwrap_err(),
        SpqrError::VersionTooLow
    );
    // Later versions are ignored, as the reference does.
    let (same, received) = p.a.recv(&[2, 1, 1, 0]).unwrap();
    assert_eq!(received.key, None);
    assert_eq!(same.to_bytes(), p.a.to_bytes());
}

#[test]
fn every_truncation_of_a_saved_state_is_refused() {
    let mut p = Pair::new(8);
    for _ in 0..20 {
        let m = p.send(true);
        p.deliver(false, &m).unwrap();
        let m = p.send(false);
        p.deliver(true, &m).unwrap();
    }
    let bytes = p.b.to_bytes();
    for len in 0..bytes.len() {
        assert_eq!(
            SpqrState::from_bytes(&bytes[..len]).unwrap_err(),
            SpqrError::StateDecode,
            "prefix of {len} bytes"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(SpqrState::from_bytes(&longer).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hostile_messages_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut p = Pair::new(9);
        let _ = p.a.recv(&bytes);
        let _ = p.b.recv(&bytes);
        let m = p.send(true);
        let _ = p.b.recv(&bytes);
        prop_assert!(p.deliver(false, &m).is_ok());
    }

    #[test]
    fn hostile_states_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SpqrState::from_bytes(&bytes);
    }

    #[test]
    fn flipped_state_bytes_are_refused_or_harmless(pos in 0usize..4000, bit in 0u8..8) {
        let mut p = Pair::new(10);
        let m = p.send(true);
        p.deliver(false, &m).unwrap();
        let mut bytes = p.b.to_bytes().to_vec();
        let at = pos % bytes.len();
        bytes[at] ^= 1 << bit;
        if let Ok(state) = SpqrState::from_bytes(&bytes) {
            let mut rng = ChaCha20Rng::seed_from_u64(11);
            let _ = state.send(&mut rng);
            let _ = state.recv(&m.0);
        }
    }
}
