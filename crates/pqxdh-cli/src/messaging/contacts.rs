//! `pqxdh contacts`, `safety-number`, `trust`

use clap::Args;
use pqxdh::handshake::identity::fingerprint;

use super::{StoreArgs, client_err, open};
use crate::error::CliError;

/// Commands about one contact.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The contact's account name.
    pub name: String,
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

pub(super) async fn list(args: &StoreArgs) -> Result<(), CliError> {
    let client = open(args).await?;
    for contact in client.contacts().await.map_err(client_err)? {
        let state = match (&contact.pending_key, contact.verified) {
            (Some(_), _) => "IDENTITY CHANGED: run `pqxdh safety-number` then `pqxdh trust`",
            (None, true) => "verified",
            (None, false) => "unverified",
        };
        println!(
            "{}  {}  {state}",
            contact.name,
            fingerprint(&contact.identity_key)
        );
    }
    client.close().await;
    Ok(())
}

pub(super) async fn safety_number(args: &NameArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    let contact = client.contact(&args.name).await.map_err(client_err)?;
    let number = client.safety_number(&args.name).await.map_err(client_err)?;
    if contact.pending_key.is_some() {
        println!(
            "{}'s identity key CHANGED; the safety number with the new key is:",
            args.name
        );
    }
    println!("{number}");
    println!(
        "compare it with {} (in person or over a channel you trust); if it matches, run `pqxdh trust {}`",
        args.name, args.name
    );
    client.close().await;
    Ok(())
}

pub(super) async fn trust(args: &NameArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    let report = client.trust(&args.name).await.map_err(client_err)?;
    if report.accepted_new_key {
        println!(
            "accepted {}'s new identity key: {} held message(s) processed, {} queued message(s) sent again",
            args.name,
            report.released.len(),
            report.requeued
        );
    } else {
        println!("marked {}'s identity key verified", args.name);
    }
    client.close().await;
    Ok(())
}
