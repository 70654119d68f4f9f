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

/// What can go wrong in the client: its store, the server, the protocol, or the user's trust.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A server request failed.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// `name`'s identity key changed: nothing is sent to them until `pqxdh trust` accepts it.
    #[error(
        "{0}'s identity key changed: compare safety numbers, then accept it with `pqxdh trust {0}`"
    )]
    IdentityChanged(String),
    /// No such contact in the store.
    #[error("unknown contact {0}")]
    UnknownContact(String),
    /// The name is not a valid account name.
    #[error("invalid account name {0:?}: use 1-64 of a-z 0-9 . _ -")]
    InvalidName(String),
    /// The account name is registered by another identity on the server.
    #[error("the name {0} is taken on this server")]
    NameTaken(String),
    /// The message does not fit in one envelope.
    #[error("message of {0} bytes is larger than an envelope ({max} bytes)", max = crate::client::MAX_ENVELOPE_BODY)]
    TooLarge(usize),
    /// Sending to one's own account.
    #[error("cannot send to your own account")]
    SelfMessage,
    /// A session could not be started from the recipient's bundle.
    #[error("session: {0}")]
    Establish(#[from] pqxdh::EstablishError),
    /// Encrypting a message failed.
    #[error("encrypt: {0}")]
    Encrypt(#[from] pqxdh::EncryptError),
    /// Generating prekeys failed.
    #[error("prekeys: {0}")]
    PreKeys(String),
    /// Encrypting or decrypting a shared file failed.
    #[error("file: {0}")]
    File(#[from] pqxdh_files::FileError),
    /// No inbox message with this number, or it is not a shared file.
    #[error("no shared file numbered {0} in the inbox")]
    NoSuchFile(i64),
    /// A local file operation failed.
    #[error("{0}")]
    Io(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(crate::store::StoreError::Database(e))
    }
}
