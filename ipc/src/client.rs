//! Calling an internal API over its Unix socket.
//!
//! [`IpcClient`] keeps a pool of HTTP/1.1 connections to one socket, stamps the protocol version
//! on every request and bounds every exchange with a timeout, so a hung peer costs its caller at
//! most that long.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use crate::error::IpcError;
use crate::protocol::{PROTOCOL_VERSION, VERSION_HEADER};

/// Default bound on one request/response exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled client for the internal API served on one socket.
#[derive(Clone, Debug)]
pub struct IpcClient {
    path: Arc<PathBuf>,
    timeout: Duration,
    inner: Client<UnixConnector, Full<Bytes>>,
}

impl IpcClient {
    /// A client for the API on `path`, with the default timeout, keeping up to 8 idle
    /// connections.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        IpcClient::with_pool(path, 8)
    }

    /// A client for the API on `path` keeping up to `max_idle` idle connections (for callers
    /// with many exchanges in flight at once).
    pub fn with_pool(path: impl Into<PathBuf>, max_idle: usize) -> Self {
        let path = Arc::new(path.into());
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(max_idle)
            .build(UnixConnector { path: path.clone() });
        IpcClient { path, timeout: DEFAULT_TIMEOUT, inner }
    }

    /// Sends a request built by the caller (its own headers and body) after stamping the
    /// protocol version; receiving the head is bounded by `timeout`.
    pub async fn send_request(
        &self,
        mut request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, IpcError> {
        request.headers_mut().insert(VERSION_HEADER, http::HeaderValue::from(PROTOCOL_VERSION));
        match tokio::time::timeout(timeout, self.inner.request(request)).await {
            Err(_) => Err(IpcError::Timeout { path: self.path.to_path_buf(), after: timeout }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(self.classify(err)),
        }
    }

    /// The same client with another per-exchange timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The socket this client calls.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `method path` with an optional JSON body; returns the response head and stream.
    /// Only connecting and receiving the head are bounded by the timeout, so streaming
    /// responses (`logs -f`) may run on.
    pub async fn send(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Response<Incoming>, IpcError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://local{path}"))
            .header(VERSION_HEADER, PROTOCOL_VERSION);
        if body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request =
            builder.body(Full::new(body.unwrap_or_default())).map_err(|err| self.http_error(err.to_string()))?;
        match tokio::time::timeout(self.timeout, self.inner.request(request)).await {
            Err(_) => Err(IpcError::Timeout { path: self.path.to_path_buf(), after: self.timeout }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(self.classify(err)),
        }
    }

    /// `GET path`, expecting a 2xx JSON body of type `T`.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, IpcError> {
        let response = self.send(Method::GET, path, None).await?;
        self.read_json(response).await
    }

    /// `POST path` with `body` as JSON, expecting a 2xx JSON body of type `T`.
    pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, IpcError> {
        let bytes =
            serde_json::to_vec(body).map_err(|source| IpcError::Decode { path: self.path.to_path_buf(), source })?;
        let response = self.send(Method::POST, path, Some(bytes.into())).await?;
        self.read_json(response).await
    }

    /// Reads a whole JSON body within the timeout; a non-2xx status becomes
    /// [`IpcError::Status`] carrying the peer's `error` message.
    pub async fn read_json<T: DeserializeOwned>(&self, response: Response<Incoming>) -> Result<T, IpcError> {
        let status = response.status();
        let collected = tokio::time::timeout(self.timeout, response.into_body().collect()).await;
        let bytes = match collected {
            Err(_) => return Err(IpcError::Timeout { path: self.path.to_path_buf(), after: self.timeout }),
            Ok(Err(err)) => return Err(self.http_error(err.to_string())),
            Ok(Ok(body)) => body.to_bytes(),
        };
        if !status.is_success() {
            return Err(self.status_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|source| IpcError::Decode { path: self.path.to_path_buf(), source })
    }

    fn status_error(&self, status: StatusCode, bytes: &[u8]) -> IpcError {
        let message = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).trim().to_owned());
        IpcError::Status { path: self.path.to_path_buf(), status, message }
    }

    fn classify(&self, err: hyper_util::client::legacy::Error) -> IpcError {
        if err.is_connect() {
            let source = std::error::Error::source(&err)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .map(|io| std::io::Error::new(io.kind(), io.to_string()))
                .unwrap_or_else(|| std::io::Error::other(err.to_string()));
            return IpcError::Connect { path: self.path.to_path_buf(), source };
        }
        self.http_error(err.to_string())
    }

    fn http_error(&self, message: String) -> IpcError {
        IpcError::Http { path: self.path.to_path_buf(), message }
    }
}

/// Connects every request of a client to its one socket, whatever the URI says.
#[derive(Clone, Debug)]
struct UnixConnector {
    path: Arc<PathBuf>,
}

impl tower_service::Service<http::Uri> for UnixConnector {
    type Response = UnixIo;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<UnixIo, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let path = self.path.clone();
        Box::pin(async move { Ok(UnixIo(TokioIo::new(UnixStream::connect(path.as_path()).await?))) })
    }
}

/// A Unix stream as a hyper connection.
struct UnixIo(TokioIo<UnixStream>);

impl Connection for UnixIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for UnixIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for UnixIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
