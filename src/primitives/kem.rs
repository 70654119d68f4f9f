//! Post-quantum KEMs: ML-KEM-1024 (FIPS 203) and round-3 CRYSTALS-Kyber1024 (Signal's first PQXDH
//! KEM), through libcrux-ml-kem; PQClean's ML-KEM-1024 (pqcrypto-mlkem) as an independent second
//! ML-KEM-1024 backend behind the `pqclean` feature (without it, [`Backend::PqClean`] answers
//! [`KemError::UnsupportedBackend`]).
//!
//! libcrux does not check encapsulation keys inside `encapsulate`, so every encapsulation here first
//! runs the FIPS 203 section 7.2 check (length and `ByteEncode12(ByteDecode12(ek)) == ek`). Key and
//! secret bytes are copied into zeroizing types of ours at once.

#[cfg(feature = "pqclean")]
use pqcrypto_traits::kem::{Ciphertext as _, PublicKey as _, SecretKey as _, SharedSecret as _};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::primitives::secret::secret_bytes;

/// Encapsulation-key length of ML-KEM-1024 and Kyber1024 (FIPS 203 table 3: 384k + 32, k = 4).
pub const PUBLIC_KEY_LEN: usize = 1568;
/// Decapsulation-key length, expanded form (FIPS 203 table 3: 768k + 96).
pub const SECRET_KEY_LEN: usize = 3168;
/// Where the encapsulation key starts inside a decapsulation key: after `dk_PKE`, 384k bytes
/// with k = 4 (FIPS 203 algorithm 16, ML-KEM.KeyGen_internal; round-3 Kyber is laid out alike).
pub const SECRET_KEY_EK_OFFSET: usize = 384 * 4;
/// Ciphertext length (FIPS 203 table 3: 32(du k + dv), du = 11, dv = 5).
pub const CIPHERTEXT_LEN: usize = 1568;
/// Shared-secret length (FIPS 203 section 7).
pub const SHARED_SECRET_LEN: usize = 32;
/// Randomness consumed by key generation: d || z (FIPS 203 algorithm 19).
pub const KEYGEN_SEED_LEN: usize = 64;
/// Randomness consumed by encapsulation: m (FIPS 203 algorithm 20).
pub const ENCAPS_SEED_LEN: usize = 32;

/// `EncodeKEM` type byte of Kyber1024 (libsignal rust/protocol/src/kem.rs `KeyType::Kyber1024`).
pub const KEM_TYPE_KYBER1024: u8 = 0x08;
/// `EncodeKEM` type byte of ML-KEM-1024 (libsignal `KeyType::MLKEM1024`).
pub const KEM_TYPE_MLKEM1024: u8 = 0x0A;

/// Errors from KEM keys and operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KemError {
    /// The type byte of an `EncodeKEM` value is neither 0x08 nor 0x0A.
    #[error("unknown KEM type byte 0x{0:02x}")]
    UnknownType(u8),
    /// The KEM name is neither `kyber1024` nor `ml-kem-1024`.
    #[error("unknown KEM name")]
    UnknownName,
    /// A key or ciphertext has the wrong length.
    #[error("{what} must be {expected} bytes, got {actual}")]
    InvalidLength {
        /// Which value.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Given length.
        actual: usize,
    },
    /// The decapsulation key fails the FIPS 203 section 7.3 hash check: `H(ek)` stored in it
    /// differs from the hash of the encapsulation key stored in it.
    #[error("the KEM secret key is invalid (stored H(ek) does not match, FIPS 203 section 7.3)")]
    InvalidSecretKey,
    /// The encapsulation key fails the FIPS 203 section 7.2 modulus check.
    #[error(
        "the KEM public key is invalid (a coefficient is not reduced modulo q, FIPS 203 section 7.2)"
    )]
    InvalidPublicKey,
    /// The decapsulation key does not hold the encapsulation key it was stored with.
    #[error("the KEM secret key does not belong to the KEM public key")]
    MismatchedPair,
    /// A key or ciphertext of one KEM was used with the other.
    #[error("KEM mismatch: expected {expected}, got {actual}")]
    Mismatch {
        /// The KEM of the key.
        expected: KemType,
        /// The KEM of the other value.
        actual: KemType,
    },
    /// The selected backend does not implement this KEM.
    #[error("the {backend:?} backend does not implement {kem}")]
    UnsupportedBackend {
        /// The backend.
        backend: Backend,
        /// The KEM asked for.
        kem: KemType,
    },
    /// The selected backend cannot take caller randomness.
    #[error("the {0:?} backend cannot use caller-supplied randomness")]
    NoDeterministicMode(Backend),
}

/// Which post-quantum KEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KemType {
    /// CRYSTALS-Kyber1024, round 3 (type byte 0x08).
    #[cfg_attr(feature = "serde", serde(rename = "kyber1024"))]
    Kyber1024,
    /// ML-KEM-1024, FIPS 203 (type byte 0x0A).
    #[cfg_attr(feature = "serde", serde(rename = "ml-kem-1024"))]
    MlKem1024,
}

impl KemType {
    /// The `EncodeKEM` type byte.
    pub const fn type_byte(self) -> u8 {
        match self {
            Self::Kyber1024 => KEM_TYPE_KYBER1024,
            Self::MlKem1024 => KEM_TYPE_MLKEM1024,
        }
    }

    /// The KEM of an `EncodeKEM` type byte.
    pub const fn from_type_byte(byte: u8) -> Result<Self, KemError> {
        match byte {
            KEM_TYPE_KYBER1024 => Ok(Self::Kyber1024),
            KEM_TYPE_MLKEM1024 => Ok(Self::MlKem1024),
            other => Err(KemError::UnknownType(other)),
        }
    }

    /// The name used in JSON and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Kyber1024 => "kyber1024",
            Self::MlKem1024 => "ml-kem-1024",
        }
    }
}

impl core::fmt::Display for KemType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for KemType {
    type Err = KemError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "kyber1024" | "kyber-1024" => Ok(Self::Kyber1024),
            "ml-kem-1024" | "mlkem1024" | "mlkem-1024" => Ok(Self::MlKem1024),
            _ => Err(KemError::UnknownName),
        }
    }
}

/// Which implementation performs the KEM operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// libcrux-ml-kem (formally verified; both KEMs; takes caller randomness).
    #[default]
    Libcrux,
    /// PQClean through pqcrypto-mlkem (ML-KEM-1024 only; draws its own randomness; needs the
    /// `pqclean` feature).
    PqClean,
}

fn array_from<const N: usize>(what: &'static str, bytes: &[u8]) -> Result<[u8; N], KemError> {
    bytes.try_into().map_err(|_| KemError::InvalidLength {
        what,
        expected: N,
        actual: bytes.len(),
    })
}

/// A KEM encapsulation key, tagged with its KEM.
#[derive(Clone, PartialEq, Eq)]
pub struct KemPublicKey {
    kem: KemType,
    bytes: Box<[u8; PUBLIC_KEY_LEN]>,
}

impl KemPublicKey {
    /// Wraps a raw encapsulation key after the FIPS 203 section 7.2 check.
    pub fn from_slice(kem: KemType, bytes: &[u8]) -> Result<Self, KemError> {
        let key = Self {
            kem,
            bytes: Box::new(array_from("a KEM public key", bytes)?),
        };
        key.validate()?;
        Ok(key)
    }

    /// Decodes `EncodeKEM(pk) = type byte || key` and checks the key.
    pub fn decode(bytes: &[u8]) -> Result<Self, KemError> {
        let (&type_byte, key) = bytes.split_first().ok_or(KemError::InvalidLength {
            what: "an encoded KEM public key",
            expected: 1 + PUBLIC_KEY_LEN,
            actual: 0,
        })?;
        let kem = KemType::from_type_byte(type_byte)?;
        if key.len() != PUBLIC_KEY_LEN {
            return Err(KemError::InvalidLength {
                what: "an encoded KEM public key",
                expected: 1 + PUBLIC_KEY_LEN,
                actual: bytes.len(),
            });
        }
        Self::from_slice(kem, key)
    }

    /// `EncodeKEM(pk)`: the type byte, then the raw key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + PUBLIC_KEY_LEN);
        out.push(self.kem.type_byte());
        out.extend_from_slice(&self.bytes[..]);
        out
    }

    /// The KEM this key belongs to.
    pub fn kem(&self) -> KemType {
        self.kem
    }

    /// The raw encapsulation key.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// FIPS 203 section 7.2 encapsulation-key check (the same encoding check applies to Kyber1024).
    pub fn validate(&self) -> Result<(), KemError> {
        let key = libcrux_ml_kem::mlkem1024::MlKem1024PublicKey::from(*self.bytes);
        if libcrux_ml_kem::mlkem1024::validate_public_key(&key) {
            Ok(())
        } else {
            Err(KemError::InvalidPublicKey)
        }
    }

    /// Encapsulates with fresh randomness: the ciphertext and the shared secret.
    pub fn encapsulate<R: CryptoRng + ?Sized>(
        &self,
        backend: Backend,
        rng: &mut R,
    ) -> Result<(KemCiphertext, KemSharedSecret), KemError> {
        match backend {
            Backend::Libcrux => {
                let mut m = [0u8; ENCAPS_SEED_LEN];
                rng.fill_bytes(&mut m);
                let out = self.encapsulate_deterministic(&m);
                m.zeroize();
                out
            }
            Backend::PqClean => self.encapsulate_pqclean(),
        }
    }

    /// Encapsulation with caller randomness `m` (libcrux), for known-answer tests.
    /// Kyber1024 hashes `m` first, as round 3 specifies; ML-KEM uses it as is.
    pub fn encapsulate_deterministic(
        &self,
        m: &[u8; ENCAPS_SEED_LEN],
    ) -> Result<(KemCiphertext, KemSharedSecret), KemError> {
        self.validate()?;
        let key = libcrux_ml_kem::mlkem1024::MlKem1024PublicKey::from(*self.bytes);
        let (ct, mut ss) = match self.kem {
            KemType::MlKem1024 => libcrux_ml_kem::mlkem1024::encapsulate(&key, *m),
            KemType::Kyber1024 => libcrux_ml_kem::kyber1024::encapsulate(&key, *m),
        };
        let shared = KemSharedSecret::from_bytes(ss);
        ss.zeroize();
        Ok((
            KemCiphertext {
                kem: self.kem,
                bytes: Box::new(*ct.as_slice()),
            },
            shared,
        ))
    }

    #[cfg(not(feature = "pqclean"))]
    fn encapsulate_pqclean(&self) -> Result<(KemCiphertext, KemSharedSecret), KemError> {
        Err(KemError::UnsupportedBackend {
            backend: Backend::PqClean,
            kem: self.kem,
        })
    }

    #[cfg(feature = "pqclean")]
    fn encapsulate_pqclean(&self) -> Result<(KemCiphertext, KemSharedSecret), KemError> {
        if self.kem != KemType::MlKem1024 {
            return Err(KemError::UnsupportedBackend {
                backend: Backend::PqClean,
                kem: self.kem,
            });
        }
        self.validate()?;
        let key =
            pqcrypto_mlkem::mlkem1024::PublicKey::from_bytes(&self.bytes[..]).map_err(|_| {
                KemError::InvalidLength {
                    what: "a KEM public key",
                    expected: PUBLIC_KEY_LEN,
                    actual: self.bytes.len(),
                }
            })?;
        let (ss, ct) = pqcrypto_mlkem::mlkem1024::encapsulate(&key);
        let shared = KemSharedSecret::from_slice(ss.as_bytes()).ok_or(KemError::InvalidLength {
            what: "a shared secret",
            expected: SHARED_SECRET_LEN,
            actual: ss.as_bytes().len(),
        })?;
        Ok((KemCiphertext::from_slice(self.kem, ct.as_bytes())?, shared))
    }
}

impl core::fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let prefix = self.bytes.get(..8).map(hex::encode).unwrap_or_default();
        write!(f, "KemPublicKey({}, {prefix}...)", self.kem)
    }
}

/// A KEM decapsulation key (expanded, 3168 bytes). Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KemSecretKey {
    #[zeroize(skip)]
    kem: KemType,
    bytes: Box<[u8; SECRET_KEY_LEN]>,
}

impl KemSecretKey {
    /// Wraps a raw decapsulation key.
    pub fn from_slice(kem: KemType, bytes: &[u8]) -> Result<Self, KemError> {
        Ok(Self {
            kem,
            bytes: Box::new(array_from("a KEM secret key", bytes)?),
        })
    }

    /// The KEM this key belongs to.
    pub fn kem(&self) -> KemType {
        self.kem
    }

    /// FIPS 203 section 7.3 decapsulation-key check (the length is checked on construction):
    /// `H(dk[384k : 768k + 32]) == dk[768k + 32 : 768k + 64]`, with H = SHA3-256. Round-3 Kyber
    /// keys have the same layout and hash.
    pub fn validate(&self) -> Result<(), KemError> {
        let key = libcrux_ml_kem::mlkem1024::MlKem1024PrivateKey::from(&*self.bytes);
        let valid = libcrux_ml_kem::mlkem1024::portable::validate_private_key_only(&key);
        let mut key_bytes: [u8; SECRET_KEY_LEN] = key.into();
        key_bytes.zeroize();
        if valid {
            Ok(())
        } else {
            Err(KemError::InvalidSecretKey)
        }
    }

    /// The raw decapsulation key, for saving it. Handle with care.
    pub fn as_bytes(&self) -> &[u8; SECRET_KEY_LEN] {
        &self.bytes
    }

    /// Decapsulates. An invalid ciphertext yields the implicit-rejection secret (FIPS 203
    /// algorithm 18), which simply fails to authenticate later.
    pub fn decapsulate(
        &self,
        ciphertext: &KemCiphertext,
        backend: Backend,
    ) -> Result<KemSharedSecret, KemError> {
        if ciphertext.kem != self.kem {
            return Err(KemError::Mismatch {
                expected: self.kem,
                actual: ciphertext.kem,
            });
        }
        match (backend, self.kem) {
            (Backend::Libcrux, kem) => {
                let key = libcrux_ml_kem::mlkem1024::MlKem1024PrivateKey::from(&*self.bytes);
                let ct = libcrux_ml_kem::mlkem1024::MlKem1024Ciphertext::from(&*ciphertext.bytes);
                let mut ss = match kem {
                    KemType::MlKem1024 => libcrux_ml_kem::mlkem1024::decapsulate(&key, &ct),
                    KemType::Kyber1024 => libcrux_ml_kem::kyber1024::decapsulate(&key, &ct),
                };
                let mut key_bytes: [u8; SECRET_KEY_LEN] = key.into();
                key_bytes.zeroize();
                let shared = KemSharedSecret::from_bytes(ss);
                ss.zeroize();
                Ok(shared)
            }
            #[cfg(feature = "pqclean")]
            (Backend::PqClean, KemType::MlKem1024) => {
                let length_error = |what, expected, actual| KemError::InvalidLength {
                    what,
                    expected,
                    actual,
                };
                let key = pqcrypto_mlkem::mlkem1024::SecretKey::from_bytes(&self.bytes[..])
                    .map_err(|_| {
                        length_error("a KEM secret key", SECRET_KEY_LEN, SECRET_KEY_LEN)
                    })?;
                let ct = pqcrypto_mlkem::mlkem1024::Ciphertext::from_bytes(&ciphertext.bytes[..])
                    .map_err(|_| {
                    length_error("a KEM ciphertext", CIPHERTEXT_LEN, CIPHERTEXT_LEN)
                })?;
                let ss = pqcrypto_mlkem::mlkem1024::decapsulate(&ct, &key);
                KemSharedSecret::from_slice(ss.as_bytes()).ok_or(length_error(
                    "a shared secret",
                    SHARED_SECRET_LEN,
                    ss.as_bytes().len(),
                ))
            }
            (Backend::PqClean, kem) => Err(KemError::UnsupportedBackend { backend, kem }),
        }
    }
}

impl core::fmt::Debug for KemSecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KemSecretKey({}, <redacted>)", self.kem)
    }
}

/// A KEM key pair.
#[derive(Clone, Debug)]
pub struct KemKeyPair {
    public: KemPublicKey,
    secret: KemSecretKey,
}

/// The secret half wipes itself on drop; the public half is not secret.
impl ZeroizeOnDrop for KemKeyPair {}

impl KemKeyPair {
    /// Generates a key pair with fresh randomness.
    pub fn generate<R: CryptoRng + ?Sized>(
        kem: KemType,
        backend: Backend,
        rng: &mut R,
    ) -> Result<Self, KemError> {
        match (backend, kem) {
            (Backend::Libcrux, _) => {
                let mut seed = [0u8; KEYGEN_SEED_LEN];
                rng.fill_bytes(&mut seed);
                let pair = Self::from_seed(kem, &seed);
                seed.zeroize();
                Ok(pair)
            }
            #[cfg(feature = "pqclean")]
            (Backend::PqClean, KemType::MlKem1024) => {
                let (pk, sk) = pqcrypto_mlkem::mlkem1024::keypair();
                Self::from_parts(kem, pk.as_bytes(), sk.as_bytes())
            }
            (Backend::PqClean, kem) => Err(KemError::UnsupportedBackend { backend, kem }),
        }
    }

    /// Deterministic key generation from `d || z` (libcrux), for known-answer tests and seeded runs.
    /// For Kyber1024, `d || z` are the two 32-byte random draws of the round-3 key generator.
    pub fn from_seed(kem: KemType, seed: &[u8; KEYGEN_SEED_LEN]) -> Self {
        let pair = match kem {
            KemType::MlKem1024 => libcrux_ml_kem::mlkem1024::generate_key_pair(*seed),
            KemType::Kyber1024 => libcrux_ml_kem::kyber1024::generate_key_pair(*seed),
        };
        let (sk, pk) = pair.into_parts();
        let mut sk_bytes: [u8; SECRET_KEY_LEN] = sk.into();
        let secret = KemSecretKey {
            kem,
            bytes: Box::new(sk_bytes),
        };
        sk_bytes.zeroize();
        Self {
            public: KemPublicKey {
                kem,
                bytes: Box::new(*pk.as_slice()),
            },
            secret,
        }
    }

    /// Joins a public and a secret key given as raw bytes, checking that they are one pair: the
    /// encapsulation key passes the FIPS 203 section 7.2 check, the decapsulation key the
    /// section 7.3 hash check, and the decapsulation key holds this encapsulation key (its bytes
    /// `384k .. 768k + 32`, the same layout in round-3 Kyber).
    pub fn from_parts(kem: KemType, public: &[u8], secret: &[u8]) -> Result<Self, KemError> {
        let public = KemPublicKey::from_slice(kem, public)?;
        let secret = KemSecretKey::from_slice(kem, secret)?;
        public.validate()?;
        secret.validate()?;
        let inner = secret
            .as_bytes()
            .get(SECRET_KEY_EK_OFFSET..SECRET_KEY_EK_OFFSET + PUBLIC_KEY_LEN)
            .ok_or(KemError::MismatchedPair)?;
        if !bool::from(inner.ct_eq(public.as_bytes())) {
            return Err(KemError::MismatchedPair);
        }
        Ok(Self { public, secret })
    }

    /// The public half.
    pub fn public_key(&self) -> &KemPublicKey {
        &self.public
    }

    /// The secret half.
    pub fn secret_key(&self) -> &KemSecretKey {
        &self.secret
    }
}

/// A KEM ciphertext, tagged with its KEM.
#[derive(Clone, PartialEq, Eq)]
pub struct KemCiphertext {
    kem: KemType,
    bytes: Box<[u8; CIPHERTEXT_LEN]>,
}

impl KemCiphertext {
    /// Wraps a raw ciphertext.
    pub fn from_slice(kem: KemType, bytes: &[u8]) -> Result<Self, KemError> {
        Ok(Self {
            kem,
            bytes: Box::new(array_from("a KEM ciphertext", bytes)?),
        })
    }

    /// The KEM it was made with.
    pub fn kem(&self) -> KemType {
        self.kem
    }

    /// The raw ciphertext.
    pub fn as_bytes(&self) -> &[u8; CIPHERTEXT_LEN] {
        &self.bytes
    }
}

impl core::fmt::Debug for KemCiphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let prefix = self.bytes.get(..8).map(hex::encode).unwrap_or_default();
        write!(f, "KemCiphertext({}, {prefix}...)", self.kem)
    }
}

secret_bytes!(
    /// The 32-byte KEM shared secret `SS`. Zeroized on drop.
    KemSharedSecret,
    SHARED_SECRET_LEN
);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn round_trip_both_kems_and_encoding() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(7);
        for kem in [KemType::MlKem1024, KemType::Kyber1024] {
            let pair = KemKeyPair::generate(kem, Backend::Libcrux, &mut rng).unwrap();
            let (ct, ss) = pair
                .public_key()
                .encapsulate(Backend::Libcrux, &mut rng)
                .unwrap();
            let back = pair
                .secret_key()
                .decapsulate(&ct, Backend::Libcrux)
                .unwrap();
            assert_eq!(ss, back);
            let encoded = pair.public_key().encode();
            assert_eq!(encoded[0], kem.type_byte());
            assert_eq!(&KemPublicKey::decode(&encoded).unwrap(), pair.public_key());
        }
    }

    #[test]
    #[cfg(feature = "pqclean")]
    fn pqclean_and_libcrux_agree_both_ways() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(8);
        let kem = KemType::MlKem1024;
        for (keys_by, ct_by) in [
            (Backend::Libcrux, Backend::PqClean),
            (Backend::PqClean, Backend::Libcrux),
        ] {
            let pair = KemKeyPair::generate(kem, keys_by, &mut rng).unwrap();
            let (ct, ss) = pair.public_key().encapsulate(ct_by, &mut rng).unwrap();
            assert_eq!(pair.secret_key().decapsulate(&ct, keys_by).unwrap(), ss);
            assert_eq!(pair.secret_key().decapsulate(&ct, ct_by).unwrap(), ss);
        }
    }

    #[test]
    fn mismatched_kem_and_bad_keys_are_typed_errors() {
        let pair = KemKeyPair::from_seed(KemType::Kyber1024, &[1u8; 64]);
        let (ct, _) = KemKeyPair::from_seed(KemType::MlKem1024, &[2u8; 64])
            .public_key()
            .encapsulate_deterministic(&[3u8; 32])
            .unwrap();
        assert!(matches!(
            pair.secret_key().decapsulate(&ct, Backend::Libcrux),
            Err(KemError::Mismatch { .. })
        ));
        assert_eq!(
            KemPublicKey::decode(&[0x09; 1569]).err(),
            Some(KemError::UnknownType(0x09))
        );
        assert!(matches!(
            KemPublicKey::decode(&[0x0A; 10]),
            Err(KemError::InvalidLength { .. })
        ));
        // All coefficients 0xFFF >= q: fails the modulus check.
        assert_eq!(
            KemPublicKey::from_slice(KemType::MlKem1024, &[0xFF; PUBLIC_KEY_LEN]).err(),
            Some(KemError::InvalidPublicKey)
        );
    }
}
