//! The primitives every handshake and ratchet step is built from, measured alone: the floor that
//! composite operations are compared against (see `scripts/bench_report.py`).
//!
//! Group `primitives`; ids are parsed by the report script, so keep them stable.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use curve25519_dalek::montgomery::MontgomeryPoint;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use pqcrypto_traits::kem::PublicKey as _;
use pqxdh::primitives::kem::{Backend, KemKeyPair, KemType};
use pqxdh::primitives::keys::{KeyPair, PrivateKey};
use pqxdh::primitives::xeddsa;
use rand::rngs::ChaCha20Rng;
use rand::{Rng as _, SeedableRng};
use sha2::Sha256;

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x5eed)
}

fn x25519(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitives");
    let mut r = rng();
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| black_box(KeyPair::generate(&mut r)))
    });
    let ours = KeyPair::generate(&mut r);
    let theirs = *KeyPair::generate(&mut r).public_key();
    g.bench_function("x25519_dh", |b| {
        b.iter(|| black_box(ours.diffie_hellman(black_box(&theirs)).unwrap()))
    });
    // AWS-LC alone (what `x25519_dh` runs unless curve25519-dalek's IFMA backend is compiled in
    // and the CPU has IFMA: then the Edwards path, `x25519_dh_dalek`, runs instead).
    #[cfg(feature = "aws-lc")]
    g.bench_function("x25519_dh_awslc", |b| {
        use aws_lc_rs::agreement::{self, X25519};
        let secret = *ours.private_key().as_bytes();
        let peer = *theirs.as_bytes();
        b.iter(|| {
            let private =
                agreement::PrivateKey::from_private_key(&X25519, black_box(&secret)).unwrap();
            let peer = agreement::UnparsedPublicKey::new(&X25519, black_box(&peer));
            black_box(agreement::agree(&private, peer, (), |s| Ok::<_, ()>(s[0])).unwrap())
        })
    });
    // x25519-dalek's Montgomery ladder (curve25519-dalek's serial field arithmetic) on the same
    // keys: the reference row, and the portable backend's path for a key on the twist.
    let (scalar, u) = ([0x42u8; 32], *theirs.as_bytes());
    g.bench_function("x25519_dh_ladder", |b| {
        b.iter(|| black_box(x25519_dalek::x25519(black_box(scalar), black_box(u))))
    });
    // The portable backend (feature `aws-lc` off): a `u` on the curve goes to Edwards form and is
    // multiplied on curve25519-dalek's AVX2 backend.
    g.bench_function("x25519_dh_dalek", |b| {
        b.iter(|| {
            let point = MontgomeryPoint(black_box(u)).to_edwards(0).unwrap();
            black_box(point.mul_clamped(black_box(scalar)).to_montgomery())
        })
    });
    let private = ours.private_key().clone();
    g.bench_function("x25519_public_key", |b| {
        b.iter(|| black_box(black_box(&private).public_key()))
    });
    g.bench_function("x25519_public_key_dalek", |b| {
        b.iter(|| black_box(MontgomeryPoint::mul_base_clamped(black_box(scalar))))
    });
    g.finish();
}

fn xeddsa_sig(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitives");
    let mut r = rng();
    let key = PrivateKey::generate(&mut r);
    let public = key.public_key();
    // 33 B = EncodeEC(SPK); 1569 B = EncodeKEM(PQPK): the two messages a bundle signs.
    for len in [33usize, 1569] {
        let msg = vec![0x5au8; len];
        let sig = xeddsa::sign(&key, &msg, &mut r);
        g.bench_function(format!("xeddsa_sign_{len}"), |b| {
            b.iter(|| black_box(xeddsa::sign(&key, black_box(&msg), &mut r)))
        });
        g.bench_function(format!("xeddsa_verify_{len}"), |b| {
            b.iter(|| xeddsa::verify(&public, black_box(&msg), black_box(&sig)).unwrap())
        });
        // With the key's Edwards form computed once (`VerifyingKey`), as bundle verification does.
        let prepared = xeddsa::VerifyingKey::new(&public).unwrap();
        g.bench_function(format!("xeddsa_verify_prepared_{len}"), |b| {
            b.iter(|| prepared.verify(black_box(&msg), black_box(&sig)).unwrap())
        });
    }
    g.bench_function("xeddsa_verifying_key", |b| {
        b.iter(|| black_box(xeddsa::VerifyingKey::new(black_box(&public)).unwrap()))
    });
    // A bundle's two signature checks under one identity key (`PreKeyBundle::verify`): the key's
    // conversion, then 33 B and 1569 B with one shared inversion. `_awslc` checks the same group equation with AWS-LC's
    // Ed25519 instead of curve25519-dalek's (the alternative that was measured and lost).
    let (msg_a, msg_b) = (vec![0x5au8; 33], vec![0x5au8; 1569]);
    let (sig_a, sig_b) = (
        xeddsa::sign(&key, &msg_a, &mut r),
        xeddsa::sign(&key, &msg_b, &mut r),
    );
    g.bench_function("xeddsa_verify_bundle", |b| {
        b.iter(|| {
            let vk = xeddsa::VerifyingKey::new(black_box(&public)).unwrap();
            let [first, second] = vk.verify_two(
                (black_box(&msg_a), black_box(&sig_a)),
                (black_box(&msg_b), black_box(&sig_b)),
            );
            first.unwrap();
            second.unwrap();
        })
    });
    // The same two checks each compressing its own point (one field inversion each).
    g.bench_function("xeddsa_verify_bundle_separate", |b| {
        b.iter(|| {
            let vk = xeddsa::VerifyingKey::new(black_box(&public)).unwrap();
            vk.verify(black_box(&msg_a), black_box(&sig_a)).unwrap();
            vk.verify(black_box(&msg_b), black_box(&sig_b)).unwrap();
        })
    });
    #[cfg(feature = "aws-lc")]
    g.bench_function("xeddsa_verify_bundle_awslc", |b| {
        use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
        b.iter(|| {
            let a = MontgomeryPoint(*black_box(&public).as_bytes())
                .to_edwards(0)
                .unwrap();
            let key = UnparsedPublicKey::new(&ED25519, a.compress().to_bytes());
            key.verify(black_box(&msg_a), sig_a.as_bytes()).unwrap();
            key.verify(black_box(&msg_b), sig_b.as_bytes()).unwrap();
        })
    });
    g.finish();
}

fn kem(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitives");
    let mut r = rng();
    for (name, kem, backend) in [
        ("mlkem1024_libcrux", KemType::MlKem1024, Backend::Libcrux),
        ("mlkem1024_pqclean", KemType::MlKem1024, Backend::PqClean),
        ("kyber1024_libcrux", KemType::Kyber1024, Backend::Libcrux),
    ] {
        g.bench_function(format!("{name}_keygen"), |b| {
            b.iter(|| black_box(KemKeyPair::generate(kem, backend, &mut r).unwrap()))
        });
        let pair = KemKeyPair::generate(kem, backend, &mut r).unwrap();
        // `_encaps` is the library's bare encapsulation (the floor); `_encaps_checked` is this
        // crate's `encapsulate`, which runs the FIPS 203 section 7.2 check (`validate`) first.
        let pk_bytes = *pair.public_key().as_bytes();
        let libcrux_pk = libcrux_ml_kem::mlkem1024::MlKem1024PublicKey::from(pk_bytes);
        let pqclean_pk = pqcrypto_mlkem::mlkem1024::PublicKey::from_bytes(&pk_bytes).unwrap();
        g.bench_function(format!("{name}_encaps"), |b| {
            b.iter(|| {
                let mut m = [0u8; 32];
                r.fill_bytes(&mut m);
                match (kem, backend) {
                    (KemType::MlKem1024, Backend::Libcrux) => {
                        black_box(libcrux_ml_kem::mlkem1024::encapsulate(&libcrux_pk, m));
                    }
                    (KemType::Kyber1024, _) => {
                        black_box(libcrux_ml_kem::kyber1024::encapsulate(&libcrux_pk, m));
                    }
                    (KemType::MlKem1024, Backend::PqClean) => {
                        black_box(pqcrypto_mlkem::mlkem1024::encapsulate(&pqclean_pk));
                    }
                }
            })
        });
        g.bench_function(format!("{name}_encaps_checked"), |b| {
            b.iter(|| black_box(pair.public_key().encapsulate(backend, &mut r).unwrap()))
        });
        let (ct, _) = pair.public_key().encapsulate(backend, &mut r).unwrap();
        g.bench_function(format!("{name}_decaps"), |b| {
            b.iter(|| black_box(pair.secret_key().decapsulate(&ct, backend).unwrap()))
        });
    }
    let pair = KemKeyPair::generate(KemType::MlKem1024, Backend::Libcrux, &mut r).unwrap();
    g.bench_function("mlkem1024_validate", |b| {
        b.iter(|| black_box(pair.public_key()).validate().unwrap())
    });
    g.finish();
}

fn symmetric(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitives");
    let salt = [0u8; 32];
    for ikm_len in [32usize, 128, 160, 192] {
        let ikm = vec![0x11u8; ikm_len];
        g.bench_function(format!("hkdf_sha256_{ikm_len}_to_64"), |b| {
            b.iter(|| {
                let mut okm = [0u8; 64];
                Hkdf::<Sha256>::new(Some(black_box(&salt)), black_box(&ikm))
                    .expand(b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024", &mut okm)
                    .unwrap();
                black_box(okm)
            })
        });
    }
    let key = [0x22u8; 32];
    let msg = [0x01u8; 64];
    g.bench_function("hmac_sha256_64", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&key)).unwrap();
            mac.update(black_box(&msg));
            black_box(mac.finalize().into_bytes())
        })
    });
    let aes_key = [0x33u8; 32];
    let nonce = Nonce::from([0x44u8; 12]);
    g.bench_function("aes256gcm_key_setup", |b| {
        b.iter(|| black_box(Aes256Gcm::new_from_slice(black_box(&aes_key)).unwrap()))
    });
    for (label, len) in [("64", 64usize), ("1k", 1024), ("64k", 64 * 1024)] {
        let plain = vec![0x55u8; len];
        g.bench_function(format!("aes256gcm_seal_{label}"), |b| {
            b.iter_batched_ref(
                || plain.clone(),
                |buf| {
                    let cipher = Aes256Gcm::new_from_slice(black_box(&aes_key)).unwrap();
                    let tag = cipher
                        .encrypt_inout_detached(&nonce, b"ad", buf.as_mut_slice().into())
                        .unwrap();
                    black_box(tag)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        // Medians are all the report uses: skip plots and keep the bootstrap small, which
        // roughly halves the wall time of a run on 2 cores.
        .without_plots()
        .nresamples(10_000)
        .sample_size(50)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = x25519, xeddsa_sig, kem, symmetric
}
criterion_main!(benches);
