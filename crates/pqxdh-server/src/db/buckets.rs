//! Leaky-bucket rate limits kept in the database, so every server process sees the same
//! counts (Signal's server keeps its leaky buckets in a shared store for the same reason).
//!
//! A bucket holds a level in thousandths of a request. Each request first drains the level by
//! the time elapsed since the last update (one unit per `leak_ms`), then adds one unit; the
//! update happens only if the result fits the capacity, in one statement, so concurrent
//! requests cannot both take the last unit.

use super::{Backend, Db, to_db};

/// Thousandths of a request per request.
const UNIT: i64 = 1000;

impl Db {
    /// Takes one request from `bucket`. `Ok(None)`: allowed. `Ok(Some(ms))`: refused; one more
    /// request fits in `ms` milliseconds.
    pub async fn take_token(
        &self,
        bucket: &str,
        capacity: u64,
        leak_ms: u64,
        now_ms: u64,
    ) -> Result<Option<u64>, sqlx::Error> {
        let leak_ms = to_db(leak_ms.max(1));
        let capacity = to_db(capacity).saturating_mul(UNIT);
        if capacity < UNIT {
            return Ok(Some(u64::try_from(leak_ms).unwrap_or(u64::MAX)));
        }
        let max = match self.backend() {
            Backend::Postgres => "GREATEST",
            Backend::Sqlite => "MAX",
        };
        // Drained level: max(0, level - elapsed * 1000 / leak_ms).
        let drained = format!(
            "{max}(0, rate_buckets.level_milli - ($2 - rate_buckets.updated_ms) * {UNIT} / $3)"
        );
        let sql = format!(
            "INSERT INTO rate_buckets (bucket, level_milli, updated_ms) VALUES ($1, {UNIT}, $2) \
             ON CONFLICT (bucket) DO UPDATE SET level_milli = {drained} + {UNIT}, updated_ms = $2 \
             WHERE {drained} + {UNIT} <= $4 RETURNING level_milli"
        );
        let now = to_db(now_ms);
        // Built from constants only: no outside input reaches the SQL text.
        let taken = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bucket)
            .bind(now)
            .bind(leak_ms)
            .bind(capacity)
            .fetch_optional(self.pool())
            .await?;
        if taken.is_some() {
            return Ok(None);
        }
        // Refused: the time until the level has drained by one unit is at most leak_ms.
        Ok(Some(u64::try_from(leak_ms).unwrap_or(u64::MAX)))
    }

    /// Gives back one request taken from `bucket` (when a later check refused the request).
    pub async fn refund_token(&self, bucket: &str) -> Result<(), sqlx::Error> {
        let sql = match self.backend() {
            Backend::Postgres => REFUND_POSTGRES,
            Backend::Sqlite => REFUND_SQLITE,
        };
        sqlx::query(sql)
            .bind(bucket)
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}

const REFUND_SQLITE: &str =
    "UPDATE rate_buckets SET level_milli = MAX(0, level_milli - 1000) WHERE bucket = $1";
const REFUND_POSTGRES: &str =
    "UPDATE rate_buckets SET level_milli = GREATEST(0, level_milli - 1000) WHERE bucket = $1";
