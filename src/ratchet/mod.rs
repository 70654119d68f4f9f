//! The Double Ratchet on top of PQXDH: message keys, the wire format, sessions and their saved
//! form, and deterministic transcripts.
//!
//! KDF_RK is [`crate::RootKey::kdf_rk`] and KDF_CK is [`crate::ChainKey::kdf_ck`].

pub mod message;
pub mod message_key;
pub mod session;
pub mod session_state;

pub use message::{NormalMessage, PreKeyMessage, WireMessage};
pub use session::{DecryptError, EncryptError, Randomness, Session, SessionInfo};
pub use session_state::StateError;
