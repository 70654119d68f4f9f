//! A party's private prekeys: its identity, signed prekeys, one-time prekeys and PQ prekeys, from
//! which it publishes bundles and answers initial messages; the replay record of its last-resort
//! keys; and their rotation.
//!
//! # Rotation
//!
//! [`PreKeyStore::rotate`] makes a new signed prekey and a new last-resort PQ prekey, which the
//! bundles publish from then on, and retires the previous ones: they still answer pre-key
//! messages (and files) sent to them before the senders saw the new bundle, until
//! [`PreKeyStore::prune`] deletes them after a retention period ([`RETIRED_PREKEY_RETENTION`]),
//! together with their replay records. Deleting them is what gives a pre-key message and a file
//! forward secrecy against a later theft of the store (SPEC.md section 9.3).

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use crate::handshake::bundle::PreKeyBundle;
use crate::handshake::clock::{Clock, DAY, SystemClock, Timestamp};
use crate::handshake::error::HandshakeError;
use crate::handshake::error::StoreError;
use crate::handshake::header::InitialHeader;
use crate::handshake::identity::IdentityKeyPair;
use crate::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, PreKeyId, SignedPreKey};
use crate::handshake::replay_record::{
    KeySet, NO_PQ_PREKEY, ReplayError, ReplayLimits, ReplayRecord,
};
use crate::handshake::store::{PreKeySink, PreKeySource, PreKeyUse, prekey_use};
use crate::primitives::kem::{KemError, KemType};
use crate::primitives::keys::PublicKey;

/// How long a retired signed prekey and last-resort PQ prekey are kept: 30 days, so that a
/// sender who fetched the previous bundle, or a pre-key message queued on a server (Signal's
/// server keeps undelivered messages 30 days), still reaches its recipient. Longer keeps more
/// past messages open to a thief of the store.
pub const RETIRED_PREKEY_RETENTION: u64 = 30 * DAY;

/// When a prekey was made, and when it stopped being published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyTimes {
    /// Creation time (0 when unknown, as for keys loaded from an older format).
    pub created: Timestamp,
    /// When a rotation retired it; `None` while it is current.
    pub retired: Option<Timestamp>,
}

/// Why a rotation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The new PQ prekey could not be generated.
    #[error("new PQ prekey: {0}")]
    Kem(#[from] KemError),
    /// Prekey ids are exhausted (the next would be 2^32 - 1, which is reserved).
    #[error("prekey ids are exhausted")]
    IdsExhausted,
}

/// Everything a responder needs to answer initial messages.
#[derive(Clone, Debug)]
pub struct PreKeyStore {
    identity: IdentityKeyPair,
    signed: BTreeMap<PreKeyId, SignedPreKey>,
    one_time: BTreeMap<PreKeyId, OneTimePreKey>,
    pq: BTreeMap<PreKeyId, PqPreKey>,
    /// Times of signed prekeys (by id).
    signed_times: BTreeMap<PreKeyId, KeyTimes>,
    /// Times of last-resort PQ prekeys (by id); one-time PQ prekeys are deleted on use instead.
    pq_times: BTreeMap<PreKeyId, KeyTimes>,
    replay: ReplayRecord,
}

/// Every private key it holds wipes itself on drop (and when removed by [`PreKeyStore::consume`]).
impl zeroize::ZeroizeOnDrop for PreKeyStore {}

impl PreKeyStore {
    /// A store with one signed prekey (id 1) and one last-resort PQ prekey (id 1) of `kem`: the
    /// simplified three-key PQXDH setup, created now by the system clock.
    pub fn generate<R: CryptoRng + ?Sized>(
        identity: IdentityKeyPair,
        kem: KemType,
        rng: &mut R,
    ) -> Result<Self, KemError> {
        Self::generate_at(identity, kem, SystemClock.now(), rng)
    }

    /// [`PreKeyStore::generate`] with the creation time given.
    pub fn generate_at<R: CryptoRng + ?Sized>(
        identity: IdentityKeyPair,
        kem: KemType,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self, KemError> {
        let signed = SignedPreKey::generate(1, &identity, rng);
        let pq = PqPreKey::generate(1, PqPreKeyKind::LastResort, kem, &identity, rng)?;
        let mut store = Self::new(identity);
        store.add_signed_prekey_with_times(signed, KeyTimes::created(now));
        store.add_pq_prekey_with_times(pq, KeyTimes::created(now));
        Ok(store)
    }

    /// An empty store for `identity`.
    pub fn new(identity: IdentityKeyPair) -> Self {
        Self {
            identity,
            signed: BTreeMap::new(),
            one_time: BTreeMap::new(),
            pq: BTreeMap::new(),
            signed_times: BTreeMap::new(),
            pq_times: BTreeMap::new(),
            replay: ReplayRecord::new(),
        }
    }

    /// Adds (or replaces) a signed prekey, its creation time unknown.
    pub fn add_signed_prekey(&mut self, key: SignedPreKey) {
        self.add_signed_prekey_with_times(key, KeyTimes::default());
    }

    /// Adds (or replaces) a signed prekey with its times.
    pub fn add_signed_prekey_with_times(&mut self, key: SignedPreKey, times: KeyTimes) {
        self.signed_times.insert(key.id(), times);
        self.signed.insert(key.id(), key);
    }

    /// Adds (or replaces) a one-time EC prekey.
    pub fn add_one_time_prekey(&mut self, key: OneTimePreKey) {
        self.one_time.insert(key.id(), key);
    }

    /// Adds (or replaces) a PQ prekey, its creation time unknown.
    pub fn add_pq_prekey(&mut self, key: PqPreKey) {
        self.add_pq_prekey_with_times(key, KeyTimes::default());
    }

    /// Adds (or replaces) a PQ prekey with its times (kept for last-resort keys only).
    pub fn add_pq_prekey_with_times(&mut self, key: PqPreKey, times: KeyTimes) {
        if key.kind() == PqPreKeyKind::LastResort {
            self.pq_times.insert(key.id(), times);
        } else {
            self.pq_times.remove(&key.id());
        }
        self.pq.insert(key.id(), key);
    }

    /// The times of a signed prekey.
    pub fn signed_prekey_times(&self, id: PreKeyId) -> Option<KeyTimes> {
        self.signed_times.get(&id).copied()
    }

    /// The times of a last-resort PQ prekey.
    pub fn pq_prekey_times(&self, id: PreKeyId) -> Option<KeyTimes> {
        self.pq_times.get(&id).copied()
    }

    /// All signed prekeys, in id order.
    pub fn signed_prekeys(&self) -> impl Iterator<Item = &SignedPreKey> {
        self.signed.values()
    }

    /// The replay record of the last-resort key sets.
    pub fn replay_record(&self) -> &ReplayRecord {
        &self.replay
    }

    /// Sets the replay record's limits (the saved form does not carry them).
    pub fn set_replay_limits(&mut self, limits: ReplayLimits) {
        self.replay.set_limits(limits);
    }

    /// Replaces the replay record (when loading a saved store). Entries for key sets whose keys
    /// are not in the store are dropped.
    pub fn set_replay_record(&mut self, mut record: ReplayRecord) {
        record.set_limits(self.replay.limits());
        self.replay = record;
        self.prune_replay_record();
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

    /// The newest (highest-id) signed prekey that is not retired.
    pub fn current_signed_prekey(&self) -> Option<&SignedPreKey> {
        self.signed
            .values()
            .rev()
            .find(|k| !is_retired(&self.signed_times, k.id()))
    }

    /// The newest last-resort PQ prekey that is not retired.
    pub fn last_resort_pq_prekey(&self) -> Option<&PqPreKey> {
        self.pq
            .values()
            .rev()
            .find(|k| k.kind() == PqPreKeyKind::LastResort && !is_retired(&self.pq_times, k.id()))
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

    /// Whether `header` may establish a new session: refuses a base key already recorded for its
    /// last-resort key set ([`ReplayError::Replay`]) and a full record ([`ReplayError::Full`]).
    /// Changes nothing; call it before any work on the message.
    pub fn check_replay(&self, header: &InitialHeader) -> Result<(), ReplayError> {
        match prekey_use(self, header) {
            Ok(verdict) => verdict.map(|_| ()),
            // The in-memory store's lookups cannot fail.
            Err(_) => Ok(()),
        }
    }

    /// After an initial message's first message decrypted: deletes the one-time keys it used
    /// (PQXDH section 3.4) or, when it used none, records its base key in the replay record.
    /// The signed prekey and a last-resort PQ prekey are kept.
    pub fn consume(&mut self, header: &InitialHeader) {
        if let Ok(Ok(used)) = prekey_use(self, header) {
            self.apply_use(&used);
        }
    }

    fn apply_use(&mut self, used: &PreKeyUse) {
        if let Some((set, base_key)) = &used.replay_entry {
            // A full record was refused before the message was processed; nothing to evict.
            let _ = self.replay.insert(*set, base_key);
        }
        if let Some(id) = used.one_time_prekey {
            self.one_time.remove(&id);
        }
        if let Some(id) = used.one_time_pq_prekey {
            self.pq.remove(&id);
        }
    }

    /// Deletes the one-time PQ prekey `id` (a key claimed but never used, dropped by a bound on
    /// how many a client keeps). Last-resort keys are never removed here. Returns whether it
    /// was held.
    pub fn remove_one_time_pq_prekey(&mut self, id: PreKeyId) -> bool {
        if self
            .pq
            .get(&id)
            .is_some_and(|k| k.kind() == PqPreKeyKind::OneTime)
        {
            self.pq.remove(&id);
            true
        } else {
            false
        }
    }

    /// Whether the current key set's replay record reached its rotation level: the caller should
    /// [`rotate`](PreKeyStore::rotate) and publish the new bundle.
    pub fn rotation_due(&self) -> bool {
        let Some(signed) = self.current_signed_prekey() else {
            return false;
        };
        let pq = self.last_resort_pq_prekey().map(PqPreKey::id);
        self.replay.rotation_due((signed.id(), pq)) || self.replay.rotation_due((signed.id(), None))
    }

    /// Makes a new signed prekey and, if the store has one, a new last-resort PQ prekey of the
    /// same KEM (ids one above the highest in use), created at `now`; the previous current ones
    /// are retired at `now` but kept (see the module docs). A failure changes nothing.
    pub fn rotate<R: CryptoRng + ?Sized>(
        &mut self,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(), RotateError> {
        // The highest id is reserved: the replay record's saved form uses it for "no PQ prekey".
        let next_id = |ids: Option<&PreKeyId>| match ids {
            Some(id) => id
                .checked_add(1)
                .filter(|next| *next != NO_PQ_PREKEY)
                .ok_or(RotateError::IdsExhausted),
            None => Ok(1),
        };
        let signed_id = next_id(self.signed.keys().next_back())?;
        let pq_id = next_id(self.pq.keys().next_back())?;
        let old_signed = self.current_signed_prekey().map(SignedPreKey::id);
        let old_pq = self
            .last_resort_pq_prekey()
            .map(|k| (k.id(), k.public().key.kem()));
        let new_pq = match old_pq {
            Some((_, kem)) => Some(PqPreKey::generate(
                pq_id,
                PqPreKeyKind::LastResort,
                kem,
                &self.identity,
                rng,
            )?),
            None => None,
        };
        let new_signed = SignedPreKey::generate(signed_id, &self.identity, rng);
        if let Some(id) = old_signed
            && let Some(times) = self.signed_times.get_mut(&id)
        {
            times.retired = Some(now);
        }
        if let Some((id, _)) = old_pq
            && let Some(times) = self.pq_times.get_mut(&id)
        {
            times.retired = Some(now);
        }
        self.add_signed_prekey_with_times(new_signed, KeyTimes::created(now));
        if let Some(pq) = new_pq {
            self.add_pq_prekey_with_times(pq, KeyTimes::created(now));
        }
        Ok(())
    }

    /// Deletes retired signed and last-resort PQ prekeys retired at least `retention` seconds
    /// before `now`, and the replay records of the key sets they belonged to. Returns how many
    /// keys were deleted. Current keys are never deleted.
    pub fn prune(&mut self, now: Timestamp, retention: u64) -> usize {
        let expired = |times: &BTreeMap<PreKeyId, KeyTimes>| -> Vec<PreKeyId> {
            times
                .iter()
                .filter(|(_, t)| t.retired.is_some_and(|r| r.plus(retention) <= now))
                .map(|(id, _)| *id)
                .collect()
        };
        let signed = expired(&self.signed_times);
        let pq = expired(&self.pq_times);
        for id in &signed {
            self.signed.remove(id);
            self.signed_times.remove(id);
        }
        for id in &pq {
            self.pq.remove(id);
            self.pq_times.remove(id);
        }
        self.prune_replay_record();
        signed.len() + pq.len()
    }

    /// Drops replay records of key sets whose keys are gone (a replay on them fails anyway).
    fn prune_replay_record(&mut self) {
        let (signed, pq) = (&self.signed, &self.pq);
        self.replay.retain(|(spk, pq_id)| {
            signed.contains_key(&spk) && pq_id.is_none_or(|id| pq.contains_key(&id))
        });
    }
}

impl PreKeySource for PreKeyStore {
    fn identity_key_pair(&self) -> &IdentityKeyPair {
        &self.identity
    }

    fn load_signed_prekey(&self, id: PreKeyId) -> Result<Option<SignedPreKey>, StoreError> {
        Ok(self.signed.get(&id).cloned())
    }

    fn load_one_time_prekey(&self, id: PreKeyId) -> Result<Option<OneTimePreKey>, StoreError> {
        Ok(self.one_time.get(&id).cloned())
    }

    fn load_pq_prekey(&self, id: PreKeyId) -> Result<Option<PqPreKey>, StoreError> {
        Ok(self.pq.get(&id).cloned())
    }

    fn check_replay_entry(
        &self,
        set: KeySet,
        base_key: &PublicKey,
    ) -> Result<Result<(), ReplayError>, StoreError> {
        Ok(self.replay.check(set, base_key))
    }
}

impl PreKeySink for PreKeyStore {
    fn record_use(&mut self, used: &PreKeyUse) -> Result<(), StoreError> {
        self.apply_use(used);
        Ok(())
    }
}

impl KeyTimes {
    /// A current key created at `now`.
    pub fn created(now: Timestamp) -> Self {
        Self {
            created: now,
            retired: None,
        }
    }
}

fn is_retired(times: &BTreeMap<PreKeyId, KeyTimes>, id: PreKeyId) -> bool {
    times.get(&id).is_some_and(|t| t.retired.is_some())
}
