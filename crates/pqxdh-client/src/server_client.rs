//! Signed requests to one server for one account.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use pqxdh::{IdentityKeyPair, PreKeyBundle, PreKeyStore, PublicKey};
use pqxdh_api::signing::{
    HEADER_CONTENT_SHA256, now_ms, sign_request, sign_request_digest, valid_name,
};
use pqxdh_api::wire::{
    AttachmentReceipt, DepositRequest, DepositResponse, KeyCounts, KeysUpload, Mail,
    RegisterRequest,
};
use reqwest::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::ClientError;
use crate::progress::{NoProgress, Progress};

/// Bytes read from a file per hashing step and per streamed upload frame.
const FILE_CHUNK: usize = 64 * 1024;
/// Extra time allowed beyond a long poll's wait before the request counts as lost.
const POLL_GRACE: Duration = Duration::from_secs(10);
/// Time allowed for an ordinary request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An envelope fetched from the account's mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedEnvelope {
    /// The server's id: acknowledge it, and deduplicate on it.
    pub id: String,
    /// The sender's account, as the server authenticated it.
    pub sender: String,
    /// When the server accepted it (ms since the epoch).
    pub received_ms: u64,
    /// The body as sent.
    pub body: Vec<u8>,
}

/// One account's view of one server.
#[derive(Clone, Debug)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    account: String,
    identity: IdentityKeyPair,
}

/// The server's refusal as a typed error.
async fn refused(response: Response) -> ClientError {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    ClientError::Refused {
        status,
        code: field("error").unwrap_or_else(|| "unknown".to_owned()),
        message: field("message").unwrap_or_default(),
    }
}

async fn expect(response: Response, status: StatusCode) -> Result<Response, ClientError> {
    if response.status() == status {
        Ok(response)
    } else {
        Err(refused(response).await)
    }
}

async fn json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
}

impl ServerClient {
    /// A client for `account` at `base` (`http://host:port`).
    pub fn new(base: &str, account: &str, identity: IdentityKeyPair) -> Result<Self, ClientError> {
        if !valid_name(account) {
            return Err(ClientError::Protocol(format!(
                "invalid account name {account:?}"
            )));
        }
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base: base.trim_end_matches('/').to_owned(),
            account: account.to_owned(),
            identity,
        })
    }

    /// The account's identity key pair.
    pub fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let headers = sign_request(
            &self.identity,
            &self.account,
            method.as_str(),
            path,
            &body,
            now_ms(),
            &mut rand::rng(),
        );
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(timeout)
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response, ClientError> {
        Ok(self
            .request(method, path, body, REQUEST_TIMEOUT)
            .send()
            .await?)
    }

    fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(value).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Registers the account with everything public in `store`.
    pub async fn register(&self, store: &PreKeyStore) -> Result<(), ClientError> {
        let body = Self::to_json(&RegisterRequest::from_store(&self.account, store)?)?;
        let response = self.call(Method::POST, "/v1/accounts", body).await?;
        expect(response, StatusCode::CREATED).await.map(|_| ())
    }

    /// Deletes the account and everything the server holds for it (prekeys, the envelopes
    /// waiting for it, its attachments). Its name can then be registered again, with a new
    /// identity key: a reinstall, which its contacts see as an identity change.
    pub async fn delete_account(&self) -> Result<(), ClientError> {
        let response = self
            .call(Method::DELETE, "/v1/accounts", Vec::new())
            .await?;
        expect(response, StatusCode::NO_CONTENT).await.map(|_| ())
    }

    /// What the account has left on the server.
    pub async fn key_counts(&self) -> Result<KeyCounts, ClientError> {
        let response = self.call(Method::GET, "/v1/keys", Vec::new()).await?;
        json(expect(response, StatusCode::OK).await?).await
    }

    /// Uploads one-time prekeys and rotated signed or last-resort prekeys.
    pub async fn upload_keys(&self, upload: &KeysUpload) -> Result<(), ClientError> {
        let response = self
            .call(Method::PUT, "/v1/keys", Self::to_json(upload)?)
            .await?;
        expect(response, StatusCode::NO_CONTENT).await.map(|_| ())
    }

    /// Claims a bundle of `name` and verifies both its signatures before returning it.
    pub async fn bundle(&self, name: &str) -> Result<PreKeyBundle, ClientError> {
        let bundle = self.claim_bundle(name).await?;
        bundle.verify()?;
        Ok(bundle)
    }

    /// Claims a bundle of `name`, decoded (key encodings and the KEM key checked) but with its
    /// signatures not yet verified: for a caller that verifies through a
    /// [`VerifiedBundleCache`](pqxdh::VerifiedBundleCache), as [`Client`](crate::Client) does.
    pub async fn claim_bundle(&self, name: &str) -> Result<PreKeyBundle, ClientError> {
        let response = self
            .call(Method::GET, &format!("/v1/bundles/{name}"), Vec::new())
            .await?;
        let value: serde_json::Value = json(expect(response, StatusCode::OK).await?).await?;
        Ok(PreKeyBundle::from_json_value(&value)?)
    }

    /// Deposits `body` in `name`'s mailbox; returns the envelope id.
    pub async fn send(&self, name: &str, body: &[u8]) -> Result<String, ClientError> {
        self.send_to_key(name, body, None).await
    }

    /// [`send`](ServerClient::send), refused (409 `identity_changed`) unless `name`'s identity
    /// key is still `identity_key`.
    pub async fn send_to_key(
        &self,
        name: &str,
        body: &[u8],
        identity_key: Option<&PublicKey>,
    ) -> Result<String, ClientError> {
        let request = DepositRequest {
            body: STANDARD.encode(body),
            identity_key: identity_key.map(|k| hex::encode(k.encode())),
        };
        let response = self
            .call(
                Method::PUT,
                &format!("/v1/messages/{name}"),
                Self::to_json(&request)?,
            )
            .await?;
        let receipt: DepositResponse = json(expect(response, StatusCode::CREATED).await?).await?;
        Ok(receipt.id)
    }

    /// Waiting envelopes, oldest first; with none, waits up to `wait` (the server caps it).
    pub async fn fetch(&self, wait: Duration) -> Result<Vec<ReceivedEnvelope>, ClientError> {
        let path = format!("/v1/messages?wait={}", wait.as_secs());
        let response = self
            .request(Method::GET, &path, Vec::new(), wait + POLL_GRACE)
            .send()
            .await?;
        let mail: Mail = json(expect(response, StatusCode::OK).await?).await?;
        mail.envelopes
            .into_iter()
            .map(|e| {
                let body = STANDARD
                    .decode(e.body.as_bytes())
                    .map_err(|_| ClientError::Protocol("envelope body is not base64".into()))?;
                Ok(ReceivedEnvelope {
                    id: e.id,
                    sender: e.sender,
                    received_ms: e.received_ms,
                    body,
                })
            })
            .collect()
    }

    /// Acknowledges (deletes) an envelope. An envelope already gone counts as acknowledged.
    pub async fn acknowledge(&self, id: &str) -> Result<(), ClientError> {
        let response = self
            .call(Method::DELETE, &format!("/v1/messages/{id}"), Vec::new())
            .await?;
        match response.status() {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(refused(response).await),
        }
    }

    /// Uploads the file at `path` as an attachment, streamed: it is read twice (once to hash
    /// it for the signature, once to send it), never held whole in memory.
    pub async fn upload_attachment(&self, path: &Path) -> Result<AttachmentReceipt, ClientError> {
        self.upload_attachment_with_progress(path, Arc::new(NoProgress))
            .await
    }

    /// [`upload_attachment`](ServerClient::upload_attachment), reporting the bytes sent.
    pub async fn upload_attachment_with_progress(
        &self,
        path: &Path,
        progress: Arc<dyn Progress>,
    ) -> Result<AttachmentReceipt, ClientError> {
        let mut file = tokio::fs::File::open(path).await?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; FILE_CHUNK];
        loop {
            let n = file.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            hasher.update(buffer.get(..n).unwrap_or_default());
        }
        let digest: [u8; 32] = hasher.finalize().into();
        let length = file.metadata().await?.len();
        let file = tokio::fs::File::open(path).await?;
        let stream =
            tokio_util::io::ReaderStream::with_capacity(file, FILE_CHUNK).inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    progress.advance(bytes.len() as u64);
                }
            });
        let headers = sign_request_digest(
            &self.identity,
            &self.account,
            "POST",
            "/v1/attachments",
            &digest,
            now_ms(),
            &mut rand::rng(),
        );
        let mut request = self
            .http
            .post(format!("{}/v1/attachments", self.base))
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(stream));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        let receipt: AttachmentReceipt = json(expect(response, StatusCode::CREATED).await?).await?;
        if receipt.sha256 != hex::encode(digest) || receipt.size != length {
            return Err(ClientError::Protocol(
                "the server's receipt does not match the file".into(),
            ));
        }
        Ok(receipt)
    }

    /// Downloads attachment `id` into `out`, streamed, checking it against `sha256` (the digest
    /// the sender reported through the session, not the server's word). On a mismatch the
    /// caller must discard what was written.
    pub async fn download_attachment(
        &self,
        id: &str,
        sha256: &[u8; 32],
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> Result<u64, ClientError> {
        self.download_attachment_with_progress(id, sha256, out, &NoProgress)
            .await
    }

    /// [`download_attachment`](ServerClient::download_attachment), reporting the bytes received
    /// (a `"downloading"` phase over the response's length).
    pub async fn download_attachment_with_progress(
        &self,
        id: &str,
        sha256: &[u8; 32],
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
        progress: &dyn Progress,
    ) -> Result<u64, ClientError> {
        let response = self
            .request(
                Method::GET,
                &format!("/v1/attachments/{id}"),
                Vec::new(),
                Duration::from_secs(24 * 60 * 60),
            )
            .send()
            .await?;
        let response = expect(response, StatusCode::OK).await?;
        let claimed = response
            .headers()
            .get(HEADER_CONTENT_SHA256)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        progress.start("downloading", response.content_length().unwrap_or(0));
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
            progress.advance(chunk.len() as u64);
            size = size.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        }
        out.flush().await?;
        let digest: [u8; 32] = hasher.finalize().into();
        if &digest != sha256 || claimed.is_some_and(|c| c != hex::encode(digest)) {
            return Err(ClientError::Digest);
        }
        Ok(size)
    }
}
