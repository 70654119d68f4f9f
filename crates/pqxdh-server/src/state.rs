//! What every request handler shares: the database, the limits, the mail waker, the counters.

use std::sync::Arc;

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

pub use pqxdh_api::signing::now_ms;
