//! The one clock of lb-core's policies: ejection ends, latency decay, outcome windows.
//!
//! With the `runtime` feature it is tokio's clock (`hooks::now`), so that a test on a paused runtime
//! (`start_paused = true`, `tokio::time::advance`) drives every time-dependent policy; without
//! it, the standard monotonic clock. Times are kept in atomics as nanoseconds since one process
//! epoch ([`nanos`]), so a state holds a time in 8 bytes and never an `Instant`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The current time.
#[inline]
pub(crate) fn now() -> Instant {
    crate::hooks::now()
}

/// The process epoch: a year before the first time anything asked. Every time stored as
/// nanoseconds counts from it. It lies well before any instant the process can produce: a
/// paused tokio clock (tests) starts at the real time its runtime was built, which may come
/// before the first call here, and must not be cut to 0.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let now = Instant::now();
        now.checked_sub(Duration::from_secs(365 * 24 * 3600))
            .unwrap_or(now)
    })
}

/// `at` as nanoseconds since the process epoch, saturating (a u64 of nanoseconds lasts 584 years).
#[inline]
pub(crate) fn nanos(at: Instant) -> u64 {
    saturating_nanos(at.saturating_duration_since(epoch()))
}

/// The current time as nanoseconds since the process epoch.
#[inline]
pub(crate) fn now_nanos() -> u64 {
    nanos(now())
}

/// A duration in nanoseconds, saturating at `u64::MAX`.
#[inline]
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_count_from_one_epoch_and_saturate() {
        let a = now_nanos();
        let b = nanos(now() + Duration::from_millis(5));
        assert!(b >= a + 5_000_000);
        if let Some(before) = epoch().checked_sub(Duration::from_secs(1)) {
            assert_eq!(nanos(before), 0);
        }
        assert_eq!(saturating_nanos(Duration::MAX), u64::MAX);
    }
}
