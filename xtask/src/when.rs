//! Dates and durations as the reports and logs print them, through jiff.

use std::time::Duration;

use jiff::fmt::friendly::{FractionalUnit, SpanPrinter};
use jiff::{SignedDuration, Timestamp};

/// The format of [`now`] and [`date`].
const DATE: &str = "%Y-%m-%d %H:%M UTC";

/// Now, as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn now() -> String {
    date(Timestamp::now().as_second())
}

/// `seconds` since the Unix epoch as `YYYY-MM-DD HH:MM UTC`; the epoch itself when out of
/// jiff's range (years -9999 to 9999).
pub(crate) fn date(seconds: i64) -> String {
    let at = Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH);
    at.strftime(DATE).to_string()
}

/// `12.3s`, `4m 5.2s`, `1h 0.0s`: tenths of a second, with minutes and hours above 60 s.
pub(crate) fn duration(d: Duration) -> String {
    static PRINTER: SpanPrinter = SpanPrinter::new()
        .fractional(Some(FractionalUnit::Second))
        .precision(Some(1));
    PRINTER.duration_to_string(&SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_to_the_minute() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(date(1_740_787_200 + 3_660), "2025-03-01 01:01 UTC");
        assert_eq!(date(i64::MAX), "1970-01-01 00:00 UTC");
        assert!(
            now().ends_with(" UTC") && now().len() == DATE.len() + 2,
            "{}",
            now()
        );
    }

    #[test]
    fn durations_are_tenths_of_seconds_and_minutes() {
        assert_eq!(duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(duration(Duration::from_secs(65)), "1m 5.0s");
        assert_eq!(duration(Duration::from_millis(245_300)), "4m 5.3s");
        assert_eq!(duration(Duration::from_secs(3600)), "1h 0.0s");
    }
}
