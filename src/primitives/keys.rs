//! X25519 keys: public keys with their `EncodeEC` form, private keys, and checked Diffie-Hellman.

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::primitives::curve;
use crate::primitives::secret::secret_bytes;

/// Length of an X25519 public key or private key (RFC 7748 section 5).
pub const KEY_LEN: usize = curve::KEY_LEN;

/// Curve-type byte that prefixes `EncodeEC(pk)`: libsignal's `DJB_TYPE` for Curve25519
/// (libsignal rust/core/src/curve.rs; PQXDH section 2.5 asks for a type prefix).
pub const EC_TYPE_CURVE25519: u8 = 0x05;

/// Length of `EncodeEC(pk)`: the type byte and the 32-byte u-coordinate.
pub const ENCODED_EC_LEN: usize = 1 + KEY_LEN;

/// Errors from decoding or using X25519 keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key does not have the expected number of bytes.
    #[error("an X25519 key must be {expected} bytes, got {actual}")]
    InvalidLength {
        /// The length the encoding requires.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// The first byte of an `EncodeEC` value is not the Curve25519 type byte 0x05.
    #[error("unknown EC key type byte 0x{0:02x} (expected 0x05)")]
    UnknownKeyType(u8),
    /// The Diffie-Hellman output was all zeros: the peer's key has small order.
    #[error("X25519 output is all zeros: the public key is of small order (non-contributory)")]
    NonContributory,
}

/// An X25519 public key (a Montgomery u-coordinate, little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    /// Wraps the raw 32-byte u-coordinate.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a raw 32-byte key.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::InvalidLength {
            expected: KEY_LEN,
            actual: bytes.len(),
        })?;
        Ok(Self(array))
    }

    /// The raw u-coordinate.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// `EncodeEC(pk) = 0x05 || u`, the form that is signed, hashed and sent.
    pub fn encode(&self) -> [u8; ENCODED_EC_LEN] {
        let mut out = [0u8; ENCODED_EC_LEN];
        out[0] = EC_TYPE_CURVE25519;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// Decodes `EncodeEC(pk)`: exactly 33 bytes starting with 0x05.
    pub fn decode(bytes: &[u8]) -> Result<Self, KeyError> {
        match bytes.split_first() {
            Some((&EC_TYPE_CURVE25519, rest)) if rest.len() == KEY_LEN => Self::from_slice(rest),
            Some((&EC_TYPE_CURVE25519, _)) | None => Err(KeyError::InvalidLength {
                expected: ENCODED_EC_LEN,
                actual: bytes.len(),
            }),
            Some((&other, _)) => Err(KeyError::UnknownKeyType(other)),
        }
    }
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

/// An X25519 private key: the 32 bytes fed to X25519, clamped on use (RFC 7748 section 5).
/// Zeroized on drop; never printed.
#[derive(Clone)]
pub struct PrivateKey(Zeroizing<[u8; KEY_LEN]>);

impl ZeroizeOnDrop for PrivateKey {}

impl PrivateKey {
    /// A fresh random private key: 32 bytes from `rng` (clamping is done on use).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Wraps 32 secret bytes exactly as fed to X25519 (clamped on use, RFC 7748 section 5).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let mut bytes = bytes;
        let key = Self(Zeroizing::new(bytes));
        bytes.zeroize();
        key
    }

    /// Reads 32 secret bytes from a slice.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let mut array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::InvalidLength {
            expected: KEY_LEN,
            actual: bytes.len(),
        })?;
        let key = Self::from_bytes(array);
        array.zeroize();
        Ok(key)
    }

    /// The secret bytes, for saving a key. Handle with care.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The matching public key, X25519(self, 9).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(curve::x25519_base(&self.0))
    }

    /// X25519(self, their), rejecting the all-zero output of a small-order public key
    /// (PQXDH section 4.9 and RFC 7748 section 6.1 "check for the all-zero value").
    ///
    /// AWS-LC computes it with the default feature `aws-lc`, curve25519-dalek without; both are
    /// constant-time in the private key and give the same bytes.
    pub fn diffie_hellman(&self, their: &PublicKey) -> Result<DhOutput, KeyError> {
        let shared = curve::x25519(&self.0, &their.0);
        if bool::from(shared.ct_eq(&[0u8; KEY_LEN])) {
            return Err(KeyError::NonContributory);
        }
        Ok(DhOutput::from_bytes(*shared))
    }
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl ConstantTimeEq for PrivateKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.as_bytes().ct_eq(other.as_bytes())
    }
}

/// An X25519 key pair whose public half is computed once and cached.
#[derive(Clone)]
pub struct KeyPair {
    private: PrivateKey,
    public: PublicKey,
}

impl KeyPair {
    /// A fresh random key pair.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_private(PrivateKey::generate(rng))
    }

    /// The key pair of a private key.
    pub fn from_private(private: PrivateKey) -> Self {
        let public = private.public_key();
        Self { private, public }
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The private half.
    pub fn private_key(&self) -> &PrivateKey {
        &self.private
    }

    /// Checked X25519 with this key pair's private key.
    pub fn diffie_hellman(&self, their: &PublicKey) -> Result<DhOutput, KeyError> {
        self.private.diffie_hellman(their)
    }
}

/// The private half wipes itself on drop; the public half is not secret.
impl ZeroizeOnDrop for KeyPair {}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("private", &self.private)
            .finish()
    }
}

secret_bytes!(
    /// A 32-byte X25519 output, known to be non-zero. Zeroized on drop.
    DhOutput,
    KEY_LEN
);

/// A single-use ephemeral key pair (Signal's base key `EK_A`): consumed by the handshake that uses it.
pub struct EphemeralKeyPair(KeyPair);

impl EphemeralKeyPair {
    /// A fresh random ephemeral key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(KeyPair::generate(rng))
    }

    /// An ephemeral key from fixed bytes, for known-answer tests.
    pub fn from_private(private: PrivateKey) -> Self {
        Self(KeyPair::from_private(private))
    }

    /// The public half, sent to the peer.
    pub fn public_key(&self) -> &PublicKey {
        self.0.public_key()
    }

    /// Borrowed for the handshake's DH computations; the handshake consumes `self` afterwards.
    pub(crate) fn key_pair(&self) -> &KeyPair {
        &self.0
    }
}

/// Wiped on drop through its [`KeyPair`].
impl ZeroizeOnDrop for EphemeralKeyPair {}

impl core::fmt::Debug for EphemeralKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("EphemeralKeyPair").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffie_hellman_matches_the_montgomery_ladder_on_curve_and_twist() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(7);
        let (mut on_curve, mut on_twist) = (0, 0);
        for _ in 0..200 {
            let (mut k, mut u) = ([0u8; 32], [0u8; 32]);
            rng.fill_bytes(&mut k);
            // Random u-coordinates, high bit included: about half lie on the twist.
            rng.fill_bytes(&mut u);
            let ladder = x25519_dalek::x25519(k, u);
            let ours = PrivateKey::from_bytes(k).diffie_hellman(&PublicKey::from_bytes(u));
            assert_eq!(ours.unwrap().as_bytes(), &ladder);
            match curve25519_dalek::MontgomeryPoint(u).to_edwards(0) {
                Some(_) => on_curve += 1,
                None => on_twist += 1,
            }
        }
        assert!(on_curve > 50 && on_twist > 50, "{on_curve} {on_twist}");
        // Small-order points give the all-zero output on both paths and are refused.
        for u in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert_eq!(
                PrivateKey::from_bytes([3; 32]).diffie_hellman(&PublicKey::from_bytes(u)),
                Err(KeyError::NonContributory)
            );
        }
    }

    #[test]
    fn encode_decode_round_trip_and_errors() {
        let key = PublicKey::from_bytes([9u8; 32]);
        let encoded = key.encode();
        assert_eq!(encoded[0], 0x05);
        assert_eq!(PublicKey::decode(&encoded), Ok(key));
        assert_eq!(
            PublicKey::decode(&encoded[..32]),
            Err(KeyError::InvalidLength {
                expected: 33,
                actual: 32
            })
        );
        let mut wrong = encoded;
        wrong[0] = 0x0a;
        assert_eq!(
            PublicKey::decode(&wrong),
            Err(KeyError::UnknownKeyType(0x0a))
        );
        assert!(PublicKey::decode(&[]).is_err());
    }

    #[test]
    fn zero_point_is_rejected() {
        let private = PrivateKey::from_bytes([7u8; 32]);
        let zero = PublicKey::from_bytes([0u8; 32]);
        assert_eq!(
            private.diffie_hellman(&zero).err(),
            Some(KeyError::NonContributory)
        );
    }

    #[test]
    fn debug_redacts_private_keys() {
        let private = PrivateKey::from_bytes([0x41; 32]);
        let printed = format!("{private:?} {:?}", KeyPair::from_private(private.clone()));
        assert!(printed.contains("redacted"));
        assert!(!printed.contains("4141"));
    }
}
