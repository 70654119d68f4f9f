//! The post-quantum half of the triple ratchet: the session's SPQR state, or nothing when the
//! `spqr` feature is off (then every session is a classical Double Ratchet).

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::ratchet::error::DecryptError;

/// Length of the key SPQR gives each message, which salts its message keys.
pub const PQ_KEY_LEN: usize = 32;

/// A session's SPQR state.
#[cfg(feature = "spqr")]
#[derive(Clone, Debug)]
pub(crate) struct PqRatchet(crate::spqr::SpqrState);

/// Without the `spqr` feature no session has a post-quantum ratchet: the type is empty.
#[cfg(not(feature = "spqr"))]
#[derive(Clone, Debug)]
pub(crate) enum PqRatchet {}

/// What the SPQR half adds to one outgoing message.
pub(crate) struct PqSend {
    pub(crate) next: PqRatchet,
    pub(crate) message: Vec<u8>,
    pub(crate) key: Zeroizing<[u8; PQ_KEY_LEN]>,
}

#[cfg(feature = "spqr")]
impl PqRatchet {
    /// The initial state: the initiator is SPQR's party A, the responder party B.
    pub(crate) fn new(auth_key: &[u8; PQ_KEY_LEN], initiator: bool) -> Self {
        let direction = if initiator {
            crate::spqr::Direction::AToB
        } else {
            crate::spqr::Direction::BToA
        };
        Self(crate::spqr::SpqrState::new(auth_key, direction))
    }

    /// The SPQR message and key for the next message, and the state after it.
    pub(crate) fn send<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Option<PqSend> {
        let (next, sent) = self.0.send(rng).ok()?;
        let key = sent.key?;
        Some(PqSend {
            next: Self(next),
            message: sent.message,
            key: Zeroizing::new(key.0),
        })
    }

    /// Takes in a received SPQR message: the state after it and the message's key.
    pub(crate) fn recv(
        &self,
        message: &[u8],
    ) -> Result<(Self, Zeroizing<[u8; PQ_KEY_LEN]>), DecryptError> {
        use crate::spqr::SpqrError;
        // Unauthenticated input: a used key here is not proof of a repeat (the Double Ratchet's
        // checks, which come first, say that), so every refusal but a too-far jump is SPQR's own.
        let (next, received) = self.0.recv(message).map_err(|e| match e {
            SpqrError::KeyJump { .. } => DecryptError::TooFarAhead,
            other => DecryptError::PostQuantum(other),
        })?;
        let key = received
            .key
            .ok_or(DecryptError::PostQuantum(SpqrError::MissingKey))?;
        Ok((Self(next), Zeroizing::new(key.0)))
    }

    /// The saved form.
    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.0.to_bytes()
    }

    /// Restores a saved state.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        crate::spqr::SpqrState::from_bytes(bytes).ok().map(Self)
    }

    /// The braid's current epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.0.epoch()
    }
}

#[cfg(not(feature = "spqr"))]
impl PqRatchet {
    pub(crate) fn send<R: CryptoRng + ?Sized>(&self, _rng: &mut R) -> Option<PqSend> {
        match *self {}
    }

    pub(crate) fn recv(
        &self,
        _message: &[u8],
    ) -> Result<(Self, Zeroizing<[u8; PQ_KEY_LEN]>), DecryptError> {
        match *self {}
    }

    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        match *self {}
    }

    pub(crate) fn from_bytes(_bytes: &[u8]) -> Option<Self> {
        None
    }

    pub(crate) fn epoch(&self) -> u64 {
        match *self {}
    }
}
