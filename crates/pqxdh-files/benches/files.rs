//! Throughput of file encryption and decryption on a 64 MiB in-memory stream, next to raw
//! AES-256-GCM over the same buffer in one call and in 64 KiB segments copied in and out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::KemType;
use pqxdh_files::{self as files, DEFAULT_SEGMENT_SIZE, EncryptOptions};
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
    group.bench_function("encrypt", |b| {
        b.iter(|| {
            out.clear();
            files::encrypt(
                &sender,
                &bundle,
                EncryptOptions::default(),
                &plain[..],
                &mut out,
                &mut rng,
            )
            .unwrap();
            black_box(out.len());
        });
    });

    let mut back = Vec::with_capacity(SIZE);
    group.bench_function("decrypt", |b| {
        b.iter(|| {
            back.clear();
            files::decrypt(&bob, &sealed[..], &mut back).unwrap();
            black_box(back.len());
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
