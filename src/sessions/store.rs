//! Storage of sessions, as a trait the application implements (libsignal's `SessionStore`),
//! and the in-memory implementation. Sessions are kept in their saved form (SPEC.md section
//! 8.7), so that what a store holds is exactly what survives a restart.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::handshake::error::StoreError;
use crate::ratchet::Session;

/// Where sessions live, by the peer's address (a name the application chooses).
pub trait SessionStore {
    /// The session with `peer`, if one is stored.
    fn load_session(&self, peer: &str) -> Result<Option<Session>, StoreError>;
    /// Stores (or replaces) the session with `peer`.
    fn store_session(&mut self, peer: &str, session: &Session) -> Result<(), StoreError>;
}

/// Sessions in memory, in their saved form (wiped on drop).
#[derive(Default)]
pub struct MemorySessionStore {
    sessions: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

impl core::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("peers", &self.sessions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many peers have a session.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

impl SessionStore for MemorySessionStore {
    fn load_session(&self, peer: &str) -> Result<Option<Session>, StoreError> {
        self.sessions
            .get(peer)
            .map(|bytes| Session::from_bytes(bytes))
            .transpose()
            .map_err(|e| StoreError(format!("session with {peer}: {e}")))
    }

    fn store_session(&mut self, peer: &str, session: &Session) -> Result<(), StoreError> {
        self.sessions.insert(peer.to_owned(), session.to_bytes());
        Ok(())
    }
}
