//! Attachment bodies: round trips at every size edge, wrong keys, every bit flip, truncation,
//! extension, reordering and the exact layout (SPEC.md section 9.4).
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use pqxdh_files::attachment::{
    ATTACHMENT_HEADER_LEN, ATTACHMENT_MAGIC, ATTACHMENT_VERSION, AttachmentKey,
};
use pqxdh_files::{
    FileError, HEADER_MAC_LEN, MAX_SEGMENT_SIZE, TAG_LEN, decrypt_attachment, encrypt_attachment,
};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

const SEG: u32 = 64;
const SEG_LEN: usize = SEG as usize;
/// Where the first segment starts.
const BODY: usize = ATTACHMENT_HEADER_LEN + HEADER_MAC_LEN;

fn key(seed: u64) -> AttachmentKey {
    AttachmentKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

fn seal(key: &AttachmentKey, data: &[u8], segment_size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let summary = encrypt_attachment(key, segment_size, data, &mut out).expect("encrypt");
    assert_eq!(summary.plaintext_len, data.len() as u64);
    assert_eq!(summary.ciphertext_len, out.len() as u64);
    out
}

fn open(key: &AttachmentKey, bytes: &[u8]) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::new();
    decrypt_attachment(key, bytes, &mut out).map(|_| out)
}

fn segments_for(n: usize, seg: usize) -> usize {
    n.div_ceil(seg).max(1)
}

#[test]
fn round_trips_at_every_size_edge() {
    let k = key(1);
    for n in [
        0,
        1,
        SEG_LEN - 1,
        SEG_LEN,
        SEG_LEN + 1,
        2 * SEG_LEN,
        3 * SEG_LEN + 17,
    ] {
        let data = plaintext(n);
        let sealed = seal(&k, &data, SEG);
        let mut out = Vec::new();
        let summary = decrypt_attachment(&k, &sealed[..], &mut out).expect("decrypt");
        assert_eq!(out, data, "size {n}");
        assert_eq!(summary.plaintext_len, n as u64);
        assert_eq!(
            summary.segments,
            segments_for(n, SEG_LEN) as u64,
            "size {n}"
        );
    }
}

#[test]
fn round_trips_with_the_default_segment_size() {
    let k = key(2);
    let data = plaintext(200_000);
    let sealed = seal(&k, &data, pqxdh_files::DEFAULT_SEGMENT_SIZE);
    assert_eq!(open(&k, &sealed).expect("decrypt"), data);
}

#[test]
fn layout_is_exact() {
    let k = key(3);
    for n in [0, 1, SEG_LEN, 3 * SEG_LEN + 17] {
        let sealed = seal(&k, &plaintext(n), SEG);
        let mut header = Vec::new();
        header.extend_from_slice(b"PQXDHATT");
        header.push(0x01);
        header.extend_from_slice(&SEG.to_be_bytes());
        assert_eq!(&sealed[..13], &header[..]);
        assert_eq!(&sealed[..8], ATTACHMENT_MAGIC);
        assert_eq!(sealed[8], ATTACHMENT_VERSION);
        let segments = segments_for(n, SEG_LEN);
        assert_eq!(sealed.len(), 13 + 32 + n + 16 * segments, "size {n}");
    }
}

#[test]
fn encryption_is_deterministic_per_key_and_differs_across_keys() {
    let data = plaintext(100);
    assert_eq!(seal(&key(4), &data, SEG), seal(&key(4), &data, SEG));
    assert_ne!(seal(&key(4), &data, SEG), seal(&key(5), &data, SEG));
}

#[test]
fn key_bytes_round_trip_and_debug_redacts() {
    let k = key(6);
    let copy = AttachmentKey::from_bytes(*k.as_bytes());
    let sealed = seal(&k, b"hello", SEG);
    assert_eq!(open(&copy, &sealed).expect("decrypt"), b"hello");
    assert_eq!(format!("{k:?}"), "AttachmentKey(<redacted>)");
}

#[test]
fn wrong_key_is_refused_before_any_output() {
    let sealed = seal(&key(7), &plaintext(300), SEG);
    let mut out = Vec::new();
    let err = decrypt_attachment(&key(8), &sealed[..], &mut out).expect_err("wrong key");
    assert!(matches!(err, FileError::HeaderAuthentication), "{err}");
    assert!(out.is_empty());
}

#[test]
fn every_single_bit_flip_is_refused() {
    let k = key(9);
    let sealed = seal(&k, &plaintext(2 * SEG_LEN + 5), SEG);
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut bad = sealed.clone();
            bad[byte] ^= 1 << bit;
            assert!(open(&k, &bad).is_err(), "flip of bit {bit} of byte {byte}");
        }
    }
}

#[test]
fn truncation_at_every_segment_boundary_is_refused() {
    let k = key(10);
    for n in [SEG_LEN, 3 * SEG_LEN, 3 * SEG_LEN + 17] {
        let sealed = seal(&k, &plaintext(n), SEG);
        let segments = segments_for(n, SEG_LEN);
        // Every boundary before the end: after the header MAC and after each non-final segment.
        for i in 0..segments {
            let cut = BODY + i * (SEG_LEN + TAG_LEN);
            assert!(cut < sealed.len());
            let err = open(&k, &sealed[..cut]).expect_err("truncated");
            if i == 0 {
                assert!(matches!(err, FileError::Truncated(_)), "{err}");
            } else {
                assert!(
                    matches!(err, FileError::SegmentAuthentication(s) if s as usize == i - 1),
                    "cut after segment {i}: {err}"
                );
            }
        }
    }
}

#[test]
fn truncation_anywhere_is_refused() {
    let k = key(11);
    let sealed = seal(&k, &plaintext(2 * SEG_LEN + 3), SEG);
    for cut in 0..sealed.len() {
        assert!(open(&k, &sealed[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn appended_data_is_refused() {
    let k = key(12);
    for n in [0, SEG_LEN, 3 * SEG_LEN + 17] {
        let mut sealed = seal(&k, &plaintext(n), SEG);
        sealed.push(0);
        let err = open(&k, &sealed).expect_err("appended byte");
        assert!(matches!(err, FileError::SegmentAuthentication(_)), "{err}");
        // The final segment repeated after itself is refused too.
        let mut doubled = seal(&k, &plaintext(n), SEG);
        let last_len = n - (segments_for(n, SEG_LEN) - 1) * SEG_LEN + TAG_LEN;
        let last = doubled[doubled.len() - last_len..].to_vec();
        doubled.extend_from_slice(&last);
        assert!(open(&k, &doubled).is_err());
    }
}

#[test]
fn reordered_segments_are_refused() {
    let k = key(13);
    let sealed = seal(&k, &plaintext(3 * SEG_LEN + 17), SEG);
    let chunk = SEG_LEN + TAG_LEN;
    let seg = |i: usize| &sealed[BODY + i * chunk..BODY + (i + 1) * chunk];
    let mut swapped = sealed[..BODY].to_vec();
    swapped.extend_from_slice(seg(1));
    swapped.extend_from_slice(seg(0));
    swapped.extend_from_slice(&sealed[BODY + 2 * chunk..]);
    let err = open(&k, &swapped).expect_err("reordered");
    assert!(matches!(err, FileError::SegmentAuthentication(0)), "{err}");
    // A duplicated segment in place of its successor.
    let mut duplicated = sealed[..BODY].to_vec();
    duplicated.extend_from_slice(seg(0));
    duplicated.extend_from_slice(seg(0));
    duplicated.extend_from_slice(&sealed[BODY + 2 * chunk..]);
    assert!(matches!(
        open(&k, &duplicated),
        Err(FileError::SegmentAuthentication(1))
    ));
}

#[test]
fn bad_magic_version_and_segment_size_are_refused() {
    let k = key(14);
    let sealed = seal(&k, b"attachment", SEG);

    let mut bad = sealed.clone();
    bad[0] = b'X';
    assert!(matches!(open(&k, &bad), Err(FileError::BadMagic)));

    let mut bad = sealed.clone();
    bad[8] = 2;
    assert!(matches!(
        open(&k, &bad),
        Err(FileError::UnsupportedVersion(2))
    ));

    for size in [0u32, MAX_SEGMENT_SIZE + 1] {
        let mut bad = sealed.clone();
        bad[9..13].copy_from_slice(&size.to_be_bytes());
        assert!(
            matches!(open(&k, &bad), Err(FileError::InvalidSegmentSize(s)) if s == size),
            "size {size}"
        );
    }
    // A valid but different segment size fails the header MAC.
    let mut bad = sealed.clone();
    bad[9..13].copy_from_slice(&(SEG + 1).to_be_bytes());
    assert!(matches!(
        open(&k, &bad),
        Err(FileError::HeaderAuthentication)
    ));

    // A recipient container is not an attachment.
    let mut container = sealed.clone();
    container[..8].copy_from_slice(pqxdh_files::FILE_MAGIC);
    assert!(matches!(open(&k, &container), Err(FileError::BadMagic)));

    assert!(matches!(
        open(&k, &sealed[..5]),
        Err(FileError::Truncated(_))
    ));
    assert!(matches!(
        open(&k, &sealed[..ATTACHMENT_HEADER_LEN + 3]),
        Err(FileError::Truncated(_))
    ));
}

#[test]
fn encrypting_refuses_bad_segment_sizes() {
    let k = key(15);
    for size in [0u32, MAX_SEGMENT_SIZE + 1] {
        let mut out = Vec::new();
        assert!(matches!(
            encrypt_attachment(&k, size, &b"x"[..], &mut out),
            Err(FileError::InvalidSegmentSize(s)) if s == size
        ));
        assert!(out.is_empty());
    }
}

#[test]
fn output_is_written_only_for_authenticated_segments() {
    let k = key(16);
    let data = plaintext(3 * SEG_LEN + 17);
    let mut sealed = seal(&k, &data, SEG);
    // Corrupt segment 2: segments 0 and 1 are written, nothing after.
    sealed[BODY + 2 * (SEG_LEN + TAG_LEN)] ^= 1;
    let mut out = Vec::new();
    let err = decrypt_attachment(&k, &sealed[..], &mut out).expect_err("corrupt");
    assert!(matches!(err, FileError::SegmentAuthentication(2)), "{err}");
    assert_eq!(out, &data[..2 * SEG_LEN]);
}
