//! An HTTP/1.1 client of the proxy, over its Unix socket: one connection per request, so that
//! every request is a new session of the proxy.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use super::within;

/// The most bytes of an answer the client reads (the backends answer with an address).
const BODY_LIMIT: usize = 64 * 1024;

/// Sends `GET /` to the proxy listening on `socket` and returns the status and the body.
pub(crate) async fn get(socket: &Path) -> (u16, String) {
    within("an answer from the proxy", async {
        let stream = UnixStream::connect(socket)
            .await
            .expect("connect to the proxy's socket");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("an HTTP/1.1 handshake with the proxy");
        let driver = tokio::spawn(connection);
        let request = http::Request::get("/")
            .header(http::header::HOST, "proxy.test")
            .body(Empty::<Bytes>::new())
            .expect("a valid request");
        let response = sender
            .send_request(request)
            .await
            .expect("the proxy answers");
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), BODY_LIMIT)
            .collect()
            .await
            .expect("a complete answer")
            .to_bytes();
        driver.abort();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
    .await
}

/// Waits until the proxy accepts connections on `socket`.
///
/// pingora gives no signal when a listener is bound (its listening services report ready before
/// they bind), so this retries the connection itself, a few milliseconds apart, until the
/// deadline.
pub(crate) async fn listening(socket: &Path) {
    within("the proxy to listen", async {
        loop {
            if UnixStream::connect(socket).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Whether the proxy refuses connections on `socket` (its listener is closed).
pub(crate) async fn refused(socket: &Path) -> bool {
    UnixStream::connect(socket).await.is_err()
}
