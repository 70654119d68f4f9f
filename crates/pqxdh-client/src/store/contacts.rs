//! Contacts and their pinned identity keys (trust on first use, as Signal does).

use pqxdh::PublicKey;
use sqlx::{Row, SqliteConnection};

use crate::store::StoreError;

/// A contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The account name on the server.
    pub name: String,
    /// The identity key pinned at first use (or last accepted).
    pub identity_key: PublicKey,
    /// A different identity key seen since, waiting for the user to accept it: while set,
    /// nothing is sent to this contact.
    pub pending_key: Option<PublicKey>,
    /// Whether the user marked the pinned key as verified (safety numbers compared).
    pub verified: bool,
    /// When the contact was first seen (ms since the epoch).
    pub added_ms: u64,
}

fn key(bytes: &[u8]) -> Result<PublicKey, StoreError> {
    PublicKey::decode(bytes).map_err(|_| StoreError::Corrupt("contact identity key"))
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Contact, StoreError> {
    let pending: Option<Vec<u8>> = row.try_get("pending_key")?;
    let added: i64 = row.try_get("added_ms")?;
    Ok(Contact {
        name: row.try_get("name")?,
        identity_key: key(&row.try_get::<Vec<u8>, _>("identity_key")?)?,
        pending_key: pending.as_deref().map(key).transpose()?,
        verified: row.try_get::<i64, _>("verified")? != 0,
        added_ms: u64::try_from(added).unwrap_or_default(),
    })
}

/// The contact `name`.
pub async fn get(conn: &mut SqliteConnection, name: &str) -> Result<Option<Contact>, StoreError> {
    sqlx::query("SELECT * FROM contacts WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every contact, by name.
pub async fn all(conn: &mut SqliteConnection) -> Result<Vec<Contact>, StoreError> {
    sqlx::query("SELECT * FROM contacts ORDER BY name")
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Pins `identity_key` for a new contact.
pub async fn insert(
    conn: &mut SqliteConnection,
    name: &str,
    identity_key: &PublicKey,
    now_ms: u64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO contacts (name, identity_key, added_ms) VALUES (?, ?, ?)")
        .bind(name)
        .bind(identity_key.encode().to_vec())
        .bind(i64::try_from(now_ms).unwrap_or(i64::MAX))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a changed identity key for the user to decide on.
pub async fn set_pending(
    conn: &mut SqliteConnection,
    name: &str,
    pending: &PublicKey,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE contacts SET pending_key = ? WHERE name = ?")
        .bind(pending.encode().to_vec())
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Accepts the pending key (pinned from now on, not verified) or, with none pending, marks the
/// pinned key verified.
pub async fn accept(conn: &mut SqliteConnection, contact: &Contact) -> Result<(), StoreError> {
    match &contact.pending_key {
        Some(pending) => {
            sqlx::query(
                "UPDATE contacts SET identity_key = ?, pending_key = NULL, verified = 0 WHERE name = ?",
            )
            .bind(pending.encode().to_vec())
            .bind(&contact.name)
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query("UPDATE contacts SET verified = 1 WHERE name = ?")
                .bind(&contact.name)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}
