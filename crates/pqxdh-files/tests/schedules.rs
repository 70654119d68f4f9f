//! The STREAM body run one segment at a time and in parallel batches: the same bytes (same RNG
//! seed) at every size around segment and batch boundaries, the same bytes as the format's
//! recorded digests, and on a tampered, truncated or extended file the same typed error with the
//! same plaintext written before it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::KemType;
use pqxdh_files::{
    self as files, DEFAULT_SEGMENT_SIZE, EncryptOptions, FileError, FileHeader, Schedule, TAG_LEN,
};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// Every schedule the body can run under; `Parallel` with 3 threads makes batches of 24
/// segments, with 2 threads of 16 (`SEGMENTS_PER_THREAD`).
const SCHEDULES: [Schedule; 4] = [
    Schedule::Serial,
    Schedule::Auto,
    Schedule::Parallel { threads: 2 },
    Schedule::Parallel { threads: 3 },
];

/// Segments per batch of `Schedule::Parallel { threads: 3 }`.
const BATCH: usize = 3 * files::SEGMENTS_PER_THREAD;

/// SHA-256 of files written by the serial body, one line per case: `seed segment_size length
/// digest` (tests/data/stream_digests.txt).
const DIGESTS: &str = include_str!("data/stream_digests.txt");

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(131) % 251) as u8)
        .collect()
}

fn sender_and_recipient(seed: u64) -> (ChaCha20Rng, IdentityKeyPair, PreKeyStore) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sender = IdentityKeyPair::generate(&mut rng);
    let bob = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    (rng, sender, bob)
}

/// Encrypts `plain` from a world made from `seed` under `schedule`.
fn encrypt(seed: u64, segment_size: u32, plain: &[u8], schedule: Schedule) -> Vec<u8> {
    let (mut rng, sender, bob) = sender_and_recipient(seed);
    let mut out = Vec::new();
    let summary = files::encrypt_scheduled(
        &sender,
        &[bob.default_bundle().unwrap()],
        EncryptOptions { segment_size },
        plain,
        &mut out,
        &mut rng,
        schedule,
    )
    .unwrap();
    assert_eq!(summary.ciphertext_len, out.len() as u64);
    out
}

/// Decrypts under `schedule`: the result and every byte written, whatever the result.
fn decrypt(seed: u64, sealed: &[u8], schedule: Schedule) -> (Result<u64, FileError>, Vec<u8>) {
    let (_, _, bob) = sender_and_recipient(seed);
    let mut out = Vec::new();
    let result = files::decrypt_scheduled(&bob, sealed, &mut out, schedule).map(|s| s.segments);
    (result, out)
}

/// Lengths around segment and batch boundaries for `segment` bytes per segment, and around the
/// end of `Schedule::Auto`'s probe, after which it may switch to batches.
fn lengths(segment: usize) -> Vec<usize> {
    let batch = BATCH * segment;
    let probe = files::PROBE_SEGMENTS * segment;
    vec![
        0,
        1,
        segment - 1,
        segment,
        segment + 1,
        batch - 1,
        batch,
        batch + 1,
        probe - 1,
        probe,
        probe + 1,
        probe + segment + 1,
        4 * batch + 3 * segment + 5,
    ]
}

#[test]
fn every_schedule_writes_the_same_bytes_at_segment_and_batch_edges() {
    for segment_size in [16u32, DEFAULT_SEGMENT_SIZE] {
        let segment = segment_size as usize;
        for len in lengths(segment) {
            let plain = data(len);
            let serial = encrypt(5, segment_size, &plain, Schedule::Serial);
            let segments = len.div_ceil(segment).max(1);
            let header = FileHeader::read_from(&mut &serial[..]).unwrap();
            assert_eq!(
                serial.len(),
                header.len_on_disk() + len + segments * TAG_LEN + files::FILE_SIGNATURE_LEN
            );
            for schedule in SCHEDULES {
                let sealed = encrypt(5, segment_size, &plain, schedule);
                assert!(sealed == serial, "{schedule:?} len {len} seg {segment}");
                let (result, out) = decrypt(5, &serial, schedule);
                assert_eq!(result.unwrap(), segments as u64, "{schedule:?} len {len}");
                assert!(out == plain, "{schedule:?} len {len} seg {segment}");
            }
        }
    }
}

#[test]
fn bytes_match_the_recorded_digests() {
    let mut cases = 0;
    for line in DIGESTS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [seed, segment_size, len, digest] = fields[..] else {
            panic!("bad line {line}");
        };
        let (seed, segment_size, len) = (
            seed.parse().unwrap(),
            segment_size.parse().unwrap(),
            len.parse().unwrap(),
        );
        for schedule in SCHEDULES {
            let sealed = encrypt(seed, segment_size, &data(len), schedule);
            assert_eq!(
                hex::encode(Sha256::digest(&sealed)),
                digest,
                "{schedule:?} {line}"
            );
        }
        cases += 1;
    }
    assert_eq!(cases, 6);
}

/// Decrypts `sealed` under every schedule and checks they agree with the serial body: the same
/// error and the same bytes written before it; returns them.
fn same_failure_everywhere(sealed: &[u8]) -> (FileError, Vec<u8>) {
    let (serial, serial_out) = decrypt(6, sealed, Schedule::Serial);
    let serial = serial.unwrap_err();
    for schedule in SCHEDULES {
        let (result, out) = decrypt(6, sealed, schedule);
        let err = result.unwrap_err();
        assert_eq!(format!("{err:?}"), format!("{serial:?}"), "{schedule:?}");
        assert!(out == serial_out, "{schedule:?}: {} bytes", out.len());
    }
    (serial, serial_out)
}

#[test]
fn a_tampered_segment_in_a_later_batch_fails_alike_and_releases_only_earlier_segments() {
    let segment = 16usize;
    let segments = 7 * BATCH + 3;
    let plain = data(segments * segment - 5);
    let sealed = encrypt(6, segment as u32, &plain, Schedule::Auto);
    let body = FileHeader::read_from(&mut &sealed[..])
        .unwrap()
        .len_on_disk();
    let on_disk = segment + TAG_LEN;
    // The first, a middle and the last segment of the fourth batch, and the file's last segment.
    for bad in [3 * BATCH, 3 * BATCH + 2, 4 * BATCH - 1, segments - 1] {
        let mut tampered = sealed.clone();
        tampered[body + bad * on_disk + 3] ^= 0x01;
        let (err, out) = same_failure_everywhere(&tampered);
        match err {
            FileError::SegmentAuthentication(i) => assert_eq!(i as usize, bad),
            other => panic!("segment {bad}: {other:?}"),
        }
        // Exactly the authenticated segments before the bad one, as one segment at a time.
        assert!(out == plain[..bad * segment], "segment {bad}");
    }
}

#[test]
fn truncation_and_extension_in_a_later_batch_fail_alike() {
    let segment = 16usize;
    let segments = 5 * BATCH + 1;
    let plain = data(segments * segment);
    let sealed = encrypt(6, segment as u32, &plain, Schedule::Auto);
    let body = FileHeader::read_from(&mut &sealed[..])
        .unwrap()
        .len_on_disk();
    let on_disk = segment + TAG_LEN;
    let signature = &sealed[sealed.len() - files::FILE_SIGNATURE_LEN..];

    // Cut after segment 4 * BATCH - 1 (a batch boundary), keeping the signature at the end: the
    // new last segment was sealed as non-final.
    let cut = 4 * BATCH;
    let mut truncated = sealed[..body + cut * on_disk].to_vec();
    truncated.extend_from_slice(signature);
    let (err, out) = same_failure_everywhere(&truncated);
    assert!(
        matches!(err, FileError::SegmentAuthentication(i) if i as usize == cut - 1),
        "{err:?}"
    );
    assert!(out == plain[..(cut - 1) * segment]);

    // A segment's worth of bytes inserted before the signature: the real last segment is now
    // read as non-final.
    let mut extended = sealed[..sealed.len() - files::FILE_SIGNATURE_LEN].to_vec();
    extended.extend_from_slice(&[0u8; 32]);
    extended.extend_from_slice(signature);
    let (err, out) = same_failure_everywhere(&extended);
    assert!(
        matches!(err, FileError::SegmentAuthentication(i) if i as usize == segments - 1),
        "{err:?}"
    );
    assert!(out == plain[..(segments - 1) * segment]);

    // A bad signature fails after every segment authenticated, alike.
    let mut forged = sealed.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x80;
    let (err, out) = same_failure_everywhere(&forged);
    assert!(matches!(err, FileError::SenderSignature), "{err:?}");
    assert!(out == plain);
}
