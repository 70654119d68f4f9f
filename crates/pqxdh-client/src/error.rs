//! What can go wrong talking to a server.

/// A failed request. The server's own refusals keep their status and error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the request (SPEC.md section 12.4).
    #[error("server refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The stable error code (`rate_limited`, `not_found`, ...).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server's answer is not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A claimed bundle failed the core's checks (a bad signature: do not use it).
    #[error("bundle refused: {0}")]
    Bundle(#[from] pqxdh::BundleError),
    /// A downloaded attachment's SHA-256 differs from the one it was uploaded with.
    #[error("attachment digest mismatch")]
    Digest,
    /// Reading or writing a local file failed.
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
    /// The store cannot be registered as it is.
    #[error(transparent)]
    Register(#[from] pqxdh_api::wire::RegisterError),
}
