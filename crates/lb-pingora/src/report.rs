//! Ending a request's [`Pick`] from the phases of a pingora proxy: [`Attempt`] (a pick and when
//! it was made, kept in the proxy's `CTX`), [`report_status`] and [`report_error`], and the rules
//! they follow ([`status_outcome`], [`error_outcome`]).

use std::fmt;
use std::time::Duration;

use lb_core::{BackendSelection, Outcome, Pick};
use pingora_core::upstreams::peer::{BasicPeer, HttpPeer};
use pingora_core::{Error, ErrorSource};
use tokio::time::Instant;

use crate::error::PeerError;
use crate::peer;

/// The outcome an upstream response status reports: a failure for 5xx, a success for anything
/// else, and `None` for an informational status other than 101 (`100 Continue`, `103 Early
/// Hints`): the final response is still to come.
///
/// ```
/// use lb_core::Outcome;
/// use lb_pingora::status_outcome;
///
/// assert_eq!(status_outcome(200), Some(Outcome::Success));
/// assert_eq!(status_outcome(404), Some(Outcome::Success)); // the backend answered
/// assert_eq!(status_outcome(503), Some(Outcome::Failure));
/// assert_eq!(status_outcome(100), None);
/// assert_eq!(status_outcome(101), Some(Outcome::Success)); // an upgrade is final
/// ```
pub fn status_outcome(status: u16) -> Option<Outcome> {
    match status {
        101 => Some(Outcome::Success),
        100..=199 => None,
        500.. => Some(Outcome::Failure),
        _ => Some(Outcome::Success),
    }
}

/// The outcome a pingora error reports: a failure when pingora blames the upstream (its
/// [`ErrorSource::Upstream`]: a refused or timed-out connection, a TLS handshake failure, a reset
/// or malformed response, a read timeout), and `None` otherwise: an error of the client (it went
/// away, sent garbage) or of the proxy's own logic says nothing about the backend, so the request
/// ends as cancelled.
///
/// ```
/// use lb_core::Outcome;
/// use lb_pingora::error_outcome;
/// use pingora_core::{Error, ErrorType};
///
/// assert_eq!(error_outcome(&Error::new_up(ErrorType::ConnectRefused)), Some(Outcome::Failure));
/// assert_eq!(error_outcome(&Error::new_down(ErrorType::ReadError)), None);
/// assert_eq!(error_outcome(&Error::new_in(ErrorType::InternalError)), None);
/// ```
pub fn error_outcome(error: &Error) -> Option<Outcome> {
    match error.esource() {
        ErrorSource::Upstream => Some(Outcome::Failure),
        ErrorSource::Downstream | ErrorSource::Internal | ErrorSource::Unset => None,
    }
}

/// One attempt of a request on one backend: its [`Pick`] and when it was made. Keep it in the
/// proxy's `CTX` (as an `Option<Attempt<S>>`) from `upstream_peer` until the upstream answers or
/// fails, then end it with [`report_status`] or [`report_error`]; the latency they report runs
/// from [`Attempt::new`] to that call. An attempt dropped without a report ends as cancelled, as
/// a dropped pick does. It is `Send` and `Sync`, as pingora's `CTX` must be.
///
/// Its clock is tokio's, so tests with a paused clock control the latencies it measures.
pub struct Attempt<S> {
    pick: Pick<S>,
    started: Instant,
}

impl<S: BackendSelection> Attempt<S> {
    /// Starts an attempt on `pick` now.
    pub fn new(pick: Pick<S>) -> Self {
        Attempt {
            pick,
            started: Instant::now(),
        }
    }

    /// The pick (it dereferences to the backend).
    pub fn pick(&self) -> &Pick<S> {
        &self.pick
    }

    /// The time since the attempt started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The [`HttpPeer`] of the picked backend ([`peer::http_peer`]).
    pub fn http_peer(&self) -> Result<HttpPeer, PeerError> {
        peer::http_peer(&self.pick)
    }

    /// The [`BasicPeer`] of the picked backend ([`peer::basic_peer`]).
    pub fn basic_peer(&self) -> Result<BasicPeer, PeerError> {
        peer::basic_peer(&self.pick)
    }

    /// Ends the attempt with `outcome` and the time since it started.
    pub fn report(self, outcome: Outcome) {
        let latency = self.elapsed();
        self.pick.report(outcome, latency);
    }

    /// The pick, to end it yourself.
    pub fn into_pick(self) -> Pick<S> {
        self.pick
    }
}

impl<S> fmt::Debug for Attempt<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("pick", &self.pick)
            .field("started", &self.started)
            .finish()
    }
}

/// Reports an upstream response status to the attempt in `slot`, if there is one and the status
/// is final ([`status_outcome`]): the attempt is taken out of the slot and ended; returns the
/// outcome reported. Call it from `upstream_response_filter`, which pingora calls with every
/// response header the upstream sends (informational ones included).
///
/// ```
/// # use lb_core::{LoadBalancer, Outcome};
/// # use lb_selection::RoundRobin;
/// use lb_pingora::{Attempt, report_status};
///
/// let lb = LoadBalancer::<RoundRobin>::try_from_iter(["10.0.0.1:80"])?;
/// let mut slot = lb.select(b"").map(Attempt::new);
/// assert_eq!(report_status(&mut slot, 100), None); // not final: still in the slot
/// assert_eq!(report_status(&mut slot, 502), Some(Outcome::Failure));
/// assert!(slot.is_none());
/// assert_eq!(report_status(&mut slot, 200), None); // nothing left to report
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn report_status<S: BackendSelection>(
    slot: &mut Option<Attempt<S>>,
    status: u16,
) -> Option<Outcome> {
    let outcome = status_outcome(status)?;
    let attempt = slot.take()?;
    attempt.report(outcome);
    Some(outcome)
}

/// Ends the attempt in `slot`, if there is one, after a pingora error: reported as a failure
/// when the error is the upstream's ([`error_outcome`]), dropped (cancelled) otherwise. Returns
/// the outcome reported. Call it from `fail_to_connect`, `error_while_proxy` and `logging` (with
/// its error, if any): whichever comes first ends the attempt, and the slot is empty for the
/// others.
pub fn report_error<S: BackendSelection>(
    slot: &mut Option<Attempt<S>>,
    error: &Error,
) -> Option<Outcome> {
    let attempt = slot.take()?;
    let outcome = error_outcome(error)?;
    attempt.report(outcome);
    Some(outcome)
}
