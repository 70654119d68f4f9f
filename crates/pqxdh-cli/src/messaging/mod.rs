//! The messaging commands: an account on a `pqxdh-server`, messages and shared files through
//! it, contacts and their trust. State lives in the client store (`pqxdh-client`); each command
//! opens it, does its work and closes it, so any command can be killed at any point.

mod account;
mod chat;
mod contacts;
mod files;
pub(crate) mod network_demo;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use pqxdh_client::{Client, Store, StoreProtection};
use pqxdh_files::identity_file::KdfParams;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::passphrase::{PassphraseArgs, PassphrasePurpose, get_passphrase};

pub use account::{AccountCommand, AccountNewArgs};
pub use chat::{InboxArgs, SendArgs};
pub use contacts::NameArgs;
pub use files::{ReceiveArgs, ShareArgs};

/// Where the store is and how to open it: shared by every messaging command.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The client store (default: $PQXDH_STORE, else pqxdh.db in the current directory).
    #[arg(long, value_name = "PATH", global = true)]
    pub store: Option<PathBuf>,
    /// Where the passphrase comes from.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Store file used when neither `--store` nor `PQXDH_STORE` names one.
pub const DEFAULT_STORE: &str = "pqxdh.db";

impl StoreArgs {
    /// The store's path.
    pub fn path(&self) -> PathBuf {
        self.store
            .clone()
            .or_else(|| std::env::var_os("PQXDH_STORE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE))
    }
}

/// The messaging subcommands.
#[derive(Debug, Subcommand)]
pub enum MessagingCommand {
    /// Create, show, rotate or delete your account on a server.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Send a text message.
    Send(SendArgs),
    /// Fetch and show new messages (`--follow` keeps waiting for more).
    Inbox(InboxArgs),
    /// Deliver queued messages, fetch new ones and top up prekeys, without showing messages.
    Sync(StoreOnly),
    /// List messages sent, with their delivery state.
    Outbox(OutboxArgs),
    /// Share a file with one or more contacts: encrypted once, uploaded, its key sent to each.
    Share(ShareArgs),
    /// Download, check and decrypt files shared with you.
    Receive(ReceiveArgs),
    /// List contacts, their fingerprints and trust state.
    Contacts(StoreOnly),
    /// Show the safety number to compare with a contact (the same digits on both sides).
    SafetyNumber(NameArgs),
    /// Accept a contact's changed identity key (or mark the current one verified).
    Trust(NameArgs),
}

/// Commands that take only the store.
#[derive(Debug, Args)]
pub struct StoreOnly {
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqxdh outbox`
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the runtime: {e}")))
}

/// Runs one messaging command.
pub fn run(command: MessagingCommand) -> Result<(), CliError> {
    runtime()?.block_on(async move {
        match command {
            MessagingCommand::Account(command) => account::run(command).await,
            MessagingCommand::Send(args) => chat::send(&args).await,
            MessagingCommand::Inbox(args) => chat::inbox(&args).await,
            MessagingCommand::Sync(args) => chat::sync(&args.store).await,
            MessagingCommand::Outbox(args) => chat::outbox(&args).await,
            MessagingCommand::Share(args) => files::share(&args).await,
            MessagingCommand::Receive(args) => files::receive(&args).await,
            MessagingCommand::Contacts(args) => contacts::list(&args.store).await,
            MessagingCommand::SafetyNumber(args) => contacts::safety_number(&args).await,
            MessagingCommand::Trust(args) => contacts::trust(&args).await,
        }
    })
}

/// The passphrase for an existing store: from the named source, else asked on the terminal
/// when the store is protected.
async fn open(args: &StoreArgs) -> Result<Client, CliError> {
    let path = args.path();
    let protected = Store::is_protected(&path).await.map_err(client_err)?;
    let passphrase = if protected {
        let given = get_passphrase(&args.passphrase, PassphrasePurpose::Open)?;
        match given {
            Some(p) => Some(p),
            None if std::io::stdin().is_terminal() => get_passphrase(
                &PassphraseArgs {
                    passphrase_env: None,
                    passphrase_prompt: true,
                },
                PassphrasePurpose::Open,
            )?,
            None => {
                return Err(CliError::Passphrase(format!(
                    "{} is passphrase-protected: give --passphrase-env VAR or --passphrase-prompt",
                    path.display()
                )));
            }
        }
    } else {
        None
    };
    Client::open(&path, passphrase.as_ref().map(|p| p.as_bytes()))
        .await
        .map_err(client_err)
}

/// How a new store is protected: a passphrase from the named source or the terminal, or none
/// when `--no-passphrase` asks for it.
fn new_protection(
    args: &StoreArgs,
    no_passphrase: bool,
) -> Result<Option<Zeroizing<String>>, CliError> {
    if no_passphrase {
        if args.passphrase.passphrase_env.is_some() || args.passphrase.passphrase_prompt {
            return Err(CliError::Usage(
                "--no-passphrase conflicts with a passphrase source".into(),
            ));
        }
        return Ok(None);
    }
    let given = get_passphrase(&args.passphrase, PassphrasePurpose::New)?;
    match given {
        Some(p) => Ok(Some(p)),
        None if std::io::stdin().is_terminal() => get_passphrase(
            &PassphraseArgs {
                passphrase_env: None,
                passphrase_prompt: true,
            },
            PassphrasePurpose::New,
        ),
        None => Err(CliError::Passphrase(
            "a new store needs a passphrase: give --passphrase-env VAR or --passphrase-prompt, \
             or --no-passphrase to keep it unprotected"
                .into(),
        )),
    }
}

fn protection(passphrase: Option<&Zeroizing<String>>) -> StoreProtection<'_> {
    match passphrase {
        Some(p) => StoreProtection::Passphrase {
            passphrase: p.as_bytes(),
            params: KdfParams::DEFAULT,
        },
        None => StoreProtection::Unprotected,
    }
}

pub(crate) fn client_err(e: impl Into<pqxdh_client::Error>) -> CliError {
    CliError::Client(e.into())
}
