//! Command-line tool: `pqxdh kat PATH... [--include-slow]` runs known-answer vector files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// PQXDH key agreement tools.
#[derive(Debug, Parser)]
#[command(name = "pqxdh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run known-answer vector files or folders, recognizing each file's format.
    Kat(KatArgs),
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

fn kat(args: &KatArgs) -> ExitCode {
    match pqxdh::kat::run_paths(&args.paths, args.include_slow) {
        Ok(reports) => {
            for report in &reports {
                println!("{}", report.render());
            }
            let summary = pqxdh::kat::Summary::of(&reports);
            println!("{}", summary.line());
            if summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Kat(args) => kat(&args),
    }
}
