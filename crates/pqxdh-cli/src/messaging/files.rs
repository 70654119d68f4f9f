//! `pqxdh share`, `pqxdh receive`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use pqxdh_client::{Content, Progress};

use super::{StoreArgs, client_err, open};
use crate::error::CliError;

/// `pqxdh share`
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The file to share.
    pub file: PathBuf,
    /// A recipient (repeat for several).
    #[arg(long = "to", value_name = "NAME", required = true)]
    pub to: Vec<String>,
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqxdh receive`
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// Inbox numbers of the files to save (default: every file not saved yet).
    pub numbers: Vec<i64>,
    /// Where to write the files.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Progress bars on a terminal's stderr, one per phase.
#[derive(Default)]
struct Bars {
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = if total > 0 {
            indicatif::ProgressBar::new(total)
        } else {
            indicatif::ProgressBar::new_spinner()
        };
        if let Ok(style) = indicatif::ProgressStyle::default_bar()
            .template("{msg:12} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(phase.to_owned());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}

pub(super) async fn share(args: &ShareArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    let result = client
        .share(&args.file, &args.to, Arc::new(Bars::default()))
        .await;
    client.close().await;
    let shared = result.map_err(client_err)?;
    println!(
        "shared {} ({} bytes) with {}",
        shared.name,
        shared.size,
        args.to.join(", ")
    );
    Ok(())
}

pub(super) async fn receive(args: &ReceiveArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    if let Err(e) = client.deliver().await {
        eprintln!("pqxdh: delivery: {e}");
    }
    client.receive(Duration::ZERO).await.map_err(client_err)?;
    let files: Vec<_> = client
        .inbox(false)
        .await
        .map_err(client_err)?
        .into_iter()
        .filter(|m| matches!(m.content, Content::File { .. }))
        .filter(|m| {
            if args.numbers.is_empty() {
                m.saved_path.is_none()
            } else {
                args.numbers.contains(&m.seq)
            }
        })
        .collect();
    for wanted in &args.numbers {
        if !files.iter().any(|m| m.seq == *wanted) {
            client.close().await;
            return Err(client_err(pqxdh_client::Error::NoSuchFile(*wanted)));
        }
    }
    if files.is_empty() {
        println!("no new files");
    }
    let mut failed = None;
    for message in files {
        match client
            .download(message.seq, &args.out, Arc::new(Bars::default()))
            .await
        {
            Ok(path) => println!(
                "#{} from {}: saved {}",
                message.seq,
                message.sender,
                path.display()
            ),
            Err(e) => {
                eprintln!("pqxdh: #{} from {}: {e}", message.seq, message.sender);
                failed.get_or_insert(e);
            }
        }
    }
    client.close().await;
    failed.map_or(Ok(()), |e| Err(client_err(e)))
}
