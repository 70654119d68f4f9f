//! # pqxdh-server
//!
//! A prekey directory and message relay for [`pqxdh`]: the server two pqxdh clients need to
//! talk. It hands out prekey bundles (each one-time prekey exactly once), keeps opaque
//! ciphertext envelopes in mailboxes until their recipient acknowledges them, and stores
//! encrypted attachments. It never sees a plaintext or holds a secret of any user: every
//! request is signed by its account's identity key, and everything it stores is public keys
//! and ciphertext.
//!
//! Storage is SQLite by default (one file in the working directory) or PostgreSQL
//! (`--database-url postgres://...`), which several server processes can share: all state is
//! in the database, one-time prekeys are claimed in database transactions, and deposits wake
//! long polls in every process through LISTEN/NOTIFY.
//!
//! The API, byte by byte, is SPEC.md section 12. A request is signed like this:
//!
//! ```
//! use pqxdh::IdentityKeyPair;
//! use pqxdh_server::auth::{SignedHeaders, sign_request};
//!
//! let mut rng = rand::rng();
//! let identity = IdentityKeyPair::generate(&mut rng);
//! let now_ms = 1_764_000_000_000;
//! let headers = sign_request(&identity, "alice", "GET", "/v1/keys", b"", now_ms, &mut rng);
//!
//! // What the server does with them:
//! let mut map = axum::http::HeaderMap::new();
//! for (name, value) in headers {
//!     map.insert(name, value.parse()?);
//! }
//! let signed = SignedHeaders::parse(&map)?;
//! signed.check_body(b"")?;
//! signed.verify("GET", "/v1/keys", identity.public_key(), now_ms, 300_000)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod db;
pub mod error;
mod key_check;
pub mod limits;
mod mail_waker;
mod metrics;
mod routes;
mod server;
mod state;

/// The JSON bodies of API version 1 (from `pqxdh-api`).
pub use pqxdh_api::wire;

pub use error::ApiError;
pub use limits::Limits;
pub use server::{Config, DEFAULT_DATABASE_URL, DEFAULT_LISTEN, Server, ServerError};
