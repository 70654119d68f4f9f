//! `pqxdh-node`: reads one JSON request a line on stdin and answers each on stdout at once.
//! A thin shell over `pqxdh::node`; logs go to stderr.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use pqxdh::handshake::replay_record::{REPLAY_RECORD_CAPACITY, REPLAY_ROTATE_AT, ReplayLimits};
use pqxdh::primitives::kem::{Backend, KemType};
use pqxdh_node::{Envelope, MAX_LINE_LEN, MAX_ONE_TIME_PREKEYS, Node, NodeConfig};

#[derive(Parser)]
#[command(
    version,
    about = "A simulated PQXDH + Double Ratchet network over JSON lines (stdin to stdout)"
)]
struct Args {
    /// KEM of newly created parties.
    #[arg(long, default_value = "ml-kem-1024", value_parser = ["ml-kem-1024", "kyber1024"])]
    kem: String,
    /// ML-KEM-1024 implementation.
    #[arg(long, value_enum, default_value_t = BackendArg::Libcrux)]
    backend: BackendArg,
    /// One-time EC prekeys each new party publishes (0 keeps the handshake at three DH outputs).
    #[arg(long, default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_ONE_TIME_PREKEYS)))]
    one_time_prekeys: u32,
    /// One-time PQ prekeys each new party publishes (0: the last-resort PQ prekey is used).
    #[arg(long, default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_ONE_TIME_PREKEYS)))]
    one_time_pq_prekeys: u32,
    /// Seed for a deterministic run (tests, examples); omit for real randomness.
    #[arg(long)]
    seed: Option<u64>,
    /// Reply framing: bare bodies until a Maelstrom `init` (auto), or always/never envelopes.
    #[arg(long, value_enum, default_value_t = EnvelopeArg::Auto)]
    envelope: EnvelopeArg,
    /// Sessions a last-resort key set accepts before a party rotates to new prekeys (tests make
    /// rotation happen early with a small value).
    #[arg(long, hide = true, default_value_t = REPLAY_ROTATE_AT as u64,
        value_parser = clap::value_parser!(u64).range(1..=REPLAY_ROTATE_AT as u64))]
    replay_rotate_at: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Libcrux,
    Pqclean,
}

#[derive(Clone, Copy, ValueEnum)]
enum EnvelopeArg {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = NodeConfig {
        kem: args.kem.parse().unwrap_or(KemType::MlKem1024),
        backend: match args.backend {
            BackendArg::Libcrux => Backend::Libcrux,
            BackendArg::Pqclean => Backend::PqClean,
        },
        one_time_ec_prekeys: args.one_time_prekeys,
        one_time_pq_prekeys: args.one_time_pq_prekeys,
        seed: args.seed,
        replay_limits: ReplayLimits {
            capacity: REPLAY_RECORD_CAPACITY,
            rotate_at: usize::try_from(args.replay_rotate_at).unwrap_or(REPLAY_ROTATE_AT),
        },
        envelope: match args.envelope {
            EnvelopeArg::Auto => Envelope::Auto,
            EnvelopeArg::Always => Envelope::Always,
            EnvelopeArg::Never => Envelope::Never,
        },
    };
    let mut node = Node::new(config);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let (complete, too_long) = match read_bounded_line(&mut input, &mut line) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("pqxdh-node: reading stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        if !complete && line.is_empty() && !too_long {
            return ExitCode::SUCCESS;
        }
        let reply = if too_long {
            node.reject_line(&format!(
                "request line exceeds the {MAX_LINE_LEN}-byte limit"
            ))
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => node.handle_line(text.trim_end_matches(['\r', '\n'])),
                Err(_) => node.reject_line("request line is not valid UTF-8"),
            }
        };
        for line in node.take_log() {
            eprintln!("pqxdh-node: {line}");
        }
        if writeln!(output, "{reply}")
            .and_then(|()| output.flush())
            .is_err()
        {
            eprintln!("pqxdh-node: stdout closed");
            return ExitCode::FAILURE;
        }
        if !complete {
            return ExitCode::SUCCESS;
        }
    }
}

/// Reads one line into `line`, keeping at most `MAX_LINE_LEN` bytes and discarding the rest of
/// an over-long line. Returns (whether a newline ended it, whether it was too long).
fn read_bounded_line(
    input: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<(bool, bool)> {
    let mut too_long = false;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok((false, too_long));
        }
        let (chunk, found) = match buffer.iter().position(|&b| b == b'\n') {
            Some(at) => (buffer.get(..=at).unwrap_or(buffer), true),
            None => (buffer, false),
        };
        let used = chunk.len();
        if !too_long {
            if line.len() + used > MAX_LINE_LEN + 1 {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        input.consume(used);
        if found {
            return Ok((true, too_long));
        }
    }
}
