//! # pqxdh-client
//!
//! Talks to a `pqxdh-server` (SPEC.md section 12) for one account: [`ServerClient`] signs every
//! request with the account's identity key, checks every bundle it claims with the core's
//! bundle checks, and streams attachments both ways.
//!
//! ```no_run
//! use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyStore};
//! use pqxdh_client::ServerClient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = rand::rng();
//! let identity = IdentityKeyPair::generate(&mut rng);
//! let store = PreKeyStore::generate(identity.clone(), KemType::MlKem1024, &mut rng)?;
//! let alice = ServerClient::new("http://127.0.0.1:8380", "alice", identity)?;
//! alice.register(&store).await?;
//! let bundle = alice.bundle("bob").await?; // verified
//! let mut sent = pqxdh::initiate(alice.identity(), &bundle, Backend::default(), &mut rng)?;
//! let wire = sent.session.encrypt(b"hello bob", &mut rng)?;
//! alice.send("bob", &wire).await?;
//! # Ok(()) }
//! ```

mod error;
mod server_client;

pub use error::ClientError;
pub use server_client::{ReceivedEnvelope, ServerClient};
