//! The server the client tests talk to: the server crate's own `Server` on 127.0.0.1 with a
//! temporary SQLite database.
#![allow(clippy::unwrap_used)]

use pqxdh_server::{Config, Limits, Server};

/// Starts a server; returns its base URL and the directory holding its database.
pub async fn server() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
        limits: Limits::default(),
    };
    let server = Server::bind(config).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    tokio::spawn(server.serve(std::future::pending()));
    (base, dir)
}
