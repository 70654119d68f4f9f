//! Mailboxes: `PUT /v1/messages/{name}` deposits, `GET /v1/messages?wait=S` fetches (a long
//! poll), `DELETE /v1/messages/{id}` acknowledges. Delivery is at least once: an envelope
//! stays until its recipient acknowledges it, and its id is what the client deduplicates on.
//!
//! Long polling, not a WebSocket or server-sent events: it is plain request and response, so
//! every fetch is a signed request like any other (no second authentication scheme for a
//! connection), it passes any proxy or load balancer, and a server process holds nothing
//! about a client between requests, which is what lets several processes share one database.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{authenticate, parse_json, random_id, read_body};
use crate::auth::valid_name;
use crate::db::{Backend, StoredEnvelope};
use crate::error::ApiError;
use crate::limits::MAX_FETCH_ENVELOPES;
use crate::mail_waker::wait_for;
use crate::metrics::Metrics;
use crate::state::{AppState, now_ms};
use crate::wire::{DepositRequest, DepositResponse, Envelope, Mail};

/// How often a PostgreSQL waiter re-checks even without a notification (a safety net while
/// its listener reconnects).
const POSTGRES_RECHECK: Duration = Duration::from_secs(2);

pub(super) async fn deposit(
    State(state): State<AppState>,
    Path(recipient): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DepositResponse>), ApiError> {
    // base64 grows by 4/3; allow the JSON wrapper some room.
    let limit = state.limits.max_envelope_body.saturating_mul(4) / 3 + 1024;
    let raw = read_body(body, limit).await?;
    let sender = authenticate(&state, &method, &uri, &headers, Some(&raw))
        .await?
        .account
        .name;
    let request: DepositRequest = parse_json(&raw)?;
    let body = STANDARD
        .decode(request.body.as_bytes())
        .map_err(|_| ApiError::Malformed("body: not base64".into()))?;
    if body.len() > state.limits.max_envelope_body {
        return Err(ApiError::TooLarge {
            limit: u64::try_from(state.limits.max_envelope_body).unwrap_or(u64::MAX),
        });
    }
    if body.is_empty() {
        return Err(ApiError::Malformed("body: empty".into()));
    }
    let account = match valid_name(&recipient) {
        true => state.db.account(&recipient).await?,
        false => None,
    }
    .ok_or(ApiError::NotFound("account"))?;
    // The sender names the identity key it encrypted to: a changed one is refused, so the
    // sender learns of the change before the recipient gets a message it cannot read.
    if let Some(expected) = &request.identity_key {
        let expected = hex::decode(expected)
            .ok()
            .and_then(|b| pqxdh::PublicKey::decode(&b).ok())
            .ok_or_else(|| ApiError::Malformed("identity_key: not an encoded key".into()))?;
        if account.identity().ok() != Some(expected) {
            return Err(ApiError::IdentityChanged);
        }
    }
    let envelope = StoredEnvelope {
        id: random_id(),
        sender,
        received_ms: now_ms(),
        body,
    };
    if !state
        .db
        .deposit(&recipient, &envelope, state.limits.max_mailbox_envelopes)
        .await?
    {
        return Err(ApiError::Quota("recipient's mailbox is full"));
    }
    Metrics::inc(&state.metrics.deposits);
    state.waker.wake(&recipient);
    Ok((
        StatusCode::CREATED,
        Json(DepositResponse { id: envelope.id }),
    ))
}

/// `wait` (seconds, capped) and `limit` (envelopes, capped) from the query string.
fn poll_params(uri: &Uri, max_wait: u64) -> Result<(u64, u64), ApiError> {
    let mut wait = 0;
    let mut limit = MAX_FETCH_ENVELOPES;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number: u64 = value
            .parse()
            .map_err(|_| ApiError::Malformed(format!("query {key}: not a number")))?;
        match key {
            "wait" => wait = number.min(max_wait),
            "limit" => limit = number.clamp(1, MAX_FETCH_ENVELOPES),
            _ => {
                return Err(ApiError::Malformed(format!(
                    "unknown query parameter {key}"
                )));
            }
        }
    }
    Ok((wait, limit))
}

pub(super) async fn fetch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Mail>, ApiError> {
    let (wait, limit) = poll_params(&uri, state.limits.max_poll_wait_secs)?;
    let name = authenticate(&state, &method, &uri, &headers, Some(&[]))
        .await?
        .account
        .name;
    let deadline = Instant::now() + Duration::from_secs(wait);
    let recheck = match state.db.backend() {
        Backend::Sqlite => Duration::from_millis(state.limits.poll_interval_ms.max(1)),
        Backend::Postgres => POSTGRES_RECHECK,
    };
    loop {
        let mut wake = state.waker.subscribe();
        let mail = state.db.fetch_mail(&name, limit).await?;
        let now = Instant::now();
        if !mail.is_empty() || now >= deadline {
            let envelopes = mail
                .into_iter()
                .map(|e| Envelope {
                    id: e.id,
                    sender: e.sender,
                    received_ms: e.received_ms,
                    body: STANDARD.encode(&e.body),
                })
                .collect();
            return Ok(Json(Mail { envelopes }));
        }
        wait_for(&mut wake, &name, recheck.min(deadline - now)).await;
    }
}

pub(super) async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let name = authenticate(&state, &method, &uri, &headers, Some(&[]))
        .await?
        .account
        .name;
    if state.db.acknowledge(&name, &id).await? {
        Metrics::inc(&state.metrics.acknowledgements);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("envelope"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_parameters() {
        let uri: Uri = "/v1/messages?wait=99&limit=5".parse().unwrap_or_default();
        assert_eq!(poll_params(&uri, 30).ok(), Some((30, 5)));
        let uri: Uri = "/v1/messages".parse().unwrap_or_default();
        assert_eq!(poll_params(&uri, 30).ok(), Some((0, MAX_FETCH_ENVELOPES)));
        let uri: Uri = "/v1/messages?wait=x".parse().unwrap_or_default();
        assert!(poll_params(&uri, 30).is_err());
        let uri: Uri = "/v1/messages?other=1".parse().unwrap_or_default();
        assert!(poll_params(&uri, 30).is_err());
    }
}
