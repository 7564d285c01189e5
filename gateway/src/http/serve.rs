//! Serving the stack on a TCP listener, in plain HTTP or TLS: HTTP/1.1 and HTTP/2 on each
//! connection (ALPN or prior knowledge), a deadline for the TLS handshake and for request heads
//! (slowloris), the client's address in each request, graceful drain on shutdown.

use std::cell::RefCell;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::future::Either;
use http::{Request, Response};
use hyper::body::Incoming;
use orama_ipc::Body;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use orama_service::config::HttpLimits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower::util::Oneshot;

use super::client_ip::ClientIp;
use super::head_timer::{HeadTimer, serve_with_head_timer};
use super::stack::Stack;
use crate::tls::Tls;

/// How long open connections may take to finish once shutdown begins.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// How long connections accepted just before shutdown get to send their first request before
/// the drain closes idle ones: the client of a connection accepted, then closed unanswered,
/// sees a failed request (its successor, on the same held socket, accepts the rest).
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(200);

/// Serves `stack` on `listener` (over TLS when `tls` is given, with that handshake deadline)
/// until `shutdown`, then drains for at most [`DRAIN_DEADLINE`].
pub async fn serve(
    listener: TcpListener,
    stack: impl Stack,
    limits: &HttpLimits,
    tls: Option<(Tls, Duration)>,
    shutdown: CancellationToken,
) {
    let builder = Arc::new(builder(limits));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = ConnectionService { stack: RefCell::new(stack.clone()), peer: ClientIp(peer.ip()) };
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        match &tls {
            None => {
                tokio::spawn(serve_io(stream, builder, service, watcher));
            }
            Some((tls, deadline)) => {
                let (acceptor, deadline) = (tls.acceptor.clone(), *deadline);
                tokio::spawn(async move {
                    match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_io(stream, builder, service, watcher).await,
                        Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    tokio::time::sleep(FIRST_REQUEST_GRACE).await;
    if tokio::time::timeout(DRAIN_DEADLINE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain deadline; dropped");
    }
}

/// Serves one connection, plain or TLS.
async fn serve_io<I, S>(io: I, builder: Arc<Builder<TokioExecutor>>, service: ConnectionService<S>, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Stack,
{
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(err) = serve_with_head_timer(watcher.watch(connection.into_owned())).await {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

fn builder(limits: &HttpLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // hyper refuses heads beyond its buffer on its own; ours (JsonErrors) answers 431 in JSON
    // below that, so the buffer leaves room above the configured limit.
    let buffer = usize::try_from(limits.max_header_bytes.saturating_mul(2)).unwrap_or(usize::MAX).max(16 * 1024);
    builder.http1().timer(HeadTimer).header_read_timeout(limits.header_read_timeout).max_buf_size(buffer);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    builder
}

/// One connection's stack, called in place. Tower's `call` takes `&mut self` and hyper's takes
/// `&self`; hyper_util's adapter bridges them by cloning the whole stack for every request.
/// This one borrows the connection's copy for the (synchronous, never re-entered) call, and
/// clones only when the stack is not ready at once, which none of its layers is today.
struct ConnectionService<S> {
    stack: RefCell<S>,
    /// The connection's peer, the request's client until [`super::front`] resolves it.
    peer: ClientIp,
}

impl<S: Stack> hyper::service::Service<Request<Incoming>> for ConnectionService<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<S::Fut, Oneshot<S, Request<Incoming>>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.peer);
        let mut stack = self.stack.borrow_mut();
        match stack.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Either::Left(stack.call(request)),
            Poll::Pending => Either::Right(stack.clone().oneshot(request)),
        }
    }
}
