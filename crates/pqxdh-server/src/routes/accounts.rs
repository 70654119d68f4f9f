//! `POST /v1/accounts`: registration. The request is signed like every other, but under the
//! identity key it carries, which proves possession of that key; every prekey signature is
//! checked before anything is stored. `DELETE /v1/accounts`: the signing account deletes
//! itself, which frees its name for a new identity key.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;

use super::{authenticate, parse_json, read_body, verify_and_record};
use crate::auth::{SignedHeaders, valid_name};
use crate::db::Account;
use crate::error::ApiError;
use crate::key_check::{self, KeyChecker};
use crate::metrics::Metrics;
use crate::state::{AppState, now_ms};
use crate::wire::RegisterRequest;

pub(super) async fn register(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let signed = SignedHeaders::parse(&headers)?;
    let body = read_body(body, state.limits.max_json_body).await?;
    signed.check_body(&body)?;
    let request: RegisterRequest = parse_json(&body)?;
    if !valid_name(&request.name) {
        return Err(ApiError::Malformed(
            "name: 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit".into(),
        ));
    }
    if request.name != signed.account {
        return Err(ApiError::Unauthenticated(
            "name differs from the signed account",
        ));
    }
    let identity = key_check::identity_key(&request.identity_key)?;
    let checker = KeyChecker::new(&identity)?;
    let signed_prekey = checker.signed_prekey(&request.signed_prekey)?;
    let last_resort = checker.last_resort(&request.last_resort_pq_prekey)?;
    let (one_time, pq) = checker.one_time(
        &request.one_time_prekeys,
        &request.pq_prekeys,
        state.limits.max_prekeys_per_upload,
    )?;
    verify_and_record(&state, &signed, &method, &uri, &identity).await?;
    let account = Account {
        name: request.name.clone(),
        identity_key: identity.encode().to_vec(),
        signed_prekey,
        last_resort,
    };
    if !state
        .db
        .create_account(&account, &one_time, &pq, now_ms())
        .await?
    {
        return Err(ApiError::Conflict);
    }
    Metrics::inc(&state.metrics.registrations);
    tracing::info!(
        one_time = one_time.len(),
        pq = pq.len(),
        "account registered"
    );
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "name": request.name, "one_time_prekeys": one_time.len(), "pq_prekeys": pq.len() }),
        ),
    ))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = authenticate(&state, &method, &uri, &headers, Some(&[])).await?;
    // Gone already: a concurrent deletion of the same account won.
    if !state.db.delete_account(caller.name()).await? {
        return Err(ApiError::Unauthenticated("unknown account"));
    }
    tracing::info!("account deleted");
    Ok(StatusCode::NO_CONTENT)
}
