//! The Double Ratchet on top of PQXDH: message keys, the wire format, sessions and their saved
//! form.
//!
//! KDF_RK is [`root_key::RootKey::kdf_rk`] and KDF_CK is [`chain_key::ChainKey::kdf_ck`].

pub mod chain_key;
pub mod error;
pub mod message;
pub mod message_key;
pub mod pq_ratchet;
pub mod root_key;
pub mod session;
pub mod session_state;

pub use error::{DecryptError, EncryptError};
pub use message::{NormalMessage, PreKeyMessage, WireMessage};
pub use session::{Randomness, Session, SessionInfo};
pub use session_state::StateError;
