//! The handshake layer: identities, prekeys and their store (with the replay record and
//! rotation), bundles (checked ones, and the bounded cache of checked signed material), the
//! initial-message header, the PQXDH and X3DH key agreement, and the session id derived from its
//! transcript. Built on [`crate::primitives`]; the ratchet takes its output.

pub mod agreement;
pub mod bundle;
pub mod bundle_cache;
#[cfg(feature = "serde")]
pub mod bundle_json;
pub mod clock;
pub mod error;
pub mod header;
pub mod identity;
pub mod prekey;
pub mod prekey_store;
pub mod protocol;
pub mod replay_record;
pub mod safety_number;
pub mod session_id;
pub mod store;
pub mod verified_bundle;

pub use agreement::{Initiation, SharedKeys};
pub use error::HandshakeError;
pub use header::{InitialHeader, PqHeader};
pub use protocol::Protocol;
pub use verified_bundle::VerifiedBundle;
