//! Progress of long transfers, reported to whoever draws it (the command-line tool's bars).

/// Reports a transfer's progress (the command-line tool draws bars from it).
pub trait Progress: Send + Sync {
    /// A phase starts (`"encrypting"`, `"uploading"`, `"downloading"`, `"decrypting"`) over
    /// `total` bytes.
    fn start(&self, phase: &str, total: u64);
    /// `bytes` more were processed.
    fn advance(&self, bytes: u64);
    /// The phase ended.
    fn finish(&self);
}

/// No progress reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
