//! A party's private prekeys: its identity, signed prekeys, one-time prekeys and PQ prekeys, from
//! which it publishes bundles and answers initial messages.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use crate::bundle::PreKeyBundle;
use crate::identity::IdentityKeyPair;
use crate::kem::{KemError, KemType};
use crate::pqxdh::{HandshakeError, InitialHeader};
use crate::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, PreKeyId, SignedPreKey};

/// Everything a responder needs to answer initial messages.
#[derive(Clone, Debug)]
pub struct PreKeyStore {
    identity: IdentityKeyPair,
    signed: BTreeMap<PreKeyId, SignedPreKey>,
    one_time: BTreeMap<PreKeyId, OneTimePreKey>,
    pq: BTreeMap<PreKeyId, PqPreKey>,
}

/// Every private key it holds wipes itself on drop (and when removed by [`PreKeyStore::consume`]).
impl zeroize::ZeroizeOnDrop for PreKeyStore {}

impl PreKeyStore {
    /// A store with one signed prekey (id 1) and one last-resort PQ prekey (id 1) of `kem`: the
    /// simplified three-key PQXDH setup.
    pub fn generate<R: CryptoRng + ?Sized>(
        identity: IdentityKeyPair,
        kem: KemType,
        rng: &mut R,
    ) -> Result<Self, KemError> {
        let signed = SignedPreKey::generate(1, &identity, rng);
        let pq = PqPreKey::generate(1, PqPreKeyKind::LastResort, kem, &identity, rng)?;
        let mut store = Self::new(identity);
        store.add_signed_prekey(signed);
        store.add_pq_prekey(pq);
        Ok(store)
    }

    /// An empty store for `identity`.
    pub fn new(identity: IdentityKeyPair) -> Self {
        Self {
            identity,
            signed: BTreeMap::new(),
            one_time: BTreeMap::new(),
            pq: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a signed prekey.
    pub fn add_signed_prekey(&mut self, key: SignedPreKey) {
        self.signed.insert(key.id(), key);
    }

    /// Adds (or replaces) a one-time EC prekey.
    pub fn add_one_time_prekey(&mut self, key: OneTimePreKey) {
        self.one_time.insert(key.id(), key);
    }

    /// Adds (or replaces) a PQ prekey.
    pub fn add_pq_prekey(&mut self, key: PqPreKey) {
        self.pq.insert(key.id(), key);
    }

    /// The identity key pair.
    pub fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// A signed prekey by id.
    pub fn signed_prekey(&self, id: PreKeyId) -> Option<&SignedPreKey> {
        self.signed.get(&id)
    }

    /// A one-time prekey by id.
    pub fn one_time_prekey(&self, id: PreKeyId) -> Option<&OneTimePreKey> {
        self.one_time.get(&id)
    }

    /// A PQ prekey by id.
    pub fn pq_prekey(&self, id: PreKeyId) -> Option<&PqPreKey> {
        self.pq.get(&id)
    }

    /// All one-time EC prekeys, in id order.
    pub fn one_time_prekeys(&self) -> impl Iterator<Item = &OneTimePreKey> {
        self.one_time.values()
    }

    /// All PQ prekeys, in id order.
    pub fn pq_prekeys(&self) -> impl Iterator<Item = &PqPreKey> {
        self.pq.values()
    }

    /// The newest (highest-id) signed prekey.
    pub fn current_signed_prekey(&self) -> Option<&SignedPreKey> {
        self.signed.values().next_back()
    }

    /// The newest last-resort PQ prekey.
    pub fn last_resort_pq_prekey(&self) -> Option<&PqPreKey> {
        self.pq
            .values()
            .rev()
            .find(|k| k.kind() == PqPreKeyKind::LastResort)
    }

    /// A bundle naming the given prekeys (a server picks which one-time keys to hand out).
    pub fn bundle(
        &self,
        signed_prekey: PreKeyId,
        pq_prekey: PreKeyId,
        one_time_prekey: Option<PreKeyId>,
    ) -> Result<PreKeyBundle, HandshakeError> {
        let signed = self
            .signed
            .get(&signed_prekey)
            .ok_or(HandshakeError::UnknownSignedPreKey(signed_prekey))?;
        let pq = self
            .pq
            .get(&pq_prekey)
            .ok_or(HandshakeError::UnknownPqPreKey(pq_prekey))?;
        let one_time = match one_time_prekey {
            Some(id) => Some(
                self.one_time
                    .get(&id)
                    .ok_or(HandshakeError::UnknownOneTimePreKey(id))?
                    .public(),
            ),
            None => None,
        };
        Ok(PreKeyBundle {
            identity_key: *self.identity.public_key(),
            signed_prekey: signed.public(),
            pq_prekey: pq.public(),
            one_time_prekey: one_time,
        })
    }

    /// The default bundle: newest signed prekey, newest last-resort PQ prekey, no one-time prekey.
    pub fn default_bundle(&self) -> Result<PreKeyBundle, HandshakeError> {
        let signed = self
            .current_signed_prekey()
            .ok_or(HandshakeError::UnknownSignedPreKey(0))?;
        let pq = self
            .last_resort_pq_prekey()
            .ok_or(HandshakeError::UnknownPqPreKey(0))?;
        self.bundle(signed.id(), pq.id(), None)
    }

    /// Deletes the one-time keys an initial message used (PQXDH section 3.4: after its first
    /// message decrypted). The signed prekey and a last-resort PQ prekey are kept.
    pub fn consume(&mut self, header: &InitialHeader) {
        if let Some(id) = header.one_time_prekey_id {
            self.one_time.remove(&id);
        }
        if let Some(pq) = &header.pq
            && self
                .pq
                .get(&pq.prekey_id)
                .is_some_and(|k| k.kind() == PqPreKeyKind::OneTime)
        {
            self.pq.remove(&pq.prekey_id);
        }
    }
}
