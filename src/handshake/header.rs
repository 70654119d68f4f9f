//! The initial-message header (SPEC.md section 6.1): what the initiator sends so that the
//! responder can run its side of the handshake, in our binary form.

use crate::handshake::error::HandshakeError;
use crate::handshake::prekey::PreKeyId;
use crate::handshake::protocol::Protocol;
use crate::primitives::kem::{CIPHERTEXT_LEN, KemCiphertext, KemType};
use crate::primitives::keys::{ENCODED_EC_LEN, PublicKey};

/// Version byte of the initial-message header's binary form (ours; see SPEC.md).
pub const HEADER_VERSION: u8 = 1;

/// Header flag: a one-time prekey id follows.
const FLAG_ONE_TIME_PREKEY: u8 = 0x01;
/// Header flag: a PQ prekey id and a KEM ciphertext follow (absent only in classical X3DH).
const FLAG_PQ: u8 = 0x02;

/// The KEM part of an initial message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PqHeader {
    /// Which PQ prekey was encapsulated to.
    pub prekey_id: PreKeyId,
    /// `CT`, tagged with its KEM.
    pub ciphertext: KemCiphertext,
}

/// What the initiator sends so that the responder can run its side: `IK_A`, `EK_A`, the prekey
/// ids, and the KEM ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialHeader {
    /// `IK_A`.
    pub identity_key: PublicKey,
    /// `EK_A`.
    pub ephemeral_key: PublicKey,
    /// Which signed prekey was used.
    pub signed_prekey_id: PreKeyId,
    /// Which one-time prekey was used, if any.
    pub one_time_prekey_id: Option<PreKeyId>,
    /// The KEM part; `None` only for classical X3DH.
    pub pq: Option<PqHeader>,
}

impl InitialHeader {
    /// The binary form (SPEC.md, "Initial-message header"):
    /// `version || EncodeEC(IK_A) || EncodeEC(EK_A) || u32be SPK id || flags
    /// [|| u32be OPK id] [|| u32be PQ prekey id || KEM type byte || CT]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 2 * ENCODED_EC_LEN + 13 + CIPHERTEXT_LEN);
        out.push(HEADER_VERSION);
        out.extend_from_slice(&self.identity_key.encode());
        out.extend_from_slice(&self.ephemeral_key.encode());
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        let mut flags = 0u8;
        if self.one_time_prekey_id.is_some() {
            flags |= FLAG_ONE_TIME_PREKEY;
        }
        if self.pq.is_some() {
            flags |= FLAG_PQ;
        }
        out.push(flags);
        if let Some(id) = self.one_time_prekey_id {
            out.extend_from_slice(&id.to_be_bytes());
        }
        if let Some(pq) = &self.pq {
            out.extend_from_slice(&pq.prekey_id.to_be_bytes());
            out.push(pq.ciphertext.kem().type_byte());
            out.extend_from_slice(pq.ciphertext.as_bytes());
        }
        out
    }

    /// Parses the binary form, checking the version, every length and the flags; trailing bytes
    /// are an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HandshakeError> {
        let mut reader = Reader(bytes);
        let version = reader.byte()?;
        if version != HEADER_VERSION {
            return Err(HandshakeError::UnknownHeaderVersion(version));
        }
        let identity_key = PublicKey::decode(reader.take(ENCODED_EC_LEN)?)?;
        let ephemeral_key = PublicKey::decode(reader.take(ENCODED_EC_LEN)?)?;
        let signed_prekey_id = reader.u32()?;
        let flags = reader.byte()?;
        if flags & !(FLAG_ONE_TIME_PREKEY | FLAG_PQ) != 0 {
            return Err(HandshakeError::MalformedHeader("unknown flag bits"));
        }
        let one_time_prekey_id = if flags & FLAG_ONE_TIME_PREKEY != 0 {
            Some(reader.u32()?)
        } else {
            None
        };
        let pq = if flags & FLAG_PQ != 0 {
            let prekey_id = reader.u32()?;
            let kem = KemType::from_type_byte(reader.byte()?)?;
            let ciphertext = KemCiphertext::from_slice(kem, reader.take(CIPHERTEXT_LEN)?)?;
            Some(PqHeader {
                prekey_id,
                ciphertext,
            })
        } else {
            None
        };
        if !reader.0.is_empty() {
            return Err(HandshakeError::MalformedHeader("trailing bytes"));
        }
        Ok(Self {
            identity_key,
            ephemeral_key,
            signed_prekey_id,
            one_time_prekey_id,
            pq,
        })
    }

    /// Which protocol the header belongs to.
    pub fn protocol(&self) -> Protocol {
        if self.pq.is_some() {
            Protocol::Pqxdh
        } else {
            Protocol::X3dh
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HandshakeError> {
        if self.0.len() < n {
            return Err(HandshakeError::MalformedHeader("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn byte(&mut self) -> Result<u8, HandshakeError> {
        self.take(1)?
            .first()
            .copied()
            .ok_or(HandshakeError::MalformedHeader("truncated"))
    }
    fn u32(&mut self) -> Result<u32, HandshakeError> {
        let bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| HandshakeError::MalformedHeader("truncated"))?;
        Ok(u32::from_be_bytes(bytes))
    }
}
