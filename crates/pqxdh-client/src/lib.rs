//! # pqxdh-client
//!
//! The durable client of a `pqxdh-server` (SPEC.md sections 12 and 13): one account, its keys,
//! sessions, contacts, outbox and inbox in an encrypted SQLite [`Store`], and [`Client`]
//! operations that survive a crash at any point without losing a message, showing one twice or
//! sealing two plaintexts under one key.
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//! use pqxdh_client::{AccountOptions, Client, StoreProtection};
//!
//! # async fn run() -> Result<(), pqxdh_client::Error> {
//! let options = AccountOptions::new("alice", "http://127.0.0.1:8380");
//! let protection = StoreProtection::Passphrase {
//!     passphrase: b"correct horse battery staple",
//!     params: Default::default(),
//! };
//! let alice = Client::create(Path::new("alice.db"), protection, &options).await?;
//! alice.send_text("bob", "hello bob").await?;
//! for received in alice.receive(Duration::from_secs(10)).await? {
//!     println!("{received:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! A [`Client`] checks the signatures of the bundles it claims through a bounded, in-memory
//! [`pqxdh::VerifiedBundleCache`] (SPEC.md section 5.1), so a contact's unchanged signed prekeys
//! are verified once per process ([`Client::bundle_cache_stats`]).
//!
//! [`ServerClient`] is the lower layer: signed requests for one account, no state.

mod client;
pub mod content;
mod error;
mod progress;
mod server_client;
pub mod store;

pub use client::{
    AccountOptions, Client, MAX_ENVELOPE_BODY, MAX_LOCAL_ONE_TIME_PREKEYS, ONE_TIME_PREKEY_BATCH,
    PREKEY_ROTATION_MS, REPLENISH_BELOW, Received, SharedFile, UpkeepReport,
};
pub use client::{Delivery, TrustReport};
pub use content::Content;
pub use error::{ClientError, Error};
pub use progress::{NoProgress, Progress};
pub use server_client::{ReceivedEnvelope, ServerClient};
pub use store::contacts::Contact;
pub use store::messages::{IncomingMessage, OutgoingMessage};
pub use store::{Store, StoreError, StoreProtection};
