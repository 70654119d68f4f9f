//! Prekey upkeep: replenish one-time prekeys when the server runs low, rotate the signed and
//! last-resort PQ prekeys on schedule, delete retired ones after the grace period.
//!
//! Keys are committed to the store before they are uploaded, and marked uploaded before the
//! upload: a crash in between leaves keys that were never published (deleted later by the local
//! bound), never a key published twice (a re-upload after a claim would hand it out again).

use pqxdh::handshake::clock::Timestamp;
use pqxdh::handshake::prekey::PqPreKeyKind;
use pqxdh_api::signing::now_ms;
use pqxdh_api::wire::KeysUpload;

use super::{
    Client, MAX_LOCAL_ONE_TIME_PREKEYS, PREKEY_ROTATION_MS, REPLENISH_BELOW,
    RETIRED_PREKEY_RETENTION_SECS, next_pq_id, one_time_batch,
};
use crate::error::Error;
use crate::store::{keys, meta_set_u32, meta_u32};

/// What [`Client::upkeep`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    /// One-time EC prekeys uploaded.
    pub one_time_prekeys: usize,
    /// One-time PQ prekeys uploaded.
    pub pq_prekeys: usize,
    /// Whether the signed and last-resort prekeys were rotated.
    pub rotated: bool,
    /// Whether a signed or last-resort prekey was (re)published.
    pub published_signed: bool,
    /// Retired prekeys deleted.
    pub pruned: usize,
}

impl Client {
    /// Checks the server's key counts and keeps the account reachable (see the module docs).
    pub async fn upkeep(&self) -> Result<UpkeepReport, Error> {
        self.upkeep_with(false).await
    }

    /// Rotates the signed and last-resort PQ prekeys now and publishes them.
    pub async fn rotate_prekeys(&self) -> Result<UpkeepReport, Error> {
        self.upkeep_with(true).await
    }

    async fn upkeep_with(&self, force_rotation: bool) -> Result<UpkeepReport, Error> {
        let counts = self.server.key_counts().await?;
        let now = now_ms();
        let mut report = UpkeepReport::default();
        let mut upload = KeysUpload::default();
        let key = self.store.key();
        let mut tx = self.store.write().await?;
        let mut prekeys = keys::load(&mut tx, key).await?;
        let mut changed = false;

        let stamp = Timestamp(now / 1000);
        let old = prekeys
            .current_signed_prekey()
            .and_then(|k| prekeys.signed_prekey_times(k.id()));
        let aged = old.is_some_and(|t| t.created.plus(PREKEY_ROTATION_MS / 1000) <= stamp);
        if force_rotation || aged || prekeys.rotation_due() {
            prekeys
                .rotate(stamp, &mut rand::rng())
                .map_err(|e| Error::PreKeys(e.to_string()))?;
            report.rotated = true;
            changed = true;
        }
        let pruned = prekeys.prune(stamp, RETIRED_PREKEY_RETENTION_SECS);
        report.pruned = pruned;
        changed |= pruned > 0;

        if let Some(signed) = prekeys.current_signed_prekey()
            && signed.id() != counts.signed_prekey_id
        {
            upload.signed_prekey = Some((&signed.public()).into());
        }
        if let Some(last_resort) = prekeys.last_resort_pq_prekey()
            && last_resort.id() != counts.last_resort_pq_prekey_id
        {
            upload.last_resort_pq_prekey = Some((&last_resort.public()).into());
        }
        report.published_signed =
            upload.signed_prekey.is_some() || upload.last_resort_pq_prekey.is_some();

        // An account made with small batches refills when it runs out, not at every upkeep.
        let below = REPLENISH_BELOW.min(u64::from(self.batch));
        if counts.one_time_prekeys < below || counts.pq_prekeys < below {
            let kem = prekeys
                .last_resort_pq_prekey()
                .map(|k| k.public().key.kem())
                .unwrap_or(pqxdh::KemType::MlKem1024);
            let next_ec = meta_u32(&mut tx, "next_ec_id").await?.max(1);
            let next_pq = meta_u32(&mut tx, "next_pq_id")
                .await?
                .max(next_pq_id(&prekeys));
            let (ec, pq) = one_time_batch(&self.identity, kem, next_ec, next_pq, self.batch)?;
            let count = u32::try_from(ec.len()).unwrap_or(u32::MAX);
            upload.one_time_prekeys = ec.iter().map(|k| (&k.public()).into()).collect();
            upload.pq_prekeys = pq.iter().map(|k| (&k.public()).into()).collect();
            report.one_time_prekeys = ec.len();
            report.pq_prekeys = pq.len();
            keys::add_one_time(&mut tx, key, &ec).await?;
            for k in pq {
                prekeys.add_pq_prekey(k);
            }
            meta_set_u32(&mut tx, "next_ec_id", next_ec.saturating_add(count)).await?;
            meta_set_u32(&mut tx, "next_pq_id", next_pq.saturating_add(count)).await?;
            changed = true;
            // Keys claimed but never used pile up: keep the newest.
            let old_ec: Vec<_> = prekeys.one_time_prekeys().map(|k| k.id()).collect();
            if let Some(excess) = (old_ec.len() + ec.len()).checked_sub(MAX_LOCAL_ONE_TIME_PREKEYS)
                && excess > 0
            {
                let drop: Vec<_> = old_ec.into_iter().take(excess).collect();
                keys::delete_one_time(&mut tx, &drop).await?;
            }
            let old_pq: Vec<_> = prekeys
                .pq_prekeys()
                .filter(|k| k.kind() == PqPreKeyKind::OneTime)
                .map(|k| k.id())
                .collect();
            if let Some(excess) = old_pq.len().checked_sub(MAX_LOCAL_ONE_TIME_PREKEYS)
                && excess > 0
            {
                for id in old_pq.into_iter().take(excess) {
                    prekeys.remove_one_time_pq_prekey(id);
                }
            }
        }
        if changed {
            keys::save(&mut tx, key, &prekeys).await?;
        }
        tx.commit().await?;
        if report.published_signed || !upload.one_time_prekeys.is_empty() {
            self.server.upload_keys(&upload).await?;
        }
        Ok(report)
    }
}
