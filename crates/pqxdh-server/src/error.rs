//! The server's errors: each becomes one HTTP status and a JSON body `{"error", "message"}`
//! (SPEC.md section 12.4), and none echoes key material or message bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request was refused. Nothing was stored when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not the JSON (or the field values) the endpoint takes.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A key or signature in the body failed the core's checks.
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    /// The body is larger than the endpoint's limit.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Authentication headers are missing, malformed, stale or do not verify.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// The signed request was already seen (same account and nonce).
    #[error("replayed request")]
    Replayed,
    /// The named account, envelope or attachment does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The path exists but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The account name is taken.
    #[error("account already exists")]
    Conflict,
    /// The sender encrypted to an identity key the recipient account no longer has.
    #[error("the recipient's identity key changed")]
    IdentityChanged,
    /// A rate limit refused the request; retry after the given seconds.
    #[error("rate limited ({bucket}); retry after {retry_after_secs} s")]
    RateLimited {
        /// Which limit: `bundle` or `bundle_pair`.
        bucket: &'static str,
        /// Seconds until one more request fits.
        retry_after_secs: u64,
    },
    /// A quota (mailbox size, stored prekeys) is full.
    #[error("quota exceeded: {0}")]
    Quota(&'static str),
    /// The database failed; details go to the log, not to the client.
    #[error("storage unavailable")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    /// The stable machine-readable code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::InvalidKey(_) => "invalid_key",
            Self::TooLarge { .. } => "too_large",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Replayed => "replayed",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::IdentityChanged => "identity_changed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Quota(_) => "quota_exceeded",
            Self::Database(_) => "unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) | Self::InvalidKey(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated(_) | Self::Replayed => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::IdentityChanged => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Quota(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Database(e) = &self {
            tracing::error!(error = %e, "database error");
        }
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Self::RateLimited {
            retry_after_secs, ..
        } = &self
            && let Ok(value) = retry_after_secs.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        if matches!(self, Self::TooLarge { .. }) {
            // The rest of the body was never read: the connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}
