//! Attachments: `POST /v1/attachments` streams an opaque blob in (at most the configured size),
//! `GET /v1/attachments/{id}` streams it out, `DELETE` removes it (its uploader only). The blob
//! is written as chunk rows while it arrives and read back one chunk at a time, so neither
//! direction holds a whole file in memory. The signed `x-pqxdh-content-sha256` covers the whole
//! body and is checked at the end; a mismatch or an oversized body stores nothing.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::{authenticate, random_id};
use crate::auth::{HEADER_CONTENT_SHA256, SignedHeaders};
use crate::db::Db;
use crate::error::ApiError;
use crate::limits::ATTACHMENT_CHUNK;
use crate::metrics::Metrics;
use crate::state::{AppState, now_ms};
use crate::wire::AttachmentReceipt;

pub(super) async fn upload(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AttachmentReceipt>), ApiError> {
    let max = state.limits.max_attachment;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The digest is checked once the body has streamed in.
    let caller = authenticate(&state, &method, &uri, &headers, None).await?;
    let owner = caller.name();
    let signed = &caller.signed;
    let room = state
        .limits
        .max_attachment_storage
        .saturating_sub(state.db.attachment_bytes(owner).await?);
    let refusal = match declared {
        Some(n) if n > max => Some(ApiError::TooLarge { limit: max }),
        Some(n) if n > room => Some(ApiError::Quota("attachment storage")),
        _ => None,
    };
    if let Some(refusal) = refusal {
        if declared.is_some_and(|n| n <= max.saturating_add(MAX_DRAIN)) {
            drain(body.into_data_stream()).await;
        }
        return Err(refusal);
    }
    let id = random_id();
    state
        .db
        .begin_attachment(&id, owner, &signed.content_sha256, now_ms())
        .await?;
    // Without a declared length the quota bounds the stream as well.
    let limit = max.min(room);
    let stored = match store_stream(&state.db, &id, body, limit, signed).await {
        Err(ApiError::TooLarge { .. }) if limit < max => Err(ApiError::Quota("attachment storage")),
        other => other,
    };
    match stored {
        Ok(size) => {
            state.db.finish_attachment(&id, size).await?;
            Metrics::inc(&state.metrics.attachments);
            state
                .metrics
                .attachment_bytes
                .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
            Ok((
                StatusCode::CREATED,
                Json(AttachmentReceipt {
                    id,
                    size,
                    sha256: hex::encode(signed.content_sha256),
                }),
            ))
        }
        Err(e) => {
            state.db.delete_attachment(&id).await?;
            Err(e)
        }
    }
}

/// Writes the body as chunk rows, hashing as it goes; returns the size.
async fn store_stream(
    db: &Db,
    id: &str,
    body: Body,
    max: u64,
    signed: &SignedHeaders,
) -> Result<u64, ApiError> {
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut pending: Vec<u8> = Vec::with_capacity(ATTACHMENT_CHUNK);
    let mut size: u64 = 0;
    let mut seq: u64 = 0;
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|_| ApiError::Malformed("upload interrupted".into()))?;
        size = size.saturating_add(u64::try_from(frame.len()).unwrap_or(u64::MAX));
        if size > max {
            drain(stream).await;
            return Err(ApiError::TooLarge { limit: max });
        }
        hasher.update(&frame);
        let mut rest: &[u8] = &frame;
        while !rest.is_empty() {
            let take = (ATTACHMENT_CHUNK - pending.len()).min(rest.len());
            let (head, tail) = rest.split_at(take);
            pending.extend_from_slice(head);
            rest = tail;
            if pending.len() == ATTACHMENT_CHUNK {
                let full = std::mem::replace(&mut pending, Vec::with_capacity(ATTACHMENT_CHUNK));
                db.put_chunk(id, seq, full).await?;
                seq += 1;
            }
        }
    }
    if !pending.is_empty() {
        db.put_chunk(id, seq, pending).await?;
    }
    signed.check_digest(&hasher.finalize().into())?;
    Ok(size)
}

/// Bytes of a refused upload read and discarded so the client, still sending, gets the error
/// response instead of a reset connection; anything longer is cut off.
const MAX_DRAIN: u64 = 16 * 1024 * 1024;

async fn drain(mut stream: axum::body::BodyDataStream) {
    let mut drained: u64 = 0;
    while let Some(Ok(frame)) = stream.next().await {
        drained = drained.saturating_add(u64::try_from(frame.len()).unwrap_or(u64::MAX));
        if drained > MAX_DRAIN {
            break;
        }
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(super) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &method, &uri, &headers, Some(&[])).await?;
    if !valid_id(&id) {
        return Err(ApiError::NotFound("attachment"));
    }
    let info = state
        .db
        .attachment(&id)
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    let db = state.db.clone();
    let chunks = info.chunks;
    let stream = futures_util::stream::unfold(0u64, move |seq| {
        let db = db.clone();
        let id = id.clone();
        async move {
            if seq >= chunks {
                return None;
            }
            match db.chunk(&id, seq).await {
                Ok(Some(data)) => Some((Ok(axum::body::Bytes::from(data)), seq + 1)),
                Ok(None) => Some((Err(std::io::Error::other("chunk missing")), chunks)),
                Err(e) => Some((Err(std::io::Error::other(e)), chunks)),
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    if let Ok(value) = HeaderValue::from_str(&hex::encode(&info.sha256)) {
        headers.insert(HEADER_CONTENT_SHA256, value);
    }
    Ok(response)
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = authenticate(&state, &method, &uri, &headers, Some(&[])).await?;
    match state.db.attachment_owner(&id).await? {
        Some(owner) if owner == caller.name() => {
            state.db.delete_attachment(&id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::NotFound("attachment")),
    }
}
