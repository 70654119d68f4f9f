//! End-to-end encrypted files: a file is encrypted once under a fresh random file key, and the
//! file key is wrapped for each recipient under a key derived from a PQXDH run from the sender's
//! identity to the recipient's bundle. The body uses the STREAM construction (Hoang, Reyhanitabar,
//! Rogaway, Vizár) over AES-256-GCM, so memory use is bounded for any file size ([`IN_FLIGHT_BATCHES`]
//! batches of segments, sealed and opened on the other cores when that pays: [`MAX_BATCH_BYTES`] each), and reordering, truncation,
//! appending and header tampering are all detected. SPEC.md section 9 specifies
//! every byte. [`attachment`] is the same body under a caller's key with no recipients
//! (SPEC.md section 9.4).
//!
//! ```text
//! header  = "PQXDHENC" || version u8 = 1 || segment_size u32be || recipient_count u16be
//!           || recipient entry * count
//! entry   = EncodeEC(IK_B) || header_len u16be || InitialHeader || wrapped file key (32 + 16)
//! then      HMAC-SHA256(mac_key, header)                       (32 bytes)
//! then      segment_0 || ... || segment_n   each AES-256-GCM(payload_key, nonce_i, "", chunk_i) || tag
//! nonce_i = nonce_prefix (7) || i u32be || last u8 (1 for the final segment, else 0)
//!
//! wrap_key = HKDF-SHA256(salt = none, IKM = PQXDH root key, info = WRAP_INFO)[0..32]
//! wrapped  = AES-256-GCM(wrap_key, nonce = 0^12, AD = PQXDH AD || EncodeEC(IK_B) || header_len
//!            || InitialHeader, file_key)
//! mac_key || payload_key || nonce_prefix
//!          = HKDF-SHA256(salt = SHA-256(header), IKM = file_key, info = PAYLOAD_INFO)[0..71]
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod armor;
pub mod attachment;
pub mod identity_file;
mod segment_cipher;
mod stream;

pub use attachment::{AttachmentKey, AttachmentSummary, decrypt_attachment, encrypt_attachment};
pub use stream::{
    IN_FLIGHT_BATCHES, MAX_BATCH_BYTES, PARALLEL_MIN_SEGMENTS, PROBE_SEGMENTS, SEGMENTS_PER_THREAD,
};
#[doc(hidden)]
pub use stream::{Schedule, batch_segments};

use std::io::{self, Read, Write};

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use pqxdh::handshake::agreement as hs;
use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::handshake::identity::{self, IdentityKeyPair};
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::handshake::{HandshakeError, InitialHeader};
use pqxdh::primitives::kem::Backend;
use pqxdh::primitives::keys::{ENCODED_EC_LEN, KeyError, PublicKey};
use pqxdh::primitives::xeddsa::Signature;

use segment_cipher::SegmentCipher;
pub(crate) use stream::{Direction, StreamSummary, stream_segments};

/// First bytes of an encrypted file.
pub const FILE_MAGIC: &[u8; 8] = b"PQXDHENC";
/// Version of the encrypted-file format written by [`encrypt`]: version 2 ends with the sender's
/// XEdDSA signature over the header and every segment tag (SPEC.md section 9.1).
pub const FILE_VERSION: u8 = 2;
/// Version 1: no sender signature; still decrypted, reported as "sender not verified".
pub const FILE_VERSION_UNSIGNED: u8 = 1;
/// Length of the trailing sender signature of a version-2 file (XEdDSA, `xeddsa::SIGNATURE_LEN`).
pub const FILE_SIGNATURE_LEN: usize = pqxdh::primitives::xeddsa::SIGNATURE_LEN;
/// Domain label of the signed file transcript: the signature covers
/// `FILE_SIGNATURE_LABEL || SHA-256(FILE_TRANSCRIPT_LABEL || header || MAC || tag_0 || ... || tag_n)`
/// (labels chosen for this format, SPEC.md section 9.1; no other message signed by an identity
/// key starts with them).
pub const FILE_SIGNATURE_LABEL: &[u8] = b"pqxdh file signature v2";
/// Label that starts the hashed file transcript.
pub const FILE_TRANSCRIPT_LABEL: &[u8] = b"pqxdh file transcript v2";
/// Default plaintext bytes per segment: 64 KiB.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// Largest segment size accepted (16 MiB): bounds the reader's memory.
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// Largest number of recipients in one file.
pub const MAX_RECIPIENTS: u16 = 1024;
/// Largest PQXDH initial header accepted inside an entry (a PQXDH header is 1643 bytes).
pub const MAX_INITIAL_HEADER_LEN: u16 = 4096;
/// Length of the random file key.
pub const FILE_KEY_LEN: usize = 32;
/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of a wrapped file key: the encrypted key and its tag.
pub const WRAPPED_KEY_LEN: usize = FILE_KEY_LEN + TAG_LEN;
/// Length of the header MAC.
pub const HEADER_MAC_LEN: usize = 32;
/// Length of the STREAM nonce prefix.
pub const NONCE_PREFIX_LEN: usize = 7;
/// HKDF info of the per-recipient wrap key.
pub const WRAP_INFO: &[u8] = b"pqxdh file key wrap v1";
/// HKDF info of the header MAC key, payload key and nonce prefix.
pub const PAYLOAD_INFO: &[u8] = b"pqxdh file payload v1";
/// Length of the fixed part of the header: magic, version, segment size, recipient count.
pub const FIXED_HEADER_LEN: usize = 8 + 1 + 4 + 2;

/// Errors from encrypting or decrypting a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The input does not start with the encrypted-file magic.
    #[error("not a pqxdh encrypted file (bad magic)")]
    BadMagic,
    /// The file's version is unknown.
    #[error("unsupported encrypted file version {0}")]
    UnsupportedVersion(u8),
    /// A header field is out of range or inconsistent.
    #[error("malformed file header: {0}")]
    MalformedHeader(&'static str),
    /// The segment size is zero or above [`MAX_SEGMENT_SIZE`].
    #[error("invalid segment size {0} (must be 1..={MAX_SEGMENT_SIZE})")]
    InvalidSegmentSize(u32),
    /// The file ends before its header or first segment does.
    #[error("the file is truncated ({0})")]
    Truncated(&'static str),
    /// No recipients were given, or too many.
    #[error("a file needs 1..={MAX_RECIPIENTS} recipients, got {0}")]
    RecipientCount(usize),
    /// The same recipient identity was given twice.
    #[error("recipient {0} is listed twice")]
    DuplicateRecipient(String),
    /// Running PQXDH to a recipient's bundle failed (bad signature, bad key).
    #[error("recipient {fingerprint}: {source}")]
    Recipient {
        /// The recipient's fingerprint.
        fingerprint: String,
        /// What failed.
        source: HandshakeError,
    },
    /// The file is not encrypted to this identity.
    #[error("this file is not encrypted to identity {0}")]
    NotARecipient(String),
    /// PQXDH on our entry failed (an unknown prekey id, a malformed key).
    #[error("cannot answer the file's key agreement: {0}")]
    Handshake(#[from] HandshakeError),
    /// The wrapped file key did not authenticate.
    #[error("the file key for this identity does not authenticate (the entry was modified)")]
    UnwrapFailed,
    /// The header MAC did not verify.
    #[error("the file header does not authenticate (it was modified)")]
    HeaderAuthentication,
    /// A segment did not authenticate.
    #[error(
        "segment {0} does not authenticate: the file was modified, reordered, truncated or extended"
    )]
    SegmentAuthentication(u32),
    /// The file has more segments than the 32-bit counter allows.
    #[error("the file is too large for its segment size (2^32 segments)")]
    TooLarge,
    /// An AEAD call failed for a reason other than authentication (lengths).
    #[error("encryption failed")]
    Encryption,
    /// A key was malformed.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A version-2 file's trailing signature is not the named sender's signature over the
    /// header and segments: it was forged or rewritten (for example by another recipient).
    #[error("the file is not signed by the sender it names (forged or rewritten)")]
    SenderSignature,
}

/// Options for [`encrypt`].
#[derive(Clone, Copy, Debug)]
pub struct EncryptOptions {
    /// Plaintext bytes per segment.
    pub segment_size: u32,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }
}

/// One recipient entry of the header.
#[derive(Clone, Debug)]
pub struct RecipientEntry {
    /// The recipient's identity key `IK_B`.
    pub recipient: PublicKey,
    /// The PQXDH initial header from the sender to this recipient.
    pub initial_header: InitialHeader,
    /// The initial header's bytes as stored.
    pub initial_header_bytes: Vec<u8>,
    /// The wrapped file key.
    pub wrapped_key: [u8; WRAPPED_KEY_LEN],
}

impl RecipientEntry {
    /// `EncodeEC(IK_B) || header_len u16be || InitialHeader`: the part before the wrapped key,
    /// which the wrap authenticates.
    fn prefix(&self) -> Result<Vec<u8>, FileError> {
        entry_prefix(&self.recipient, &self.initial_header_bytes)
    }
}

fn entry_prefix(recipient: &PublicKey, header: &[u8]) -> Result<Vec<u8>, FileError> {
    let len = u16::try_from(header.len())
        .ok()
        .filter(|l| *l <= MAX_INITIAL_HEADER_LEN)
        .ok_or(FileError::MalformedHeader("initial header too long"))?;
    let mut out = Vec::with_capacity(ENCODED_EC_LEN + 2 + header.len());
    out.extend_from_slice(&recipient.encode());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(header);
    Ok(out)
}

/// The parsed header of an encrypted file.
#[derive(Clone, Debug)]
pub struct FileHeader {
    /// Format version (1 unsigned, 2 signed).
    pub version: u8,
    /// Plaintext bytes per segment.
    pub segment_size: u32,
    /// One entry per recipient.
    pub recipients: Vec<RecipientEntry>,
    /// The header bytes as read (magic through the last entry), which the MAC covers.
    pub encoded: Vec<u8>,
    /// The header MAC that followed.
    pub mac: [u8; HEADER_MAC_LEN],
}

impl FileHeader {
    /// Reads and parses a header and its MAC from the start of `reader`, leaving it at the first
    /// segment. Nothing is authenticated yet (that needs the file key).
    pub fn read_from<R: Read + ?Sized>(reader: &mut R) -> Result<Self, FileError> {
        let mut encoded = Vec::with_capacity(4096);
        let mut magic = [0u8; 8];
        read_exact(reader, &mut magic, "header")?;
        if &magic != FILE_MAGIC {
            return Err(FileError::BadMagic);
        }
        encoded.extend_from_slice(&magic);
        let [version] = read_array::<_, 1>(reader, &mut encoded)?;
        if version != FILE_VERSION && version != FILE_VERSION_UNSIGNED {
            return Err(FileError::UnsupportedVersion(version));
        }
        let segment_size = u32::from_be_bytes(read_array(reader, &mut encoded)?);
        check_segment_size(segment_size)?;
        let count = u16::from_be_bytes(read_array(reader, &mut encoded)?);
        if count == 0 || count > MAX_RECIPIENTS {
            return Err(FileError::RecipientCount(count.into()));
        }
        let mut recipients = Vec::with_capacity(count.into());
        for _ in 0..count {
            let ik: [u8; ENCODED_EC_LEN] = read_array(reader, &mut encoded)?;
            let recipient = PublicKey::decode(&ik)?;
            let len = u16::from_be_bytes(read_array(reader, &mut encoded)?);
            if len > MAX_INITIAL_HEADER_LEN {
                return Err(FileError::MalformedHeader("initial header too long"));
            }
            let mut initial_header_bytes = vec![0u8; len.into()];
            read_exact(reader, &mut initial_header_bytes, "header")?;
            encoded.extend_from_slice(&initial_header_bytes);
            let initial_header = InitialHeader::from_bytes(&initial_header_bytes)?;
            if initial_header.pq.is_none() {
                return Err(FileError::MalformedHeader(
                    "a recipient entry has no KEM ciphertext",
                ));
            }
            let wrapped_key = read_array(reader, &mut encoded)?;
            recipients.push(RecipientEntry {
                recipient,
                initial_header,
                initial_header_bytes,
                wrapped_key,
            });
        }
        let mut mac = [0u8; HEADER_MAC_LEN];
        read_exact(reader, &mut mac, "header")?;
        Ok(Self {
            version,
            segment_size,
            recipients,
            encoded,
            mac,
        })
    }

    /// Length of the header on disk, MAC included: where the first segment starts.
    pub fn len_on_disk(&self) -> usize {
        self.encoded.len() + HEADER_MAC_LEN
    }

    /// The sender's identity key as named in the entries (all entries name the same one when the
    /// file was made by [`encrypt`]).
    pub fn sender(&self) -> Option<&PublicKey> {
        self.recipients
            .first()
            .map(|e| &e.initial_header.identity_key)
    }
}

pub(crate) fn check_segment_size(size: u32) -> Result<(), FileError> {
    if size == 0 || size > MAX_SEGMENT_SIZE {
        Err(FileError::InvalidSegmentSize(size))
    } else {
        Ok(())
    }
}

pub(crate) fn read_exact<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), FileError> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FileError::Truncated(what)
        } else {
            FileError::Io(e)
        }
    })
}

fn read_array<R: Read + ?Sized, const N: usize>(
    reader: &mut R,
    encoded: &mut Vec<u8>,
) -> Result<[u8; N], FileError> {
    let mut out = [0u8; N];
    read_exact(reader, &mut out, "header")?;
    encoded.extend_from_slice(&out);
    Ok(out)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The keys derived from the file key and the header.
pub(crate) struct PayloadKeys {
    mac_key: Zeroizing<[u8; 32]>,
    cipher: SegmentCipher,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

/// `mac_key || payload_key || nonce_prefix = HKDF-SHA256(salt = SHA-256(header), IKM = key,
/// info)[0..71]`: [`PAYLOAD_INFO`] for the recipient container, the attachment label for
/// attachments.
pub(crate) fn payload_keys(
    key: &[u8; FILE_KEY_LEN],
    header: &[u8],
    info: &[u8],
) -> Result<PayloadKeys, FileError> {
    let salt = Sha256::digest(header);
    let mut okm = Zeroizing::new([0u8; 32 + 32 + NONCE_PREFIX_LEN]);
    Hkdf::<Sha256>::new(Some(&salt), key)
        .expand(info, &mut okm[..])
        .map_err(|_| FileError::Encryption)?;
    let (mac, rest) = okm.split_at(32);
    let (key, prefix) = rest.split_at(segment_cipher::KEY_LEN);
    let key: &[u8; segment_cipher::KEY_LEN] = key.try_into().map_err(|_| FileError::Encryption)?;
    let mut mac_key = Zeroizing::new([0u8; 32]);
    mac_key.copy_from_slice(mac);
    Ok(PayloadKeys {
        mac_key,
        cipher: SegmentCipher::new(key).map_err(|_| FileError::Encryption)?,
        nonce_prefix: prefix.try_into().map_err(|_| FileError::Encryption)?,
    })
}

pub(crate) fn header_mac(mac_key: &[u8; 32], header: &[u8]) -> Result<Hmac<Sha256>, FileError> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(mac_key)
        .map_err(|_| FileError::Encryption)?;
    mac.update(header);
    Ok(mac)
}

fn wrap_cipher(root_key: &[u8; 32]) -> Result<Aes256Gcm, FileError> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, root_key)
        .expand(WRAP_INFO, &mut key[..])
        .map_err(|_| FileError::Encryption)?;
    Aes256Gcm::new_from_slice(&key[..]).map_err(|_| FileError::Encryption)
}

/// The wrap key is used exactly once (each PQXDH run yields a fresh root key), so its nonce is
/// fixed at zero.
const WRAP_NONCE: [u8; 12] = [0u8; 12];

/// What [`encrypt`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptSummary {
    /// Plaintext bytes read.
    pub plaintext_len: u64,
    /// Encrypted bytes written (header, MAC, segments).
    pub ciphertext_len: u64,
    /// Number of segments.
    pub segments: u64,
}

/// Encrypts `input` to every bundle in `recipients` from `sender`, writing the container to
/// `output`, version 2: the file ends with `sender`'s XEdDSA signature over the header and every
/// segment tag. Every bundle is verified first; segments are sealed a batch at a time on every
/// core (memory use is [`IN_FLIGHT_BATCHES`] batches of at most [`MAX_BATCH_BYTES`] or one
/// segment, whatever the input size), and the output is written in order in one pass (no
/// staging).
pub fn encrypt<R, W, G>(
    sender: &IdentityKeyPair,
    recipients: &[PreKeyBundle],
    options: EncryptOptions,
    input: R,
    output: W,
    rng: &mut G,
) -> Result<EncryptSummary, FileError>
where
    R: Read,
    W: Write,
    G: CryptoRng + ?Sized,
{
    encrypt_scheduled(
        sender,
        recipients,
        options,
        input,
        output,
        rng,
        Schedule::Auto,
    )
}

/// Test hook: [`encrypt`] with the body run on the given threads ([`Schedule`]); the bytes are
/// the same for every schedule.
#[doc(hidden)]
pub fn encrypt_scheduled<R, W, G>(
    sender: &IdentityKeyPair,
    recipients: &[PreKeyBundle],
    options: EncryptOptions,
    input: R,
    output: W,
    rng: &mut G,
    schedule: Schedule,
) -> Result<EncryptSummary, FileError>
where
    R: Read,
    W: Write,
    G: CryptoRng + ?Sized,
{
    encrypt_versioned(
        sender,
        recipients,
        options,
        input,
        output,
        rng,
        FILE_VERSION,
        schedule,
    )
}

#[allow(clippy::too_many_arguments)]
fn encrypt_versioned<R, W, G>(
    sender: &IdentityKeyPair,
    recipients: &[PreKeyBundle],
    options: EncryptOptions,
    input: R,
    output: W,
    rng: &mut G,
    version: u8,
    schedule: Schedule,
) -> Result<EncryptSummary, FileError>
where
    R: Read,
    W: Write,
    G: CryptoRng + ?Sized,
{
    check_segment_size(options.segment_size)?;
    let count = u16::try_from(recipients.len())
        .ok()
        .filter(|c| (1..=MAX_RECIPIENTS).contains(c))
        .ok_or(FileError::RecipientCount(recipients.len()))?;
    for (i, b) in recipients.iter().enumerate() {
        if recipients
            .iter()
            .take(i)
            .any(|o| o.identity_key == b.identity_key)
        {
            return Err(FileError::DuplicateRecipient(identity::fingerprint(
                &b.identity_key,
            )));
        }
    }

    let mut file_key = Zeroizing::new([0u8; FILE_KEY_LEN]);
    rng.fill_bytes(&mut file_key[..]);

    let mut header = Vec::with_capacity(FIXED_HEADER_LEN + recipients.len() * 1800);
    header.extend_from_slice(FILE_MAGIC);
    header.push(version);
    header.extend_from_slice(&options.segment_size.to_be_bytes());
    header.extend_from_slice(&count.to_be_bytes());
    for bundle in recipients {
        let init = hs::initiate(sender, bundle, Backend::Libcrux, rng).map_err(|source| {
            FileError::Recipient {
                fingerprint: identity::fingerprint(&bundle.identity_key),
                source,
            }
        })?;
        let prefix = entry_prefix(&bundle.identity_key, &init.header.to_bytes())?;
        let mut ad = init.keys.associated_data.clone();
        ad.extend_from_slice(&prefix);
        let cipher = wrap_cipher(init.keys.root_key.as_bytes())?;
        let mut wrapped = Zeroizing::new(*file_key);
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(WRAP_NONCE), &ad, wrapped.as_mut_slice().into())
            .map_err(|_| FileError::Encryption)?;
        header.extend_from_slice(&prefix);
        header.extend_from_slice(&wrapped[..]);
        header.extend_from_slice(&tag);
    }

    let keys = payload_keys(&file_key, &header, PAYLOAD_INFO)?;
    write_body(
        &keys,
        &header,
        sender,
        options.segment_size,
        input,
        output,
        rng,
        version,
        schedule,
    )
}

/// Writes the header, its MAC, the segments of `input` and (version 2) `signer`'s signature.
#[allow(clippy::too_many_arguments)]
fn write_body<R, W, G>(
    keys: &PayloadKeys,
    header: &[u8],
    signer: &IdentityKeyPair,
    segment_size: u32,
    mut input: R,
    mut output: W,
    rng: &mut G,
    version: u8,
    schedule: Schedule,
) -> Result<EncryptSummary, FileError>
where
    R: Read,
    W: Write,
    G: CryptoRng + ?Sized,
{
    let mac = header_mac(&keys.mac_key, header)?.finalize().into_bytes();
    output.write_all(header)?;
    output.write_all(&mac)?;
    let mut transcript = Transcript::new(header, &mac);

    let stream = stream_segments(
        Direction::Seal,
        keys,
        segment_size,
        schedule,
        &mut input,
        &mut output,
        |tag| transcript.tag(tag),
    )?;
    let mut ciphertext_len = (header.len() + HEADER_MAC_LEN) as u64 + stream.body_len();
    if version == FILE_VERSION {
        let signature = signer.sign(&transcript.signed_message(), rng);
        output.write_all(signature.as_bytes())?;
        ciphertext_len += FILE_SIGNATURE_LEN as u64;
    }
    output.flush()?;
    Ok(EncryptSummary {
        plaintext_len: stream.plaintext_len,
        ciphertext_len,
        segments: stream.segments,
    })
}

/// The running hash a version-2 signature covers: label, header, MAC, then every segment tag in
/// order (the tags authenticate each segment's ciphertext, index and last flag).
struct Transcript(Sha256);

impl Transcript {
    fn new(header: &[u8], mac: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(FILE_TRANSCRIPT_LABEL);
        h.update(header);
        h.update(mac);
        Self(h)
    }

    fn tag(&mut self, tag: &[u8]) {
        self.0.update(tag);
    }

    fn signed_message(self) -> Vec<u8> {
        let mut m = Vec::with_capacity(FILE_SIGNATURE_LABEL.len() + 32);
        m.extend_from_slice(FILE_SIGNATURE_LABEL);
        m.extend_from_slice(&self.0.finalize());
        m
    }
}

/// A reader that holds back the last [`FILE_SIGNATURE_LEN`] bytes of its input: the segments are
/// read through it and the signature is what it holds at the end.
struct HoldBack<R> {
    inner: R,
    held: Vec<u8>,
    eof: bool,
    keep: usize,
}

impl<R: Read> HoldBack<R> {
    fn new(inner: R, keep: usize) -> Self {
        Self {
            inner,
            held: Vec::with_capacity(HOLD_BACK_READ + keep),
            eof: false,
            keep,
        }
    }

    /// The held-back trailer, once the input has ended.
    fn trailer(mut self) -> Result<[u8; FILE_SIGNATURE_LEN], FileError> {
        let mut one = [0u8; 1];
        if read_full(&mut self, &mut one)? != 0 {
            return Err(FileError::MalformedHeader("data after the last segment"));
        }
        <[u8; FILE_SIGNATURE_LEN]>::try_from(self.held.as_slice())
            .map_err(|_| FileError::Truncated("signature"))
    }
}

impl<R: Read> Read for HoldBack<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(avail) = self.held.len().checked_sub(self.keep)
                && avail > 0
            {
                let n = avail.min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), self.held.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.held.drain(..n);
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            let mut tmp = [0u8; HOLD_BACK_READ];
            match self.inner.read(&mut tmp) {
                Ok(0) => self.eof = true,
                Ok(n) => self
                    .held
                    .extend_from_slice(tmp.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Bytes [`HoldBack`] reads from its input at a time.
const HOLD_BACK_READ: usize = 8192;

/// Test and tooling hook: writes a version-1 (unsigned) file, as releases before version 2 did.
#[doc(hidden)]
pub fn encrypt_version1<R, W, G>(
    sender: &IdentityKeyPair,
    recipients: &[PreKeyBundle],
    options: EncryptOptions,
    input: R,
    output: W,
    rng: &mut G,
) -> Result<EncryptSummary, FileError>
where
    R: Read,
    W: Write,
    G: CryptoRng + ?Sized,
{
    encrypt_versioned(
        sender,
        recipients,
        options,
        input,
        output,
        rng,
        FILE_VERSION_UNSIGNED,
        Schedule::Auto,
    )
}

/// Test hook reproducing the recipient forgery of version 1: a recipient (`store`) takes a file
/// encrypted to it, keeps the header's entries (with the file key it learnt), sets the version to
/// `version`, recomputes the MAC over `new_plaintext` and, for version 2, signs with its own
/// identity key. Another recipient must not attribute the result to the original sender.
#[doc(hidden)]
pub fn recipient_reseal<R, P, W, G>(
    store: &PreKeyStore,
    mut original: R,
    new_plaintext: P,
    output: W,
    version: u8,
    rng: &mut G,
) -> Result<EncryptSummary, FileError>
where
    R: Read,
    P: Read,
    W: Write,
    G: CryptoRng + ?Sized,
{
    let header = FileHeader::read_from(&mut original)?;
    let (file_key, _) = unwrap_file_key(store, &header)?;
    let mut encoded = header.encoded.clone();
    if let Some(v) = encoded.get_mut(FILE_MAGIC.len()) {
        *v = version;
    }
    let keys = payload_keys(&file_key, &encoded, PAYLOAD_INFO)?;
    write_body(
        &keys,
        &encoded,
        store.identity(),
        header.segment_size,
        new_plaintext,
        output,
        rng,
        version,
        Schedule::Auto,
    )
}

/// What [`decrypt`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptSummary {
    /// The sender's identity key named in this recipient's entry.
    pub sender: PublicKey,
    /// True when the file (version 2) carries `sender`'s valid signature over the header and
    /// every segment. False for a version-1 file: then any other recipient of the file could have
    /// written it, so `sender` is not verified and must be reported as such.
    pub sender_verified: bool,
    /// Plaintext bytes written.
    pub plaintext_len: u64,
    /// Number of segments.
    pub segments: u64,
    /// How many recipients the file has.
    pub recipients: usize,
}

/// Decrypts a container from `input` as the owner of `store`, writing plaintext to `output`
/// segment by segment (opened a batch at a time on the pool when that pays; a failing segment stops the body
/// with the batch's earlier, authenticated segments written, exactly as one at a time). Each
/// segment is authenticated before it is written, but truncation and the
/// sender's signature (version 2) are only checked at the end: output is trustworthy only when
/// this returns `Ok`, and the caller must discard `output` if it returns an error.
pub fn decrypt<R, W>(store: &PreKeyStore, input: R, output: W) -> Result<DecryptSummary, FileError>
where
    R: Read,
    W: Write,
{
    decrypt_scheduled(store, input, output, Schedule::Auto)
}

/// Test hook: [`decrypt`] with the body run on the given threads ([`Schedule`]); what reaches
/// `output`, on success or on any error, is the same for every schedule.
#[doc(hidden)]
pub fn decrypt_scheduled<R, W>(
    store: &PreKeyStore,
    mut input: R,
    mut output: W,
    schedule: Schedule,
) -> Result<DecryptSummary, FileError>
where
    R: Read,
    W: Write,
{
    let header = FileHeader::read_from(&mut input)?;
    let signed = header.version == FILE_VERSION;
    // Version 1 has no trailer: nothing is held back.
    let mut input = HoldBack::new(input, if signed { FILE_SIGNATURE_LEN } else { 0 });
    let (file_key, sender) = unwrap_file_key(store, &header)?;
    let keys = payload_keys(&file_key, &header.encoded, PAYLOAD_INFO)?;
    header_mac(&keys.mac_key, &header.encoded)?
        .verify_slice(&header.mac)
        .map_err(|_| FileError::HeaderAuthentication)?;
    let mut transcript = Transcript::new(&header.encoded, &header.mac);

    let stream = stream_segments(
        Direction::Open,
        &keys,
        header.segment_size,
        schedule,
        &mut input,
        &mut output,
        |tag| transcript.tag(tag),
    )?;
    if signed {
        let signature = Signature::from_bytes(input.trailer()?);
        identity::verify(&sender, &transcript.signed_message(), &signature)
            .map_err(|_| FileError::SenderSignature)?;
    }
    output.flush()?;
    Ok(DecryptSummary {
        sender,
        sender_verified: signed,
        plaintext_len: stream.plaintext_len,
        segments: stream.segments,
        recipients: header.recipients.len(),
    })
}

/// Finds this identity's entries, runs PQXDH's responder side on each and unwraps the file key.
fn unwrap_file_key(
    store: &PreKeyStore,
    header: &FileHeader,
) -> Result<(Zeroizing<[u8; FILE_KEY_LEN]>, PublicKey), FileError> {
    let me = store.identity().public_key();
    let mut last_error = None;
    for entry in header.recipients.iter().filter(|e| &e.recipient == me) {
        match unwrap_entry(store, entry) {
            Ok(key) => return Ok((key, entry.initial_header.identity_key)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| FileError::NotARecipient(identity::fingerprint(me))))
}

fn unwrap_entry(
    store: &PreKeyStore,
    entry: &RecipientEntry,
) -> Result<Zeroizing<[u8; FILE_KEY_LEN]>, FileError> {
    let keys = hs::respond(store, &entry.initial_header, Backend::Libcrux, true)?;
    let mut ad = keys.associated_data.clone();
    ad.extend_from_slice(&entry.prefix()?);
    let cipher = wrap_cipher(keys.root_key.as_bytes())?;
    let (ct, tag) = entry.wrapped_key.split_at(FILE_KEY_LEN);
    let mut key = Zeroizing::new([0u8; FILE_KEY_LEN]);
    key.copy_from_slice(ct);
    let tag = Tag::try_from(tag).map_err(|_| FileError::Encryption)?;
    cipher
        .decrypt_inout_detached(
            &Nonce::from(WRAP_NONCE),
            &ad,
            key.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| FileError::UnwrapFailed)?;
    Ok(key)
}
