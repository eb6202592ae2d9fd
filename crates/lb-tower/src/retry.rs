//! Retries on another backend: which requests may be sent again ([`RetryRequest`]), how many
//! times, and the budget that keeps retries from multiplying load ([`RetryBudget`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

/// Says whether a request may be sent again, by returning a copy of it to send on another
/// backend if its first attempt fails; `None` when it must not be retried (not idempotent, a
/// body that cannot be replayed).
///
/// Implemented by [`NoRetry`] (the default: never), [`Idempotent`] (HTTP requests with an
/// idempotent method and a cloneable body) and closures `Fn(&Req) -> Option<Req>`.
pub trait RetryRequest<Req> {
    /// A copy of `req` to retry with, if it may be retried.
    fn copy(&self, req: &Req) -> Option<Req>;
}

impl<F, Req> RetryRequest<Req> for F
where
    F: Fn(&Req) -> Option<Req>,
{
    fn copy(&self, req: &Req) -> Option<Req> {
        self(req)
    }
}

/// Never retries (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRetry;

impl<Req> RetryRequest<Req> for NoRetry {
    #[inline]
    fn copy(&self, _req: &Req) -> Option<Req> {
        None
    }
}

/// Retries HTTP requests whose method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, as
/// RFC 9110 defines them) and whose body type can be cloned (such as
/// `http_body_util::Full<Bytes>`), or that carry the [`Retryable`] extension whatever their
/// method.
#[derive(Clone, Copy, Debug, Default)]
pub struct Idempotent;

/// An HTTP request extension that marks a request retryable whatever its method (see
/// [`Idempotent`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Retryable;

impl<B: Clone> RetryRequest<http::Request<B>> for Idempotent {
    fn copy(&self, req: &http::Request<B>) -> Option<http::Request<B>> {
        if !req.method().is_idempotent() && req.extensions().get::<Retryable>().is_none() {
            return None;
        }
        let mut copy = http::Request::new(req.body().clone());
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        if req.extensions().get::<Retryable>().is_some() {
            copy.extensions_mut().insert(Retryable);
        }
        Some(copy)
    }
}

/// How [`Balance`](crate::Balance) retries: at most `max_retries` more attempts per request,
/// each on a ready backend the request has not tried yet, within a [`RetryBudget`]. A request is
/// retried when its outcome (by the [`Classify`](crate::Classify) in use) is a failure and its
/// [`RetryRequest`] gave a copy of it. A request that never left (its backend's service failed
/// or timed out on readiness) is retried whatever its [`RetryRequest`] says: it is the request
/// itself that goes elsewhere.
///
/// A retry takes its token from the budget before its backend is picked (a pick refused
/// afterwards would still take the strategy's turn); when every untried backend is down, that
/// token is spent without a retry. Every attempt is reported on its own backend's
/// [`Pick`](lb_core::Pick), so passive health sees each failure.
#[derive(Clone, Debug)]
pub struct Retries {
    pub(crate) max_retries: u32,
    pub(crate) budget: Arc<RetryBudget>,
}

impl Default for Retries {
    /// One retry, within the default budget.
    fn default() -> Self {
        Retries {
            max_retries: 1,
            budget: Arc::new(RetryBudget::default()),
        }
    }
}

impl Retries {
    /// One retry per request within the default [`RetryBudget`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most retries of one request (each on another backend). 0 turns retries off.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the budget. Share one `Arc` between several [`Balance`](crate::Balance)s to give them
    /// one budget.
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// The budget.
    pub fn retry_budget(&self) -> &Arc<RetryBudget> {
        &self.budget
    }
}

/// Why a [`RetryBudget`] could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryBudgetError {
    /// The window was outside 1 s to 60 s.
    #[error("retry budget window {0:?} is outside 1 s to 60 s")]
    Window(Duration),
    /// The ratio was negative, not a number, or above 10 (1,000 %).
    #[error("retry budget ratio {0} is not between 0 and 10")]
    Ratio(f32),
    /// The minimum per second was above `i32::MAX`.
    #[error("retry budget minimum {0} per second is too large")]
    MinPerSecond(u32),
}

/// A retry budget as linkerd (`retryBudget`) defines it, on tower's `TpsBudget`: each request
/// deposits `ratio` of a retry, each retry withdraws one, and deposits older than `window`
/// expire; on top of that, `min_per_second` retries are always allowed, so that a service with
/// little traffic can still retry. With the default ratio of 0.2, retries add at most 20 % to the
/// load (beyond the minimum), which is also Envoy's default retry budget (`budget_percent`
/// 20 %). When the budget is spent, a failed request is answered as it failed.
pub struct RetryBudget {
    inner: TpsBudget,
    window: Duration,
    min_per_second: u32,
    ratio: f32,
}

impl Default for RetryBudget {
    /// linkerd's defaults: a ratio of 0.2, 10 retries per second at least, a 10 s window.
    fn default() -> Self {
        RetryBudget {
            inner: TpsBudget::new(Duration::from_secs(10), 10, 0.2),
            window: Duration::from_secs(10),
            min_per_second: 10,
            ratio: 0.2,
        }
    }
}

impl RetryBudget {
    /// A budget allowing retries of up to `ratio` of the requests made in the last `window`
    /// (1 s to 60 s), plus `min_per_second`. A `ratio` of 0 allows only the minimum.
    pub fn new(
        window: Duration,
        min_per_second: u32,
        ratio: f32,
    ) -> Result<Self, RetryBudgetError> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&window) {
            return Err(RetryBudgetError::Window(window));
        }
        if !(0.0..=10.0).contains(&ratio) {
            return Err(RetryBudgetError::Ratio(ratio));
        }
        if min_per_second >= i32::MAX as u32 {
            return Err(RetryBudgetError::MinPerSecond(min_per_second));
        }
        Ok(RetryBudget {
            inner: TpsBudget::new(window, min_per_second, ratio),
            window,
            min_per_second,
            ratio,
        })
    }

    /// Records a request (not a retry): what retries are budgeted from.
    pub fn deposit(&self) {
        self.inner.deposit();
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn withdraw(&self) -> bool {
        self.inner.withdraw()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("window", &self.window)
            .field("min_per_second", &self.min_per_second)
            .field("ratio", &self.ratio)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_budgets_are_typed_errors() {
        assert_eq!(
            RetryBudget::new(Duration::from_millis(10), 1, 0.2).unwrap_err(),
            RetryBudgetError::Window(Duration::from_millis(10))
        );
        assert!(matches!(
            RetryBudget::new(Duration::from_secs(10), 1, f32::NAN),
            Err(RetryBudgetError::Ratio(_))
        ));
        assert!(matches!(
            RetryBudget::new(Duration::from_secs(10), 1, -0.1),
            Err(RetryBudgetError::Ratio(_))
        ));
        assert!(matches!(
            RetryBudget::new(Duration::from_secs(10), u32::MAX, 0.2),
            Err(RetryBudgetError::MinPerSecond(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fifth_of_the_requests_may_be_retried_within_the_window() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.2).unwrap();
        for _ in 0..100 {
            budget.deposit();
        }
        let allowed = (0..100).take_while(|_| budget.withdraw()).count();
        assert_eq!(allowed, 20);
        for _ in 0..10 {
            budget.deposit();
        }
        assert!(budget.withdraw(), "ten more requests pay for two retries");
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        // Deposits expire with the window: after it, nothing is left.
        for _ in 0..50 {
            budget.deposit();
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!budget.withdraw(), "old deposits expired");
    }

    #[tokio::test(start_paused = true)]
    async fn the_minimum_allows_retries_without_traffic() {
        let budget = RetryBudget::new(Duration::from_secs(2), 3, 0.2).unwrap();
        let allowed = (0..100).take_while(|_| budget.withdraw()).count();
        assert_eq!(allowed, 6, "3 per second over a 2 s window");
    }

    #[test]
    fn idempotent_copies_only_idempotent_or_marked_requests() {
        let get = http::Request::get("/a").header("x", "1").body("b").unwrap();
        let copy = Idempotent.copy(&get).expect("GET is idempotent");
        assert_eq!(
            (copy.uri(), copy.headers()["x"].as_bytes(), *copy.body()),
            (get.uri(), &b"1"[..], "b")
        );
        let post = http::Request::post("/a").body("b").unwrap();
        assert!(Idempotent.copy(&post).is_none());
        let mut marked = http::Request::post("/a").body("b").unwrap();
        marked.extensions_mut().insert(Retryable);
        let copy = Idempotent.copy(&marked).expect("marked retryable");
        assert_eq!(copy.method(), http::Method::POST);
        assert!(copy.extensions().get::<Retryable>().is_some());
        assert!(NoRetry.copy(&get).is_none());
    }
}
