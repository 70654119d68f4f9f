//! Which key agreement a handshake runs, and the HKDF info string that names it.

/// HKDF info of PQXDH: libsignal's value for both Kyber1024 and ML-KEM-1024
/// (rust/protocol/src/pqxdh.rs; PQXDH section 2.1 names the application in `info`).
pub const PQXDH_INFO: &[u8] = b"WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024";

/// HKDF info of classical X3DH (libsignal session version 3).
pub const X3DH_INFO: &[u8] = b"WhisperText";

/// Which key agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// PQXDH: three or four DH outputs and a KEM shared secret.
    Pqxdh,
    /// Classical X3DH, for comparison: no KEM, info "WhisperText".
    X3dh,
}

impl Protocol {
    /// The HKDF info string.
    pub const fn info(self) -> &'static [u8] {
        match self {
            Self::Pqxdh => PQXDH_INFO,
            Self::X3dh => X3DH_INFO,
        }
    }
}
