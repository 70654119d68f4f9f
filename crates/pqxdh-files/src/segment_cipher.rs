//! The AES-256-GCM (NIST SP 800-38D) that seals and opens the segments of a STREAM body: AWS-LC's
//! through `aws-lc-rs` with the default feature `aws-lc` (its VAES / AVX-512 and AES-NI code
//! paths, chosen at run time), RustCrypto's `aes-gcm` without it. Both compute the same
//! algorithm, so the bytes on disk do not depend on the feature; `benches/files.rs` measures both
//! (`files_aes256gcm/*`).

use crate::TAG_LEN;

/// Length of an AES-GCM nonce (SP 800-38D's recommended 96 bits).
pub(crate) const NONCE_LEN: usize = 12;

/// Length of an AES-256 key.
pub(crate) const KEY_LEN: usize = 32;

/// A seal or open failed: for an open the tag did not verify; for a seal the input was longer
/// than GCM allows (never for a segment, at most 16 MiB).
#[derive(Debug)]
pub(crate) struct AeadFailure;

/// The payload key, expanded once per file and shared by every worker thread.
pub(crate) struct SegmentCipher(Backend);

// AWS-LC's key schedule lives in an `EVP_AEAD_CTX` that AWS-LC cleanses when it is freed;
// RustCrypto's is zeroized on drop (the workspace enables `aes-gcm`'s `zeroize`).
#[cfg(feature = "aws-lc")]
type Backend = aws_lc_rs::aead::LessSafeKey;
#[cfg(not(feature = "aws-lc"))]
type Backend = aes_gcm::Aes256Gcm;

impl SegmentCipher {
    /// The cipher under a 32-byte key.
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Result<Self, AeadFailure> {
        #[cfg(feature = "aws-lc")]
        {
            let key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key)
                .map_err(|_| AeadFailure)?;
            Ok(Self(aws_lc_rs::aead::LessSafeKey::new(key)))
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            use aes_gcm::KeyInit;
            Ok(Self(
                aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| AeadFailure)?,
            ))
        }
    }

    /// Encrypts `data` in place with no associated data and returns the tag.
    pub(crate) fn seal(
        &self,
        nonce: [u8; NONCE_LEN],
        data: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadFailure> {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::aead::{Aad, Nonce};
            let tag = self
                .0
                .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), data)
                .map_err(|_| AeadFailure)?;
            tag.as_ref().try_into().map_err(|_| AeadFailure)
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            use aes_gcm::aead::AeadInOut;
            let tag = self
                .0
                .encrypt_inout_detached(&aes_gcm::Nonce::from(nonce), b"", data.into())
                .map_err(|_| AeadFailure)?;
            Ok(tag.into())
        }
    }

    /// Authenticates `sealed` (ciphertext || 16-byte tag) with no associated data and decrypts
    /// the ciphertext in place; returns the plaintext length. On failure the caller must not use
    /// the buffer.
    pub(crate) fn open(
        &self,
        nonce: [u8; NONCE_LEN],
        sealed: &mut [u8],
    ) -> Result<usize, AeadFailure> {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::aead::{Aad, Nonce};
            self.0
                .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), sealed)
                .map(|plain| plain.len())
                .map_err(|_| AeadFailure)
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            use aes_gcm::aead::AeadInOut;
            let data_len = sealed.len().checked_sub(TAG_LEN).ok_or(AeadFailure)?;
            let (data, tag) = sealed.split_at_mut(data_len);
            let tag = aes_gcm::Tag::try_from(&*tag).map_err(|_| AeadFailure)?;
            self.0
                .decrypt_inout_detached(&aes_gcm::Nonce::from(nonce), b"", data.into(), &tag)
                .map_err(|_| AeadFailure)?;
            Ok(data_len)
        }
    }
}
