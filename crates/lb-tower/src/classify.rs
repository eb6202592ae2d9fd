//! [`Classify`]: whether a response counts as a success or a failure of its backend.

use lb_core::Outcome;

/// Decides the [`Outcome`] of each request from its result, as the inner service gave it. The
/// outcome feeds the backend's load signals and passive health through its
/// [`Pick`](lb_core::Pick); with retries on, a failure may be retried on another backend.
///
/// Implemented by [`DefaultClassify`] (HTTP responses), [`ErrIsFailure`] (any response) and
/// closures `Fn(&Result<Resp, E>) -> Outcome`.
pub trait Classify<Resp, E> {
    /// The outcome of one request.
    fn classify(&self, result: &Result<Resp, E>) -> Outcome;
}

impl<F, Resp, E> Classify<Resp, E> for F
where
    F: Fn(&Result<Resp, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<Resp, E>) -> Outcome {
        self(result)
    }
}

/// The default for HTTP (`http::Response`, so hyper, axum and tonic services): an error is a
/// failure, and so is a response with a 5xx status, or a gRPC trailers-only response whose
/// `grpc-status` header says the server failed (UNKNOWN, DEADLINE_EXCEEDED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS, the codes Envoy maps to 5xx for outlier detection, except
/// UNIMPLEMENTED). Everything else (2xx, 3xx, 4xx, other gRPC codes) is a success of the backend:
/// it answered. A gRPC status sent in trailers after a response body is not seen: the outcome is
/// decided at the response headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultClassify;

impl<B, E> Classify<http::Response<B>, E> for DefaultClassify {
    #[inline]
    fn classify(&self, result: &Result<http::Response<B>, E>) -> Outcome {
        match result {
            Err(_) => Outcome::Failure,
            Ok(response) if response.status().is_server_error() => Outcome::Failure,
            Ok(response) => match response.headers().get("grpc-status") {
                Some(code) if matches!(code.as_bytes(), b"2" | b"4" | b"13" | b"14" | b"15") => {
                    Outcome::Failure
                }
                _ => Outcome::Success,
            },
        }
    }
}

/// For any response type: an error is a failure, every response a success.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrIsFailure;

impl<Resp, E> Classify<Resp, E> for ErrIsFailure {
    #[inline]
    fn classify(&self, result: &Result<Resp, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, grpc: Option<&str>) -> Result<http::Response<()>, ()> {
        let mut builder = http::Response::builder().status(status);
        if let Some(code) = grpc {
            builder = builder.header("grpc-status", code);
        }
        Ok(builder.body(()).unwrap())
    }

    #[test]
    fn http_defaults_fail_errors_5xx_and_server_side_grpc_codes() {
        let c = DefaultClassify;
        assert_eq!(c.classify(&response(200, None)), Outcome::Success);
        assert_eq!(c.classify(&response(404, None)), Outcome::Success);
        assert_eq!(c.classify(&response(429, None)), Outcome::Success);
        assert_eq!(c.classify(&response(500, None)), Outcome::Failure);
        assert_eq!(c.classify(&response(503, None)), Outcome::Failure);
        assert_eq!(
            c.classify(&Err::<http::Response<()>, _>(())),
            Outcome::Failure
        );
        assert_eq!(c.classify(&response(200, Some("0"))), Outcome::Success);
        assert_eq!(c.classify(&response(200, Some("5"))), Outcome::Success);
        assert_eq!(c.classify(&response(200, Some("12"))), Outcome::Success);
        assert_eq!(c.classify(&response(200, Some("14"))), Outcome::Failure);
        assert_eq!(c.classify(&response(200, Some("13"))), Outcome::Failure);
    }

    #[test]
    fn err_is_failure_and_closures() {
        assert_eq!(ErrIsFailure.classify(&Ok::<u8, ()>(1)), Outcome::Success);
        assert_eq!(ErrIsFailure.classify(&Err::<u8, ()>(())), Outcome::Failure);
        let odd_fails = |r: &Result<u8, ()>| match r {
            Ok(n) if n % 2 == 0 => Outcome::Success,
            _ => Outcome::Failure,
        };
        assert_eq!(odd_fails.classify(&Ok(3)), Outcome::Failure);
    }
}
