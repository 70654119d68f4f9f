//! Message keys: a chain's message-key seed expanded into an AES-256-GCM key and nonce, used once.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::Hmac;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::secret_bytes;

/// Length of a message-key seed (an HMAC-SHA256 output).
pub const MESSAGE_KEY_SEED_LEN: usize = 32;

/// Length of the AES-256-GCM key.
pub const AES_KEY_LEN: usize = 32;

/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// Length of the AES-GCM authentication tag, appended to the ciphertext.
pub const TAG_LEN: usize = 16;

/// HKDF info that expands a message-key seed into the AES key and nonce. Our own label: the
/// ciphers differ from libsignal's (AES-CBC + HMAC), so its `WhisperMessageKeys` is not reused.
pub const MESSAGE_KEYS_INFO: &[u8] = b"pqxdh message keys v1";

secret_bytes!(
    /// A message-key seed `HMAC-SHA256(CK, 0x01)`. Zeroized on drop; redacted in `Debug`.
    MessageKeySeed,
    MESSAGE_KEY_SEED_LEN
);

/// The AEAD failed: wrong key, or the ciphertext, tag or associated data were modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTag;

impl MessageKeySeed {
    /// HKDF-SHA256(salt = none, IKM = seed, info = [`MESSAGE_KEYS_INFO`]) -> 44 bytes:
    /// the AES-256 key (bytes 0..32) and the nonce (bytes 32..44).
    ///
    /// HKDF-Extract with no salt is HMAC keyed with 32 zero bytes; that key's schedule is the
    /// same for every message, so it is computed once per process and cloned.
    fn expand(&self) -> Zeroizing<[u8; AES_KEY_LEN + NONCE_LEN]> {
        use hmac::Mac;
        static EXTRACT: std::sync::OnceLock<Hmac<Sha256>> = std::sync::OnceLock::new();
        let mut extract = EXTRACT
            .get_or_init(|| {
                <Hmac<Sha256> as KeyInit>::new_from_slice(&[0; 32])
                    .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()))
            })
            .clone();
        extract.update(self.as_bytes());
        let prk = Zeroizing::new(<[u8; 32]>::from(extract.finalize().into_bytes()));
        let mut okm = Zeroizing::new([0u8; AES_KEY_LEN + NONCE_LEN]);
        // A 32-byte PRK is long enough and 44 bytes is far below HKDF-SHA256's 8160-byte limit,
        // so neither step can fail.
        if let Ok(hkdf) = Hkdf::<Sha256>::from_prk(&*prk) {
            let _ = hkdf.expand(MESSAGE_KEYS_INFO, &mut *okm);
        }
        okm
    }

    /// The cipher and nonce for this seed.
    fn cipher(&self) -> (Aes256Gcm, Nonce<aes_gcm::aead::consts::U12>) {
        let okm = self.expand();
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
    pub fn encrypt(self, associated_data: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        self.seal_in_place(associated_data, &mut out, 0);
        out
    }

    /// Encrypts `buf[from..]` in place and appends the tag: the one-allocation form of
    /// [`MessageKeySeed::encrypt`] for a buffer that already holds the header before `from`.
    pub(crate) fn seal_in_place(self, associated_data: &[u8], buf: &mut Vec<u8>, from: usize) {
        let (cipher, nonce) = self.cipher();
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
        let (cipher, nonce) = self.cipher();
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
        let ct = seed.clone().encrypt(b"ad", b"hello");
        assert_eq!(ct.len(), 5 + TAG_LEN);

        // Independent computation with hkdf and aes-gcm's allocating API.
        let mut okm = [0u8; 44];
        Hkdf::<Sha256>::new(None, &seed_bytes)
            .expand(b"pqxdh message keys v1", &mut okm)
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

        assert_eq!(seed.decrypt(b"ad", &ct).unwrap(), b"hello");
        assert_eq!(seed.decrypt(b"ae", &ct), Err(InvalidTag));
        assert_eq!(seed.decrypt(b"ad", &ct[..TAG_LEN - 1]), Err(InvalidTag));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(seed.decrypt(b"ad", &bad), Err(InvalidTag));
        let other = MessageKeySeed::from_bytes([0x5b; 32]);
        assert_eq!(other.decrypt(b"ad", &ct), Err(InvalidTag));
    }
}
