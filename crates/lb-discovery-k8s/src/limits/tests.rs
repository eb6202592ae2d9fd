use std::convert::Infallible;

use futures_util::{StreamExt, stream};
use http_body_util::{BodyExt, StreamBody};
use tower::Service;

use super::*;

type Chunks = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn chunks(parts: &[&str]) -> Chunks {
    let frames: Vec<_> = parts
        .iter()
        .map(|p| Ok(Frame::data(Bytes::copy_from_slice(p.as_bytes()))))
        .collect();
    StreamBody::new(stream::iter(frames))
}

fn bounded<B>(inner: B, mode: Mode, limit: usize) -> BoundedBody<B> {
    BoundedBody {
        inner,
        mode,
        limit,
        seen: 0,
        deadline: None,
        timeout: Duration::from_secs(1),
        watch_floor: None,
        path: "/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices".into(),
        done: false,
    }
}

async fn read<B>(body: BoundedBody<B>) -> Result<String, String>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    match body.collect().await {
        Ok(all) => Ok(String::from_utf8_lossy(&all.to_bytes()).into_owned()),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn a_whole_response_is_bounded_in_total() {
    let ok = read(bounded(chunks(&["12345", "67890"]), Mode::Whole, 10)).await;
    assert_eq!(ok.as_deref(), Ok("1234567890"));
    let err = read(bounded(chunks(&["12345", "67890", "1"]), Mode::Whole, 10)).await;
    assert_eq!(
        err,
        Err("kubernetes api response from `/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices` \
             is larger than 10 bytes"
            .into())
    );
}

#[tokio::test]
async fn a_watch_is_bounded_per_line_whatever_the_chunking() {
    // Many short events: fine however long the stream gets.
    let many: Vec<String> = (0..100).map(|i| format!("{{\"n\":{i:04}}}\n")).collect();
    let parts: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(
        read(bounded(chunks(&parts), Mode::PerLine, 12))
            .await
            .is_ok()
    );
    // Lines split across chunks are counted across them.
    assert!(
        read(bounded(
            chunks(&["aaaa", "aaaa", "aa\nb"]),
            Mode::PerLine,
            10
        ))
        .await
        .is_ok()
    );
    let err = read(bounded(
        chunks(&["aaaa", "aaaa", "aaa\n"]),
        Mode::PerLine,
        10,
    ))
    .await;
    assert!(
        err.unwrap_err().contains("watch event"),
        "11 bytes in one line"
    );
    // A long line in the middle of a chunk, ended in the same chunk, is caught too.
    let err = read(bounded(chunks(&["a\nbbbbbbbbbbbb\nc"]), Mode::PerLine, 10)).await;
    assert!(err.unwrap_err().contains("larger than 10 bytes"));
    // A newline resets the count.
    assert!(
        read(bounded(
            chunks(&["aaaaaaaaaa\n", "bbbbbbbbbb\n"]),
            Mode::PerLine,
            10
        ))
        .await
        .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_list_body_times_out() {
    let mut body = bounded(
        StreamBody::new(stream::pending::<Result<Frame<Bytes>, Infallible>>()),
        Mode::Whole,
        10,
    );
    body.deadline = Some(Box::pin(tokio::time::sleep(Duration::from_secs(30))));
    body.timeout = Duration::from_secs(30);
    let started = tokio::time::Instant::now();
    let err = read(body).await.unwrap_err();
    assert!(err.contains("timed out after 30s"), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}

/// A service that answers after `delay` with a body of `body`.
struct Slow {
    delay: Duration,
    status: http::StatusCode,
    body: &'static str,
}

impl Service<http::Request<()>> for Slow {
    type Response = http::Response<Chunks>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        let (delay, status, body) = (self.delay, self.status, self.body);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let mut response = http::Response::new(chunks(&[body]));
            *response.status_mut() = status;
            Ok(response)
        })
    }
}

fn request(uri: &str) -> http::Request<()> {
    http::Request::get(uri).body(()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_layer_bounds_time_to_answer_and_picks_the_mode_from_the_query() {
    let limits = Limits::default()
        .request_timeout(Duration::from_secs(5))
        .max_response_bytes(8);
    let layer = LimitLayer::new(limits, None);
    let mut slow = tower::Layer::layer(
        &layer,
        Slow {
            delay: Duration::from_secs(6),
            status: http::StatusCode::OK,
            body: "",
        },
    );
    let err = slow.call(request("/apis/x?limit=1")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "kubernetes api request to `/apis/x` timed out after 5s"
    );

    let mut quick = tower::Layer::layer(
        &layer,
        Slow {
            delay: Duration::from_secs(1),
            status: http::StatusCode::OK,
            body: "0123456\n0123456\n",
        },
    );
    let list = quick.call(request("/apis/x?limit=1")).await.unwrap();
    assert!(
        read(list.into_body())
            .await
            .unwrap_err()
            .contains("api response"),
        "16 bytes in all"
    );
    let watch = quick
        .call(request(
            // `timeoutSeconds=0`: no floor on the watch's life, which ends at once here.
            "/apis/x?labelSelector=a&watch=true&resourceVersion=1&timeoutSeconds=0",
        ))
        .await
        .unwrap();
    assert_eq!(
        read(watch.into_body()).await.as_deref(),
        Ok("0123456\n0123456\n"),
        "8 bytes per line"
    );
}

#[test]
fn watch_requests_are_recognised_by_their_query_only() {
    let floor = |uri: &str| watch_floor(&uri.parse().unwrap());
    assert_eq!(floor("/a?watch=true"), Some(Duration::from_secs(1)));
    assert_eq!(floor("/a?x=1&watch=1"), Some(Duration::from_secs(1)));
    assert_eq!(floor("/a?watch=false"), None);
    assert_eq!(floor("/a?nowatch=true"), None);
    assert_eq!(floor("/watch=true"), None);
    assert_eq!(floor("/a?timeoutSeconds=1"), None);
    // The floor is a second, or half the watch's timeout when that is shorter.
    assert_eq!(
        floor("/a?watch=true&timeoutSeconds=290"),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        floor("/a?timeoutSeconds=1&watch=true"),
        Some(Duration::from_millis(500))
    );
    assert_eq!(
        floor("/a?watch=true&timeoutSeconds=0"),
        Some(Duration::ZERO)
    );
    assert_eq!(
        floor("/a?watch=true&timeoutSeconds=-3"),
        Some(Duration::from_secs(1))
    );
}

/// A watch body of `lines` that ends `after` its start.
fn watch_ending_after(
    lines: &'static str,
    after: Duration,
) -> BoundedBody<impl Body<Data = Bytes, Error = Infallible> + Unpin> {
    let frames = stream::once(async move { Ok(Frame::data(Bytes::from_static(lines.as_bytes()))) })
        .chain(stream::once(async move {
            tokio::time::sleep(after).await;
            Ok(Frame::data(Bytes::new()))
        }));
    let mut body = bounded(StreamBody::new(Box::pin(frames)), Mode::PerLine, 100);
    body.watch_floor = Some((tokio::time::Instant::now(), Duration::from_secs(1)));
    body
}

#[tokio::test(start_paused = true)]
async fn a_watch_that_ends_before_its_floor_is_an_error() {
    let early = read(watch_ending_after("{}\n", Duration::from_millis(999))).await;
    assert_eq!(
        early,
        Err(
            "kubernetes watch from `/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices` \
             ended after 999ms, long before its timeout"
                .into()
        )
    );
    let late = read(watch_ending_after("{}\n", Duration::from_secs(1))).await;
    assert_eq!(
        late.as_deref(),
        Ok("{}\n"),
        "a watch of a second ends cleanly"
    );
}

#[tokio::test(start_paused = true)]
async fn a_watch_cut_before_its_floor_is_an_early_end_and_later_its_own_error() {
    let cut = |after: Duration| {
        let frames = stream::once(async { Ok(Frame::data(Bytes::from_static(b"{}\n"))) }).chain(
            stream::once(async move {
                tokio::time::sleep(after).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection cut",
                ))
            }),
        );
        let mut body = bounded(StreamBody::new(Box::pin(frames)), Mode::PerLine, 100);
        body.watch_floor = Some((tokio::time::Instant::now(), Duration::from_secs(1)));
        body
    };
    let early = read(cut(Duration::from_millis(10))).await.unwrap_err();
    assert!(early.contains("ended after 10ms"), "{early}");
    let late = read(cut(Duration::from_secs(2))).await.unwrap_err();
    assert_eq!(late, "connection cut");
}

#[tokio::test(start_paused = true)]
async fn the_error_answer_to_a_watch_is_bounded_as_a_whole() {
    // kube reads the body of a failed watch request whole, to parse its `Status`: many short
    // lines must not add up past the limit, nor may the body take forever.
    let limits = Limits::default()
        .request_timeout(Duration::from_secs(5))
        .max_response_bytes(8);
    let mut failing = tower::Layer::layer(
        &LimitLayer::new(limits, None),
        Slow {
            delay: Duration::from_secs(1),
            status: http::StatusCode::INTERNAL_SERVER_ERROR,
            body: "0123456\n0123456\n",
        },
    );
    let response = failing
        .call(request("/apis/x?watch=true&timeoutSeconds=290"))
        .await
        .unwrap();
    let err = read(response.into_body()).await.unwrap_err();
    assert!(
        err.contains("api response from `/apis/x` is larger than 8 bytes"),
        "{err}"
    );

    let mut gone = tower::Layer::layer(
        &LimitLayer::new(limits, None),
        Slow {
            delay: Duration::ZERO,
            status: http::StatusCode::GONE,
            body: "{}",
        },
    );
    let response = gone.call(request("/apis/x?watch=true")).await.unwrap();
    assert_eq!(
        read(response.into_body()).await.as_deref(),
        Ok("{}"),
        "an error answer that ends at once is not a watch that ended early"
    );
    // An error answer that never ends is cut at the request's deadline, like a list.
    let mut stalled = tower::Layer::layer(
        &LimitLayer::new(limits, None),
        tower::service_fn(|_: http::Request<()>| async {
            let mut response = http::Response::new(StreamBody::new(stream::pending::<
                Result<Frame<Bytes>, Infallible>,
            >()));
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            Ok::<_, Infallible>(response)
        }),
    );
    let started = tokio::time::Instant::now();
    let response = stalled.call(request("/apis/x?watch=true")).await.unwrap();
    let err = read(response.into_body()).await.unwrap_err();
    assert!(err.contains("timed out after 5s"), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}
