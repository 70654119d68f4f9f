//! The `pqxdh` command-line tool: accounts, messages and shared files through a server,
//! identities, bundles, encrypted files, the demo, and the known-answer vector runner. All logic lives in the library (`pqxdh::cli`, `pqxdh::kat`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pqxdh_cli::FileCommand;
use pqxdh_cli::messaging::MessagingCommand;

/// PQXDH key agreement tools: identities, bundles, end-to-end encrypted files, vectors.
#[derive(Debug, Parser)]
#[command(name = "pqxdh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Files(FileCommand),
    #[command(flatten)]
    Messaging(MessagingCommand),
    /// Run known-answer vector files or folders, recognizing each file's format.
    Kat(KatArgs),
    /// Run a real PQXDH handshake and Double Ratchet conversation and show every step.
    Explain(pqxdh_cli::explain::ExplainArgs),
    /// Regenerate our own PQXDH vectors (kat/pqxdh/vectors.json) on stdout or into a file.
    KatGen(KatGenArgs),
}

/// Arguments of `pqxdh kat`.
#[derive(Debug, Args)]
struct KatArgs {
    /// Vector files or folders (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also run slow vectors (the 1,000,000-iteration X25519 case).
    #[arg(long)]
    include_slow: bool,
}

/// Arguments of `pqxdh kat-gen`.
#[derive(Debug, Args)]
struct KatGenArgs {
    /// Where to write the vectors (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn kat(args: &KatArgs) -> ExitCode {
    match pqxdh_kat::run_paths(&args.paths, args.include_slow) {
        Ok(reports) => {
            for report in &reports {
                println!("{}", report.render());
            }
            let summary = pqxdh_kat::Summary::of(&reports);
            println!("{}", summary.line());
            if summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("pqxdh: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn kat_gen(args: &KatGenArgs) -> ExitCode {
    let text = match pqxdh_kat::pqxdh_vectors::generate(2)
        .and_then(|v| serde_json::to_string_pretty(&v).map_err(|e| e.to_string()))
    {
        Ok(text) => text + "\n",
        Err(e) => {
            eprintln!("pqxdh: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|e| e.to_string()),
        None => {
            print!("{text}");
            Ok(())
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pqxdh: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Kat(args) => kat(&args),
        Command::KatGen(args) => kat_gen(&args),
        Command::Explain(args) => match pqxdh_cli::explain::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pqxdh: error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Messaging(command) => match pqxdh_cli::messaging::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pqxdh: error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Files(command) => match pqxdh_cli::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pqxdh: error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
