//! Process counters, served in the Prometheus text format at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one server process since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered.
    pub requests: AtomicU64,
    /// Requests refused for authentication (bad or missing signature, stale, replayed).
    pub auth_failures: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Accounts registered.
    pub registrations: AtomicU64,
    /// Bundles handed out.
    pub bundles: AtomicU64,
    /// Bundles handed out without a one-time EC prekey (ran out).
    pub bundles_without_one_time: AtomicU64,
    /// Bundles handed out with the last-resort PQ prekey (one-time PQ prekeys ran out).
    pub bundles_last_resort: AtomicU64,
    /// Envelopes accepted.
    pub deposits: AtomicU64,
    /// Envelopes acknowledged (deleted).
    pub acknowledgements: AtomicU64,
    /// Attachments stored.
    pub attachments: AtomicU64,
    /// Attachment bytes stored.
    pub attachment_bytes: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text form.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, counter) in [
            ("requests", "Requests answered", &self.requests),
            (
                "auth_failures",
                "Requests refused for authentication",
                &self.auth_failures,
            ),
            (
                "rate_limited",
                "Requests refused by a rate limit",
                &self.rate_limited,
            ),
            ("registrations", "Accounts registered", &self.registrations),
            ("bundles", "Bundles handed out", &self.bundles),
            (
                "bundles_without_one_time",
                "Bundles without a one-time EC prekey",
                &self.bundles_without_one_time,
            ),
            (
                "bundles_last_resort",
                "Bundles with the last-resort PQ prekey",
                &self.bundles_last_resort,
            ),
            ("deposits", "Envelopes accepted", &self.deposits),
            (
                "acknowledgements",
                "Envelopes acknowledged",
                &self.acknowledgements,
            ),
            ("attachments", "Attachments stored", &self.attachments),
            (
                "attachment_bytes",
                "Attachment bytes stored",
                &self.attachment_bytes,
            ),
        ] {
            let _ = writeln!(out, "# HELP pqxdh_{name}_total {help}.");
            let _ = writeln!(out, "# TYPE pqxdh_{name}_total counter");
            let _ = writeln!(
                out,
                "pqxdh_{name}_total {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}
