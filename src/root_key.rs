//! The Double Ratchet root key `RK`: the first one is PQXDH's output bytes 0..32.

use crate::secret::secret_bytes;

/// Length of a root key (libsignal rust/protocol/src/ratchet/keys.rs: 32 bytes).
pub const ROOT_KEY_LEN: usize = 32;

secret_bytes!(
    /// A root key. Zeroized on drop; redacted in `Debug`.
    RootKey,
    ROOT_KEY_LEN
);

/// HKDF info of KDF_RK (libsignal rust/protocol/src/ratchet/keys.rs; Double Ratchet section 5.2).
pub const RATCHET_INFO: &[u8] = b"WhisperRatchet";

/// KDF_RK with an explicit info string: HKDF-SHA256(salt = root key, IKM = DH output, info) ->
/// new root key (bytes 0..32) and chain key (bytes 32..64).
pub fn kdf_rk_with_info(
    root: &RootKey,
    dh: &crate::keys::DhOutput,
    info: &[u8],
) -> (RootKey, crate::chain_key::ChainKey) {
    use zeroize::Zeroize;
    let mut okm = [0u8; 64];
    // 64 bytes is within HKDF-SHA256's output limit, so expand cannot fail.
    let _ = hkdf::Hkdf::<sha2::Sha256>::new(Some(root.as_bytes()), dh.as_bytes())
        .expand(info, &mut okm);
    let (r, c) = okm.split_at(32);
    let out = (
        RootKey::from_slice(r).unwrap_or_else(|| RootKey::from_bytes([0; 32])),
        crate::chain_key::ChainKey::from_slice(c)
            .unwrap_or_else(|| crate::chain_key::ChainKey::from_bytes([0; 32])),
    );
    okm.zeroize();
    out
}
