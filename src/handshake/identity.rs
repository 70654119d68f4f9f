//! Identity keys: one X25519 key pair that both agrees keys (DH) and signs (XEdDSA), as in Signal.

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::primitives::keys::{KeyPair, PrivateKey, PublicKey};
use crate::primitives::xeddsa::{self, Signature, SignatureError};

/// Label hashed before an identity key to form its fingerprint (ours; see SPEC.md).
pub const FINGERPRINT_LABEL: &[u8] = b"pqxdh identity fingerprint v1";

/// A party's long-term identity key pair `IK`. The private key zeroizes on drop.
#[derive(Clone, Debug)]
pub struct IdentityKeyPair(KeyPair);

/// Wiped on drop through its [`KeyPair`].
impl zeroize::ZeroizeOnDrop for IdentityKeyPair {}

impl IdentityKeyPair {
    /// A fresh random identity.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(KeyPair::generate(rng))
    }

    /// An identity from its private key (for restoring saved keys and for known-answer tests).
    pub fn from_private(private: PrivateKey) -> Self {
        Self(KeyPair::from_private(private))
    }

    /// The public identity key `IK`.
    pub fn public_key(&self) -> &PublicKey {
        self.0.public_key()
    }

    /// The underlying X25519 key pair, for the handshake's DH1.
    pub fn key_pair(&self) -> &KeyPair {
        &self.0
    }

    /// XEdDSA signature over `message` (used for `Sig(IK, EncodeEC(SPK))` and `Sig(IK, EncodeKEM(PQPK))`).
    pub fn sign<R: CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> Signature {
        xeddsa::sign(self.0.private_key(), message, rng)
    }
}

/// Checks `signature` over `message` under identity key `key` (XEdDSA, libsignal variant accepted).
pub fn verify(
    key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    xeddsa::verify(key, message, signature)
}

/// A short, human-comparable fingerprint: SHA-256(label || EncodeEC(IK)), first 16 bytes as hex
/// in groups of four.
pub fn fingerprint(key: &PublicKey) -> String {
    let digest = Sha256::new()
        .chain_update(FINGERPRINT_LABEL)
        .chain_update(key.encode())
        .finalize();
    let hex = hex::encode(digest.get(..16).unwrap_or_default());
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
