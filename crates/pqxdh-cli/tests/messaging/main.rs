//! End to end through a real server process: three users of the `pqxdh` binary with real store
//! files, messages both ways, an offline recipient, out-of-order delivery, a 64 MiB file to two
//! recipients, one-time prekeys running out, a rotation mid-conversation and an identity change
//! refused until trusted; then a seeded crash loop that SIGKILLs clients mid-operation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod crash;
mod support;

use std::collections::HashMap;
use std::io::Write;

use pqxdh::WireMessage;
use pqxdh::sessions::establish::prekey_header;
use sha2::{Digest, Sha256};
use support::{ServerChild, User, postgres_url, sqlite_url};

/// Not a test: the body of the server child process the other tests start.
#[test]
fn server_child() {
    support::server_child_main();
}

/// No two different ciphertexts under one (sender, recipient, ratchet key, counter): a message
/// key never seals two plaintexts. Repeats of one envelope are allowed (resent after a crash).
pub fn assert_no_key_reuse(server: &ServerChild) -> usize {
    let mut seen: HashMap<(String, String, Vec<u8>, u32), Vec<u8>> = HashMap::new();
    let deposits = server.deposits();
    for d in &deposits {
        let wire = WireMessage::parse(&d.body).unwrap();
        let m = wire.message();
        let slot = (
            d.from.clone(),
            d.to.clone(),
            m.ratchet_key.encode().to_vec(),
            m.counter,
        );
        let body = m.ciphertext.clone();
        if let Some(previous) = seen.get(&slot) {
            assert_eq!(
                previous, &body,
                "two ciphertexts under one message key: {slot:?}"
            );
        } else {
            seen.insert(slot, body);
        }
    }
    deposits.len()
}

fn scenario(db: &str) {
    let server = ServerChild::start(db);
    let dir = tempfile::tempdir().unwrap();
    let alice = User::new(dir.path(), "alice", true);
    let bob = User::new(dir.path(), "bob", true);
    let carol = User::new(dir.path(), "carol", false);
    alice.create(&server, &[]);
    // One one-time prekey of each kind: the second initiator gets the last-resort key.
    bob.create(&server, &["--one-time-prekeys", "1"]);
    carol.create(&server, &[]);

    // Store files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&alice.store)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A protected store does not open without its passphrase.
    let out = std::process::Command::new(support::PQXDH)
        .args(["contacts", "--store"])
        .arg(&alice.store)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase-protected"));

    // Bob is offline while Alice and Carol write to him.
    alice.ok(&["send", "bob", "hello", "bob"]);
    alice.ok(&["send", "bob", "second"]);
    carol.ok(&["send", "bob", "hi from carol"]);
    let first: Vec<_> = server
        .deposits()
        .into_iter()
        .filter(|d| d.to == "bob")
        .map(|d| prekey_header(&d.body).unwrap().unwrap())
        .collect();
    assert_eq!(first.len(), 3);
    // Alice took the one-time keys; Carol got none and the last-resort PQ key (id 1).
    assert!(first[0].one_time_prekey_id.is_some());
    assert_eq!(first[2].one_time_prekey_id, None);
    assert_eq!(first[2].pq.as_ref().unwrap().prekey_id, 1);
    assert_eq!(bob.texts_from("alice"), ["hello bob", "second"]);
    assert_eq!(bob.texts_from("carol"), ["hi from carol"]);
    // Bob's upkeep replenished his one-time prekeys after they ran out.
    let shown = bob.ok(&["account", "show"]);
    assert!(
        shown.contains("1 one-time EC prekeys, 1 one-time PQ prekeys"),
        "{shown}"
    );

    // Replies: both ways.
    bob.ok(&["send", "alice", "hi", "alice"]);
    assert_eq!(alice.texts_from("bob"), ["hi alice"]);
    alice.ok(&["send", "bob", "third"]);

    // Out of order: two messages committed by Alice's client, deposited second-first; Alice's
    // next command delivers both again (Bob drops the repeats as duplicates).
    out_of_order(&alice, &bob, &server);

    // A rotation in the middle of the conversation: the conversation goes on, and a new
    // initiator uses the new signed prekey.
    let before = bob.ok(&["account", "show"]);
    bob.ok(&["account", "rotate"]);
    let after = bob.ok(&["account", "show"]);
    assert!(before.contains("signed prekey 1,"), "{before}");
    assert!(after.contains("signed prekey 2,"), "{after}");
    alice.ok(&["send", "bob", "after rotation"]);
    assert_eq!(
        bob.texts_from("alice"),
        [
            "hello bob",
            "second",
            "third",
            "late",
            "early",
            "after rotation"
        ]
    );
    let dave = User::new(dir.path(), "dave", false);
    dave.create(&server, &[]);
    dave.ok(&["send", "bob", "new contact"]);
    let header = prekey_header(&server.deposits().last().unwrap().body)
        .unwrap()
        .unwrap();
    assert_eq!(header.signed_prekey_id, 2);
    assert_eq!(bob.texts_from("dave"), ["new contact"]);

    // A 64 MiB file to two recipients, encrypted and uploaded once.
    let file = dir.path().join("big.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut block = [0u8; 65536];
        for i in 0..1024u32 {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (i as usize * 31 + j * 7) as u8;
            }
            f.write_all(&block).unwrap();
        }
    }
    let digest = hex::encode(Sha256::digest(std::fs::read(&file).unwrap()));
    let file_arg = file.to_str().unwrap();
    alice.ok(&["share", file_arg, "--to", "bob", "--to", "carol"]);
    for user in [&bob, &carol] {
        let out = dir.path().join(format!("{}-files", user.name));
        std::fs::create_dir(&out).unwrap();
        let said = user.ok(&["receive", "--out", out.to_str().unwrap()]);
        assert!(said.contains("saved"), "{said}");
        let got = std::fs::read(out.join("big.bin")).unwrap();
        assert_eq!(got.len(), 64 * 1024 * 1024);
        assert_eq!(hex::encode(Sha256::digest(&got)), digest);
        // Saved once: a second run finds nothing new.
        assert!(
            user.ok(&["receive", "--out", out.to_str().unwrap()])
                .contains("no new files")
        );
    }

    // Carol reinstalls: a new identity under the same name. Alice's next message is refused
    // by the server (the key she encrypted to is gone), and nothing is sent to Carol until
    // Alice accepts the new key.
    carol.ok(&["account", "delete", "--yes"]);
    std::fs::remove_file(&carol.store).unwrap();
    carol.create(&server, &[]);
    let refused = alice.run(&["send", "carol", "are you there?"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("identity key changed"), "{stderr}");
    assert!(alice.ok(&["contacts"]).contains("IDENTITY CHANGED"));
    let again = alice.run(&["send", "carol", "still refused"]);
    assert!(!again.status.success());
    assert!(carol.texts_from("alice").is_empty());
    let number = alice.ok(&["safety-number", "carol"]);
    assert!(number.contains("CHANGED"));
    alice.ok(&["trust", "carol"]);
    // The queued message went out to the new key.
    assert_eq!(carol.texts_from("alice"), ["are you there?"]);
    carol.ok(&["send", "alice", "new phone, same carol"]);
    assert_eq!(alice.texts_from("carol"), ["new phone, same carol"]);
    let digits = |s: &str| -> String { s.lines().next().unwrap().to_owned() };
    let alice_view = alice.ok(&["safety-number", "carol"]);
    let carol_view = carol.ok(&["safety-number", "alice"]);
    assert_eq!(digits(&alice_view), digits(&carol_view));
    assert_eq!(digits(&alice_view).split(' ').count(), 12);

    assert!(assert_no_key_reuse(&server) > 10);
}

fn out_of_order(alice: &User, bob: &User, server: &ServerChild) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = pqxdh_client::Client::open(&alice.store, Some(b"test passphrase"))
            .await
            .unwrap();
        let text = |t: &str| pqxdh_client::Content::Text { text: t.to_owned() };
        let early = client.queue("bob", &text("early")).await.unwrap();
        let late = client.queue("bob", &text("late")).await.unwrap();
        let key = client.contact("bob").await.unwrap().identity_key;
        for m in [&late, &early] {
            client
                .server()
                .send_to_key("bob", &m.wire, Some(&key))
                .await
                .unwrap();
        }
        client.close().await;
    });
    assert_eq!(
        bob.texts_from("alice"),
        ["hello bob", "second", "third", "late", "early"]
    );
    let before = server.deposits().len();
    alice.ok(&["sync"]);
    assert_eq!(server.deposits().len(), before + 2);
    bob.ok(&["sync"]);
    assert_eq!(
        bob.texts_from("alice"),
        ["hello bob", "second", "third", "late", "early"]
    );
}

#[test]
fn three_clients_through_a_server_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&sqlite_url(dir.path()));
}

#[test]
fn three_clients_through_a_server_postgres() {
    if let Some(url) = postgres_url() {
        scenario(&url);
    }
}

/// Several processes sending on one store at once: each encryption runs under the store's
/// write lock, so every message arrives once and no message key seals two ciphertexts.
#[test]
fn concurrent_processes_on_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerChild::start(&sqlite_url(dir.path()));
    let alice = User::new(dir.path(), "alice", false);
    let bob = User::new(dir.path(), "bob", false);
    alice.create(&server, &[]);
    bob.create(&server, &[]);
    alice.ok(&["send", "bob", "first"]);
    let children: Vec<_> = (0..6)
        .map(|i| {
            alice
                .command(&["send", "bob", &format!("parallel-{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let mut got = bob.texts_from("alice");
    assert_eq!(got.first().map(String::as_str), Some("first"));
    got.sort();
    let mut want: Vec<String> = (0..6).map(|i| format!("parallel-{i}")).collect();
    want.push("first".to_owned());
    want.sort();
    assert_eq!(got, want);
    assert!(alice.outbox().iter().all(|m| m["delivered"] == true));
    assert!(assert_no_key_reuse(&server) >= 7);
}
