//! The watch task: kube's watcher over one Service's EndpointSlices, feeding the [`Store`] and
//! publishing each change of the merged set.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use tokio::time::Instant;

use crate::failure::{WatchFailure, describe};
use crate::retry_after::RetryAfter;
use crate::shared::Shared;
use crate::store::{Refused, Store};

/// Applies one watcher event to `store` and publishes the changes of the merged set it makes,
/// as one version. Returns whether a version was published.
pub(crate) fn step(
    store: &mut Store,
    shared: &Shared,
    event: Event<EndpointSlice>,
) -> Result<bool, Refused> {
    let list_done = matches!(event, Event::InitDone);
    Ok(match store.apply(event)? {
        Some(changes) => shared.publish(changes, store.slice_count(), list_done),
        None => false,
    })
}

/// A retry that runs this long without failing has recovered: the next failure waits the
/// shortest backoff again. kube's watcher says nothing when a watch starts or a bookmark
/// arrives, so for a quiet Service this is the only sign that the API is back.
const RECOVERED_AFTER: Duration = Duration::from_secs(60);

/// The wait between failed list or watch calls: lb's one backoff type, with equal jitter (half
/// to all of each step) so that many clients that lost the API server together do not come back
/// together, started over once a retry has run for [`RECOVERED_AFTER`], and never shorter than
/// what the API server asked for (within the longest step).
#[derive(Debug)]
pub(crate) struct Backoff {
    steps: lb_core::Backoff,
    /// When the last wait ends and its retry starts.
    retry_at: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            steps: lb_core::Backoff::new(min, max.max(min)).with_jitter(0.5),
            retry_at: None,
        }
    }

    /// The next wait: between half and all of the current step, which then doubles up to `max`.
    /// The step starts over from `min` when the last retry ran for [`RECOVERED_AFTER`].
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.next_delay_asked(None)
    }

    /// [`Backoff::next_delay`], but at least `asked` (the wait the API server asked for with
    /// `Retry-After`), which is heard only up to `max`: a server cannot stop the watch for
    /// longer than its longest backoff.
    pub(crate) fn next_delay_asked(&mut self, asked: Option<Duration>) -> Duration {
        let now = Instant::now();
        if self
            .retry_at
            .is_some_and(|at| now.saturating_duration_since(at) >= RECOVERED_AFTER)
        {
            self.reset();
        }
        let mut delay = self.steps.next_delay();
        if let Some(asked) = asked {
            delay = delay.max(asked.min(self.steps.max()));
        }
        self.retry_at = now.checked_add(delay);
        delay
    }

    /// Back to the shortest wait, after the watch made progress.
    pub(crate) fn reset(&mut self) {
        self.steps.reset();
    }
}

/// Runs the watch until the stream ends (kube's watcher never ends by itself; the task is
/// aborted when the discovery source is dropped). `watch` makes the watcher, once at the start
/// and again whenever only a new list can recover.
///
/// A slice past [`Limits::max_slices`](crate::Limits::max_slices) or
/// [`Limits::max_backends`](crate::Limits::max_backends), or larger than the API server allows,
/// in a list or a watch event, is an error too
/// ([`Error::TooManySlices`](crate::Error::TooManySlices),
/// [`Error::TooManyBackends`](crate::Error::TooManyBackends),
/// [`Error::SliceTooLarge`](crate::Error::SliceTooLarge)): the store keeps the last good set,
/// and after the backoff a new watcher starts over with a list (the refused event cannot be
/// replayed past).
///
/// The watcher recovers by itself on its next poll after most errors: it resumes the watch from
/// the last resource version it saw (including bookmarks) after a dropped connection, and
/// re-lists after a `410 Gone` ERROR event in a watch. A watch request answered with the HTTP
/// status `410 Gone` it would retry from the same expired resource version forever, so this
/// loop replaces the watcher with a new one, which starts with a list. Otherwise it only waits
/// out the backoff between attempts. The backoff is reset by progress (a completed list, an
/// event) or by a retry that stays up for a minute, not by the `Init` marker that starts every
/// attempt, so a failing API is retried ever more slowly up to the maximum.
///
/// Every failure is recorded in the status as it happens (the clients this crate builds make
/// no retries of their own), and a failure the API answered with an error status waits at
/// least what the server asked for: the `Retry-After` of that answer (which `retry_after`
/// holds, from the client's HTTP layer), else the `retryAfterSeconds` of its `Status`, up to
/// the longest backoff.
pub(crate) async fn run<S>(
    mut watch: impl FnMut() -> S,
    mut store: Store,
    shared: Arc<Shared>,
    mut backoff: Backoff,
    retry_after: Arc<RetryAfter>,
) where
    S: Stream<Item = Result<Event<EndpointSlice>, watcher::Error>>,
{
    let mut events = Box::pin(watch());
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => {
                let progress =
                    matches!(event, Event::InitDone | Event::Apply(_) | Event::Delete(_));
                if matches!(event, Event::Init) && store.is_listed() {
                    tracing::debug!(service = %shared.service, "re-listing endpointslices");
                }
                match step(&mut store, &shared, event) {
                    Ok(_) => {}
                    Err(refused) => {
                        // The watcher is replaced before the wait, so that its connection (and
                        // any list in progress) is dropped now; the new one does nothing
                        // until it is polled, after the wait, and starts with a list.
                        events = Box::pin(watch());
                        let delay = backoff.next_delay();
                        let error =
                            refused.into_error(shared.namespace.clone(), shared.service.clone());
                        tracing::warn!(
                            namespace = %shared.namespace,
                            service = %shared.service,
                            error = %error,
                            retry_in = ?delay,
                            "endpointslices past a limit; keeping the last good set"
                        );
                        shared.record_error(WatchFailure::new(error.to_string()));
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                }
                if progress {
                    backoff.reset();
                }
            }
            Err(error) => {
                let (failure, asked_in_status) = describe(&error);
                // The header is the last response's: it belongs to this failure only when the
                // failure is that response (an error status), not a connection that failed
                // after it.
                let asked = failure
                    .status_code()
                    .and_then(|_| retry_after.get().or(asked_in_status));
                let delay = backoff.next_delay_asked(asked);
                if is_gone(&error) {
                    tracing::info!(
                        namespace = %shared.namespace,
                        service = %shared.service,
                        "endpointslice watch expired (410 gone): re-listing"
                    );
                } else {
                    tracing::warn!(
                        namespace = %shared.namespace,
                        service = %shared.service,
                        error = %failure,
                        retry_in = ?delay,
                        "endpointslice watch failed; keeping the last good set"
                    );
                }
                shared.record_error(failure);
                tokio::time::sleep(delay).await;
                if is_gone_at_start(&error) {
                    events = Box::pin(watch());
                }
            }
        }
    }
    tracing::debug!(service = %shared.service, "endpointslice watch ended");
}

/// Whether the resource version the watch resumes from has expired (`410 Gone`), in a watch
/// or as the answer to a watch request.
fn is_gone(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::WatchError(status) if status.code == 410)
        || is_gone_at_start(error)
}

/// Whether a watch request was answered `410 Gone`: kube's watcher would retry it from the
/// same resource version, which can never succeed.
fn is_gone_at_start(error: &watcher::Error) -> bool {
    matches!(
        error,
        watcher::Error::WatchStartFailed(kube::Error::Api(status)) if status.code == 410
    )
}

#[cfg(test)]
mod tests;
