//! Shared by the server's integration tests and its load benchmark: the real binary started on
//! 127.0.0.1 with a fresh database, and a minimal signed-request client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind};
use pqxdh::{IdentityKeyPair, KemType, PreKeyBundle, PreKeyStore};
use pqxdh_server::auth::{sign_request, sign_request_digest};
use pqxdh_server::wire::{Envelope, Mail, RegisterRequest};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Connection;

pub const SERVER: &str = env!("CARGO_BIN_EXE_pqxdh-server");
/// Admin URL of a PostgreSQL the tests may create databases in, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres` (`.ci/run` starts one and sets it).
pub const POSTGRES_ENV: &str = "PQXDH_TEST_POSTGRES_URL";

/// A database for one test: a SQLite file in a temporary directory, or a fresh PostgreSQL
/// database.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("server.db").display()
    );
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database, or `None` (with a message) when no PostgreSQL is configured.
/// Under CI a missing PostgreSQL fails the test instead.
pub async fn postgres_db() -> Option<TestDb> {
    let Ok(admin) = std::env::var(POSTGRES_ENV) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{POSTGRES_ENV} is not set: .ci/run must start PostgreSQL");
        }
        eprintln!("skipping: set {POSTGRES_ENV} to run the PostgreSQL suite");
        return None;
    };
    let mut id = [0u8; 8];
    rand::fill(&mut id);
    let name = format!("pqxdh_test_{}", hex::encode(id));
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(TestDb {
        url: format!("{base}/{name}"),
        _dir: None,
    })
}

/// The real server binary, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub base: String,
}

impl ServerProcess {
    pub fn start(db: &TestDb, args: &[&str]) -> Self {
        Self::spawn(db, args, Stdio::inherit(), "warn")
    }

    /// Started with every request logged (`info`) into `log`.
    pub fn start_logged(db: &TestDb, args: &[&str], log: &std::path::Path) -> Self {
        let file = std::fs::File::create(log).unwrap();
        Self::spawn(db, args, Stdio::from(file), "debug")
    }

    fn spawn(db: &TestDb, args: &[&str], stderr: Stdio, level: &str) -> Self {
        let mut child = Command::new(SERVER)
            .args(["--listen", "127.0.0.1:0", "--database-url", &db.url])
            .args(args)
            .env("RUST_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("pqxdh-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, base }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub use pqxdh_server::auth::now_ms;

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error code of an error body.
    pub fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

/// One account: its keys, and signed requests to one server.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub name: String,
    pub store: PreKeyStore,
}

impl Client {
    /// An account with `one_time` one-time EC and `pq` one-time PQ prekeys, not yet registered.
    pub fn new(base: &str, name: &str, one_time: u32, pq: u32) -> Self {
        let mut rng = rand::rng();
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut store = PreKeyStore::generate(identity, KemType::MlKem1024, &mut rng).unwrap();
        for id in 0..one_time {
            store.add_one_time_prekey(OneTimePreKey::generate(100 + id, &mut rng));
        }
        for id in 0..pq {
            let key = PqPreKey::generate(
                100 + id,
                PqPreKeyKind::OneTime,
                KemType::MlKem1024,
                store.identity(),
                &mut rng,
            )
            .unwrap();
            store.add_pq_prekey(key);
        }
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            name: name.to_owned(),
            store,
        }
    }

    pub fn headers(&self, method: &str, path: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        sign_request(
            self.store.identity(),
            &self.name,
            method,
            path,
            body,
            now_ms(),
            &mut rand::rng(),
        )
    }

    /// Sends a request with the given headers as they are.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Reply {
        self.send_raw_to(&self.base, method, path, headers, body)
            .await
    }

    /// As [`Self::send_raw`], to the server at `base` (another process on the same database).
    pub async fn send_raw_to(
        &self,
        base: &str,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{base}{path}"))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        // A transport failure (the server was killed) reads as 502, which the server never sends.
        let failed = |e: reqwest::Error| Reply {
            status: StatusCode::BAD_GATEWAY,
            body: e.to_string().into_bytes(),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return failed(e),
        };
        let status = response.status();
        match response.bytes().await {
            Ok(body) => Reply {
                status,
                body: body.to_vec(),
            },
            Err(e) => failed(e),
        }
    }

    /// A request signed now.
    pub async fn send(&self, method: Method, path: &str, body: Vec<u8>) -> Reply {
        self.send_to(&self.base, method, path, body).await
    }

    /// A request signed now, to the server at `base`.
    pub async fn send_to(&self, base: &str, method: Method, path: &str, body: Vec<u8>) -> Reply {
        let headers = self.headers(method.as_str(), path, &body);
        self.send_raw_to(base, method, path, &headers, body).await
    }

    pub fn registration(&self) -> Vec<u8> {
        serde_json::to_vec(&RegisterRequest::from_store(&self.name, &self.store).unwrap()).unwrap()
    }

    pub async fn register(&self) -> Reply {
        self.send(Method::POST, "/v1/accounts", self.registration())
            .await
    }

    /// A claimed bundle, its signatures verified by the core.
    pub async fn bundle(&self, target: &str) -> Result<PreKeyBundle, Reply> {
        self.bundle_from(&self.base, target).await
    }

    pub async fn bundle_from(&self, base: &str, target: &str) -> Result<PreKeyBundle, Reply> {
        let reply = self
            .send_to(
                base,
                Method::GET,
                &format!("/v1/bundles/{target}"),
                Vec::new(),
            )
            .await;
        if reply.status != StatusCode::OK {
            return Err(reply);
        }
        let bundle = PreKeyBundle::from_json_value(&reply.json()).unwrap();
        bundle.verify().unwrap();
        Ok(bundle)
    }

    pub async fn deposit(&self, target: &str, body: &[u8]) -> Reply {
        self.deposit_to(&self.base, target, body).await
    }

    pub async fn deposit_to(&self, base: &str, target: &str, body: &[u8]) -> Reply {
        let json = serde_json::json!({ "body": STANDARD.encode(body) });
        self.send_to(
            base,
            Method::PUT,
            &format!("/v1/messages/{target}"),
            serde_json::to_vec(&json).unwrap(),
        )
        .await
    }

    pub async fn fetch(&self, wait_secs: u64) -> Vec<Envelope> {
        let reply = self.fetch_reply(&self.base, wait_secs).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let mail: Mail = serde_json::from_slice(&reply.body).unwrap();
        mail.envelopes
    }

    /// Waiting mail from the server at `base`; `None` when the server is gone.
    pub async fn try_fetch_from(&self, base: &str, wait_secs: u64) -> Option<Vec<Envelope>> {
        let reply = self.fetch_reply(base, wait_secs).await;
        if reply.status == StatusCode::BAD_GATEWAY {
            return None;
        }
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let mail: Mail = serde_json::from_slice(&reply.body).unwrap();
        Some(mail.envelopes)
    }

    async fn fetch_reply(&self, base: &str, wait_secs: u64) -> Reply {
        self.send_to(
            base,
            Method::GET,
            &format!("/v1/messages?wait={wait_secs}"),
            Vec::new(),
        )
        .await
    }

    pub async fn ack(&self, id: &str) -> Reply {
        self.ack_at(&self.base, id).await
    }

    pub async fn ack_at(&self, base: &str, id: &str) -> Reply {
        self.send_to(
            base,
            Method::DELETE,
            &format!("/v1/messages/{id}"),
            Vec::new(),
        )
        .await
    }

    pub async fn upload(&self, data: Vec<u8>) -> Reply {
        let digest: [u8; 32] = Sha256::digest(&data).into();
        let headers = sign_request_digest(
            self.store.identity(),
            &self.name,
            "POST",
            "/v1/attachments",
            &digest,
            now_ms(),
            &mut rand::rng(),
        );
        self.send_raw(Method::POST, "/v1/attachments", &headers, data)
            .await
    }
}

/// The decoded body of an envelope.
pub fn body_of(envelope: &Envelope) -> Vec<u8> {
    STANDARD.decode(&envelope.body).unwrap()
}
