//! The node's message path: one `send_message` + `receive_message` pair of 64-byte plaintexts on
//! an established conversation, in process through `Node::handle_line`, and through a pipe to a
//! `pqxdh-node` subprocess (write a request line, read its reply line). Throughput is one element
//! per pair, so criterion reports pairs per second.
//!
//! Also writes `sizes-node.json` (pairs per second of a fixed pipe run) next to criterion's
//! results for `scripts/bench_report.py`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use criterion::{Criterion, Throughput};
use pqxdh_node::{Node, NodeConfig};

#[path = "../../../benches/common/mod.rs"]
mod common;

const NODE: &str = env!("CARGO_BIN_EXE_pqxdh-node");

/// A 64-byte plaintext.
const PLAINTEXT: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Pairs in the fixed pipe run recorded in `sizes-node.json`.
const PIPE_PAIRS: u32 = 2_000;

/// Something that answers request lines: the node in process or a subprocess.
trait Lines {
    fn call(&mut self, line: &str) -> String;
}

impl Lines for Node {
    fn call(&mut self, line: &str) -> String {
        self.handle_line(line)
    }
}

struct Pipe {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    reply: String,
}

impl Pipe {
    fn start() -> Self {
        let mut child = Command::new(NODE)
            .args(["--seed", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
            reply: String::new(),
        }
    }
}

impl Lines for Pipe {
    fn call(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        self.reply.clear();
        self.stdout.read_line(&mut self.reply).unwrap();
        self.reply.trim_end().to_owned()
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Closing stdin ends the node.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// A conversation driven over request lines; message ids count up.
struct Conversation<L: Lines> {
    node: L,
    msg_id: u64,
}

impl<L: Lines> Conversation<L> {
    /// Alice starts a conversation with Bob and they exchange a few messages both ways, so that
    /// the pairs measured run on normal messages of an existing chain.
    fn new(node: L) -> Self {
        let mut c = Self { node, msg_id: 0 };
        let id = c.next_id();
        let reply = c.node.call(&format!(
            "{{\"src\": \"alice\", \"dest\": \"e2ee\", \"body\": {{\"type\": \"initiate_conversation\", \
             \"msg_id\": {id}, \"recipient\": \"bob\"}}}}"
        ));
        assert!(reply.contains("conversation_initiated"), "{reply}");
        for _ in 0..3 {
            c.pair("alice", "bob");
            c.pair("bob", "alice");
        }
        c
    }

    fn next_id(&mut self) -> u64 {
        self.msg_id += 1;
        self.msg_id
    }

    /// `from` encrypts a 64-byte message to `to`, and `to` decrypts it.
    fn pair(&mut self, from: &str, to: &str) {
        let id = self.next_id();
        let sent = self.node.call(&format!(
            "{{\"src\": \"{from}\", \"dest\": \"e2ee\", \"body\": {{\"type\": \"send_message\", \
             \"msg_id\": {id}, \"recipient\": \"{to}\", \"plaintext\": \"{PLAINTEXT}\"}}}}"
        ));
        // The reply ends with `"encrypted_message": {...}}`: pass the object on as it is.
        let start = sent
            .find("{\"ciphertext\"")
            .unwrap_or_else(|| panic!("{sent}"));
        let message = &sent[start..sent.len() - 1];
        let id = self.next_id();
        let received = self.node.call(&format!(
            "{{\"src\": \"{to}\", \"dest\": \"e2ee\", \"body\": {{\"type\": \"receive_message\", \
             \"msg_id\": {id}, \"sender\": \"{from}\", \"encrypted_message\": {message}}}}}"
        ));
        assert!(
            received.ends_with(&format!("\"{PLAINTEXT}\"}}")),
            "{received}"
        );
        black_box(received);
    }
}

fn node(c: &mut Criterion) {
    let mut g = c.benchmark_group("node");
    g.throughput(Throughput::Elements(1));
    let mut conv = Conversation::new(Node::new(NodeConfig {
        seed: Some(1),
        ..NodeConfig::default()
    }));
    g.bench_function("send_receive_pair_64", |b| {
        b.iter(|| conv.pair("alice", "bob"))
    });
    let mut pipe = Conversation::new(Pipe::start());
    g.bench_function("pipe_send_receive_pair_64", |b| {
        b.iter(|| pipe.pair("alice", "bob"))
    });
    g.finish();
}

/// A fixed run of `PIPE_PAIRS` pairs through a fresh subprocess, start-up excluded.
fn pipe_run() -> String {
    let mut pipe = Conversation::new(Pipe::start());
    let start = Instant::now();
    for _ in 0..PIPE_PAIRS {
        pipe.pair("alice", "bob");
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = f64::from(PIPE_PAIRS) / secs;
    println!("node pipe: {PIPE_PAIRS} send/receive pairs in {secs:.3} s = {rate:.0} pairs/s");
    format!(
        "{{\n  \"loadavg_at_start\": \"{}\",\n  \"pipe_pairs\": {PIPE_PAIRS},\n  \
         \"pipe_seconds\": {secs:.4},\n  \"pipe_pairs_per_second\": {rate:.1}\n}}\n",
        common::loadavg()
    )
}

fn main() {
    common::write_record("sizes-node.json", &pipe_run());
    let mut c = common::criterion(30);
    node(&mut c);
    c.final_summary();
}
