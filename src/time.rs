//! The crate's clock type.
//!
//! Nothing in the crate reads a clock: the current time is always passed in.
//! Two units appear, one per layer:
//!
//! * [`Time`], milliseconds since the Unix epoch, for everything driven by
//!   a clock: [`crate::machine::TkaMachine`] (deadlines and retries) and
//!   [`crate::control::ControlResponder`].
//! * Whole Unix seconds (`u64`) in the authority and storage layer
//!   ([`crate::Authority::inform`], [`crate::Authority::bootstrap`],
//!   [`crate::Storage`], [`crate::compact`]), because that is what Go
//!   records on disk (`CreatedUnix`, `PurgedUnix`). Convert with
//!   [`Time::unix_secs`] and [`Time::from_unix_secs`].

use serde::Serialize;
use std::fmt;

/// Wall-clock time in milliseconds since the Unix epoch, always passed in.
/// Serialized as the number of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Time(pub u64);

impl Time {
    /// From whole seconds since the epoch.
    pub fn from_unix_secs(s: u64) -> Self {
        Time(s.saturating_mul(1000))
    }
    /// Whole seconds since the epoch (what the storage layer records).
    pub fn unix_secs(self) -> u64 {
        self.0 / 1000
    }
    /// This time plus `ms` milliseconds.
    pub fn plus_ms(self, ms: u64) -> Self {
        Time(self.0.saturating_add(ms))
    }
}

/// `1800000000.250s`: seconds since the epoch with milliseconds.
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}
