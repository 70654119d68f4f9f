//! Seen request nonces: a signed request is accepted once. Each (account, nonce) is kept until
//! its timestamp falls outside the allowed clock skew, after which the timestamp check alone
//! refuses a replay, so the table stays bounded by the request rate.

use super::{Db, to_db};

impl Db {
    /// Records a nonce; `Ok(false)` if it was already recorded (a replay).
    pub async fn record_nonce(
        &self,
        account: &str,
        nonce: &str,
        expires_ms: u64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO request_nonces (account, nonce, expires_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (account, nonce) DO NOTHING",
        )
        .bind(account)
        .bind(nonce)
        .bind(to_db(expires_ms))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets nonces whose requests can no longer pass the timestamp check.
    pub async fn prune_nonces(&self, now_ms: u64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM request_nonces WHERE expires_ms < $1")
            .bind(to_db(now_ms))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
