//! Accounts: a name, its identity key, and its current signed and last-resort PQ prekeys.

use sqlx::Row;

use super::prekeys::{OneTimeRow, PqRow, insert_one_time, insert_pq};
use super::{Db, from_db, id_of, to_db};

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

/// What an account owns besides its row, deleted with it. The foreign keys cascade too; these
/// do not depend on that, and they also cover attachments, whose owner is no foreign key.
const DELETE_OWNED: [&str; 5] = [
    "DELETE FROM attachment_chunks WHERE attachment IN \
     (SELECT id FROM attachments WHERE owner = $1)",
    "DELETE FROM attachments WHERE owner = $1",
    "DELETE FROM envelopes WHERE recipient = $1",
    "DELETE FROM one_time_prekeys WHERE account = $1",
    "DELETE FROM pq_prekeys WHERE account = $1",
];

impl Account {
    /// The identity key, decoded from its stored `EncodeEC` form.
    pub fn identity(&self) -> Result<pqxdh::PublicKey, pqxdh::KeyError> {
        pqxdh::PublicKey::decode(&self.identity_key)
    }
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

    /// Applies one key upload in one transaction, all or nothing: a new signed prekey and a
    /// new last-resort PQ prekey replace the current ones (rotation; bundles fetched afterwards
    /// carry them), and one-time prekeys are added. Ids already present are kept as they are,
    /// so a retried upload adds nothing twice.
    pub async fn update_keys(
        &self,
        name: &str,
        signed_prekey: Option<&SignedPreKeyRow>,
        last_resort: Option<&LastResort>,
        one_time: &[OneTimeRow],
        pq: &[PqRow],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let replacements = [
            signed_prekey.map(|k| (SET_SIGNED_PREKEY, k.id, &k.key, &k.signature)),
            last_resort.map(|k| (SET_LAST_RESORT, k.id, &k.key, &k.signature)),
        ];
        for (sql, id, key, signature) in replacements.into_iter().flatten() {
            sqlx::query(sql)
                .bind(i64::from(id))
                .bind(key.clone())
                .bind(signature.clone())
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        insert_one_time(&mut tx, name, one_time).await?;
        insert_pq(&mut tx, name, pq).await?;
        tx.commit().await
    }

    /// Deletes account `name` and everything it owns, in one transaction: its one-time EC and
    /// PQ prekeys, the envelopes waiting for it, and its attachments with their chunks.
    /// Envelopes it deposited for others stay (they are the recipients'); so do its recorded
    /// nonces and rate buckets, which expire and drain by themselves, so that neither a replay
    /// nor a re-registration of the name resets them. `Ok(false)`: there is no such account.
    pub async fn delete_account(&self, name: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // The account row first: a write before any read (see `deposit`).
        let deleted = sqlx::query("DELETE FROM accounts WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for sql in DELETE_OWNED {
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Number of accounts (metrics).
    pub async fn account_count(&self) -> Result<u64, sqlx::Error> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(self.pool())
            .await?;
        Ok(from_db(n))
    }
}
