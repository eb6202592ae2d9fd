//! [`MakeBackendService`]: how [`Balance`](crate::Balance) gets one inner service per backend.

use std::fmt;

use lb_core::{Backend, BoxError};

/// Makes the inner service of one backend: a client bound to that backend's address.
///
/// [`Balance`](crate::Balance) calls it the first time a backend is picked, keeps the service
/// (by address) while the backend stays in the load balancer's set and is used, and drops it when
/// the backend leaves the set or stays unused past the idle timeout. Each request gets a clone of
/// the kept service, so the service should be cheap to clone and share its connections between
/// clones, as hyper-util's `Client`, tonic's `Channel` and `tower::buffer::Buffer` are.
///
/// A closure `Fn(&Backend) -> Service` is a factory that cannot fail; [`try_make_fn`] wraps one
/// that can. Making a service should not block: connect lazily, on the first request.
pub trait MakeBackendService {
    /// The inner service of one backend.
    type Service;

    /// Makes the service of `backend`. An error fails the request that picked the backend
    /// ([`Error::Make`](crate::Error::Make)) and counts as a failure of the backend.
    fn make_service(&self, backend: &Backend) -> Result<Self::Service, BoxError>;
}

impl<F, Svc> MakeBackendService for F
where
    F: Fn(&Backend) -> Svc,
{
    type Service = Svc;

    fn make_service(&self, backend: &Backend) -> Result<Svc, BoxError> {
        Ok(self(backend))
    }
}

/// A factory from a closure that may fail; see [`try_make_fn`].
#[derive(Clone, Copy)]
pub struct TryMakeFn<F>(F);

/// A factory from a closure that may fail: `try_make_fn(|backend| Ok::<_, MyError>(...))`.
pub fn try_make_fn<F, Svc, E>(make: F) -> TryMakeFn<F>
where
    F: Fn(&Backend) -> Result<Svc, E>,
    E: Into<BoxError>,
{
    TryMakeFn(make)
}

impl<F, Svc, E> MakeBackendService for TryMakeFn<F>
where
    F: Fn(&Backend) -> Result<Svc, E>,
    E: Into<BoxError>,
{
    type Service = Svc;

    fn make_service(&self, backend: &Backend) -> Result<Svc, BoxError> {
        (self.0)(backend).map_err(Into::into)
    }
}

impl<F> fmt::Debug for TryMakeFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TryMakeFn")
    }
}
