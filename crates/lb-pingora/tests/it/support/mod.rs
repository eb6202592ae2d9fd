//! Real peers for the tests: hyper backends on 127.0.0.1 (plain or TLS with a CA made at test
//! time), a pingora `Server` run in process with lb's background service and a proxy over it, and
//! a client that talks HTTP/1.1 to that proxy.

pub(crate) mod backend;
pub(crate) mod client;
pub(crate) mod proxy;
pub(crate) mod server;

use std::future::Future;
use std::time::Duration;

/// How long a test waits for an event before it fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// Waits for `future`, failing the test after [`DEADLINE`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}
