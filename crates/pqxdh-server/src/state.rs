//! What every request handler shares: the database, the limits, the mail waker, the counters.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::db::Db;
use crate::limits::Limits;
use crate::mail_waker::MailWaker;
use crate::metrics::Metrics;

/// Shared server state. Everything durable is in [`Db`]; the rest is per process.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The enforced limits.
    pub limits: Arc<Limits>,
    /// Wakes long polls when mail arrives.
    pub waker: MailWaker,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
