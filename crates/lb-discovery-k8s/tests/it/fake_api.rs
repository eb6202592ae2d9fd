//! A small fake Kubernetes API server over real HTTP/1.1 on 127.0.0.1: it lists and watches
//! `discovery.k8s.io/v1` EndpointSlices the way the real one does (label selector, resource
//! versions, pages of `limit` slices chained by `continue` tokens, chunked JSON-lines watch,
//! bookmarks, replay from a resource version, `410 Gone` after compaction), scripted by the test.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

const PREFIX: &str = "/apis/discovery.k8s.io/v1/namespaces/";
const LABEL: &str = "kubernetes.io/service-name";

/// Response bodies; an error aborts the connection mid-response.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// One request the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A list (its first page): its label selector.
    List { selector: String },
    /// A further page of a list: the `continue` token (the name of the last slice sent).
    NextPage { after: String },
    /// A watch: its label selector, resource version and whether bookmarks were asked for.
    Watch {
        selector: String,
        resource_version: String,
        bookmarks: bool,
    },
    /// A connection dropped at once because the server was down.
    Refused,
    /// A request answered with an error status because the server is failing
    /// ([`Mode::Fail`]).
    Failed { status: u16 },
}

/// How the server treats new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Up,
    /// Connections are closed as soon as they are accepted.
    Down,
    /// Requests are read and never answered.
    Stalled,
    /// Lists are answered; every watch is answered `200 OK` with an empty body that ends at
    /// once (a broken proxy or API server).
    WatchEndsAtOnce,
    /// Lists are answered; every watch is answered `200 OK` and its connection is cut right
    /// after the first (empty) line.
    WatchCutAtOnce,
    /// Every request (from now on, on open connections too) is answered with this HTTP status and a Kubernetes `Status` body, with a
    /// `Retry-After` header of that many seconds when given (an overloaded or failing API
    /// server, or a proxy in front of it).
    Fail {
        status: u16,
        retry_after: Option<u64>,
    },
}

struct Watcher {
    service: Option<String>,
    tx: mpsc::UnboundedSender<Bytes>,
}

struct State {
    rv: u64,
    slices: BTreeMap<String, EndpointSlice>,
    /// Every event since the last compaction: its resource version, service and JSON line.
    history: Vec<(u64, Option<String>, Bytes)>,
    /// Watches from a resource version below this get `410 Gone`.
    compacted: u64,
    /// Whether that `410 Gone` is the HTTP status of the watch response rather than an ERROR
    /// event in its body.
    gone_as_status: bool,
    watchers: Vec<Watcher>,
    /// Events are recorded but not sent to open watches (as if they were lost).
    muted: bool,
    mode: Mode,
    connections: Vec<AbortHandle>,
}

/// The fake API server. It stops (listener and every connection) when dropped.
pub(crate) struct FakeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    seen: Arc<watch::Sender<Log>>,
    accept: AbortHandle,
}

/// Every request seen, with when it came (on tokio's clock, so paused in paused tests).
type Log = Vec<(Instant, Seen)>;

fn log(seen: &watch::Sender<Log>, entry: Seen) {
    seen.send_modify(|s| s.push((Instant::now(), entry)));
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap()
}

fn service_of(slice: &EndpointSlice) -> Option<String> {
    slice.metadata.labels.as_ref()?.get(LABEL).cloned()
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = serde_json::to_string(&json!({ "type": kind, "object": object })).unwrap();
    text.push('\n');
    Bytes::from(text)
}

impl State {
    fn broadcast(&mut self, service: Option<String>, event: Bytes) {
        self.history.push((self.rv, service.clone(), event.clone()));
        if self.muted {
            return;
        }
        self.watchers.retain(|w| {
            if w.service.is_some() && w.service != service {
                return !w.tx.is_closed();
            }
            w.tx.send(event.clone()).is_ok()
        });
    }
}

impl FakeApi {
    /// Starts a server on 127.0.0.1:0, up, with resource version 1 and no slices.
    pub(crate) async fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            rv: 1,
            slices: BTreeMap::new(),
            history: Vec::new(),
            compacted: 0,
            gone_as_status: false,
            watchers: Vec::new(),
            muted: false,
            mode: Mode::Up,
            connections: Vec::new(),
        }));
        let seen = Arc::new(watch::Sender::new(Vec::new()));
        let accept = {
            let (state, seen) = (Arc::clone(&state), Arc::clone(&seen));
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let mode = lock(&state).mode;
                    if mode == Mode::Down {
                        log(&seen, Seen::Refused);
                        drop(stream);
                        continue;
                    }
                    let (state2, seen2) = (Arc::clone(&state), Arc::clone(&seen));
                    let connection = tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let (state, seen) = (Arc::clone(&state2), Arc::clone(&seen2));
                            async move { Ok::<_, Infallible>(handle(req, &state, &seen, mode).await) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                    lock(&state).connections.push(connection.abort_handle());
                }
            })
            .abort_handle()
        };
        FakeApi {
            addr,
            state,
            seen,
            accept,
        }
    }

    /// The base URL for a kube `Config`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The current resource version.
    pub(crate) fn resource_version(&self) -> u64 {
        lock(&self.state).rv
    }

    /// Creates or replaces a slice (ADDED or MODIFIED to the watches).
    pub(crate) fn apply(&self, mut slice: EndpointSlice) {
        let mut state = lock(&self.state);
        state.rv += 1;
        slice.metadata.resource_version = Some(state.rv.to_string());
        let name = slice.metadata.name.clone().unwrap();
        let kind = if state.slices.contains_key(&name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let event = line(kind, &serde_json::to_value(&slice).unwrap());
        let service = service_of(&slice);
        state.slices.insert(name, slice);
        state.broadcast(service, event);
    }

    /// Deletes a slice (DELETED to the watches).
    pub(crate) fn delete(&self, name: &str) {
        let mut state = lock(&self.state);
        let mut slice = state
            .slices
            .remove(name)
            .expect("deleting a slice that exists");
        state.rv += 1;
        slice.metadata.resource_version = Some(state.rv.to_string());
        let service = service_of(&slice);
        let event = line("DELETED", &serde_json::to_value(&slice).unwrap());
        state.broadcast(service, event);
    }

    /// Sends a BOOKMARK at the current resource version to every open watch.
    pub(crate) fn bookmark(&self) {
        let state = lock(&self.state);
        let event = line(
            "BOOKMARK",
            &json!({
                "kind": "EndpointSlice",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": { "resourceVersion": state.rv.to_string() }
            }),
        );
        for w in &state.watchers {
            let _ = w.tx.send(event.clone());
        }
    }

    /// Ends every open watch cleanly after what was sent to it, as the server does when a
    /// watch's `timeoutSeconds` runs out.
    pub(crate) fn end_watches(&self) {
        lock(&self.state).watchers.clear();
    }

    /// Sends raw bytes to every open watch (for malformed events).
    pub(crate) fn raw(&self, bytes: &'static str) {
        for w in &lock(&self.state).watchers {
            let _ = w.tx.send(Bytes::from_static(bytes.as_bytes()));
        }
    }

    /// While muted, changes reach the store and the history but not the open watches.
    pub(crate) fn mute(&self, muted: bool) {
        lock(&self.state).muted = muted;
    }

    /// Compacts the history: open watches get an ERROR event with code 410 and end, and a watch
    /// from any earlier resource version gets the same.
    pub(crate) fn expire(&self) {
        let mut state = lock(&self.state);
        state.compacted = state.rv;
        state.history.clear();
        let event = gone(state.rv);
        for w in state.watchers.drain(..) {
            let _ = w.tx.send(event.clone());
        }
    }

    /// Compacts the history and ends every open watch cleanly; from now on a watch from an
    /// earlier resource version is refused with the HTTP status `410 Gone` (as some API servers
    /// and proxies do) instead of an ERROR event.
    pub(crate) fn expire_by_status(&self) {
        let mut state = lock(&self.state);
        state.compacted = state.rv;
        state.history.clear();
        state.gone_as_status = true;
        state.watchers.clear();
    }

    /// Closes every open connection abruptly (no final chunk), as a crashed API server or a
    /// broken network would.
    pub(crate) fn drop_connections(&self) {
        let mut state = lock(&self.state);
        state.watchers.clear();
        for c in state.connections.drain(..) {
            c.abort();
        }
    }

    /// Sets how new connections are treated.
    pub(crate) fn set_mode(&self, mode: Mode) {
        lock(&self.state).mode = mode;
    }

    /// The requests seen so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.borrow().iter().map(|(_, s)| s.clone()).collect()
    }

    /// The requests seen so far, with when each came.
    pub(crate) fn seen_at(&self) -> Vec<(Instant, Seen)> {
        self.seen.borrow().clone()
    }

    /// Waits (at most 10 s) until the requests seen satisfy `until`; panics with them otherwise.
    /// Waits until a watch request has come in.
    pub(crate) async fn wait_first_watch(&self) {
        self.wait_seen("the first watch", |s| {
            s.iter().any(|r| matches!(r, Seen::Watch { .. }))
        })
        .await;
    }

    pub(crate) async fn wait_seen(&self, what: &str, until: impl Fn(&[Seen]) -> bool) {
        let mut rx = self.seen.subscribe();
        // Drop the read guard `wait_for` returns at once: the server cannot log while it is held.
        let reached = tokio::time::timeout(
            Duration::from_secs(10),
            rx.wait_for(|log| until(&log.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>())),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        assert!(
            reached,
            "timed out waiting for {what}; seen: {:#?}",
            self.seen()
        );
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_connections();
    }
}

fn gone(rv: u64) -> Bytes {
    line(
        "ERROR",
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!("too old resource version: (compacted at {rv})"),
            "reason": "Expired",
            "code": 410
        }),
    )
}

/// Decodes `application/x-www-form-urlencoded` query pairs.
fn query(uri: &hyper::Uri) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(serde_json::to_vec(value).unwrap()))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap()
}

/// The `Status` a failing server answers with `status`, as the API server words it.
fn failure(status: u16) -> Value {
    let (reason, message) = match status {
        429 => (
            "TooManyRequests",
            "too many requests, please try again later",
        ),
        500 => (
            "InternalError",
            "Internal error occurred: etcd cluster is unavailable",
        ),
        503 | 504 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        _ => ("Unknown", "the server failed"),
    };
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": status
    })
}

async fn handle(
    req: Request<Incoming>,
    state: &Mutex<State>,
    seen: &watch::Sender<Log>,
    mode: Mode,
) -> Response<Body> {
    if mode == Mode::Stalled {
        std::future::pending::<()>().await;
    }
    // A failing server fails every request from now on, on open connections too.
    if let Mode::Fail {
        status,
        retry_after,
    } = lock(state).mode
    {
        log(seen, Seen::Failed { status });
        let code = StatusCode::from_u16(status).unwrap();
        let mut response = json_response(code, &failure(status));
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
        }
        return response;
    }
    let path = req.uri().path().to_owned();
    let Some(namespace) = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix("/endpointslices"))
    else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
        );
    };
    let q = query(req.uri());
    let selector = q.get("labelSelector").cloned().unwrap_or_default();
    // The only selector form the client sends: `kubernetes.io/service-name=<name>`.
    let service = selector
        .strip_prefix(&format!("{LABEL}="))
        .map(str::to_owned);
    let in_scope = |s: &EndpointSlice| {
        s.metadata.namespace.as_deref() == Some(namespace)
            && (service.is_none() || service_of(s) == service)
    };
    if q.get("watch").map(String::as_str) == Some("true") {
        let resource_version = q.get("resourceVersion").cloned().unwrap_or_default();
        log(
            seen,
            Seen::Watch {
                selector: selector.clone(),
                resource_version: resource_version.clone(),
                bookmarks: q.get("allowWatchBookmarks").map(String::as_str) == Some("true"),
            },
        );
        if mode == Mode::WatchEndsAtOnce {
            return Response::builder()
                .header("content-type", "application/json")
                .body(
                    Full::new(Bytes::new())
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .unwrap();
        }
        if mode == Mode::WatchCutAtOnce {
            // The cut waits one turn, so that hyper sends the head and the first line first.
            let frames = futures_util::stream::iter([Ok(Frame::data(Bytes::from_static(b"\n")))])
                .chain(futures_util::stream::once(async {
                    tokio::task::yield_now().await;
                    Err(std::io::Error::other("connection cut"))
                }));
            return Response::builder()
                .header("content-type", "application/json")
                .body(BodyExt::boxed_unsync(StreamBody::new(frames)))
                .unwrap();
        }
        let from: u64 = resource_version.parse().unwrap_or(0);
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut state = state.lock().unwrap();
            if from < state.compacted && state.gone_as_status {
                let status: Value = serde_json::from_slice(&gone(state.rv)).unwrap();
                return json_response(StatusCode::GONE, &status["object"]);
            }
            if from < state.compacted {
                let _ = tx.send(gone(state.rv));
                drop(tx);
            } else {
                for (rv, svc, event) in &state.history {
                    if *rv > from && (service.is_none() || *svc == service) {
                        let _ = tx.send(event.clone());
                    }
                }
                state.watchers.push(Watcher {
                    service: service.clone(),
                    tx,
                });
            }
        }
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|bytes| (Ok::<_, std::io::Error>(Frame::data(bytes)), rx))
        });
        return Response::builder()
            .header("content-type", "application/json")
            .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
            .unwrap();
    }
    // Pages of `limit` slices in name order; the `continue` token is the last name sent (a real
    // server's token is opaque, and kube passes it back as it is).
    let after = q.get("continue").filter(|t| !t.is_empty()).cloned();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|&l| l > 0)
        .unwrap_or(usize::MAX);
    log(
        seen,
        match &after {
            None => Seen::List {
                selector: selector.clone(),
            },
            Some(after) => Seen::NextPage {
                after: after.clone(),
            },
        },
    );
    let state = state.lock().unwrap();
    let mut items: Vec<&EndpointSlice> = state
        .slices
        .iter()
        .filter(|(name, s)| after.as_ref().is_none_or(|a| *name > a) && in_scope(s))
        .map(|(_, s)| s)
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next = items
        .last()
        .filter(|_| more)
        .and_then(|s| s.metadata.name.clone());
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "EndpointSliceList",
            "apiVersion": "discovery.k8s.io/v1",
            "metadata": { "resourceVersion": state.rv.to_string(), "continue": next },
            "items": items,
        }),
    )
}
