//! Accounts: a name, its identity key, and its current signed and last-resort PQ prekeys.

use sqlx::Row;

use super::prekeys::{OneTimeRow, PqRow, insert_one_time, insert_pq};
use super::{Db, from_db, to_db};

/// A signed prekey as stored: id, type-prefixed key, signature.
#[derive(Clone, Debug)]
pub struct SignedPreKeyRow {
    /// Its id.
    pub id: u32,
    /// `EncodeEC(SPK)`.
    pub key: Vec<u8>,
    /// `Sig(IK, EncodeEC(SPK))`.
    pub signature: Vec<u8>,
}

/// A last-resort PQ prekey as stored.
#[derive(Clone, Debug)]
pub struct LastResort {
    /// Its id.
    pub id: u32,
    /// `EncodeKEM(PQPK)`.
    pub key: Vec<u8>,
    /// `Sig(IK, EncodeKEM(PQPK))`.
    pub signature: Vec<u8>,
}

/// One account's public record.
#[derive(Clone, Debug)]
pub struct Account {
    /// Its name.
    pub name: String,
    /// `EncodeEC(IK)`.
    pub identity_key: Vec<u8>,
    /// The current signed prekey.
    pub signed_prekey: SignedPreKeyRow,
    /// The current last-resort PQ prekey.
    pub last_resort: LastResort,
}

const SET_SIGNED_PREKEY: &str = "UPDATE accounts SET signed_prekey_id = $1, signed_prekey = $2, \
     signed_prekey_signature = $3 WHERE name = $4";
const SET_LAST_RESORT: &str = "UPDATE accounts SET last_resort_id = $1, last_resort_key = $2, \
     last_resort_signature = $3 WHERE name = $4";

fn id_of(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl Db {
    /// Creates an account with its first prekeys, all or nothing. `Ok(false)`: the name is taken.
    pub async fn create_account(
        &self,
        account: &Account,
        one_time: &[OneTimeRow],
        pq: &[PqRow],
        now_ms: u64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (name, identity_key, signed_prekey_id, signed_prekey, \
             signed_prekey_signature, last_resort_id, last_resort_key, last_resort_signature, \
             created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING",
        )
        .bind(account.name.as_str())
        .bind(account.identity_key.clone())
        .bind(i64::from(account.signed_prekey.id))
        .bind(account.signed_prekey.key.clone())
        .bind(account.signed_prekey.signature.clone())
        .bind(i64::from(account.last_resort.id))
        .bind(account.last_resort.key.clone())
        .bind(account.last_resort.signature.clone())
        .bind(to_db(now_ms))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_one_time(&mut tx, &account.name, one_time).await?;
        insert_pq(&mut tx, &account.name, pq).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The account named `name`, if any.
    pub async fn account(&self, name: &str) -> Result<Option<Account>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT name, identity_key, signed_prekey_id, signed_prekey, signed_prekey_signature, \
             last_resort_id, last_resort_key, last_resort_signature FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Account {
                name: r.try_get(0)?,
                identity_key: r.try_get(1)?,
                signed_prekey: SignedPreKeyRow {
                    id: id_of(r.try_get(2)?),
                    key: r.try_get(3)?,
                    signature: r.try_get(4)?,
                },
                last_resort: LastResort {
                    id: id_of(r.try_get(5)?),
                    key: r.try_get(6)?,
                    signature: r.try_get(7)?,
                },
            })
        })
        .transpose()
    }

    /// Replaces the account's signed prekey (rotation). Bundles fetched afterwards carry it.
    pub async fn set_signed_prekey(
        &self,
        name: &str,
        key: &SignedPreKeyRow,
    ) -> Result<(), sqlx::Error> {
        self.replace_key(SET_SIGNED_PREKEY, name, key.id, &key.key, &key.signature)
            .await
    }

    /// Replaces the account's last-resort PQ prekey (rotation).
    pub async fn set_last_resort(&self, name: &str, key: &LastResort) -> Result<(), sqlx::Error> {
        self.replace_key(SET_LAST_RESORT, name, key.id, &key.key, &key.signature)
            .await
    }

    async fn replace_key(
        &self,
        sql: &'static str,
        name: &str,
        id: u32,
        key: &[u8],
        signature: &[u8],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sql)
            .bind(i64::from(id))
            .bind(key.to_vec())
            .bind(signature.to_vec())
            .bind(name)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Number of accounts (metrics).
    pub async fn account_count(&self) -> Result<u64, sqlx::Error> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(self.pool())
            .await?;
        Ok(from_db(n))
    }
}
