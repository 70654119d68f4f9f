//! The database: one pool over SQLite or PostgreSQL through sqlx's `Any` driver, with one
//! migration set per database (their DDL differs; the queries share `$n` placeholders). All
//! server state lives here, so several processes can share one PostgreSQL.

mod accounts;
mod attachments;
mod buckets;
mod mailbox;
mod nonces;
mod prekeys;

pub use accounts::{Account, LastResort, SignedPreKeyRow};
pub use attachments::AttachmentInfo;
pub use mailbox::{MAIL_CHANNEL, StoredEnvelope};
pub use prekeys::{ClaimedBundle, OneTimeRow, PqRow};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Connections per server process.
pub const POOL_CONNECTIONS: u32 = 16;
/// Per-connection SQLite settings: wait up to 10 s for another writer before failing a
/// statement (several processes may share one file), foreign keys for the cascades, and
/// `synchronous = NORMAL`, which in WAL mode loses no committed transaction on a process crash.
const SQLITE_PRAGMAS: &str =
    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://file?mode=rwc`: the embedded default.
    Sqlite,
    /// `postgres://...`: the scale-out path.
    Postgres,
}

impl Backend {
    /// The backend of a database URL, if it is one we serve.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// Its name in health output and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL (use sqlite:PATH or postgres://...)")]
    UnsupportedUrl,
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The server's database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url).ok_or(DbError::UnsupportedUrl)?;
        let mut options = AnyPoolOptions::new().max_connections(POOL_CONNECTIONS);
        if backend == Backend::Sqlite {
            // WAL lets readers run beside the one writer.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await.map_err(DbError::Connect)?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(DbError::Connect)?;
        }
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Self { pool, backend })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the modules of this folder.
    fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A cheap round trip, for the health endpoint.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// Milliseconds since the epoch as the database stores them.
fn to_db(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored prekey id back as `u32` (ids were stored from `u32`).
fn id_of(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// A stored non-negative integer back as `u64`.
fn from_db(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
