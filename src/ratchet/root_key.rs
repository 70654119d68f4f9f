//! The Double Ratchet root key `RK`: the first one is PQXDH's output bytes 0..32.

use crate::primitives::secret::secret_bytes;

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
    dh: &crate::primitives::keys::DhOutput,
    info: &[u8],
) -> (RootKey, crate::ratchet::chain_key::ChainKey) {
    use zeroize::Zeroize;
    let mut okm = [0u8; 64];
    // 64 bytes is within HKDF-SHA256's output limit, so expand cannot fail.
    let _ = hkdf::Hkdf::<sha2::Sha256>::new(Some(root.as_bytes()), dh.as_bytes())
        .expand(info, &mut okm);
    let (r, c) = okm.split_at(32);
    let out = (
        RootKey::from_slice(r).unwrap_or_else(|| RootKey::from_bytes([0; 32])),
        crate::ratchet::chain_key::ChainKey::from_slice(c)
            .unwrap_or_else(|| crate::ratchet::chain_key::ChainKey::from_bytes([0; 32])),
    );
    okm.zeroize();
    out
}

impl RootKey {
    /// KDF_RK of the Double Ratchet (section 5.2), as libsignal computes it:
    /// HKDF-SHA256(salt = this root key, IKM = `dh`, info = [`RATCHET_INFO`]) -> 64 bytes, split
    /// into the next root key (bytes 0..32) and a new chain key (bytes 32..64).
    ///
    /// With `dh = DH(alice_ratchet, SPK_B)` and the PQXDH root key this is the initiator's first
    /// sending chain (the `first_ratchet` field of the PQXDH vectors).
    pub fn kdf_rk(
        &self,
        dh: &crate::primitives::keys::DhOutput,
    ) -> (RootKey, crate::ratchet::chain_key::ChainKey) {
        kdf_rk_with_info(self, dh, RATCHET_INFO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::keys::DhOutput;
    use hkdf::Hkdf;
    use sha2::Sha256;

    #[test]
    fn kdf_rk_matches_hkdf_sha256() {
        let root = RootKey::from_bytes([0x11; 32]);
        let dh = DhOutput::from_bytes([0x22; 32]);
        let (next_root, chain) = root.kdf_rk(&dh);

        let mut okm = [0u8; 64];
        Hkdf::<Sha256>::new(Some(&[0x11; 32]), &[0x22; 32])
            .expand(b"WhisperRatchet", &mut okm)
            .unwrap();
        assert_eq!(next_root.as_bytes()[..], okm[..32]);
        assert_eq!(chain.as_bytes()[..], okm[32..]);
        assert_ne!(next_root.as_bytes()[..], chain.as_bytes()[..]);

        // A different DH output or root key changes both outputs.
        let (other_root, other_chain) = root.kdf_rk(&DhOutput::from_bytes([0x23; 32]));
        assert_ne!(other_root, next_root);
        assert_ne!(other_chain, chain);
        let (other_root, _) = RootKey::from_bytes([0x12; 32]).kdf_rk(&dh);
        assert_ne!(other_root, next_root);
    }
}
