//! The session id: a UUID (version 8) derived from the handshake transcript, equal on both sides
//! and distinct for every handshake.

use sha2::{Digest, Sha256};

use crate::primitives::kem::KemCiphertext;
use crate::primitives::keys::PublicKey;

/// Label that starts the hashed transcript (ours; see SPEC.md).
pub const SESSION_ID_LABEL: &[u8] = b"pqxdh session id v1";

/// A session id (RFC 9562 UUID version 8, custom: the first 16 bytes of a SHA-256 transcript hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(uuid::Uuid);

impl SessionId {
    /// SHA-256(label || EncodeEC(IK_A) || EncodeEC(IK_B) || EncodeEC(EK_A) || [EncodeKEM-style
    /// type byte || CT]), truncated to 16 bytes and stamped with the UUID version and variant bits.
    pub fn derive(
        initiator_identity: &PublicKey,
        responder_identity: &PublicKey,
        ephemeral: &PublicKey,
        ciphertext: Option<&KemCiphertext>,
    ) -> Self {
        let mut hash = Sha256::new()
            .chain_update(SESSION_ID_LABEL)
            .chain_update(initiator_identity.encode())
            .chain_update(responder_identity.encode())
            .chain_update(ephemeral.encode());
        if let Some(ct) = ciphertext {
            hash.update([ct.kem().type_byte()]);
            hash.update(ct.as_bytes());
        }
        let digest: [u8; 32] = hash.finalize().into();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// The UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl core::fmt::Display for SessionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}
