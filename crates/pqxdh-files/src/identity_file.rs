//! The private identity file: a party's identity key, its signed prekeys and last-resort PQ prekeys
//! with their creation and retirement times, and the replay record of its last-resort key sets,
//! saved in a small versioned binary form, optionally sealed under a passphrase with Argon2id and
//! AES-256-GCM. SPEC.md section 9.2 describes every byte.
//!
//! ```text
//! magic "PQXDHID\0" (8) || version u8 = 2 || protection u8 (0 none, 1 passphrase)
//! [protection 1: m_cost_kib u32be || t_cost u32be || p_cost u32be || salt (16) || nonce (12)]
//! || body_len u32be || body      (body = keys, or AES-256-GCM(keys) || tag when protected)
//! keys = identity secret (32)
//!        || S u16be || S x ( SPK id u32be || times || SPK secret (32) || Sig(IK, EncodeEC(SPK)) (64) )
//!        || P u16be || P x ( PQ id u32be || kind u8 (0 one-time, 1 last-resort) || KEM type byte
//!                             || times || KEM secret (3168) || KEM public (1568)
//!                             || Sig(IK, EncodeKEM(PQPK)) (64) )
//!        || replay record (pqxdh::handshake::replay_record)
//! times = created u64be || retired flag u8 (0 current, 1 retired) || retired u64be (0 if current)
//! ```
//!
//! Version 1 (one signed prekey and one PQ prekey, no times, no record) still loads.
//! Loading re-derives the public keys, checks every prekey signature and that each KEM key pair
//! is one pair (FIPS 203 section 7.2 and 7.3 checks, the encapsulation key inside the
//! decapsulation key), so a corrupted file, or one whose parts were mixed from different
//! identities, is refused.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use pqxdh::handshake::clock::Timestamp;
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey::{PqPreKey, PqPreKeyKind, PreKeyId, SignedPreKey};
use pqxdh::handshake::prekey_store::{KeyTimes, PreKeyStore};
use pqxdh::handshake::replay_record::{ReplayRecord, ReplayRecordError};
use pqxdh::primitives::kem::{KemError, KemKeyPair, KemType, PUBLIC_KEY_LEN, SECRET_KEY_LEN};
use pqxdh::primitives::keys::{KEY_LEN, KeyError, KeyPair, PrivateKey};
use pqxdh::primitives::xeddsa::{self, SIGNATURE_LEN, Signature};

/// First bytes of an identity file.
pub const IDENTITY_FILE_MAGIC: &[u8; 8] = b"PQXDHID\0";
/// Version of the identity file format written: several prekeys with times, and a replay record.
pub const IDENTITY_FILE_VERSION: u8 = 2;
/// The first version (one signed prekey and one PQ prekey), still read.
pub const IDENTITY_FILE_VERSION_1: u8 = 1;
/// Protection byte: the keys are stored in the clear (the file's 0600 mode protects them).
pub const PROTECTION_NONE: u8 = 0;
/// Protection byte: the keys are sealed with Argon2id + AES-256-GCM.
pub const PROTECTION_PASSPHRASE: u8 = 1;
/// Length of the Argon2id salt.
pub const SALT_LEN: usize = 16;
/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of the serialized keys (the plaintext body) of a version-1 file.
pub const KEYS_V1_LEN: usize = KEY_LEN
    + (4 + KEY_LEN + SIGNATURE_LEN)
    + (4 + 1 + 1 + SECRET_KEY_LEN + PUBLIC_KEY_LEN + SIGNATURE_LEN);
/// Length of a key's times in a version-2 file.
pub const TIMES_LEN: usize = 8 + 1 + 8;
/// Length of one signed prekey entry in a version-2 file.
pub const SIGNED_ENTRY_LEN: usize = 4 + TIMES_LEN + KEY_LEN + SIGNATURE_LEN;
/// Length of one PQ prekey entry in a version-2 file.
pub const PQ_ENTRY_LEN: usize =
    4 + 1 + 1 + TIMES_LEN + SECRET_KEY_LEN + PUBLIC_KEY_LEN + SIGNATURE_LEN;
/// Most signed prekeys, and most PQ prekeys, one file holds: a rotation a day with the 30-day
/// retention keeps 31; the bound keeps a crafted file from making the reader allocate freely.
pub const MAX_FILE_PREKEYS: usize = 256;
/// Largest identity file read: the prekeys at their bound plus full replay records (a typical
/// file is about 5 KB).
pub const MAX_IDENTITY_FILE_LEN: u64 = 16 * 1024 * 1024;
/// Largest Argon2id memory cost accepted when reading a file (1 GiB), so that a crafted file
/// cannot make the reader allocate without bound.
pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
/// Largest Argon2id time cost accepted when reading a file.
pub const MAX_T_COST: u32 = 64;
/// Largest Argon2id parallelism accepted when reading a file.
pub const MAX_P_COST: u32 = 16;

/// Argon2id cost parameters, stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The default for new files: 64 MiB, 3 passes, 1 lane (RFC 9106 section 4, second
    /// recommended option).
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Cheap parameters for tests only: 64 KiB, 1 pass.
    pub const INSECURE_FAST: Self = Self {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How to protect a new identity file. `Debug` never shows the passphrase.
#[derive(Clone, Copy)]
pub enum Protection<'a> {
    /// Keys in the clear.
    None,
    /// Keys sealed under a passphrase.
    Passphrase {
        /// The passphrase bytes (UTF-8 as typed).
        passphrase: &'a [u8],
        /// Argon2id costs.
        params: KdfParams,
    },
}

impl core::fmt::Debug for Protection<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Passphrase { params, .. } => f
                .debug_struct("Passphrase")
                .field("passphrase", &"<redacted>")
                .field("params", params)
                .finish(),
        }
    }
}

/// Errors from reading or writing an identity file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityFileError {
    /// The file does not start with the identity-file magic.
    #[error("not a pqxdh identity file (bad magic)")]
    BadMagic,
    /// The file's version is unknown.
    #[error("unsupported identity file version {0}")]
    UnsupportedVersion(u8),
    /// The protection byte is unknown.
    #[error("unknown identity file protection {0}")]
    UnknownProtection(u8),
    /// The file ends early or has a wrong length field.
    #[error("identity file is truncated or malformed: {0}")]
    Malformed(&'static str),
    /// The file is protected and no passphrase was given.
    #[error("the identity file is passphrase-protected: a passphrase is needed")]
    PassphraseRequired,
    /// The passphrase does not open the file (or the sealed part was modified).
    #[error("wrong passphrase (or the identity file was modified)")]
    WrongPassphrase,
    /// Argon2id parameters are out of the accepted range.
    #[error("identity file KDF parameters out of range: {0}")]
    KdfParams(String),
    /// A stored X25519 key is malformed.
    #[error("identity file key: {0}")]
    Key(#[from] KeyError),
    /// A stored KEM key is malformed.
    #[error("identity file KEM key: {0}")]
    Kem(#[from] KemError),
    /// A stored prekey signature does not verify under the stored identity key.
    #[error("identity file is corrupt: the {0} signature does not verify")]
    BadSignature(&'static str),
    /// The replay record section is malformed.
    #[error("identity file replay record: {0}")]
    ReplayRecord(#[from] ReplayRecordError),
    /// A passphrase was given for a file that is not passphrase-protected.
    #[error("the identity file is not passphrase-protected, but a passphrase was given")]
    UnexpectedPassphrase,
    /// The store lacks the keys an identity file holds.
    #[error("the key store has no {0} to save")]
    MissingKey(&'static str),
    /// Encryption failed (cannot happen for these lengths).
    #[error("identity file encryption failed")]
    Encryption,
}

/// Whether identity-file bytes are passphrase-protected (after checking magic and version).
pub fn is_protected(bytes: &[u8]) -> Result<bool, IdentityFileError> {
    let mut r = Reader(bytes);
    read_preamble(&mut r).map(|(_, p)| p == PROTECTION_PASSPHRASE)
}

/// The Argon2id costs of a protected file (`None` when it is not protected), so that a rewrite
/// can keep them.
pub fn kdf_params(bytes: &[u8]) -> Result<Option<KdfParams>, IdentityFileError> {
    let mut r = Reader(bytes);
    let (_, protection) = read_preamble(&mut r)?;
    if protection != PROTECTION_PASSPHRASE {
        return Ok(None);
    }
    Ok(Some(KdfParams {
        m_cost_kib: r.u32()?,
        t_cost: r.u32()?,
        p_cost: r.u32()?,
    }))
}

/// Serializes the store's identity, signed and PQ prekeys (current and retired, with their times)
/// and replay record, in the current version. One-time EC prekeys are not saved.
pub fn encode<R: CryptoRng + ?Sized>(
    store: &PreKeyStore,
    protection: Protection<'_>,
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, IdentityFileError> {
    let keys = serialize_keys(store)?;
    // Sized up front so that no reallocation leaves unwiped copies of the keys behind.
    let mut out = Zeroizing::new(Vec::with_capacity(keys.len() + 80));
    out.extend_from_slice(IDENTITY_FILE_MAGIC);
    out.push(IDENTITY_FILE_VERSION);
    match protection {
        Protection::None => {
            out.push(PROTECTION_NONE);
            out.extend_from_slice(&len_u32(keys.len())?.to_be_bytes());
            out.extend_from_slice(&keys);
        }
        Protection::Passphrase { passphrase, params } => {
            check_params(params)?;
            let mut salt = [0u8; SALT_LEN];
            let mut nonce = [0u8; NONCE_LEN];
            rng.fill_bytes(&mut salt);
            rng.fill_bytes(&mut nonce);
            out.push(PROTECTION_PASSPHRASE);
            out.extend_from_slice(&params.m_cost_kib.to_be_bytes());
            out.extend_from_slice(&params.t_cost.to_be_bytes());
            out.extend_from_slice(&params.p_cost.to_be_bytes());
            out.extend_from_slice(&salt);
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&len_u32(keys.len() + TAG_LEN)?.to_be_bytes());
            let key = derive_key(passphrase, &salt, params)?;
            let cipher =
                Aes256Gcm::new_from_slice(&key[..]).map_err(|_| IdentityFileError::Encryption)?;
            let mut body = Zeroizing::new(keys.to_vec());
            // The header so far (magic .. body length) is the associated data.
            let tag = cipher
                .encrypt_inout_detached(&Nonce::from(nonce), &out, body.as_mut_slice().into())
                .map_err(|_| IdentityFileError::Encryption)?;
            out.extend_from_slice(&body);
            out.extend_from_slice(&tag);
        }
    }
    Ok(out)
}

/// Parses an identity file, opening it with `passphrase` when it is protected, and rebuilds the
/// key store (identity, prekeys with their times, replay record), checking every signature and
/// KEM key pair. A version-1 file loads as one current signed prekey and PQ prekey of unknown
/// creation time and an empty replay record.
pub fn decode(bytes: &[u8], passphrase: Option<&[u8]>) -> Result<PreKeyStore, IdentityFileError> {
    let mut r = Reader(bytes);
    let (version, protection) = read_preamble(&mut r)?;
    match protection {
        PROTECTION_NONE => {
            if passphrase.is_some() {
                return Err(IdentityFileError::UnexpectedPassphrase);
            }
            let len = r.u32()? as usize;
            let body = r.take(len)?;
            r.end()?;
            parse_keys(version, body)
        }
        _ => {
            let params = KdfParams {
                m_cost_kib: r.u32()?,
                t_cost: r.u32()?,
                p_cost: r.u32()?,
            };
            let salt: [u8; SALT_LEN] = r.array()?;
            let nonce: [u8; NONCE_LEN] = r.array()?;
            let len = r.u32()? as usize;
            let header_len = bytes.len() - r.0.len();
            let sealed = r.take(len)?;
            r.end()?;
            check_params(params)?;
            let passphrase = passphrase.ok_or(IdentityFileError::PassphraseRequired)?;
            let (ciphertext, tag) = sealed.split_at_checked(len.saturating_sub(TAG_LEN)).ok_or(
                IdentityFileError::Malformed("sealed body shorter than a tag"),
            )?;
            let tag: [u8; TAG_LEN] = tag
                .try_into()
                .map_err(|_| IdentityFileError::Malformed("sealed body shorter than a tag"))?;
            let key = derive_key(passphrase, &salt, params)?;
            let cipher =
                Aes256Gcm::new_from_slice(&key[..]).map_err(|_| IdentityFileError::Encryption)?;
            let mut body = Zeroizing::new(ciphertext.to_vec());
            let ad = bytes
                .get(..header_len)
                .ok_or(IdentityFileError::Malformed("header"))?;
            cipher
                .decrypt_inout_detached(
                    &Nonce::from(nonce),
                    ad,
                    body.as_mut_slice().into(),
                    &tag.into(),
                )
                .map_err(|_| IdentityFileError::WrongPassphrase)?;
            parse_keys(version, &body)
        }
    }
}

/// Checks magic and version; returns the version and the protection byte.
fn read_preamble(r: &mut Reader<'_>) -> Result<(u8, u8), IdentityFileError> {
    let magic = r
        .take(IDENTITY_FILE_MAGIC.len())
        .map_err(|_| IdentityFileError::BadMagic)?;
    if magic != IDENTITY_FILE_MAGIC {
        return Err(IdentityFileError::BadMagic);
    }
    let version = r.byte()?;
    if version != IDENTITY_FILE_VERSION && version != IDENTITY_FILE_VERSION_1 {
        return Err(IdentityFileError::UnsupportedVersion(version));
    }
    let protection = r.byte()?;
    if protection != PROTECTION_NONE && protection != PROTECTION_PASSPHRASE {
        return Err(IdentityFileError::UnknownProtection(protection));
    }
    Ok((version, protection))
}

fn len_u32(len: usize) -> Result<u32, IdentityFileError> {
    u32::try_from(len).map_err(|_| IdentityFileError::Malformed("body too long"))
}

fn check_params(params: KdfParams) -> Result<(), IdentityFileError> {
    if params.m_cost_kib > MAX_M_COST_KIB
        || params.t_cost > MAX_T_COST
        || params.p_cost > MAX_P_COST
    {
        return Err(IdentityFileError::KdfParams(format!(
            "m={} KiB t={} p={} exceeds the limits m<={MAX_M_COST_KIB} t<={MAX_T_COST} p<={MAX_P_COST}",
            params.m_cost_kib, params.t_cost, params.p_cost
        )));
    }
    argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
        .map(|_| ())
        .map_err(|e| IdentityFileError::KdfParams(e.to_string()))
}

/// The 32-byte key Argon2id (version 0x13) derives from `passphrase` and `salt` with `params`:
/// the key that seals a protected identity file, and the row key of a protected client store.
pub fn derive_key(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, IdentityFileError> {
    let argon_params =
        argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
            .map_err(|e| IdentityFileError::KdfParams(e.to_string()))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, &mut key[..])
        .map_err(|e| IdentityFileError::KdfParams(e.to_string()))?;
    Ok(key)
}

fn serialize_keys(store: &PreKeyStore) -> Result<Zeroizing<Vec<u8>>, IdentityFileError> {
    // A file must be loadable: it needs a current signed prekey and last-resort PQ prekey.
    store
        .current_signed_prekey()
        .ok_or(IdentityFileError::MissingKey("signed prekey"))?;
    store
        .last_resort_pq_prekey()
        .ok_or(IdentityFileError::MissingKey("last-resort PQ prekey"))?;
    let signed: Vec<_> = store.signed_prekeys().collect();
    let pq: Vec<_> = store.pq_prekeys().collect();
    if signed.len() > MAX_FILE_PREKEYS || pq.len() > MAX_FILE_PREKEYS {
        return Err(IdentityFileError::Malformed(
            "too many prekeys for one file",
        ));
    }
    let record = store.replay_record();
    let len = KEY_LEN
        + 2
        + signed.len() * SIGNED_ENTRY_LEN
        + 2
        + pq.len() * PQ_ENTRY_LEN
        + record.saved_len();
    // Sized exactly, so that no reallocation leaves unwiped copies of the keys behind.
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend_from_slice(store.identity().key_pair().private_key().as_bytes());
    out.extend_from_slice(&count_u16(signed.len())?.to_be_bytes());
    for key in signed {
        out.extend_from_slice(&key.id().to_be_bytes());
        put_times(
            &mut out,
            store.signed_prekey_times(key.id()).unwrap_or_default(),
        );
        out.extend_from_slice(key.key_pair().private_key().as_bytes());
        out.extend_from_slice(key.public().signature.as_bytes());
    }
    out.extend_from_slice(&count_u16(pq.len())?.to_be_bytes());
    for key in pq {
        out.extend_from_slice(&key.id().to_be_bytes());
        out.push(kind_byte(key.kind()));
        out.push(key.key_pair().secret_key().kem().type_byte());
        put_times(
            &mut out,
            store.pq_prekey_times(key.id()).unwrap_or_default(),
        );
        out.extend_from_slice(key.key_pair().secret_key().as_bytes());
        out.extend_from_slice(key.key_pair().public_key().as_bytes());
        out.extend_from_slice(key.public().signature.as_bytes());
    }
    out.extend_from_slice(&record.to_bytes());
    Ok(out)
}

fn count_u16(n: usize) -> Result<u16, IdentityFileError> {
    u16::try_from(n).map_err(|_| IdentityFileError::Malformed("too many prekeys for one file"))
}

fn kind_byte(kind: PqPreKeyKind) -> u8 {
    match kind {
        PqPreKeyKind::OneTime => 0,
        PqPreKeyKind::LastResort => 1,
    }
}

fn put_times(out: &mut Vec<u8>, times: KeyTimes) {
    out.extend_from_slice(&times.created.0.to_be_bytes());
    match times.retired {
        Some(at) => {
            out.push(1);
            out.extend_from_slice(&at.0.to_be_bytes());
        }
        None => {
            out.push(0);
            out.extend_from_slice(&0u64.to_be_bytes());
        }
    }
}

fn read_times(r: &mut Reader<'_>) -> Result<KeyTimes, IdentityFileError> {
    let created = Timestamp(r.u64()?);
    let flag = r.byte()?;
    let at = r.u64()?;
    let retired = match (flag, at) {
        (0, 0) => None,
        (1, at) => Some(Timestamp(at)),
        _ => return Err(IdentityFileError::Malformed("prekey times")),
    };
    Ok(KeyTimes { created, retired })
}

/// A prekey count, at most [`MAX_FILE_PREKEYS`].
fn read_count(r: &mut Reader<'_>, too_many: &'static str) -> Result<usize, IdentityFileError> {
    let n = usize::from(r.u16()?);
    if n > MAX_FILE_PREKEYS {
        return Err(IdentityFileError::Malformed(too_many));
    }
    Ok(n)
}

fn read_kind(r: &mut Reader<'_>) -> Result<PqPreKeyKind, IdentityFileError> {
    match r.byte()? {
        0 => Ok(PqPreKeyKind::OneTime),
        1 => Ok(PqPreKeyKind::LastResort),
        _ => Err(IdentityFileError::Malformed("unknown PQ prekey kind")),
    }
}

fn read_signed(r: &mut Reader<'_>, id: PreKeyId) -> Result<SignedPreKey, IdentityFileError> {
    let pair = KeyPair::from_private(PrivateKey::from_slice(r.take(KEY_LEN)?)?);
    let signature = Signature::from_slice(r.take(SIGNATURE_LEN)?)
        .map_err(|_| IdentityFileError::Malformed("signature"))?;
    Ok(SignedPreKey::from_parts(id, pair, signature))
}

fn read_pq_key(
    r: &mut Reader<'_>,
    id: PreKeyId,
    kind: PqPreKeyKind,
    kem: KemType,
) -> Result<PqPreKey, IdentityFileError> {
    let secret = r.take(SECRET_KEY_LEN)?;
    let public = r.take(PUBLIC_KEY_LEN)?;
    let pair = KemKeyPair::from_parts(kem, public, secret)?;
    let signature = Signature::from_slice(r.take(SIGNATURE_LEN)?)
        .map_err(|_| IdentityFileError::Malformed("signature"))?;
    Ok(PqPreKey::from_parts(id, kind, pair, signature))
}

fn parse_keys(version: u8, bytes: &[u8]) -> Result<PreKeyStore, IdentityFileError> {
    let mut r = Reader(bytes);
    let identity = IdentityKeyPair::from_private(PrivateKey::from_slice(r.take(KEY_LEN)?)?);
    let mut store = PreKeyStore::new(identity);
    if version == IDENTITY_FILE_VERSION_1 {
        let spk_id = r.u32()?;
        store.add_signed_prekey(read_signed(&mut r, spk_id)?);
        let pq_id = r.u32()?;
        let kind = read_kind(&mut r)?;
        let kem = KemType::from_type_byte(r.byte()?)?;
        store.add_pq_prekey(read_pq_key(&mut r, pq_id, kind, kem)?);
    } else {
        for _ in 0..read_count(&mut r, "too many signed prekeys")? {
            let id = r.u32()?;
            let times = read_times(&mut r)?;
            if store.signed_prekey(id).is_some() {
                return Err(IdentityFileError::Malformed("duplicate signed prekey id"));
            }
            store.add_signed_prekey_with_times(read_signed(&mut r, id)?, times);
        }
        for _ in 0..read_count(&mut r, "too many PQ prekeys")? {
            let id = r.u32()?;
            let kind = read_kind(&mut r)?;
            let kem = KemType::from_type_byte(r.byte()?)?;
            let times = read_times(&mut r)?;
            if store.pq_prekey(id).is_some() {
                return Err(IdentityFileError::Malformed("duplicate PQ prekey id"));
            }
            store.add_pq_prekey_with_times(read_pq_key(&mut r, id, kind, kem)?, times);
        }
        let (record, rest) = ReplayRecord::read(r.0)?;
        r.0 = rest;
        store.set_replay_record(record);
    }
    r.end()?;
    verify_prekeys(&store)?;
    Ok(store)
}

/// Every prekey's signature verifies under the identity key, and the store has a current
/// signed prekey and last-resort PQ prekey to publish.
fn verify_prekeys(store: &PreKeyStore) -> Result<(), IdentityFileError> {
    let identity = xeddsa::VerifyingKey::new(store.identity().public_key())
        .map_err(|_| IdentityFileError::BadSignature("identity key"))?;
    for key in store.signed_prekeys() {
        let public = key.public();
        identity
            .verify(&public.key.encode(), &public.signature)
            .map_err(|_| IdentityFileError::BadSignature("signed prekey"))?;
    }
    for key in store.pq_prekeys() {
        let public = key.public();
        identity
            .verify(&public.key.encode(), &public.signature)
            .map_err(|_| IdentityFileError::BadSignature("PQ prekey"))?;
    }
    store
        .current_signed_prekey()
        .ok_or(IdentityFileError::MissingKey("current signed prekey"))?;
    store
        .last_resort_pq_prekey()
        .ok_or(IdentityFileError::MissingKey(
            "current last-resort PQ prekey",
        ))?;
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IdentityFileError> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(IdentityFileError::Malformed("truncated"))?;
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], IdentityFileError> {
        self.take(N)?
            .try_into()
            .map_err(|_| IdentityFileError::Malformed("truncated"))
    }
    fn byte(&mut self) -> Result<u8, IdentityFileError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, IdentityFileError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, IdentityFileError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, IdentityFileError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn end(&self) -> Result<(), IdentityFileError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(IdentityFileError::Malformed("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pqxdh::primitives::kem::KemType;
    use rand::SeedableRng;
    use rand::rngs::ChaCha20Rng;

    fn store(rng: &mut ChaCha20Rng) -> PreKeyStore {
        PreKeyStore::generate(IdentityKeyPair::generate(rng), KemType::MlKem1024, rng)
            .unwrap_or_else(|_| PreKeyStore::new(IdentityKeyPair::generate(rng)))
    }

    #[test]
    fn round_trips_plain_and_sealed() -> Result<(), IdentityFileError> {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let s = store(&mut rng);
        let want = s
            .default_bundle()
            .map_err(|_| IdentityFileError::Encryption)?;
        let plain = encode(&s, Protection::None, &mut rng)?;
        assert!(!is_protected(&plain)?);
        let back = decode(&plain, None)?;
        assert_eq!(back.default_bundle().ok(), Some(want.clone()));

        let sealed = encode(
            &s,
            Protection::Passphrase {
                passphrase: b"correct horse",
                params: KdfParams::INSECURE_FAST,
            },
            &mut rng,
        )?;
        assert!(is_protected(&sealed)?);
        assert_eq!(
            decode(&sealed, None).err(),
            Some(IdentityFileError::PassphraseRequired)
        );
        assert_eq!(
            decode(&sealed, Some(b"wrong")).err(),
            Some(IdentityFileError::WrongPassphrase)
        );
        let back = decode(&sealed, Some(b"correct horse"))?;
        assert_eq!(back.default_bundle().ok(), Some(want));
        Ok(())
    }

    #[test]
    fn corruption_is_detected() -> Result<(), IdentityFileError> {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let s = store(&mut rng);
        let plain = encode(&s, Protection::None, &mut rng)?;
        // Flip a bit in the signed prekey signature: after magic, version, protection, body
        // length, identity secret, count, then the entry's id, times and secret.
        let mut bad = plain.clone();
        let at = 8 + 2 + 4 + KEY_LEN + 2 + 4 + TIMES_LEN + KEY_LEN + 3;
        if let Some(b) = bad.get_mut(at) {
            *b ^= 1;
        }
        assert_eq!(
            decode(&bad, None).err(),
            Some(IdentityFileError::BadSignature("signed prekey"))
        );
        assert!(decode(plain.get(..plain.len() - 1).unwrap_or_default(), None).is_err());
        assert_eq!(
            decode(b"nope", None).err(),
            Some(IdentityFileError::BadMagic)
        );
        Ok(())
    }
}
