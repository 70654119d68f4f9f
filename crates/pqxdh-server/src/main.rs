//! `pqxdh-server`: serve the prekey directory and relay. With no flags: 127.0.0.1:8380 and a
//! SQLite file `pqxdh-server.db` in the working directory.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use pqxdh_server::{Config, DEFAULT_DATABASE_URL, DEFAULT_LISTEN, Limits, Server};
use tracing_subscriber::EnvFilter;

/// A pqxdh prekey directory and message relay (HTTP + JSON).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// `sqlite:PATH?mode=rwc` (the default, a file here) or `postgres://user@host/db`.
    #[arg(long, default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Log as JSON lines instead of text (to stderr either way).
    #[arg(long)]
    log_json: bool,
    /// Largest attachment in bytes.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_ATTACHMENT)]
    max_attachment: u64,
    /// Attachment bytes one account may have stored at once.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_ATTACHMENT_STORAGE)]
    attachment_quota: u64,
    /// Days an attachment is kept.
    #[arg(long, default_value_t = 30)]
    attachment_retention_days: u64,
    /// Largest envelope body in bytes.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_ENVELOPE_BODY)]
    max_envelope: usize,
    /// Largest JSON request body in bytes.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_JSON_BODY)]
    max_json_body: usize,
    /// Envelopes a mailbox may hold.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_MAILBOX_ENVELOPES)]
    mailbox_quota: u64,
    /// One-time prekeys of each kind an account may hold.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_STORED_PREKEYS)]
    max_stored_prekeys: u64,
    /// Bundle fetches per requester: bucket capacity.
    #[arg(long, default_value_t = pqxdh_server::limits::BUNDLE_BUCKET_CAPACITY)]
    bundle_rate_capacity: u64,
    /// Bundle fetches per requester: milliseconds per fetch drained.
    #[arg(long, default_value_t = pqxdh_server::limits::BUNDLE_BUCKET_LEAK_MS)]
    bundle_rate_leak_ms: u64,
    /// Bundle fetches per requester and target: bucket capacity.
    #[arg(long, default_value_t = pqxdh_server::limits::BUNDLE_PAIR_BUCKET_CAPACITY)]
    bundle_pair_rate_capacity: u64,
    /// Bundle fetches per requester and target: milliseconds per fetch drained.
    #[arg(long, default_value_t = pqxdh_server::limits::BUNDLE_PAIR_BUCKET_LEAK_MS)]
    bundle_pair_rate_leak_ms: u64,
    /// Allowed clock difference of signed requests, in milliseconds.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_CLOCK_SKEW_MS)]
    max_clock_skew_ms: u64,
    /// Longest long poll in seconds.
    #[arg(long, default_value_t = pqxdh_server::limits::MAX_POLL_WAIT_SECS)]
    max_poll_wait: u64,
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if args.log_json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
    let limits = Limits {
        max_json_body: args.max_json_body,
        max_envelope_body: args.max_envelope,
        max_attachment: args.max_attachment,
        max_attachment_storage: args.attachment_quota,
        attachment_retention_ms: args
            .attachment_retention_days
            .saturating_mul(24 * 60 * 60 * 1000),
        max_mailbox_envelopes: args.mailbox_quota,
        max_stored_prekeys: args.max_stored_prekeys,
        max_clock_skew_ms: args.max_clock_skew_ms,
        bundle_bucket_capacity: args.bundle_rate_capacity,
        bundle_bucket_leak_ms: args.bundle_rate_leak_ms,
        bundle_pair_bucket_capacity: args.bundle_pair_rate_capacity,
        bundle_pair_bucket_leak_ms: args.bundle_pair_rate_leak_ms,
        max_poll_wait_secs: args.max_poll_wait,
        ..Limits::default()
    };
    let config = Config {
        listen: args.listen,
        database_url: args.database_url,
        limits,
    };
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("pqxdh-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(addr) = server.local_addr() {
        // The first stdout line: scripts and tests read the port from it.
        println!("pqxdh-server listening on http://{addr}");
    }
    match server.serve(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pqxdh-server: {e}");
            ExitCode::FAILURE
        }
    }
}
