//! The outbox (every message sent, with the envelope that carries it), the inbox (every message
//! received, once), envelopes held for a trust decision, and envelopes dropped with a reason.

use sqlx::{Row, SqliteConnection};
use zeroize::Zeroizing;

use crate::content::Content;
use crate::store::StoreError;
use crate::store::seal::RowKey;

/// A message in the outbox.
#[derive(Clone, Debug)]
pub struct OutgoingMessage {
    /// Position in the outbox: the sending order.
    pub seq: i64,
    /// Random id of the message.
    pub id: String,
    /// The recipient's account.
    pub recipient: String,
    /// What was sent.
    pub content: Content,
    /// The ratchet message carrying it.
    pub wire: Vec<u8>,
    /// Whether the server accepted it.
    pub delivered: bool,
    /// The server's envelope id, once delivered.
    pub envelope_id: Option<String>,
    /// When it was committed (ms since the epoch).
    pub created_ms: u64,
}

/// A message in the inbox.
#[derive(Clone, Debug)]
pub struct IncomingMessage {
    /// Position in the inbox: the order of arrival.
    pub seq: i64,
    /// The server's envelope id.
    pub envelope_id: String,
    /// The sender's account, as the server authenticated it and the session confirms.
    pub sender: String,
    /// When the server accepted it (ms since the epoch).
    pub received_ms: u64,
    /// What it says.
    pub content: Content,
    /// Whether it was shown.
    pub read: bool,
    /// Where its shared file was saved, once downloaded.
    pub saved_path: Option<String>,
}

fn ms(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn db_ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn content(key: &RowKey, table: &str, row: &str, sealed: &[u8]) -> Result<Content, StoreError> {
    let bytes = key.open(table, row, sealed)?;
    Content::from_bytes(&bytes).map_err(|_| StoreError::Corrupt("message content"))
}

/// Appends a committed message to the outbox.
pub async fn queue(
    conn: &mut SqliteConnection,
    key: &RowKey,
    id: &str,
    recipient: &str,
    content: &Content,
    wire: &[u8],
    now_ms: u64,
) -> Result<i64, StoreError> {
    let sealed_content = key.seal("outbox", id, &Zeroizing::new(content.to_bytes()))?;
    let sealed_wire = key.seal("outbox.wire", id, wire)?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (id, recipient, sealed_content, sealed_wire, created_ms) \
         VALUES (?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(id)
    .bind(recipient)
    .bind(sealed_content)
    .bind(sealed_wire)
    .bind(db_ms(now_ms))
    .fetch_one(conn)
    .await?;
    Ok(seq)
}

/// Replaces the ratchet message of an undelivered message (re-encrypted to a new identity key).
pub async fn replace_wire(
    conn: &mut SqliteConnection,
    key: &RowKey,
    id: &str,
    wire: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET sealed_wire = ? WHERE id = ? AND delivered = 0")
        .bind(key.seal("outbox.wire", id, wire)?)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a message delivered.
pub async fn mark_delivered(
    conn: &mut SqliteConnection,
    seq: i64,
    envelope_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET delivered = 1, envelope_id = ? WHERE seq = ?")
        .bind(envelope_id)
        .bind(seq)
        .execute(conn)
        .await?;
    Ok(())
}

/// Outbox messages in sending order: all, or only those not yet delivered.
pub async fn outbox(
    conn: &mut SqliteConnection,
    key: &RowKey,
    undelivered_only: bool,
) -> Result<Vec<OutgoingMessage>, StoreError> {
    let rows = if undelivered_only {
        sqlx::query("SELECT * FROM outbox WHERE delivered = 0 ORDER BY seq")
    } else {
        sqlx::query("SELECT * FROM outbox ORDER BY seq")
    }
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let wire = key.open(
                "outbox.wire",
                &id,
                &row.try_get::<Vec<u8>, _>("sealed_wire")?,
            )?;
            Ok(OutgoingMessage {
                seq: row.try_get("seq")?,
                recipient: row.try_get("recipient")?,
                content: content(
                    key,
                    "outbox",
                    &id,
                    &row.try_get::<Vec<u8>, _>("sealed_content")?,
                )?,
                wire: wire.to_vec(),
                delivered: row.try_get::<i64, _>("delivered")? != 0,
                envelope_id: row.try_get("envelope_id")?,
                created_ms: ms(row.try_get("created_ms")?),
                id,
            })
        })
        .collect()
}

/// Whether envelope `id` was already processed (stored, held or dropped).
pub async fn seen(conn: &mut SqliteConnection, id: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM inbox WHERE envelope_id = ?1) \
         + (SELECT COUNT(*) FROM held WHERE envelope_id = ?1) \
         + (SELECT COUNT(*) FROM dropped WHERE envelope_id = ?1)",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Stores a received message.
pub async fn receive(
    conn: &mut SqliteConnection,
    key: &RowKey,
    envelope_id: &str,
    sender: &str,
    received_ms: u64,
    content: &Content,
) -> Result<i64, StoreError> {
    let sealed = key.seal("inbox", envelope_id, &Zeroizing::new(content.to_bytes()))?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO inbox (envelope_id, sender, received_ms, sealed_content) \
         VALUES (?, ?, ?, ?) RETURNING seq",
    )
    .bind(envelope_id)
    .bind(sender)
    .bind(db_ms(received_ms))
    .bind(sealed)
    .fetch_one(conn)
    .await?;
    Ok(seq)
}

fn incoming(key: &RowKey, row: &sqlx::sqlite::SqliteRow) -> Result<IncomingMessage, StoreError> {
    let envelope_id: String = row.try_get("envelope_id")?;
    Ok(IncomingMessage {
        seq: row.try_get("seq")?,
        sender: row.try_get("sender")?,
        received_ms: ms(row.try_get("received_ms")?),
        content: content(
            key,
            "inbox",
            &envelope_id,
            &row.try_get::<Vec<u8>, _>("sealed_content")?,
        )?,
        read: row.try_get::<i64, _>("read")? != 0,
        saved_path: row.try_get("saved_path")?,
        envelope_id,
    })
}

/// Inbox messages in arrival order: all, or only those not yet shown.
pub async fn inbox(
    conn: &mut SqliteConnection,
    key: &RowKey,
    unread_only: bool,
) -> Result<Vec<IncomingMessage>, StoreError> {
    let rows = if unread_only {
        sqlx::query("SELECT * FROM inbox WHERE read = 0 ORDER BY seq")
    } else {
        sqlx::query("SELECT * FROM inbox ORDER BY seq")
    }
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| incoming(key, row)).collect()
}

/// One inbox message.
pub async fn inbox_message(
    conn: &mut SqliteConnection,
    key: &RowKey,
    seq: i64,
) -> Result<Option<IncomingMessage>, StoreError> {
    sqlx::query("SELECT * FROM inbox WHERE seq = ?")
        .bind(seq)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(|row| incoming(key, row))
        .transpose()
}

/// Marks inbox messages shown.
pub async fn mark_read(conn: &mut SqliteConnection, seqs: &[i64]) -> Result<(), StoreError> {
    for seq in seqs {
        sqlx::query("UPDATE inbox SET read = 1 WHERE seq = ?")
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Records where a shared file was saved.
pub async fn mark_saved(
    conn: &mut SqliteConnection,
    seq: i64,
    path: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE inbox SET saved_path = ? WHERE seq = ?")
        .bind(path)
        .bind(seq)
        .execute(conn)
        .await?;
    Ok(())
}

/// An envelope held until its sender's new identity key is trusted.
#[derive(Debug)]
pub struct HeldEnvelope {
    /// The server's envelope id.
    pub envelope_id: String,
    /// The sender.
    pub sender: String,
    /// When the server accepted it.
    pub received_ms: u64,
    /// The envelope body.
    pub body: Vec<u8>,
}

/// Holds an envelope.
pub async fn hold(
    conn: &mut SqliteConnection,
    key: &RowKey,
    envelope: &HeldEnvelope,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO held (envelope_id, sender, received_ms, sealed_body) VALUES (?, ?, ?, ?)",
    )
    .bind(&envelope.envelope_id)
    .bind(&envelope.sender)
    .bind(db_ms(envelope.received_ms))
    .bind(key.seal("held", &envelope.envelope_id, &envelope.body)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// The envelopes held for `sender`, in arrival order.
pub async fn held(
    conn: &mut SqliteConnection,
    key: &RowKey,
    sender: &str,
) -> Result<Vec<HeldEnvelope>, StoreError> {
    let rows = sqlx::query("SELECT * FROM held WHERE sender = ? ORDER BY seq")
        .bind(sender)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let envelope_id: String = row.try_get("envelope_id")?;
            let body = key.open(
                "held",
                &envelope_id,
                &row.try_get::<Vec<u8>, _>("sealed_body")?,
            )?;
            Ok(HeldEnvelope {
                sender: row.try_get("sender")?,
                received_ms: ms(row.try_get("received_ms")?),
                body: body.to_vec(),
                envelope_id,
            })
        })
        .collect()
}

/// Releases a held envelope (processed now).
pub async fn release(conn: &mut SqliteConnection, envelope_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM held WHERE envelope_id = ?")
        .bind(envelope_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records an envelope processed without a message, and why.
pub async fn drop_envelope(
    conn: &mut SqliteConnection,
    envelope_id: &str,
    sender: &str,
    reason: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR IGNORE INTO dropped (envelope_id, sender, reason, at_ms) VALUES (?, ?, ?, ?)",
    )
    .bind(envelope_id)
    .bind(sender)
    .bind(reason)
    .bind(db_ms(now_ms))
    .execute(conn)
    .await?;
    Ok(())
}

/// Dropped envelopes: (envelope id, sender, reason), oldest first.
pub async fn dropped(
    conn: &mut SqliteConnection,
) -> Result<Vec<(String, String, String)>, StoreError> {
    let rows =
        sqlx::query("SELECT envelope_id, sender, reason FROM dropped ORDER BY at_ms, envelope_id")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}
