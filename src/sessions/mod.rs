//! The sessions layer: Double Ratchet sessions started from handshakes, and the storage traits
//! an application implements to keep prekeys, replay records and sessions.

pub mod establish;
pub mod store;
