//! The file-sharing commands of the `pqxdh` tool: `identity new`, `bundle show`, `encrypt`,
//! `decrypt` and `demo`. The binary only parses arguments and calls [`run`]; everything else lives
//! here so that it can be tested and reused.
//!
//! One module a command: `identity` (`identity new`, `rotate`, `prune`, and loading and
//! rewriting identity files), `bundle` (`bundle show`, loading bundle files), `encrypt`,
//! `decrypt` and `demo` (which drives the others). Beneath them: `passphrase` (where a passphrase
//! comes from), `fs` (standard input and output, durable file writes, the progress bar) and
//! `error` ([`CliError`]). Everything public is re-exported here.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bundle;
mod decrypt;
mod demo;
mod encrypt;
mod error;
pub mod explain;
mod fs;
mod identity;
pub mod messaging;
mod passphrase;

use clap::Subcommand;

pub use bundle::{BundleShowArgs, load_bundle, run_bundle};
pub use decrypt::{DecryptArgs, run_decrypt};
pub use demo::{DemoArgs, demo_conversation, run_demo};
pub use encrypt::{EncryptArgs, run_encrypt};
pub use error::CliError;
pub use identity::{
    BUNDLE_SUFFIX, IDENTITY_SUFFIX, IdentityNewArgs, IdentityPruneArgs, IdentityRotateArgs,
    load_identity, parse_duration, run_identity, run_prune, run_rotate,
};
pub use passphrase::PassphraseArgs;

/// The file-sharing subcommands.
#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Create identities.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Inspect prekey bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Encrypt a file to one or more recipients' bundles.
    Encrypt(EncryptArgs),
    /// Decrypt a file encrypted to one of your identities.
    Decrypt(DecryptArgs),
    /// Run the whole story on a bundled picture: identities, bundles, encrypt, decrypt, check.
    Demo(DemoArgs),
}

/// `pqxdh identity ...`
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create an identity with a signed prekey and a last-resort PQ prekey: writes NAME.identity
    /// (private, mode 0600) and NAME.bundle.json (public).
    New(IdentityNewArgs),
    /// Make a new signed prekey and last-resort PQ prekey and publish them in a new bundle file.
    /// The previous prekeys are kept, so files already encrypted to them still decrypt, until
    /// `identity prune` deletes them.
    Rotate(IdentityRotateArgs),
    /// Delete prekeys retired by `identity rotate` at least DURATION ago. Files encrypted to them
    /// no longer decrypt afterwards: that is what makes them unreadable to a later thief.
    Prune(IdentityPruneArgs),
}

/// `pqxdh bundle ...`
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Show a bundle's fingerprint, KEM and key ids, and check its signatures (exit 1 if bad).
    Show(BundleShowArgs),
}

/// Runs one file-sharing command.
pub fn run(command: FileCommand) -> Result<(), CliError> {
    match command {
        FileCommand::Identity(IdentityCommand::New(args)) => run_identity(&args),
        FileCommand::Identity(IdentityCommand::Rotate(args)) => run_rotate(&args),
        FileCommand::Identity(IdentityCommand::Prune(args)) => run_prune(&args),
        FileCommand::Bundle(BundleCommand::Show(args)) => run_bundle(&args),
        FileCommand::Encrypt(args) => run_encrypt(&args),
        FileCommand::Decrypt(args) => run_decrypt(&args),
        FileCommand::Demo(args) => run_demo(&args),
    }
}
