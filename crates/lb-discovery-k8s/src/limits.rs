//! Bounds on what the Kubernetes API may send: a deadline per request and a byte limit per
//! response (per event for watches), applied as a layer of the kube client's HTTP stack.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::Error;
use crate::retry_after::RetryAfter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bounds on the Kubernetes API's answers, so that a slow or hostile API server can neither
/// stall discovery nor grow memory without limit.
///
/// Every client the source uses is bounded: one this crate builds (from a kubeconfig, the
/// cluster, or a `kube::Config`) and one you pass in whole to
/// [`Builder::client`](crate::Builder::client), whose requests go through the same bounds
/// (around whatever that client does itself, its own retries included).
/// [`Limits::max_slices`] and [`Limits::max_backends`] are enforced by the watch itself, as is
/// the API server's own bound on the size of one slice (see
/// [`Error::SliceTooLarge`](crate::Error::SliceTooLarge)). A watch response that ends within a
/// second of starting (or half its timeout) is an error,
/// [`Error::WatchEndedEarly`](crate::Error::WatchEndedEarly), so that a server that ends (or
/// cuts) every watch at once is asked again after a backoff, not in a tight loop.
///
/// ```
/// use std::time::Duration;
/// use lb_discovery_k8s::Limits;
/// let limits = Limits::default()
///     .request_timeout(Duration::from_secs(10))
///     .max_response_bytes(4 << 20);
/// assert_eq!(limits.max_response_bytes, 4 << 20);
/// assert_eq!(limits.max_slices, 10_000);
/// assert_eq!(limits.max_backends, 1_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The deadline for the answer to a request to start, and for a whole list response (or
    /// the error answer to a watch) to arrive. A successful watch response is open-ended by
    /// design: once it has started, its liveness is
    /// bounded by the watch timeout instead (the server ends it after
    /// [`Builder::watch_timeout`](crate::Builder::watch_timeout), and kube's watcher gives up on
    /// a silent stream 5 s after that). Default: 30 s.
    pub request_timeout: Duration,
    /// The most bytes of one list response (one page of at most
    /// [`Builder::page_size`](crate::Builder::page_size) slices) or error answer, and of one
    /// watch event.
    /// Default: 16 MiB. A slice of the EndpointSlice controller's default 100 endpoints is
    /// about 30 KB of JSON, so a default page of 100 such slices is about 3 MB; one slice of the
    /// API's maximum 1000 endpoints (one watch event) is about 300 KB.
    pub max_response_bytes: usize,
    /// The most EndpointSlices of the Service held at once, in the current view and in a
    /// re-list in progress (a list whose pages add up to more fails at the first slice past
    /// it). Since a re-list is kept apart until it completes, twice this many may be held for a
    /// moment. Default: 10,000.
    ///
    /// No real Service comes near it: the EndpointSlice controller puts up to 100 endpoints in
    /// a slice by default (`--max-endpoints-per-slice`, at most 1,000), so 10,000 slices hold a
    /// million endpoints at the default. The bound is for a broken or hostile API server that
    /// pages a list forever or keeps announcing new slice names in watch events, which would
    /// otherwise grow memory without limit.
    ///
    /// Past it, the watch fails with [`Error::TooManySlices`], counted in
    /// [`WatchStatus::errors`](crate::WatchStatus::errors): the last good set stays published
    /// as it is (never a truncated one), and after the backoff the watch starts over with a
    /// new list. Zero admits only a Service without slices.
    pub max_slices: usize,
    /// The most backends held at once across all the Service's slices, in the current view
    /// and in a re-list in progress (a list whose pages add up to more fails at the first
    /// slice that takes it past). As with [`max_slices`](Self::max_slices), twice this many may
    /// be held for a moment during a re-list. Default: 1,000,000.
    ///
    /// A backend is what the store keeps for each address of each endpoint on the selected
    /// port (an IP address, its state and its metadata, a few hundred bytes), counted slice by
    /// slice: an address listed in two slices (as happens for a moment while the controller
    /// moves an endpoint) counts twice, so this may pass before
    /// [`WatchStatus::backends`](crate::WatchStatus::backends), which counts it once, does.
    /// Endpoints of a slice that contribute nothing (no usable port, an address that is not an
    /// IP, a slice of another Service) are not counted.
    ///
    /// No real Service comes near it: Kubernetes' scalability thresholds stop at 150,000 Pods
    /// in a whole cluster, and 10,000 slices of the controller's default 100 endpoints are a
    /// million. The bound is for a hostile or broken API server, which could otherwise fill
    /// [`max_slices`](Self::max_slices) slices of up to
    /// [`max_response_bytes`](Self::max_response_bytes) each; with it, what the store holds is
    /// bounded by this count, whatever the slices' sizes. (One slice on its own is bounded as
    /// the API server's validation bounds it: at most 1,000 endpoints of at most 100 addresses,
    /// else [`Error::SliceTooLarge`](crate::Error::SliceTooLarge).)
    ///
    /// Past it, the watch fails with [`Error::TooManyBackends`], counted in
    /// [`WatchStatus::errors`](crate::WatchStatus::errors): the last good set stays published
    /// as it is (never a truncated one), and after the backoff the watch starts over with a
    /// new list. Zero admits only a Service without backends.
    pub max_backends: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 16 << 20,
            max_slices: 10_000,
            max_backends: 1_000_000,
        }
    }
}

impl Limits {
    /// Sets [`Limits::request_timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`Limits::max_response_bytes`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_slices`].
    pub fn max_slices(mut self, slices: usize) -> Self {
        self.max_slices = slices;
        self
    }

    /// Sets [`Limits::max_backends`].
    pub fn max_backends(mut self, backends: usize) -> Self {
        self.max_backends = backends;
        self
    }
}

/// The tower layer that applies [`Limits`] to a kube client's HTTP stack, names the API server
/// in transport errors, and records each response's `Retry-After` for the watch loop.
#[derive(Clone, Debug)]
pub(crate) struct LimitLayer {
    pub(crate) limits: Limits,
    /// The API server's URL, to name it in errors; `None` for a client passed in whole, whose
    /// URL is not known (errors then name the request's path).
    pub(crate) base: Option<Arc<str>>,
    pub(crate) retry_after: Arc<RetryAfter>,
}

impl LimitLayer {
    pub(crate) fn new(limits: Limits, base: Option<&http::Uri>) -> Self {
        LimitLayer {
            limits,
            base: base.map(|uri| uri.to_string().trim_end_matches('/').into()),
            retry_after: Arc::default(),
        }
    }
}

impl<S> tower::Layer<S> for LimitLayer {
    type Service = LimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`LimitLayer`].
#[derive(Debug)]
pub(crate) struct LimitService<S> {
    inner: S,
    layer: LimitLayer,
}

/// The least time a watch response must stay open to end without an error.
///
/// kube's watcher starts the next watch as soon as one ends, and tells its caller nothing when
/// the end was clean or the connection was cut (it takes an unexpected EOF for the end of a
/// long watch), so a server (or a proxy) that ends every watch at once would be asked again
/// as fast as it answers. A watch that ends sooner than this is an error instead
/// ([`Error::WatchEndedEarly`]), and the retry waits a backoff. The floor is one second (as
/// client-go's "very short watch"), or half the watch's `timeoutSeconds` when that is shorter.
const SHORT_WATCH: Duration = Duration::from_secs(1);

/// For a watch request (`watch=true` in its query, its body a stream of events), the least time
/// its response must stay open ([`SHORT_WATCH`]); `None` for other requests.
fn watch_floor(uri: &http::Uri) -> Option<Duration> {
    let query = uri.query()?;
    let mut watch = false;
    let mut floor = SHORT_WATCH;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("watch", "true" | "1")) => watch = true,
            Some(("timeoutSeconds", secs)) => {
                if let Ok(secs) = secs.parse::<u64>() {
                    floor = floor.min(Duration::from_secs(secs) / 2);
                }
            }
            _ => {}
        }
    }
    watch.then_some(floor)
}

impl<S, ReqBody, B> tower::Service<http::Request<ReqBody>> for LimitService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<BoundedBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let watch_floor = watch_floor(request.uri());
        let path: Arc<str> = request.uri().path().into();
        let limits = self.layer.limits;
        let base = self.layer.base.clone();
        let retry_after = Arc::clone(&self.layer.retry_after);
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut deadline = Box::pin(tokio::time::sleep(limits.request_timeout));
            let response = tokio::select! {
                response = response => response.map_err(|source| Error::Request {
                    url: format!("{}{path}", base.as_deref().unwrap_or_default()),
                    source: source.into(),
                })?,
                () = &mut deadline => {
                    return Err(Error::Timeout {
                        path: path.to_string(),
                        after: limits.request_timeout,
                    }
                    .into());
                }
            };
            retry_after.record(response.headers());
            // Only a successful watch answers with a stream of events. kube reads the body of
            // a failed one whole, to parse its `Status`: it is bounded like a list response.
            let watch_floor = watch_floor.filter(|_| response.status().is_success());
            let watch = watch_floor.is_some();
            Ok(response.map(|inner| BoundedBody {
                inner,
                mode: if watch { Mode::PerLine } else { Mode::Whole },
                limit: limits.max_response_bytes,
                seen: 0,
                // A list response must be complete by the request's deadline; a watch runs on.
                deadline: (!watch).then_some(deadline),
                timeout: limits.request_timeout,
                watch_floor: watch_floor.map(|floor| (Instant::now(), floor)),
                path,
                done: false,
            }))
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The whole body counts against the limit (a list response).
    Whole,
    /// Each line counts against the limit on its own (a watch: one JSON event per line).
    PerLine,
}

/// A response body that fails once it passes its byte limit or its deadline.
pub(crate) struct BoundedBody<B> {
    inner: B,
    mode: Mode,
    limit: usize,
    /// Bytes counted so far: of the whole body, or since the last newline.
    seen: usize,
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    /// For a watch: when its response started, and the least time it must stay open to end
    /// without an error (see [`SHORT_WATCH`]).
    watch_floor: Option<(Instant, Duration)>,
    path: Arc<str>,
    /// Set after an error: the body ends there.
    done: bool,
}

impl<B> std::fmt::Debug for BoundedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedBody")
            .field("mode", &self.mode)
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<B> BoundedBody<B> {
    /// Counts `data`; an error when it takes the count past the limit.
    fn count(&mut self, data: &[u8]) -> Result<(), Error> {
        let over = match self.mode {
            Mode::Whole => {
                self.seen = self.seen.saturating_add(data.len());
                self.seen > self.limit
            }
            Mode::PerLine => {
                let mut over = false;
                for (i, segment) in data.split(|b| *b == b'\n').enumerate() {
                    if i > 0 {
                        // A newline ended the previous line: the next one starts from zero.
                        self.seen = 0;
                    }
                    self.seen = self.seen.saturating_add(segment.len());
                    over |= self.seen > self.limit;
                }
                over
            }
        };
        if over {
            let path = self.path.to_string();
            let limit = self.limit;
            return Err(match self.mode {
                Mode::Whole => Error::ResponseTooLarge { path, limit },
                Mode::PerLine => Error::EventTooLarge { path, limit },
            });
        }
        Ok(())
    }

    /// [`Error::WatchEndedEarly`] (and the body ends) when this is a watch that ends now,
    /// sooner than its floor ([`SHORT_WATCH`]).
    fn ended_early(&mut self) -> Option<Error> {
        let (started, floor) = self.watch_floor?;
        let after = started.elapsed();
        (after < floor).then(|| {
            self.done = true;
            Error::WatchEndedEarly {
                path: self.path.to_string(),
                after,
            }
        })
    }
}

impl<B> Body for BoundedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.done = true;
            let path = this.path.to_string();
            return Poll::Ready(Some(Err(Error::Timeout {
                path,
                after: this.timeout,
            }
            .into())));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.count(data)
                {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let e: BoxError = e.into();
                match this.ended_early() {
                    Some(early) => {
                        // kube takes a connection cut (an unexpected EOF anywhere in the error's
                        // sources) for the normal end of a long watch and starts the next one at
                        // once, so the cause is logged here rather than kept as the source.
                        tracing::debug!(path = %this.path, error = %e, "kubernetes watch cut short");
                        Poll::Ready(Some(Err(early.into())))
                    }
                    None => Poll::Ready(Some(Err(e))),
                }
            }
            Poll::Ready(None) => match this.ended_early() {
                Some(early) => Poll::Ready(Some(Err(early.into()))),
                None => {
                    this.done = true;
                    Poll::Ready(None)
                }
            },
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        // A watch is polled to its end, where it may yet be an early end.
        self.done || (self.watch_floor.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
