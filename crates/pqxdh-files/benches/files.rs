//! Throughput of file encryption and decryption on a 64 MiB in-memory stream (on every core and
//! one segment at a time), next to raw AES-256-GCM over the same buffer in one call and in 64 KiB
//! segments copied in and out; both AES-256-GCM implementations on one core over 16 KiB and
//! 64 KiB buffers; and small files, serial against parallel, for the parallel threshold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::KemType;
use pqxdh_files::{self as files, DEFAULT_SEGMENT_SIZE, EncryptOptions, Schedule};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

const SIZE: usize = 64 * 1024 * 1024;

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let sender = IdentityKeyPair::generate(&mut rng);
    let bob = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    let bundle = [bob.default_bundle().unwrap()];
    let plain: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let mut sealed = Vec::with_capacity(SIZE + SIZE / 1024 + 4096);
    files::encrypt(
        &sender,
        &bundle,
        EncryptOptions::default(),
        &plain[..],
        &mut sealed,
        &mut rng,
    )
    .unwrap();

    let mut group = c.benchmark_group("files_64MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(SIZE as u64));

    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let mut buf = plain.clone();
    group.bench_function("raw_aes256gcm_one_call", |b| {
        b.iter(|| {
            let tag = cipher
                .encrypt_inout_detached(&Nonce::from([0u8; 12]), b"", buf.as_mut_slice().into())
                .unwrap();
            black_box(tag);
        });
    });

    // The same AES-GCM work in 64 KiB segments, each copied in from the input and out to the
    // output as any Read -> Write stream must: what the streaming format can reach at best.
    let mut segments_out = Vec::with_capacity(sealed.len());
    let mut segment = vec![0u8; DEFAULT_SEGMENT_SIZE as usize];
    group.bench_function("raw_aes256gcm_segments_copied", |b| {
        b.iter(|| {
            segments_out.clear();
            for chunk in plain.chunks(segment.len()) {
                let data = segment.get_mut(..chunk.len()).unwrap();
                data.copy_from_slice(chunk);
                let tag = cipher
                    .encrypt_inout_detached(&Nonce::from([0u8; 12]), b"", data.into())
                    .unwrap();
                segments_out.extend_from_slice(data);
                segments_out.extend_from_slice(&tag);
            }
            black_box(segments_out.len());
        });
    });

    let mut out = Vec::with_capacity(sealed.len());
    // One whole encryption (a PQXDH run, the body, a signature) of `input` into `out`.
    let mut encrypt = |input: &[u8], out: &mut Vec<u8>, schedule| {
        out.clear();
        files::encrypt_scheduled(
            &sender,
            &bundle,
            EncryptOptions::default(),
            input,
            &mut *out,
            &mut rng,
            schedule,
        )
        .unwrap();
        black_box(out.len());
    };
    for (name, schedule) in [
        ("encrypt", Schedule::Auto),
        ("encrypt_serial", Schedule::Serial),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| encrypt(&plain[..], &mut out, schedule));
        });
    }

    let mut back = Vec::with_capacity(SIZE);
    for (name, schedule) in [
        ("decrypt", Schedule::Auto),
        ("decrypt_serial", Schedule::Serial),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                back.clear();
                files::decrypt_scheduled(&bob, &sealed[..], &mut back, schedule).unwrap();
                black_box(back.len());
            });
        });
    }
    group.finish();

    aes_gcm_implementations(c);

    // Small files: whole encryptions (one PQXDH run and one signature each) one segment at a
    // time against batches on the pool, around `PARALLEL_MIN_SEGMENTS`.
    let mut group = c.benchmark_group("files_small");
    for len in [128 * 1024, 1024 * 1024] {
        group.throughput(Throughput::Bytes(len as u64));
        let input = plain.get(..len).unwrap();
        for (name, schedule) in [
            ("serial", Schedule::Serial),
            ("parallel", Schedule::Parallel { threads: 2 }),
        ] {
            group.bench_function(format!("encrypt_{}KiB_{name}", len / 1024), |b| {
                b.iter(|| encrypt(input, &mut out, schedule));
            });
        }
    }
    group.finish();
}

/// One core, in place, no associated data: RustCrypto's `aes-gcm` and (feature `aws-lc`)
/// AWS-LC's AES-256-GCM over one 16 KiB and one 64 KiB buffer (`openssl speed`'s largest block
/// and the default segment).
fn aes_gcm_implementations(c: &mut Criterion) {
    let mut group = c.benchmark_group("files_aes256gcm");
    let key = [7u8; 32];
    let rust_crypto = Aes256Gcm::new_from_slice(&key).unwrap();
    #[cfg(feature = "aws-lc")]
    let aws_lc = aws_lc_rs::aead::LessSafeKey::new(
        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &key).unwrap(),
    );
    for len in [16 * 1024, 64 * 1024] {
        group.throughput(Throughput::Bytes(len as u64));
        let mut buf = vec![0x5au8; len];
        group.bench_function(format!("rustcrypto_seal_{}KiB", len / 1024), |b| {
            b.iter(|| {
                let tag = rust_crypto
                    .encrypt_inout_detached(&Nonce::from([0u8; 12]), b"", buf.as_mut_slice().into())
                    .unwrap();
                black_box(tag);
            });
        });
        #[cfg(feature = "aws-lc")]
        group.bench_function(format!("aws_lc_seal_{}KiB", len / 1024), |b| {
            use aws_lc_rs::aead::{Aad, Nonce};
            b.iter(|| {
                let tag = aws_lc
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key([0u8; 12]),
                        Aad::empty(),
                        buf.as_mut_slice(),
                    )
                    .unwrap();
                let _tag = black_box(tag);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
