//! [`ResponseFuture`]: one request through [`Balance`](crate::Balance), from its backend's
//! readiness to its outcome, and its retries.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use lb_core::{Address, BackendSelection, BoxError, Outcome, Pick};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::Service;

use crate::balance::Shared;
use crate::classify::Classify;
use crate::error::Error;
use crate::key::RequestKey;
use crate::make::MakeBackendService;
use crate::retry::RetryRequest;

pin_project! {
    /// The response of one request through [`Balance`](crate::Balance). It holds the request's
    /// [`Pick`]: completing reports the outcome, dropping it first ends the request as cancelled.
    pub struct ResponseFuture<S, M, K, C, R, Req>
    where
        S: BackendSelection,
        M: MakeBackendService,
        M::Service: Service<Req>,
    {
        shared: Arc<Shared<S, M, K, C, R>>,
        pick: Option<Pick<S>>,
        retry: Option<RetryState<Req>>,
        #[pin]
        state: State<M::Service, Req, <M::Service as Service<Req>>::Future>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Svc, Req, F> {
        /// Waiting for the backend's inner service to be ready.
        Ready {
            svc: Svc,
            req: Option<Req>,
            // Set when the service is first not ready (the clock is read only then): the wait's
            // start and its deadline.
            waiting: Option<(Instant, Pin<Box<Sleep>>)>,
        },
        /// Sent; waiting for the response.
        Calling {
            #[pin]
            future: F,
            sent: Instant,
        },
        /// Failed before reaching a backend.
        Failed { error: Option<BoxError> },
        Done,
    }
}

/// What a retryable request carries: a copy to send again, the backends tried, retries left.
struct RetryState<Req> {
    copy: Option<Req>,
    tried: Vec<Address>,
    left: u32,
}

type StateOf<M, Req> = State<
    <M as MakeBackendService>::Service,
    Req,
    <<M as MakeBackendService>::Service as Service<Req>>::Future,
>;

impl<S, M, K, C, R, Req> ResponseFuture<S, M, K, C, R, Req>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Service<Req> + Clone + Send + Sync + 'static,
    K: RequestKey<Req>,
    R: RetryRequest<Req>,
{
    /// Picks a backend for `req` and gets ready to send it there.
    pub(crate) fn start(shared: Arc<Shared<S, M, K, C, R>>, req: Req) -> Self {
        let retry = shared.config.retries.as_ref().and_then(|retries| {
            retries.budget.deposit();
            (retries.max_retries > 0).then(|| RetryState {
                copy: shared.retry_request.copy(&req),
                tried: Vec::with_capacity(2),
                left: retries.max_retries,
            })
        });
        let pick = {
            let key = shared.key.key(&req);
            shared.lb.select(key.as_ref())
        };
        let mut future = ResponseFuture {
            shared,
            pick: None,
            retry,
            state: State::Done,
        };
        future.state = match pick {
            Some(pick) => Self::attempt(
                &future.shared,
                &mut future.retry,
                &mut future.pick,
                pick,
                req,
            ),
            None => State::Failed {
                error: Some(Error::NoReadyBackend.into()),
            },
        };
        future
    }

    /// Gets ready to send `req` to `pick`'s backend.
    fn attempt(
        shared: &Shared<S, M, K, C, R>,
        retry: &mut Option<RetryState<Req>>,
        pick_slot: &mut Option<Pick<S>>,
        pick: Pick<S>,
        req: Req,
    ) -> StateOf<M, Req> {
        if let Some(retry) = retry {
            retry.tried.push(pick.addr.clone());
        }
        match shared.service_for(&pick) {
            Ok(svc) => {
                *pick_slot = Some(pick);
                State::Ready {
                    svc,
                    req: Some(req),
                    waiting: None,
                }
            }
            Err(error) => {
                pick.report(Outcome::Failure, Duration::ZERO);
                State::Failed { error: Some(error) }
            }
        }
    }

    /// After a failure: the next attempt, on a backend not tried yet, if the request may be
    /// retried and the budget allows. `unsent` is the request when it never left (its backend's
    /// service was not ready): it is safe to send elsewhere whatever its method.
    fn retry(
        shared: &Shared<S, M, K, C, R>,
        retry: &mut Option<RetryState<Req>>,
        pick_slot: &mut Option<Pick<S>>,
        unsent: Option<Req>,
    ) -> Option<StateOf<M, Req>> {
        let retries = shared.config.retries.as_ref()?;
        let state = retry.as_mut()?;
        if state.left == 0 {
            return None;
        }
        let req = match unsent {
            Some(req) => req,
            None => state.copy.take()?,
        };
        // The budget is asked before a backend is picked: a pick that is then refused would
        // still take a strategy's turn (round robin would hand the next request the failing
        // backend again). A set with no backend left to try costs no token.
        if shared.lb.backends().get_backend().len() <= state.tried.len() {
            return None;
        }
        if !retries.budget.withdraw() {
            tracing::debug!("retry budget spent: not retrying");
            return None;
        }
        let pick = {
            let key = shared.key.key(&req);
            let tried = &state.tried;
            shared
                .lb
                .select_with(key.as_ref(), usize::MAX, |backend, ready| {
                    ready && !tried.contains(&backend.addr)
                })?
        };
        state.left -= 1;
        if state.left > 0 && state.copy.is_none() {
            state.copy = shared.retry_request.copy(&req);
        }
        Some(Self::attempt(shared, retry, pick_slot, pick, req))
    }
}

impl<S, M, K, C, R, Req> Future for ResponseFuture<S, M, K, C, R, Req>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Service<Req> + Clone + Send + Sync + 'static,
    <M::Service as Service<Req>>::Error: Into<BoxError>,
    K: RequestKey<Req>,
    C: Classify<<M::Service as Service<Req>>::Response, <M::Service as Service<Req>>::Error>,
    R: RetryRequest<Req>,
{
    type Output = Result<<M::Service as Service<Req>>::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Ready { svc, req, waiting } => {
                    let error: BoxError = match svc.poll_ready(cx) {
                        Poll::Ready(Ok(())) => {
                            let Some(req) = req.take() else {
                                this.state.set(State::Done);
                                return Poll::Ready(Err(Error::PolledAfterCompletion.into()));
                            };
                            let future = svc.call(req);
                            this.state.set(State::Calling {
                                future,
                                sent: Instant::now(),
                            });
                            continue;
                        }
                        Poll::Ready(Err(error)) => error.into(),
                        Poll::Pending => {
                            let wait = this.shared.config.ready_timeout;
                            let (_, deadline) = waiting.get_or_insert_with(|| {
                                (Instant::now(), Box::pin(tokio::time::sleep(wait)))
                            });
                            if deadline.as_mut().poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            let backend = this.pick.as_ref().map(|p| p.addr.clone());
                            match backend {
                                Some(backend) => Error::ReadyTimeout {
                                    backend,
                                    after: wait,
                                }
                                .into(),
                                None => Error::PolledAfterCompletion.into(),
                            }
                        }
                    };
                    // The backend could not take the request: a failure of the backend, and a
                    // request that never left, so any request may go elsewhere.
                    let waited = waiting
                        .as_ref()
                        .map_or(Duration::ZERO, |(since, _)| since.elapsed());
                    let unsent = req.take();
                    if let Some(pick) = this.pick.take() {
                        pick.report(Outcome::Failure, waited);
                    }
                    match Self::retry(this.shared, this.retry, this.pick, unsent) {
                        Some(next) => this.state.set(next),
                        None => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(error));
                        }
                    }
                }
                StateProj::Calling { future, sent } => {
                    let result = ready!(future.poll(cx));
                    let latency = sent.elapsed();
                    let outcome = this.shared.classify.classify(&result);
                    if let Some(pick) = this.pick.take() {
                        pick.report(outcome, latency);
                    }
                    if outcome == Outcome::Failure
                        && let Some(next) = Self::retry(this.shared, this.retry, this.pick, None)
                    {
                        this.state.set(next);
                        continue;
                    }
                    this.state.set(State::Done);
                    return Poll::Ready(result.map_err(Into::into));
                }
                StateProj::Failed { error } => {
                    let error = error
                        .take()
                        .unwrap_or_else(|| Error::PolledAfterCompletion.into());
                    this.state.set(State::Done);
                    return Poll::Ready(Err(error));
                }
                StateProj::Done => return Poll::Ready(Err(Error::PolledAfterCompletion.into())),
            }
        }
    }
}

impl<S, M, K, C, R, Req> fmt::Debug for ResponseFuture<S, M, K, C, R, Req>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready { .. } => "ready",
            State::Calling { .. } => "calling",
            State::Failed { .. } => "failed",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("backend", &self.pick.as_ref().map(|p| &p.addr))
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
