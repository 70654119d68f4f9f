#![forbid(unsafe_code)]
pub mod chain_key;
pub mod kat;
pub mod kem;
pub mod keys;
pub mod root_key;
mod secret;
pub mod xeddsa;
