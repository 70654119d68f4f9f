//! `GET /v1/bundles/{name}`: claims a bundle (SPEC.md section 12.3.3). The requester is
//! authenticated and rate limited twice, per requester and per requester-target pair, so
//! nobody can drain another account's one-time prekeys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use pqxdh::PreKeyBundle;
use pqxdh::PublicKey;
use pqxdh::handshake::prekey::{OneTimePreKeyPublic, PqPreKeyPublic, SignedPreKeyPublic};
use pqxdh::primitives::kem::KemPublicKey;
use pqxdh::primitives::xeddsa::Signature;

use super::authenticate;
use crate::auth::valid_name;
use crate::db::ClaimedBundle;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::{AppState, now_ms};

pub(super) async fn claim(
    State(state): State<AppState>,
    Path(target): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let requester = authenticate(&state, &method, &uri, &headers, Some(&[]))
        .await?
        .account
        .name;
    if !valid_name(&target) {
        return Err(ApiError::NotFound("account"));
    }
    let limits = &state.limits;
    let now = now_ms();
    // Both buckets must have room; a refusal by the second gives the first its token back,
    // so a refused fetch counts against nothing.
    let pair = format!("bundle_pair:{requester}:{target}");
    let own = format!("bundle:{requester}");
    if let Some(wait_ms) = state
        .db
        .take_token(
            &pair,
            limits.bundle_pair_bucket_capacity,
            limits.bundle_pair_bucket_leak_ms,
            now,
        )
        .await?
    {
        return Err(ApiError::RateLimited {
            bucket: "bundle_pair",
            retry_after_secs: wait_ms.div_ceil(1000),
        });
    }
    if let Some(wait_ms) = state
        .db
        .take_token(
            &own,
            limits.bundle_bucket_capacity,
            limits.bundle_bucket_leak_ms,
            now,
        )
        .await?
    {
        state.db.refund_token(&pair).await?;
        return Err(ApiError::RateLimited {
            bucket: "bundle",
            retry_after_secs: wait_ms.div_ceil(1000),
        });
    }
    let claimed = state
        .db
        .claim_bundle(&target)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    Metrics::inc(&state.metrics.bundles);
    if claimed.one_time.is_none() {
        Metrics::inc(&state.metrics.bundles_without_one_time);
    }
    if claimed.pq.is_none() {
        Metrics::inc(&state.metrics.bundles_last_resort);
    }
    Ok(Json(bundle_of(&claimed)?.to_json_value()))
}

fn stored(what: &'static str) -> ApiError {
    tracing::error!(what, "stored key no longer decodes");
    ApiError::NotFound("usable bundle")
}

/// The core's bundle from the claimed rows (checked on upload; decoded again here).
fn bundle_of(claimed: &ClaimedBundle) -> Result<PreKeyBundle, ApiError> {
    let account = &claimed.account;
    let ec = |bytes: &[u8], what| PublicKey::decode(bytes).map_err(|_| stored(what));
    let sig = |bytes: &[u8], what| Signature::from_slice(bytes).map_err(|_| stored(what));
    let pq_prekey = match &claimed.pq {
        Some(pq) => PqPreKeyPublic {
            id: pq.id,
            last_resort: false,
            key: KemPublicKey::decode(&pq.key).map_err(|_| stored("pq prekey"))?,
            signature: sig(&pq.signature, "pq prekey signature")?,
        },
        None => PqPreKeyPublic {
            id: account.last_resort.id,
            last_resort: true,
            key: KemPublicKey::decode(&account.last_resort.key)
                .map_err(|_| stored("last-resort key"))?,
            signature: sig(&account.last_resort.signature, "last-resort signature")?,
        },
    };
    Ok(PreKeyBundle {
        identity_key: ec(&account.identity_key, "identity key")?,
        signed_prekey: SignedPreKeyPublic {
            id: account.signed_prekey.id,
            key: ec(&account.signed_prekey.key, "signed prekey")?,
            signature: sig(&account.signed_prekey.signature, "signed prekey signature")?,
        },
        pq_prekey,
        one_time_prekey: claimed
            .one_time
            .as_ref()
            .map(|o| {
                Ok::<_, ApiError>(OneTimePreKeyPublic {
                    id: o.id,
                    key: ec(&o.key, "one-time prekey")?,
                })
            })
            .transpose()?,
    })
}
