//! Safety numbers: the 60-digit numeric fingerprint two people compare out of band to check
//! that each holds the other's real identity key (Signal's "safety number", libsignal's
//! displayable fingerprint, version 0 of its iterated hash). Both sides compute the same digits.
//!
//! Per party: `h = SHA-512(0x0000 || EncodeEC(IK) || id || EncodeEC(IK))`, then
//! `SAFETY_NUMBER_ITERATIONS - 1` times `h = SHA-512(h || EncodeEC(IK))`. The first 30 bytes of
//! `h`, read as six 5-byte big-endian integers each taken mod 100,000, give 30 decimal digits
//! (five per group, zero-padded). The safety number is the two parties' digit strings, the
//! smaller first (SPEC.md section 4.1).

use sha2::{Digest, Sha512};

use crate::primitives::keys::PublicKey;

/// Hash iterations per party, as Signal's apps use (libsignal's tests, "iterations = 5200").
pub const SAFETY_NUMBER_ITERATIONS: u32 = 5200;
/// The fingerprint format version hashed first (libsignal: `fingerprint_version = [0, 0]`).
const FINGERPRINT_VERSION: [u8; 2] = [0, 0];
/// Digits per party.
pub const PARTY_DIGITS: usize = 30;
/// Hash bytes that make one 5-digit group.
const GROUP_BYTES: usize = 5;

/// One party's 30 digits: `id` is the stable identifier bound to the key (an account name).
pub fn party_digits(id: &[u8], identity_key: &PublicKey, iterations: u32) -> String {
    let key = identity_key.encode();
    let mut hash: [u8; 64] = Sha512::new()
        .chain_update(FINGERPRINT_VERSION)
        .chain_update(key)
        .chain_update(id)
        .chain_update(key)
        .finalize()
        .into();
    for _ in 1..iterations {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(key)
            .finalize()
            .into();
    }
    hash.chunks_exact(GROUP_BYTES)
        .take(PARTY_DIGITS / 5)
        .map(|group| {
            let value = group
                .iter()
                .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
            format!("{:05}", value % 100_000)
        })
        .collect()
}

/// The 60-digit safety number of two parties; the same whichever side computes it.
pub fn safety_number(
    local_id: &[u8],
    local_key: &PublicKey,
    remote_id: &[u8],
    remote_key: &PublicKey,
) -> String {
    let local = party_digits(local_id, local_key, SAFETY_NUMBER_ITERATIONS);
    let remote = party_digits(remote_id, remote_key, SAFETY_NUMBER_ITERATIONS);
    if local < remote {
        local + &remote
    } else {
        remote + &local
    }
}

/// The safety number in twelve groups of five digits, as apps show it.
pub fn grouped(number: &str) -> String {
    number
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
