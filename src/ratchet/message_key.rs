//! Message keys: a chain's message-key seed expanded into an AES-256-GCM key and nonce, used once.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::primitives::secret::secret_bytes;

/// Length of a message-key seed (an HMAC-SHA256 output).
pub const MESSAGE_KEY_SEED_LEN: usize = 32;

/// Length of the AES-256-GCM key.
pub const AES_KEY_LEN: usize = 32;

/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// Length of the AES-GCM authentication tag, appended to the ciphertext.
pub const TAG_LEN: usize = 16;

/// HKDF info that expands a message-key seed and a message's salt into the AES key and nonce.
/// Our own label: the ciphers differ from libsignal's (AES-CBC + HMAC), so its
/// `WhisperMessageKeys` is not reused. v2: the derivation takes the per-message salt (wire
/// version 0x02), so a restored session never repeats a (key, nonce) pair.
pub const MESSAGE_KEYS_INFO: &[u8] = b"pqxdh message keys v2";

/// Length of the random per-message salt that the AES-256-GCM key and nonce are derived with
/// (SPEC.md section 8.1). 16 bytes: a restored session that re-sends on a counter draws a fresh
/// salt, and two salts of one message key collide with probability 2^-128 (2^-64 after 2^32
/// restores of the same state, the birthday bound).
pub const SALT_LEN: usize = 16;

/// HKDF info of a triple-ratchet message's keys (wire version 0x03, SPEC.md section 8.1): the
/// HKDF salt is the message's SPQR key followed by its random salt.
pub const TRIPLE_MESSAGE_KEYS_INFO: &[u8] = b"pqxdh triple ratchet message keys v1";

/// The key SPQR gives a message (SPEC.md section 14).
pub type PqKey = [u8; crate::ratchet::pq_ratchet::PQ_KEY_LEN];

secret_bytes!(
    /// A message-key seed `HMAC-SHA256(CK, 0x01)`. Zeroized on drop; redacted in `Debug`.
    MessageKeySeed,
    MESSAGE_KEY_SEED_LEN
);

/// The AEAD failed: wrong key, or the ciphertext, tag or associated data were modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTag;

impl MessageKeySeed {
    /// HKDF-SHA256(salt = the message's random salt, IKM = seed, info = [`MESSAGE_KEYS_INFO`])
    /// -> 44 bytes: the AES-256 key (bytes 0..32) and the nonce (bytes 32..44). The salt is fresh
    /// for every encryption, so encrypting again with a restored seed gives another key and nonce.
    ///
    /// With an SPQR key (triple ratchet): HKDF-SHA256(salt = SPQR key || message salt, IKM = seed,
    /// info = [`TRIPLE_MESSAGE_KEYS_INFO`]), the same 44 bytes.
    fn expand(
        &self,
        salt: &[u8; SALT_LEN],
        pq_key: Option<&PqKey>,
    ) -> Zeroizing<[u8; AES_KEY_LEN + NONCE_LEN]> {
        let mut okm = Zeroizing::new([0u8; AES_KEY_LEN + NONCE_LEN]);
        // 44 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        match pq_key {
            None => {
                let hkdf = Hkdf::<Sha256>::new(Some(salt), self.as_bytes());
                let _ = hkdf.expand(MESSAGE_KEYS_INFO, &mut *okm);
            }
            Some(pq) => {
                let mut full = Zeroizing::new([0u8; 32 + SALT_LEN]);
                let (head, tail) = full.split_at_mut(32);
                head.copy_from_slice(pq);
                tail.copy_from_slice(salt);
                let hkdf = Hkdf::<Sha256>::new(Some(&*full), self.as_bytes());
                let _ = hkdf.expand(TRIPLE_MESSAGE_KEYS_INFO, &mut *okm);
            }
        }
        okm
    }

    /// The cipher and nonce for this seed.
    fn cipher(
        &self,
        salt: &[u8; SALT_LEN],
        pq_key: Option<&PqKey>,
    ) -> (Aes256Gcm, Nonce<aes_gcm::aead::consts::U12>) {
        let okm = self.expand(salt, pq_key);
        let (key, nonce) = okm.split_at(AES_KEY_LEN);
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        let mut key_bytes = Zeroizing::new([0u8; AES_KEY_LEN]);
        key_bytes.copy_from_slice(key);
        (
            Aes256Gcm::new(&(*key_bytes).into()),
            Nonce::<aes_gcm::aead::consts::U12>::from(nonce_bytes),
        )
    }

    /// AES-256-GCM encryption with this seed's key and nonce: `ciphertext || tag`. Consumes the
    /// seed so that the key is used once and then wiped.
    pub fn encrypt(
        self,
        salt: &[u8; SALT_LEN],
        associated_data: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        self.seal_in_place(salt, None, associated_data, &mut out, 0);
        out
    }

    /// Encrypts `buf[from..]` in place and appends the tag: the one-allocation form of
    /// [`MessageKeySeed::encrypt`] for a buffer that already holds the header before `from`.
    pub(crate) fn seal_in_place(
        self,
        salt: &[u8; SALT_LEN],
        pq_key: Option<&PqKey>,
        associated_data: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) {
        let (cipher, nonce) = self.cipher(salt, pq_key);
        let result = match buf.get_mut(from..) {
            Some(body) => cipher
                .encrypt_inout_detached(&nonce, associated_data, body.into())
                .map_err(|_| ()),
            None => Err(()),
        };
        match result {
            Ok(tag) => buf.extend_from_slice(&tag),
            // Only inputs longer than 2^36 bytes are refused; wipe and leave nothing decryptable.
            Err(()) => {
                if let Some(body) = buf.get_mut(from..) {
                    body.zeroize();
                }
                buf.truncate(from);
            }
        }
    }

    /// AES-256-GCM decryption of `ciphertext || tag`. The plaintext is only released when the tag
    /// verifies. The seed is borrowed so that the caller can decide whether to discard it.
    pub fn decrypt(
        &self,
        salt: &[u8; SALT_LEN],
        associated_data: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Vec<u8>, InvalidTag> {
        self.decrypt_with(salt, None, associated_data, ciphertext_and_tag)
    }

    /// [`MessageKeySeed::decrypt`] of a triple-ratchet message when `pq_key` is given.
    pub fn decrypt_with(
        &self,
        salt: &[u8; SALT_LEN],
        pq_key: Option<&PqKey>,
        associated_data: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Vec<u8>, InvalidTag> {
        let body_len = ciphertext_and_tag
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(InvalidTag)?;
        let (body, tag) = ciphertext_and_tag.split_at(body_len);
        let tag =
            aes_gcm::Tag::<aes_gcm::aead::consts::U16>::try_from(tag).map_err(|_| InvalidTag)?;
        let (cipher, nonce) = self.cipher(salt, pq_key);
        let mut out = body.to_vec();
        match cipher.decrypt_inout_detached(
            &nonce,
            associated_data,
            out.as_mut_slice().into(),
            &tag,
        ) {
            Ok(()) => Ok(out),
            Err(_) => {
                out.zeroize();
                Err(InvalidTag)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::Aead;

    #[test]
    fn keys_come_from_hkdf_and_aes_gcm_round_trips() {
        let seed_bytes = [0x5a; 32];
        let seed = MessageKeySeed::from_bytes(seed_bytes);
        let salt = [0x11; SALT_LEN];
        let ct = seed.clone().encrypt(&salt, b"ad", b"hello");
        assert_eq!(ct.len(), 5 + TAG_LEN);

        // Independent computation with hkdf and aes-gcm's allocating API.
        let mut okm = [0u8; 44];
        Hkdf::<Sha256>::new(Some(&salt), &seed_bytes)
            .expand(b"pqxdh message keys v2", &mut okm)
            .unwrap();
        let cipher = Aes256Gcm::new_from_slice(&okm[..32]).unwrap();
        let nonce = Nonce::<aes_gcm::aead::consts::U12>::try_from(&okm[32..]).unwrap();
        let expected = cipher
            .encrypt(
                &nonce,
                aes_gcm::aead::Payload {
                    msg: b"hello",
                    aad: b"ad",
                },
            )
            .unwrap();
        assert_eq!(ct, expected);

        assert_eq!(seed.decrypt(&salt, b"ad", &ct).unwrap(), b"hello");
        assert_eq!(seed.decrypt(&salt, b"ae", &ct), Err(InvalidTag));
        assert_eq!(
            seed.decrypt(&salt, b"ad", &ct[..TAG_LEN - 1]),
            Err(InvalidTag)
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(seed.decrypt(&salt, b"ad", &bad), Err(InvalidTag));
        // Another salt gives another key and nonce.
        assert_eq!(seed.decrypt(&[0x12; SALT_LEN], b"ad", &ct), Err(InvalidTag));
        assert_ne!(seed.clone().encrypt(&[0x12; SALT_LEN], b"ad", b"hello"), ct);
        let other = MessageKeySeed::from_bytes([0x5b; 32]);
        assert_eq!(other.decrypt(&salt, b"ad", &ct), Err(InvalidTag));
    }
}
