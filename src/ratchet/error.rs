//! Why a message could not be decrypted or encrypted: one enum each, every variant a distinct
//! cause, the session unchanged after each.

/// Why a message could not be decrypted. The session is unchanged after every error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The AEAD tag did not verify: the message was modified, or is not for this session.
    #[error("message authentication failed")]
    InvalidTag,
    /// The message key is gone: the message was already decrypted, or its key was evicted.
    #[error("message already decrypted or its key is no longer stored")]
    Duplicate,
    /// Decrypting would skip more than [`MAX_MESSAGE_GAP`](crate::ratchet::session::MAX_MESSAGE_GAP) message keys in one chain.
    #[error("message is too far ahead of the receiving chain")]
    TooFarAhead,
    /// The message bytes do not follow the wire format.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The version byte is not one we know.
    #[error("unknown message version 0x{0:02x}")]
    UnknownVersion(u8),
    /// The type byte is not one we know.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// The sender's ratchet key has small order: the DH output would be all zeros.
    #[error("the sender's ratchet key is non-contributory (small order)")]
    NonContributory,
    /// A new ratchet key arrived while we have not sent on our latest one: the peer cannot have
    /// made it honestly (it is forged, or the peer restored a state older than a DH step).
    #[error("unexpected new ratchet key: the peer has not yet seen our latest one")]
    UnexpectedRatchetKey,
    /// The message's ratchet version does not match the session's: a classical (0x02) message
    /// for a triple-ratchet session or the reverse. A triple-ratchet message cannot be turned
    /// into a classical one: both the version byte and the SPQR message are authenticated.
    #[error("message of ratchet version 0x{0:02x} does not match the session")]
    VersionMismatch(u8),
    /// The SPQR message was refused before the AEAD was tried.
    #[cfg(feature = "spqr")]
    #[error("post-quantum ratchet: {0}")]
    PostQuantum(crate::spqr::SpqrError),
}

/// Why a message could not be encrypted. The session is unchanged after every error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The peer's ratchet key gives an all-zero DH output.
    #[error("the peer's ratchet key is non-contributory (small order)")]
    NonContributory,
    /// The sending chain has reached message number 2^32 - 1.
    #[error("the sending chain is exhausted")]
    ChainExhausted,
    /// The pre-key header is longer than [`MAX_PREKEY_HEADER_LEN`](crate::ratchet::message::MAX_PREKEY_HEADER_LEN).
    #[error("pre-key header of {0} bytes is too long")]
    PreKeyHeaderTooLong(usize),
    /// The session state is inconsistent (a deferred sending step without a receiving chain).
    #[error("session state is inconsistent")]
    InvalidState,
    /// The post-quantum ratchet could not produce this message's key (its chain is exhausted).
    #[error("the post-quantum ratchet cannot send")]
    PostQuantum,
}
