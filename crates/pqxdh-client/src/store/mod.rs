//! The client store: one SQLite file (0600) holding the account's identity and prekeys, its
//! sessions, contacts, outbox and inbox (SPEC.md section 13.2).
//!
//! Every secret row (keys, sessions, message contents) is sealed with AES-256-GCM under a row
//! key bound to its table and row ([`seal`]). The row key comes from a passphrase through
//! Argon2id, or, for a store created explicitly without one, is kept in the clear in `meta`.
//! Every change that must survive a crash together is one transaction
//! ([`Store::write`], `BEGIN IMMEDIATE`: two processes on one store never interleave a
//! read-modify-write of a session).

pub mod contacts;
pub mod keys;
pub mod messages;
pub mod seal;
pub mod sessions;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use pqxdh_files::identity_file::{
    IdentityFileError, KdfParams, MAX_M_COST_KIB, MAX_P_COST, MAX_T_COST,
};
use rand::RngExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use seal::{CHECK_PLAINTEXT, RowKey, SALT_LEN};

/// Version of the store layout (`meta.format`); migrations move older stores forward.
pub const STORE_FORMAT: &[u8] = b"1";
/// How long a process waits for another holding the store's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A write transaction on the store.
pub type Tx = Transaction<'static, Sqlite>;

/// Errors of the local store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A store already exists at this path; it is never overwritten.
    #[error("a store already exists at {0}")]
    Exists(PathBuf),
    /// No store at this path.
    #[error("no store at {0}: create one with `pqxdh account new`")]
    NotFound(PathBuf),
    /// The store is passphrase-protected and no passphrase was given.
    #[error("the store is passphrase-protected: give its passphrase")]
    PassphraseRequired,
    /// The passphrase does not open the store.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The Argon2id parameters are invalid or out of bounds.
    #[error("key derivation: {0}")]
    Kdf(String),
    /// A row failed authentication: the file was altered or rows were moved.
    #[error("store row in {0} failed authentication (altered file?)")]
    RowAuthentication(String),
    /// The store's contents are malformed.
    #[error("corrupt store: {0}")]
    Corrupt(&'static str),
    /// The saved prekeys do not parse.
    #[error("saved prekeys: {0}")]
    Identity(#[from] IdentityFileError),
    /// A saved session does not parse.
    #[error("saved session: {0}")]
    Session(#[from] pqxdh::StateError),
    /// SQLite failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The store's schema could not be brought up to date.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The file could not be created or read.
    #[error("store file: {0}")]
    Io(#[from] std::io::Error),
}

/// How a new store protects its secrets.
#[derive(Clone, Copy)]
pub enum StoreProtection<'a> {
    /// Argon2id from a passphrase.
    Passphrase {
        /// The passphrase bytes.
        passphrase: &'a [u8],
        /// Argon2id costs.
        params: KdfParams,
    },
    /// No passphrase: the row key is kept in the file (only when asked for explicitly).
    Unprotected,
}

impl core::fmt::Debug for StoreProtection<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unprotected => f.write_str("Unprotected"),
            Self::Passphrase { params, .. } => f
                .debug_struct("Passphrase")
                .field("passphrase", &"<redacted>")
                .field("params", params)
                .finish(),
        }
    }
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    pool: SqlitePool,
    key: RowKey,
    path: PathBuf,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

async fn connect(path: &Path) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .create_if_missing(false)
        // WAL with FULL sync: a committed transaction survives a crash or power loss.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    // One connection: every operation of a process runs in order, and a second connection in
    // the same process could only wait on the first one's write lock.
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// Owner read and write only.
#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn encode_params(params: KdfParams) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(&params.m_cost_kib.to_be_bytes());
    out.extend_from_slice(&params.t_cost.to_be_bytes());
    out.extend_from_slice(&params.p_cost.to_be_bytes());
    out
}

fn decode_params(bytes: &[u8]) -> Result<KdfParams, StoreError> {
    let word = |i: usize| -> Result<u32, StoreError> {
        bytes
            .get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or(StoreError::Corrupt("KDF parameters"))
    };
    if bytes.len() != 12 {
        return Err(StoreError::Corrupt("KDF parameters"));
    }
    let params = KdfParams {
        m_cost_kib: word(0)?,
        t_cost: word(4)?,
        p_cost: word(8)?,
    };
    // The same bounds as identity files: a tampered store cannot make opening it cost hours.
    if params.m_cost_kib > MAX_M_COST_KIB
        || params.t_cost > MAX_T_COST
        || params.p_cost > MAX_P_COST
    {
        return Err(StoreError::Kdf("parameters exceed the limits".into()));
    }
    Ok(params)
}

impl Store {
    /// Creates a new store file at `path` (never overwriting one), mode 0600, protected as asked.
    pub async fn create(path: &Path, protection: StoreProtection<'_>) -> Result<Self, StoreError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists(path.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        let pool = connect(path).await?;
        MIGRATOR.run(&pool).await?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let key = match protection {
            StoreProtection::Unprotected => {
                let key = RowKey::generate();
                meta_set(&mut tx, "protection", b"none").await?;
                meta_set(&mut tx, "row_key", key.as_bytes()).await?;
                key
            }
            StoreProtection::Passphrase { passphrase, params } => {
                let mut salt = [0u8; SALT_LEN];
                rand::rng().fill(&mut salt[..]);
                let key = RowKey::derive(passphrase, &salt, params)?;
                meta_set(&mut tx, "protection", b"passphrase").await?;
                meta_set(&mut tx, "salt", &salt).await?;
                meta_set(&mut tx, "kdf", &encode_params(params)).await?;
                meta_set(
                    &mut tx,
                    "check",
                    &key.seal("meta", "check", CHECK_PLAINTEXT)?,
                )
                .await?;
                key
            }
        };
        meta_set(&mut tx, "format", STORE_FORMAT).await?;
        tx.commit().await?;
        Ok(Self {
            pool,
            key,
            path: path.to_owned(),
        })
    }

    /// Whether the store at `path` needs a passphrase.
    pub async fn is_protected(path: &Path) -> Result<bool, StoreError> {
        if !path.exists() {
            return Err(StoreError::NotFound(path.to_owned()));
        }
        let pool = connect(path).await?;
        let mut conn = pool.acquire().await?;
        let protection = meta_get(&mut conn, "protection")
            .await?
            .ok_or(StoreError::Corrupt("no protection entry"))?;
        Ok(protection == b"passphrase")
    }

    /// Opens the store at `path`; `passphrase` is needed exactly when it is protected.
    pub async fn open(path: &Path, passphrase: Option<&[u8]>) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::NotFound(path.to_owned()));
        }
        restrict(path)?;
        let pool = connect(path).await?;
        MIGRATOR.run(&pool).await?;
        let mut conn = pool.acquire().await?;
        let protection = meta_get(&mut conn, "protection")
            .await?
            .ok_or(StoreError::Corrupt("no protection entry"))?;
        let key = match (protection.as_slice(), passphrase) {
            (b"none", _) => RowKey::from_slice(
                &meta_get(&mut conn, "row_key")
                    .await?
                    .ok_or(StoreError::Corrupt("no row key"))?,
            )?,
            (b"passphrase", None) => return Err(StoreError::PassphraseRequired),
            (b"passphrase", Some(passphrase)) => {
                let salt: [u8; SALT_LEN] = meta_get(&mut conn, "salt")
                    .await?
                    .and_then(|s| s.try_into().ok())
                    .ok_or(StoreError::Corrupt("salt"))?;
                let params = decode_params(
                    &meta_get(&mut conn, "kdf")
                        .await?
                        .ok_or(StoreError::Corrupt("no KDF parameters"))?,
                )?;
                let key = RowKey::derive(passphrase, &salt, params)?;
                let check = meta_get(&mut conn, "check")
                    .await?
                    .ok_or(StoreError::Corrupt("no check value"))?;
                match key.open("meta", "check", &check) {
                    Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT => key,
                    _ => return Err(StoreError::WrongPassphrase),
                }
            }
            _ => return Err(StoreError::Corrupt("unknown protection")),
        };
        drop(conn);
        Ok(Self {
            pool,
            key,
            path: path.to_owned(),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The row key.
    pub(crate) fn key(&self) -> &RowKey {
        &self.key
    }

    /// A write transaction holding the store's lock from its first statement.
    pub async fn write(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A connection for reads that need no transaction.
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// A `meta` value.
pub async fn meta_get(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await?)
}

/// Sets a `meta` value.
pub async fn meta_set(
    conn: &mut SqliteConnection,
    name: &str,
    value: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        .bind(name)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

/// A `meta` value as text.
pub async fn meta_text(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<String>, StoreError> {
    match meta_get(conn, name).await? {
        Some(v) => String::from_utf8(v)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("meta text")),
        None => Ok(None),
    }
}

/// A `meta` counter (decimal text), 0 when absent.
pub async fn meta_u32(conn: &mut SqliteConnection, name: &str) -> Result<u32, StoreError> {
    match meta_text(conn, name).await? {
        Some(v) => v.parse().map_err(|_| StoreError::Corrupt("meta counter")),
        None => Ok(0),
    }
}

/// Sets a `meta` counter.
pub async fn meta_set_u32(
    conn: &mut SqliteConnection,
    name: &str,
    value: u32,
) -> Result<(), StoreError> {
    meta_set(conn, name, value.to_string().as_bytes()).await
}
