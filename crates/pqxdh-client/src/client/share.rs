//! Sharing files as Signal shares attachments: the file is encrypted once under a fresh key
//! (an attachment body, SPEC.md section 9.4) and uploaded; each recipient gets the reference,
//! key and ciphertext digest inside a message of their session, so the key has the ratchet's
//! forward secrecy and the server never sees it.

use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pqxdh_files::DEFAULT_SEGMENT_SIZE;
use pqxdh_files::attachment::{AttachmentKey, decrypt_attachment, encrypt_attachment};
use zeroize::Zeroizing;

use super::Client;
use crate::content::{Content, safe_file_name};
use crate::error::Error;
use crate::progress::Progress;
use crate::store::messages::{self, OutgoingMessage};

/// A file shared with its recipients.
#[derive(Clone, Debug)]
pub struct SharedFile {
    /// The name the recipients see.
    pub name: String,
    /// The plaintext size.
    pub size: u64,
    /// The server's attachment id.
    pub attachment: String,
    /// The message to each recipient, committed (and delivered unless an error was returned).
    pub messages: Vec<OutgoingMessage>,
}

struct Counting<R> {
    inner: R,
    progress: Arc<dyn Progress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

fn io(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{what}: {e}"))
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok().and_then(|b| b.try_into().ok())
}

/// `dir/name`, or `dir/name (n)` for the first n that is free.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (1u32..)
        .map(|n| dir.join(format!("{name} ({n})")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

impl Client {
    /// Encrypts the file at `path` once, uploads it and sends its reference to each of `to`.
    pub async fn share(
        &self,
        path: &Path,
        to: &[String],
        progress: Arc<dyn Progress>,
    ) -> Result<SharedFile, Error> {
        // Refuse before the upload what queueing would refuse after it.
        for (i, name) in to.iter().enumerate() {
            if !pqxdh_api::signing::valid_name(name) || to.iter().take(i).any(|n| n == name) {
                return Err(Error::InvalidName(name.clone()));
            }
            if name == self.account() {
                return Err(Error::SelfMessage);
            }
            if let Ok(c) = self.contact(name).await
                && c.pending_key.is_some()
            {
                return Err(Error::IdentityChanged(name.clone()));
            }
        }
        let name = safe_file_name(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let size = std::fs::metadata(path)
            .map_err(|e| io(&path.display().to_string(), e))?
            .len();
        let key = AttachmentKey::generate(&mut rand::rng());
        let encrypted = tempfile::NamedTempFile::new().map_err(|e| io("temporary file", e))?;
        let input = std::fs::File::open(path).map_err(|e| io(&path.display().to_string(), e))?;
        let output = encrypted.reopen().map_err(|e| io("temporary file", e))?;
        let key_bytes = Zeroizing::new(*key.as_bytes());
        let task_progress = progress.clone();
        progress.start("encrypting", size);
        tokio::task::spawn_blocking(move || {
            let key = AttachmentKey::from_bytes(*key_bytes);
            encrypt_attachment(
                &key,
                DEFAULT_SEGMENT_SIZE,
                Counting {
                    inner: BufReader::new(input),
                    progress: task_progress,
                },
                BufWriter::new(output),
            )
        })
        .await
        .map_err(|e| io("encryption task", e))??;
        progress.finish();
        let cipher_len = encrypted
            .as_file()
            .metadata()
            .map_err(|e| io("temporary file", e))?
            .len();
        progress.start("uploading", cipher_len);
        let receipt = self
            .server
            .upload_attachment_with_progress(encrypted.path(), progress.clone())
            .await?;
        progress.finish();
        let content = Content::File {
            name: name.clone(),
            size,
            attachment: receipt.id.clone(),
            sha256: receipt.sha256.clone(),
            key: hex::encode(key.as_bytes()),
        };
        let mut sent = Vec::new();
        let mut first_error = None;
        for recipient in to {
            match self.queue(recipient, &content).await {
                Ok(m) => sent.push(m),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let delivered = self.deliver().await;
        if let Some(e) = first_error {
            return Err(e);
        }
        delivered?;
        Ok(SharedFile {
            name,
            size,
            attachment: receipt.id,
            messages: sent,
        })
    }

    /// Downloads the file shared in inbox message `seq`, checks its digest, decrypts it and
    /// writes it into `dir` atomically (never over an existing file: ` (n)` is appended).
    /// Returns the path written.
    pub async fn download(
        &self,
        seq: i64,
        dir: &Path,
        progress: Arc<dyn Progress>,
    ) -> Result<PathBuf, Error> {
        let message = {
            let mut conn = self.store.read().await?;
            messages::inbox_message(&mut conn, self.store.key(), seq).await?
        };
        let Some(Content::File {
            name,
            size,
            attachment,
            sha256,
            key,
        }) = message.map(|m| m.content)
        else {
            return Err(Error::NoSuchFile(seq));
        };
        let digest = hex32(&sha256).ok_or(Error::NoSuchFile(seq))?;
        let key = Zeroizing::new(hex32(&key).ok_or(Error::NoSuchFile(seq))?);
        let encrypted =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| io(&dir.display().to_string(), e))?;
        let mut out =
            tokio::fs::File::from_std(encrypted.reopen().map_err(|e| io("temporary file", e))?);
        let cipher_len = self
            .server
            .download_attachment_with_progress(&attachment, &digest, &mut out, progress.as_ref())
            .await?;
        progress.finish();
        drop(out);
        let plain =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| io(&dir.display().to_string(), e))?;
        let input = encrypted.reopen().map_err(|e| io("temporary file", e))?;
        let output = plain.reopen().map_err(|e| io("temporary file", e))?;
        let task_progress = progress.clone();
        progress.start("decrypting", cipher_len);
        let summary = tokio::task::spawn_blocking(move || {
            let key = AttachmentKey::from_bytes(*key);
            decrypt_attachment(
                &key,
                Counting {
                    inner: BufReader::new(input),
                    progress: task_progress,
                },
                BufWriter::new(output),
            )
        })
        .await
        .map_err(|e| io("decryption task", e))??;
        progress.finish();
        if summary.plaintext_len != size {
            return Err(Error::Io(format!(
                "the file is {} bytes, its sender said {size}",
                summary.plaintext_len
            )));
        }
        plain
            .as_file()
            .sync_all()
            .map_err(|e| io("temporary file", e))?;
        let target = free_path(dir, &safe_file_name(&name));
        plain
            .persist_noclobber(&target)
            .map_err(|e| io(&target.display().to_string(), e.error))?;
        let mut tx = self.store.write().await?;
        messages::mark_saved(&mut tx, seq, &target.display().to_string()).await?;
        tx.commit().await?;
        Ok(target)
    }
}
