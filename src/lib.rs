#![forbid(unsafe_code)]
pub mod bundle;
pub mod chain_key;
pub mod identity;
pub mod kat;
pub mod kem;
pub mod keys;
pub mod pqxdh;
pub mod prekey;
pub mod prekey_store;
pub mod root_key;
mod secret;
pub mod session_id;
pub mod xeddsa;
