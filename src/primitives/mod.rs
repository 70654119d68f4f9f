//! The primitives layer: X25519 keys and Diffie-Hellman, XEdDSA signatures, the two KEMs
//! (ML-KEM-1024 and Kyber1024), and the byte-secret containers that wipe themselves.

pub(crate) mod curve;
pub mod kem;
pub mod keys;
pub(crate) mod secret;
pub mod xeddsa;
