//! What an HTTP probe accepts: a status set or a validator over the response head, and an
//! optional check over a body read to its end, at most a capped number of bytes.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::ProbeError;

type Validator = dyn Fn(StatusCode, &HeaderMap) -> Result<(), String> + Send + Sync;
type Predicate = dyn Fn(&[u8]) -> bool + Send + Sync;

/// The response head a probe accepts.
#[derive(Clone)]
pub(crate) enum HeadCheck {
    /// Any status in one of these ranges.
    Statuses(Vec<RangeInclusive<u16>>),
    /// The user's validator decides alone.
    Validator(Arc<Validator>),
}

impl Default for HeadCheck {
    fn default() -> Self {
        HeadCheck::Statuses(vec![200..=200])
    }
}

impl HeadCheck {
    pub(crate) fn validator(
        f: impl Fn(StatusCode, &HeaderMap) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        HeadCheck::Validator(Arc::new(f))
    }

    pub(crate) fn check(
        &self,
        target: &str,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Result<(), ProbeError> {
        match self {
            HeadCheck::Statuses(ranges) => {
                if ranges.iter().any(|r| r.contains(&status.as_u16())) {
                    Ok(())
                } else {
                    Err(ProbeError::Status {
                        target: target.to_owned(),
                        status: status.as_u16(),
                        expected: describe(ranges),
                    })
                }
            }
            HeadCheck::Validator(f) => f(status, headers).map_err(|reason| ProbeError::Rejected {
                target: target.to_owned(),
                status: status.as_u16(),
                reason,
            }),
        }
    }
}

fn describe(ranges: &[RangeInclusive<u16>]) -> String {
    if ranges.is_empty() {
        return "none (the status set is empty)".to_owned();
    }
    ranges
        .iter()
        .map(|r| {
            if r.start() == r.end() {
                r.start().to_string()
            } else {
                format!("{}-{}", r.start(), r.end())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Debug for HeadCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadCheck::Statuses(r) => write!(f, "Statuses({})", describe(r)),
            HeadCheck::Validator(_) => f.write_str("Validator"),
        }
    }
}

/// A check over the response body.
#[derive(Clone)]
pub(crate) enum BodyCheck {
    /// The body contains these bytes.
    Contains(Bytes),
    /// The user's predicate accepts the whole body.
    Predicate(Arc<Predicate>),
}

impl BodyCheck {
    pub(crate) fn predicate(f: impl Fn(&[u8]) -> bool + Send + Sync + 'static) -> Self {
        BodyCheck::Predicate(Arc::new(f))
    }
}

impl fmt::Debug for BodyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyCheck::Contains(b) => write!(f, "Contains({:?})", String::from_utf8_lossy(b)),
            BodyCheck::Predicate(_) => f.write_str("Predicate"),
        }
    }
}

/// Consumes a body chunk by chunk, never holding more than the cap (and only what the check
/// needs: nothing without a check, a needle-sized tail for `Contains`).
#[derive(Debug)]
pub(crate) struct BodyReader<'a> {
    check: Option<&'a BodyCheck>,
    limit: usize,
    seen: usize,
    found: bool,
    kept: Vec<u8>,
}

impl<'a> BodyReader<'a> {
    pub(crate) fn new(check: Option<&'a BodyCheck>, limit: usize) -> Self {
        let found = matches!(check, Some(BodyCheck::Contains(n)) if n.is_empty());
        BodyReader {
            check,
            limit,
            seen: 0,
            found,
            kept: Vec::new(),
        }
    }

    /// Takes the next chunk; fails once the body exceeds the cap.
    pub(crate) fn push(&mut self, target: &str, chunk: &[u8]) -> Result<(), ProbeError> {
        self.seen = self.seen.saturating_add(chunk.len());
        if self.seen > self.limit {
            return Err(ProbeError::BodyTooLong {
                target: target.to_owned(),
                limit: self.limit,
            });
        }
        match self.check {
            None => {}
            Some(BodyCheck::Predicate(_)) => self.kept.extend_from_slice(chunk),
            Some(BodyCheck::Contains(_)) if self.found => {}
            Some(BodyCheck::Contains(needle)) => {
                // Search the kept tail and this chunk together, so that a needle split across
                // chunks is found; then keep only the last `needle.len() - 1` bytes.
                self.kept.extend_from_slice(chunk);
                self.found = contains(&self.kept, needle);
                let keep = needle.len().saturating_sub(1);
                if self.kept.len() > keep {
                    self.kept.drain(..self.kept.len() - keep);
                }
            }
        }
        Ok(())
    }

    /// Judges the complete body.
    pub(crate) fn finish(self, target: &str) -> Result<(), ProbeError> {
        let reason = match self.check {
            None => return Ok(()),
            Some(BodyCheck::Contains(needle)) if !self.found => {
                format!("it does not contain {:?}", String::from_utf8_lossy(needle))
            }
            Some(BodyCheck::Contains(_)) => return Ok(()),
            Some(BodyCheck::Predicate(p)) if !p(&self.kept) => {
                format!("the predicate rejected its {} bytes", self.kept.len())
            }
            Some(BodyCheck::Predicate(_)) => return Ok(()),
        };
        Err(ProbeError::BodyMismatch {
            target: target.to_owned(),
            reason,
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProbeErrorKind;

    #[test]
    fn statuses_and_validators_judge_the_head() {
        let h = HeaderMap::new();
        let default = HeadCheck::default();
        assert!(default.check("t", StatusCode::OK, &h).is_ok());
        let e = default.check("t", StatusCode::NO_CONTENT, &h).unwrap_err();
        assert_eq!(e.to_string(), "t answered http status 204, expected 200");
        let set = HeadCheck::Statuses(vec![200..=299, 304..=304]);
        assert!(set.check("t", StatusCode::NO_CONTENT, &h).is_ok());
        let e = set.check("t", StatusCode::FOUND, &h).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t answered http status 302, expected 200-299, 304"
        );
        let empty = HeadCheck::Statuses(vec![]);
        assert_eq!(
            empty.check("t", StatusCode::OK, &h).unwrap_err().kind(),
            ProbeErrorKind::Status
        );
        let v = HeadCheck::validator(|s, _| {
            if s.is_server_error() {
                Err("server error".into())
            } else {
                Ok(())
            }
        });
        assert!(v.check("t", StatusCode::NOT_FOUND, &h).is_ok());
        assert_eq!(
            v.check("t", StatusCode::BAD_GATEWAY, &h)
                .unwrap_err()
                .to_string(),
            "t answered http status 502, rejected: server error"
        );
    }

    #[test]
    fn a_needle_split_across_chunks_is_found_and_little_is_kept() {
        let check = BodyCheck::Contains(Bytes::from_static(b"status: ok"));
        let mut r = BodyReader::new(Some(&check), 1 << 20);
        r.push("t", b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx status")
            .unwrap();
        assert!(r.kept.len() < 10, "only a needle-sized tail is kept");
        r.push("t", b": o").unwrap();
        r.push("t", b"k and more").unwrap();
        r.finish("t").unwrap();

        let mut r = BodyReader::new(Some(&check), 1 << 20);
        r.push("t", b"status: down").unwrap();
        let e = r.finish("t").unwrap_err();
        assert_eq!(e.kind(), ProbeErrorKind::Body);
        assert_eq!(
            e.to_string(),
            "response body from t failed the check: it does not contain \"status: ok\""
        );
    }

    #[test]
    fn the_cap_counts_every_byte_with_or_without_a_check() {
        let mut r = BodyReader::new(None, 10);
        r.push("t", b"0123456789").unwrap();
        let e = r.push("t", b"x").unwrap_err();
        assert_eq!(e.to_string(), "response body from t exceeds 10 bytes");
        assert!(r.kept.is_empty(), "nothing is kept without a check");

        let p = BodyCheck::predicate(|b| b.starts_with(b"{") && b.ends_with(b"}"));
        let mut r = BodyReader::new(Some(&p), 100);
        r.push("t", b"{\"up\":").unwrap();
        r.push("t", b"true}").unwrap();
        r.finish("t").unwrap();
        let mut r = BodyReader::new(Some(&p), 100);
        r.push("t", b"nope").unwrap();
        assert_eq!(
            r.finish("t").unwrap_err().to_string(),
            "response body from t failed the check: the predicate rejected its 4 bytes"
        );
        let empty_needle = BodyCheck::Contains(Bytes::new());
        BodyReader::new(Some(&empty_needle), 0).finish("t").unwrap();
    }
}
