//! The account's private keys in the store: the identity-file body (identity key, signed and
//! PQ prekeys with their times, replay record) in `secrets`, one-time EC prekeys in their own
//! rows.

use pqxdh::PreKeyStore;
use pqxdh::handshake::prekey::{OneTimePreKey, PreKeyId};
use pqxdh::handshake::store::PreKeyUse;
use pqxdh::primitives::keys::{KeyPair, PrivateKey};
use pqxdh_files::identity_file::{self, Protection};
use sqlx::{Row, SqliteConnection};

use crate::store::StoreError;
use crate::store::seal::RowKey;

/// The `secrets` row holding the identity-file body.
const PREKEYS_ROW: &str = "prekeys";

/// Loads every private key of the account.
pub async fn load(conn: &mut SqliteConnection, key: &RowKey) -> Result<PreKeyStore, StoreError> {
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM secrets WHERE name = ?")
        .bind(PREKEYS_ROW)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::Corrupt("no prekeys"))?;
    let bytes = key.open("secrets", PREKEYS_ROW, &sealed)?;
    let mut store = identity_file::decode(&bytes, None)?;
    let rows = sqlx::query("SELECT id, sealed FROM one_time_prekeys ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let sealed: Vec<u8> = row.try_get("sealed")?;
        let id = PreKeyId::try_from(id).map_err(|_| StoreError::Corrupt("prekey id"))?;
        let private = key.open("one_time_prekeys", &id.to_string(), &sealed)?;
        let private =
            PrivateKey::from_slice(&private).map_err(|_| StoreError::Corrupt("one-time prekey"))?;
        store.add_one_time_prekey(OneTimePreKey::from_key_pair(
            id,
            KeyPair::from_private(private),
        ));
    }
    Ok(store)
}

/// Saves the identity, signed and PQ prekeys and the replay record of `store` (not its one-time
/// EC prekeys: [`add_one_time`] and [`apply_use`] keep those rows).
pub async fn save(
    conn: &mut SqliteConnection,
    key: &RowKey,
    store: &PreKeyStore,
) -> Result<(), StoreError> {
    let bytes = identity_file::encode(store, Protection::None, &mut rand::rng())?;
    let sealed = key.seal("secrets", PREKEYS_ROW, &bytes)?;
    sqlx::query(
        "INSERT INTO secrets (name, sealed) VALUES (?, ?) \
         ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed",
    )
    .bind(PREKEYS_ROW)
    .bind(sealed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds one-time EC prekeys.
pub async fn add_one_time(
    conn: &mut SqliteConnection,
    key: &RowKey,
    keys: &[OneTimePreKey],
) -> Result<(), StoreError> {
    for k in keys {
        let sealed = key.seal(
            "one_time_prekeys",
            &k.id().to_string(),
            k.key_pair().private_key().as_bytes(),
        )?;
        sqlx::query("INSERT INTO one_time_prekeys (id, sealed) VALUES (?, ?)")
            .bind(i64::from(k.id()))
            .bind(sealed)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes one-time EC prekeys by id (consumed, or dropped beyond the local bound).
pub async fn delete_one_time(
    conn: &mut SqliteConnection,
    ids: &[PreKeyId],
) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query("DELETE FROM one_time_prekeys WHERE id = ?")
            .bind(i64::from(*id))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Commits what accepting one pre-key message used: `store` already has `used` applied.
pub async fn apply_use(
    conn: &mut SqliteConnection,
    key: &RowKey,
    store: &PreKeyStore,
    used: &PreKeyUse,
) -> Result<(), StoreError> {
    if let Some(id) = used.one_time_prekey {
        delete_one_time(conn, &[id]).await?;
    }
    if used.one_time_pq_prekey.is_some() || used.replay_entry.is_some() {
        save(conn, key, store).await?;
    }
    Ok(())
}
