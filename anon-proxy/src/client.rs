//! One anonymous HTTP(S) exchange: a connection from the [`Upstream`] (never a direct dial),
//! TLS verified against the system roots (plus `anon.ca_file`), HTTP/1.1 by hyper, the body
//! read up to the cap, redirects followed with each target checked again. Connections are
//! kept per (namespace, origin) for a short while, so a namespace's requests to one site
//! reuse its circuit and never another tenant's.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{HOST, HeaderMap, HeaderValue, LOCATION};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use orama_service::egress::EgressPolicy;
use rustls_pki_types::ServerName;

use crate::dial::{BoxIo, DialError};
use crate::pool::{Pool, PoolKey};
use crate::target::{self, Target, TargetError, TargetHost};
use crate::upstream::Upstream;

/// How long a connection may take to be ready for another request before it is dropped.
const REUSE_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// A request about to leave.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its method.
    pub method: Method,
    /// Its headers (already filtered by [`crate::headers::outgoing`]).
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// The target's answer.
#[derive(Debug)]
pub struct Fetched {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its whole body.
    pub body: Bytes,
}

/// Why an exchange produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A redirect pointed somewhere refused.
    #[error("redirect refused: {0}")]
    Redirect(TargetError),
    /// The upstream is down or refuses us.
    #[error("{0}")]
    Unavailable(String),
    /// The exchange with the target failed.
    #[error("proxy request failed: {0}")]
    Failed(String),
    /// The body is over the cap.
    #[error("response body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The target's status.
        status: StatusCode,
        /// The target's headers.
        headers: HeaderMap,
        /// The cap.
        limit: usize,
    },
}

impl From<DialError> for FetchError {
    fn from(err: DialError) -> FetchError {
        match err {
            DialError::Unavailable { .. } => FetchError::Unavailable(err.to_string()),
            DialError::Failed(message) => FetchError::Failed(message),
        }
    }
}

/// The anonymous HTTP client.
#[derive(Debug)]
pub struct HttpClient {
    /// Where connections come from.
    pub upstream: Upstream,
    /// TLS for https targets.
    pub tls: Arc<rustls::ClientConfig>,
    /// Literal networks allowed although not public.
    pub policy: EgressPolicy,
    /// Largest body read.
    pub max_response: usize,
    /// Redirects followed.
    pub max_redirects: u32,
    /// Idle connections.
    pub pool: Pool,
}

impl HttpClient {
    /// Sends `request` to `target` for `namespace`, following redirects.
    pub async fn fetch(
        &self,
        namespace: &str,
        mut target: Target,
        mut request: Outgoing,
    ) -> Result<Fetched, FetchError> {
        let mut redirects = 0;
        loop {
            let fetched = self.exchange(namespace, &target, &request).await?;
            let follow =
                redirects < self.max_redirects && matches!(fetched.status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = fetched.headers.get(LOCATION).and_then(|l| l.to_str().ok()).filter(|_| follow);
            let Some(location) = location else {
                return Ok(fetched);
            };
            let next =
                target.url.join(location).map_err(|e| FetchError::Redirect(TargetError::Invalid(e.to_string())))?;
            let next = target::check(next, &self.policy).map_err(FetchError::Redirect)?;
            if matches!(fetched.status.as_u16(), 301..=303) && request.method != Method::HEAD {
                request.method = Method::GET;
                request.body = Bytes::new();
                request.headers.remove(http::header::CONTENT_TYPE);
            }
            if next.host != target.host || next.port != target.port || next.tls != target.tls {
                for name in [http::header::AUTHORIZATION, http::header::COOKIE] {
                    request.headers.remove(name);
                }
            }
            target = next;
            redirects += 1;
        }
    }

    /// One request and its answer, on a kept connection when there is one.
    async fn exchange(&self, namespace: &str, target: &Target, request: &Outgoing) -> Result<Fetched, FetchError> {
        let key =
            PoolKey { namespace: namespace.to_owned(), tls: target.tls, host: target.host.clone(), port: target.port };
        if let Some(sender) = self.pool.take(&key) {
            let retryable = matches!(request.method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE);
            // A kept connection the target closed meanwhile: once more on a new one, when
            // the request did not leave or may be repeated.
            match self.send(sender, &key, target, request).await {
                Ok(fetched) => return Ok(fetched),
                Err(Sent::Before(_)) => {}
                Err(Sent::After(FetchError::Failed(_))) if retryable => {}
                Err(Sent::After(err)) => return Err(err),
            }
        }
        let sender = self.connect(namespace, target).await?;
        self.send(sender, &key, target, request).await.map_err(Sent::into_error)
    }

    async fn connect(&self, namespace: &str, target: &Target) -> Result<SendRequest<Full<Bytes>>, FetchError> {
        let io = self.upstream.dial(namespace, &target.host, target.port).await?;
        let io: BoxIo = if target.tls { self.handshake(io, &target.host).await? } else { io };
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(1 << 20)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "anonymous connection ended");
            }
        });
        Ok(sender)
    }

    async fn handshake(&self, io: BoxIo, host: &TargetHost) -> Result<BoxIo, FetchError> {
        let name = match host {
            TargetHost::Ip(ip) => ServerName::IpAddress((*ip).into()),
            TargetHost::Name(name) => {
                ServerName::try_from(name.clone()).map_err(|e| FetchError::Failed(format!("TLS name {name}: {e}")))?
            }
        };
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, io)
            .await
            .map_err(|e| FetchError::Failed(format!("TLS handshake with {host}: {e}")))?;
        Ok(Box::new(tls))
    }

    async fn send(
        &self,
        mut sender: SendRequest<Full<Bytes>>,
        key: &PoolKey,
        target: &Target,
        request: &Outgoing,
    ) -> Result<Fetched, Sent> {
        let outgoing = build(target, request).map_err(|e| Sent::Before(FetchError::Failed(e)))?;
        let response = match sender.try_send_request(outgoing).await {
            Ok(response) => response,
            Err(err) if err.message().is_some() => {
                return Err(Sent::Before(FetchError::Failed(err.into_error().to_string())));
            }
            Err(err) => return Err(Sent::After(FetchError::Failed(err.into_error().to_string()))),
        };
        let (head, mut body) = response.into_parts();
        let mut bytes = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Sent::After(FetchError::Failed(format!("failed to read response: {e}"))))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > self.max_response {
                    return Err(Sent::After(FetchError::TooLarge {
                        status: head.status,
                        headers: head.headers,
                        limit: self.max_response,
                    }));
                }
                bytes.extend_from_slice(data);
            }
        }
        let closing =
            head.headers.get(http::header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        // The connection takes the next request once its task has seen this body's end.
        let reusable = !closing && matches!(tokio::time::timeout(REUSE_WAIT, sender.ready()).await, Ok(Ok(())));
        if reusable {
            self.pool.put(key.clone(), sender);
        }
        Ok(Fetched { status: head.status, headers: head.headers, body: bytes.freeze() })
    }
}

/// A failed send: before the request left (safe to retry elsewhere) or after.
enum Sent {
    Before(FetchError),
    After(FetchError),
}

impl Sent {
    fn into_error(self) -> FetchError {
        match self {
            Sent::Before(err) | Sent::After(err) => err,
        }
    }
}

/// The HTTP/1.1 request for `request` to `target`: origin-form URI, `Host` from the URL.
fn build(target: &Target, request: &Outgoing) -> Result<Request<Full<Bytes>>, String> {
    let url = &target.url;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut built = Request::builder()
        .method(request.method.clone())
        .uri(path)
        .body(Full::new(request.body.clone()))
        .map_err(|e| format!("failed to create request: {e}"))?;
    *built.headers_mut() = request.headers.clone();
    let host = HeaderValue::from_str(&host).map_err(|e| format!("failed to create request: {e}"))?;
    built.headers_mut().insert(HOST, host);
    Ok(built)
}
