//! A bounded, in-memory cache of bundles whose signatures verified (SPEC.md section 5.1): a
//! client that claims a contact's bundle again, with the same identity key, signed prekey and PQ
//! prekey and the same signatures, skips the two XEdDSA checks.
//!
//! The key is the whole signed material as exact bytes ([`SignedPrekeys`]), not a digest of it: a
//! hit is byte equality by construction and rests on no hash assumption, and at the limit the
//! cache holds about 0.45 MB (256 records of about 1.8 KB, most of it `EncodeKEM(PQPK)`). The
//! map's hasher is std's randomly keyed SipHash, so a server cannot choose bundles that collide
//! in it. Only material that verified is ever inserted, and [`PreKeyBundle::verify`] is a
//! deterministic function of exactly that material: a hit cannot make a bad bundle pass.
//!
//! Keep it in memory only: a cache read back from disk would be a list of "already verified"
//! claims that anyone able to write the file could extend, turning a file write into accepted
//! forged prekeys.

use std::collections::HashMap;

use crate::handshake::bundle::{BundleError, PreKeyBundle};
use crate::handshake::verified_bundle::{SignedPrekeys, VerifiedBundle};
use crate::primitives::keys::PublicKey;

/// Entries kept by [`VerifiedBundleCache::new`]: more contacts than a client starts sessions
/// with between restarts, at about 1.8 KB each (0.45 MB in all).
pub const VERIFIED_BUNDLE_CACHE_LIMIT: usize = 256;

/// Counters of what the cache did, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Bundles whose signed material matched an entry: no signature was checked.
    pub hits: u64,
    /// Bundles whose signatures were checked ([`PreKeyBundle::verify`] ran).
    pub verifications: u64,
    /// Of those, the ones that failed (never inserted).
    pub rejected: u64,
    /// Entries dropped to stay within the limit.
    pub evictions: u64,
}

/// Verified signed material, bounded, least recently used evicted first.
pub struct VerifiedBundleCache {
    /// Each entry with the tick of its last use.
    entries: HashMap<SignedPrekeys, u64>,
    limit: usize,
    tick: u64,
    stats: CacheStats,
}

impl VerifiedBundleCache {
    /// An empty cache of [`VERIFIED_BUNDLE_CACHE_LIMIT`] entries.
    pub fn new() -> Self {
        Self::with_limit(VERIFIED_BUNDLE_CACHE_LIMIT)
    }

    /// An empty cache of `limit` entries (0 caches nothing: every bundle is verified).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            entries: HashMap::new(),
            limit,
            tick: 0,
            stats: CacheStats::default(),
        }
    }

    /// A [`VerifiedBundle`] of `bundle`: without any signature check when its signed material
    /// is byte-equal to an entry's, else after [`VerifiedBundle::verify`], which on success
    /// inserts the material (evicting the least recently used entry at the limit). A failure
    /// changes no entry.
    pub fn verify(&mut self, bundle: PreKeyBundle) -> Result<VerifiedBundle, BundleError> {
        let key = SignedPrekeys::of(&bundle);
        self.tick = self.tick.wrapping_add(1);
        if let Some(last_use) = self.entries.get_mut(&key) {
            *last_use = self.tick;
            self.stats.hits += 1;
            return Ok(VerifiedBundle::from_cache_hit(bundle));
        }
        self.stats.verifications += 1;
        let verified = VerifiedBundle::verify(bundle).inspect_err(|_| self.stats.rejected += 1)?;
        if self.limit > 0 {
            if self.entries.len() >= self.limit {
                self.evict_oldest();
            }
            self.entries.insert(key, self.tick);
        }
        Ok(verified)
    }

    /// Whether `bundle`'s signed material is cached (its use is not recorded).
    pub fn contains(&self, bundle: &PreKeyBundle) -> bool {
        self.entries.contains_key(&SignedPrekeys::of(bundle))
    }

    /// Drops every entry signed by `identity_key` (for a contact whose identity changed);
    /// returns how many.
    pub fn forget_identity(&mut self, identity_key: &PublicKey) -> usize {
        let encoded = identity_key.encode();
        let before = self.entries.len();
        self.entries.retain(|k, _| k.identity_key() != &encoded);
        before - self.entries.len()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most entries held at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// A linear scan for the least recently used entry: at 256 entries it costs far less than
    /// the signature checks that precede every insertion, and needs no second index.
    fn evict_oldest(&mut self) {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, last_use)| **last_use)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.entries.remove(&k);
            self.stats.evictions += 1;
        }
    }
}

impl Default for VerifiedBundleCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Entries are public keys and signatures, but many: the Debug form gives the counts.
impl core::fmt::Debug for VerifiedBundleCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedBundleCache")
            .field("len", &self.entries.len())
            .field("limit", &self.limit)
            .field("stats", &self.stats)
            .finish()
    }
}
