//! [`Error`]: why a [`Balance`](crate::Balance) request failed on lb's side.

use std::time::Duration;

use lb_core::Address;

/// Why a request through [`Balance`](crate::Balance) failed before or around its backend.
///
/// [`Balance`](crate::Balance)'s error type is [`BoxError`](lb_core::BoxError): it holds either
/// one of these or the inner service's own error, passed through unchanged (downcast it to the
/// inner service's error type, as with any tower middleware).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No backend of the load balancer was ready for the request (an empty set, or every backend
    /// unhealthy, disabled or draining).
    #[error("no ready backend")]
    NoReadyBackend,
    /// The backend's inner service did not become ready within the wait allowed
    /// ([`BalanceLayer::ready_timeout`](crate::BalanceLayer::ready_timeout)).
    #[error("the service of backend {backend} was not ready within {after:?}")]
    ReadyTimeout {
        /// The backend.
        backend: Address,
        /// The wait allowed.
        after: Duration,
    },
    /// The per-backend factory could not make a service for the backend.
    #[error("could not make a service for backend {backend}")]
    Make {
        /// The backend.
        backend: Address,
        /// What the factory said.
        #[source]
        source: lb_core::BoxError,
    },
    /// The response future was polled again after it completed.
    #[error("response future polled after completion")]
    PolledAfterCompletion,
}
