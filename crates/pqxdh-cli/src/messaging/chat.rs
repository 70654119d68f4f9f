//! `pqxdh send`, `inbox`, `sync`, `outbox`

use std::time::Duration;

use clap::Args;
use pqxdh_client::{Client, Content, IncomingMessage, Received};

use super::{OutboxArgs, StoreArgs, client_err, open};
use crate::error::CliError;
use pqxdh_api::time::utc;

/// Longest wait of one long poll (the server caps it at 30 s).
const FOLLOW_WAIT: Duration = Duration::from_secs(25);

/// `pqxdh send`
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The recipient's account name.
    pub name: String,
    /// The text (several words are joined with spaces).
    #[arg(required = true)]
    pub text: Vec<String>,
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `pqxdh inbox`
#[derive(Debug, Args)]
pub struct InboxArgs {
    /// The store and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep waiting for new messages and show them as they arrive (Ctrl-C stops).
    #[arg(long)]
    pub follow: bool,
    /// Show every message received, not only new ones.
    #[arg(long)]
    pub all: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for a first message when none is waiting.
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
}

pub(super) async fn send(args: &SendArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    let text = args.text.join(" ");
    let result = client.send_text(&args.name, &text).await;
    match result {
        Ok(message) => {
            println!("sent to {} (message {})", message.recipient, message.seq);
            client.close().await;
            Ok(())
        }
        Err(e) => {
            // A message committed but not delivered is not lost: say so.
            let queued = client
                .outbox()
                .await
                .map(|o| o.iter().filter(|m| !m.delivered).count())
                .unwrap_or(0);
            client.close().await;
            if queued > 0 {
                eprintln!("pqxdh: {queued} message(s) queued; any later command delivers them");
            }
            Err(client_err(e))
        }
    }
}

fn line(message: &IncomingMessage) -> String {
    match &message.content {
        Content::File { .. } => format!(
            "#{} {} {}  {}  (pqxdh receive {})",
            message.seq,
            utc(message.received_ms),
            message.sender,
            message.content.summary(),
            message.seq
        ),
        _ => format!(
            "#{} {} {}  {}",
            message.seq,
            utc(message.received_ms),
            message.sender,
            message.content.summary()
        ),
    }
}

fn json_line(message: &IncomingMessage) -> String {
    let mut value = serde_json::json!({
        "seq": message.seq,
        "envelope": message.envelope_id,
        "from": message.sender,
        "received_ms": message.received_ms,
    });
    if let Some(map) = value.as_object_mut() {
        match &message.content {
            Content::Text { text } => {
                map.insert("type".into(), "text".into());
                map.insert("text".into(), text.clone().into());
            }
            Content::File { name, size, .. } => {
                map.insert("type".into(), "file".into());
                map.insert("name".into(), name.clone().into());
                map.insert("size".into(), (*size).into());
            }
            _ => {
                map.insert("type".into(), "unknown".into());
            }
        }
    }
    value.to_string()
}

/// Delivers the outbox and fetches once; prints what needs the user's attention on stderr.
async fn round(client: &Client, wait: Duration) -> Result<(), CliError> {
    if let Err(e) = client.deliver().await {
        eprintln!("pqxdh: delivery: {e}");
    }
    for received in client.receive(wait).await.map_err(client_err)? {
        match received {
            Received::Held { sender } => eprintln!(
                "pqxdh: {sender}'s identity key changed; a message is held until you run \
                 `pqxdh safety-number {sender}` and `pqxdh trust {sender}`"
            ),
            Received::Dropped { sender, reason } if reason != "duplicate" => {
                eprintln!("pqxdh: a message from {sender} was dropped: {reason}")
            }
            _ => {}
        }
    }
    Ok(())
}

async fn show(client: &Client, args: &InboxArgs, all: bool) -> Result<(), CliError> {
    let messages = client.inbox(!all).await.map_err(client_err)?;
    // Marked shown first: a crash in between may hide a message from this listing (it stays
    // in `inbox --all`), never show it twice.
    let unread: Vec<i64> = messages.iter().filter(|m| !m.read).map(|m| m.seq).collect();
    client.mark_read(&unread).await.map_err(client_err)?;
    for message in &messages {
        if args.json {
            println!("{}", json_line(message));
        } else {
            println!("{}", line(message));
        }
    }
    Ok(())
}

pub(super) async fn inbox(args: &InboxArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    round(&client, Duration::from_secs(args.wait)).await?;
    show(&client, args, args.all).await?;
    if args.follow {
        loop {
            round(&client, FOLLOW_WAIT).await?;
            show(&client, args, false).await?;
        }
    }
    client.close().await;
    Ok(())
}

pub(super) async fn sync(args: &StoreArgs) -> Result<(), CliError> {
    let client = open(args).await?;
    let delivery = client.deliver().await;
    let received = client.receive(Duration::ZERO).await.map_err(client_err)?;
    let new = received
        .iter()
        .filter(|r| matches!(r, Received::Message(_)))
        .count();
    let held = received
        .iter()
        .filter(|r| matches!(r, Received::Held { .. }))
        .count();
    match &delivery {
        Ok(d) => println!(
            "delivered {}, waiting {}, received {new}, held {held}",
            d.delivered, d.waiting
        ),
        Err(_) => println!("received {new}, held {held}"),
    }
    client.close().await;
    delivery.map(|_| ()).map_err(client_err)
}

pub(super) async fn outbox(args: &OutboxArgs) -> Result<(), CliError> {
    let client = open(&args.store).await?;
    for message in client.outbox().await.map_err(client_err)? {
        if args.json {
            let text = match &message.content {
                Content::Text { text } => Some(text.clone()),
                _ => None,
            };
            println!(
                "{}",
                serde_json::json!({
                    "seq": message.seq,
                    "id": message.id,
                    "to": message.recipient,
                    "delivered": message.delivered,
                    "envelope": message.envelope_id,
                    "created_ms": message.created_ms,
                    "text": text,
                    "summary": message.content.summary(),
                })
            );
        } else {
            println!(
                "#{} {} to {}  {}  {}",
                message.seq,
                utc(message.created_ms),
                message.recipient,
                message.content.summary(),
                if message.delivered {
                    "delivered"
                } else {
                    "queued"
                }
            );
        }
    }
    client.close().await;
    Ok(())
}
