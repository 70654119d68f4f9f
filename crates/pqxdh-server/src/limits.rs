//! Every limit the server enforces, each named, with its default and why (SPEC.md section 12.5).
//! All are configurable from the command line; tests set their own.

/// Largest JSON request body (registration with a full batch of PQ prekeys is about 330 KB).
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// Largest envelope body: libsignal caps a message at 256 KiB (field-2026.md, wire limits).
pub const MAX_ENVELOPE_BODY: usize = 256 * 1024;
/// Largest attachment: Signal's attachment limit is 100 MiB.
pub const MAX_ATTACHMENT: u64 = 100 * 1024 * 1024;
/// Attachment bytes one account may have stored at once (ten full-size attachments).
pub const MAX_ATTACHMENT_STORAGE: u64 = 10 * MAX_ATTACHMENT;
/// How long an attachment is kept, in milliseconds: Signal's server keeps them 30 days too.
pub const ATTACHMENT_RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// Attachment bytes per stored row: bounded memory per request, few rows per file.
pub const ATTACHMENT_CHUNK: usize = 64 * 1024;
/// Envelopes waiting in one mailbox before deposits are refused (a quota, as Signal's).
pub const MAX_MAILBOX_ENVELOPES: u64 = 10_000;
/// Envelopes returned by one fetch.
pub const MAX_FETCH_ENVELOPES: u64 = 100;
/// Longest long-poll wait a client may ask for, in seconds.
pub const MAX_POLL_WAIT_SECS: u64 = 30;
/// One-time prekeys of each kind (EC, PQ) an account may hold on the server.
pub const MAX_STORED_PREKEYS: u64 = 1_000;
/// One-time prekeys of each kind in one upload (Signal's clients upload 100 at a time).
pub const MAX_PREKEYS_PER_UPLOAD: usize = 100;
/// How far a signed request's timestamp may be from the server's clock, in milliseconds.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Bundle fetches by one requester: a leaky bucket of this capacity...
pub const BUNDLE_BUCKET_CAPACITY: u64 = 100;
/// ...draining one fetch every this many milliseconds (Signal's prekey limiter: 100 per 10 min).
pub const BUNDLE_BUCKET_LEAK_MS: u64 = 6_000;
/// Bundle fetches by one requester of one target: a smaller bucket...
pub const BUNDLE_PAIR_BUCKET_CAPACITY: u64 = 10;
/// ...draining one fetch a minute, so one contact's one-time prekeys cannot be drained.
pub const BUNDLE_PAIR_BUCKET_LEAK_MS: u64 = 60_000;
/// How often waiting fetches re-check the database where no notification exists (SQLite).
pub const POLL_INTERVAL_MS: u64 = 100;

/// The limits one server process enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_JSON_BODY`].
    pub max_json_body: usize,
    /// See [`MAX_ENVELOPE_BODY`].
    pub max_envelope_body: usize,
    /// See [`MAX_ATTACHMENT`].
    pub max_attachment: u64,
    /// See [`MAX_ATTACHMENT_STORAGE`].
    pub max_attachment_storage: u64,
    /// See [`ATTACHMENT_RETENTION_MS`].
    pub attachment_retention_ms: u64,
    /// See [`MAX_MAILBOX_ENVELOPES`].
    pub max_mailbox_envelopes: u64,
    /// See [`MAX_STORED_PREKEYS`].
    pub max_stored_prekeys: u64,
    /// See [`MAX_PREKEYS_PER_UPLOAD`].
    pub max_prekeys_per_upload: usize,
    /// See [`MAX_CLOCK_SKEW_MS`].
    pub max_clock_skew_ms: u64,
    /// See [`BUNDLE_BUCKET_CAPACITY`].
    pub bundle_bucket_capacity: u64,
    /// See [`BUNDLE_BUCKET_LEAK_MS`].
    pub bundle_bucket_leak_ms: u64,
    /// See [`BUNDLE_PAIR_BUCKET_CAPACITY`].
    pub bundle_pair_bucket_capacity: u64,
    /// See [`BUNDLE_PAIR_BUCKET_LEAK_MS`].
    pub bundle_pair_bucket_leak_ms: u64,
    /// See [`MAX_POLL_WAIT_SECS`].
    pub max_poll_wait_secs: u64,
    /// See [`POLL_INTERVAL_MS`].
    pub poll_interval_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_json_body: MAX_JSON_BODY,
            max_envelope_body: MAX_ENVELOPE_BODY,
            max_attachment: MAX_ATTACHMENT,
            max_attachment_storage: MAX_ATTACHMENT_STORAGE,
            attachment_retention_ms: ATTACHMENT_RETENTION_MS,
            max_mailbox_envelopes: MAX_MAILBOX_ENVELOPES,
            max_stored_prekeys: MAX_STORED_PREKEYS,
            max_prekeys_per_upload: MAX_PREKEYS_PER_UPLOAD,
            max_clock_skew_ms: MAX_CLOCK_SKEW_MS,
            bundle_bucket_capacity: BUNDLE_BUCKET_CAPACITY,
            bundle_bucket_leak_ms: BUNDLE_BUCKET_LEAK_MS,
            bundle_pair_bucket_capacity: BUNDLE_PAIR_BUCKET_CAPACITY,
            bundle_pair_bucket_leak_ms: BUNDLE_PAIR_BUCKET_LEAK_MS,
            max_poll_wait_secs: MAX_POLL_WAIT_SECS,
            poll_interval_ms: POLL_INTERVAL_MS,
        }
    }
}
