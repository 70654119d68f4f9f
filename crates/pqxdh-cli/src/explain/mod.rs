//! `pqxdh explain`: a real PQXDH handshake and a short Double Ratchet conversation, every step
//! shown: in the terminal, and with `--html FILE` as one self-contained page with diagrams.
//!
//! `record` runs the library and records each step as data; `terminal` and `html` render it.

pub mod html;
pub mod record;
pub mod terminal;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use pqxdh::KemType;

pub use record::{Record, Source};

/// Why the explained run failed.
#[derive(Debug, thiserror::Error)]
#[error("explain: {0}")]
pub struct ExplainError(pub String);

/// `pqxdh explain`
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// KEM of Bob's PQ prekey.
    #[arg(long, default_value = "ml-kem-1024")]
    pub kem: KemType,
    /// Publish a one-time prekey in Bob's bundle (a fourth DH output).
    #[arg(long)]
    pub one_time_prekey: bool,
    /// Seed of the ChaCha20 generator every key and salt is drawn from.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the explanation as one self-contained HTML page.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Replay the inputs of this vector of kat/pqxdh/vectors.json (e.g.
    /// pqxdh-ml-kem-1024-noopk-0); --kem and --one-time-prekey then come from the vector.
    #[arg(long)]
    pub vector: Option<String>,
}

/// The run the arguments describe.
pub fn source(args: &ExplainArgs) -> Source {
    match &args.vector {
        Some(id) => Source::Vector {
            id: id.clone(),
            seed: args.seed,
        },
        None => Source::Seed {
            seed: args.seed,
            kem: args.kem,
            one_time_prekey: args.one_time_prekey,
        },
    }
}

/// Runs `pqxdh explain`.
pub fn run(args: &ExplainArgs) -> Result<(), ExplainError> {
    let record = record::run(&source(args)).map_err(|e| {
        if args.vector.is_some() {
            ExplainError(format!(
                "{} (vectors: {})",
                e.0,
                record::vector_ids().join(", ")
            ))
        } else {
            e
        }
    })?;
    let colour = std::io::stdout().is_terminal();
    print!("{}", terminal::render(&record, colour));
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&record))
            .map_err(|e| ExplainError(format!("{}: {e}", path.display())))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
