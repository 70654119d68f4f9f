#![forbid(unsafe_code)]
pub mod kem;
pub mod keys;
mod secret;
pub mod xeddsa;
