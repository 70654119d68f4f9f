//! The replay record: for each last-resort key set (signed prekey id, PQ prekey id), the base
//! keys `EK_A` of the pre-key messages that established a session on it.
//!
//! A pre-key message that uses no one-time prekey can be delivered again: its keys are all still
//! there, so without a record the same message would establish the same session a second time
//! (and replace the real one). libsignal keeps the same set per last-resort key. The record only
//! guards the *establishment* of a session: the repeated pre-key headers carried by every message
//! of one session until its first reply belong to a session that already exists, and the caller
//! routes them to it by session id first.
//!
//! The saved form (SPEC.md section 9.2), sorted so that equal records give equal bytes:
//!
//! ```text
//! u32be S || S x ( u32be SPK id || u32be PQ prekey id (0xffffffff: none)
//!                  || u32be C || C x EK_A (32) )
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::handshake::prekey::PreKeyId;
use crate::primitives::keys::{KEY_LEN, PublicKey};

/// The most base keys remembered for one key set. 10,000 entries are 320 KB saved; a key set
/// that reaches [`REPLAY_ROTATE_AT`] is rotated, so the rest is headroom for messages in flight.
pub const REPLAY_RECORD_CAPACITY: usize = 10_000;

/// The fill level at which the store asks for new last-resort keys: rotating early keeps every
/// entry (evicting one would reopen its replay) while new senders move to the new keys.
pub const REPLAY_ROTATE_AT: usize = 7_500;

/// The PQ prekey id saved for a classical (X3DH) key set, which has none.
pub const NO_PQ_PREKEY: u32 = u32::MAX;

/// The key set a pre-key message used: its signed prekey and its (last-resort) PQ prekey.
pub type KeySet = (PreKeyId, Option<PreKeyId>);

/// Why a pre-key message may not establish a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// This pre-key message (same key set and base key) already established a session.
    #[error("replayed pre-key message: this base key already established a session")]
    Replay,
    /// The key set's record is at its capacity ([`REPLAY_RECORD_CAPACITY`] by default).
    #[error("the replay record of this signed prekey is full: fetch a new bundle")]
    Full,
}

/// Why saved record bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayRecordError {
    /// The bytes end inside a field.
    #[error("replay record is truncated")]
    Truncated,
    /// A count, order or length is not allowed.
    #[error("invalid replay record: {0}")]
    Invalid(&'static str),
}

/// How many base keys one key set may hold, and when rotation is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayLimits {
    /// The most base keys kept for one key set ([`REPLAY_RECORD_CAPACITY`] by default).
    pub capacity: usize,
    /// The count at which rotation is due ([`REPLAY_ROTATE_AT`] by default).
    pub rotate_at: usize,
}

impl Default for ReplayLimits {
    fn default() -> Self {
        Self {
            capacity: REPLAY_RECORD_CAPACITY,
            rotate_at: REPLAY_ROTATE_AT,
        }
    }
}

/// Base keys seen per key set. The limits are not saved: a loaded record takes the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayRecord {
    sets: BTreeMap<KeySet, BTreeSet<[u8; KEY_LEN]>>,
    limits: ReplayLimits,
}

impl ReplayRecord {
    /// An empty record with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the limits (`rotate_at` is capped at `capacity`). Entries already kept stay: a set
    /// above a lower capacity takes no new base keys.
    pub fn set_limits(&mut self, limits: ReplayLimits) {
        self.limits = ReplayLimits {
            capacity: limits.capacity,
            rotate_at: limits.rotate_at.min(limits.capacity),
        };
    }

    /// The limits in force.
    pub fn limits(&self) -> ReplayLimits {
        self.limits
    }

    /// Whether `base_key` may establish a session on `set` (nothing changes).
    pub fn check(&self, set: KeySet, base_key: &PublicKey) -> Result<(), ReplayError> {
        let Some(seen) = self.sets.get(&set) else {
            return Ok(());
        };
        if seen.contains(base_key.as_bytes()) {
            return Err(ReplayError::Replay);
        }
        if seen.len() >= self.limits.capacity {
            return Err(ReplayError::Full);
        }
        Ok(())
    }

    /// Records `base_key` for `set` after [`ReplayRecord::check`] allowed it and the session
    /// was established.
    pub fn insert(&mut self, set: KeySet, base_key: &PublicKey) -> Result<(), ReplayError> {
        self.check(set, base_key)?;
        self.sets
            .entry(set)
            .or_default()
            .insert(*base_key.as_bytes());
        Ok(())
    }

    /// Base keys recorded for `set`.
    pub fn len(&self, set: KeySet) -> usize {
        self.sets.get(&set).map_or(0, BTreeSet::len)
    }

    /// Whether no base key is recorded at all.
    pub fn is_empty(&self) -> bool {
        self.sets.values().all(BTreeSet::is_empty)
    }

    /// Whether `set` reached its rotation level ([`REPLAY_ROTATE_AT`] by default).
    pub fn rotation_due(&self, set: KeySet) -> bool {
        self.len(set) >= self.limits.rotate_at
    }

    /// Forgets every key set for which `keep` is false (their keys were deleted, so a replay
    /// on them fails for lack of keys).
    pub fn retain(&mut self, mut keep: impl FnMut(KeySet) -> bool) {
        self.sets.retain(|set, _| keep(*set));
    }

    /// The key sets that have entries.
    pub fn key_sets(&self) -> impl Iterator<Item = KeySet> + '_ {
        self.sets.keys().copied()
    }

    /// The saved form (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.saved_len());
        put_u32(&mut out, self.sets.len());
        for ((spk, pq), seen) in &self.sets {
            out.extend_from_slice(&spk.to_be_bytes());
            out.extend_from_slice(&pq.unwrap_or(NO_PQ_PREKEY).to_be_bytes());
            put_u32(&mut out, seen.len());
            for key in seen {
                out.extend_from_slice(key);
            }
        }
        out
    }

    /// The length of [`ReplayRecord::to_bytes`].
    pub fn saved_len(&self) -> usize {
        4 + self
            .sets
            .values()
            .map(|seen| 12 + KEY_LEN * seen.len())
            .sum::<usize>()
    }

    /// Reads a saved record from the front of `bytes`, returning it and the rest. Key sets must
    /// be in increasing order and base keys strictly increasing, as [`ReplayRecord::to_bytes`]
    /// writes them, so one record has one encoding.
    pub fn read(bytes: &[u8]) -> Result<(Self, &[u8]), ReplayRecordError> {
        let (count, mut rest) = take_u32(bytes)?;
        let mut sets = BTreeMap::new();
        let mut last_set: Option<KeySet> = None;
        for _ in 0..count {
            let (spk, r) = take_u32(rest)?;
            let (pq, r) = take_u32(r)?;
            let (len, r) = take_u32(r)?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len == 0 || len > REPLAY_RECORD_CAPACITY {
                return Err(ReplayRecordError::Invalid("entry count out of range"));
            }
            let set = (spk, (pq != NO_PQ_PREKEY).then_some(pq));
            if last_set.is_some_and(|last| last >= set) {
                return Err(ReplayRecordError::Invalid("key sets out of order"));
            }
            last_set = Some(set);
            let byte_len = len
                .checked_mul(KEY_LEN)
                .ok_or(ReplayRecordError::Truncated)?;
            let (keys, r) = r
                .split_at_checked(byte_len)
                .ok_or(ReplayRecordError::Truncated)?;
            let mut seen = BTreeSet::new();
            let mut last: Option<[u8; KEY_LEN]> = None;
            for chunk in keys.chunks_exact(KEY_LEN) {
                let key: [u8; KEY_LEN] =
                    chunk.try_into().map_err(|_| ReplayRecordError::Truncated)?;
                if last.is_some_and(|l| l >= key) {
                    return Err(ReplayRecordError::Invalid("base keys out of order"));
                }
                last = Some(key);
                seen.insert(key);
            }
            sets.insert(set, seen);
            rest = r;
        }
        Ok((
            Self {
                sets,
                limits: ReplayLimits::default(),
            },
            rest,
        ))
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    // Counts are bounded by REPLAY_RECORD_CAPACITY and by the number of prekeys.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn take_u32(bytes: &[u8]) -> Result<(u32, &[u8]), ReplayRecordError> {
    let (head, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(ReplayRecordError::Truncated)?;
    Ok((u32::from_be_bytes(*head), rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn key(b: u8) -> PublicKey {
        PublicKey::from_bytes([b; 32])
    }

    #[test]
    fn a_base_key_is_refused_the_second_time_on_the_same_set_only() {
        let mut r = ReplayRecord::new();
        r.insert((1, Some(1)), &key(7)).unwrap();
        assert_eq!(r.check((1, Some(1)), &key(7)), Err(ReplayError::Replay));
        assert_eq!(r.insert((1, Some(1)), &key(7)), Err(ReplayError::Replay));
        assert_eq!(r.check((1, Some(1)), &key(8)), Ok(()));
        assert_eq!(r.check((2, Some(1)), &key(7)), Ok(()));
        assert_eq!(r.check((1, None), &key(7)), Ok(()));
        assert_eq!(r.len((1, Some(1))), 1);
    }

    #[test]
    fn a_full_set_refuses_new_keys_and_asks_for_rotation() {
        let mut r = ReplayRecord::new();
        assert_eq!(r.limits(), ReplayLimits::default());
        let set = (3, Some(4));
        for i in 0..REPLAY_RECORD_CAPACITY {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&(i as u64).to_be_bytes());
            r.insert(set, &PublicKey::from_bytes(b)).unwrap();
            assert_eq!(r.rotation_due(set), i + 1 >= REPLAY_ROTATE_AT, "{i}");
        }
        assert_eq!(r.insert(set, &key(0xff)), Err(ReplayError::Full));
        // A replay of a recorded key still says replay, not full.
        assert_eq!(
            r.check(set, &PublicKey::from_bytes([0; 32])),
            Err(ReplayError::Replay)
        );
        assert_eq!(r.len(set), REPLAY_RECORD_CAPACITY);
    }

    #[test]
    fn saved_form_round_trips_and_is_canonical() {
        let mut r = ReplayRecord::new();
        r.insert((2, None), &key(9)).unwrap();
        r.insert((1, Some(5)), &key(3)).unwrap();
        r.insert((1, Some(5)), &key(1)).unwrap();
        let bytes = r.to_bytes();
        assert_eq!(bytes.len(), r.saved_len());
        assert_eq!(bytes.len(), 4 + (12 + 64) + (12 + 32));
        let mut with_tail = bytes.clone();
        with_tail.extend_from_slice(b"tail");
        let (back, rest) = ReplayRecord::read(&with_tail).unwrap();
        assert_eq!(back, r);
        assert_eq!(rest, b"tail");
        // (1, 5) first, its keys sorted; X3DH's missing PQ id is 0xffffffff.
        assert_eq!(
            &bytes[..16],
            &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 2]
        );
        assert_eq!(bytes[16], 1);
        assert_eq!(&bytes[80..88], &[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn malformed_saved_forms_are_refused() {
        let mut r = ReplayRecord::new();
        r.insert((1, Some(1)), &key(1)).unwrap();
        r.insert((1, Some(1)), &key(2)).unwrap();
        let bytes = r.to_bytes();
        for cut in 0..bytes.len() {
            assert_eq!(
                ReplayRecord::read(&bytes[..cut]).map(|_| ()),
                Err(ReplayRecordError::Truncated),
                "cut at {cut}"
            );
        }
        let mut unsorted = bytes.clone();
        unsorted[16..48].copy_from_slice(&[2; 32]);
        unsorted[48..80].copy_from_slice(&[1; 32]);
        assert!(matches!(
            ReplayRecord::read(&unsorted),
            Err(ReplayRecordError::Invalid(_))
        ));
        let mut empty_set = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        empty_set.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            ReplayRecord::read(&empty_set),
            Err(ReplayRecordError::Invalid(_))
        ));
    }
}
