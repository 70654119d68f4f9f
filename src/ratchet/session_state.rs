//! The saved form of a [`Session`] (SPEC.md section 8.7).
//!
//! ```text
//! "DR" || version 0x02 || flags || root key (32)
//! [flags & 0x02: our ratchet private key (32) || sending chain key (32) || u32be N]
//! [otherwise:    our ratchet public key (32)]
//! || u32be PN
//! [flags & 0x04: their ratchet key (32) || receiving chain key (32) || u32be next N]
//! || u8 P (<= 4) || P x their earlier ratchet keys (32)
//! || u32be length || associated data
//! [flags & 0x08: u32be length (<= 65,536) || pre-key header]
//! || u16be R || R runs of skipped keys: their ratchet key (32) || u16be C (>= 1)
//!    || C x (u32be N || message-key seed (32)), at most 2,000 keys in total, oldest first
//! ```
//! Version 0x03 (a triple-ratchet session) is the same followed by `u32be length || SPQR state`
//! (SPEC.md section 14.6). Classical sessions are still written as version 0x02.
//!
//! Flags: 0x01 a message has been decrypted; 0x02 the sending chain exists (otherwise the send
//! half of a DH ratchet step is deferred, which requires 0x04); 0x04 a receiving chain exists;
//! 0x08 pre-key messages are being sent. Other bits must be zero.
//!
//! Our ratchet private key is saved only with the sending chain it belongs to: once the send
//! half of a DH step is deferred it is never needed again (a responder's first ratchet key is its
//! signed prekey, which must not outlive the first decrypt). Version 0x01 saved the private key
//! unconditionally; loading one keeps it only when the sending chain exists, so the next save
//! drops it.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::primitives::keys::{KEY_LEN, KeyPair, PrivateKey, PublicKey};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::message::MAX_PREKEY_HEADER_LEN;
use crate::ratchet::message_key::MessageKeySeed;
use crate::ratchet::pq_ratchet::PqRatchet;
use crate::ratchet::root_key::RootKey;
use crate::ratchet::session::{
    MAX_RECEIVING_CHAINS, MAX_SKIPPED_KEYS, ReceivingChain, SendingChain, Session, SkippedKey,
};

/// First bytes of a saved session.
pub const STATE_MAGIC: [u8; 2] = *b"DR";

/// Version of the saved-session format written by [`Session::to_bytes`].
pub const STATE_VERSION: u8 = 0x02;

/// The earlier format (private ratchet key always saved), still read by [`Session::from_bytes`].
pub const STATE_VERSION_1: u8 = 0x01;

/// The format of a triple-ratchet session: version 0x02's fields, then the SPQR state.
pub const STATE_VERSION_TRIPLE: u8 = 0x03;

/// Largest saved SPQR state accepted inside a session (the SPQR layer's own bound).
#[cfg(feature = "spqr")]
const MAX_PQ_STATE_LEN: usize = crate::spqr::MAX_STATE_LEN;
#[cfg(not(feature = "spqr"))]
const MAX_PQ_STATE_LEN: usize = 0;

const FLAG_RECEIVED: u8 = 0x01;
const FLAG_SENDING: u8 = 0x02;
const FLAG_RECEIVING: u8 = 0x04;
const FLAG_PREKEY: u8 = 0x08;
const KNOWN_FLAGS: u8 = FLAG_RECEIVED | FLAG_SENDING | FLAG_RECEIVING | FLAG_PREKEY;

/// Bytes per stored skipped key inside a run.
const SKIPPED_ENTRY_LEN: usize = 4 + 32;

/// Why saved session bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes do not start with the `"DR"` magic.
    #[error("not a saved ratchet session")]
    BadMagic,
    /// The format version is not one we know.
    #[error("unsupported saved-session version 0x{0:02x}")]
    UnsupportedVersion(u8),
    /// The bytes end in the middle of a field.
    #[error("saved session is truncated")]
    Truncated,
    /// Bytes follow the last field.
    #[error("saved session has trailing bytes")]
    TrailingBytes,
    /// A field has a value the format does not allow.
    #[error("invalid saved session: {0}")]
    Invalid(&'static str),
}

impl Session {
    /// The saved form (a versioned binary format, in a buffer wiped on drop). Holds every secret
    /// of the session: protect it like a private key.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        // The SPQR state is serialized once; the buffer is sized up front so that no
        // reallocation leaves unwiped copies behind.
        let pq = self.pq.as_ref().map(PqRatchet::to_bytes);
        let pq_len = pq.as_ref().map_or(0, |pq| 4 + pq.len());
        let mut out = Zeroizing::new(Vec::with_capacity(self.classical_saved_len() + pq_len));
        let mut flags = 0;
        if self.received {
            flags |= FLAG_RECEIVED;
        }
        if self.sending.is_some() {
            flags |= FLAG_SENDING;
        }
        if self.receiving.is_some() {
            flags |= FLAG_RECEIVING;
        }
        if self.pending_prekey_header.is_some() {
            flags |= FLAG_PREKEY;
        }
        out.extend_from_slice(&STATE_MAGIC);
        out.push(if pq.is_some() {
            STATE_VERSION_TRIPLE
        } else {
            STATE_VERSION
        });
        out.push(flags);
        out.extend_from_slice(self.root_key.as_bytes());
        match &self.sending {
            Some(chain) => {
                out.extend_from_slice(chain.ratchet.private_key().as_bytes());
                out.extend_from_slice(chain.key.as_bytes());
                out.extend_from_slice(&chain.counter.to_be_bytes());
            }
            None => out.extend_from_slice(self.our_ratchet_key.as_bytes()),
        }
        out.extend_from_slice(&self.previous_counter.to_be_bytes());
        if let Some(chain) = &self.receiving {
            out.extend_from_slice(chain.their_key.as_bytes());
            out.extend_from_slice(chain.key.as_bytes());
            out.extend_from_slice(&chain.counter.to_be_bytes());
        }
        // At most MAX_RECEIVING_CHAINS - 1 (4) keys are ever kept.
        out.push(u8::try_from(self.previous_their_keys.len()).unwrap_or(u8::MAX));
        for key in &self.previous_their_keys {
            out.extend_from_slice(key.as_bytes());
        }
        put_len(&mut out, self.associated_data.len());
        out.extend_from_slice(&self.associated_data);
        if let Some(blob) = &self.pending_prekey_header {
            put_len(&mut out, blob.len());
            out.extend_from_slice(blob);
        }
        let runs = self.skipped_runs();
        // At most MAX_SKIPPED_KEYS (2,000) keys, hence runs, are ever kept.
        out.extend_from_slice(&u16::try_from(runs.len()).unwrap_or(u16::MAX).to_be_bytes());
        for run in runs {
            out.extend_from_slice(run.0.as_bytes());
            out.extend_from_slice(&u16::try_from(run.1.len()).unwrap_or(u16::MAX).to_be_bytes());
            for entry in run.1 {
                out.extend_from_slice(&entry.counter.to_be_bytes());
                out.extend_from_slice(entry.seed.as_bytes());
            }
        }
        if let Some(pq) = &pq {
            put_len(&mut out, pq.len());
            out.extend_from_slice(pq);
        }
        out
    }

    /// The length of [`Session::to_bytes`].
    pub fn saved_len(&self) -> usize {
        self.classical_saved_len() + self.pq.as_ref().map_or(0, |pq| 4 + pq.to_bytes().len())
    }

    /// The length of [`Session::to_bytes`] without the SPQR block.
    fn classical_saved_len(&self) -> usize {
        let runs = self.skipped_runs();
        4 + 2 * KEY_LEN
            + self.sending.as_ref().map_or(0, |_| KEY_LEN + 4)
            + 4
            + self.receiving.as_ref().map_or(0, |_| 2 * KEY_LEN + 4)
            + 1
            + KEY_LEN * self.previous_their_keys.len()
            + 4
            + self.associated_data.len()
            + self
                .pending_prekey_header
                .as_ref()
                .map_or(0, |b| 4 + b.len())
            + 2
            + runs.len() * (KEY_LEN + 2)
            + self.skipped.len() * SKIPPED_ENTRY_LEN
    }

    /// Consecutive skipped keys with the same ratchet key, in order.
    fn skipped_runs(&self) -> Vec<(PublicKey, Vec<&SkippedKey>)> {
        let mut runs: Vec<(PublicKey, Vec<&SkippedKey>)> = Vec::new();
        for entry in &self.skipped {
            match runs.last_mut() {
                Some((key, list)) if *key == entry.their_key => list.push(entry),
                _ => runs.push((entry.their_key, vec![entry])),
            }
        }
        runs
    }

    /// Restores a session saved by [`Session::to_bytes`], checking every length, count and flag.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader(bytes);
        if r.take(2)? != STATE_MAGIC {
            return Err(StateError::BadMagic);
        }
        let version = r.byte()?;
        if version != STATE_VERSION
            && version != STATE_VERSION_1
            && !(version == STATE_VERSION_TRIPLE && cfg!(feature = "spqr"))
        {
            return Err(StateError::UnsupportedVersion(version));
        }
        let flags = r.byte()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(StateError::Invalid("unknown flag bits"));
        }
        if flags & (FLAG_SENDING | FLAG_RECEIVING) == 0 {
            return Err(StateError::Invalid(
                "deferred sending step without a receiving chain",
            ));
        }
        let root_key = RootKey::from_bytes(r.array()?);
        let has_sending = flags & FLAG_SENDING != 0;
        let (our_ratchet_key, sending) = if has_sending || version == STATE_VERSION_1 {
            let ratchet = KeyPair::from_private(PrivateKey::from_bytes(r.array()?));
            let public = *ratchet.public_key();
            let sending = if has_sending {
                Some(SendingChain {
                    ratchet,
                    key: ChainKey::from_bytes(r.array()?),
                    counter: r.u32()?,
                })
            } else {
                // Version 1 without a sending chain: the private key is not needed; dropping
                // it here is the upgrade (it wipes itself).
                None
            };
            (public, sending)
        } else {
            (PublicKey::from_bytes(r.array()?), None)
        };
        let previous_counter = r.u32()?;
        let receiving = if flags & FLAG_RECEIVING != 0 {
            Some(ReceivingChain {
                their_key: PublicKey::from_bytes(r.array()?),
                key: ChainKey::from_bytes(r.array()?),
                counter: r.u32()?,
            })
        } else {
            None
        };
        let previous = usize::from(r.byte()?);
        if previous >= MAX_RECEIVING_CHAINS {
            return Err(StateError::Invalid("too many earlier receiving chains"));
        }
        let mut previous_their_keys = VecDeque::with_capacity(previous);
        for _ in 0..previous {
            previous_their_keys.push_back(PublicKey::from_bytes(r.array()?));
        }
        let ad_len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        let associated_data = r.take(ad_len)?.to_vec();
        let pending_prekey_header = if flags & FLAG_PREKEY != 0 {
            let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
            if len > MAX_PREKEY_HEADER_LEN {
                return Err(StateError::Invalid("pre-key header too long"));
            }
            Some(r.take(len)?.to_vec())
        } else {
            None
        };
        let runs = r.u16()?;
        let mut skipped = VecDeque::new();
        for _ in 0..runs {
            let their_key = PublicKey::from_bytes(r.array()?);
            let count = usize::from(r.u16()?);
            if count == 0 {
                return Err(StateError::Invalid("empty run of skipped keys"));
            }
            if skipped.len() + count > MAX_SKIPPED_KEYS {
                return Err(StateError::Invalid("too many skipped keys"));
            }
            for _ in 0..count {
                let counter = r.u32()?;
                let seed = MessageKeySeed::from_bytes(r.array()?);
                skipped.push_back(SkippedKey {
                    their_key,
                    counter,
                    seed,
                });
            }
        }
        let pq = if version == STATE_VERSION_TRIPLE {
            let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
            if len > MAX_PQ_STATE_LEN {
                return Err(StateError::Invalid("SPQR state too long"));
            }
            Some(PqRatchet::from_bytes(r.take(len)?).ok_or(StateError::Invalid("SPQR state"))?)
        } else {
            None
        };
        if !r.0.is_empty() {
            return Err(StateError::TrailingBytes);
        }
        Ok(Self {
            root_key,
            our_ratchet_key,
            sending,
            previous_counter,
            receiving,
            previous_their_keys,
            skipped,
            associated_data,
            pending_prekey_header,
            received: flags & FLAG_RECEIVED != 0,
            pq,
        })
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        if self.0.len() < n {
            return Err(StateError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, StateError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, StateError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, StateError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A fixed-size field. The caller wraps secret arrays into wiped types right away.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        self.take(N)?.try_into().map_err(|_| StateError::Truncated)
    }
}
