//! Waking long polls when mail arrives. Within one process a deposit wakes its waiters
//! directly; across processes PostgreSQL's LISTEN/NOTIFY carries the recipient's name (the
//! deposit's `pg_notify` is delivered on commit), and on SQLite waiters re-check the database
//! every poll interval. A wake-up only says "look again": the database is the truth.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use crate::db::MAIL_CHANNEL;

/// Pending wake-ups kept per process before slow waiters miss some (they then re-check on
/// their poll interval, so nothing is lost).
const WAKE_QUEUE: usize = 1024;
/// Pause before reconnecting a dropped PostgreSQL listener.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// A broadcast of recipient names with new mail.
#[derive(Clone, Debug)]
pub struct MailWaker {
    sender: broadcast::Sender<String>,
}

impl Default for MailWaker {
    fn default() -> Self {
        Self::new()
    }
}

impl MailWaker {
    /// A waker with no listener.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(WAKE_QUEUE);
        Self { sender }
    }

    /// Wakes the waiters of `recipient` in this process.
    pub fn wake(&self, recipient: &str) {
        // No receiver is not an error: nobody is waiting.
        let _ = self.sender.send(recipient.to_owned());
    }

    /// A receiver to wait on; subscribe before checking the database, so no wake-up falls
    /// between the check and the wait.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }

    /// Forwards PostgreSQL notifications into this waker, reconnecting as needed.
    pub fn listen_postgres(&self, url: String) {
        let waker = self.clone();
        tokio::spawn(async move {
            loop {
                match PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(MAIL_CHANNEL).await {
                            tracing::warn!(error = %e, "LISTEN failed");
                        } else {
                            while let Ok(notification) = listener.recv().await {
                                waker.wake(notification.payload());
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "mail listener cannot connect"),
                }
                tokio::time::sleep(LISTEN_RETRY).await;
            }
        });
    }
}

/// Waits until `recipient` is woken or `timeout` passes.
pub async fn wait_for(
    receiver: &mut broadcast::Receiver<String>,
    recipient: &str,
    timeout: Duration,
) {
    let wait = async {
        loop {
            match receiver.recv().await {
                Ok(name) if name == recipient => return,
                Ok(_) => {}
                // Missed wake-ups: look again now.
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let _ = tokio::time::timeout(timeout, wait).await;
}
