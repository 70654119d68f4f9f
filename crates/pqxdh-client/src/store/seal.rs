//! The row key: every secret row is sealed with AES-256-GCM under it, bound to its table and row.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use pqxdh_files::identity_file::KdfParams;
use rand::RngExt;
use zeroize::Zeroizing;

use crate::store::StoreError;

/// Salt length for Argon2id (RFC 9106 section 3.1 recommends 16 bytes; as identity files).
pub const SALT_LEN: usize = pqxdh_files::identity_file::SALT_LEN;
/// AES-GCM nonce length (NIST SP 800-38D: 96-bit nonces); random per sealing.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Row key length (AES-256).
pub const ROW_KEY_LEN: usize = 32;
/// Prefix of every row's associated data: a sealed row cannot move to another table or row.
pub const ROW_AAD_LABEL: &[u8] = b"pqxdh store row v1";
/// What the check value seals: a wrong passphrase fails here before anything else is read.
pub const CHECK_PLAINTEXT: &[u8] = b"pqxdh store check v1";

/// The store's row key. Zeroized on drop, never printed.
pub struct RowKey(Zeroizing<[u8; ROW_KEY_LEN]>);

impl core::fmt::Debug for RowKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RowKey(<redacted>)")
    }
}

impl RowKey {
    /// A fresh random key (the key of a store opened without a passphrase, kept in its `meta`).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; ROW_KEY_LEN]);
        rand::rng().fill(&mut key[..]);
        Self(key)
    }

    /// The key in `bytes` (an unprotected store's `meta` row).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut key = Zeroizing::new([0u8; ROW_KEY_LEN]);
        if bytes.len() != ROW_KEY_LEN {
            return Err(StoreError::Corrupt("row key length"));
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// The key Argon2id derives from `passphrase` (as identity files do, SPEC 9.2).
    pub fn derive(
        passphrase: &[u8],
        salt: &[u8; SALT_LEN],
        params: KdfParams,
    ) -> Result<Self, StoreError> {
        pqxdh_files::identity_file::derive_key(passphrase, salt, params)
            .map(Self)
            .map_err(|e| StoreError::Kdf(e.to_string()))
    }

    /// The raw key, for an unprotected store's `meta` row only.
    pub(crate) fn as_bytes(&self) -> &[u8; ROW_KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> Result<Aes256Gcm, StoreError> {
        Aes256Gcm::new_from_slice(&self.0[..]).map_err(|_| StoreError::Corrupt("row key"))
    }

    /// `nonce || ciphertext || tag` of `plaintext` for row `row` of `table`.
    pub fn seal(&self, table: &str, row: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce[..]);
        let aad = aad(table, row);
        let sealed = self
            .cipher()?
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Corrupt("sealing failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of a row [`seal`](RowKey::seal) wrote for the same table and row.
    pub fn open(
        &self,
        table: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Corrupt("sealed row too short"));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| StoreError::Corrupt("sealed row nonce"))?;
        let aad = aad(table, row);
        self.cipher()?
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StoreError::RowAuthentication(table.to_owned()))
    }
}

/// `label || table || 0x00 || row`: the table name never contains NUL.
fn aad(table: &str, row: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(ROW_AAD_LABEL.len() + table.len() + 1 + row.len());
    aad.extend_from_slice(ROW_AAD_LABEL);
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(row.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_are_bound_to_their_place() {
        let key = RowKey::generate();
        let sealed = key.seal("inbox", "e1", b"hello").unwrap();
        assert_eq!(&key.open("inbox", "e1", &sealed).unwrap()[..], b"hello");
        assert!(key.open("inbox", "e2", &sealed).is_err());
        assert!(key.open("outbox", "e1", &sealed).is_err());
        assert!(RowKey::generate().open("inbox", "e1", &sealed).is_err());
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert!(key.open("inbox", "e1", &flipped).is_err());
    }

    #[test]
    fn derivation_depends_on_passphrase_and_salt() {
        let salt = [7u8; SALT_LEN];
        let a = RowKey::derive(b"pass", &salt, KdfParams::INSECURE_FAST).unwrap();
        let b = RowKey::derive(b"pass", &salt, KdfParams::INSECURE_FAST).unwrap();
        let c = RowKey::derive(b"Pass", &salt, KdfParams::INSECURE_FAST).unwrap();
        let d = RowKey::derive(b"pass", &[8u8; SALT_LEN], KdfParams::INSECURE_FAST).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), c.as_bytes());
        assert_ne!(a.as_bytes(), d.as_bytes());
    }
}
