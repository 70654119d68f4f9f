//! Load benchmark for the real `pqxdh-server` binary: K sender accounts each deposit M
//! envelopes (200 random bytes) to their own recipient account, all pairs at once, while the
//! recipients long-poll (`wait=1`), fetch and acknowledge until they hold all their mail.
//!
//! Three configurations: SQLite (one server), PostgreSQL (one server), and two servers on one
//! PostgreSQL (senders on the first, recipients on the second). The PostgreSQL rows need
//! `PQXDH_TEST_POSTGRES_URL` (an admin URL; `.ci/postgres start` prints one).
//!
//! ```sh
//! PQXDH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:54329/postgres \
//!     cargo bench -p pqxdh-server --bench load
//! ```
//!
//! `PQXDH_LOAD_CLIENTS` (default 8) and `PQXDH_LOAD_ENVELOPES` (default 250) set K and M.
//! Prints a markdown section and writes it to `target/server-load.md`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Client, ServerProcess, TestDb, body_of, postgres_db, sqlite_db};

const BODY_LEN: usize = 200;
/// A whole configuration must finish within this, or the benchmark fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// Deposit start times of one pair's envelopes, by the first 16 bytes of their body.
type Pending = Arc<Mutex<HashMap<[u8; 16], Instant>>>;

struct Row {
    label: String,
    envelopes: usize,
    wall: Duration,
    deposit: Vec<Duration>,
    fetch_ack: Vec<Duration>,
    delivery: Vec<Duration>,
    /// Peak resident set (VmHWM) of each server process, in KiB.
    rss_kib: Vec<u64>,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{model}, {cpus} logical CPUs")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn p50_p99(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    format!(
        "{} / {}",
        ms(percentile(samples, 0.50)),
        ms(percentile(samples, 0.99))
    )
}

async fn registered(base: &str, name: &str) -> Client {
    let client = Client::new(base, name, 0, 0);
    let reply = client.register().await;
    assert_eq!(reply.status, StatusCode::CREATED, "{name}: {reply:?}");
    client
}

/// Runs one configuration: senders register and deposit through `senders_at`, recipients
/// register, fetch and acknowledge through `recipients_at`.
async fn run(label: &str, servers: &[&ServerProcess], k: usize, m: usize) -> Row {
    let senders_at = servers[0].base.clone();
    let recipients_at = servers[servers.len() - 1].base.clone();
    let mut senders = Vec::with_capacity(k);
    let mut recipients = Vec::with_capacity(k);
    for i in 0..k {
        recipients.push(registered(&recipients_at, &format!("recipient{i}")).await);
        senders.push(registered(&senders_at, &format!("sender{i}")).await);
    }

    let started = Instant::now();
    let mut send_tasks = Vec::with_capacity(k);
    let mut receive_tasks = Vec::with_capacity(k);
    for (i, (sender, recipient)) in senders.into_iter().zip(recipients).enumerate() {
        let pending: Pending = Arc::new(Mutex::new(HashMap::with_capacity(m)));
        let target = format!("recipient{i}");
        let sent = pending.clone();
        send_tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(m);
            for _ in 0..m {
                let mut body = [0u8; BODY_LEN];
                rand::fill(&mut body[..]);
                let key: [u8; 16] = body[..16].try_into().unwrap();
                let t0 = Instant::now();
                sent.lock().unwrap().insert(key, t0);
                let reply = sender.deposit(&target, &body).await;
                latencies.push(t0.elapsed());
                assert_eq!(reply.status, StatusCode::CREATED, "deposit: {reply:?}");
            }
            latencies
        }));
        receive_tasks.push(tokio::spawn(async move {
            let mut seen = HashSet::with_capacity(m);
            let mut fetch_ack = Vec::with_capacity(m);
            let mut delivery = Vec::with_capacity(m);
            while seen.len() < m {
                let t0 = Instant::now();
                for envelope in recipient.fetch(1).await {
                    let reply = recipient.ack(&envelope.id).await;
                    assert_eq!(reply.status, StatusCode::NO_CONTENT, "ack: {reply:?}");
                    if !seen.insert(envelope.id.clone()) {
                        continue;
                    }
                    let now = Instant::now();
                    fetch_ack.push(now - t0);
                    let body = body_of(&envelope);
                    let key: [u8; 16] = body[..16].try_into().unwrap();
                    let deposited = pending.lock().unwrap().remove(&key);
                    if let Some(deposited) = deposited {
                        delivery.push(now - deposited);
                    }
                }
            }
            (fetch_ack, delivery)
        }));
    }

    let mut deposit = Vec::with_capacity(k * m);
    let mut fetch_ack = Vec::with_capacity(k * m);
    let mut delivery = Vec::with_capacity(k * m);
    let all = async {
        for task in send_tasks {
            deposit.extend(task.await.unwrap());
        }
        for task in receive_tasks {
            let (f, d) = task.await.unwrap();
            fetch_ack.extend(f);
            delivery.extend(d);
        }
    };
    tokio::time::timeout(RUN_TIMEOUT, all)
        .await
        .unwrap_or_else(|_| panic!("{label}: not done within {RUN_TIMEOUT:?}"));
    let wall = started.elapsed();

    Row {
        label: label.to_owned(),
        envelopes: k * m,
        wall,
        deposit,
        fetch_ack,
        delivery,
        rss_kib: servers
            .iter()
            .map(|s| status_kib(s.pid(), "VmHWM:"))
            .collect(),
    }
}

fn table(rows: &mut [Row]) -> Vec<String> {
    let mut lines = vec![
        "| configuration | envelopes | wall (s) | envelopes/s | deposit p50 / p99 (ms) | fetch→ack p50 / p99 (ms) | deposit→ack p50 / p99 (ms) | server peak RSS (MiB) |".to_owned(),
        "|---|---:|---:|---:|---:|---:|---:|---:|".to_owned(),
    ];
    for row in rows {
        #[allow(clippy::cast_precision_loss)]
        let rate = row.envelopes as f64 / row.wall.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let rss = row
            .rss_kib
            .iter()
            .map(|kib| format!("{:.1}", *kib as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(" + ");
        lines.push(format!(
            "| {} | {} | {:.2} | {:.0} | {} | {} | {} | {} |",
            row.label,
            row.envelopes,
            row.wall.as_secs_f64(),
            rate,
            p50_p99(&mut row.deposit),
            p50_p99(&mut row.fetch_ack),
            p50_p99(&mut row.delivery),
            rss,
        ));
    }
    lines
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let k = env_usize("PQXDH_LOAD_CLIENTS", 8);
    let m = env_usize("PQXDH_LOAD_ENVELOPES", 250);
    assert!(
        k > 0 && m > 0,
        "PQXDH_LOAD_CLIENTS and PQXDH_LOAD_ENVELOPES must be > 0"
    );
    eprintln!("load: {k} senders x {m} envelopes of {BODY_LEN} B each");

    let mut rows = Vec::new();
    let mut notes = Vec::new();

    {
        let db = sqlite_db();
        let server = ServerProcess::start(&db, &[]);
        eprintln!("load: SQLite, one server");
        rows.push(run("SQLite, 1 server", &[&server], k, m).await);
    }

    let pg: Option<TestDb> = postgres_db().await;
    if let Some(db) = pg {
        let server = ServerProcess::start(&db, &[]);
        eprintln!("load: PostgreSQL, one server");
        rows.push(run("PostgreSQL, 1 server", &[&server], k, m).await);
        drop(server);
        // A second, fresh database, so both PostgreSQL rows start from empty tables.
        if let Some(db) = postgres_db().await {
            let a = ServerProcess::start(&db, &[]);
            let b = ServerProcess::start(&db, &[]);
            eprintln!("load: PostgreSQL, two servers");
            rows.push(
                run(
                    "PostgreSQL, 2 servers (senders on one, recipients on the other)",
                    &[&a, &b],
                    k,
                    m,
                )
                .await,
            );
        }
    } else {
        let note = format!(
            "PostgreSQL rows skipped: set {} to an admin URL to run them.",
            support::POSTGRES_ENV
        );
        eprintln!("load: {note}");
        notes.push(format!("_{note}_"));
    }

    let written = chrono_free_utc_now();
    let mut out = vec![
        "## Server load (pqxdh-server)".to_owned(),
        String::new(),
        format!(
            "Written by `benches/load.rs` of `crates/pqxdh-server`: the real server binary on 127.0.0.1, {k} sender accounts each depositing {m} envelopes of {BODY_LEN} random bytes to their own recipient account, all pairs concurrently, while each recipient long-polls (`GET /v1/messages?wait=1`), fetches and acknowledges (one `DELETE` per envelope) until it holds all {m}. Every request is signed. The load generator (a tokio multi-thread runtime), the server and PostgreSQL run on the same machine and share its CPUs."
        ),
        String::new(),
        "- envelopes/s: all envelopes deposited and acknowledged, over the wall time from the first deposit to the last acknowledgement (account registration excluded).".to_owned(),
        "- deposit: one `PUT /v1/messages/{recipient}` request, sent to `201 Created`.".to_owned(),
        "- fetch→ack: from sending the fetch that returned an envelope to that envelope's acknowledgement answered (includes the long-poll wait and earlier acknowledgements of the same batch).".to_owned(),
        "- deposit→ack: from sending the deposit to the recipient's acknowledgement answered.".to_owned(),
        "- server peak RSS: `VmHWM` of each server process after the run (two servers: first + second).".to_owned(),
        String::new(),
        "```sh".to_owned(),
        "PQXDH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:54329/postgres \\".to_owned(),
        "    cargo bench -p pqxdh-server --bench load".to_owned(),
        "```".to_owned(),
        String::new(),
        "`PQXDH_LOAD_CLIENTS` (default 8) and `PQXDH_LOAD_ENVELOPES` (default 250) set the number of pairs and envelopes per pair; without `PQXDH_TEST_POSTGRES_URL` only the SQLite row runs (`.ci/postgres start` starts a throw-away PostgreSQL and prints its admin URL). The table is also written to `target/server-load.md`, which `scripts/bench_report.py` appends to this file.".to_owned(),
        String::new(),
        format!("CPU: {}. Written {written}.", cpu_model()),
        String::new(),
    ];
    out.extend(table(&mut rows));
    if !notes.is_empty() {
        out.push(String::new());
        out.extend(notes);
    }
    out.push(String::new());
    let text = out.join("\n");
    print!("{text}");

    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&target).unwrap();
    let path = target.join("server-load.md");
    std::fs::write(&path, &text).unwrap();
    eprintln!("load: wrote {}", path.display());
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
fn chrono_free_utc_now() -> String {
    let now = pqxdh_api::time::utc(pqxdh_api::signing::now_ms());
    format!("{} UTC", now.get(..16).unwrap_or(&now))
}
