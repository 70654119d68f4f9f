//! Starting a server: open the database, bind, serve until told to stop, and keep the
//! database tidy in the background (expired nonces, abandoned uploads).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::db::{Backend, Db, DbError};
use crate::limits::Limits;
use crate::mail_waker::MailWaker;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::{AppState, now_ms};

/// The embedded default: a SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://pqxdh-server.db?mode=rwc";
/// The default address: loopback only, so a bare start exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8380";
/// How often the background task prunes (nonces, abandoned uploads, expired attachments).
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);
/// An upload unfinished for this long was abandoned (its process died mid-stream).
const ABANDONED_UPLOAD_MS: u64 = 60 * 60 * 1000;

/// What a server process needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind.
    pub listen: SocketAddr,
    /// `sqlite:PATH?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Limits to enforce.
    pub limits: Limits,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The reason.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Opens the database (migrating it) and binds the address.
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
        let db = Db::open(&config.database_url).await?;
        let waker = MailWaker::new();
        if db.backend() == Backend::Postgres {
            waker.listen_postgres(config.database_url.clone());
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let state = AppState {
            db,
            limits: Arc::new(config.limits),
            waker,
            metrics: Arc::new(Metrics::default()),
        };
        Ok(Self { listener, state })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes; requests in flight finish first.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let db = self.state.db.clone();
        let retention = self.state.limits.attachment_retention_ms;
        let maintenance = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(MAINTENANCE_INTERVAL);
            loop {
                ticker.tick().await;
                let now = now_ms();
                if let Err(e) = db.prune_nonces(now).await {
                    tracing::warn!(error = %e, "pruning nonces failed");
                }
                let before = now.saturating_sub(ABANDONED_UPLOAD_MS);
                if let Err(e) = db.prune_incomplete_attachments(before).await {
                    tracing::warn!(error = %e, "pruning uploads failed");
                }
                if let Err(e) = db
                    .prune_old_attachments(now.saturating_sub(retention))
                    .await
                {
                    tracing::warn!(error = %e, "pruning expired attachments failed");
                }
            }
        });
        let app = routes::router(self.state);
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve);
        maintenance.abort();
        served
    }
}
