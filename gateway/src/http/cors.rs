//! CORS as the reference answers it (§2.2), with the origins from config: tower-http's layer
//! for requests that carry an `Origin` and for every `OPTIONS` (the preflights), and for the
//! rest (servers, scripts, load balancers: most API traffic) the very headers tower-http would
//! add, worked out once when the stack is built instead of on every request. A preflight is
//! answered 204, as the reference answers every `OPTIONS` (tower-http says 200).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::Either;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, header};
use orama_ipc::Body;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

/// Wraps a service with [`CorsSwitch`].
#[derive(Debug, Clone)]
pub struct CorsSwitchLayer {
    cors: CorsLayer,
    plain: Plain,
}

/// The headers CORS adds to a request without an `Origin`; `true` marks the `Vary` values,
/// which are appended rather than replacing.
type Plain = Arc<[(HeaderName, HeaderValue, bool)]>;

impl CorsSwitchLayer {
    /// CORS for `origins` (`*` allows any).
    pub fn new(origins: &[String]) -> CorsSwitchLayer {
        let cors = cors(origins);
        let plain = headers_without_origin(&cors);
        CorsSwitchLayer { cors, plain }
    }
}

impl<S: Clone> Layer<S> for CorsSwitchLayer {
    type Service = CorsSwitch<S>;
    fn layer(&self, inner: S) -> CorsSwitch<S> {
        CorsSwitch { cors: self.cors.layer(inner.clone()), inner, plain: self.plain.clone() }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct CorsSwitch<S> {
    cors: Cors<S>,
    inner: S,
    plain: Plain,
}

impl<S, B> Service<Request<B>> for CorsSwitch<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<
        futures_util::future::Map<<Cors<S> as Service<Request<B>>>::Future, fn(Answer) -> Answer>,
        PlainFuture<S::Future>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.cors.poll_ready(cx),
            pending => pending,
        }
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() == Method::OPTIONS || request.headers().contains_key(header::ORIGIN) {
            let preflight = request.method() == Method::OPTIONS;
            let answer: fn(Answer) -> Answer = if preflight { no_content } else { unchanged };
            return Either::Left(self.cors.call(request).map(answer));
        }
        Either::Right(PlainFuture { inner: self.inner.call(request), headers: Some(self.plain.clone()) })
    }
}

/// What the stack answers.
type Answer = Result<Response<Body>, Infallible>;

/// A preflight's answer: 204 where tower-http says 200.
fn no_content(answer: Answer) -> Answer {
    answer.map(|mut response| {
        if response.status() == http::StatusCode::OK {
            *response.status_mut() = http::StatusCode::NO_CONTENT;
        }
        response
    })
}

fn unchanged(answer: Answer) -> Answer {
    answer
}

pin_project_lite::pin_project! {
    /// A reply to a request without an `Origin`, given the headers CORS adds to those.
    pub struct PlainFuture<F> {
        #[pin]
        inner: F,
        headers: Option<Plain>,
    }
}

impl<F> std::future::Future for PlainFuture<F>
where
    F: std::future::Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(mut response)) = this.inner.poll(cx) else { return Poll::Pending };
        if let Some(headers) = this.headers.take() {
            add_plain(response.headers_mut(), &headers);
        }
        Poll::Ready(Ok(response))
    }
}

/// Adds CORS's headers the way tower-http does: `Vary` appended, the rest replacing.
fn add_plain(target: &mut HeaderMap, headers: &Plain) {
    for (name, value, append) in headers.iter() {
        if *append {
            target.append(name.clone(), value.clone());
        } else {
            target.insert(name.clone(), value.clone());
        }
    }
}

/// What tower-http's CORS adds to a request without an `Origin`, found by asking it once.
fn headers_without_origin(cors: &CorsLayer) -> Plain {
    let empty = tower::service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let probe = Request::get("/").body(()).unwrap_or_default();
    let answered = cors.layer(empty).oneshot(probe).now_or_never();
    let headers = answered.and_then(Result::ok).map(|r| r.into_parts().0.headers).unwrap_or_default();
    let mut names: Vec<&HeaderName> = headers.keys().collect();
    names.sort_by_key(|name| *name != header::VARY);
    names
        .iter()
        .flat_map(|name| headers.get_all(*name).iter().map(|v| ((*name).clone(), v.clone(), *name == header::VARY)))
        .collect()
}

/// tower-http's CORS configured as the reference answers (§2.2).
fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-namespace"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_preflight_is_answered_204_with_the_cors_headers() {
        let ok = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(orama_ipc::body::full("")))
        });
        let service = CorsSwitchLayer::new(&["https://app.example".to_owned()]).layer(ok);
        let preflight = Request::options("/v1/cache/get")
            .header(header::ORIGIN, "https://app.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(orama_ipc::body::full(""))
            .expect("request");
        let answer = service.clone().oneshot(preflight).await.expect("answer");
        assert_eq!(answer.status(), http::StatusCode::NO_CONTENT);
        assert_eq!(answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        let get =
            Request::get("/v1/health").header(header::ORIGIN, "https://app.example").body(orama_ipc::body::full(""));
        let answer = service.oneshot(get.expect("request")).await.expect("answer");
        assert_eq!(answer.status(), http::StatusCode::OK, "only preflights change");
    }
}
