//! XEdDSA signatures (Signal's XEdDSA and VXEdDSA specification, revision 1, section 2.3):
//! Ed25519-compatible signatures made and checked with X25519 keys, so that one identity key
//! serves both Diffie-Hellman and signing.
//!
//! Signing follows the specification: the Edwards key is forced to sign bit 0 by negating the
//! private scalar when needed, so the signature's top bit is 0. Verification also accepts
//! libsignal's variant, which keeps the real sign bit and carries it in the top bit of the
//! signature's last byte (libsignal rust/core/src/curve/curve25519.rs): a signature with that bit
//! clear is checked exactly as the specification says, so both forms verify with one rule.

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use crate::primitives::keys::{PrivateKey, PublicKey};

/// Length of a signature: `R || s` (RFC 8032 section 5.1.6).
pub const SIGNATURE_LEN: usize = 64;

/// Length of the random input `Z` of XEdDSA signing (XEdDSA section 2.3: 64 bytes).
pub const NONCE_RANDOM_LEN: usize = 64;

/// `hash_1` prefix: `2^256 - 1 - 1` as 32 little-endian bytes, i.e. `0xFE || 0xFF * 31`
/// (XEdDSA section 2.5, with b = 256).
const HASH1_PREFIX: [u8; 32] = {
    let mut prefix = [0xFFu8; 32];
    prefix[0] = 0xFE;
    prefix
};

/// The prime p = 2^255 - 19, little-endian: a u-coordinate must be below it (XEdDSA section 2.3).
const FIELD_PRIME: [u8; 32] = {
    let mut p = [0xFFu8; 32];
    p[0] = 0xED;
    p[31] = 0x7F;
    p
};

/// Errors from checking a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature is not 64 bytes long.
    #[error("a signature must be 64 bytes, got {0}")]
    InvalidLength(usize),
    /// The signature does not verify under the given key and message.
    #[error("signature verification failed")]
    Invalid,
}

/// An XEdDSA signature, `R || s`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl Signature {
    /// Wraps 64 signature bytes.
    pub const fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a 64-byte signature.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SignatureError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| SignatureError::InvalidLength(bytes.len()))
    }

    /// The signature bytes.
    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// Signs `message` with an X25519 private key (XEdDSA `xeddsa_sign`), with fresh randomness.
pub fn sign<R: CryptoRng + ?Sized>(key: &PrivateKey, message: &[u8], rng: &mut R) -> Signature {
    let mut random = [0u8; NONCE_RANDOM_LEN];
    rng.fill_bytes(&mut random);
    let signature = sign_with_random(key, message, &random);
    random.zeroize();
    signature
}

/// XEdDSA signing with caller-supplied `Z`, for known-answer tests. Use [`sign`] otherwise.
pub fn sign_with_random(
    key: &PrivateKey,
    message: &[u8],
    random: &[u8; NONCE_RANDOM_LEN],
) -> Signature {
    // calculate_key_pair: E = kB; the Edwards key A takes E's y with sign 0, a = +-k accordingly.
    let mut clamped = clamp_integer(*key.as_bytes());
    let mut k = Scalar::from_bytes_mod_order(clamped);
    clamped.zeroize();
    let edwards = EdwardsPoint::mul_base(&k);
    let mut compressed = edwards.compress().to_bytes();
    let negate = compressed[31] >> 7 == 1;
    let mut a = if negate { -k } else { k };
    k.zeroize();
    compressed[31] &= 0x7F;
    let public_a = compressed;

    // r = hash_1(a || M || Z) mod q
    let mut a_bytes = a.to_bytes();
    let mut nonce_hash: [u8; 64] = Sha512::new()
        .chain_update(HASH1_PREFIX)
        .chain_update(a_bytes)
        .chain_update(message)
        .chain_update(random)
        .finalize()
        .into();
    a_bytes.zeroize();
    let mut r = Scalar::from_bytes_mod_order_wide(&nonce_hash);
    nonce_hash.zeroize();
    let big_r = (&r * ED25519_BASEPOINT_TABLE).compress().to_bytes();

    let h = challenge(&big_r, &public_a, message);
    let s = r + h * a;
    r.zeroize();
    a.zeroize();

    let mut out = [0u8; SIGNATURE_LEN];
    out[..32].copy_from_slice(&big_r);
    out[32..].copy_from_slice(s.as_bytes());
    Signature(out)
}

/// Checks an XEdDSA signature over `message` under the X25519 public key `key`.
///
/// Rejects a u-coordinate that is not below p, a u that is not on the curve, a non-canonical
/// `s` (at least the group order: stricter than the specification's `s < 2^253`, which closes
/// signature malleability; honest signers never produce such an `s`), and a wrong `R`.
///
/// To check several signatures under one key, build a [`VerifyingKey`] once instead: the
/// Montgomery-to-Edwards conversion costs about a quarter of a verification.
pub fn verify(
    key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    VerifyingKey::new(key)?.verify(message, signature)
}

/// An X25519 public key converted once to its Edwards form (`convert_mont` with sign bit 0) for
/// checking any number of XEdDSA signatures under it, such as a bundle's two prekey signatures.
#[derive(Clone, Copy, Debug)]
pub struct VerifyingKey {
    u: [u8; 32],
    /// `A` for sign bit 0.
    edwards: EdwardsPoint,
    /// The encoding of `A` for sign bit 0 (its top bit is 0).
    encoded: [u8; 32],
}

impl VerifyingKey {
    /// Converts `key`; fails if its u-coordinate is not below p or not on the curve.
    pub fn new(key: &PublicKey) -> Result<Self, SignatureError> {
        let u = *key.as_bytes();
        if !is_below_prime(&u) {
            return Err(SignatureError::Invalid);
        }
        let edwards = MontgomeryPoint(u)
            .to_edwards(0)
            .ok_or(SignatureError::Invalid)?;
        Ok(Self {
            u,
            edwards,
            encoded: edwards.compress().to_bytes(),
        })
    }

    /// Checks a signature, exactly as [`verify`] specifies. The signature's top bit selects the
    /// Edwards sign: sign bit 1 gives `-A` (same y, negated x), whose encoding is `A`'s with the
    /// top bit set, except when x = 0 (u = 0, y = -1), where the conversion is redone.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        self.group_check(message, signature)?.finish()
    }

    /// Checks two signatures under this key, each exactly as [`verify`](Self::verify) does, and
    /// returns each one's result in order. The two points `[s]B - [h]A` are compressed with one
    /// shared field inversion (Montgomery's trick) instead of one each: a bundle's two prekey
    /// signatures go through here.
    pub fn verify_two(
        &self,
        first: (&[u8], &Signature),
        second: (&[u8], &Signature),
    ) -> [Result<(), SignatureError>; 2] {
        match (
            self.group_check(first.0, first.1),
            self.group_check(second.0, second.1),
        ) {
            (Ok(a), Ok(b)) => {
                let [ca, cb] = EdwardsPoint::compress_batch(&[a.check, b.check]);
                [a.matches(&ca), b.matches(&cb)]
            }
            (a, b) => [
                a.and_then(GroupCheck::finish),
                b.and_then(GroupCheck::finish),
            ],
        }
    }

    /// Picks `A` or `-A` by the signature's top bit and computes `[s]B - [h]A`.
    fn group_check(
        &self,
        message: &[u8],
        signature: &Signature,
    ) -> Result<GroupCheck, SignatureError> {
        let mut sig = signature.0;
        let sign_bit = sig[63] >> 7;
        sig[63] &= 0x7F;
        if sign_bit == 0 {
            return GroupCheck::new(&self.edwards, &self.encoded, message, &sig);
        }
        if self.u == [0u8; 32] {
            let edwards = MontgomeryPoint(self.u)
                .to_edwards(1)
                .ok_or(SignatureError::Invalid)?;
            return GroupCheck::new(&edwards, &edwards.compress().to_bytes(), message, &sig);
        }
        let mut encoded = self.encoded;
        encoded[31] |= 0x80;
        GroupCheck::new(&-self.edwards, &encoded, message, &sig)
    }
}

/// One signature's group equation, computed but not yet compared: `check = [s]B - [h]A` must
/// encode to the signature's `R`.
struct GroupCheck {
    check: EdwardsPoint,
    r: [u8; 32],
}

impl GroupCheck {
    /// Parses `R || s` (`s` must be canonical), hashes and multiplies.
    fn new(
        a: &EdwardsPoint,
        a_bytes: &[u8; 32],
        message: &[u8],
        signature: &[u8; SIGNATURE_LEN],
    ) -> Result<Self, SignatureError> {
        let (r_part, s_part) = signature.split_at(32);
        let r: [u8; 32] = r_part.try_into().map_err(|_| SignatureError::Invalid)?;
        let s_bytes: [u8; 32] = s_part.try_into().map_err(|_| SignatureError::Invalid)?;
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
            .ok_or(SignatureError::Invalid)?;
        let h = challenge(&r, a_bytes, message);
        let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&h, &-a, &s);
        Ok(Self { check, r })
    }

    /// Compresses `check` alone and compares it with `R`.
    fn finish(self) -> Result<(), SignatureError> {
        let compressed = self.check.compress();
        self.matches(&compressed)
    }

    /// Compares an already compressed `check` with `R`, as bytes (the cofactorless rule).
    fn matches(&self, compressed: &CompressedEdwardsY) -> Result<(), SignatureError> {
        if compressed.to_bytes() == self.r {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

/// Ed25519 verification (RFC 8032 section 5.1.7, cofactorless): `[s]B = R + [h]A` with `R`
/// compared as bytes and `s` required canonical. `a_bytes` is the encoding of `a` that is hashed.
pub fn verify_edwards(
    a: &EdwardsPoint,
    a_bytes: &[u8; 32],
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), SignatureError> {
    GroupCheck::new(a, a_bytes, message, signature)?.finish()
}

/// Ed25519 verification from an encoded public key (for RFC 8032 and Wycheproof vectors).
///
/// The key must be a canonical encoding (RFC 8032 section 5.1.3: decoding fails when y >= p, or
/// when x = 0 and the sign bit is 1); the decompression alone would reduce such encodings.
pub fn verify_ed25519(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), SignatureError> {
    let a = CompressedEdwardsY(*public_key)
        .decompress()
        .ok_or(SignatureError::Invalid)?;
    if a.compress().to_bytes() != *public_key {
        return Err(SignatureError::Invalid);
    }
    verify_edwards(&a, public_key, message, signature)
}

/// h = SHA-512(R || A || M) mod q (RFC 8032 section 5.1.6 step 4).
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(message)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// Whether a little-endian 32-byte integer is below p = 2^255 - 19.
fn is_below_prime(u: &[u8; 32]) -> bool {
    for (byte, prime) in u.iter().rev().zip(FIELD_PRIME.iter().rev()) {
        if byte != prime {
            return byte < prime;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sign_verify_and_reject_tampering() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(1);
        for _ in 0..16 {
            let key = PrivateKey::generate(&mut rng);
            let public = key.public_key();
            let sig = sign(&key, b"message", &mut rng);
            assert_eq!(
                sig.as_bytes()[63] >> 7,
                0,
                "spec signatures carry sign bit 0"
            );
            assert_eq!(verify(&public, b"message", &sig), Ok(()));
            assert_eq!(
                verify(&public, b"messagf", &sig),
                Err(SignatureError::Invalid)
            );
            let mut bad = *sig.as_bytes();
            bad[5] ^= 1;
            assert_eq!(
                verify(&public, b"message", &Signature(bad)),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[test]
    fn ed25519_rejects_non_canonical_public_keys() {
        use curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED;
        // A = identity (y = 1): [s]B = R + [h]A holds for R = B, s = 1 whatever h is.
        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..32].copy_from_slice(ED25519_BASEPOINT_COMPRESSED.as_bytes());
        sig[32] = 1;
        let mut canonical = [0u8; 32];
        canonical[0] = 1;
        assert_eq!(verify_ed25519(&canonical, b"m", &sig), Ok(()));
        // y = p + 1 (>= p) encodes the same point non-canonically.
        let mut big_y = FIELD_PRIME;
        big_y[0] += 1;
        assert_eq!(
            verify_ed25519(&big_y, b"m", &sig),
            Err(SignatureError::Invalid)
        );
        // x = 0 with the sign bit set.
        let mut negative_zero = canonical;
        negative_zero[31] |= 0x80;
        assert_eq!(
            verify_ed25519(&negative_zero, b"m", &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn verifying_key_matches_per_signature_conversion_for_both_sign_bits() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(2);
        for _ in 0..32 {
            let key = PrivateKey::generate(&mut rng);
            let public = key.public_key();
            let vk = VerifyingKey::new(&public).unwrap();
            for sign in [0u8, 1] {
                let edwards = MontgomeryPoint(*public.as_bytes())
                    .to_edwards(sign)
                    .unwrap();
                let expected = edwards.compress().to_bytes();
                let (point, encoded) = if sign == 0 {
                    (vk.edwards, vk.encoded)
                } else {
                    let mut e = vk.encoded;
                    e[31] |= 0x80;
                    (-vk.edwards, e)
                };
                assert_eq!(encoded, expected);
                assert_eq!(point, edwards);
            }
            let sig = sign(&key, b"m", &mut rng);
            assert_eq!(vk.verify(b"m", &sig), Ok(()));
            assert_eq!(vk.verify(b"n", &sig), Err(SignatureError::Invalid));
        }
        // u = 0: x = 0, so both sign bits encode the same point; the slow path handles it.
        let zero = PublicKey::from_bytes([0u8; 32]);
        let vk = VerifyingKey::new(&zero).unwrap();
        let mut sig = [0u8; 64];
        sig[63] = 0x80;
        assert_eq!(
            vk.verify(b"m", &Signature(sig)),
            verify_slow(&zero, b"m", &Signature(sig))
        );
    }

    #[test]
    fn verify_two_gives_each_signature_its_own_result() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(5);
        let key = PrivateKey::generate(&mut rng);
        let vk = VerifyingKey::new(&key.public_key()).unwrap();
        let (good_a, good_b) = (sign(&key, b"a", &mut rng), sign(&key, b"b", &mut rng));
        let (libsignal_b, _) = sign_libsignal_style(&key, b"b", 7);
        let mut bad_r = *good_a.as_bytes();
        bad_r[0] ^= 1;
        // s = L: canonical-s check fails before any multiplication.
        let mut big_s = *good_b.as_bytes();
        big_s[32..].copy_from_slice(&(-Scalar::ONE).to_bytes());
        big_s[32] = big_s[32].wrapping_add(1);
        let candidates = [
            (&b"a"[..], good_a),
            (&b"b"[..], good_b),
            (&b"b"[..], libsignal_b),
            (&b"a"[..], Signature(bad_r)),
            (&b"b"[..], Signature(big_s)),
            (&b"c"[..], good_a),
        ];
        let mut outcomes = [0usize; 2];
        for (m1, s1) in &candidates {
            for (m2, s2) in &candidates {
                let got = vk.verify_two((m1, s1), (m2, s2));
                let want = [vk.verify(m1, s1), vk.verify(m2, s2)];
                assert_eq!(got, want);
                outcomes[usize::from(got[0].is_ok())] += 1;
            }
        }
        assert_eq!(outcomes, [18, 18]);
    }

    /// libsignal's variant: `a = k` unnegated, `A = kB` with its real sign, which goes into the
    /// top bit of the signature's last byte.
    fn sign_libsignal_style(key: &PrivateKey, message: &[u8], nonce: u64) -> (Signature, u8) {
        let k = Scalar::from_bytes_mod_order(clamp_integer(*key.as_bytes()));
        let a_bytes = EdwardsPoint::mul_base(&k).compress().to_bytes();
        let sign = a_bytes[31] >> 7;
        let r = Scalar::from(nonce + 1000);
        let big_r = (&r * ED25519_BASEPOINT_TABLE).compress().to_bytes();
        let s = r + challenge(&big_r, &a_bytes, message) * k;
        let mut out = [0u8; SIGNATURE_LEN];
        out[..32].copy_from_slice(&big_r);
        out[32..].copy_from_slice(s.as_bytes());
        out[63] |= sign << 7;
        (Signature(out), sign)
    }

    #[test]
    fn libsignal_style_signatures_verify_with_both_sign_bits() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(3);
        let mut seen = [0usize; 2];
        for i in 0..32 {
            let key = PrivateKey::generate(&mut rng);
            let public = key.public_key();
            let (sig, sign) = sign_libsignal_style(&key, b"bundle", i);
            seen[usize::from(sign)] += 1;
            assert_eq!(verify_slow(&public, b"bundle", &sig), Ok(()));
            assert_eq!(verify(&public, b"bundle", &sig), Ok(()));
            assert_eq!(
                verify(&public, b"bundlf", &sig),
                Err(SignatureError::Invalid)
            );
        }
        assert!(
            seen[0] > 0 && seen[1] > 0,
            "both sign bits exercised: {seen:?}"
        );
    }

    /// The conversion done per signature, as before `VerifyingKey`.
    fn verify_slow(
        key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        let mut sig = signature.0;
        let sign_bit = sig[63] >> 7;
        sig[63] &= 0x7F;
        let edwards = MontgomeryPoint(*key.as_bytes())
            .to_edwards(sign_bit)
            .ok_or(SignatureError::Invalid)?;
        verify_edwards(&edwards, &edwards.compress().to_bytes(), message, &sig)
    }

    #[test]
    fn prime_bound() {
        assert!(!is_below_prime(&FIELD_PRIME));
        let mut below = FIELD_PRIME;
        below[0] -= 1;
        assert!(is_below_prime(&below));
        assert!(!is_below_prime(&[0xFF; 32]));
    }

    /// AWS-LC's Ed25519 (measured as the alternative verifier) accepts and refuses exactly what
    /// curve25519-dalek's check does: honest signatures, tampered ones and `s + L`.
    #[cfg(feature = "aws-lc")]
    #[test]
    fn aws_lc_ed25519_agrees_with_the_dalek_check() {
        use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
        use curve25519_dalek::scalar::Scalar;
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(14);
        // L, the group order, little-endian (RFC 8032 section 5.1).
        let order = (-Scalar::ONE).to_bytes();
        let mut checked = [0usize; 2];
        for i in 0..64u8 {
            let key = PrivateKey::generate(&mut rng);
            let a = MontgomeryPoint(*key.public_key().as_bytes())
                .to_edwards(0)
                .unwrap();
            let encoded = a.compress().to_bytes();
            let sig = *sign(&key, b"m", &mut rng).as_bytes();
            let mut variants = vec![sig];
            let mut tampered = sig;
            tampered[usize::from(i % 64)] ^= 1 << (i % 8);
            variants.push(tampered);
            // s + L, computed as s + (L - 1) + 1: the same point equation, refused as non-canonical.
            let mut big_s = sig;
            let mut carry = 1u16;
            for (j, byte) in big_s[32..].iter_mut().enumerate() {
                let sum = u16::from(*byte) + u16::from(order[j]) + carry;
                *byte = sum as u8;
                carry = sum >> 8;
            }
            variants.push(big_s);
            for v in variants {
                let dalek = verify_edwards(&a, &encoded, b"m", &v).is_ok();
                let aws = UnparsedPublicKey::new(&ED25519, &encoded)
                    .verify(b"m", &v)
                    .is_ok();
                assert_eq!(aws, dalek);
                checked[usize::from(dalek)] += 1;
            }
        }
        assert!(checked[0] >= 128 && checked[1] >= 60, "{checked:?}");
    }
}
