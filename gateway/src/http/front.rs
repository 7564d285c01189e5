//! The outermost layer, in one service and one allocation per request: the head's size is
//! checked (431) before anything else is done for it, the `X-Request-ID` is echoed or made and
//! put on the response, the client is resolved, and when the reply is ready any error body
//! that is not JSON becomes `{"error": "..."}` and the request is observed (metrics and one
//! access-log event, [`super::observe`]). These were five tower layers, each with its own
//! future and header work; fused, they cost a tenth of a request less. Its future is named,
//! not boxed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::{Either, Ready, ready};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use ipnet::IpNet;
use orama_ipc::{Body, error_response};
use tower::{Layer, Service};

use super::error::as_json_error;
use super::observe::Observation;

/// The request id header, accepted from clients and proxies, echoed on every reply.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a service with [`Front`].
#[derive(Debug, Clone)]
pub struct FrontLayer {
    settings: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    trusted_proxies: Arc<[IpNet]>,
    max_header_bytes: usize,
    ids: RequestIds,
}

impl FrontLayer {
    /// Refuses heads over `max_header_bytes` (names + values + a few bytes per line) and
    /// resolves clients through `trusted_proxies` (see [`super::client_ip`]).
    pub fn new(max_header_bytes: usize, trusted_proxies: &[IpNet]) -> FrontLayer {
        let settings = Settings { trusted_proxies: trusted_proxies.into(), max_header_bytes, ids: RequestIds::new() };
        FrontLayer { settings: Arc::new(settings) }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;
    fn layer(&self, inner: S) -> Front<S> {
        Front { inner, settings: self.settings.clone() }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Front<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S, B> Service<Request<B>> for Front<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let settings = &*self.settings;
        let id = match request.headers().get(X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                // Two copies rather than one shared: a clone of a fresh value would allocate its
                // share count and cost atomics on every drop.
                let id = settings.ids.next();
                request.headers_mut().insert(X_REQUEST_ID, id.value());
                id.value()
            }
        };
        let observation = Observation::begin(&mut request, &settings.trusted_proxies);
        let inner = if head_size(&request) > settings.max_header_bytes {
            let response = error_response(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large");
            Either::Left(ready(Ok(response)))
        } else {
            Either::Right(self.inner.call(request))
        };
        FrontFuture { inner, leaving: Some((id, observation)) }
    }
}

pin_project_lite::pin_project! {
    /// A request's reply, [`finish`]ed as it leaves: a named future rather than a boxed one,
    /// so the outermost layer costs no allocation.
    pub struct FrontFuture<F> {
        #[pin]
        inner: Either<Ready<Result<Response<Body>, Infallible>>, F>,
        leaving: Option<(HeaderValue, Observation)>,
    }
}

impl<F> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(response)) = this.inner.poll(cx) else { return Poll::Pending };
        Poll::Ready(Ok(match this.leaving.take() {
            Some((id, observation)) => finish(response, id, observation),
            None => response,
        }))
    }
}

/// The reply as it leaves: JSON errors, the request id, observed.
fn finish(response: Response<Body>, id: HeaderValue, observation: Observation) -> Response<Body> {
    let mut response = as_json_error(response);
    response.headers_mut().entry(X_REQUEST_ID).or_insert(id);
    observation.end(&response);
    response
}

/// Size of a request head as sent on the wire, roughly.
fn head_size<B>(request: &Request<B>) -> usize {
    let target = request.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = target + request.uri().authority().map_or(0, |a| a.as_str().len()) + 16;
    line + request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>()
}

/// Request ids: a random per-process prefix and a counter, unique without a syscall per
/// request; 24 hex digits (more once the counter passes 2^32).
#[derive(Debug)]
struct RequestIds {
    prefix: u64,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> RequestIds {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let prefix = nanos ^ (u64::from(std::process::id()) << 40);
        RequestIds { prefix, counter: AtomicU64::new(0) }
    }

    fn next(&self) -> RequestId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut digits = [0u8; 32];
        let width = 16 + (64 - n.leading_zeros() as usize).div_ceil(4).max(8);
        hex_into(self.prefix, &mut digits[..16]);
        hex_into(n, &mut digits[16..width]);
        RequestId { digits, width }
    }
}

/// A request id's digits.
struct RequestId {
    digits: [u8; 32],
    width: usize,
}

impl RequestId {
    /// The id as a header value (a new copy each time).
    fn value(&self) -> HeaderValue {
        // Hex digits are always a valid header value.
        HeaderValue::from_bytes(&self.digits[..self.width]).unwrap_or(HeaderValue::from_static("0"))
    }
}

/// Writes `value` as lowercase hex, zero-padded to fill `out`.
fn hex_into(mut value: u64, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use http::header;

    use super::*;

    #[test]
    fn plain_error_bodies_become_json_and_success_is_untouched() {
        let plain = Response::builder()
            .status(StatusCode::PAYLOAD_TOO_LARGE)
            .header(header::CONTENT_LENGTH, "22")
            .header("x-request-id", "abc")
            .body(orama_ipc::body::full("length limit exceeded"))
            .expect("response");
        let json = as_json_error(plain);
        assert_eq!(json.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(json.headers()["x-request-id"], "abc", "other headers are kept");
        assert!(json.headers().get(header::CONTENT_LENGTH).is_none(), "the old length must not survive");
        let ok = Response::new(orama_ipc::body::full("fine"));
        assert!(as_json_error(ok).headers().get(header::CONTENT_TYPE).is_none());
    }

    #[test]
    fn ids_are_24_hex_digits_and_grow_past_the_counter_width() {
        let ids = RequestIds { prefix: 0xabc, counter: AtomicU64::new(0xffff_fffe) };
        assert_eq!(ids.next().value(), "0000000000000abcfffffffe");
        assert_eq!(ids.next().value(), "0000000000000abcffffffff");
        assert_eq!(ids.next().value(), "0000000000000abc100000000");
    }
}
