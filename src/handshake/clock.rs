//! Time for key rotation, injected so that runs with a fixed seed stay deterministic.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This time plus `seconds`, saturating.
    pub fn plus(self, seconds: u64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

/// Seconds in a day.
pub const DAY: u64 = 24 * 60 * 60;

/// A source of the current time.
pub trait Clock {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock (a clock before 1970 reads as 0).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }
}

/// A clock that reads a set time (for tests and deterministic runs).
#[derive(Clone, Copy, Debug, Default)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}
