//! Double Ratchet sessions by contact. A contact may have several (simultaneous initiations,
//! delayed messages of an older session); the one that last decrypted or was created is current.

use pqxdh::Session;
use sqlx::{Row, SqliteConnection};

use crate::store::StoreError;
use crate::store::seal::RowKey;

/// Sessions kept per contact, current first (libsignal keeps 40 archived states; a small
/// number suffices for one device per account).
pub const MAX_SESSIONS_PER_CONTACT: usize = 8;

/// A session and its id (hex of the transcript-derived session id).
#[derive(Debug)]
pub struct StoredSession {
    /// The session id.
    pub id: String,
    /// The session.
    pub session: Session,
}

fn row_id(contact: &str, id: &str) -> String {
    format!("{contact}/{id}")
}

fn unseal(
    key: &RowKey,
    contact: &str,
    row: &sqlx::sqlite::SqliteRow,
) -> Result<StoredSession, StoreError> {
    let id: String = row.try_get("session_id")?;
    let sealed: Vec<u8> = row.try_get("sealed")?;
    let bytes = key.open("sessions", &row_id(contact, &id), &sealed)?;
    Ok(StoredSession {
        session: Session::from_bytes(&bytes)?,
        id,
    })
}

/// Every session of `contact`, current first.
pub async fn all(
    conn: &mut SqliteConnection,
    key: &RowKey,
    contact: &str,
) -> Result<Vec<StoredSession>, StoreError> {
    sqlx::query("SELECT session_id, sealed FROM sessions WHERE contact = ? ORDER BY rank DESC")
        .bind(contact)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| unseal(key, contact, row))
        .collect()
}

/// The current session of `contact` (only that row is read and opened).
pub async fn current(
    conn: &mut SqliteConnection,
    key: &RowKey,
    contact: &str,
) -> Result<Option<StoredSession>, StoreError> {
    sqlx::query(
        "SELECT session_id, sealed FROM sessions WHERE contact = ? ORDER BY rank DESC LIMIT 1",
    )
    .bind(contact)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(|row| unseal(key, contact, row))
    .transpose()
}

/// The session `id` of `contact`, if held.
pub async fn get(
    conn: &mut SqliteConnection,
    key: &RowKey,
    contact: &str,
    id: &str,
) -> Result<Option<StoredSession>, StoreError> {
    sqlx::query("SELECT session_id, sealed FROM sessions WHERE contact = ? AND session_id = ?")
        .bind(contact)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(|row| unseal(key, contact, row))
        .transpose()
}

/// Saves `session`; `promote` makes it current. Older sessions beyond
/// [`MAX_SESSIONS_PER_CONTACT`] are deleted.
pub async fn save(
    conn: &mut SqliteConnection,
    key: &RowKey,
    contact: &str,
    stored: &StoredSession,
    promote: bool,
) -> Result<(), StoreError> {
    let sealed = key.seal(
        "sessions",
        &row_id(contact, &stored.id),
        &stored.session.to_bytes(),
    )?;
    let top: Option<i64> = sqlx::query_scalar("SELECT MAX(rank) FROM sessions WHERE contact = ?")
        .bind(contact)
        .fetch_one(&mut *conn)
        .await?;
    let next = top.unwrap_or(0).saturating_add(1);
    if promote {
        sqlx::query(
            "INSERT INTO sessions (contact, session_id, rank, sealed) VALUES (?, ?, ?, ?) \
             ON CONFLICT (contact, session_id) DO UPDATE SET sealed = excluded.sealed, rank = excluded.rank",
        )
    } else {
        sqlx::query(
            "INSERT INTO sessions (contact, session_id, rank, sealed) VALUES (?, ?, ?, ?) \
             ON CONFLICT (contact, session_id) DO UPDATE SET sealed = excluded.sealed",
        )
    }
    .bind(contact)
    .bind(&stored.id)
    .bind(next)
    .bind(sealed)
    .execute(&mut *conn)
    .await?;
    let keep = i64::try_from(MAX_SESSIONS_PER_CONTACT).unwrap_or(i64::MAX);
    sqlx::query(
        "DELETE FROM sessions WHERE contact = ? AND session_id NOT IN \
         (SELECT session_id FROM sessions WHERE contact = ? ORDER BY rank DESC LIMIT ?)",
    )
    .bind(contact)
    .bind(contact)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes every session of `contact` (its identity key changed: they belong to the old one).
pub async fn delete_all(conn: &mut SqliteConnection, contact: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE contact = ?")
        .bind(contact)
        .execute(conn)
        .await?;
    Ok(())
}
