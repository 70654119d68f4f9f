//! Secret-holding types: `Debug` never shows their bytes (as hex or as a list of numbers) and says
//! what it hid; each type wipes itself on drop (checked at compile time), and `zeroize` really
//! clears the bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{bundle_with_opk, parties};
use pqxdh::handshake::agreement::{self as hs, Initiation, SharedKeys};
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, SignedPreKey};
use pqxdh::primitives::kem::{KemKeyPair, KemSecretKey, KemSharedSecret};
use pqxdh::primitives::keys::{DhOutput, EphemeralKeyPair};
use pqxdh::ratchet::message_key::MessageKeySeed;
use pqxdh::sessions::establish::{self, Established};
use pqxdh::{
    Backend, ChainKey, IdentityKeyPair, KemType, KeyPair, PreKeyStore, PrivateKey, RootKey, Session,
};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use rand_core::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

fn assert_zod<T: ZeroizeOnDrop>() {}

#[test]
fn secret_types_zeroize_on_drop() {
    assert_zod::<PrivateKey>();
    assert_zod::<KeyPair>();
    assert_zod::<EphemeralKeyPair>();
    assert_zod::<IdentityKeyPair>();
    assert_zod::<DhOutput>();
    assert_zod::<RootKey>();
    assert_zod::<ChainKey>();
    assert_zod::<MessageKeySeed>();
    assert_zod::<KemSecretKey>();
    assert_zod::<KemKeyPair>();
    assert_zod::<KemSharedSecret>();
    assert_zod::<SignedPreKey>();
    assert_zod::<OneTimePreKey>();
    assert_zod::<PqPreKey>();
    assert_zod::<PreKeyStore>();
    assert_zod::<SharedKeys>();
    assert_zod::<Initiation>();
    assert_zod::<Established>();
    assert_zod::<Session>();
    // The AES-256-GCM instances keyed with message keys, file keys and wrap keys.
    assert_zod::<aes_gcm::Aes256Gcm>();
}

/// Asserts that `printed` contains a redaction marker and none of `secrets` as hex (either case,
/// any aligned 8-byte window) or as a list of decimal numbers.
fn redacted(printed: &str, secrets: &[&[u8]]) {
    assert!(printed.contains("<redacted>"), "{printed}");
    let lower = printed.to_lowercase();
    for secret in secrets {
        assert!(secret.len() >= 16 && secret.iter().any(|&b| b != 0));
        for window in secret.chunks_exact(8) {
            assert!(!lower.contains(&hex::encode(window)), "{printed}");
            let decimal = format!("{:?}", &window[..4]);
            assert!(
                !printed.contains(decimal.trim_matches(['[', ']'])),
                "{printed}"
            );
        }
    }
    assert!(longest_number_list(printed) < 8, "{printed}");
}

/// The longest run of comma-separated integers in `text`.
fn longest_number_list(text: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    for token in text.split(',') {
        let t = token.trim().trim_start_matches('[').trim_end_matches(']');
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

fn random<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

#[test]
fn the_checker_catches_leaks() {
    let secret = [0x5au8; 32];
    let caught =
        |printed: String| std::panic::catch_unwind(|| redacted(&printed, &[&secret])).is_err();
    assert!(caught(format!("<redacted> {}", hex::encode(secret))));
    assert!(caught(format!("<redacted> {}", hex::encode_upper(secret))));
    assert!(caught(format!("<redacted> {secret:?}")));
    assert!(caught("<redacted> [1, 2, 3, 4, 5, 6, 7, 8, 9]".to_owned()));
    assert!(caught("nothing hidden".to_owned()));
    assert!(!caught("Key(<redacted>)".to_owned()));
}

#[test]
fn byte_secrets_are_redacted_and_zeroize_clears_them() {
    let mut rng = ChaCha20Rng::seed_from_u64(40);
    let bytes: [u8; 32] = random(&mut rng);
    let private = PrivateKey::from_bytes(bytes);
    redacted(&format!("{private:?}"), &[&bytes]);
    let pair = KeyPair::from_private(private.clone());
    redacted(&format!("{pair:?}"), &[&bytes]);
    redacted(
        &format!("{:?}", EphemeralKeyPair::from_private(private.clone())),
        &[&bytes],
    );
    redacted(
        &format!("{:?}", IdentityKeyPair::from_private(private.clone())),
        &[&bytes],
    );
    let dh = private
        .diffie_hellman(KeyPair::generate(&mut rng).public_key())
        .unwrap();
    redacted(&format!("{dh:?}"), &[dh.as_bytes()]);

    let mut root = RootKey::from_bytes(random(&mut rng));
    let mut chain = ChainKey::from_bytes(random(&mut rng));
    let mut seed = MessageKeySeed::from_bytes(random(&mut rng));
    let mut dh = dh;
    redacted(&format!("{root:?}"), &[root.as_bytes()]);
    redacted(&format!("{chain:?}"), &[chain.as_bytes()]);
    redacted(&format!("{seed:?}"), &[seed.as_bytes()]);
    root.zeroize();
    chain.zeroize();
    seed.zeroize();
    dh.zeroize();
    for wiped in [
        root.as_bytes(),
        chain.as_bytes(),
        seed.as_bytes(),
        dh.as_bytes(),
    ] {
        assert_eq!(wiped, &[0u8; 32]);
    }
}

#[test]
fn kem_secrets_are_redacted_and_zeroize_clears_them() {
    let mut rng = ChaCha20Rng::seed_from_u64(41);
    for kem in [KemType::MlKem1024, KemType::Kyber1024] {
        let pair = KemKeyPair::generate(kem, Backend::Libcrux, &mut rng).unwrap();
        let secret = kem_secret_parts(pair.secret_key());
        redacted(&format!("{pair:?}"), &secret);
        redacted(&format!("{:?}", pair.secret_key()), &secret);
        let (_, mut shared) = pair
            .public_key()
            .encapsulate(Backend::Libcrux, &mut rng)
            .unwrap();
        redacted(&format!("{shared:?}"), &[shared.as_bytes()]);
        shared.zeroize();
        assert_eq!(shared.as_bytes(), &[0u8; 32]);
        let mut key = pair.secret_key().clone();
        key.zeroize();
        assert!(key.as_bytes().iter().all(|&b| b == 0));
    }
}

#[test]
fn stores_prekeys_handshakes_and_sessions_are_redacted() {
    let (mut rng, alice, mut bob) = parties(42, KemType::MlKem1024);
    let store_secrets: Vec<Vec<u8>> = vec![
        bob.identity().key_pair().private_key().as_bytes().to_vec(),
        bob.signed_prekey(1)
            .unwrap()
            .key_pair()
            .private_key()
            .as_bytes()
            .to_vec(),
        bob.one_time_prekey(common::OPK_ID)
            .unwrap()
            .key_pair()
            .private_key()
            .as_bytes()
            .to_vec(),
    ];
    let mut all: Vec<&[u8]> = store_secrets.iter().map(Vec::as_slice).collect();
    all.extend(kem_secret_parts(
        bob.pq_prekey(1).unwrap().key_pair().secret_key(),
    ));
    redacted(&format!("{bob:?}"), &all);
    redacted(&format!("{:?}", bob.signed_prekey(1).unwrap()), &all[1..2]);
    redacted(
        &format!("{:?}", bob.one_time_prekey(common::OPK_ID).unwrap()),
        &all[2..3],
    );
    redacted(&format!("{:?}", bob.pq_prekey(1).unwrap()), &all[3..]);
    let fresh = PqPreKey::generate(
        9,
        PqPreKeyKind::OneTime,
        KemType::Kyber1024,
        &alice,
        &mut rng,
    )
    .unwrap();
    redacted(
        &format!("{fresh:?}"),
        &kem_secret_parts(fresh.key_pair().secret_key()),
    );

    let bundle = bundle_with_opk(&bob);
    let init = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let keys = [
        init.keys.root_key.as_bytes().to_vec(),
        init.keys.chain_key.as_bytes().to_vec(),
    ];
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    redacted(&format!("{:?}", init.keys), &keys);
    redacted(&format!("{init:?}"), &keys);

    let mut a = establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"hi", &mut rng).unwrap();
    let (mut b, _) = establish::accept(&mut bob, &wire, Backend::Libcrux).unwrap();
    // Give Bob's session skipped keys, a receiving chain and a sending chain.
    let later: Vec<_> = (0..3)
        .map(|_| a.session.encrypt(b"later", &mut rng).unwrap())
        .collect();
    b.session.decrypt(&later[2]).unwrap();
    b.session.encrypt(b"reply", &mut rng).unwrap();
    for (established, handshake) in [
        (&a, a.handshake_root_key.as_bytes()),
        (&b, b.handshake_root_key.as_bytes()),
    ] {
        let saved = established.session.to_bytes();
        let session_secrets = session_secrets(&saved);
        redacted(&format!("{:?}", established.session), &session_secrets);
        let mut with_root = session_secrets.clone();
        with_root.push(handshake);
        redacted(&format!("{established:?}"), &with_root);
    }
    assert_eq!(b.session.info().skipped_keys, 2);
}

/// The secret parts of a decapsulation key `dk_PKE || ek || H(ek) || z` (FIPS 203 algorithm 16):
/// `dk_PKE` (1,536 bytes) and `z`. The embedded `ek` and `H(ek)` are public.
fn kem_secret_parts(key: &KemSecretKey) -> Vec<&[u8]> {
    let bytes = key.as_bytes();
    vec![&bytes[..1536], &bytes[bytes.len() - 32..]]
}

/// The 32-byte secrets of a saved session (SPEC.md section 8.7): root key, ratchet private key,
/// sending and receiving chain keys, and the first skipped message key.
fn session_secrets(saved: &[u8]) -> Vec<&[u8]> {
    let flags = saved[3];
    let mut out = vec![&saved[4..36], &saved[36..68]];
    let mut at = 68;
    if flags & 0x02 != 0 {
        out.push(&saved[at..at + 32]);
        at += 36;
    }
    at += 4;
    if flags & 0x04 != 0 {
        out.push(&saved[at + 32..at + 64]);
    }
    out
}
