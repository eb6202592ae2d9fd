//! [`Outcome`]: how a request ended, as the caller reports it.

/// Whether a request to a backend succeeded, as reported through
/// [`Pick::report`](crate::Pick::report). A request whose [`Pick`](crate::Pick) is dropped without
/// a report ends as *cancelled*: neither a success nor a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The request succeeded.
    Success,
    /// The request failed because of the backend (connect error, reset, 5xx...).
    Failure,
}
