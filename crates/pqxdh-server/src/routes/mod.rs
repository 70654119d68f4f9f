//! The HTTP API, version 1 (SPEC.md section 12): one module per resource, and the request
//! plumbing they share (bounded body reads, signed-request authentication).

mod accounts;
mod attachments;
mod bundles;
mod health;
mod keys;
mod messages;

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};

use crate::auth::SignedHeaders;
use crate::db::Account;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::{AppState, now_ms};

/// The router with every endpoint.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .route(
            "/v1/accounts",
            post(accounts::register).delete(accounts::delete),
        )
        .route("/v1/keys", get(keys::counts).put(keys::upload))
        .route("/v1/bundles/{name}", get(bundles::claim))
        .route("/v1/messages", get(messages::fetch))
        .route("/v1/messages/{target}", put(messages::deposit))
        .route("/v1/messages/{target}", delete(messages::acknowledge))
        .route("/v1/attachments", post(attachments::upload))
        .route(
            "/v1/attachments/{id}",
            get(attachments::download).delete(attachments::remove),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// One structured log line per request: method, route template (never the concrete path,
/// which holds names), status, latency. No header or body is logged.
async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    Metrics::inc(&state.metrics.requests);
    let status = response.status().as_u16();
    if status == 401 {
        Metrics::inc(&state.metrics.auth_failures);
    } else if status == 429 {
        Metrics::inc(&state.metrics.rate_limited);
    }
    tracing::info!(
        %method,
        route,
        status,
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Reads a whole body of at most `limit` bytes (JSON bodies only; attachments stream).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        })
}

fn path_of(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// Who made a request, once [`authenticate`] has checked it.
struct Caller {
    /// The signing account's stored record.
    account: Account,
    /// The request's signed headers.
    signed: SignedHeaders,
}

impl Caller {
    fn name(&self) -> &str {
        &self.account.name
    }
}

/// Parses the signed headers, checks them against `body` (when the body was read whole),
/// verifies the signature under the account's stored identity key, and records the nonce.
async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<Caller, ApiError> {
    let signed = SignedHeaders::parse(headers)?;
    if let Some(body) = body {
        signed.check_body(body)?;
    }
    let account = state
        .db
        .account(&signed.account)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown account"))?;
    let identity = account
        .identity()
        .map_err(|_| ApiError::Unauthenticated("stored identity key unusable"))?;
    verify_and_record(state, &signed, method, uri, &identity).await?;
    Ok(Caller { account, signed })
}

/// Verifies a parsed request under `identity`, then records its nonce (refusing a replay).
async fn verify_and_record(
    state: &AppState,
    signed: &SignedHeaders,
    method: &Method,
    uri: &Uri,
    identity: &pqxdh::PublicKey,
) -> Result<(), ApiError> {
    let now = now_ms();
    let skew = state.limits.max_clock_skew_ms;
    signed.verify(method.as_str(), path_of(uri), identity, now, skew)?;
    let expires = signed.timestamp_ms.saturating_add(skew);
    if state
        .db
        .record_nonce(&signed.account, &signed.nonce, expires)
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::Replayed)
    }
}

/// Parses a JSON body into `T`, naming the first problem. Every body is a JSON object: serde
/// would otherwise also read a struct from an array of its fields in order.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if !object {
        return Err(ApiError::Malformed("the body must be a JSON object".into()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed(e.to_string()))
}

/// A random 128-bit id as 32 hex digits (envelopes, attachments).
fn random_id() -> String {
    let mut id = [0u8; 16];
    rand::fill(&mut id);
    hex::encode(id)
}
