//! Mailboxes: opaque envelopes waiting for their recipient, deleted only when acknowledged
//! (at-least-once delivery; the envelope id is what the client deduplicates on).

use sqlx::Row;

use super::{Backend, Db, from_db, to_db};

/// The PostgreSQL channel on which deposits wake waiting fetches in every server process.
pub const MAIL_CHANNEL: &str = "pqxdh_mail";

/// One stored envelope.
#[derive(Clone, Debug)]
pub struct StoredEnvelope {
    /// Server-assigned id (32 hex digits).
    pub id: String,
    /// The authenticated sender's account name.
    pub sender: String,
    /// When the server accepted it (ms since the epoch).
    pub received_ms: u64,
    /// The opaque body.
    pub body: Vec<u8>,
}

impl Db {
    /// Stores an envelope for `recipient` unless the mailbox holds `max` already.
    /// `Ok(false)`: the mailbox is full and nothing was stored.
    pub async fn deposit(
        &self,
        recipient: &str,
        envelope: &StoredEnvelope,
        max: u64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // Write first, then count: a SQLite transaction that reads before it writes can fail
        // to upgrade its lock under concurrent writers.
        sqlx::query(
            "INSERT INTO envelopes (id, recipient, sender, received_ms, body) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(envelope.id.as_str())
        .bind(recipient)
        .bind(envelope.sender.as_str())
        .bind(to_db(envelope.received_ms))
        .bind(envelope.body.clone())
        .execute(&mut *tx)
        .await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM envelopes WHERE recipient = $1")
            .bind(recipient)
            .fetch_one(&mut *tx)
            .await?;
        if from_db(count) > max {
            tx.rollback().await?;
            return Ok(false);
        }
        if self.backend() == Backend::Postgres {
            // Delivered on commit, to every listening process.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(MAIL_CHANNEL)
                .bind(recipient)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Up to `limit` envelopes for `recipient`, oldest first.
    pub async fn fetch_mail(
        &self,
        recipient: &str,
        limit: u64,
    ) -> Result<Vec<StoredEnvelope>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, sender, received_ms, body FROM envelopes WHERE recipient = $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(recipient)
        .bind(to_db(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredEnvelope {
                    id: r.try_get(0)?,
                    sender: r.try_get(1)?,
                    received_ms: from_db(r.try_get(2)?),
                    body: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Deletes an acknowledged envelope of `recipient`. `Ok(false)`: no such envelope (already
    /// acknowledged, or someone else's): acknowledging twice is harmless.
    pub async fn acknowledge(&self, recipient: &str, id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM envelopes WHERE id = $1 AND recipient = $2")
            .bind(id)
            .bind(recipient)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Envelopes waiting in all mailboxes (metrics).
    pub async fn envelope_count(&self) -> Result<u64, sqlx::Error> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM envelopes")
            .fetch_one(self.pool())
            .await?;
        Ok(from_db(n))
    }
}
