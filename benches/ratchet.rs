//! The Double Ratchet on an established PQXDH session, one operation per measured iteration:
//! encrypt and decrypt on an existing chain (64 B, 1 KiB, 64 KiB), the first message of a new
//! receiving chain (the receive half of a DH ratchet step), the send that follows it (the
//! deferred send half: a new ratchet key pair and sending chain), and the out-of-order decryption
//! of a message whose key was stored as skipped.
//!
//! Group `ratchet_floor` measures, in the same run, the primitives these operations are built
//! from (`scripts/bench_report.py` sums them into floors). Also writes `sizes-ratchet.json`
//! (per-message overhead, saved-session sizes) next to criterion's results.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::RefCell;
use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{BatchSize, Criterion};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use pqxdh::handshake::agreement as hs;
use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::{Backend, KemType};
use pqxdh::primitives::keys::KeyPair;
use pqxdh::ratchet::Session;
use pqxdh::ratchet::message::SALT_LEN;
use pqxdh::ratchet::message_key::MESSAGE_KEYS_INFO;
use pqxdh::sessions::establish::RatchetKind;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use sha2::Sha256;

mod common;

/// Length of the associated data a normal message authenticates: the PQXDH AD
/// (`EncodeEC(IK_A) || EncodeEC(IK_B)`, 66 B) and the 59-byte message header.
const NORMAL_AD_LEN: usize = 66 + 59;

/// Plaintext sizes on an existing chain: criterion id suffix and length.
const SIZES: [(&str, usize); 3] = [("64", 64), ("1k", 1024), ("64k", 64 * 1024)];

/// Turns exchanged before measuring, so that both sides run on normal-message chains created by
/// DH ratchet steps and remember the full set of earlier receiving chains.
const WARM_TURNS: usize = 6;

/// An HKDF floor: criterion id, salt, info, output length.
type Kdf<'a> = (&'static str, Option<&'a [u8]>, &'static [u8], usize);

/// Inputs of 64 KiB are prepared in smaller batches.
fn batch_size(len: usize) -> BatchSize {
    if len > 1024 {
        BatchSize::LargeInput
    } else {
        BatchSize::SmallInput
    }
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x7a7c)
}

/// Alice and Bob after a PQXDH (ML-KEM-1024) handshake and `WARM_TURNS` turns of two messages
/// each way; Alice spoke last, Bob has decrypted everything, and Bob's next send starts a new
/// sending chain.
fn established(rng: &mut ChaCha20Rng) -> (Session, Session) {
    established_with(rng, RatchetKind::Classical)
}

/// [`established`] on the given ratchet.
fn established_with(rng: &mut ChaCha20Rng, ratchet: RatchetKind) -> (Session, Session) {
    let mut store =
        PreKeyStore::generate(IdentityKeyPair::generate(rng), KemType::MlKem1024, rng).unwrap();
    let bundle = PreKeyBundle::from_json(&store.default_bundle().unwrap().to_json()).unwrap();
    let alice_id = IdentityKeyPair::generate(rng);
    let mut a = pqxdh::sessions::establish::initiate_with_ratchet(
        &alice_id,
        &bundle,
        Backend::Libcrux,
        ratchet,
        rng,
    )
    .unwrap()
    .session;
    let wire = a.encrypt(b"hello Bob", rng).unwrap();
    let (b, text) =
        pqxdh::sessions::establish::accept(&mut store, &wire, Backend::Libcrux).unwrap();
    assert_eq!(text, b"hello Bob");
    let mut b = b.session;
    for _ in 0..WARM_TURNS {
        exchange(&mut b, &mut a, 2, rng);
        exchange(&mut a, &mut b, 2, rng);
    }
    (a, b)
}

/// `from` sends `count` messages, `to` decrypts them in order.
fn exchange(from: &mut Session, to: &mut Session, count: usize, rng: &mut ChaCha20Rng) {
    for i in 0..count {
        let text = format!("message {i}");
        let wire = from.encrypt(text.as_bytes(), rng).unwrap();
        assert_eq!(to.decrypt(&wire).unwrap(), text.as_bytes());
    }
}

fn ratchet(c: &mut Criterion) {
    let mut g = c.benchmark_group("ratchet");
    let mut r = rng();

    // Existing chain. Encrypt advances the same sending chain every iteration; decrypt gets
    // messages produced in order by the batch set-up, so the receiving chain never skips.
    // Decrypted plaintexts are freed inside the routine, as encrypt's outputs are: kept for a
    // whole batch, they would make every allocation touch fresh pages.
    for (label, len) in SIZES {
        let plain = vec![0x61u8; len];
        let (mut alice, _) = established(&mut r);
        alice.encrypt(&plain, &mut r).unwrap();
        g.bench_function(format!("encrypt_{label}"), |b| {
            b.iter(|| black_box(alice.encrypt(black_box(&plain), &mut r).unwrap()))
        });
        let (mut alice, mut bob) = established(&mut r);
        exchange(&mut alice, &mut bob, 1, &mut r);
        let batch = batch_size(len);
        g.bench_function(format!("decrypt_{label}"), |b| {
            b.iter_batched(
                || alice.encrypt(&plain, &mut r).unwrap(),
                |wire| drop(black_box(bob.decrypt(black_box(&wire)).unwrap())),
                batch,
            )
        });
    }

    // The first message on a new receiving chain and the send after it: one turn per iteration.
    // The set-up plays the rest of the turn (Bob's message to Alice, her reply with a new ratchet
    // key), so each batch holds a single iteration.
    let (alice, bob) = established(&mut r);
    let (alice, bob) = (RefCell::new(alice), RefCell::new(bob));
    let plain = [0x62u8; 64];
    let mut setup_rng = ChaCha20Rng::seed_from_u64(0x5e7);
    g.bench_function("first_message_new_chain", |b| {
        b.iter_batched(
            || {
                let rng = &mut setup_rng;
                exchange(&mut bob.borrow_mut(), &mut alice.borrow_mut(), 1, rng);
                alice.borrow_mut().encrypt(&plain, rng).unwrap()
            },
            |wire| {
                drop(black_box(
                    bob.borrow_mut().decrypt(black_box(&wire)).unwrap(),
                ))
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("send_after_turn", |b| {
        b.iter_batched(
            || {
                let rng = &mut setup_rng;
                exchange(&mut bob.borrow_mut(), &mut alice.borrow_mut(), 1, rng);
                exchange(&mut alice.borrow_mut(), &mut bob.borrow_mut(), 1, rng);
            },
            |()| bob.borrow_mut().encrypt(black_box(&plain), &mut r).unwrap(),
            BatchSize::PerIteration,
        )
    });

    // A skipped message: the set-up sends two messages and delivers the second, which stores
    // the first one's key; the routine decrypts the first. A batch stays well under the 2,000
    // stored keys, so no key is evicted and the one looked up is the oldest.
    let (mut alice, bob) = established(&mut r);
    let bob = RefCell::new(bob);
    g.bench_function("decrypt_skipped", |b| {
        b.iter_batched(
            || {
                let late = alice.encrypt(&plain, &mut r).unwrap();
                let next = alice.encrypt(&plain, &mut r).unwrap();
                bob.borrow_mut().decrypt(&next).unwrap();
                late
            },
            |wire| {
                drop(black_box(
                    bob.borrow_mut().decrypt(black_box(&wire)).unwrap(),
                ))
            },
            BatchSize::NumIterations(500),
        )
    });
    g.finish();
}

/// The triple ratchet (Double Ratchet plus SPQR) against the classical one: one 64-byte message
/// each way (two encrypts, two decrypts, a DH ratchet turn), then one message on an existing
/// chain. SPQR's cost depends on the braid's
/// phase; iterations run through every phase, so the median is the typical turn and the mean
/// carries the ML-KEM steps.
fn triple(c: &mut Criterion) {
    let mut g = c.benchmark_group("triple");
    let mut r = rng();
    let (mut alice, mut bob) = established_with(&mut r, RatchetKind::Classical);
    g.bench_function("classical_ping_pong_64", |b| {
        b.iter(|| {
            exchange(&mut alice, &mut bob, 1, &mut r);
            exchange(&mut bob, &mut alice, 1, &mut r);
        })
    });
    let (mut alice, mut bob) = established_with(&mut r, RatchetKind::Triple);
    g.bench_function("triple_ping_pong_64", |b| {
        b.iter(|| {
            exchange(&mut alice, &mut bob, 1, &mut r);
            exchange(&mut bob, &mut alice, 1, &mut r);
        })
    });
    // One 64-byte message on an existing chain, as `ratchet/encrypt_64` and `ratchet/decrypt_64`
    // but on the triple ratchet: each message also carries an SPQR message (in a one-sided
    // burst, the next erasure-coded chunk of the sender's current braid message).
    let plain = [0x61u8; 64];
    let (mut alice, _) = established_with(&mut r, RatchetKind::Triple);
    g.bench_function("encrypt_64", |b| {
        b.iter(|| black_box(alice.encrypt(black_box(&plain), &mut r).unwrap()))
    });
    let (mut alice, mut bob) = established_with(&mut r, RatchetKind::Triple);
    exchange(&mut alice, &mut bob, 1, &mut r);
    g.bench_function("decrypt_64", |b| {
        b.iter_batched(
            || alice.encrypt(&plain, &mut r).unwrap(),
            |wire| drop(black_box(bob.decrypt(black_box(&wire)).unwrap())),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The primitives of the ratchet, with the ratchet's own input sizes.
fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("ratchet_floor");
    let mut r = rng();
    let key = [0x22u8; 32];
    // KDF_CK: HMAC-SHA256 keyed with the chain key over one byte (key set-up included).
    g.bench_function("hmac_sha256_1", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&key)).unwrap();
            mac.update(&[0x01]);
            black_box(mac.finalize().into_bytes())
        })
    });
    // Message keys (wire version 2): HKDF-SHA256 with the message's 16-byte salt, 32-byte seed,
    // 44 bytes out; the unsalted version-1 derivation beside it shows what the salt costs.
    // KDF_RK: 32-byte salt and IKM, 64 bytes out.
    let salt = [0x33u8; SALT_LEN];
    let kdfs: [Kdf; 3] = [
        ("hkdf_message_keys", Some(&salt), MESSAGE_KEYS_INFO, 44),
        (
            "hkdf_message_keys_unsalted",
            None,
            b"pqxdh message keys v1",
            44,
        ),
        ("hkdf_kdf_rk", Some(&key), b"WhisperRatchet", 64),
    ];
    for (id, salt, info, out_len) in kdfs {
        g.bench_function(id, |b| {
            b.iter(|| {
                let mut okm = [0u8; 64];
                Hkdf::<Sha256>::new(black_box(salt), black_box(&key))
                    .expand(info, &mut okm[..out_len])
                    .unwrap();
                black_box(okm)
            })
        });
    }
    // The salt itself: 16 bytes from the generator the session is given (ChaCha20 here).
    g.bench_function("salt_draw", |b| {
        b.iter(|| {
            let mut salt = [0u8; SALT_LEN];
            r.fill_bytes(&mut salt);
            black_box(salt)
        })
    });
    let ours = KeyPair::generate(&mut r);
    let theirs = *KeyPair::generate(&mut r).public_key();
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| black_box(KeyPair::generate(&mut r)))
    });
    g.bench_function("x25519_dh", |b| {
        b.iter(|| black_box(ours.diffie_hellman(black_box(&theirs)).unwrap()))
    });
    // AES-256-GCM key set-up and seal / open in place, with a normal message's AD length.
    let aes_key = [0x33u8; 32];
    let nonce = Nonce::from([0x44u8; 12]);
    let ad = [0x66u8; NORMAL_AD_LEN];
    for (label, len) in SIZES {
        let plain = vec![0x55u8; len];
        let batch = batch_size(len);
        g.bench_function(format!("aes256gcm_seal_{label}"), |b| {
            b.iter_batched_ref(
                || plain.clone(),
                |buf| {
                    let cipher = Aes256Gcm::new_from_slice(black_box(&aes_key)).unwrap();
                    cipher
                        .encrypt_inout_detached(&nonce, &ad, buf.as_mut_slice().into())
                        .unwrap()
                },
                batch,
            )
        });
        let mut sealed = plain.clone();
        let tag = Aes256Gcm::new_from_slice(&aes_key)
            .unwrap()
            .encrypt_inout_detached(&nonce, &ad, sealed.as_mut_slice().into())
            .unwrap();
        g.bench_function(format!("aes256gcm_open_{label}"), |b| {
            b.iter_batched_ref(
                || sealed.clone(),
                |buf| {
                    let cipher = Aes256Gcm::new_from_slice(black_box(&aes_key)).unwrap();
                    cipher
                        .decrypt_inout_detached(&nonce, &ad, buf.as_mut_slice().into(), &tag)
                        .unwrap()
                },
                batch,
            )
        });
    }
    g.finish();
}

/// Per-message overhead and saved-session sizes, written as JSON for the report.
fn sizes() -> String {
    let mut r = rng();
    let plain = [0x61u8; 64];

    // Normal message: after the handshake's first exchange.
    let (mut alice, mut bob) = established(&mut r);
    let wire = alice.encrypt(&plain, &mut r).unwrap();
    let normal = wire.len() - plain.len();
    bob.decrypt(&wire).unwrap();

    // Saved sessions: idle, then with skipped keys stored (one run of a single chain).
    let (mut alice, mut bob) = established(&mut r);
    let idle = bob.to_bytes().len();
    let mut skipped = Vec::new();
    for n in [1usize, 10, 100, 1000] {
        let (mut alice, mut bob) = (
            Session::from_bytes(&alice.to_bytes()).unwrap(),
            Session::from_bytes(&bob.to_bytes()).unwrap(),
        );
        let mut last = Vec::new();
        for _ in 0..=n {
            last = alice.encrypt(&plain, &mut r).unwrap();
        }
        bob.decrypt(&last).unwrap();
        assert_eq!(bob.info().skipped_keys, n);
        skipped.push(format!("\"{n}\": {}", bob.to_bytes().len()));
    }
    exchange(&mut alice, &mut bob, 1, &mut r);

    // Pre-key messages per handshake kind (X3DH through the handshake layer directly, since
    // `establish` only runs PQXDH), and the initiator's saved session before the first reply.
    let mut prekey = Vec::new();
    for (name, kem, pq) in [
        ("x3dh", KemType::MlKem1024, false),
        ("pqxdh_mlkem1024", KemType::MlKem1024, true),
        ("pqxdh_kyber1024", KemType::Kyber1024, true),
    ] {
        let store = PreKeyStore::generate(IdentityKeyPair::generate(&mut r), kem, &mut r).unwrap();
        let bundle = store.default_bundle().unwrap();
        let alice_id = IdentityKeyPair::generate(&mut r);
        let init = if pq {
            hs::initiate(&alice_id, &bundle, Backend::Libcrux, &mut r).unwrap()
        } else {
            hs::initiate_x3dh(&alice_id, &bundle, &mut r).unwrap()
        };
        let header = init.header.to_bytes();
        let mut session = Session::new_initiator(
            init.keys.root_key,
            init.keys.chain_key,
            bundle.signed_prekey.key,
            init.keys.associated_data,
            header.clone(),
            &mut r,
        )
        .unwrap();
        let wire = session.encrypt(&plain, &mut r).unwrap();
        prekey.push(format!(
            "{{\"kind\": \"{name}\", \"prekey_header\": {}, \"overhead\": {}, \"saved_session\": {}}}",
            header.len(),
            wire.len() - plain.len(),
            session.to_bytes().len()
        ));
    }
    format!(
        "{{\n  \"loadavg_at_start\": \"{}\",\n  \"normal_overhead\": {normal},\n  \
         \"normal_header\": {},\n  \"tag\": {},\n  \"saved_session_idle\": {idle},\n  \
         \"saved_session_skipped\": {{{}}},\n  \"prekey\": [\n    {}\n  ]\n}}\n",
        common::loadavg(),
        pqxdh::ratchet::message::NORMAL_HEADER_LEN,
        pqxdh::ratchet::message_key::TAG_LEN,
        skipped.join(", "),
        prekey.join(",\n    ")
    )
}

fn main() {
    let sizes = sizes();
    print!("ratchet sizes: {sizes}");
    common::write_record("sizes-ratchet.json", &sizes);
    let mut c = common::criterion(30);
    ratchet(&mut c);
    triple(&mut c);
    floor(&mut c);
    c.final_summary();
}
