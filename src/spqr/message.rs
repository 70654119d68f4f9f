//! The SPQR message: what rides on every ratchet message (ML-KEM Braid V1 wire form, as
//! `spqr` 1.5.3 serializes it).
//!
//! ```text
//! version u8 = 1 || epoch varint || counter varint || type u8 || [chunk index varint || 32 bytes]
//! ```
//!
//! Varints are LEB128 (7 bits a byte, low first). Types: 0 none, 1 header chunk, 2 encapsulation
//! key chunk, 3 encapsulation key chunk with ct1 acknowledgement, 4 ct1 acknowledgement, 5 ct1
//! chunk, 6 ct2 chunk; only 1, 2, 3, 5 and 6 carry a chunk. Bytes after the message are ignored
//! (room for later versions).

use super::erasure::{CHUNK_DATA_LEN, Chunk};
use super::{Epoch, SpqrError};

/// The protocol version byte of V1 messages.
pub const VERSION_V1: u8 = 1;

/// Longest LEB128 encoding of a u64.
const MAX_VARINT_LEN: usize = 10;

/// What a message carries for the braid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Nothing this time.
    None,
    /// A chunk of the encapsulation-key header and its MAC.
    Header(Chunk),
    /// A chunk of the encapsulation key vector.
    EncapsulationKey(Chunk),
    /// A chunk of the encapsulation key vector, and "ct1 received".
    EncapsulationKeyCt1Ack(Chunk),
    /// "ct1 received" (the encapsulation key is fully sent).
    Ct1Ack,
    /// A chunk of ct1.
    Ct1(Chunk),
    /// A chunk of ct2 and its MAC.
    Ct2(Chunk),
}

impl Payload {
    fn type_byte(&self) -> u8 {
        match self {
            Self::None => 0,
            Self::Header(_) => 1,
            Self::EncapsulationKey(_) => 2,
            Self::EncapsulationKeyCt1Ack(_) => 3,
            Self::Ct1Ack => 4,
            Self::Ct1(_) => 5,
            Self::Ct2(_) => 6,
        }
    }

    fn chunk(&self) -> Option<&Chunk> {
        match self {
            Self::Header(c)
            | Self::EncapsulationKey(c)
            | Self::EncapsulationKeyCt1Ack(c)
            | Self::Ct1(c)
            | Self::Ct2(c) => Some(c),
            Self::None | Self::Ct1Ack => None,
        }
    }
}

/// A decoded V1 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The sender's braid epoch (at least 1).
    pub epoch: Epoch,
    /// The sender's chain counter in epoch `epoch - 1`.
    pub counter: u32,
    /// The braid payload.
    pub payload: Payload,
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a minimal LEB128 varint: overlong forms and values above 64 bits are refused.
fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, SpqrError> {
    let mut value = 0u64;
    for i in 0..MAX_VARINT_LEN {
        let byte = *bytes.get(*at + i).ok_or(SpqrError::MessageDecode)?;
        let bits = u64::from(byte & 0x7F);
        if i == MAX_VARINT_LEN - 1 && bits > 1 {
            return Err(SpqrError::MessageDecode);
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(SpqrError::MessageDecode);
            }
            *at += i + 1;
            return Ok(value);
        }
    }
    Err(SpqrError::MessageDecode)
}

impl Message {
    /// The wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.push(VERSION_V1);
        put_varint(self.epoch, &mut out);
        put_varint(u64::from(self.counter), &mut out);
        out.push(self.payload.type_byte());
        if let Some(chunk) = self.payload.chunk() {
            put_varint(u64::from(chunk.index), &mut out);
            out.extend_from_slice(&chunk.data);
        }
        out
    }

    /// Parses a V1 message (the caller has checked the version byte).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpqrError> {
        if bytes.first() != Some(&VERSION_V1) {
            return Err(SpqrError::MessageDecode);
        }
        let mut at = 1;
        let epoch = get_varint(bytes, &mut at)?;
        if epoch == 0 {
            return Err(SpqrError::MessageDecode);
        }
        let counter =
            u32::try_from(get_varint(bytes, &mut at)?).map_err(|_| SpqrError::MessageDecode)?;
        let kind = *bytes.get(at).ok_or(SpqrError::MessageDecode)?;
        at += 1;
        let mut chunk = || -> Result<Chunk, SpqrError> {
            let index =
                u16::try_from(get_varint(bytes, &mut at)?).map_err(|_| SpqrError::MessageDecode)?;
            let data: [u8; CHUNK_DATA_LEN] = bytes
                .get(at..at + CHUNK_DATA_LEN)
                .and_then(|d| d.try_into().ok())
                .ok_or(SpqrError::MessageDecode)?;
            at += CHUNK_DATA_LEN;
            Ok(Chunk { index, data })
        };
        let payload = match kind {
            0 => Payload::None,
            1 => Payload::Header(chunk()?),
            2 => Payload::EncapsulationKey(chunk()?),
            3 => Payload::EncapsulationKeyCt1Ack(chunk()?),
            4 => Payload::Ct1Ack,
            5 => Payload::Ct1(chunk()?),
            6 => Payload::Ct2(chunk()?),
            _ => return Err(SpqrError::MessageDecode),
        };
        Ok(Self {
            epoch,
            counter,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn varints_are_leb128_and_minimal() {
        let mut v = Vec::new();
        put_varint(0x012C, &mut v);
        assert_eq!(v, [0xAC, 0x02]);
        for x in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut v = Vec::new();
            put_varint(x, &mut v);
            let mut at = 0;
            assert_eq!(get_varint(&v, &mut at).unwrap(), x);
            assert_eq!(at, v.len());
        }
        let mut at = 0;
        assert!(get_varint(&[0x80, 0x00], &mut at).is_err());
        assert!(get_varint(&[0xFF; 10], &mut 0).is_err());
        assert!(get_varint(&[0x80], &mut 0).is_err());
    }

    #[test]
    fn messages_round_trip_and_allow_trailing_bytes() {
        let chunk = Chunk {
            index: 300,
            data: [7; 32],
        };
        for payload in [
            Payload::None,
            Payload::Header(chunk),
            Payload::EncapsulationKey(chunk),
            Payload::EncapsulationKeyCt1Ack(chunk),
            Payload::Ct1Ack,
            Payload::Ct1(chunk),
            Payload::Ct2(chunk),
        ] {
            let m = Message {
                epoch: 5,
                counter: 200,
                payload,
            };
            let mut bytes = m.to_bytes();
            assert_eq!(Message::from_bytes(&bytes).unwrap(), m);
            bytes.push(0xEE);
            assert_eq!(Message::from_bytes(&bytes).unwrap(), m);
        }
        // Epoch 1, counter 2, a header chunk at index 0.
        let m = Message {
            epoch: 1,
            counter: 2,
            payload: Payload::Header(Chunk {
                index: 0,
                data: [0xAB; 32],
            }),
        };
        let mut expected = vec![1, 1, 2, 1, 0];
        expected.extend_from_slice(&[0xAB; 32]);
        assert_eq!(m.to_bytes(), expected);
    }

    #[test]
    fn malformed_messages_are_refused() {
        for bad in [
            &[][..],
            &[2, 1, 1, 0],
            &[1, 0, 1, 0],
            &[1, 1, 1],
            &[1, 1, 1, 7],
            &[1, 1, 1, 1, 0, 1, 2],
            &[1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0],
        ] {
            assert_eq!(
                Message::from_bytes(bad),
                Err(SpqrError::MessageDecode),
                "{bad:?}"
            );
        }
    }
}
