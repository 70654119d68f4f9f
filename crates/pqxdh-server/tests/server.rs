//! The real `pqxdh-server` binary on 127.0.0.1, driven over HTTP: every scenario runs against
//! a temporary SQLite database and against a fresh PostgreSQL database (when
//! `PQXDH_TEST_POSTGRES_URL` is set; `.ci/run` sets it, and under CI it is required).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pqxdh::{Backend, accept, initiate};
use reqwest::{Method, StatusCode};
use sqlx::Row;
use support::{Client, ServerProcess, TestDb, body_of, now_ms, postgres_db, sqlite_db};

/// Runs one scenario on both databases.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::sqlite_db()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = super::postgres_db().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

on_both!(
    conversation_through_the_relay,
    one_time_prekeys_run_out_then_replenish_and_rotate,
    registration_is_checked,
    requests_are_authenticated,
    mailbox_delivery_and_limits,
    attachments_stream_with_a_limit,
    bundle_fetches_are_rate_limited,
    concurrent_claims_hand_out_each_key_once,
    two_servers_share_one_database,
    kill_nine_loses_nothing_acknowledged,
    large_attachments_stream_in_bounded_memory,
    malformed_and_oversized_bodies,
    an_account_deletes_itself_and_its_name_is_free_again,
);

async fn registered(server: &ServerProcess, name: &str, one_time: u32, pq: u32) -> Client {
    let client = Client::new(&server.base, name, one_time, pq);
    let reply = client.register().await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    client
}

async fn upload_keys(client: &Client, upload: &pqxdh_server::wire::KeysUpload) -> support::Reply {
    client
        .send(Method::PUT, "/v1/keys", serde_json::to_vec(upload).unwrap())
        .await
}

async fn counts(client: &Client) -> (u64, u64) {
    let reply = client.send(Method::GET, "/v1/keys", Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    (
        json["one_time_prekeys"].as_u64().unwrap(),
        json["pq_prekeys"].as_u64().unwrap(),
    )
}

/// Rows in a table, read straight from the server's database.
async fn rows(db: &TestDb, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    pool.close().await;
    n
}

async fn conversation_through_the_relay(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = ServerProcess::start_logged(&db, &[], &log);
    let alice = registered(&server, "alice", 2, 2).await;
    let mut bob = registered(&server, "bob", 2, 2).await;

    let bundle = alice.bundle("bob").await.unwrap();
    assert_eq!(bundle.identity_key, *bob.store.identity().public_key());
    let mut rng = rand::rng();
    let mut sent = initiate(
        alice.store.identity(),
        &bundle,
        Backend::default(),
        &mut rng,
    )
    .unwrap();
    let first = sent.session.encrypt(b"hello bob", &mut rng).unwrap();
    assert_eq!(
        alice.deposit("bob", &first).await.status,
        StatusCode::CREATED
    );

    let mail = bob.fetch(0).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].sender, "alice");
    assert_eq!(body_of(&mail[0]), first);
    let (mut received, plaintext) =
        accept(&mut bob.store, &body_of(&mail[0]), Backend::default()).unwrap();
    assert_eq!(plaintext, b"hello bob");
    assert_eq!(received.session_id, sent.session_id);
    assert_eq!(bob.ack(&mail[0].id).await.status, StatusCode::NO_CONTENT);
    assert!(bob.fetch(0).await.is_empty());

    let reply = received.session.encrypt(b"hello alice", &mut rng).unwrap();
    assert_eq!(
        bob.deposit("alice", &reply).await.status,
        StatusCode::CREATED
    );
    let mail = alice.fetch(0).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].sender, "bob");
    assert_eq!(
        sent.session.decrypt(&body_of(&mail[0])).unwrap(),
        b"hello alice"
    );

    // The log names routes and statuses, never key material or bodies.
    let health = alice.send(Method::GET, "/v1/health", Vec::new()).await;
    assert_eq!(health.status, StatusCode::OK);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/v1/bundles/{name}"),
        "requests are logged: {text}"
    );
    let secrets = [
        hex::encode(bob.store.identity().public_key().encode()),
        hex::encode(alice.store.identity().public_key().encode()),
        hex::encode(bundle.signed_prekey.key.encode()),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &first),
        hex::encode(&first[..32]),
    ];
    for secret in secrets {
        assert!(!text.contains(&secret[..24]), "log leaks {secret}");
    }
}

async fn one_time_prekeys_run_out_then_replenish_and_rotate(db: TestDb) {
    let server = ServerProcess::start(&db, &[]);
    let alice = registered(&server, "alice", 0, 0).await;
    let mut bob = registered(&server, "bob", 3, 2).await;
    assert_eq!(counts(&bob).await, (3, 2));

    let mut opks = Vec::new();
    let mut pqs = Vec::new();
    for _ in 0..4 {
        let bundle = alice.bundle("bob").await.unwrap();
        opks.push(bundle.one_time_prekey.map(|k| k.id));
        pqs.push((bundle.pq_prekey.id, bundle.pq_prekey.last_resort));
    }
    assert_eq!(opks, [Some(100), Some(101), Some(102), None]);
    assert_eq!(pqs, [(100, false), (101, false), (1, true), (1, true)]);
    assert_eq!(counts(&bob).await, (0, 0));

    // Replenish: new one-time keys are handed out next.
    let mut rng = rand::rng();
    let new_opk = pqxdh::handshake::prekey::OneTimePreKey::generate(500, &mut rng);
    let new_pq = pqxdh::handshake::prekey::PqPreKey::generate(
        500,
        pqxdh::handshake::prekey::PqPreKeyKind::OneTime,
        pqxdh::KemType::MlKem1024,
        bob.store.identity(),
        &mut rng,
    )
    .unwrap();
    let upload = pqxdh_server::wire::KeysUpload {
        one_time_prekeys: vec![(&new_opk.public()).into()],
        pq_prekeys: vec![(&new_pq.public()).into()],
        ..Default::default()
    };
    let reply = upload_keys(&bob, &upload).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    // The same upload again (a retry) adds nothing twice.
    let reply = upload_keys(&bob, &upload).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(counts(&bob).await, (1, 1));
    let bundle = alice.bundle("bob").await.unwrap();
    assert_eq!(bundle.one_time_prekey.map(|k| k.id), Some(500));
    assert_eq!(
        (bundle.pq_prekey.id, bundle.pq_prekey.last_resort),
        (500, false)
    );

    // Rotation: the store's new signed and last-resort keys replace the server's.
    let later = pqxdh::handshake::clock::Timestamp(now_ms() / 1000 + 365 * 86_400);
    let rotated = bob.store.rotate(later, &mut rng);
    assert!(rotated.is_ok(), "{rotated:?}");
    let signed = bob.store.current_signed_prekey().unwrap().public();
    let last_resort = bob.store.last_resort_pq_prekey().unwrap().public();
    assert_ne!(signed.id, 1);
    let upload = pqxdh_server::wire::KeysUpload {
        signed_prekey: Some((&signed).into()),
        last_resort_pq_prekey: Some((&last_resort).into()),
        ..Default::default()
    };
    let reply = upload_keys(&bob, &upload).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let bundle = alice.bundle("bob").await.unwrap();
    assert_eq!(bundle.signed_prekey.id, signed.id);
    assert_eq!(bundle.pq_prekey.id, last_resort.id);
    assert!(bundle.pq_prekey.last_resort);
    assert!(bundle.one_time_prekey.is_none());

    // A key signed by someone else is refused and changes nothing.
    let eve = Client::new(&server.base, "eve", 1, 1);
    let foreign = pqxdh_server::wire::KeysUpload {
        signed_prekey: Some((&eve.store.current_signed_prekey().unwrap().public()).into()),
        pq_prekeys: eve
            .store
            .pq_prekeys()
            .filter(|k| k.kind() == pqxdh::handshake::prekey::PqPreKeyKind::OneTime)
            .map(|k| (&k.public()).into())
            .collect(),
        ..Default::default()
    };
    let reply = upload_keys(&bob, &foreign).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code(), "invalid_key");
    assert_eq!(counts(&bob).await, (0, 0));
    assert_eq!(
        alice.bundle("bob").await.unwrap().signed_prekey.id,
        signed.id
    );
}

async fn registration_is_checked(db: TestDb) {
    let server = ServerProcess::start(&db, &[]);
    let bob = Client::new(&server.base, "bob", 1, 1);
    let good: serde_json::Value = serde_json::from_slice(&bob.registration()).unwrap();
    let attempt = |mutate: &dyn Fn(&mut serde_json::Value)| {
        let mut body = good.clone();
        mutate(&mut body);
        serde_json::to_vec(&body).unwrap()
    };
    let flip_hex = |text: &str| {
        let mut bytes = hex::decode(text).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        hex::encode(bytes)
    };
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            attempt(&|b| {
                b["signed_prekey"]["signature"] =
                    flip_hex(b["signed_prekey"]["signature"].as_str().unwrap()).into()
            }),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            attempt(&|b| {
                b["last_resort_pq_prekey"]["signature"] =
                    flip_hex(b["last_resort_pq_prekey"]["signature"].as_str().unwrap()).into()
            }),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            // An ML-KEM key whose coefficients are not reduced fails FIPS 203 section 7.2.
            attempt(&|b| {
                let key = b["pq_prekeys"][0]["key"].as_str().unwrap();
                b["pq_prekeys"][0]["key"] = format!("{}{}", &key[..2], "ff".repeat(1568)).into();
            }),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            attempt(&|b| b["one_time_prekeys"][0]["key"] = "05".into()),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            attempt(&|b| b["extra"] = 1.into()),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (b"{not json".to_vec(), StatusCode::BAD_REQUEST, "malformed"),
        (
            attempt(&|b| b["name"] = "Bob!".into()),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            attempt(&|b| b["name"] = "carol".into()),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            // Signed by a key other than the identity key it registers.
            attempt(&|b| {
                b["identity_key"] = hex::encode(
                    Client::new("", "x", 0, 0)
                        .store
                        .identity()
                        .public_key()
                        .encode(),
                )
                .into()
            }),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
    ];
    for (body, status, code) in cases {
        let reply = bob.send(Method::POST, "/v1/accounts", body).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{reply:?}"
        );
    }
    assert_eq!(
        rows(&db, "accounts").await,
        0,
        "nothing stored by refused registrations"
    );
    assert_eq!(rows(&db, "one_time_prekeys").await, 0);

    // A registration whose identity key does not match the signing key.
    let mallory = Client::new(&server.base, "bob", 0, 0);
    let body = bob.registration();
    let headers = mallory.headers("POST", "/v1/accounts", &body);
    let reply = bob
        .send_raw(Method::POST, "/v1/accounts", &headers, body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    assert_eq!(bob.register().await.status, StatusCode::CREATED);
    assert_eq!(rows(&db, "one_time_prekeys").await, 1);
    let again = Client::new(&server.base, "bob", 0, 0);
    let reply = again.register().await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::CONFLICT, "conflict")
    );
    // The first bob's keys stand.
    let alice = registered(&server, "alice", 0, 0).await;
    assert_eq!(
        alice.bundle("bob").await.unwrap().identity_key,
        *bob.store.identity().public_key()
    );
}

async fn requests_are_authenticated(db: TestDb) {
    let server = ServerProcess::start(&db, &["--max-clock-skew-ms", "60000"]);
    let alice = registered(&server, "alice", 0, 0).await;
    let bob = registered(&server, "bob", 0, 0).await;
    let body = serde_json::to_vec(&serde_json::json!({ "body": "aGVsbG8=" })).unwrap();
    let path = "/v1/messages/bob";

    let unauthenticated = |reply: &support::Reply| {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    };
    // No headers.
    unauthenticated(&alice.send_raw(Method::PUT, path, &[], body.clone()).await);
    // Eve signs as alice with her own key.
    let eve = Client::new(&server.base, "alice", 0, 0);
    unauthenticated(&eve.send(Method::PUT, path, body.clone()).await);
    // Unknown account.
    let nobody = Client::new(&server.base, "nobody", 0, 0);
    unauthenticated(&nobody.send(Method::PUT, path, body.clone()).await);
    // The body is not the one signed.
    let headers = alice.headers("PUT", path, &body);
    let other = serde_json::to_vec(&serde_json::json!({ "body": "aGVsbG9v" })).unwrap();
    unauthenticated(&alice.send_raw(Method::PUT, path, &headers, other).await);
    // Signed for another path or method.
    let headers = alice.headers("PUT", "/v1/messages/alice", &body);
    unauthenticated(
        &alice
            .send_raw(Method::PUT, path, &headers, body.clone())
            .await,
    );
    let headers = alice.headers("POST", path, &body);
    unauthenticated(
        &alice
            .send_raw(Method::PUT, path, &headers, body.clone())
            .await,
    );
    // A stale timestamp.
    let stale = pqxdh_server::auth::sign_request(
        alice.store.identity(),
        "alice",
        "PUT",
        path,
        &body,
        now_ms() - 120_000,
        &mut rand::rng(),
    );
    unauthenticated(
        &alice
            .send_raw(Method::PUT, path, &stale, body.clone())
            .await,
    );
    assert!(bob.fetch(0).await.is_empty(), "nothing was deposited");

    // A good request goes through once; its replay is refused and stores nothing.
    let headers = alice.headers("PUT", path, &body);
    let first = alice
        .send_raw(Method::PUT, path, &headers, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let replay = alice
        .send_raw(Method::PUT, path, &headers, body.clone())
        .await;
    assert_eq!(
        (replay.status, replay.code().as_str()),
        (StatusCode::UNAUTHORIZED, "replayed")
    );
    assert_eq!(bob.fetch(0).await.len(), 1);
    // A replayed bundle fetch or acknowledgement is refused the same way.
    let headers = bob.headers("GET", "/v1/keys", b"");
    assert_eq!(
        bob.send_raw(Method::GET, "/v1/keys", &headers, Vec::new())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        bob.send_raw(Method::GET, "/v1/keys", &headers, Vec::new())
            .await
            .code(),
        "replayed"
    );
}

async fn mailbox_delivery_and_limits(db: TestDb) {
    let server = ServerProcess::start(&db, &["--mailbox-quota", "3", "--max-envelope", "1000"]);
    let alice = registered(&server, "alice", 0, 0).await;
    let bob = registered(&server, "bob", 0, 0).await;

    let reply = alice.deposit("nobody", b"x").await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let reply = alice.deposit("bob", &[7u8; 1001]).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
    let reply = alice
        .send(
            Method::PUT,
            "/v1/messages/bob",
            br#"{"body":"not base64!"}"#.to_vec(),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    // A deposit naming an identity key the recipient no longer has is refused.
    let other = hex::encode(alice.store.identity().public_key().encode());
    let stale = format!(r#"{{"body":"eA==","identity_key":"{other}"}}"#);
    let reply = alice
        .send(Method::PUT, "/v1/messages/bob", stale.into_bytes())
        .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::CONFLICT, "identity_changed")
    );
    let reply = alice
        .send(
            Method::PUT,
            "/v1/messages/bob",
            br#"{"body":"eA==","identity_key":"zz"}"#.to_vec(),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    assert_eq!(rows(&db, "envelopes").await, 0);
    let current = hex::encode(bob.store.identity().public_key().encode());
    let fresh = format!(r#"{{"body":"eA==","identity_key":"{current}"}}"#);
    let reply = alice
        .send(Method::PUT, "/v1/messages/bob", fresh.into_bytes())
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let mail = bob.fetch(0).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(bob.ack(&mail[0].id).await.status, StatusCode::NO_CONTENT);

    // A long poll wakes when mail arrives.
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        let mail = bob.fetch(20).await;
        (bob, mail, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        alice.deposit("bob", b"one").await.status,
        StatusCode::CREATED
    );
    let (bob, mail, waited) = waiter.await.unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(body_of(&mail[0]), b"one");
    assert!(
        waited < Duration::from_secs(10),
        "woken by the deposit, not the timeout: {waited:?}"
    );

    // At least once: unacknowledged mail comes again, in order, with the same ids.
    assert_eq!(
        alice.deposit("bob", b"two").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        alice.deposit("bob", b"three").await.status,
        StatusCode::CREATED
    );
    let reply = alice.deposit("bob", b"four").await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded")
    );
    let first = bob.fetch(0).await;
    let again = bob.fetch(0).await;
    assert_eq!(first, again);
    let bodies: Vec<Vec<u8>> = first.iter().map(body_of).collect();
    assert_eq!(
        bodies,
        [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );

    // Only the recipient acknowledges; twice is harmless.
    assert_eq!(alice.ack(&first[0].id).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.ack(&first[0].id).await.status, StatusCode::NO_CONTENT);
    assert_eq!(bob.ack(&first[0].id).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.fetch(0).await.len(), 2);
    assert_eq!(
        alice.deposit("bob", b"four").await.status,
        StatusCode::CREATED
    );
    assert!(
        alice.fetch(0).await.is_empty(),
        "alice's mailbox is hers alone"
    );
}

async fn attachments_stream_with_a_limit(db: TestDb) {
    let server = ServerProcess::start(
        &db,
        &[
            "--max-attachment",
            "3000000",
            "--attachment-quota",
            "4000000",
        ],
    );
    let alice = registered(&server, "alice", 0, 0).await;
    let bob = registered(&server, "bob", 0, 0).await;
    let mut data = vec![0u8; 2_500_000];
    rand::fill(&mut data[..]);

    let reply = alice.upload(data.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let receipt: pqxdh_server::wire::AttachmentReceipt =
        serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(receipt.size, 2_500_000);
    let path = format!("/v1/attachments/{}", receipt.id);
    let got = bob.send(Method::GET, &path, Vec::new()).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body == data, "downloaded bytes equal the upload");
    assert_eq!(rows(&db, "attachment_chunks").await, 39, "64 KiB rows");

    // Too large: refused, nothing left behind.
    let reply = alice.upload(vec![1u8; 3_000_001]).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
    // A body that is not the signed one: refused, nothing left behind.
    let headers = alice.headers("POST", "/v1/attachments", b"something else");
    let reply = alice
        .send_raw(
            Method::POST,
            "/v1/attachments",
            &headers,
            vec![2u8; 200_000],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Past the account's storage quota (2.5 MB stored, 4 MB allowed): refused, nothing kept.
    let reply = alice.upload(vec![3u8; 1_600_000]).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded")
    );
    assert_eq!(rows(&db, "attachments").await, 1);
    assert_eq!(rows(&db, "attachment_chunks").await, 39);

    // Only the uploader deletes.
    assert_eq!(
        bob.send(Method::DELETE, &path, Vec::new()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        alice.send(Method::DELETE, &path, Vec::new()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        bob.send(Method::GET, &path, Vec::new()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(rows(&db, "attachment_chunks").await, 0);
}

async fn bundle_fetches_are_rate_limited(db: TestDb) {
    let server = ServerProcess::start(
        &db,
        &[
            "--bundle-rate-capacity",
            "3",
            "--bundle-pair-rate-capacity",
            "2",
        ],
    );
    let alice = registered(&server, "alice", 0, 0).await;
    let erin = registered(&server, "erin", 0, 0).await;
    for name in ["bob", "carol", "dave"] {
        registered(&server, name, 5, 5).await;
    }
    assert!(alice.bundle("bob").await.is_ok());
    assert!(alice.bundle("bob").await.is_ok());
    let refused = alice.bundle("bob").await.unwrap_err();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "rate_limited");
    assert!(String::from_utf8_lossy(&refused.body).contains("bundle_pair"));
    assert!(alice.bundle("carol").await.is_ok());
    let refused = alice.bundle("dave").await.unwrap_err();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(String::from_utf8_lossy(&refused.body).contains("(bundle)"));
    // Another requester has its own buckets; refused fetches claimed nothing.
    assert!(erin.bundle("bob").await.is_ok());
    let reply = erin.send(Method::GET, "/v1/bundles/dave", Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        PreKeyBundleIds::of(&reply.json()).one_time,
        Some(100),
        "dave's first one-time key was not taken by the refused fetch"
    );
}

struct PreKeyBundleIds {
    one_time: Option<u64>,
}

impl PreKeyBundleIds {
    fn of(json: &serde_json::Value) -> Self {
        Self {
            one_time: json["one_time_prekey"]["id"].as_u64(),
        }
    }
}

/// 64 concurrent fetches against 50 one-time keys of each kind, spread over `servers`.
async fn claim_race(servers: &[&ServerProcess]) {
    registered(servers[0], "bob", 50, 50).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let requester = registered(servers[i % servers.len()], &format!("r{i}"), 0, 0).await;
        tasks.push(tokio::spawn(async move {
            requester.bundle("bob").await.unwrap()
        }));
    }
    let mut opks = Vec::new();
    let mut pqs = Vec::new();
    let mut without = 0;
    let mut last_resort = 0;
    for task in tasks {
        let bundle = task.await.unwrap();
        match bundle.one_time_prekey {
            Some(k) => opks.push(k.id),
            None => without += 1,
        }
        if bundle.pq_prekey.last_resort {
            last_resort += 1;
        } else {
            pqs.push(bundle.pq_prekey.id);
        }
    }
    let distinct: HashSet<u32> = opks.iter().copied().collect();
    assert_eq!((opks.len(), distinct.len(), without), (50, 50, 14));
    let distinct: HashSet<u32> = pqs.iter().copied().collect();
    assert_eq!((pqs.len(), distinct.len(), last_resort), (50, 50, 14));
}

async fn concurrent_claims_hand_out_each_key_once(db: TestDb) {
    let server = ServerProcess::start(&db, &[]);
    claim_race(&[&server]).await;
}

async fn two_servers_share_one_database(db: TestDb) {
    let a = ServerProcess::start(&db, &[]);
    let b = ServerProcess::start(&db, &[]);
    claim_race(&[&a, &b]).await;

    // Mail deposited through one process wakes a long poll waiting in the other.
    let carol = registered(&a, "carol", 0, 0).await;
    let dave = registered(&b, "dave", 0, 0).await;
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        (carol.fetch(20).await, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        dave.deposit("carol", b"across").await.status,
        StatusCode::CREATED
    );
    let (mail, waited) = waiter.await.unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(body_of(&mail[0]), b"across");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

/// Generous bundle limits, so the fault test claims as fast as it can.
const UNLIMITED: [&str; 4] = [
    "--bundle-rate-capacity",
    "1000000",
    "--bundle-pair-rate-capacity",
    "1000000",
];

async fn kill_nine_loses_nothing_acknowledged(db: TestDb) {
    let mut server = ServerProcess::start(&db, &UNLIMITED);
    let alice = std::sync::Arc::new(registered(&server, "alice", 0, 0).await);
    let bob = std::sync::Arc::new(registered(&server, "bob", 60, 60).await);
    let mut accepted: Vec<u32> = Vec::new();
    let mut claimed: Vec<u32> = Vec::new();
    let mut delivered: HashSet<u32> = HashSet::new();
    let mut next = 0u32;

    // Three rounds: deposits, bundle claims, fetches and acknowledgements run while the server
    // is killed with SIGKILL under them at a different moment each time, then it restarts on
    // the same database.
    for round in 0..3u64 {
        let base = server.base.clone();
        let sender = {
            let alice = alice.clone();
            let base = base.clone();
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                let mut claimed = Vec::new();
                for i in next.. {
                    let reply = alice.deposit_to(&base, "bob", &i.to_be_bytes()).await;
                    match reply.status {
                        StatusCode::CREATED => accepted.push(i),
                        StatusCode::BAD_GATEWAY => break,
                        other => panic!("deposit refused: {other}"),
                    }
                    if i % 3 == 0
                        && let Ok(bundle) = alice.bundle_from(&base, "bob").await
                        && let Some(k) = bundle.one_time_prekey
                    {
                        claimed.push(k.id);
                    }
                }
                (accepted, claimed)
            })
        };
        let receiver = {
            let bob = bob.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let Some(mail) = bob.try_fetch_from(&base, 1).await else {
                        break;
                    };
                    for envelope in mail {
                        seen.push(u32::from_be_bytes(body_of(&envelope).try_into().unwrap()));
                        if bob.ack_at(&base, &envelope.id).await.status == StatusCode::BAD_GATEWAY {
                            return seen;
                        }
                    }
                }
                seen
            })
        };
        tokio::time::sleep(Duration::from_millis(400 + 250 * round)).await;
        server.kill();
        let (sent, got) = sender.await.unwrap();
        assert!(
            !sent.is_empty(),
            "round {round}: deposits were accepted before the kill"
        );
        next = sent.last().copied().unwrap_or(next) + 1;
        accepted.extend(sent);
        claimed.extend(got);
        // Fetched envelopes whose acknowledgement died with the server come again: the id is
        // what a client deduplicates on, and the body numbers stand for it here.
        delivered.extend(receiver.await.unwrap());
        server = ServerProcess::start(&db, &UNLIMITED);
    }

    let base = server.base.clone();
    loop {
        let mail = bob.try_fetch_from(&base, 0).await.unwrap();
        if mail.is_empty() {
            break;
        }
        for envelope in mail {
            delivered.insert(u32::from_be_bytes(body_of(&envelope).try_into().unwrap()));
            assert_eq!(
                bob.ack_at(&base, &envelope.id).await.status,
                StatusCode::NO_CONTENT
            );
        }
    }
    for i in &accepted {
        assert!(
            delivered.contains(i),
            "deposit {i} was answered 201 and then lost"
        );
    }
    // Claim what is left: no one-time key is handed out twice across the crashes.
    while let Ok(bundle) = alice.bundle_from(&base, "bob").await {
        match bundle.one_time_prekey {
            Some(k) => claimed.push(k.id),
            None => break,
        }
    }
    let distinct: HashSet<u32> = claimed.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        claimed.len(),
        "a one-time prekey was handed out twice"
    );
    // A claim in flight when the server died may have committed with its answer lost: at
    // most one key per kill is gone without reaching anyone (never handed out twice).
    assert!(
        (57..=60).contains(&distinct.len()),
        "{} of 60 one-time prekeys reached a requester",
        distinct.len()
    );
}

async fn malformed_and_oversized_bodies(db: TestDb) {
    let server = ServerProcess::start(&db, &["--max-json-body", "10000"]);
    let bob = registered(&server, "bob", 0, 0).await;
    let reply = bob.send(Method::PUT, "/v1/keys", vec![b' '; 10_001]).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
    let reply = bob.send(Method::PUT, "/v1/keys", b"[]".to_vec()).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let reply = bob
        .send(
            Method::PUT,
            "/v1/keys",
            br#"{"one_time_prekeys":[{"id":1,"key":"zz"}]}"#.to_vec(),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );
    let reply = bob
        .send(Method::GET, "/v1/messages?wait=abc", Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = bob.send(Method::PATCH, "/v1/keys", Vec::new()).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let reply = bob.send(Method::GET, "/v1/nothing", Vec::new()).await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(rows(&db, "one_time_prekeys").await, 0);

    let health = bob.send(Method::GET, "/v1/health", Vec::new()).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    let metrics = bob.send(Method::GET, "/metrics", Vec::new()).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("pqxdh_registrations_total 1"), "{text}");
    assert!(text.contains("pqxdh_accounts 1"), "{text}");
}

/// Peak resident memory of a process, from `/proc` (Linux), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

async fn large_attachments_stream_in_bounded_memory(db: TestDb) {
    const SIZE: usize = 64 * 1024 * 1024;
    let server = ServerProcess::start(&db, &[]);
    let alice = registered(&server, "alice", 0, 0).await;
    let mut data = vec![0u8; SIZE];
    rand::fill(&mut data[..]);
    let reply = alice.upload(data.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let receipt: pqxdh_server::wire::AttachmentReceipt =
        serde_json::from_slice(&reply.body).unwrap();
    let got = alice
        .send(
            Method::GET,
            &format!("/v1/attachments/{}", receipt.id),
            Vec::new(),
        )
        .await;
    assert!(got.body == data, "the 64 MiB blob comes back intact");
    let Some(peak) = peak_rss(server.pid()) else {
        eprintln!("skipping the memory check: no /proc");
        return;
    };
    eprintln!(
        "server peak RSS after a 64 MiB round trip: {} MiB",
        peak >> 20
    );
    assert!(
        peak < (SIZE as u64) / 2,
        "the server held the blob in memory: peak {peak} bytes"
    );
}

async fn an_account_deletes_itself_and_its_name_is_free_again(db: TestDb) {
    let server = ServerProcess::start(&db, &[]);
    let alice = registered(&server, "alice", 2, 2).await;
    let bob = registered(&server, "bob", 0, 0).await;
    let deposited = [
        bob.deposit("alice", b"for alice").await,
        alice.deposit("bob", b"for bob").await,
    ];
    for reply in deposited {
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    let reply = alice.upload(vec![5u8; 100_000]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let receipt: pqxdh_server::wire::AttachmentReceipt =
        serde_json::from_slice(&reply.body).unwrap();
    let attachment = format!("/v1/attachments/{}", receipt.id);
    // Signed before the deletion, sent after it.
    let keys = alice.headers("GET", "/v1/keys", b"");
    let delete = alice.headers("DELETE", "/v1/accounts", b"");

    let reply = alice
        .send_raw(Method::DELETE, "/v1/accounts", &delete, Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    for table in [
        "one_time_prekeys",
        "pq_prekeys",
        "attachments",
        "attachment_chunks",
    ] {
        assert_eq!(rows(&db, table).await, 0, "{table} keeps nothing of alice");
    }
    assert_eq!(rows(&db, "envelopes").await, 1, "only the envelope for bob");

    let unauthenticated = |reply: support::Reply| {
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{reply:?}"
        );
    };
    unauthenticated(
        alice
            .send_raw(Method::DELETE, "/v1/accounts", &delete, Vec::new())
            .await,
    );
    unauthenticated(
        alice
            .send_raw(Method::GET, "/v1/keys", &keys, Vec::new())
            .await,
    );
    unauthenticated(alice.send(Method::GET, "/v1/messages", Vec::new()).await);
    let not_found = |reply: support::Reply| {
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{reply:?}"
        );
    };
    not_found(bob.bundle("alice").await.err().unwrap());
    not_found(bob.deposit("alice", b"too late").await);
    not_found(bob.send(Method::GET, &attachment, Vec::new()).await);
    let mail = bob.fetch(0).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(
        (mail[0].sender.as_str(), body_of(&mail[0])),
        ("alice", b"for bob".to_vec())
    );

    // The same key registered again: the deletion's replay is still refused, as its nonce
    // outlives the account.
    assert_eq!(alice.register().await.status, StatusCode::CREATED);
    let replay = alice
        .send_raw(Method::DELETE, "/v1/accounts", &delete, Vec::new())
        .await;
    assert_eq!(
        (replay.status, replay.code().as_str()),
        (StatusCode::UNAUTHORIZED, "replayed")
    );
    let reply = alice.send(Method::DELETE, "/v1/accounts", Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");

    // A reinstall: the name again, under a new identity key, which bundles now carry.
    let reinstalled = registered(&server, "alice", 1, 1).await;
    let bundle = bob.bundle("alice").await.unwrap();
    assert_eq!(
        bundle.identity_key,
        *reinstalled.store.identity().public_key()
    );
    assert_ne!(bundle.identity_key, *alice.store.identity().public_key());
    assert_eq!(bundle.one_time_prekey.map(|k| k.id), Some(100));
    assert!(
        reinstalled.fetch(0).await.is_empty(),
        "a new, empty mailbox"
    );
    unauthenticated(alice.send(Method::GET, "/v1/keys", Vec::new()).await);
}
