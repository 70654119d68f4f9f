//! Attachment bodies: a file encrypted once under a caller-supplied random 32-byte key with the
//! same STREAM body as the recipient container, but with no recipient entries and no signature.
//! The key, the ciphertext's SHA-256 and the sender's authentication travel inside a Double
//! Ratchet message, as Signal attachments do; the encrypted body itself can be stored on an
//! untrusted server. SPEC.md section 9.4 specifies every byte.
//!
//! ```text
//! header  = "PQXDHATT" || version u8 = 1 || segment_size u32be          (13 bytes)
//! then      HMAC-SHA256(mac_key, header)                               (32 bytes)
//! then      segment_0 || ... || segment_n   as in the recipient container (SPEC.md 9.1)
//!
//! mac_key || payload_key || nonce_prefix
//!          = HKDF-SHA256(salt = SHA-256(header), IKM = attachment key,
//!                        info = ATTACHMENT_PAYLOAD_INFO)[0..71]
//! ```

use std::fmt;
use std::io::{Read, Write};

use hmac::Mac;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{
    Direction, EncryptSummary, FILE_KEY_LEN, FileError, HEADER_MAC_LEN, PayloadKeys, Schedule,
    StreamSummary, check_segment_size, header_mac, payload_keys, read_exact, stream_segments,
};

/// First bytes of an attachment body (chosen for this format, SPEC.md section 9.4).
pub const ATTACHMENT_MAGIC: &[u8; 8] = b"PQXDHATT";
/// Version of the attachment format written by [`encrypt_attachment`] (SPEC.md section 9.4).
pub const ATTACHMENT_VERSION: u8 = 1;
/// Length of the attachment key: a 32-byte AES-256-class secret, as the recipient container's
/// file key ([`FILE_KEY_LEN`], SPEC.md section 9.1).
pub const ATTACHMENT_KEY_LEN: usize = FILE_KEY_LEN;
/// Length of the attachment header: magic (8), version (1), segment size (4) (SPEC.md 9.4).
pub const ATTACHMENT_HEADER_LEN: usize = 8 + 1 + 4;
/// HKDF info of the attachment's header MAC key, payload key and nonce prefix; distinct from the
/// recipient container's `PAYLOAD_INFO` (SPEC.md section 9.4).
pub const ATTACHMENT_PAYLOAD_INFO: &[u8] = b"pqxdh attachment payload v1";

/// The random key one attachment is encrypted under. Erased from memory when dropped; its
/// `Debug` form does not show it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AttachmentKey([u8; ATTACHMENT_KEY_LEN]);

impl AttachmentKey {
    /// A fresh key from `rng`: use a new one for every attachment.
    pub fn generate<G: CryptoRng + ?Sized>(rng: &mut G) -> Self {
        let mut key = Self([0u8; ATTACHMENT_KEY_LEN]);
        rng.fill_bytes(&mut key.0);
        key
    }

    /// The key as received (for example inside a Double Ratchet message).
    pub fn from_bytes(bytes: [u8; ATTACHMENT_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to send to the recipients over an authenticated channel.
    pub fn as_bytes(&self) -> &[u8; ATTACHMENT_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttachmentKey(<redacted>)")
    }
}

/// What [`decrypt_attachment`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentSummary {
    /// Plaintext bytes written.
    pub plaintext_len: u64,
    /// Number of segments.
    pub segments: u64,
}

/// Runs the STREAM body of an attachment and flushes `output`; there is no transcript, so the
/// tags go nowhere else.
fn body<R: Read, W: Write>(
    direction: Direction,
    keys: &PayloadKeys,
    segment_size: u32,
    mut input: R,
    mut output: W,
) -> Result<StreamSummary, FileError> {
    let stream = stream_segments(
        direction,
        keys,
        segment_size,
        Schedule::Auto,
        &mut input,
        &mut output,
        |_| {},
    )?;
    output.flush()?;
    Ok(stream)
}

fn attachment_header(segment_size: u32) -> [u8; ATTACHMENT_HEADER_LEN] {
    let mut header = [0u8; ATTACHMENT_HEADER_LEN];
    let (magic, rest) = header.split_at_mut(ATTACHMENT_MAGIC.len());
    magic.copy_from_slice(ATTACHMENT_MAGIC);
    let (version, size) = rest.split_at_mut(1);
    version.fill(ATTACHMENT_VERSION);
    size.copy_from_slice(&segment_size.to_be_bytes());
    header
}

/// Encrypts `input` under `key` as an attachment body with `segment_size` plaintext bytes per
/// segment (1 ..= [`crate::MAX_SEGMENT_SIZE`]), writing it to `output` in one pass. Segments are
/// sealed a batch at a time on every core; memory use is [`crate::IN_FLIGHT_BATCHES`] batches
/// ([`crate::MAX_BATCH_BYTES`] each, or one segment if larger) whatever the input size.
pub fn encrypt_attachment<R: Read, W: Write>(
    key: &AttachmentKey,
    segment_size: u32,
    input: R,
    mut output: W,
) -> Result<EncryptSummary, FileError> {
    check_segment_size(segment_size)?;
    let header = attachment_header(segment_size);
    let keys = payload_keys(key.as_bytes(), &header, ATTACHMENT_PAYLOAD_INFO)?;
    let mac = header_mac(&keys.mac_key, &header)?.finalize().into_bytes();
    output.write_all(&header)?;
    output.write_all(&mac)?;
    let stream = body(Direction::Seal, &keys, segment_size, input, output)?;
    Ok(EncryptSummary {
        plaintext_len: stream.plaintext_len,
        ciphertext_len: (ATTACHMENT_HEADER_LEN + HEADER_MAC_LEN) as u64 + stream.body_len(),
        segments: stream.segments,
    })
}

/// Decrypts an attachment body from `input` under `key`, writing plaintext to `output` segment by
/// segment. The header MAC is checked before anything is written and each segment is
/// authenticated before it is written, but truncation and appended data are only detected at the
/// end: the output is trustworthy only when this returns `Ok`, and the caller must discard it on
/// an error (and should check the body's SHA-256 against the one its message carried).
pub fn decrypt_attachment<R: Read, W: Write>(
    key: &AttachmentKey,
    mut input: R,
    output: W,
) -> Result<AttachmentSummary, FileError> {
    let mut header = [0u8; ATTACHMENT_HEADER_LEN];
    read_exact(&mut input, &mut header, "header")?;
    let (magic, rest) = header.split_at(ATTACHMENT_MAGIC.len());
    if magic != ATTACHMENT_MAGIC {
        return Err(FileError::BadMagic);
    }
    let (version, size) = rest.split_at(1);
    if version != [ATTACHMENT_VERSION] {
        return Err(FileError::UnsupportedVersion(
            version.first().copied().unwrap_or_default(),
        ));
    }
    let segment_size = u32::from_be_bytes(
        size.try_into()
            .map_err(|_| FileError::MalformedHeader("segment size"))?,
    );
    check_segment_size(segment_size)?;
    let mut mac = [0u8; HEADER_MAC_LEN];
    read_exact(&mut input, &mut mac, "header")?;
    let keys = payload_keys(key.as_bytes(), &header, ATTACHMENT_PAYLOAD_INFO)?;
    header_mac(&keys.mac_key, &header)?
        .verify_slice(&mac)
        .map_err(|_| FileError::HeaderAuthentication)?;
    let stream = body(Direction::Open, &keys, segment_size, input, output)?;
    Ok(AttachmentSummary {
        plaintext_len: stream.plaintext_len,
        segments: stream.segments,
    })
}
