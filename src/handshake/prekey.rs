//! Prekeys: the signed prekey `SPK`, one-time prekeys `OPK`, and post-quantum KEM prekeys
//! (one-time `PQOPK` or last-resort `PQSPK`), each with the id the initial message names it by.

use rand_core::CryptoRng;

use crate::handshake::identity::IdentityKeyPair;
use crate::primitives::kem::{Backend, KemError, KemKeyPair, KemPublicKey, KemType};
use crate::primitives::keys::{KeyPair, PublicKey};
use crate::primitives::xeddsa::Signature;

/// A prekey identifier, chosen by the prekeys' owner (libsignal uses u32 ids as well).
pub type PreKeyId = u32;

/// A signed prekey: the key pair and `Sig(IK, EncodeEC(SPK))`.
#[derive(Clone, Debug)]
pub struct SignedPreKey {
    id: PreKeyId,
    key_pair: KeyPair,
    signature: Signature,
}

/// Wiped on drop through its [`KeyPair`].
impl zeroize::ZeroizeOnDrop for SignedPreKey {}

impl SignedPreKey {
    /// Generates a signed prekey and signs its encoding with `identity`.
    pub fn generate<R: CryptoRng + ?Sized>(
        id: PreKeyId,
        identity: &IdentityKeyPair,
        rng: &mut R,
    ) -> Self {
        Self::from_key_pair(id, KeyPair::generate(rng), identity, rng)
    }

    /// Signs an existing key pair as a signed prekey.
    pub fn from_key_pair<R: CryptoRng + ?Sized>(
        id: PreKeyId,
        key_pair: KeyPair,
        identity: &IdentityKeyPair,
        rng: &mut R,
    ) -> Self {
        let signature = identity.sign(&key_pair.public_key().encode(), rng);
        Self {
            id,
            key_pair,
            signature,
        }
    }

    /// Restores a saved signed prekey (the signature is checked when a bundle is verified).
    pub fn from_parts(id: PreKeyId, key_pair: KeyPair, signature: Signature) -> Self {
        Self {
            id,
            key_pair,
            signature,
        }
    }

    /// The prekey id.
    pub fn id(&self) -> PreKeyId {
        self.id
    }

    /// The key pair.
    pub fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }

    /// The public part, as published in a bundle.
    pub fn public(&self) -> SignedPreKeyPublic {
        SignedPreKeyPublic {
            id: self.id,
            key: *self.key_pair.public_key(),
            signature: self.signature,
        }
    }
}

/// The published part of a signed prekey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPreKeyPublic {
    /// The prekey id.
    pub id: PreKeyId,
    /// `SPK`.
    pub key: PublicKey,
    /// `Sig(IK, EncodeEC(SPK))`.
    pub signature: Signature,
}

/// A one-time EC prekey, deleted by its owner after first use.
#[derive(Clone, Debug)]
pub struct OneTimePreKey {
    id: PreKeyId,
    key_pair: KeyPair,
}

/// Wiped on drop through its [`KeyPair`].
impl zeroize::ZeroizeOnDrop for OneTimePreKey {}

impl OneTimePreKey {
    /// Generates a one-time prekey.
    pub fn generate<R: CryptoRng + ?Sized>(id: PreKeyId, rng: &mut R) -> Self {
        Self {
            id,
            key_pair: KeyPair::generate(rng),
        }
    }

    /// Wraps an existing key pair.
    pub fn from_key_pair(id: PreKeyId, key_pair: KeyPair) -> Self {
        Self { id, key_pair }
    }

    /// The prekey id.
    pub fn id(&self) -> PreKeyId {
        self.id
    }

    /// The key pair.
    pub fn key_pair(&self) -> &KeyPair {
        &self.key_pair
    }

    /// The published part.
    pub fn public(&self) -> OneTimePreKeyPublic {
        OneTimePreKeyPublic {
            id: self.id,
            key: *self.key_pair.public_key(),
        }
    }
}

/// The published part of a one-time prekey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OneTimePreKeyPublic {
    /// The prekey id.
    pub id: PreKeyId,
    /// `OPK`.
    pub key: PublicKey,
}

/// Whether a PQ prekey may be used once or is the last-resort key reused until replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PqPreKeyKind {
    /// A signed one-time PQ prekey `PQOPK`: deleted after first use.
    OneTime,
    /// The signed last-resort PQ prekey `PQSPK`: kept until the owner rotates it.
    LastResort,
}

/// A signed PQ (KEM) prekey: the key pair and `Sig(IK, EncodeKEM(PQPK))`.
#[derive(Clone, Debug)]
pub struct PqPreKey {
    id: PreKeyId,
    kind: PqPreKeyKind,
    key_pair: KemKeyPair,
    signature: Signature,
}

/// Wiped on drop through its [`KemKeyPair`].
impl zeroize::ZeroizeOnDrop for PqPreKey {}

impl PqPreKey {
    /// Generates a KEM key pair of `kem` and signs its encoding with `identity`.
    pub fn generate<R: CryptoRng + ?Sized>(
        id: PreKeyId,
        kind: PqPreKeyKind,
        kem: KemType,
        identity: &IdentityKeyPair,
        rng: &mut R,
    ) -> Result<Self, KemError> {
        let key_pair = KemKeyPair::generate(kem, Backend::Libcrux, rng)?;
        Ok(Self::from_key_pair(id, kind, key_pair, identity, rng))
    }

    /// Signs an existing KEM key pair as a PQ prekey.
    pub fn from_key_pair<R: CryptoRng + ?Sized>(
        id: PreKeyId,
        kind: PqPreKeyKind,
        key_pair: KemKeyPair,
        identity: &IdentityKeyPair,
        rng: &mut R,
    ) -> Self {
        let signature = identity.sign(&key_pair.public_key().encode(), rng);
        Self {
            id,
            kind,
            key_pair,
            signature,
        }
    }

    /// Restores a saved PQ prekey.
    pub fn from_parts(
        id: PreKeyId,
        kind: PqPreKeyKind,
        key_pair: KemKeyPair,
        signature: Signature,
    ) -> Self {
        Self {
            id,
            kind,
            key_pair,
            signature,
        }
    }

    /// The prekey id.
    pub fn id(&self) -> PreKeyId {
        self.id
    }

    /// One-time or last-resort.
    pub fn kind(&self) -> PqPreKeyKind {
        self.kind
    }

    /// The KEM key pair.
    pub fn key_pair(&self) -> &KemKeyPair {
        &self.key_pair
    }

    /// The published part.
    pub fn public(&self) -> PqPreKeyPublic {
        PqPreKeyPublic {
            id: self.id,
            last_resort: self.kind == PqPreKeyKind::LastResort,
            key: self.key_pair.public_key().clone(),
            signature: self.signature,
        }
    }
}

/// The published part of a PQ prekey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PqPreKeyPublic {
    /// The prekey id.
    pub id: PreKeyId,
    /// Whether this is the last-resort key (informational: the owner decides what to delete).
    pub last_resort: bool,
    /// `PQPK`, tagged with its KEM.
    pub key: KemPublicKey,
    /// `Sig(IK, EncodeKEM(PQPK))`.
    pub signature: Signature,
}
