//! `pqxdh demo --network`: the picture exchange through a real server. A `pqxdh-server` runs on
//! 127.0.0.1 with a temporary SQLite database; Alice and Bob get client stores, register, and
//! Alice shares the picture with Bob through the relay, then they exchange messages.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pqxdh::handshake::identity::fingerprint;
use pqxdh_client::{AccountOptions, Client, Content, NoProgress, Received, StoreProtection};
use pqxdh_server::{Config, Limits, Server};
use sha2::{Digest, Sha256};

use super::client_err;
use crate::error::CliError;

fn demo_err(what: impl std::fmt::Display) -> CliError {
    CliError::Demo(what.to_string())
}

async fn texts(client: &Client) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for received in client
        .receive(Duration::from_secs(5))
        .await
        .map_err(client_err)?
    {
        if let Received::Message(m) = received {
            out.push(format!("{}: {}", m.sender, m.content.summary()));
        }
    }
    Ok(out)
}

/// Runs the networked demo on `picture` in the temporary directory `dir`.
pub(crate) fn run(picture: &[u8], dir: &Path) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| demo_err(format!("runtime: {e}")))?;
    runtime.block_on(conversation(picture, dir))
}

async fn conversation(picture: &[u8], dir: &Path) -> Result<(), CliError> {
    let config = Config {
        listen: "127.0.0.1:0"
            .parse()
            .map_err(|e| demo_err(format!("address: {e}")))?,
        database_url: format!("sqlite://{}?mode=rwc", dir.join("server.db").display()),
        limits: Limits::default(),
    };
    let server = Server::bind(config).await.map_err(demo_err)?;
    let addr = server
        .local_addr()
        .ok_or_else(|| demo_err("server has no address"))?;
    let url = format!("http://{addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    println!(
        "== 1. A pqxdh-server runs on {url} (SQLite {})",
        dir.join("server.db").display()
    );

    println!("\n== 2. Alice and Bob create accounts: identity, prekeys, registration");
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let store = dir.join(format!("{name}.db"));
        let client = Client::create(
            &store,
            StoreProtection::Unprotected,
            &AccountOptions::new(name, &url),
        )
        .await
        .map_err(client_err)?;
        println!(
            "   {name}: fingerprint {} store {}",
            fingerprint(client.identity_key()),
            store.display()
        );
        clients.push(client);
    }
    let (Some(bob), Some(alice)) = (clients.pop(), clients.pop()) else {
        return Err(demo_err("accounts"));
    };

    let digest = hex::encode(Sha256::digest(picture));
    let file = dir.join("picture.png");
    std::fs::write(&file, picture).map_err(|e| demo_err(format!("{}: {e}", file.display())))?;
    println!(
        "\n== 3. Alice shares a picture ({} bytes, sha256 {digest}) with Bob: encrypted once \
         under a fresh key, uploaded; the key goes to Bob inside a PQXDH pre-key message",
        picture.len()
    );
    alice
        .share(&file, &["bob".to_owned()], Arc::new(NoProgress))
        .await
        .map_err(client_err)?;

    println!("\n== 4. Bob fetches his mail, downloads the file, checks and decrypts it");
    let received = bob
        .receive(Duration::from_secs(5))
        .await
        .map_err(client_err)?;
    let seq = received
        .iter()
        .find_map(|r| match r {
            Received::Message(m) if matches!(m.content, Content::File { .. }) => Some(m.seq),
            _ => None,
        })
        .ok_or_else(|| demo_err("Bob got no file"))?;
    let out = dir.join("bob-received");
    std::fs::create_dir_all(&out).map_err(|e| demo_err(format!("{}: {e}", out.display())))?;
    let saved = bob
        .download(seq, &out, Arc::new(NoProgress))
        .await
        .map_err(client_err)?;
    let got = std::fs::read(&saved).map_err(|e| demo_err(format!("{}: {e}", saved.display())))?;
    let got_digest = hex::encode(Sha256::digest(&got));
    println!("   saved {} sha256 {got_digest}", saved.display());
    if got_digest != digest {
        return Err(demo_err("the received picture differs"));
    }
    println!("   identical: the server stored only ciphertext and never saw the key");

    println!("\n== 5. A Double Ratchet conversation through the relay");
    bob.send_text("alice", "got the picture, thanks!")
        .await
        .map_err(client_err)?;
    for line in texts(&alice).await? {
        println!("   {line}");
    }
    alice
        .send_text("bob", "great: from here on every message has a fresh key")
        .await
        .map_err(client_err)?;
    for line in texts(&bob).await? {
        println!("   {line}");
    }
    let number = alice.safety_number("bob").await.map_err(client_err)?;
    let same = bob.safety_number("alice").await.map_err(client_err)?;
    println!(
        "\n== 6. Safety number (the same on both sides: {}):\n   {number}",
        number == same
    );
    if number != same {
        return Err(demo_err("safety numbers differ"));
    }
    alice.close().await;
    bob.close().await;
    let _ = stop.send(());
    let _ = serving.await;
    println!("\ndemo ok");
    Ok(())
}
