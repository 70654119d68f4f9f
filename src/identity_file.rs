//! The private identity file: a party's identity key, signed prekey and last-resort PQ prekey,
//! saved in a small versioned binary form, optionally sealed under a passphrase with Argon2id and
//! AES-256-GCM. SPEC.md section 9 describes every byte.
//!
//! ```text
//! magic "PQXDHID\0" (8) || version u8 = 1 || protection u8 (0 none, 1 passphrase)
//! [protection 1: m_cost_kib u32be || t_cost u32be || p_cost u32be || salt (16) || nonce (12)]
//! || body_len u32be || body      (body = keys, or AES-256-GCM(keys) || tag when protected)
//! keys = EncodeEC-less identity secret (32)
//!        || SPK id u32be || SPK secret (32) || Sig(IK, EncodeEC(SPK)) (64)
//!        || PQ id u32be || kind u8 (0 one-time, 1 last-resort) || KEM type byte
//!        || KEM secret (3168) || KEM public (1568) || Sig(IK, EncodeKEM(PQPK)) (64)
//! ```
//!
//! Loading re-derives the public keys and checks both prekey signatures, so a corrupted file (or
//! one whose parts were mixed from different identities) is refused.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::identity::IdentityKeyPair;
use crate::kem::{KemError, KemKeyPair, KemType, PUBLIC_KEY_LEN, SECRET_KEY_LEN};
use crate::keys::{KEY_LEN, KeyError, KeyPair, PrivateKey};
use crate::prekey::{PqPreKey, PqPreKeyKind, SignedPreKey};
use crate::prekey_store::PreKeyStore;
use crate::xeddsa::{SIGNATURE_LEN, Signature};

/// First bytes of an identity file.
pub const IDENTITY_FILE_MAGIC: &[u8; 8] = b"PQXDHID\0";
/// Version of the identity file format.
pub const IDENTITY_FILE_VERSION: u8 = 1;
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
/// Length of the serialized keys (the plaintext body).
pub const KEYS_LEN: usize = KEY_LEN
    + (4 + KEY_LEN + SIGNATURE_LEN)
    + (4 + 1 + 1 + SECRET_KEY_LEN + PUBLIC_KEY_LEN + SIGNATURE_LEN);
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

/// How to protect a new identity file.
#[derive(Clone, Copy, Debug)]
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
    read_preamble(&mut r).map(|p| p == PROTECTION_PASSPHRASE)
}

/// Serializes the store's identity, newest signed prekey and newest last-resort PQ prekey.
pub fn encode<R: CryptoRng + ?Sized>(
    store: &PreKeyStore,
    protection: Protection<'_>,
    rng: &mut R,
) -> Result<Zeroizing<Vec<u8>>, IdentityFileError> {
    let keys = serialize_keys(store)?;
    // Sized up front so that no reallocation leaves unwiped copies of the keys behind.
    let mut out = Zeroizing::new(Vec::with_capacity(KEYS_LEN + 80));
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
/// key store (identity, signed prekey, PQ prekey), checking both signatures.
pub fn decode(bytes: &[u8], passphrase: Option<&[u8]>) -> Result<PreKeyStore, IdentityFileError> {
    let mut r = Reader(bytes);
    let protection = read_preamble(&mut r)?;
    match protection {
        PROTECTION_NONE => {
            let len = r.u32()? as usize;
            let body = r.take(len)?;
            r.end()?;
            parse_keys(body)
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
            parse_keys(&body)
        }
    }
}

fn read_preamble(r: &mut Reader<'_>) -> Result<u8, IdentityFileError> {
    let magic = r
        .take(IDENTITY_FILE_MAGIC.len())
        .map_err(|_| IdentityFileError::BadMagic)?;
    if magic != IDENTITY_FILE_MAGIC {
        return Err(IdentityFileError::BadMagic);
    }
    let version = r.byte()?;
    if version != IDENTITY_FILE_VERSION {
        return Err(IdentityFileError::UnsupportedVersion(version));
    }
    let protection = r.byte()?;
    if protection != PROTECTION_NONE && protection != PROTECTION_PASSPHRASE {
        return Err(IdentityFileError::UnknownProtection(protection));
    }
    Ok(protection)
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

fn derive_key(
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
    let signed = store
        .current_signed_prekey()
        .ok_or(IdentityFileError::MissingKey("signed prekey"))?;
    let pq = store
        .last_resort_pq_prekey()
        .ok_or(IdentityFileError::MissingKey("last-resort PQ prekey"))?;
    let mut out = Zeroizing::new(Vec::with_capacity(KEYS_LEN));
    out.extend_from_slice(store.identity().key_pair().private_key().as_bytes());
    out.extend_from_slice(&signed.id().to_be_bytes());
    out.extend_from_slice(signed.key_pair().private_key().as_bytes());
    out.extend_from_slice(signed.public().signature.as_bytes());
    let pq_public = pq.public();
    out.extend_from_slice(&pq.id().to_be_bytes());
    out.push(match pq.kind() {
        PqPreKeyKind::OneTime => 0,
        PqPreKeyKind::LastResort => 1,
    });
    out.push(pq.key_pair().secret_key().kem().type_byte());
    out.extend_from_slice(pq.key_pair().secret_key().as_bytes());
    out.extend_from_slice(pq.key_pair().public_key().as_bytes());
    out.extend_from_slice(pq_public.signature.as_bytes());
    Ok(out)
}

fn parse_keys(bytes: &[u8]) -> Result<PreKeyStore, IdentityFileError> {
    let mut r = Reader(bytes);
    let identity = IdentityKeyPair::from_private(PrivateKey::from_slice(r.take(KEY_LEN)?)?);
    let spk_id = r.u32()?;
    let spk = KeyPair::from_private(PrivateKey::from_slice(r.take(KEY_LEN)?)?);
    let spk_sig = Signature::from_slice(r.take(SIGNATURE_LEN)?)
        .map_err(|_| IdentityFileError::Malformed("signature"))?;
    let pq_id = r.u32()?;
    let kind = match r.byte()? {
        0 => PqPreKeyKind::OneTime,
        1 => PqPreKeyKind::LastResort,
        _ => return Err(IdentityFileError::Malformed("unknown PQ prekey kind")),
    };
    let kem = KemType::from_type_byte(r.byte()?)?;
    let secret = r.take(SECRET_KEY_LEN)?;
    let public = r.take(PUBLIC_KEY_LEN)?;
    let pq_pair = KemKeyPair::from_parts(kem, public, secret)?;
    let pq_sig = Signature::from_slice(r.take(SIGNATURE_LEN)?)
        .map_err(|_| IdentityFileError::Malformed("signature"))?;
    r.end()?;

    let mut store = PreKeyStore::new(identity);
    store.add_signed_prekey(SignedPreKey::from_parts(spk_id, spk, spk_sig));
    store.add_pq_prekey(PqPreKey::from_parts(pq_id, kind, pq_pair, pq_sig));
    let bundle = store
        .bundle(spk_id, pq_id, None)
        .map_err(|_| IdentityFileError::Malformed("prekeys"))?;
    bundle
        .verify_signed_prekey()
        .map_err(|_| IdentityFileError::BadSignature("signed prekey"))?;
    bundle
        .verify()
        .map_err(|_| IdentityFileError::BadSignature("PQ prekey"))?;
    Ok(store)
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
    fn u32(&mut self) -> Result<u32, IdentityFileError> {
        Ok(u32::from_be_bytes(self.array()?))
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
    use crate::kem::KemType;
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
        // Flip a bit in the signed prekey signature.
        let mut bad = plain.clone();
        let at = 8 + 2 + 4 + 32 + 4 + 32 + 3;
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
