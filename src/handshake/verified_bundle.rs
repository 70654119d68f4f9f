//! A bundle whose two prekey signatures have been checked, and the exact signed material that
//! the check depended on (SPEC.md section 5.1).
//!
//! [`VerifiedBundle`] has private fields and no public constructor besides
//! [`VerifiedBundle::verify`]: holding one proves that [`PreKeyBundle::verify`] accepted its
//! signed material, either now or, through the
//! [`VerifiedBundleCache`](crate::handshake::bundle_cache::VerifiedBundleCache), earlier for
//! byte-identical material. The initiator's entry points that take it skip the signature checks.

use crate::handshake::bundle::{BundleError, PreKeyBundle};
use crate::handshake::prekey::{OneTimePreKeyPublic, PreKeyId};
use crate::primitives::keys::{ENCODED_EC_LEN, PublicKey};
use crate::primitives::xeddsa::SIGNATURE_LEN;

/// Everything the two signature checks of [`PreKeyBundle::verify`] read, as exact bytes, plus the
/// two prekey ids: `EncodeEC(IK)`, the signed prekey's id, `EncodeEC(SPK)` and signature, the PQ
/// prekey's id, `EncodeKEM(PQPK)` (type byte included) and signature. The one-time EC prekey and
/// the PQ prekey's `last_resort` flag are not signed and are not part of it.
///
/// The ids are not signed either, but a hit on the whole record means the initial-message header
/// names the very prekeys that were checked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedPrekeys {
    identity_key: [u8; ENCODED_EC_LEN],
    signed_prekey_id: PreKeyId,
    signed_prekey: [u8; ENCODED_EC_LEN],
    signed_prekey_signature: [u8; SIGNATURE_LEN],
    pq_prekey_id: PreKeyId,
    pq_prekey: Vec<u8>,
    pq_prekey_signature: [u8; SIGNATURE_LEN],
}

impl SignedPrekeys {
    /// The signed material of `bundle`.
    pub fn of(bundle: &PreKeyBundle) -> Self {
        Self {
            identity_key: bundle.identity_key.encode(),
            signed_prekey_id: bundle.signed_prekey.id,
            signed_prekey: bundle.signed_prekey.key.encode(),
            signed_prekey_signature: *bundle.signed_prekey.signature.as_bytes(),
            pq_prekey_id: bundle.pq_prekey.id,
            pq_prekey: bundle.pq_prekey.key.encode(),
            pq_prekey_signature: *bundle.pq_prekey.signature.as_bytes(),
        }
    }

    /// `EncodeEC(IK)`, the identity key that signed the prekeys.
    pub fn identity_key(&self) -> &[u8; ENCODED_EC_LEN] {
        &self.identity_key
    }
}

/// Public keys and signatures only, but a full record is long: the Debug form names the ids and
/// the identity key.
impl core::fmt::Debug for SignedPrekeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignedPrekeys")
            .field("identity_key", &hex::encode(self.identity_key))
            .field("signed_prekey_id", &self.signed_prekey_id)
            .field("pq_prekey_id", &self.pq_prekey_id)
            .finish_non_exhaustive()
    }
}

/// A bundle whose signed prekey and PQ prekey signatures verified under its identity key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    bundle: PreKeyBundle,
}

impl VerifiedBundle {
    /// Checks both signatures ([`PreKeyBundle::verify`]) and keeps the bundle on success.
    pub fn verify(bundle: PreKeyBundle) -> Result<Self, BundleError> {
        bundle.verify()?;
        Ok(Self { bundle })
    }

    /// Wraps a bundle whose signed material is byte-equal to that of a bundle verified before.
    /// Only the cache calls it, on a hit of [`SignedPrekeys`] (whose equality is exact), and
    /// only [`VerifiedBundle::verify`] puts material in the cache.
    pub(in crate::handshake) fn from_cache_hit(bundle: PreKeyBundle) -> Self {
        Self { bundle }
    }

    /// The bundle, read only: changing a signed part would void the check.
    pub fn bundle(&self) -> &PreKeyBundle {
        &self.bundle
    }

    /// `IK_B`.
    pub fn identity_key(&self) -> &PublicKey {
        &self.bundle.identity_key
    }

    /// `OPK_B`, unsigned in PQXDH: it travels with the bundle whether it was verified now or
    /// matched the cache.
    pub fn one_time_prekey(&self) -> Option<&OneTimePreKeyPublic> {
        self.bundle.one_time_prekey.as_ref()
    }

    /// The bundle, giving up the proof of verification.
    pub fn into_bundle(self) -> PreKeyBundle {
        self.bundle
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::handshake::identity::IdentityKeyPair;
    use crate::handshake::prekey_store::PreKeyStore;
    use crate::primitives::kem::KemType;
    use crate::primitives::xeddsa::Signature;
    use rand::SeedableRng;
    use rand::rngs::ChaCha20Rng;

    fn store(seed: u64) -> (ChaCha20Rng, PreKeyStore) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let store = PreKeyStore::generate(identity, KemType::MlKem1024, &mut rng).unwrap();
        (rng, store)
    }

    #[test]
    fn verify_keeps_a_good_bundle_and_refuses_a_bad_one() {
        let (_, store) = store(41);
        let bundle = store.default_bundle().unwrap();
        let verified = VerifiedBundle::verify(bundle.clone()).unwrap();
        assert_eq!(verified.bundle(), &bundle);
        assert_eq!(verified.identity_key(), &bundle.identity_key);
        assert_eq!(verified.clone().into_bundle(), bundle);

        let mut bad = bundle;
        let mut sig = *bad.pq_prekey.signature.as_bytes();
        sig[10] ^= 1;
        bad.pq_prekey.signature = Signature::from_bytes(sig);
        assert_eq!(
            VerifiedBundle::verify(bad),
            Err(BundleError::BadPqPreKeySignature)
        );
    }

    #[test]
    fn signed_material_ignores_the_unsigned_parts_only() {
        let (mut rng, mut store) = store(42);
        store.add_one_time_prekey(crate::handshake::prekey::OneTimePreKey::generate(
            7, &mut rng,
        ));
        let plain = store.bundle(1, 1, None).unwrap();
        let with_opk = store.bundle(1, 1, Some(7)).unwrap();
        assert_eq!(SignedPrekeys::of(&plain), SignedPrekeys::of(&with_opk));
        let mut relabelled = plain.clone();
        relabelled.pq_prekey.last_resort = !relabelled.pq_prekey.last_resort;
        assert_eq!(SignedPrekeys::of(&plain), SignedPrekeys::of(&relabelled));
        let mut renumbered = plain.clone();
        renumbered.signed_prekey.id += 1;
        assert_ne!(SignedPrekeys::of(&plain), SignedPrekeys::of(&renumbered));
        assert_eq!(
            SignedPrekeys::of(&plain).identity_key(),
            &plain.identity_key.encode()
        );
    }
}
