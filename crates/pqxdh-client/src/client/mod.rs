//! The durable client: one account on one server, its state in a [`Store`].
//!
//! Crash safety (SPEC.md section 13.4) comes from the order of writes:
//! - sending: the session state after `encrypt` is committed with the outgoing envelope before
//!   anything leaves the process; delivery then sends committed envelopes in order and marks
//!   each delivered. A crash before the commit sends nothing; after it, the same envelope is sent
//!   again (the recipient drops the repeat as a duplicate). No plaintext is ever sealed twice
//!   under one message key: every encryption that leaves the process was committed first.
//! - receiving: an envelope is decrypted, and the new session state, the consumed prekeys and
//!   the plaintext are committed together; only then is the envelope acknowledged. A repeat
//!   (the acknowledgement was lost) is recognized by its envelope id and acknowledged again.

mod bundles;
mod receive;
mod send;
mod share;
mod trust;
mod upkeep;

use std::path::Path;

use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind};
use pqxdh::{IdentityKeyPair, KemType, PreKeyStore, PublicKey};
use pqxdh_api::signing::{now_ms, valid_name};

use crate::error::{ClientError, Error};
use crate::server_client::ServerClient;
use crate::store::messages::{IncomingMessage, OutgoingMessage};
use crate::store::{self, Store, StoreProtection, keys, meta_set, meta_set_u32, meta_text};

pub use receive::Received;
pub use send::Delivery;
pub use share::SharedFile;

pub use trust::TrustReport;
pub use upkeep::UpkeepReport;

/// One-time EC and PQ prekeys made at a time (Signal uploads batches of 100).
pub const ONE_TIME_PREKEY_BATCH: u32 = 100;
/// Replenish one-time prekeys when the server holds fewer than this many (Signal refills below
/// 10).
pub const REPLENISH_BELOW: u64 = 10;
/// One-time prekeys of each kind kept locally: keys claimed but never used accumulate, and the
/// oldest beyond this bound are deleted (below the identity file's bound of 256).
pub const MAX_LOCAL_ONE_TIME_PREKEYS: usize = 200;
/// Age at which the signed and last-resort PQ prekeys are rotated (Signal rotates every two
/// days).
pub const PREKEY_ROTATION_MS: u64 = 2 * 24 * 60 * 60 * 1000;
/// How long retired signed and last-resort prekeys are kept for delayed pre-key messages
/// (the core's grace period).
pub const RETIRED_PREKEY_RETENTION_SECS: u64 =
    pqxdh::handshake::prekey_store::RETIRED_PREKEY_RETENTION;

/// Largest envelope the server takes by default (libsignal's message limit; SPEC.md 12.5): a
/// longer message is refused before it is committed, so it never blocks the queue.
pub const MAX_ENVELOPE_BODY: usize = 256 * 1024;

/// What a new account is made of.
#[derive(Clone, Debug)]
pub struct AccountOptions {
    /// The account name.
    pub name: String,
    /// The server's base URL (`http://host:port`).
    pub server: String,
    /// The KEM of the PQ prekeys.
    pub kem: KemType,
    /// One-time EC and PQ prekeys in the first upload and in every replenishment.
    pub one_time_prekeys: u32,
}

impl AccountOptions {
    /// Defaults: ML-KEM-1024, [`ONE_TIME_PREKEY_BATCH`] one-time prekeys.
    pub fn new(name: &str, server: &str) -> Self {
        Self {
            name: name.to_owned(),
            server: server.to_owned(),
            kem: KemType::MlKem1024,
            one_time_prekeys: ONE_TIME_PREKEY_BATCH,
        }
    }
}

/// The account's client: a store and the server it talks to.
#[derive(Debug)]
pub struct Client {
    store: Store,
    server: ServerClient,
    identity: IdentityKeyPair,
    server_url: String,
    batch: u32,
    /// Signed material of claimed bundles that verified: in memory only (see `bundles`).
    bundles: bundles::BundleCache,
}

/// A fresh random id (128 bits, hex) for an outgoing message.
fn random_id() -> String {
    use rand::RngExt;
    let mut id = [0u8; 16];
    rand::rng().fill(&mut id[..]);
    hex::encode(id)
}

/// Makes `count` one-time EC and PQ prekeys with ids from `next_ec` and `next_pq`.
fn one_time_batch(
    identity: &IdentityKeyPair,
    kem: KemType,
    next_ec: u32,
    next_pq: u32,
    count: u32,
) -> Result<(Vec<OneTimePreKey>, Vec<PqPreKey>), Error> {
    let mut rng = rand::rng();
    let mut ec = Vec::new();
    let mut pq = Vec::new();
    for i in 0..count {
        let ec_id = next_ec
            .checked_add(i)
            .ok_or_else(|| Error::PreKeys("one-time prekey ids exhausted".into()))?;
        let pq_id = next_pq
            .checked_add(i)
            .ok_or_else(|| Error::PreKeys("PQ prekey ids exhausted".into()))?;
        ec.push(OneTimePreKey::generate(ec_id, &mut rng));
        pq.push(
            PqPreKey::generate(pq_id, PqPreKeyKind::OneTime, kem, identity, &mut rng)
                .map_err(|e| Error::PreKeys(e.to_string()))?,
        );
    }
    Ok((ec, pq))
}

/// Ids above every PQ prekey id in use (last-resort keys included).
fn next_pq_id(prekeys: &PreKeyStore) -> u32 {
    prekeys
        .pq_prekeys()
        .map(|k| k.id())
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

impl Client {
    /// Creates the store at `path` with a new identity and prekeys, then registers the account.
    /// A failed registration leaves the store; [`Client::open`] registers it later.
    pub async fn create(
        path: &Path,
        protection: StoreProtection<'_>,
        options: &AccountOptions,
    ) -> Result<Self, Error> {
        if !valid_name(&options.name) {
            return Err(Error::InvalidName(options.name.clone()));
        }
        let mut rng = rand::rng();
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut prekeys = PreKeyStore::generate(identity.clone(), options.kem, &mut rng)
            .map_err(|e| Error::PreKeys(e.to_string()))?;
        // Ids 1 are the first signed and last-resort keys; one-time keys follow.
        let (ec, pq) = one_time_batch(&identity, options.kem, 1, 2, options.one_time_prekeys)?;
        for key in pq {
            prekeys.add_pq_prekey(key);
        }
        let server = ServerClient::new(&options.server, &options.name, identity.clone())?;
        let store = Store::create(path, protection).await?;
        let mut tx = store.write().await?;
        keys::save(&mut tx, store.key(), &prekeys).await?;
        keys::add_one_time(&mut tx, store.key(), &ec).await?;
        meta_set(&mut tx, "account", options.name.as_bytes()).await?;
        meta_set(&mut tx, "server", options.server.as_bytes()).await?;
        meta_set_u32(&mut tx, "batch", options.one_time_prekeys).await?;
        meta_set_u32(
            &mut tx,
            "next_ec_id",
            options.one_time_prekeys.saturating_add(1),
        )
        .await?;
        tx.commit().await?;
        let client = Self {
            store,
            server,
            identity,
            server_url: options.server.clone(),
            batch: options.one_time_prekeys,
            bundles: bundles::BundleCache::default(),
        };
        match client.register().await {
            Ok(()) => Ok(client),
            // The new store holds nothing of value yet: remove it, so the name can be chosen
            // again.
            Err(Error::NameTaken(name)) => {
                client.store.close().await;
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.as_os_str().to_owned();
                    file.push(suffix);
                    let _ = std::fs::remove_file(std::path::PathBuf::from(file));
                }
                Err(Error::NameTaken(name))
            }
            // Anything else (the server unreachable): the store stays and the next open
            // registers it.
            Err(e) => Err(e),
        }
    }

    /// Opens the store at `path` (with its passphrase when it has one), registering the account
    /// if an earlier [`Client::create`] could not.
    pub async fn open(path: &Path, passphrase: Option<&[u8]>) -> Result<Self, Error> {
        let store = Store::open(path, passphrase).await?;
        let mut conn = store.read().await?;
        let account = meta_text(&mut conn, "account")
            .await?
            .ok_or(store::StoreError::Corrupt("no account"))?;
        let server_url = meta_text(&mut conn, "server")
            .await?
            .ok_or(store::StoreError::Corrupt("no server"))?;
        let batch = store::meta_u32(&mut conn, "batch").await?;
        let registered = meta_text(&mut conn, "registered").await?.is_some();
        let prekeys = keys::load(&mut conn, store.key()).await?;
        drop(conn);
        let identity = prekeys.identity().clone();
        let server = ServerClient::new(&server_url, &account, identity.clone())?;
        let client = Self {
            store,
            server,
            identity,
            server_url,
            batch,
            bundles: bundles::BundleCache::default(),
        };
        if !registered {
            client.register().await?;
        }
        Ok(client)
    }

    /// Registers the account with the store's public keys; an account this identity already
    /// registered counts as done.
    async fn register(&self) -> Result<(), Error> {
        let prekeys = {
            let mut conn = self.store.read().await?;
            keys::load(&mut conn, self.store.key()).await?
        };
        match self.server.register(&prekeys).await {
            Ok(()) => {}
            Err(ClientError::Refused { status: 409, .. }) => {
                // Taken: ours if our signed requests are accepted for it.
                if let Err(e) = self.server.key_counts().await {
                    return Err(match e {
                        ClientError::Refused { status: 401, .. } => {
                            Error::NameTaken(self.account().to_owned())
                        }
                        other => other.into(),
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
        let mut tx = self.store.write().await?;
        meta_set(&mut tx, "registered", b"1").await?;
        // Everything generated so far is on the server.
        let next_ec = store::meta_u32(&mut tx, "next_ec_id").await?;
        meta_set_u32(&mut tx, "ec_uploaded_below", next_ec).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account name.
    pub fn account(&self) -> &str {
        self.server.account()
    }

    /// The server's base URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The account's public identity key.
    pub fn identity_key(&self) -> &PublicKey {
        self.identity.public_key()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The server client (signed requests as this account).
    pub fn server(&self) -> &ServerClient {
        &self.server
    }

    /// Every message sent, in order (delivered or not).
    pub async fn outbox(&self) -> Result<Vec<OutgoingMessage>, Error> {
        let mut conn = self.store.read().await?;
        Ok(store::messages::outbox(&mut conn, self.store.key(), false).await?)
    }

    /// Messages received, in arrival order: all, or those not yet shown.
    pub async fn inbox(&self, unread_only: bool) -> Result<Vec<IncomingMessage>, Error> {
        let mut conn = self.store.read().await?;
        Ok(store::messages::inbox(&mut conn, self.store.key(), unread_only).await?)
    }

    /// Marks inbox messages shown.
    pub async fn mark_read(&self, seqs: &[i64]) -> Result<(), Error> {
        let mut tx = self.store.write().await?;
        store::messages::mark_read(&mut tx, seqs).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Envelopes dropped without a message (duplicates, undecryptable), with the reasons.
    pub async fn dropped(&self) -> Result<Vec<(String, String, String)>, Error> {
        let mut conn = self.store.read().await?;
        Ok(store::messages::dropped(&mut conn).await?)
    }

    /// Deletes the account on the server (the store stays, for its history).
    pub async fn delete_account(&self) -> Result<(), Error> {
        self.server.delete_account().await?;
        let mut tx = self.store.write().await?;
        meta_set(&mut tx, "deleted", now_ms().to_string().as_bytes()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes the store.
    pub async fn close(self) {
        self.store.close().await;
    }
}
