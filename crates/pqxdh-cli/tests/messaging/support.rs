//! Test support: a pqxdh-server in a child process (this test binary, re-run from the server's
//! library crate) behind a recording proxy that keeps every deposited envelope, and the `pqxdh`
//! binary run against it with real store files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

pub const PQXDH: &str = env!("CARGO_BIN_EXE_pqxdh");
/// Admin URL of a PostgreSQL the tests may create databases in (`.ci/run` sets it).
pub const POSTGRES_ENV: &str = "PQXDH_TEST_POSTGRES_URL";
const CHILD_ENV: &str = "PQXDH_TEST_SERVER_CHILD";
const DB_ENV: &str = "PQXDH_TEST_SERVER_DB";
const RECORD_ENV: &str = "PQXDH_TEST_SERVER_RECORD";
const ADDR_ENV: &str = "PQXDH_TEST_SERVER_ADDR";
/// The passphrase tests give through `--passphrase-env`.
pub const PASS_ENV: &str = "PQXDH_TEST_PASSPHRASE";

/// The server child's body: runs when this binary is started as the server.
pub fn server_child_main() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let db = std::env::var(DB_ENV).unwrap();
    let record = PathBuf::from(std::env::var(RECORD_ENV).unwrap());
    let addr_file = PathBuf::from(std::env::var(ADDR_ENV).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = pqxdh_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db,
            limits: pqxdh_server::Limits::default(),
        };
        let server = pqxdh_server::Server::bind(config).await.unwrap();
        let upstream = format!("http://{}", server.local_addr().unwrap());
        tokio::spawn(server.serve(std::future::pending()));
        let proxy = Proxy {
            upstream,
            http: reqwest::Client::new(),
            record: std::sync::Arc::new(std::sync::Mutex::new(record)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tmp = addr_file.with_extension("tmp");
        std::fs::write(&tmp, format!("http://{addr}")).unwrap();
        std::fs::rename(&tmp, &addr_file).unwrap();
        let app = axum::Router::new().fallback(forward).with_state(proxy);
        axum::serve(listener, app).await.unwrap();
    });
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    record: std::sync::Arc<std::sync::Mutex<PathBuf>>,
}

/// Forwards a request to the server; a deposit's body is appended to the record first (one
/// JSON line: sender, recipient, envelope body), as the server receives it.
async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 512 * 1024 * 1024).await.unwrap();
    let path = parts.uri.path().to_owned();
    if parts.method == axum::http::Method::PUT
        && let Some(to) = path.strip_prefix("/v1/messages/")
    {
        let from = parts
            .headers
            .get("x-pqxdh-account")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let request: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let line = serde_json::json!({"from": from, "to": to, "body": request["body"]});
        let record = proxy.record.lock().unwrap();
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*record)
            .unwrap();
        writeln!(file, "{line}").unwrap();
        file.sync_data().unwrap();
    }
    let url = format!(
        "{}{}",
        proxy.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut upstream = proxy.http.request(parts.method.clone(), url).body(bytes);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let Ok(answer) = upstream.send().await else {
        return Response::builder().status(502).body(Body::empty()).unwrap();
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let body = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(body)).unwrap()
}

/// A deposit the proxy saw.
#[derive(Debug, Clone)]
pub struct Deposit {
    pub from: String,
    pub to: String,
    pub body: Vec<u8>,
}

/// The server child process with its proxy, killed when dropped.
pub struct ServerChild {
    child: Child,
    pub url: String,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerChild {
    /// Starts a server on `db` (a SQLite URL or a fresh PostgreSQL database).
    pub fn start(db: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("deposits.jsonl");
        let addr = dir.path().join("addr");
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["server_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env(DB_ENV, db)
            .env(RECORD_ENV, &record)
            .env(ADDR_ENV, &addr)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !addr.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = std::fs::read_to_string(&addr).unwrap();
        Self {
            child,
            url,
            record,
            _dir: dir,
        }
    }

    /// Every deposit so far, in order.
    pub fn deposits(&self) -> Vec<Deposit> {
        use base64::Engine;
        let Ok(text) = std::fs::read_to_string(&self.record) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                Deposit {
                    from: v["from"].as_str().unwrap().to_owned(),
                    to: v["to"].as_str().unwrap().to_owned(),
                    body: base64::engine::general_purpose::STANDARD
                        .decode(v["body"].as_str().unwrap())
                        .unwrap(),
                }
            })
            .collect()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SQLite database URL in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("server.db").display())
}

/// A fresh PostgreSQL database's URL, or `None` when none is configured (required under CI).
pub fn postgres_url() -> Option<String> {
    let Ok(admin) = std::env::var(POSTGRES_ENV) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{POSTGRES_ENV} is not set: .ci/run must start PostgreSQL");
        }
        eprintln!("skipping: set {POSTGRES_ENV} to run against PostgreSQL");
        return None;
    };
    let name = format!("pqxdh_cli_{:016x}", rand::random::<u64>());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// One user: a store file and the `pqxdh` binary pointed at it.
pub struct User {
    pub name: String,
    pub store: PathBuf,
    pub protected: bool,
}

impl User {
    pub fn new(dir: &Path, name: &str, protected: bool) -> Self {
        Self {
            name: name.to_owned(),
            store: dir.join(format!("{name}.db")),
            protected,
        }
    }

    /// The command with the store and passphrase flags.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(PQXDH);
        command.args(args).arg("--store").arg(&self.store);
        if self.protected {
            command
                .args(["--passphrase-env", PASS_ENV])
                .env(PASS_ENV, "test passphrase");
        }
        command.stdin(Stdio::null());
        command
    }

    /// Runs `pqxdh ARGS`, returning its output whatever its status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `pqxdh ARGS` and returns stdout; fails the test on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {:?} failed: {}{}",
            self.name,
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `account new` on `server`.
    pub fn create(&self, server: &ServerChild, extra: &[&str]) {
        let mut args = vec![
            "account",
            "new",
            self.name.as_str(),
            "--server",
            server.url.as_str(),
        ];
        if !self.protected {
            args.push("--no-passphrase");
        }
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    /// Every inbox message as JSON (after fetching new ones).
    pub fn inbox(&self) -> Vec<serde_json::Value> {
        self.ok(&["inbox", "--all", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Texts received from `from`, in arrival order.
    pub fn texts_from(&self, from: &str) -> Vec<String> {
        self.inbox()
            .iter()
            .filter(|m| m["from"] == from && m["type"] == "text")
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The outbox as JSON.
    pub fn outbox(&self) -> Vec<serde_json::Value> {
        self.ok(&["outbox", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
