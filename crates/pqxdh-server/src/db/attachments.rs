//! Attachments: opaque encrypted blobs stored as numbered chunk rows, written as they stream
//! in and read back one chunk at a time, so no request holds a whole file in memory. A blob is
//! visible only once complete; an interrupted upload's rows are deleted.

use sqlx::Row;

use super::{Db, from_db, to_db};

/// A stored attachment's metadata.
#[derive(Clone, Debug)]
pub struct AttachmentInfo {
    /// Total size in bytes.
    pub size: u64,
    /// SHA-256 of the whole blob, as its uploader signed it.
    pub sha256: Vec<u8>,
    /// Number of chunk rows.
    pub chunks: u64,
}

impl Db {
    /// Starts an upload: an incomplete attachment row.
    pub async fn begin_attachment(
        &self,
        id: &str,
        owner: &str,
        sha256: &[u8; 32],
        now_ms: u64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO attachments (id, owner, size, complete, sha256, created_ms) \
             VALUES ($1, $2, 0, 0, $3, $4)",
        )
        .bind(id)
        .bind(owner)
        .bind(sha256.to_vec())
        .bind(to_db(now_ms))
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Stores chunk `seq` of an upload.
    pub async fn put_chunk(&self, id: &str, seq: u64, data: Vec<u8>) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO attachment_chunks (attachment, seq, data) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(to_db(seq))
            .bind(data)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Marks an upload complete with its final size.
    pub async fn finish_attachment(&self, id: &str, size: u64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE attachments SET size = $1, complete = 1 WHERE id = $2")
            .bind(to_db(size))
            .bind(id)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Deletes an attachment and its chunks (a failed upload, or its owner's request).
    pub async fn delete_attachment(&self, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM attachment_chunks WHERE attachment = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM attachments WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// A complete attachment's metadata, if it exists.
    pub async fn attachment(&self, id: &str) -> Result<Option<AttachmentInfo>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT size, sha256, (SELECT COUNT(*) FROM attachment_chunks WHERE attachment = $1) \
             FROM attachments WHERE id = $1 AND complete = 1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(AttachmentInfo {
                size: from_db(r.try_get(0)?),
                sha256: r.try_get(1)?,
                chunks: from_db(r.try_get(2)?),
            })
        })
        .transpose()
    }

    /// The owner of an attachment (complete or not).
    pub async fn attachment_owner(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT owner FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Chunk `seq` of an attachment.
    pub async fn chunk(&self, id: &str, seq: u64) -> Result<Option<Vec<u8>>, sqlx::Error> {
        sqlx::query_scalar("SELECT data FROM attachment_chunks WHERE attachment = $1 AND seq = $2")
            .bind(id)
            .bind(to_db(seq))
            .fetch_optional(self.pool())
            .await
    }

    /// Bytes `owner` has stored (complete attachments; an upload in progress counts its
    /// declared size through the caller).
    pub async fn attachment_bytes(&self, owner: &str) -> Result<u64, sqlx::Error> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(size) AS BIGINT) FROM attachments WHERE owner = $1 AND complete = 1",
        )
        .bind(owner)
        .fetch_one(self.pool())
        .await?;
        Ok(from_db(n.unwrap_or(0)))
    }

    /// Removes complete attachments created before `before_ms` (retention).
    pub async fn prune_old_attachments(&self, before_ms: u64) -> Result<u64, sqlx::Error> {
        self.delete_attachments_before(1, before_ms).await
    }

    /// Removes incomplete uploads older than `before_ms` (left by a crash mid-upload).
    pub async fn prune_incomplete_attachments(&self, before_ms: u64) -> Result<u64, sqlx::Error> {
        self.delete_attachments_before(0, before_ms).await
    }

    /// Deletes, with their chunks, the attachments of completeness `complete` created before
    /// `before_ms`.
    async fn delete_attachments_before(
        &self,
        complete: i64,
        before_ms: u64,
    ) -> Result<u64, sqlx::Error> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM attachments WHERE complete = $1 AND created_ms < $2",
        )
        .bind(complete)
        .bind(to_db(before_ms))
        .fetch_all(self.pool())
        .await?;
        let mut removed = 0;
        for id in ids {
            if self.delete_attachment(&id).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}
