//! [`WatchFailure`]: a failed list or watch call as the status reports it, with the HTTP status
//! the API answered, and the wait the API asked for.

use std::fmt;
use std::time::Duration;

use kube::core::Status;
use kube::runtime::watcher;

use crate::error::error_chain;

/// The most characters of an API server's message kept in a failure: a proxy's HTML error page
/// is no use whole, and the message is kept in the status until the next error.
const MAX_MESSAGE_CHARS: usize = 512;

/// What kube says when an error body is not a Kubernetes `Status` (a proxy's page, say): it is
/// not a reason worth repeating.
const UNPARSED_REASON: &str = "Failed to parse error data";

/// A failed list or watch call, kept as the cause of
/// [`Error::NotListed`](crate::Error::NotListed) and in
/// [`WatchStatus::last_error`](crate::WatchStatus::last_error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchFailure {
    message: String,
    status: Option<u16>,
}

impl WatchFailure {
    pub(crate) fn new(message: String) -> Self {
        WatchFailure {
            message,
            status: None,
        }
    }

    /// The error text, with its causes joined by `": "`. When the API answered with an error
    /// status it reads `... kubernetes api answered 503 Service Unavailable: <the API's
    /// message> (<its reason>)`; otherwise it names the request's URL and the transport's error
    /// (connection refused, a certificate not trusted, a deadline passed, ...).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status the Kubernetes API answered with (such as 429, 500 or 503), or `None`
    /// when the call failed without one (the connection, TLS, a deadline, a limit, a malformed
    /// answer).
    pub fn status_code(&self) -> Option<u16> {
        self.status
    }
}

impl fmt::Display for WatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WatchFailure {}

/// The failure a watcher error reports, and the wait the API asked for in its `Status`
/// (`details.retryAfterSeconds`, which the API server sets with `429 Too Many Requests`).
pub(crate) fn describe(error: &watcher::Error) -> (WatchFailure, Option<Duration>) {
    let (context, status) = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status)) => {
            ("failed to perform initial object list", status)
        }
        watcher::Error::WatchStartFailed(kube::Error::Api(status)) => {
            ("failed to start watching object", status)
        }
        watcher::Error::WatchFailed(kube::Error::Api(status)) => ("watch stream failed", status),
        watcher::Error::WatchError(status) => ("error returned by apiserver during watch", status),
        // A request that got no answer: kube wraps the HTTP stack's error (which names the
        // URL, see `Error::Request`) in a `ServiceError: ` that says nothing more.
        watcher::Error::InitialListFailed(kube::Error::Service(cause))
        | watcher::Error::WatchStartFailed(kube::Error::Service(cause))
        | watcher::Error::WatchFailed(kube::Error::Service(cause)) => {
            let context = error.to_string();
            let context = context.split(": ").next().unwrap_or_default();
            let failure = WatchFailure::new(format!("{context}: {}", error_chain(cause.as_ref())));
            return (failure, None);
        }
        _ => return (WatchFailure::new(error_chain(error)), None),
    };
    let retry_after = status
        .details
        .as_ref()
        .map(|d| d.retry_after_seconds)
        .filter(|secs| *secs > 0)
        .map(|secs| Duration::from_secs(secs.into()));
    let failure = WatchFailure {
        message: format!("{context}: {}", answered(status)),
        status: (status.code != 0).then_some(status.code),
    };
    (failure, retry_after)
}

/// `kubernetes api answered 503 Service Unavailable: <message> (<reason>)`.
fn answered(status: &Status) -> String {
    let mut text = String::from("kubernetes api answered");
    if status.code != 0 {
        text.push_str(&format!(" {}", status.code));
        if let Some(name) = http::StatusCode::from_u16(status.code)
            .ok()
            .and_then(|code| code.canonical_reason())
        {
            text.push(' ');
            text.push_str(name);
        }
    }
    let message = status.message.trim();
    if !message.is_empty() {
        text.push_str(": ");
        match message.char_indices().nth(MAX_MESSAGE_CHARS) {
            Some((cut, _)) => {
                text.push_str(&message[..cut]);
                text.push_str("...");
            }
            None => text.push_str(message),
        }
    }
    if !status.reason.is_empty() && status.reason != UNPARSED_REASON {
        text.push_str(&format!(" ({})", status.reason));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: serde_json::Value) -> Box<Status> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn an_api_answer_reads_as_its_status_message_and_reason() {
        let error = watcher::Error::InitialListFailed(kube::Error::Api(status(
            serde_json::json!({"status": "Failure", "code": 429, "reason": "TooManyRequests",
                "message": "too many requests", "details": {"retryAfterSeconds": 7}}),
        )));
        let (failure, retry_after) = describe(&error);
        assert_eq!(
            failure.message(),
            "failed to perform initial object list: kubernetes api answered 429 Too Many \
             Requests: too many requests (TooManyRequests)"
        );
        assert_eq!(failure.status_code(), Some(429));
        assert_eq!(retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn a_body_that_is_no_status_is_cut_short_and_its_nonreason_dropped() {
        // What kube makes of a proxy's HTML page.
        let page = format!("<html>{}</html>", "é".repeat(5000));
        let error = watcher::Error::WatchStartFailed(kube::Error::Api(Box::new(
            Status::failure(&page, UNPARSED_REASON).with_code(502),
        )));
        let (failure, retry_after) = describe(&error);
        let text = failure.message();
        assert!(
            text.starts_with(
                "failed to start watching object: kubernetes api answered 502 Bad Gateway: <html>"
            ),
            "{text}"
        );
        assert!(text.ends_with("éé..."), "{text}");
        assert!(text.chars().count() < MAX_MESSAGE_CHARS + 100);
        assert_eq!(failure.status_code(), Some(502));
        assert_eq!(retry_after, None);
    }

    #[test]
    fn a_request_without_an_answer_reads_as_its_cause_without_kubes_wrapper() {
        let cause = crate::Error::Request {
            url: "https://10.0.0.1:6443/apis/x".into(),
            source: "connection refused".into(),
        };
        let error = watcher::Error::WatchStartFailed(kube::Error::Service(Box::new(cause)));
        let (failure, retry_after) = describe(&error);
        assert_eq!(
            failure.message(),
            "failed to start watching object: kubernetes api request to \
             `https://10.0.0.1:6443/apis/x` failed: connection refused"
        );
        assert_eq!((failure.status_code(), retry_after), (None, None));
    }

    #[test]
    fn other_errors_keep_their_chain_and_have_no_status() {
        let error = watcher::Error::NoResourceVersion;
        let (failure, retry_after) = describe(&error);
        assert!(failure.message().contains("no metadata.resourceVersion"));
        assert_eq!((failure.status_code(), retry_after), (None, None));
        // An ERROR event without a code still reads well.
        let event = watcher::Error::WatchError(status(
            serde_json::json!({"status": "Failure", "message": "too old resource version"}),
        ));
        let (failure, _) = describe(&event);
        assert_eq!(
            failure.message(),
            "error returned by apiserver during watch: kubernetes api answered: too old \
             resource version"
        );
    }
}
