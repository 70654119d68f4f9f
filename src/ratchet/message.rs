//! The ratchet wire format (SPEC.md section 8): normal messages and pre-key messages.
//!
//! ```text
//! normal  = version(0x02) || type(0x01) || EncodeEC(ratchet key) (33) || u32be PN || u32be N
//!           || salt (16) || AES-256-GCM ciphertext || tag (16)
//! pre-key = version(0x02) || type(0x02) || u32be L || pre-key header (L bytes) || normal
//! ```
//!
//! Triple-ratchet messages (version 0x03) carry the SPQR message after the salt:
//! `... || salt (16) || u16be S || SPQR message (S bytes) || ciphertext || tag`.

use crate::primitives::keys::{ENCODED_EC_LEN, PublicKey};
use crate::ratchet::error::DecryptError;
use crate::ratchet::message_key::TAG_LEN;

/// Version byte of every ratchet message. Version 0x02 added the per-message salt (SPEC.md
/// section 8.4); version 0x01 messages are refused with [`DecryptError::UnknownVersion`].
pub const WIRE_VERSION: u8 = 0x02;

/// Version byte of triple-ratchet messages (Double Ratchet plus SPQR, SPEC.md section 8.4).
pub const WIRE_VERSION_TRIPLE: u8 = 0x03;

/// Longest SPQR message accepted (a V1 message is at most 52 bytes; the rest is room for later
/// versions without letting a length field describe much).
pub const MAX_PQ_MESSAGE_LEN: usize = 1_024;

pub use crate::ratchet::message_key::SALT_LEN;

/// Type byte of a normal ratchet message.
pub const TYPE_NORMAL: u8 = 0x01;

/// Type byte of a pre-key message (handshake header plus an embedded normal message).
pub const TYPE_PREKEY: u8 = 0x02;

/// Length of a normal message's header: version, type, ratchet key, PN, N, salt.
pub const NORMAL_HEADER_LEN: usize = 2 + ENCODED_EC_LEN + 4 + 4 + SALT_LEN;

/// Length of a pre-key message's prefix before its header blob: version, type, u32 length.
pub const PREKEY_PREFIX_LEN: usize = 2 + 4;

/// Length of the shortest normal message: the header and a tag (empty plaintext).
pub const MIN_NORMAL_LEN: usize = NORMAL_HEADER_LEN + TAG_LEN;

/// Largest pre-key header blob accepted: a PQXDH initial header is under 1,700 bytes
/// (two keys, ids, and a 1,568-byte KEM ciphertext); 64 KiB leaves room without letting a hostile
/// length field describe gigabytes.
pub const MAX_PREKEY_HEADER_LEN: usize = 65_536;

/// A normal ratchet message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalMessage {
    /// The sender's current ratchet public key.
    pub ratchet_key: PublicKey,
    /// PN: the number of messages in the sender's previous sending chain.
    pub previous_counter: u32,
    /// N: this message's number in the sender's current sending chain.
    pub counter: u32,
    /// The random salt the message's AES-256-GCM key and nonce were derived with.
    pub salt: [u8; SALT_LEN],
    /// The SPQR message of a triple-ratchet message (version 0x03); `None` for version 0x02.
    pub pq_message: Option<Vec<u8>>,
    /// The AES-256-GCM ciphertext followed by its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// A pre-key message: the opaque handshake header and the first ratchet message(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyMessage {
    /// The handshake layer's header (IK_A, EK_A, KEM ciphertext, prekey ids), opaque here.
    pub prekey_header: Vec<u8>,
    /// The embedded normal message.
    pub message: NormalMessage,
}

/// A parsed ratchet message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// Type 0x01.
    Normal(NormalMessage),
    /// Type 0x02.
    PreKey(PreKeyMessage),
}

/// A normal message's header: version, type, EncodeEC(ratchet key), PN, N, salt (SPEC.md section
/// 8.4); public so that tests elsewhere can build hostile messages byte for byte.
pub fn normal_header(
    ratchet_key: &PublicKey,
    previous_counter: u32,
    counter: u32,
    salt: &[u8; SALT_LEN],
) -> [u8; NORMAL_HEADER_LEN] {
    let mut out = [0u8; NORMAL_HEADER_LEN];
    let mut w = Writer::new(&mut out);
    w.put(&[WIRE_VERSION, TYPE_NORMAL]);
    w.put(&ratchet_key.encode());
    w.put(&previous_counter.to_be_bytes());
    w.put(&counter.to_be_bytes());
    w.put(salt);
    out
}

/// A triple-ratchet message's header: the classical header with version 0x03, then the SPQR
/// message with its u16be length (SPEC.md section 8.4). Messages longer than
/// [`MAX_PQ_MESSAGE_LEN`] are cut there (never produced by the SPQR layer).
pub fn triple_header(
    ratchet_key: &PublicKey,
    previous_counter: u32,
    counter: u32,
    salt: &[u8; SALT_LEN],
    pq_message: &[u8],
) -> Vec<u8> {
    let pq = pq_message.get(..MAX_PQ_MESSAGE_LEN).unwrap_or(pq_message);
    let mut out = Vec::with_capacity(NORMAL_HEADER_LEN + 2 + pq.len());
    out.extend_from_slice(&normal_header(ratchet_key, previous_counter, counter, salt));
    if let Some(version) = out.first_mut() {
        *version = WIRE_VERSION_TRIPLE;
    }
    // At most MAX_PQ_MESSAGE_LEN (1,024) bytes: fits in 16 bits.
    out.extend_from_slice(&u16::try_from(pq.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(pq);
    out
}

impl NormalMessage {
    /// The wire version of this message: 0x03 with an SPQR message, 0x02 without.
    pub fn version(&self) -> u8 {
        if self.pq_message.is_some() {
            WIRE_VERSION_TRIPLE
        } else {
            WIRE_VERSION
        }
    }

    /// The header bytes (everything before the ciphertext).
    pub fn header_bytes(&self) -> Vec<u8> {
        match &self.pq_message {
            None => normal_header(
                &self.ratchet_key,
                self.previous_counter,
                self.counter,
                &self.salt,
            )
            .to_vec(),
            Some(pq) => triple_header(
                &self.ratchet_key,
                self.previous_counter,
                self.counter,
                &self.salt,
                pq,
            ),
        }
    }

    /// The serialized message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NORMAL_HEADER_LEN + self.ciphertext.len());
        out.extend_from_slice(&self.header_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses a normal message (version and type included).
    pub fn parse(bytes: &[u8]) -> Result<Self, DecryptError> {
        Ok(MessageView::parse_normal(bytes)?.to_normal())
    }
}

/// A parsed message borrowing the wire bytes: what decryption needs, without copying the
/// ciphertext. [`WireMessage::parse`] is this plus owned copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MessageView<'a> {
    /// The pre-key header blob, for a pre-key message.
    pub(crate) prekey_header: Option<&'a [u8]>,
    /// The sender's current ratchet public key.
    pub(crate) ratchet_key: PublicKey,
    /// PN.
    pub(crate) previous_counter: u32,
    /// N.
    pub(crate) counter: u32,
    /// The per-message salt.
    pub(crate) salt: [u8; SALT_LEN],
    /// The wire version: [`WIRE_VERSION`] or [`WIRE_VERSION_TRIPLE`].
    pub(crate) version: u8,
    /// The SPQR message (version 0x03 only).
    pub(crate) pq_message: Option<&'a [u8]>,
    /// Every byte before the ciphertext (what the AEAD authenticates after the session's AD).
    pub(crate) authenticated: &'a [u8],
    /// The ciphertext followed by its tag.
    pub(crate) ciphertext: &'a [u8],
}

impl<'a> MessageView<'a> {
    /// Parses a normal or pre-key message, checking the version, the type and every length.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, DecryptError> {
        let mut r = Reader(bytes);
        let version = check_version(r.byte()?)?;
        match r.byte()? {
            TYPE_NORMAL => Self::parse_body(bytes, r.0, version),
            TYPE_PREKEY => {
                let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
                if len > MAX_PREKEY_HEADER_LEN {
                    return Err(DecryptError::Malformed("pre-key header too long"));
                }
                let header = r.take(len)?;
                let normal = Self::parse_normal(r.0)?;
                if normal.version != version {
                    return Err(DecryptError::Malformed(
                        "embedded message of another version than its pre-key message",
                    ));
                }
                Ok(Self {
                    prekey_header: Some(header),
                    authenticated: bytes
                        .get(..bytes.len().saturating_sub(normal.ciphertext.len()))
                        .ok_or(DecryptError::Malformed("truncated message"))?,
                    ..normal
                })
            }
            other => Err(DecryptError::UnknownType(other)),
        }
    }

    /// The normal message, with an owned copy of the ciphertext.
    fn to_normal(self) -> NormalMessage {
        NormalMessage {
            ratchet_key: self.ratchet_key,
            previous_counter: self.previous_counter,
            counter: self.counter,
            salt: self.salt,
            pq_message: self.pq_message.map(<[u8]>::to_vec),
            ciphertext: self.ciphertext.to_vec(),
        }
    }

    /// Parses a normal message (version and type included).
    fn parse_normal(bytes: &'a [u8]) -> Result<Self, DecryptError> {
        let mut r = Reader(bytes);
        let version = check_version(r.byte()?)?;
        match r.byte()? {
            TYPE_NORMAL => Self::parse_body(bytes, r.0, version),
            other => Err(DecryptError::UnknownType(other)),
        }
    }

    /// Parses `body`, what follows the version and type bytes of `whole`.
    fn parse_body(whole: &'a [u8], body: &'a [u8], version: u8) -> Result<Self, DecryptError> {
        let mut r = Reader(body);
        let key = r.take(ENCODED_EC_LEN)?;
        let ratchet_key = PublicKey::decode(key)
            .map_err(|_| DecryptError::Malformed("ratchet key is not a Curve25519 EncodeEC key"))?;
        let previous_counter = r.u32()?;
        let counter = r.u32()?;
        let salt: [u8; SALT_LEN] = r
            .take(SALT_LEN)?
            .try_into()
            .map_err(|_| DecryptError::Malformed("truncated message"))?;
        let pq_message = if version == WIRE_VERSION_TRIPLE {
            let len = usize::from(r.u16()?);
            if len == 0 || len > MAX_PQ_MESSAGE_LEN {
                return Err(DecryptError::Malformed("SPQR message length out of range"));
            }
            Some(r.take(len)?)
        } else {
            None
        };
        if r.0.len() < TAG_LEN {
            return Err(DecryptError::Malformed("ciphertext shorter than the tag"));
        }
        let authenticated = whole
            .get(..whole.len().saturating_sub(r.0.len()))
            .ok_or(DecryptError::Malformed("truncated message"))?;
        Ok(Self {
            prekey_header: None,
            ratchet_key,
            previous_counter,
            counter,
            salt,
            version,
            pq_message,
            authenticated,
            ciphertext: r.0,
        })
    }
}

impl PreKeyMessage {
    /// The bytes before the embedded normal message: version, type, length and header blob.
    pub fn prefix_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREKEY_PREFIX_LEN + self.prekey_header.len());
        out.extend_from_slice(&[self.message.version(), TYPE_PREKEY]);
        // Lengths above MAX_PREKEY_HEADER_LEN are refused by the session and by `parse`.
        let len = u32::try_from(self.prekey_header.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.prekey_header);
        out
    }

    /// The serialized message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.prefix_bytes();
        out.extend_from_slice(&self.message.to_bytes());
        out
    }
}

impl WireMessage {
    /// Parses a ratchet message, checking the version, the type and every length.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecryptError> {
        let view = MessageView::parse(bytes)?;
        let message = view.to_normal();
        Ok(match view.prekey_header {
            None => Self::Normal(message),
            Some(header) => Self::PreKey(PreKeyMessage {
                prekey_header: header.to_vec(),
                message,
            }),
        })
    }

    /// The serialized message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Normal(m) => m.to_bytes(),
            Self::PreKey(m) => m.to_bytes(),
        }
    }

    /// The embedded normal message.
    pub fn message(&self) -> &NormalMessage {
        match self {
            Self::Normal(m) => m,
            Self::PreKey(m) => &m.message,
        }
    }

    /// The pre-key header blob, for a pre-key message.
    pub fn prekey_header(&self) -> Option<&[u8]> {
        match self {
            Self::Normal(_) => None,
            Self::PreKey(m) => Some(&m.prekey_header),
        }
    }
}

fn check_version(version: u8) -> Result<u8, DecryptError> {
    if version == WIRE_VERSION || version == WIRE_VERSION_TRIPLE {
        Ok(version)
    } else {
        Err(DecryptError::UnknownVersion(version))
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecryptError> {
        if self.0.len() < n {
            return Err(DecryptError::Malformed("truncated message"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecryptError> {
        let (&first, rest) = self
            .0
            .split_first()
            .ok_or(DecryptError::Malformed("truncated message"))?;
        self.0 = rest;
        Ok(first)
    }

    fn u16(&mut self) -> Result<u16, DecryptError> {
        let bytes: [u8; 2] = self
            .take(2)?
            .try_into()
            .map_err(|_| DecryptError::Malformed("truncated message"))?;
        Ok(u16::from_be_bytes(bytes))
    }

    fn u32(&mut self) -> Result<u32, DecryptError> {
        let bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| DecryptError::Malformed("truncated message"))?;
        Ok(u32::from_be_bytes(bytes))
    }
}

/// Writes into a fixed buffer whose length the caller has computed.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NormalMessage {
        NormalMessage {
            ratchet_key: PublicKey::from_bytes([7; 32]),
            previous_counter: 0x0102_0304,
            counter: 5,
            salt: [0x3c; SALT_LEN],
            pq_message: None,
            ciphertext: vec![0xaa; 20],
        }
    }

    #[test]
    fn triple_layout_round_trip_and_limits() {
        let mut m = sample();
        m.pq_message = Some(vec![1, 1, 2, 0]);
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), NORMAL_HEADER_LEN + 2 + 4 + 20);
        assert_eq!(&bytes[..2], &[WIRE_VERSION_TRIPLE, TYPE_NORMAL]);
        assert_eq!(
            &bytes[NORMAL_HEADER_LEN..NORMAL_HEADER_LEN + 6],
            &[0, 4, 1, 1, 2, 0]
        );
        assert_eq!(NormalMessage::parse(&bytes).unwrap(), m);
        let pre = PreKeyMessage {
            prekey_header: vec![9; 7],
            message: m.clone(),
        };
        assert_eq!(pre.to_bytes()[0], WIRE_VERSION_TRIPLE);
        assert_eq!(
            WireMessage::parse(&pre.to_bytes()).unwrap(),
            WireMessage::PreKey(pre)
        );
        // An empty SPQR message, and one longer than the bound, are refused.
        let mut empty = bytes.clone();
        empty.splice(NORMAL_HEADER_LEN..NORMAL_HEADER_LEN + 6, [0, 0]);
        assert!(NormalMessage::parse(&empty).is_err());
        let mut long = bytes[..NORMAL_HEADER_LEN].to_vec();
        long.extend_from_slice(&1025u16.to_be_bytes());
        long.extend_from_slice(&[0; 1100]);
        assert!(NormalMessage::parse(&long).is_err());
        // A pre-key message may not embed a message of the other version.
        let mut mixed = PreKeyMessage {
            prekey_header: vec![9; 7],
            message: sample(),
        }
        .to_bytes();
        mixed[0] = WIRE_VERSION_TRIPLE;
        assert!(WireMessage::parse(&mixed).is_err());
    }

    #[test]
    fn normal_layout_and_round_trip() {
        let m = sample();
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), NORMAL_HEADER_LEN + 20);
        assert_eq!(&bytes[..3], &[0x02, 0x01, 0x05]);
        assert_eq!(&bytes[3..35], &[7; 32]);
        assert_eq!(&bytes[35..43], &[1, 2, 3, 4, 0, 0, 0, 5]);
        assert_eq!(&bytes[43..59], &[0x3c; 16]);
        assert_eq!(&bytes[59..], &[0xaa; 20]);
        assert_eq!(WireMessage::parse(&bytes), Ok(WireMessage::Normal(m)));
    }

    #[test]
    fn prekey_layout_and_round_trip() {
        let m = PreKeyMessage {
            prekey_header: b"hdr".to_vec(),
            message: sample(),
        };
        let bytes = m.to_bytes();
        assert_eq!(&bytes[..9], &[0x02, 0x02, 0, 0, 0, 3, b'h', b'd', b'r']);
        assert_eq!(&bytes[9..], &sample().to_bytes()[..]);
        let parsed = WireMessage::parse(&bytes).unwrap();
        assert_eq!(parsed.prekey_header(), Some(&b"hdr"[..]));
        assert_eq!(parsed.to_bytes(), bytes);

        // The borrowed view: everything before the ciphertext is authenticated.
        let view = MessageView::parse(&bytes).unwrap();
        assert_eq!(view.prekey_header, Some(&b"hdr"[..]));
        assert_eq!(view.ciphertext, &[0xaa; 20][..]);
        assert_eq!(view.authenticated, &bytes[..bytes.len() - 20]);
        let normal = sample().to_bytes();
        let view = MessageView::parse(&normal).unwrap();
        assert_eq!(view.authenticated, &normal[..NORMAL_HEADER_LEN]);
        assert_eq!(view.prekey_header, None);
    }

    #[test]
    fn errors_are_typed() {
        let bytes = sample().to_bytes();
        assert_eq!(
            WireMessage::parse(&[]),
            Err(DecryptError::Malformed("truncated message"))
        );
        let mut v = bytes.clone();
        v[0] = 0x01;
        assert_eq!(WireMessage::parse(&v), Err(DecryptError::UnknownVersion(1)));
        v[0] = 0x02;
        v[1] = 0x09;
        assert_eq!(WireMessage::parse(&v), Err(DecryptError::UnknownType(9)));
        v[1] = 0x01;
        v[2] = 0x06;
        assert!(matches!(
            WireMessage::parse(&v),
            Err(DecryptError::Malformed(_))
        ));
        assert!(matches!(
            WireMessage::parse(&bytes[..MIN_NORMAL_LEN - 1]),
            Err(DecryptError::Malformed(_))
        ));
        assert!(WireMessage::parse(&bytes[..MIN_NORMAL_LEN]).is_ok());
        // A pre-key length field pointing past the end, or above the cap.
        assert!(matches!(
            WireMessage::parse(&[2, 2, 0, 0, 0, 9, 1, 2]),
            Err(DecryptError::Malformed(_))
        ));
        assert_eq!(
            WireMessage::parse(&[2, 2, 0xff, 0xff, 0xff, 0xff]),
            Err(DecryptError::Malformed("pre-key header too long"))
        );
        // A pre-key message may not embed another pre-key message.
        let inner = PreKeyMessage {
            prekey_header: vec![],
            message: sample(),
        }
        .to_bytes();
        let mut nested = vec![2, 2, 0, 0, 0, 0];
        nested.extend_from_slice(&inner);
        assert_eq!(
            WireMessage::parse(&nested),
            Err(DecryptError::UnknownType(2))
        );
    }
}
