//! Serving an internal API on a Unix socket.
//!
//! Each accepted connection is checked with `SO_PEERCRED`: a peer running as another uid is
//! dropped before a byte is read ([`serve_peers`] names the uids a socket also admits). Requests announcing another protocol version are refused.
//! On shutdown the listener closes at once and open connections get a bounded time to finish.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::body::{Body, error_response};
use crate::protocol::{PROTOCOL_VERSION, VERSION_HEADER};

/// How long open connections may take to finish once shutdown begins.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// An internal API: turns a request into a response. Errors are responses too.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;
}

/// Serves `handler` on `listener` until `shutdown` is cancelled, then drains connections for
/// at most a few seconds. Only processes of our own uid are served.
pub async fn serve<H: Handler>(listener: UnixListener, handler: Arc<H>, shutdown: CancellationToken) {
    serve_peers(listener, handler, shutdown, |_| false).await;
}

/// [`serve`], also admitting peers whose uid `also_admits` (asked at each connection).
pub async fn serve_peers<H: Handler>(
    listener: UnixListener,
    handler: Arc<H>,
    shutdown: CancellationToken,
    also_admits: impl Fn(u32) -> bool,
) {
    let graceful = GracefulShutdown::new();
    let own_uid = rustix::process::getuid().as_raw();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "accept on internal socket failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if !admitted(&stream, own_uid, &also_admits) {
            continue;
        }
        let handler = handler.clone();
        let service = hyper::service::service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, Infallible>(answer(handler.as_ref(), request).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "internal connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown()).await.is_err() {
        tracing::debug!("internal connections still open after the drain deadline; dropped");
    }
}

/// True when the connecting process runs as our own uid, or one `also_admits`.
fn admitted(stream: &UnixStream, own_uid: u32, also_admits: &impl Fn(u32) -> bool) -> bool {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == own_uid || also_admits(cred.uid()) => true,
        Ok(cred) => {
            tracing::warn!(peer_uid = cred.uid(), peer_pid = ?cred.pid(), "refused internal peer of another uid");
            false
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot read peer credentials; connection refused");
            false
        }
    }
}

/// Checks the protocol version, runs the handler and stamps our version on the reply.
async fn answer<H: Handler>(handler: &H, request: Request<Incoming>) -> Response<Body> {
    let mut response = match announced_version(&request) {
        Some(Ok(v)) if v != PROTOCOL_VERSION => error_response(
            StatusCode::BAD_REQUEST,
            &format!("internal protocol version {v} is not supported (this process speaks {PROTOCOL_VERSION})"),
        ),
        Some(Err(())) => error_response(StatusCode::BAD_REQUEST, "malformed internal protocol version header"),
        _ => handler.handle(request).await,
    };
    response.headers_mut().insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    response
}

/// The version a request announces: `None` when absent (e.g. a human with curl).
fn announced_version(request: &Request<Incoming>) -> Option<Result<u32, ()>> {
    let value = request.headers().get(VERSION_HEADER)?;
    Some(value.to_str().ok().and_then(|s| s.trim().parse().ok()).ok_or(()))
}
