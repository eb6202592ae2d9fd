//! Errors of lb-core.

use std::error::Error as StdError;
use std::fmt;

/// The error type that crosses trait boundaries implemented by many crates (discovery sources,
/// health checks, selection strategies). It is the same shape as tower's `BoxError`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `error` and its chain of sources, as one line (`outer: cause: root cause`), skipping a cause
/// whose text the outer message already contains: how every lb crate logs and reports errors.
///
/// ```
/// use std::io;
///
/// #[derive(Debug)]
/// struct Refresh(io::Error);
/// impl std::fmt::Display for Refresh {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("refreshing the backends failed")
///     }
/// }
/// impl std::error::Error for Refresh {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
///
/// let e = Refresh(io::Error::new(io::ErrorKind::TimedOut, "no answer in 2s"));
/// assert_eq!(lb_core::error_chain(&e), "refreshing the backends failed: no answer in 2s");
/// ```
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    use std::fmt::Write as _;
    let mut text = error.to_string();
    let mut source = error.source();
    // A chain is short; the bound only guards against a cyclic `source` implementation.
    for _ in 0..16 {
        let Some(cause) = source else { break };
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            let _ = write!(text, ": {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// A backend address that could not be parsed or is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// The input was the empty string.
    Empty,
    /// The input is not `ip:port`, `[ipv6]:port` or `unix:/path`.
    Invalid {
        /// The rejected input.
        input: String,
    },
    /// An IP address without a port.
    MissingPort {
        /// The rejected input.
        input: String,
    },
    /// Port 0 cannot be connected to.
    PortZero {
        /// The rejected input.
        input: String,
    },
    /// `unix:` with nothing after it.
    UnixPathEmpty,
    /// A Unix socket path longer than the kernel accepts
    /// ([`MAX_UNIX_PATH_LEN`](crate::MAX_UNIX_PATH_LEN) bytes).
    UnixPathTooLong {
        /// The rejected path.
        path: String,
        /// Its length in bytes.
        len: usize,
        /// The longest path accepted, in bytes.
        max: usize,
    },
    /// A Unix socket path containing a NUL byte.
    UnixPathNul {
        /// The rejected path, lossily printed.
        path: String,
    },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Empty => f.write_str("empty backend address"),
            AddressError::Invalid { input } => write!(
                f,
                "invalid backend address `{input}`: expected `ip:port`, `[ipv6]:port` or `unix:/path`"
            ),
            AddressError::MissingPort { input } => {
                write!(f, "backend address `{input}` has no port")
            }
            AddressError::PortZero { input } => write!(f, "backend address `{input}` has port 0"),
            AddressError::UnixPathEmpty => f.write_str("unix socket address has an empty path"),
            AddressError::UnixPathTooLong { path, len, max } => write!(
                f,
                "unix socket path `{path}` is {len} bytes long, more than the {max} the kernel \
                 accepts"
            ),
            AddressError::UnixPathNul { path } => {
                write!(f, "unix socket path `{path}` contains a NUL byte")
            }
        }
    }
}

impl StdError for AddressError {}

/// Why [`LoadBalancer::update`](crate::LoadBalancer::update) did not publish a new set.
///
/// In every case the previous set stays in place: a failed update never empties a load balancer.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpdateError {
    /// The discovery source returned an error.
    Discovery(BoxError),
    /// The selection strategy could not be built from the discovered backends (for example, a
    /// hash ring whose total weight exceeds its point limit).
    Build(BoxError),
    /// The blocking thread that built a large selector panicked or was cancelled.
    BuildTask(String),
    /// A newer update was published while this one was running; this one was discarded so that
    /// an older answer never replaces a newer one.
    Superseded,
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::Discovery(_) => f.write_str("service discovery failed"),
            UpdateError::Build(_) => f.write_str("building the backend selector failed"),
            UpdateError::BuildTask(why) => write!(f, "the selector build task failed: {why}"),
            UpdateError::Superseded => f.write_str("a newer update was published first"),
        }
    }
}

impl StdError for UpdateError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            UpdateError::Discovery(e) | UpdateError::Build(e) => Some(e.as_ref()),
            UpdateError::BuildTask(_) | UpdateError::Superseded => None,
        }
    }
}

/// Why a load balancer could not be constructed.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadBalancerError {
    /// An address in the list is not valid.
    InvalidBackend(AddressError),
    /// The selection strategy could not be built over the list.
    Build(BoxError),
}

impl fmt::Display for LoadBalancerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadBalancerError::InvalidBackend(e) => e.fmt(f),
            LoadBalancerError::Build(_) => f.write_str("building the backend selector failed"),
        }
    }
}

impl StdError for LoadBalancerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            LoadBalancerError::InvalidBackend(_) => None,
            LoadBalancerError::Build(e) => Some(e.as_ref()),
        }
    }
}
