//! ML-KEM operations over raw bytes for the vector runners, for all three parameter sets.
//!
//! ML-KEM-1024 goes through this crate's [`pqxdh::primitives::kem`] module (the code PQXDH uses); ML-KEM-512
//! and ML-KEM-768 call libcrux directly. Every operation validates its inputs first: lengths,
//! the FIPS 203 section 7.2 encapsulation-key check and the section 7.3 decapsulation-key check.

use pqxdh::primitives::kem::{
    Backend, KemCiphertext, KemKeyPair, KemPublicKey, KemSecretKey, KemType,
};

/// An ML-KEM parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    /// ML-KEM-512 (k = 2).
    MlKem512,
    /// ML-KEM-768 (k = 3).
    MlKem768,
    /// ML-KEM-1024 (k = 4).
    MlKem1024,
}

/// Output of encapsulation: ciphertext and shared secret.
pub type Encapsulated = (Vec<u8>, [u8; 32]);

fn length(what: &str, expected: usize, actual: usize) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{what} must be {expected} bytes, got {actual}"))
    }
}

macro_rules! libcrux_ops {
    ($module:ident, $pk:ident, $sk:ident, $ct:ident) => {
        mod $module {
            use libcrux_ml_kem::$module as m;

            pub(super) fn keygen(seed: &[u8; 64]) -> (Vec<u8>, Vec<u8>) {
                let pair = m::generate_key_pair(*seed);
                (pair.pk().to_vec(), pair.sk().to_vec())
            }

            pub(super) fn check_ek(ek: &[u8]) -> Result<m::$pk, String> {
                let key =
                    m::$pk::try_from(ek).map_err(|_| "encapsulation key length".to_owned())?;
                if m::validate_public_key(&key) {
                    Ok(key)
                } else {
                    Err("encapsulation key fails the FIPS 203 7.2 modulus check".into())
                }
            }

            pub(super) fn encaps(
                ek: &[u8],
                m_seed: &[u8; 32],
            ) -> Result<super::Encapsulated, String> {
                let key = check_ek(ek)?;
                let (ct, ss) = m::encapsulate(&key, *m_seed);
                Ok((ct.as_slice().to_vec(), ss))
            }

            pub(super) fn decaps(dk: &[u8], c: &[u8]) -> Result<[u8; 32], String> {
                let key =
                    m::$sk::try_from(dk).map_err(|_| "decapsulation key length".to_owned())?;
                let ct = m::$ct::try_from(c).map_err(|_| "ciphertext length".to_owned())?;
                if !m::portable::validate_private_key_only(&key) {
                    return Err("decapsulation key fails the FIPS 203 7.3 hash check".into());
                }
                Ok(m::decapsulate(&key, &ct))
            }
        }
    };
}

libcrux_ops!(
    mlkem512,
    MlKem512PublicKey,
    MlKem512PrivateKey,
    MlKem512Ciphertext
);
libcrux_ops!(
    mlkem768,
    MlKem768PublicKey,
    MlKem768PrivateKey,
    MlKem768Ciphertext
);

impl Params {
    /// The parameter set named `ML-KEM-512`, `ML-KEM-768` or `ML-KEM-1024`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ML-KEM-512" => Some(Self::MlKem512),
            "ML-KEM-768" => Some(Self::MlKem768),
            "ML-KEM-1024" => Some(Self::MlKem1024),
            _ => None,
        }
    }

    /// The parameter set whose encapsulation key has `len` bytes.
    pub fn from_ek_len(len: usize) -> Option<Self> {
        [Self::MlKem512, Self::MlKem768, Self::MlKem1024]
            .into_iter()
            .find(|p| p.ek_len() == len)
    }

    /// The parameter set whose decapsulation key has `len` bytes.
    pub fn from_dk_len(len: usize) -> Option<Self> {
        [Self::MlKem512, Self::MlKem768, Self::MlKem1024]
            .into_iter()
            .find(|p| p.dk_len() == len)
    }

    /// The rank k.
    pub const fn k(self) -> usize {
        match self {
            Self::MlKem512 => 2,
            Self::MlKem768 => 3,
            Self::MlKem1024 => 4,
        }
    }

    /// Encapsulation-key length, 384k + 32.
    pub const fn ek_len(self) -> usize {
        384 * self.k() + 32
    }

    /// Decapsulation-key length, 768k + 96.
    pub const fn dk_len(self) -> usize {
        768 * self.k() + 96
    }

    /// The name, e.g. `ML-KEM-768`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MlKem512 => "ML-KEM-512",
            Self::MlKem768 => "ML-KEM-768",
            Self::MlKem1024 => "ML-KEM-1024",
        }
    }

    /// `ML-KEM.KeyGen_internal(d, z)` from `seed = d || z`: `(ek, dk)`.
    pub fn keygen(self, seed: &[u8; 64]) -> (Vec<u8>, Vec<u8>) {
        match self {
            Self::MlKem512 => mlkem512::keygen(seed),
            Self::MlKem768 => mlkem768::keygen(seed),
            Self::MlKem1024 => {
                let pair = KemKeyPair::from_seed(KemType::MlKem1024, seed);
                (
                    pair.public_key().as_bytes().to_vec(),
                    pair.secret_key().as_bytes().to_vec(),
                )
            }
        }
    }

    /// The FIPS 203 section 7.2 input check of an encapsulation key (length and modulus).
    pub fn check_ek(self, ek: &[u8]) -> Result<(), String> {
        match self {
            Self::MlKem512 => mlkem512::check_ek(ek).map(drop),
            Self::MlKem768 => mlkem768::check_ek(ek).map(drop),
            Self::MlKem1024 => KemPublicKey::from_slice(KemType::MlKem1024, ek)
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }

    /// `ML-KEM.Encaps_internal(ek, m)` after the input check: `(c, K)`.
    pub fn encaps(self, ek: &[u8], m: &[u8; 32]) -> Result<Encapsulated, String> {
        match self {
            Self::MlKem512 => mlkem512::encaps(ek, m),
            Self::MlKem768 => mlkem768::encaps(ek, m),
            Self::MlKem1024 => {
                let key =
                    KemPublicKey::from_slice(KemType::MlKem1024, ek).map_err(|e| e.to_string())?;
                let (ct, ss) = key
                    .encapsulate_deterministic(m)
                    .map_err(|e| e.to_string())?;
                Ok((ct.as_bytes().to_vec(), *ss.as_bytes()))
            }
        }
    }

    /// `ML-KEM.Decaps(dk, c)` after the input checks (lengths, section 7.3 hash check). Only
    /// ML-KEM-1024 has a PQClean backend; the others ignore `backend` and use libcrux.
    pub fn decaps(self, dk: &[u8], c: &[u8], backend: Backend) -> Result<[u8; 32], String> {
        match self {
            Self::MlKem512 => mlkem512::decaps(dk, c),
            Self::MlKem768 => mlkem768::decaps(dk, c),
            Self::MlKem1024 => {
                length("the decapsulation key", self.dk_len(), dk.len())?;
                let key =
                    KemSecretKey::from_slice(KemType::MlKem1024, dk).map_err(|e| e.to_string())?;
                let ct =
                    KemCiphertext::from_slice(KemType::MlKem1024, c).map_err(|e| e.to_string())?;
                key.validate().map_err(|e| e.to_string())?;
                let ss = key.decapsulate(&ct, backend).map_err(|e| e.to_string())?;
                Ok(*ss.as_bytes())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_parameter_set() {
        for params in [Params::MlKem512, Params::MlKem768, Params::MlKem1024] {
            let (ek, dk) = params.keygen(&[5; 64]);
            assert_eq!((ek.len(), dk.len()), (params.ek_len(), params.dk_len()));
            let (c, k) = params.encaps(&ek, &[6; 32]).unwrap();
            assert_eq!(params.decaps(&dk, &c, Backend::Libcrux).unwrap(), k);
            let mut bad = dk.clone();
            bad[params.dk_len() - 40] ^= 1; // inside the stored H(ek)
            assert!(params.decaps(&bad, &c, Backend::Libcrux).is_err());
            assert!(params.encaps(&ek[1..], &[6; 32]).is_err());
            assert_eq!(Params::from_ek_len(ek.len()), Some(params));
            assert_eq!(Params::from_name(params.name()), Some(params));
        }
    }
}
