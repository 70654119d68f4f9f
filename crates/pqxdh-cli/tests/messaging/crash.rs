//! The crash loop: a seeded sequence of sends and receives by two clients, each process killed
//! with SIGKILL at a random moment (or left to finish), restarted by the next step. At the end
//! every message whose send was committed arrived exactly once and in order, and no message key
//! sealed two different ciphertexts.

use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};

use crate::assert_no_key_reuse;
use crate::support::{ServerChild, User, sqlite_url};

/// Rounds of the loop at least, and kills at least (the kills land across opening the store,
/// encrypting, committing, depositing, fetching, decrypting, committing and acknowledging).
const ROUNDS: usize = 80;
const KILLS: usize = 60;
/// Longest delay before a kill: a command takes some 20-40 ms here.
const MAX_KILL_DELAY_US: u64 = 35_000;
/// The seed; `PQXDH_CRASH_SEED` overrides it to explore other schedules.
const DEFAULT_SEED: u64 = 0x5eed_c4a5;

/// Runs `pqxdh args` for `user` and kills it after `kill_after` (if it is still running).
fn run_maybe_killed(user: &User, args: &[&str], kill_after: Option<Duration>) -> bool {
    let mut child = user
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let Some(delay) = kill_after else {
        child.wait().unwrap();
        return false;
    };
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if start.elapsed() >= delay {
            // Child::kill is SIGKILL on Unix: no destructor, no flush, no commit.
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn crash_loop_loses_nothing_and_repeats_nothing() {
    let seed = std::env::var("PQXDH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerChild::start(&sqlite_url(dir.path()));
    let alice = User::new(dir.path(), "alice", false);
    let bob = User::new(dir.path(), "bob", false);
    alice.create(&server, &[]);
    bob.create(&server, &[]);
    // A first exchange so both directions have sessions (and the first pre-key messages are
    // covered by the loop too: the loop starts before any reply).
    let mut kills = 0;
    let mut sent = [0usize; 2];
    let mut rounds = 0;
    while rounds < ROUNDS || kills < KILLS {
        rounds += 1;
        assert!(
            rounds < 20 * ROUNDS,
            "the kills never land ({kills} in {rounds} rounds)"
        );
        let (me, other, index) = if rng.random_bool(0.5) {
            (&alice, "bob", 0)
        } else {
            (&bob, "alice", 1)
        };
        let kill_after = rng
            .random_bool(0.8)
            .then(|| Duration::from_micros(rng.random_range(0..MAX_KILL_DELAY_US)));
        let text = format!("{}-{}", me.name, sent[index]);
        let killed = match rng.random_range(0..3) {
            0 | 1 => {
                sent[index] += 1;
                run_maybe_killed(me, &["send", other, &text], kill_after)
            }
            _ => run_maybe_killed(me, &["sync"], kill_after),
        };
        kills += usize::from(killed);
    }

    // Recovery: every command delivers what is queued; run both until nothing moves.
    for _ in 0..3 {
        alice.ok(&["sync"]);
        bob.ok(&["sync"]);
    }
    let committed_total = alice.outbox().len() + bob.outbox().len();
    assert!(
        committed_total >= 10,
        "only {committed_total} sends committed: the kills left nothing to check"
    );
    for (sender, receiver) in [(&alice, &bob), (&bob, &alice)] {
        let committed: Vec<String> = sender
            .outbox()
            .iter()
            .filter(|m| m["to"] == receiver.name.as_str())
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            sender.outbox().iter().all(|m| m["delivered"] == true),
            "undelivered messages remain"
        );
        let arrived = receiver.texts_from(&sender.name);
        assert_eq!(
            arrived, committed,
            "{} -> {}: arrivals differ from committed sends (seed {seed:#x})",
            sender.name, receiver.name
        );
        // Only committed sends can arrive; each attempted text is unique.
        let mut unique = arrived.clone();
        unique.dedup();
        assert_eq!(unique.len(), arrived.len());
    }
    let deposits = assert_no_key_reuse(&server);
    eprintln!("crash loop: seed {seed:#x}, {kills} kills in {rounds} rounds, {deposits} deposits");
}
