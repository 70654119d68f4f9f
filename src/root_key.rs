//! The Double Ratchet root key `RK`: the first one is PQXDH's output bytes 0..32.

use crate::secret::secret_bytes;

/// Length of a root key (libsignal rust/protocol/src/ratchet/keys.rs: 32 bytes).
pub const ROOT_KEY_LEN: usize = 32;

secret_bytes!(
    /// A root key. Zeroized on drop; redacted in `Debug`.
    RootKey,
    ROOT_KEY_LEN
);
