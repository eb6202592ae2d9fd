//! The wait an API server asks for with `Retry-After`, carried from the HTTP layer (where the
//! header is seen) to the watch loop (where the retry is timed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// No wait was asked for.
const NONE: u64 = u64::MAX;

/// The `Retry-After` of the last response of one client, in seconds.
///
/// The watch makes one request at a time (a list page, then a watch), so the last response is
/// the one whose failure the watch loop is handling. Every response overwrites it, with or
/// without the header, so a wait asked for once is never applied to a later failure.
#[derive(Debug)]
pub(crate) struct RetryAfter(AtomicU64);

impl Default for RetryAfter {
    fn default() -> Self {
        RetryAfter(AtomicU64::new(NONE))
    }
}

impl RetryAfter {
    /// Records the response's `Retry-After`, or its absence.
    pub(crate) fn record(&self, headers: &http::HeaderMap) {
        let secs = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| parse(v.as_bytes()))
            .unwrap_or(NONE);
        self.0.store(secs, Ordering::Relaxed);
    }

    /// The wait the last response asked for, if it asked for one.
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            NONE => None,
            secs => Some(Duration::from_secs(secs)),
        }
    }
}

/// `Retry-After` as a number of seconds (the form Kubernetes and proxies send). An HTTP date is
/// not understood and counts as no wait: the backoff alone times the retry then.
fn parse(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A number too large for u64 is as good as forever; the caller bounds the wait anyway.
    Some(text.parse::<u64>().unwrap_or(NONE - 1).min(NONE - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        h
    }

    #[test]
    fn seconds_are_read_and_every_response_overwrites_them() {
        let hint = RetryAfter::default();
        assert_eq!(hint.get(), None);
        hint.record(&headers(" 3 "));
        assert_eq!(hint.get(), Some(Duration::from_secs(3)));
        hint.record(&http::HeaderMap::new());
        assert_eq!(hint.get(), None, "a response without the header clears it");
        hint.record(&headers("99999999999999999999999"));
        assert_eq!(hint.get(), Some(Duration::from_secs(u64::MAX - 1)));
    }

    #[test]
    fn dates_and_garbage_are_no_wait() {
        let hint = RetryAfter::default();
        for value in ["Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1.5", "", "soon"] {
            hint.record(&headers("7"));
            hint.record(&headers(value));
            assert_eq!(hint.get(), None, "{value:?}");
        }
    }
}
