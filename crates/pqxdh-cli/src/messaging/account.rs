//! `pqxdh account new|show|rotate|delete`

use clap::{Args, Subcommand};
use pqxdh::KemType;
use pqxdh::handshake::identity::fingerprint;
use pqxdh_client::{AccountOptions, Client, ONE_TIME_PREKEY_BATCH};

use super::{StoreArgs, StoreOnly, client_err, new_protection, open, protection};
use crate::error::CliError;

/// `pqxdh account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a store with a new identity and register NAME on the server.
    New(AccountNewArgs),
    /// Show the account, its fingerprint and the prekeys the server holds.
    Show(StoreOnly),
    /// Rotate the signed and last-resort PQ prekeys now (upkeep also does it every two days).
    Rotate(StoreOnly),
    /// Delete the account on the server (mailbox, prekeys, attachments); the store is kept.
    Delete(AccountDeleteArgs),
}

/// `pqxdh account new`
#[derive(Debug, Args)]
pub struct AccountNewArgs {
    /// The account name: 1-64 of a-z 0-9 . _ -
    pub name: String,
    /// The server's URL, e.g. http://127.0.0.1:8380
    #[arg(long)]
    pub server: String,
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep the store's keys and messages unprotected on disk (no passphrase).
    #[arg(long)]
    pub no_passphrase: bool,
    /// KEM of the PQ prekeys.
    #[arg(long, default_value_t = KemType::MlKem1024)]
    pub kem: KemType,
    /// One-time EC and PQ prekeys per upload.
    #[arg(long, default_value_t = ONE_TIME_PREKEY_BATCH, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub one_time_prekeys: u32,
}

/// `pqxdh account delete`
#[derive(Debug, Args)]
pub struct AccountDeleteArgs {
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Confirm: the server forgets the account and everything waiting for it.
    #[arg(long)]
    pub yes: bool,
}

pub(super) async fn run(command: AccountCommand) -> Result<(), CliError> {
    match command {
        AccountCommand::New(args) => new(&args).await,
        AccountCommand::Show(args) => show(&open(&args.store).await?).await,
        AccountCommand::Rotate(args) => {
            let client = open(&args.store).await?;
            let report = client.rotate_prekeys().await.map_err(client_err)?;
            println!(
                "rotated the signed and last-resort prekeys ({} retired prekeys deleted)",
                report.pruned
            );
            client.close().await;
            Ok(())
        }
        AccountCommand::Delete(args) => {
            if !args.yes {
                return Err(CliError::Usage(
                    "deleting the account loses every message waiting on the server: add --yes"
                        .into(),
                ));
            }
            let client = open(&args.store).await?;
            client.delete_account().await.map_err(client_err)?;
            println!("deleted {} on {}", client.account(), client.server_url());
            client.close().await;
            Ok(())
        }
    }
}

async fn new(args: &AccountNewArgs) -> Result<(), CliError> {
    let path = args.store.path();
    let passphrase = new_protection(&args.store, args.no_passphrase)?;
    let mut options = AccountOptions::new(&args.name, &args.server);
    options.kem = args.kem;
    options.one_time_prekeys = args.one_time_prekeys;
    let client = Client::create(&path, protection(passphrase.as_ref()), &options)
        .await
        .map_err(client_err)?;
    println!(
        "created {} on {} (store {}, {})",
        client.account(),
        client.server_url(),
        path.display(),
        if passphrase.is_some() {
            "passphrase-protected"
        } else {
            "not passphrase-protected"
        }
    );
    println!("fingerprint {}", fingerprint(client.identity_key()));
    client.close().await;
    Ok(())
}

async fn show(client: &Client) -> Result<(), CliError> {
    println!("account     {}", client.account());
    println!("server      {}", client.server_url());
    println!("store       {}", client.store().path().display());
    println!("fingerprint {}", fingerprint(client.identity_key()));
    let counts = client.server().key_counts().await.map_err(client_err)?;
    println!(
        "on server   {} one-time EC prekeys, {} one-time PQ prekeys, signed prekey {}, last-resort PQ prekey {}",
        counts.one_time_prekeys,
        counts.pq_prekeys,
        counts.signed_prekey_id,
        counts.last_resort_pq_prekey_id
    );
    Ok(())
}
