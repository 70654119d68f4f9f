//! Claimed bundles, checked through the client's verified-bundle cache (SPEC.md sections 5.1 and
//! 13.4): a contact's bundle claimed again with the same signed material is not verified again.
//!
//! The cache lives in memory only, for the life of the [`Client`]: it is never written to the
//! store, and none is ever read from disk. A stored list of "already verified" bundles would let
//! whoever can write the file (or roll it back) have forged prekeys accepted without a check;
//! re-verifying once per process costs two XEdDSA checks per contact.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pqxdh::handshake::bundle_cache::CacheStats;
use pqxdh::{PublicKey, VerifiedBundle, VerifiedBundleCache};

use super::Client;
use crate::error::{ClientError, Error};

/// The client's cache behind a lock: `Client` methods take `&self`.
#[derive(Debug, Default)]
pub(crate) struct BundleCache(Mutex<VerifiedBundleCache>);

impl BundleCache {
    /// The cache. A panic while it was held leaves at worst a missing entry or a counter not
    /// updated, never an unverified entry (only verified material is inserted), so a poisoned
    /// lock is taken over, emptied to be sure.
    fn lock(&self) -> MutexGuard<'_, VerifiedBundleCache> {
        self.0.lock().unwrap_or_else(|poisoned: PoisonError<_>| {
            let mut cache = poisoned.into_inner();
            cache.clear();
            cache
        })
    }
}

impl Client {
    /// Claims a bundle of `name` (a network call: hold no transaction) and checks its
    /// signatures, or finds its signed material among those checked before.
    pub(crate) async fn claim_verified_bundle(&self, name: &str) -> Result<VerifiedBundle, Error> {
        let bundle = self.server.claim_bundle(name).await?;
        let verified = self.bundles.lock().verify(bundle);
        Ok(verified.map_err(ClientError::Bundle)?)
    }

    /// Drops the cached bundles signed by `identity_key`: called when a contact's identity
    /// changes, so that nothing checked under the old identity outlives it.
    pub(crate) fn forget_verified_bundles(&self, identity_key: &PublicKey) {
        self.bundles.lock().forget_identity(identity_key);
    }

    /// What the verified-bundle cache did since the client was opened: bundles matched without
    /// a signature check, signature checks, failures, evictions.
    pub fn bundle_cache_stats(&self) -> CacheStats {
        self.bundles.lock().stats()
    }
}
