//! Encrypted files through the library: round trips, multiple recipients, every tampering case,
//! sender signatures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};

use pqxdh::PreKeyBundle;
use pqxdh::handshake::identity;
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::KemType;
use pqxdh_files::armor::{ArmorReader, ArmorWriter};
use pqxdh_files::{
    self as files, DEFAULT_SEGMENT_SIZE, EncryptOptions, FileError, FileHeader, TAG_LEN,
};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

struct World {
    rng: ChaCha20Rng,
    sender: IdentityKeyPair,
    recipients: Vec<PreKeyStore>,
}

fn world(seed: u64, n: usize) -> World {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sender = IdentityKeyPair::generate(&mut rng);
    let recipients = (0..n)
        .map(|i| {
            let kem = if i % 2 == 0 {
                KemType::MlKem1024
            } else {
                KemType::Kyber1024
            };
            PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), kem, &mut rng).unwrap()
        })
        .collect();
    World {
        rng,
        sender,
        recipients,
    }
}

impl World {
    fn bundles(&self) -> Vec<PreKeyBundle> {
        self.recipients
            .iter()
            .map(|s| s.default_bundle().unwrap())
            .collect()
    }

    fn encrypt(&mut self, data: &[u8], segment_size: u32) -> Vec<u8> {
        let bundles = self.bundles();
        let mut out = Vec::new();
        let summary = files::encrypt(
            &self.sender,
            &bundles,
            EncryptOptions { segment_size },
            data,
            &mut out,
            &mut self.rng,
        )
        .unwrap();
        assert_eq!(summary.plaintext_len, data.len() as u64);
        assert_eq!(summary.ciphertext_len, out.len() as u64);
        out
    }
}

fn decrypt(store: &PreKeyStore, bytes: &[u8]) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::new();
    files::decrypt(store, bytes, &mut out).map(|_| out)
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(131) % 251) as u8)
        .collect()
}

/// A reader that hands out at most 7 bytes per call, to exercise short reads.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn round_trips_at_segment_edges() {
    let mut w = world(1, 1);
    let s = DEFAULT_SEGMENT_SIZE as usize;
    for (len, segments) in [
        (0, 1),
        (1, 1),
        (s - 1, 1),
        (s, 1),
        (s + 1, 2),
        (3 * s + 7, 4),
        (4 * s, 4),
    ] {
        let plain = data(len);
        let sealed = w.encrypt(&plain, DEFAULT_SEGMENT_SIZE);
        let header = FileHeader::read_from(&mut &sealed[..]).unwrap();
        assert_eq!(header.segment_size, DEFAULT_SEGMENT_SIZE);
        assert_eq!(
            sealed.len(),
            header.len_on_disk() + len + segments * TAG_LEN + files::FILE_SIGNATURE_LEN,
            "len {len}"
        );
        let mut out = Vec::new();
        let summary = files::decrypt(&w.recipients[0], Trickle(&sealed), &mut out).unwrap();
        assert_eq!(out, plain, "len {len}");
        assert_eq!(summary.segments, segments as u64);
        assert_eq!(summary.sender, *w.sender.public_key());
    }
}

#[test]
fn encrypting_twice_gives_different_files() {
    let mut w = world(2, 1);
    let a = w.encrypt(b"same", 1024);
    let b = w.encrypt(b"same", 1024);
    assert_ne!(a, b);
}

#[test]
fn every_recipient_can_decrypt_and_others_cannot() {
    let mut w = world(3, 4);
    let plain = data(10_000);
    let sealed = w.encrypt(&plain, 4096);
    let header = FileHeader::read_from(&mut &sealed[..]).unwrap();
    assert_eq!(header.recipients.len(), 4);
    for store in &w.recipients {
        assert_eq!(decrypt(store, &sealed).unwrap(), plain);
    }
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let stranger = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    match decrypt(&stranger, &sealed) {
        Err(FileError::NotARecipient(fp)) => {
            assert_eq!(fp, identity::fingerprint(stranger.identity().public_key()));
        }
        other => panic!("{other:?}"),
    }
    // Same identity key but other prekeys (a re-generated store): the handshake cannot finish.
    let mut impostor = PreKeyStore::new(w.recipients[0].identity().clone());
    let ik = impostor.identity().clone();
    impostor.add_signed_prekey(pqxdh::handshake::prekey::SignedPreKey::generate(
        1, &ik, &mut rng,
    ));
    impostor.add_pq_prekey(
        pqxdh::handshake::prekey::PqPreKey::generate(
            1,
            pqxdh::handshake::prekey::PqPreKeyKind::LastResort,
            KemType::MlKem1024,
            &ik,
            &mut rng,
        )
        .unwrap(),
    );
    assert!(matches!(
        decrypt(&impostor, &sealed),
        Err(FileError::UnwrapFailed)
    ));
}

#[test]
fn rejects_bad_recipient_lists_and_bundles() {
    let mut w = world(4, 2);
    let mut bundles = w.bundles();
    let mut out = Vec::new();
    let err = files::encrypt(
        &w.sender,
        &[],
        EncryptOptions::default(),
        &b"x"[..],
        &mut out,
        &mut w.rng,
    );
    assert!(matches!(err, Err(FileError::RecipientCount(0))));
    let twice = vec![bundles[0].clone(), bundles[0].clone()];
    let err = files::encrypt(
        &w.sender,
        &twice,
        EncryptOptions::default(),
        &b"x"[..],
        &mut out,
        &mut w.rng,
    );
    assert!(matches!(err, Err(FileError::DuplicateRecipient(_))));
    let mut sig = *bundles[1].signed_prekey.signature.as_bytes();
    sig[5] ^= 1;
    bundles[1].signed_prekey.signature = pqxdh::primitives::xeddsa::Signature::from_bytes(sig);
    let err = files::encrypt(
        &w.sender,
        &bundles,
        EncryptOptions::default(),
        &b"x"[..],
        &mut out,
        &mut w.rng,
    );
    assert!(matches!(err, Err(FileError::Recipient { .. })), "{err:?}");
    for size in [0, files::MAX_SEGMENT_SIZE + 1] {
        let err = files::encrypt(
            &w.sender,
            &bundles[..1],
            EncryptOptions { segment_size: size },
            &b"x"[..],
            &mut out,
            &mut w.rng,
        );
        assert!(matches!(err, Err(FileError::InvalidSegmentSize(_))));
    }
}

const SEG: u32 = 1024;

/// A 4-segment file (3 full segments and 500 bytes) to two recipients, and where its segments
/// start.
fn tamper_fixture() -> (World, Vec<u8>, Vec<u8>, usize) {
    let mut w = world(5, 2);
    let plain = data(3 * SEG as usize + 500);
    let sealed = w.encrypt(&plain, SEG);
    let header_len = FileHeader::read_from(&mut &sealed[..])
        .unwrap()
        .len_on_disk();
    (w, plain, sealed, header_len)
}

const CHUNK: usize = SEG as usize + TAG_LEN;

#[test]
fn untampered_fixture_decrypts() {
    let (w, plain, sealed, header_len) = tamper_fixture();
    assert_eq!(
        sealed.len(),
        header_len + 3 * CHUNK + 500 + TAG_LEN + files::FILE_SIGNATURE_LEN
    );
    assert_eq!(decrypt(&w.recipients[0], &sealed).unwrap(), plain);
}

#[test]
fn any_flipped_header_byte_is_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    for i in 0..header_len {
        let mut bad = sealed.clone();
        bad[i] ^= 0x40;
        for store in &w.recipients {
            assert!(decrypt(store, &bad).is_err(), "header byte {i}");
        }
    }
    // The MAC itself, and the other recipient's entry, give the header error.
    let mut bad = sealed.clone();
    bad[header_len - 1] ^= 1;
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::HeaderAuthentication)
    ));
    let header = FileHeader::read_from(&mut &sealed[..]).unwrap();
    let second_entry_wrapped_key = header.encoded.len() - 1;
    let mut bad = sealed.clone();
    bad[second_entry_wrapped_key] ^= 1;
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::HeaderAuthentication)
    ));
    assert!(matches!(
        decrypt(&w.recipients[1], &bad),
        Err(FileError::UnwrapFailed)
    ));
    let mut bad = sealed.clone();
    bad[0] ^= 1;
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::BadMagic)
    ));
}

#[test]
fn flipped_bytes_in_each_segment_and_tag_are_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    for seg in 0..4usize {
        let start = header_len + seg * CHUNK;
        let len = if seg == 3 { 500 + TAG_LEN } else { CHUNK };
        // First byte, a middle byte, the first tag byte, the last tag byte.
        for offset in [0, len / 2, len - TAG_LEN, len - 1] {
            let mut bad = sealed.clone();
            bad[start + offset] ^= 0x01;
            match decrypt(&w.recipients[1], &bad) {
                Err(FileError::SegmentAuthentication(i)) => assert_eq!(i as usize, seg),
                other => panic!("segment {seg} offset {offset}: {other:?}"),
            }
        }
    }
}

#[test]
fn truncation_is_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    let mut cuts = vec![header_len, header_len + 1, header_len + TAG_LEN];
    for seg in 1..=3 {
        cuts.push(header_len + seg * CHUNK); // at a segment boundary
        cuts.push(header_len + seg * CHUNK - 1);
        cuts.push(header_len + seg * CHUNK + 100); // mid-segment
    }
    cuts.push(sealed.len() - 1);
    cuts.extend([0, 5, 20, header_len / 2, header_len - 1]); // inside the header
    for cut in cuts {
        let result = decrypt(&w.recipients[0], &sealed[..cut]);
        assert!(result.is_err(), "cut at {cut}");
    }
    assert!(matches!(
        decrypt(&w.recipients[0], &sealed[..header_len]),
        Err(FileError::Truncated(_))
    ));
    assert!(matches!(
        decrypt(&w.recipients[0], &sealed[..header_len + CHUNK]),
        Err(FileError::SegmentAuthentication(0))
    ));
}

#[test]
fn appended_bytes_are_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    for extra in [
        vec![0u8],
        vec![0u8; TAG_LEN],
        vec![0xAA; CHUNK],
        sealed[header_len..header_len + CHUNK].to_vec(),
        sealed[sealed.len() - 516..].to_vec(),
    ] {
        let mut bad = sealed.clone();
        bad.extend_from_slice(&extra);
        assert!(
            decrypt(&w.recipients[0], &bad).is_err(),
            "appended {}",
            extra.len()
        );
    }
}

#[test]
fn swapped_and_duplicated_segments_are_detected() {
    let (w, _, sealed, header_len) = tamper_fixture();
    let seg = |i: usize| header_len + i * CHUNK..header_len + (i + 1) * CHUNK;
    let mut bad = sealed.clone();
    let first = sealed[seg(0)].to_vec();
    let second = sealed[seg(1)].to_vec();
    bad[seg(0)].copy_from_slice(&second);
    bad[seg(1)].copy_from_slice(&first);
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::SegmentAuthentication(0))
    ));
    let mut bad = sealed.clone();
    bad[seg(2)].copy_from_slice(&first);
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::SegmentAuthentication(2))
    ));
    // Dropping a whole middle segment.
    let mut bad = sealed[..header_len + CHUNK].to_vec();
    bad.extend_from_slice(&sealed[header_len + 2 * CHUNK..]);
    assert!(matches!(
        decrypt(&w.recipients[0], &bad),
        Err(FileError::SegmentAuthentication(1))
    ));
}

#[test]
fn segments_from_another_file_are_rejected() {
    let (mut w, plain, sealed, header_len) = tamper_fixture();
    let other = w.encrypt(&plain, SEG);
    let mut bad = sealed[..header_len].to_vec();
    bad.extend_from_slice(&other[header_len..]);
    assert!(decrypt(&w.recipients[0], &bad).is_err());
}

#[test]
fn armor_round_trip_through_the_library() {
    let mut w = world(6, 1);
    let plain = data(5000);
    let sealed = w.encrypt(&plain, 1000);
    let mut armored = ArmorWriter::new(Vec::new()).unwrap();
    armored.write_all(&sealed).unwrap();
    let text = armored.finish().unwrap();
    assert!(text.starts_with(pqxdh_files::armor::BEGIN.as_bytes()));
    let mut out = Vec::new();
    files::decrypt(&w.recipients[0], ArmorReader::new(&text[..]), &mut out).unwrap();
    assert_eq!(out, plain);
}

/// Section 5: Bob, a recipient, re-MACs Alice's file for Carol with other content; Carol must not
/// accept it as from Alice (signed by Bob: refused; downgraded to version 1: unverified).
#[test]
fn recipient_rewritten_file_is_refused_for_another_recipient() {
    let mut w = world(51, 2);
    let sealed = w.encrypt(b"from alice", 1024);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut forged = Vec::new();
    files::recipient_reseal(
        &w.recipients[0],
        &sealed[..],
        &b"forged by bob"[..],
        &mut forged,
        files::FILE_VERSION,
        &mut rng,
    )
    .unwrap();
    assert!(matches!(
        decrypt(&w.recipients[1], &forged),
        Err(FileError::SenderSignature)
    ));
    let mut downgraded = Vec::new();
    files::recipient_reseal(
        &w.recipients[0],
        &sealed[..],
        &b"forged by bob"[..],
        &mut downgraded,
        files::FILE_VERSION_UNSIGNED,
        &mut rng,
    )
    .unwrap();
    let mut out = Vec::new();
    let s = files::decrypt(&w.recipients[1], &downgraded[..], &mut out).unwrap();
    assert!(!s.sender_verified);
    let mut out = Vec::new();
    let s = files::decrypt(&w.recipients[1], &sealed[..], &mut out).unwrap();
    assert!(s.sender_verified);
    assert_eq!(s.sender, *w.sender.public_key());
}

#[test]
fn version1_file_decrypts_unverified() {
    let mut w = world(52, 1);
    let bundles = w.bundles();
    let mut sealed = Vec::new();
    files::encrypt_version1(
        &w.sender,
        &bundles,
        EncryptOptions::default(),
        &b"old"[..],
        &mut sealed,
        &mut w.rng,
    )
    .unwrap();
    let mut out = Vec::new();
    let s = files::decrypt(&w.recipients[0], &sealed[..], &mut out).unwrap();
    assert_eq!(out, b"old");
    assert!(!s.sender_verified);
}

#[test]
fn flipped_or_truncated_signature_is_refused() {
    let mut w = world(53, 1);
    let sealed = w.encrypt(&data(3000), 1024);
    let sig_start = sealed.len() - files::FILE_SIGNATURE_LEN;
    for i in sig_start..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(
                decrypt(&w.recipients[0], &bad),
                Err(FileError::SenderSignature)
            ),
            "byte {i}"
        );
    }
    for cut in [sig_start - 1, sig_start, sig_start + 1, sealed.len() - 1] {
        assert!(
            decrypt(&w.recipients[0], &sealed[..cut]).is_err(),
            "cut {cut}"
        );
    }
}
