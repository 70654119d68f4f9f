//! A Double Ratchet chain key `CK`: the first one is PQXDH's output bytes 32..64.

use crate::secret::secret_bytes;

/// Length of a chain key (libsignal rust/protocol/src/ratchet/keys.rs: 32 bytes).
pub const CHAIN_KEY_LEN: usize = 32;

secret_bytes!(
    /// A chain key. Zeroized on drop; redacted in `Debug`.
    ChainKey,
    CHAIN_KEY_LEN
);
