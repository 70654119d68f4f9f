//! A Double Ratchet chain key `CK`: the first one is PQXDH's output bytes 32..64.

use crate::primitives::secret::secret_bytes;

/// Length of a chain key (libsignal rust/protocol/src/ratchet/keys.rs: 32 bytes).
pub const CHAIN_KEY_LEN: usize = 32;

secret_bytes!(
    /// A chain key. Zeroized on drop; redacted in `Debug`.
    ChainKey,
    CHAIN_KEY_LEN
);

/// HMAC input that derives a message-key seed from a chain key (libsignal `MESSAGE_KEY_SEED`).
pub const MESSAGE_KEY_SEED_INPUT: u8 = 0x01;

/// HMAC input that derives the next chain key (libsignal `CHAIN_KEY_SEED`).
pub const NEXT_CHAIN_KEY_INPUT: u8 = 0x02;

impl ChainKey {
    /// KDF_CK of the Double Ratchet (section 5.2), as libsignal computes it: the message-key seed
    /// `HMAC-SHA256(CK, 0x01)` and the next chain key `HMAC-SHA256(CK, 0x02)`.
    ///
    /// The HMAC key schedule (the hashed inner and outer pads) is computed once and shared by
    /// both MACs: three SHA-256 compressions fewer than two independent HMACs, same output.
    pub fn kdf_ck(&self) -> (crate::ratchet::message_key::MessageKeySeed, ChainKey) {
        use hmac::{KeyInit, Mac};
        // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the lints happy.
        let keyed = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.as_bytes())
            .unwrap_or_else(|_| hmac::Hmac::<sha2::Sha256>::new(&Default::default()));
        let mac = |input: u8| -> [u8; CHAIN_KEY_LEN] {
            let mut mac = keyed.clone();
            mac.update(&[input]);
            mac.finalize().into_bytes().into()
        };
        let mut seed = mac(MESSAGE_KEY_SEED_INPUT);
        let mut next = mac(NEXT_CHAIN_KEY_INPUT);
        let out = (
            crate::ratchet::message_key::MessageKeySeed::from_bytes(seed),
            ChainKey::from_bytes(next),
        );
        zeroize::Zeroize::zeroize(&mut seed);
        zeroize::Zeroize::zeroize(&mut next);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn kdf_ck_matches_hmac_sha256() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let (seed, next) = ChainKey::from_bytes(key).kdf_ck();
        assert_eq!(seed.as_bytes().to_vec(), hmac(&key, &[0x01]));
        assert_eq!(next.as_bytes().to_vec(), hmac(&key, &[0x02]));
        // The second step is keyed with the first step's next chain key.
        let (seed2, next2) = next.kdf_ck();
        assert_eq!(seed2.as_bytes().to_vec(), hmac(next.as_bytes(), &[0x01]));
        assert_eq!(next2.as_bytes().to_vec(), hmac(next.as_bytes(), &[0x02]));
        assert_ne!(seed2.as_bytes(), seed.as_bytes());
    }
}
