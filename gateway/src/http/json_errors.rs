//! One error shape for the whole gateway: any reply with an error status whose body is not
//! already JSON (tower-http's 413 and 503, a panic, hyper-level refusals we can see) gets the
//! body `{"error": "..."}`. Also refuses request heads larger than the configured limit (431),
//! before any other work is done for them.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use orama_ipc::{Body, error_response};

use super::error::as_json_error;
use tower::{Layer, Service};

/// Wraps a service with [`JsonErrors`].
#[derive(Debug, Clone)]
pub struct JsonErrorsLayer {
    max_header_bytes: usize,
}

impl JsonErrorsLayer {
    /// Refuses heads over `max_header_bytes` (names + values + a few bytes per line).
    pub fn new(max_header_bytes: usize) -> JsonErrorsLayer {
        JsonErrorsLayer { max_header_bytes }
    }
}

impl<S> Layer<S> for JsonErrorsLayer {
    type Service = JsonErrors<S>;
    fn layer(&self, inner: S) -> JsonErrors<S> {
        JsonErrors { inner, max_header_bytes: self.max_header_bytes }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct JsonErrors<S> {
    inner: S,
    max_header_bytes: usize,
}

impl<S, B> Service<Request<B>> for JsonErrors<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if head_size(&request) > self.max_header_bytes {
            let response = error_response(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large");
            return Box::pin(std::future::ready(Ok(response)));
        }
        let future = self.inner.call(request);
        Box::pin(async move { Ok(as_json_error(future.await?)) })
    }
}

/// Size of a request head as sent on the wire, roughly.
fn head_size<B>(request: &Request<B>) -> usize {
    let target = request.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = target + request.uri().authority().map_or(0, |a| a.as_str().len()) + 16;
    line + request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>()
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
}
