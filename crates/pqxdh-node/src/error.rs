//! The node's error replies: Maelstrom error bodies `{"type": "error", "in_reply_to", "code",
//! "text"}` with Maelstrom's codes for protocol errors and ours (1000 and up) for E2EE failures.

/// Error codes of the node's error replies (README.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Maelstrom 10 `not-supported`: an unknown message type.
    NotSupported,
    /// Maelstrom 12 `malformed-request`: not JSON, not an object, missing or mistyped fields,
    /// a line over the size limit.
    MalformedRequest,
    /// 1000: a key or bundle is invalid (bad encoding, bad signature, failed KEM key check).
    BadKey,
    /// 1001: a message failed authentication (wrong key, tampered bytes).
    AuthenticationFailed,
    /// 1002: a message is further ahead in its chain than the skip limit allows.
    TooFarAhead,
    /// 1003: a message was already decrypted (replay), or its key is gone.
    Duplicate,
    /// 1004: a given key differs from the directory's key for that party.
    KeyMismatch,
    /// 1005: there is no session with that peer.
    NoSession,
    /// 1006: the wire message is malformed (lengths, version, type, base64, hex).
    MalformedMessage,
    /// 1007: the party is unknown to the directory.
    UnknownParty,
    /// 1008: the handshake failed (unknown or used prekeys, KEM mismatch, small-order keys).
    HandshakeFailed,
    /// 1009: the request is valid but not allowed (for example, a party messaging itself).
    NotAllowed,
    /// 1010: a pre-key message that already established a session was delivered again.
    Replay,
    /// 1011: a node limit is reached (parties, peers of a party, sessions, one-time prekeys).
    LimitReached,
    /// 1012: the request's `src` is an external party, whose private keys the node does not hold.
    ExternalParty,
}

impl ErrorCode {
    /// The numeric code.
    pub const fn code(self) -> u32 {
        match self {
            Self::NotSupported => 10,
            Self::MalformedRequest => 12,
            Self::BadKey => 1000,
            Self::AuthenticationFailed => 1001,
            Self::TooFarAhead => 1002,
            Self::Duplicate => 1003,
            Self::KeyMismatch => 1004,
            Self::NoSession => 1005,
            Self::MalformedMessage => 1006,
            Self::UnknownParty => 1007,
            Self::HandshakeFailed => 1008,
            Self::NotAllowed => 1009,
            Self::Replay => 1010,
            Self::LimitReached => 1011,
            Self::ExternalParty => 1012,
        }
    }
}

/// An error to report to the requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    /// The code.
    pub code: ErrorCode,
    /// A one-line human-readable explanation.
    pub text: String,
}

impl NodeError {
    /// An error with a code and text.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }

    /// A malformed-request error.
    pub fn malformed(text: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest, text)
    }
}
