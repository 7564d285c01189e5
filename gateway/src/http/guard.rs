//! The innermost layer: a route that panics answers 500 and the process and every other
//! request go on; and the routes' body becomes the stack's [`Body`]. Both in one step, so a
//! reply's body is boxed once: tower-http's `CatchPanic` boxes it on its own, and a body
//! mapping after it boxed it again (each box an allocation per request and a virtual call per
//! body frame).

use std::any::Any;
use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{CatchUnwind, Either, Map, Ready, ready};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use orama_ipc::{Body, error_response};
use tower::{Layer, Service};

/// Wraps a service with [`Guard`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardLayer;

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard { inner }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
}

type Outcome = Result<Response<Body>, Infallible>;
type Unwound<T> = Result<Result<Response<T>, Infallible>, Box<dyn Any + Send>>;
/// The future of a guarded call.
pub type GuardFuture<F, T> = Map<CatchUnwind<AssertUnwindSafe<F>>, fn(Unwound<T>) -> Outcome>;

impl<S, B, T> Service<Request<B>> for Guard<S>
where
    S: Service<Request<B>, Response = Response<T>, Error = Infallible>,
    T: http_body::Body<Data = Bytes> + Send + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Outcome>, GuardFuture<S::Future, T>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => Either::Right(AssertUnwindSafe(future).catch_unwind().map(settle::<T> as fn(_) -> _)),
            Err(panic) => Either::Left(ready(Ok(panic_reply(panic)))),
        }
    }
}

/// The reply of a call that returned or panicked.
fn settle<T>(unwound: Unwound<T>) -> Outcome
where
    T: http_body::Body<Data = Bytes> + Send + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Ok(match unwound {
        Ok(Ok(response)) => response.map(|body| body.map_err(Into::into).boxed_unsync()),
        Ok(Err(never)) => match never {},
        Err(panic) => panic_reply(panic),
    })
}

/// A route panicked: the request gets a 500, the process and every other request go on.
fn panic_reply(panic: Box<dyn Any + Send>) -> Response<Body> {
    let message = panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str));
    tracing::error!(panic = message.unwrap_or("(not a string)"), "handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    async fn status_of(panics_in_call: bool, panics_in_future: bool) -> (StatusCode, Bytes) {
        let service = tower::service_fn(move |_: Request<()>| {
            assert!(!panics_in_call, "a panic before the future");
            async move {
                assert!(!panics_in_future, "a panic in the future");
                Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from_static(b"fine"))))
            }
        });
        let response = GuardLayer.layer(service).oneshot(Request::new(())).await.unwrap_or_else(|n| match n {});
        let status = response.status();
        (status, response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default())
    }

    #[tokio::test]
    async fn panics_anywhere_in_a_route_answer_500_in_json() {
        assert_eq!(status_of(false, false).await, (StatusCode::OK, Bytes::from_static(b"fine")));
        for (in_call, in_future) in [(true, false), (false, true)] {
            let (status, body) = status_of(in_call, in_future).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
            assert_eq!(body["error"], "internal error");
        }
    }
}
