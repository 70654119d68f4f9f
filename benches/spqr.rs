//! SPQR (the ML-KEM Braid, protocol V1, and its chain) in steady ping-pong: the time of `send`
//! and `recv` averaged over a whole cycle of two epochs (after which each party is back in the
//! same role), and of single phases: the send that samples the ML-KEM-768 key pair, the send that
//! encapsulates, the receive that decapsulates, and the costliest send and receive of the cycle.
//!
//! Every measured operation replays a recorded step: `send` and `recv` take `&self`, so the
//! state before a step and the message it received can be run again and again. Also writes
//! `sizes-spqr.json` next to criterion's results: message lengths over the cycle, messages per
//! epoch in ping-pong and in a one-sided pattern, and the saved state's size in each phase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use pqxdh::spqr::{Direction, Epoch, SpqrState};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use serde_json::json;

mod common;

const AUTH_KEY: [u8; 32] = [0x5a; 32];

/// Recording starts when A enters this epoch: both parties have had both roles before.
const FIRST_EPOCH: Epoch = 3;

/// A cycle: two epochs, after which each party is back in its role (A sends the encapsulation
/// key in odd epochs, SPEC.md section 14.1).
const CYCLE_EPOCHS: Epoch = 2;

/// The one-sided pattern: A sends this many messages for each of B's.
const ONE_SIDED_RATIO: usize = 10;

/// Repetitions of each step when looking for the costliest one (the fastest of them counts).
const PROBE_REPS: usize = 5;

/// The braid phases in the order of the saved state's phase byte, 1 to 11 (SPEC.md sections 14.4
/// and 14.6): the key sender's, then the ciphertext sender's.
const PHASES: [&str; 11] = [
    "KeysUnsampled",
    "KeysSampled",
    "HeaderSent",
    "Ct1Received",
    "EkSentCt1Received",
    "NoHeaderReceived",
    "HeaderReceived",
    "Ct1Sampled",
    "EkReceivedCt1Sampled",
    "Ct1Acknowledged",
    "Ct2Sampled",
];

/// Position of the phase byte in a saved state, after the version and direction (SPEC.md 14.6).
const PHASE_BYTE: usize = 2;

/// Message types by their byte (SPEC.md section 14.5).
const MESSAGE_TYPES: [&str; 7] = [
    "none",
    "header",
    "ek",
    "ek + ct1 ack",
    "ct1 ack",
    "ct1",
    "ct2",
];

fn phase(state: &SpqrState) -> &'static str {
    let byte = state.to_bytes()[PHASE_BYTE];
    PHASES[usize::from(byte) - 1]
}

/// The type of an SPQR message: after the version byte and two LEB128 varints.
fn message_type(message: &[u8]) -> &'static str {
    let mut at = 1;
    for _ in 0..2 {
        while message[at] & 0x80 != 0 {
            at += 1;
        }
        at += 1;
    }
    MESSAGE_TYPES[usize::from(message[at])]
}

/// One cycle of ping-pong, recorded step by step.
struct Cycle {
    /// The sender's state before each send.
    sends: Vec<SpqrState>,
    /// The receiver's state before each receive, and the message.
    recvs: Vec<(SpqrState, Vec<u8>)>,
    /// Indices into `sends`: the first send that samples keys, the first that encapsulates.
    keygen: usize,
    encapsulate: usize,
    /// Index into `recvs` of the first receive that decapsulates.
    decapsulate: usize,
    /// The length of each message sent.
    lens: Vec<usize>,
}

/// A pair of parties and their generators.
struct Pair {
    a: SpqrState,
    b: SpqrState,
    rng: ChaCha20Rng,
}

impl Pair {
    fn new() -> Self {
        Self {
            a: SpqrState::new(&AUTH_KEY, Direction::AToB),
            b: SpqrState::new(&AUTH_KEY, Direction::BToA),
            rng: ChaCha20Rng::seed_from_u64(0x5b9),
        }
    }

    /// `from_a` or B sends one message, delivered at once; returns the states before the send and
    /// before the receive, the message, and whether the send and the receive produced an epoch
    /// secret.
    fn step(&mut self, from_a: bool) -> (SpqrState, SpqrState, Vec<u8>, bool, bool) {
        let (from, to) = if from_a {
            (&mut self.a, &mut self.b)
        } else {
            (&mut self.b, &mut self.a)
        };
        let before_send = from.clone();
        let (next, sent) = from.send(&mut self.rng).unwrap();
        *from = next;
        let before_recv = to.clone();
        let (next, received) = to.recv(&sent.message).unwrap();
        assert_eq!(received.key, sent.key);
        *to = next;
        (
            before_send,
            before_recv,
            sent.message,
            sent.epoch_secret.is_some(),
            received.epoch_secret.is_some(),
        )
    }

    /// Sends `pattern` (true: A sends) over and over until A reaches `epoch`; returns the number
    /// of messages sent by A and by B.
    fn run_until(&mut self, epoch: Epoch, pattern: &[bool]) -> (usize, usize) {
        let mut counts = (0, 0);
        while self.a.epoch() < epoch {
            for &from_a in pattern {
                self.step(from_a);
                if from_a {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
            assert!(counts.0 + counts.1 < 100_000, "no progress");
        }
        counts
    }
}

fn record_cycle() -> Cycle {
    let mut pair = Pair::new();
    pair.run_until(FIRST_EPOCH, &[true, false]);
    let mut cycle = Cycle {
        sends: Vec::new(),
        recvs: Vec::new(),
        keygen: usize::MAX,
        encapsulate: usize::MAX,
        decapsulate: usize::MAX,
        lens: Vec::new(),
    };
    let mut from_a = true;
    while pair.a.epoch() < FIRST_EPOCH + CYCLE_EPOCHS {
        let (sender, receiver, message, encapsulated, decapsulated) = pair.step(from_a);
        let i = cycle.sends.len();
        if cycle.keygen == usize::MAX && phase(&sender) == PHASES[0] {
            cycle.keygen = i;
        }
        if cycle.encapsulate == usize::MAX && encapsulated {
            cycle.encapsulate = i;
        }
        if cycle.decapsulate == usize::MAX && decapsulated {
            cycle.decapsulate = i;
        }
        cycle.lens.push(message.len());
        cycle.sends.push(sender);
        cycle.recvs.push((receiver, message));
        from_a = !from_a;
    }
    assert!(cycle.keygen != usize::MAX && cycle.encapsulate != usize::MAX);
    assert!(cycle.decapsulate != usize::MAX);
    cycle
}

fn fastest(mut op: impl FnMut()) -> Duration {
    (0..PROBE_REPS)
        .map(|_| {
            let start = Instant::now();
            op();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// The index of the costliest of `count` steps, timed by `op`.
fn costliest(count: usize, mut op: impl FnMut(usize)) -> usize {
    (0..count).max_by_key(|&i| fastest(|| op(i))).unwrap()
}

fn spqr(c: &mut Criterion, cycle: &Cycle, costliest_send: usize, costliest_recv: usize) {
    let mut g = c.benchmark_group("spqr");
    let mut rng = ChaCha20Rng::seed_from_u64(0x5e4d);
    g.throughput(Throughput::Elements(cycle.sends.len() as u64));
    g.bench_function("send_cycle", |b| {
        b.iter(|| {
            for state in &cycle.sends {
                black_box(state.send(&mut rng).unwrap());
            }
        })
    });
    g.throughput(Throughput::Elements(cycle.recvs.len() as u64));
    g.bench_function("recv_cycle", |b| {
        b.iter(|| {
            for (state, message) in &cycle.recvs {
                black_box(state.recv(black_box(message)).unwrap());
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    for (id, i) in [
        ("send_keygen", cycle.keygen),
        ("send_encapsulate", cycle.encapsulate),
        ("send_costliest", costliest_send),
    ] {
        let state = &cycle.sends[i];
        g.bench_function(id, |b| b.iter(|| black_box(state.send(&mut rng).unwrap())));
    }
    for (id, i) in [
        ("recv_decapsulate", cycle.decapsulate),
        ("recv_costliest", costliest_recv),
    ] {
        let (state, message) = &cycle.recvs[i];
        g.bench_function(id, |b| {
            b.iter(|| black_box(state.recv(black_box(message)).unwrap()))
        });
    }
    g.finish();
}

/// Message lengths, messages per epoch and state sizes, as JSON for the report.
fn record(cycle: &Cycle, costliest_send: usize, costliest_recv: usize) -> String {
    let n = cycle.lens.len();
    let total: usize = cycle.lens.iter().sum();
    let per_epoch = |count: usize| count as f64 / CYCLE_EPOCHS as f64;

    let mut one_sided = Pair::new();
    let mut pattern = vec![true; ONE_SIDED_RATIO];
    pattern.push(false);
    one_sided.run_until(FIRST_EPOCH, &pattern);
    let (from_a, from_b) = one_sided.run_until(FIRST_EPOCH + CYCLE_EPOCHS, &pattern);

    let mut sizes: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
    let states = cycle.sends.iter().chain(cycle.recvs.iter().map(|(s, _)| s));
    for state in states {
        let bytes = state.to_bytes();
        let entry = sizes
            .entry(usize::from(bytes[PHASE_BYTE]))
            .or_insert((usize::MAX, 0, 0));
        *entry = (
            entry.0.min(bytes.len()),
            entry.1.max(bytes.len()),
            entry.2 + 1,
        );
    }
    let state_sizes: Vec<_> = sizes
        .iter()
        .map(|(&p, &(min, max, states))| {
            json!({"phase": PHASES[p - 1], "min": min, "max": max, "states": states})
        })
        .collect();
    let sent = &cycle.recvs[costliest_send].1;
    let send_label = format!(
        "{} sends a {} message",
        phase(&cycle.sends[costliest_send]),
        message_type(sent)
    );
    let (receiver, message) = &cycle.recvs[costliest_recv];
    let recv_label = format!(
        "{} receives a {} message",
        phase(receiver),
        message_type(message)
    );
    let doc = json!({
        "loadavg_at_start": common::loadavg(),
        "cycle_epochs": CYCLE_EPOCHS,
        "cycle_messages": n,
        "message_len": {
            "min": cycle.lens.iter().min(),
            "avg": (total as f64 / n as f64 * 10.0).round() / 10.0,
            "max": cycle.lens.iter().max(),
        },
        "messages_per_epoch_ping_pong": per_epoch(n),
        "one_sided": {
            "ratio": ONE_SIDED_RATIO,
            "messages_per_epoch": per_epoch(from_a + from_b),
            "from_b_per_epoch": per_epoch(from_b),
        },
        "costliest_send": send_label,
        "costliest_recv": recv_label,
        "state_size": state_sizes,
    });
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

fn main() {
    let cycle = record_cycle();
    let mut rng = ChaCha20Rng::seed_from_u64(0x9a0b);
    let costliest_send = costliest(cycle.sends.len(), |i| {
        black_box(cycle.sends[i].send(&mut rng).unwrap());
    });
    let costliest_recv = costliest(cycle.recvs.len(), |i| {
        let (state, message) = &cycle.recvs[i];
        black_box(state.recv(message).unwrap());
    });
    let sizes = record(&cycle, costliest_send, costliest_recv);
    print!("spqr sizes: {sizes}");
    common::write_record("sizes-spqr.json", &sizes);
    let mut c = common::criterion(30);
    spqr(&mut c, &cycle, costliest_send, costliest_recv);
    c.final_summary();
}
