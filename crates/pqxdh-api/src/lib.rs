//! # pqxdh-api
//!
//! The wire protocol of `pqxdh-server` (SPEC.md section 12), shared by the server and its
//! clients: [`wire`] holds the JSON bodies of API version 1, [`signing`] the bytes a request
//! signature covers and the headers that carry it.
//!
//! ```
//! use pqxdh::{IdentityKeyPair, KemType, PreKeyStore};
//! use pqxdh_api::signing::{HEADER_SIGNATURE, sign_request};
//! use pqxdh_api::wire::RegisterRequest;
//!
//! let mut rng = rand::rng();
//! let store = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), KemType::MlKem1024, &mut rng)?;
//! let body = serde_json::to_vec(&RegisterRequest::from_store("alice", &store)?)?;
//! let headers = sign_request(store.identity(), "alice", "POST", "/v1/accounts", &body, 1_764_000_000_000, &mut rng);
//! assert!(headers.iter().any(|(name, value)| *name == HEADER_SIGNATURE && value.len() == 128));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod signing;
pub mod time;
pub mod wire;
