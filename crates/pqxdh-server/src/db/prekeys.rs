//! One-time prekeys and the exactly-once claim of a bundle (SPEC.md section 12.3.3).
//!
//! A claim deletes the oldest one-time EC and one-time PQ prekey and returns them in one
//! statement each, inside one transaction: two fetches can never receive the same key. On
//! PostgreSQL the row is chosen with `FOR UPDATE SKIP LOCKED`, so concurrent claims (from any
//! number of server processes) take different rows instead of waiting and then finding theirs
//! gone; on SQLite the write transaction itself serializes claims.

use sqlx::{Any, Row, Transaction};

use super::accounts::Account;
use super::{Backend, Db, from_db, id_of};

/// A one-time EC prekey as stored.
#[derive(Clone, Debug)]
pub struct OneTimeRow {
    /// Its id.
    pub id: u32,
    /// `EncodeEC(OPK)`.
    pub key: Vec<u8>,
}

/// A one-time PQ prekey as stored.
#[derive(Clone, Debug)]
pub struct PqRow {
    /// Its id.
    pub id: u32,
    /// `EncodeKEM(PQOPK)`.
    pub key: Vec<u8>,
    /// `Sig(IK, EncodeKEM(PQOPK))`.
    pub signature: Vec<u8>,
}

/// What one bundle fetch claimed: the account's record, and the one-time keys it got (none
/// when they ran out: then the bundle carries the last-resort PQ prekey and no OPK).
#[derive(Clone, Debug)]
pub struct ClaimedBundle {
    /// The account's identity, signed prekey and last-resort key.
    pub account: Account,
    /// The claimed one-time EC prekey.
    pub one_time: Option<OneTimeRow>,
    /// The claimed one-time PQ prekey.
    pub pq: Option<PqRow>,
}

pub(super) async fn insert_one_time(
    tx: &mut Transaction<'static, Any>,
    account: &str,
    keys: &[OneTimeRow],
) -> Result<(), sqlx::Error> {
    for key in keys {
        sqlx::query(
            "INSERT INTO one_time_prekeys (account, key_id, public_key) VALUES ($1, $2, $3) \
             ON CONFLICT (account, key_id) DO NOTHING",
        )
        .bind(account)
        .bind(i64::from(key.id))
        .bind(key.key.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn insert_pq(
    tx: &mut Transaction<'static, Any>,
    account: &str,
    keys: &[PqRow],
) -> Result<(), sqlx::Error> {
    for key in keys {
        sqlx::query(
            "INSERT INTO pq_prekeys (account, key_id, public_key, signature) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account, key_id) DO NOTHING",
        )
        .bind(account)
        .bind(i64::from(key.id))
        .bind(key.key.clone())
        .bind(key.signature.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Built from constants only: no outside input reaches the SQL text.
fn claim_sql(backend: Backend, table: &str, columns: &str) -> sqlx::AssertSqlSafe<String> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE seq = (SELECT seq FROM {table} WHERE account = $1 \
         ORDER BY seq LIMIT 1{lock}) RETURNING {columns}"
    ))
}

impl Db {
    /// How many one-time EC and PQ prekeys the account has left.
    pub async fn prekey_counts(&self, account: &str) -> Result<(u64, u64), sqlx::Error> {
        let ec: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM one_time_prekeys WHERE account = $1")
                .bind(account)
                .fetch_one(self.pool())
                .await?;
        let pq: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pq_prekeys WHERE account = $1")
            .bind(account)
            .fetch_one(self.pool())
            .await?;
        Ok((from_db(ec), from_db(pq)))
    }

    /// Claims a bundle of `name`: its record plus at most one one-time key of each kind,
    /// each handed out exactly once. `None`: no such account.
    pub async fn claim_bundle(&self, name: &str) -> Result<Option<ClaimedBundle>, sqlx::Error> {
        let Some(account) = self.account(name).await? else {
            return Ok(None);
        };
        let mut tx = self.pool().begin().await?;
        let one_time = sqlx::query(claim_sql(
            self.backend(),
            "one_time_prekeys",
            "key_id, public_key",
        ))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| {
            Ok::<_, sqlx::Error>(OneTimeRow {
                id: id_of(r.try_get(0)?),
                key: r.try_get(1)?,
            })
        })
        .transpose()?;
        let pq = sqlx::query(claim_sql(
            self.backend(),
            "pq_prekeys",
            "key_id, public_key, signature",
        ))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| {
            Ok::<_, sqlx::Error>(PqRow {
                id: id_of(r.try_get(0)?),
                key: r.try_get(1)?,
                signature: r.try_get(2)?,
            })
        })
        .transpose()?;
        tx.commit().await?;
        Ok(Some(ClaimedBundle {
            account,
            one_time,
            pq,
        }))
    }
}
