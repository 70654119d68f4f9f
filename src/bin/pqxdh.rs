//! The `pqxdh` command-line tool. All logic lives in the library (`pqxdh::cli`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pqxdh::cli::FileCommand;

/// PQXDH key agreement tools: identities, bundles and end-to-end encrypted files.
#[derive(Debug, Parser)]
#[command(name = "pqxdh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Files(FileCommand),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Files(command) => pqxdh::cli::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pqxdh: error: {e}");
            ExitCode::FAILURE
        }
    }
}
