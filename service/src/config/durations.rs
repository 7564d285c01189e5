//! Durations in the config: the units the sections write their bounds in, and how a duration
//! is written back out (humantime text, e.g. `1m 30s`) when a config is serialized.

use std::time::Duration;

/// One millisecond: the unit of the shortest bounds.
pub(super) const MS: Duration = Duration::from_millis(1);

/// One hour: the unit of the longest bounds.
pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// `#[serde(with = "humantime_serde")]`: serializes a [`Duration`] as humantime text.
pub(super) mod humantime_serde {
    use std::time::Duration;

    /// Writes `d` as humantime text (`30s`, `1h 30m`).
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }
}
