//! Storage of a party's private prekeys, as traits the application implements (libsignal's
//! `PreKeyStore`, `SignedPreKeyStore`, `KyberPreKeyStore`), so that a database can hold them.
//!
//! Reading and writing are separate: [`PreKeySource`] answers lookups while a pre-key message is
//! processed, which changes nothing; the change that processing implies (a consumed one-time
//! prekey, a base key for the replay record) comes back as a [`PreKeyUse`] value that the caller
//! commits through [`PreKeySink::record_use`] in the same transaction as the new session and its
//! own inbox. [`PreKeyStore`](crate::handshake::prekey_store::PreKeyStore) is the in-memory
//! implementation that tests and the node use.

use crate::handshake::error::StoreError;
use crate::handshake::header::InitialHeader;
use crate::handshake::identity::IdentityKeyPair;
use crate::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, PreKeyId, SignedPreKey};
use crate::handshake::replay_record::{KeySet, ReplayError};
use crate::primitives::keys::PublicKey;

/// Lookups a responder needs. Every method leaves the store unchanged.
pub trait PreKeySource {
    /// Our identity key pair.
    fn identity_key_pair(&self) -> &IdentityKeyPair;
    /// The signed prekey `id`, current or retired, if still held.
    fn load_signed_prekey(&self, id: PreKeyId) -> Result<Option<SignedPreKey>, StoreError>;
    /// The one-time EC prekey `id`, if not yet consumed.
    fn load_one_time_prekey(&self, id: PreKeyId) -> Result<Option<OneTimePreKey>, StoreError>;
    /// The PQ prekey `id` (one-time or last-resort), if still held.
    fn load_pq_prekey(&self, id: PreKeyId) -> Result<Option<PqPreKey>, StoreError>;
    /// Whether `base_key` may start a new session on the last-resort key set `set`: the outer
    /// result is the storage's, the inner one the replay record's answer.
    fn check_replay_entry(
        &self,
        set: KeySet,
        base_key: &PublicKey,
    ) -> Result<Result<(), ReplayError>, StoreError>;
}

/// The change that processing one pre-key message implies for the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreKeyUse {
    /// The one-time EC prekey to delete.
    pub one_time_prekey: Option<PreKeyId>,
    /// The one-time PQ prekey to delete.
    pub one_time_pq_prekey: Option<PreKeyId>,
    /// The base key to record for a last-resort key set (no one-time prekey was used).
    pub replay_entry: Option<(KeySet, PublicKey)>,
}

/// Writes a store needs.
pub trait PreKeySink {
    /// Applies a [`PreKeyUse`]: deletes the consumed one-time keys, records the base key.
    fn record_use(&mut self, used: &PreKeyUse) -> Result<(), StoreError>;
}

/// What accepting `header` would change in `store`, or why it must be refused as a replay.
/// Changes nothing.
pub fn prekey_use<S: PreKeySource + ?Sized>(
    store: &S,
    header: &InitialHeader,
) -> Result<Result<PreKeyUse, ReplayError>, StoreError> {
    // The named PQ prekey's kind, read once: `None` when the header names none or it is gone.
    let pq_kind = match &header.pq {
        Some(pq) => store
            .load_pq_prekey(pq.prekey_id)?
            .map(|k| (k.id(), k.kind())),
        None => None,
    };
    let one_time_pq_prekey = pq_kind
        .filter(|(_, kind)| *kind == PqPreKeyKind::OneTime)
        .map(|(id, _)| id);
    let replay_set = if header.one_time_prekey_id.is_some() || one_time_pq_prekey.is_some() {
        // A one-time key is deleted on first use: a copy of the message fails on it.
        None
    } else {
        match (&header.pq, pq_kind) {
            (Some(_), Some((id, _))) => Some((header.signed_prekey_id, Some(id))),
            (Some(_), None) => None,
            (None, _) => Some((header.signed_prekey_id, None)),
        }
    };
    if let Some(set) = replay_set
        && let Err(replay) = store.check_replay_entry(set, &header.ephemeral_key)?
    {
        return Ok(Err(replay));
    }
    Ok(Ok(PreKeyUse {
        one_time_prekey: header.one_time_prekey_id,
        one_time_pq_prekey,
        replay_entry: replay_set.map(|set| (set, header.ephemeral_key)),
    }))
}
