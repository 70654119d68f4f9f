//! SPQR, the Sparse Post-Quantum Ratchet: the ML-KEM Braid and its symmetric chain.
//!
//! Runs beside the Double Ratchet (the "triple ratchet"): every message carries a small SPQR
//! message, and every few dozen messages in each direction the parties complete an ML-KEM-768
//! exchange whose secret starts a new epoch of per-message keys. A quantum attacker who learns
//! a session's state is shut out again once an epoch completes (post-compromise security),
//! which the X25519 steps of the Double Ratchet cannot give.
//!
//! The interface is the reference one (`spqr` 1.5.3, protocol V1): [`SpqrState::new`] from the
//! auth key and the direction, [`SpqrState::send`] returns the message to attach and the message
//! key, [`SpqrState::recv`] takes a message and returns its key; states serialize. Messages are
//! interoperable with Signal's implementation; the saved state is our own format (SPEC.md
//! section 14).
//!
//! ```
//! use pqxdh::spqr::{Direction, SpqrState};
//!
//! let mut rng = rand::rng();
//! let auth_key = [7u8; 32]; // from PQXDH: bytes 64..96 of its HKDF output
//! let mut alice = SpqrState::new(&auth_key, Direction::AToB);
//! let mut bob = SpqrState::new(&auth_key, Direction::BToA);
//! for _ in 0..200 {
//!     let (next, sent) = alice.send(&mut rng)?;
//!     alice = next;
//!     let (next, received) = bob.recv(&sent.message)?;
//!     bob = next;
//!     assert_eq!(received.key, sent.key);
//!     let (next, sent) = bob.send(&mut rng)?;
//!     bob = next;
//!     let (next, received) = alice.recv(&sent.message)?;
//!     alice = next;
//!     assert_eq!(received.key, sent.key);
//! }
//! assert!(alice.epoch() > 2, "epochs completed: {}", alice.epoch());
//! # Ok::<(), pqxdh::spqr::SpqrError>(())
//! ```

pub mod authenticator;
pub mod braid;
pub mod chain;
mod codec;
pub mod erasure;
pub mod gf16;
pub mod kem;
pub mod message;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

pub use braid::EpochSecret;
pub use chain::{ChainKey, ChainParams};

use braid::Braid;
use chain::Chain;
use codec::{Reader, Writer};
use message::Message;

/// A braid epoch number; epoch 1 is the first ML-KEM exchange, epoch 0 the auth key's chain.
pub type Epoch = u64;

/// Version byte of our saved SPQR state.
pub const STATE_VERSION: u8 = 1;

/// Largest saved state accepted (the decapsulation key, the encapsulation state, the pieces in
/// flight, and at most [`chain::MAX_OUT_OF_ORDER_KEYS`] skipped keys per live chain fit well
/// below it).
pub const MAX_STATE_LEN: usize = 1 << 20;

/// Who sends first: the session's initiator is A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The initiator (Signal's `A2B`).
    AToB,
    /// The responder (Signal's `B2A`).
    BToA,
}

impl Direction {
    fn to_byte(self) -> u8 {
        match self {
            Self::AToB => 0,
            Self::BToA => 1,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::AToB),
            1 => Some(Self::BToA),
            _ => None,
        }
    }
}

/// Errors of the SPQR layer. A failed `send` or `recv` returns no new state: the old one is
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpqrError {
    /// The message is not a well-formed V1 message.
    #[error("malformed SPQR message")]
    MessageDecode,
    /// The message is of an older protocol version than the session requires (V1): a
    /// downgrade, or a peer without SPQR.
    #[error("SPQR message below the session's minimum version")]
    VersionTooLow,
    /// The saved state is malformed.
    #[error("malformed SPQR state")]
    StateDecode,
    /// A header or ciphertext MAC failed: the chunks were not made with this session's keys.
    #[error("SPQR MAC verification failed")]
    MacVerifyFailed,
    /// The encapsulation key received does not match the authenticated header.
    #[error("SPQR encapsulation key does not match its header")]
    KeyDoesNotMatchHeader,
    /// The message's epoch is not one this state can take.
    #[error("SPQR epoch {0} out of range")]
    EpochOutOfRange(Epoch),
    /// The message's counter is further ahead of its chain than [`ChainParams::max_jump`].
    #[error("SPQR key jump from {counter} to {at}")]
    KeyJump {
        /// The chain's counter.
        counter: u32,
        /// The counter asked for.
        at: u32,
    },
    /// The key was dropped: too far behind its chain.
    #[error("SPQR key {0} trimmed")]
    KeyTrimmed(u32),
    /// The key was already used (a replayed message).
    #[error("SPQR key {0} already used")]
    KeyAlreadyUsed(u32),
    /// A sending epoch before the current one was asked for.
    #[error("SPQR send epoch decreased from {from} to {to}")]
    SendEpochDecreased {
        /// The current sending epoch.
        from: Epoch,
        /// The epoch asked for.
        to: Epoch,
    },
    /// A chain's sending key was asked for after the chain was erased.
    #[error("SPQR chain erased")]
    ChainErased,
    /// A chain's 32-bit counter is exhausted.
    #[error("SPQR chain exhausted")]
    ChainExhausted,
    /// The message carries no key where one is required.
    #[error("SPQR message carries no key")]
    MissingKey,
    /// An internal size invariant failed (never expected).
    #[error("SPQR internal error")]
    Internal,
}

/// What [`SpqrState::send`] returns besides the new state.
#[derive(Debug, PartialEq, Eq)]
pub struct Sent {
    /// The SPQR message to attach to the ratchet message.
    pub message: Vec<u8>,
    /// The key that salts this message's keys.
    pub key: Option<ChainKey>,
    /// The epoch secret this send completed, if any (already mixed into the chain; exposed for
    /// known-answer transcripts).
    pub epoch_secret: Option<EpochSecret>,
}

/// What [`SpqrState::recv`] returns besides the new state.
#[derive(Debug, PartialEq, Eq)]
pub struct Received {
    /// The key that salts this message's keys.
    pub key: Option<ChainKey>,
    /// The epoch secret this message completed, if any.
    pub epoch_secret: Option<EpochSecret>,
}

/// One party's SPQR state: the braid and the chain.
#[derive(Clone, Debug)]
pub struct SpqrState {
    direction: Direction,
    braid: Braid,
    chain: Chain,
}

impl SpqrState {
    /// The initial state of V1 with the default chain limits, from the 32-byte auth key that
    /// both parties share (PQXDH's bytes 64..96) and this party's direction.
    pub fn new(auth_key: &[u8], direction: Direction) -> Self {
        Self::with_params(auth_key, direction, ChainParams::default())
    }

    /// [`SpqrState::new`] with explicit chain limits.
    pub fn with_params(auth_key: &[u8], direction: Direction, params: ChainParams) -> Self {
        let braid = match direction {
            Direction::AToB => Braid::new_a(auth_key),
            Direction::BToA => Braid::new_b(auth_key),
        };
        Self {
            direction,
            braid,
            chain: Chain::new(auth_key, direction, params),
        }
    }

    /// The braid's current epoch.
    pub fn epoch(&self) -> Epoch {
        self.braid.epoch()
    }

    /// The chain's latest epoch with keys.
    pub fn key_epoch(&self) -> Epoch {
        self.chain.current_epoch()
    }

    /// The next message: the new state, the SPQR message, and its key.
    pub fn send<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<(Self, Sent), SpqrError> {
        let mut next = self.clone();
        let epoch = next.braid.epoch();
        let (payload, secret) = next.braid.send(rng)?;
        if let Some(s) = &secret {
            next.chain.add_epoch(s.epoch, &*s.secret)?;
        }
        let key_epoch = epoch.checked_sub(1).ok_or(SpqrError::Internal)?;
        let (counter, key) = next.chain.send_key(key_epoch)?;
        let message = Message {
            epoch,
            counter,
            payload,
        }
        .to_bytes();
        Ok((
            next,
            Sent {
                message,
                key: Some(key),
                epoch_secret: secret,
            },
        ))
    }

    /// Takes in a received SPQR message: the new state and the message's key. A message of a
    /// later protocol version than V1 is ignored (no key, state unchanged), as the reference
    /// does, so that a future version can negotiate down.
    pub fn recv(&self, message: &[u8]) -> Result<(Self, Received), SpqrError> {
        match message.first() {
            None | Some(0) => return Err(SpqrError::VersionTooLow),
            Some(&message::VERSION_V1) => {}
            Some(_) => {
                let nothing = Received {
                    key: None,
                    epoch_secret: None,
                };
                return Ok((self.clone(), nothing));
            }
        }
        let msg = Message::from_bytes(message)?;
        let mut next = self.clone();
        let epoch_secret = next.braid.recv(msg.epoch, &msg.payload)?;
        if let Some(s) = &epoch_secret {
            next.chain.add_epoch(s.epoch, &*s.secret)?;
        }
        let key_epoch = msg.epoch.checked_sub(1).ok_or(SpqrError::MessageDecode)?;
        let key = if key_epoch == 0 && msg.counter == 0 {
            // A sender without keys (the reference's pre-negotiation V0 fallback).
            None
        } else {
            Some(next.chain.recv_key(key_epoch, msg.counter)?)
        };
        Ok((next, Received { key, epoch_secret }))
    }

    /// The saved state: version, direction, braid, chain. Holds secrets: store it like a key.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.u8(STATE_VERSION);
        w.u8(self.direction.to_byte());
        self.braid.write(&mut w);
        self.chain.write(&mut w);
        w.finish()
    }

    /// Restores a state saved by [`SpqrState::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpqrError> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(SpqrError::StateDecode);
        }
        let mut r = Reader::new(bytes);
        if r.u8() != Some(STATE_VERSION) {
            return Err(SpqrError::StateDecode);
        }
        let direction = r
            .u8()
            .and_then(Direction::from_byte)
            .ok_or(SpqrError::StateDecode)?;
        let braid = Braid::read(&mut r).ok_or(SpqrError::StateDecode)?;
        let chain = Chain::read(&mut r).ok_or(SpqrError::StateDecode)?;
        if !r.is_empty() {
            return Err(SpqrError::StateDecode);
        }
        Ok(Self {
            direction,
            braid,
            chain,
        })
    }
}
