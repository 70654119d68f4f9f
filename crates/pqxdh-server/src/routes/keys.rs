//! `GET /v1/keys` (what is left) and `PUT /v1/keys` (replenish one-time prekeys, rotate the
//! signed and last-resort prekeys). Uploads are checked like registration's.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

use super::{authenticate, parse_json, read_body};
use crate::error::ApiError;
use crate::key_check::KeyChecker;
use crate::state::AppState;
use crate::wire::{KeyCounts, KeysUpload};

pub(super) async fn counts(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<KeyCounts>, ApiError> {
    let caller = authenticate(&state, &method, &uri, &headers, Some(&[])).await?;
    let account = &caller.account;
    let (one_time_prekeys, pq_prekeys) = state.db.prekey_counts(caller.name()).await?;
    Ok(Json(KeyCounts {
        one_time_prekeys,
        pq_prekeys,
        signed_prekey_id: account.signed_prekey.id,
        last_resort_pq_prekey_id: account.last_resort.id,
    }))
}

pub(super) async fn upload(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let body = read_body(body, state.limits.max_json_body).await?;
    let caller = authenticate(&state, &method, &uri, &headers, Some(&body)).await?;
    let name = caller.name();
    let upload: KeysUpload = parse_json(&body)?;
    let identity = caller
        .account
        .identity()
        .map_err(|e| ApiError::InvalidKey(format!("identity_key: {e}")))?;
    let checker = KeyChecker::new(&identity)?;
    let signed_prekey = upload
        .signed_prekey
        .as_ref()
        .map(|k| checker.signed_prekey(k))
        .transpose()?;
    let last_resort = upload
        .last_resort_pq_prekey
        .as_ref()
        .map(|k| checker.last_resort(k))
        .transpose()?;
    let (one_time, pq) = checker.one_time(
        &upload.one_time_prekeys,
        &upload.pq_prekeys,
        state.limits.max_prekeys_per_upload,
    )?;
    let (have_ec, have_pq) = state.db.prekey_counts(name).await?;
    let max = state.limits.max_stored_prekeys;
    let fits = |have: u64, adding: usize| {
        have.saturating_add(u64::try_from(adding).unwrap_or(u64::MAX)) <= max
    };
    if !fits(have_ec, one_time.len()) || !fits(have_pq, pq.len()) {
        return Err(ApiError::Quota("stored one-time prekeys"));
    }
    state
        .db
        .update_keys(
            name,
            signed_prekey.as_ref(),
            last_resort.as_ref(),
            &one_time,
            &pq,
        )
        .await?;
    tracing::info!(
        one_time = one_time.len(),
        pq = pq.len(),
        rotated_signed = signed_prekey.is_some(),
        rotated_last_resort = last_resort.is_some(),
        "prekeys uploaded"
    );
    Ok(StatusCode::NO_CONTENT)
}
