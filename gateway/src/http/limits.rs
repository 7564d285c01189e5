//! Per-route request bounds: the body size limit and how long a route may wait before its
//! response head ([`Deadline`]). Most routes share the configured defaults; a few (storage uploads, deploys,
//! invocations) declare their own by path pattern (a prefix, where a `*` segment stands for
//! any one segment), because a 1 GiB upload is neither 10 MiB nor done in a minute. The first
//! pattern that matches wins. An oversized
//! `Content-Length` is refused at once (413); a body that grows past the limit while streaming
//! fails its read, which the body filters report as 413; a request past its time gets 503.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use futures_util::future::{Either, Ready, ready};
use http::{Request, Response, StatusCode, header};
use http_body_util::Limited;
use hyper::body::Incoming;
use orama_ipc::body::{Body, error_response};
use tokio::task::coop::{Unconstrained, unconstrained};
use tokio::time::Sleep;
use tower::{Layer, Service};

/// The body the routes see.
pub type RouteBody = Limited<Incoming>;

/// Bounds of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Largest body, in bytes.
    pub max_body: usize,
    /// Longest time from the request head to the response head.
    pub timeout: Duration,
}

/// The default bounds and the routes (by path prefix) that have their own.
#[derive(Debug, Clone)]
pub struct RouteBounds {
    default: Bounds,
    overrides: Arc<[Override]>,
}

/// A path pattern with its own bounds.
#[derive(Debug)]
struct Override {
    pattern: &'static str,
    /// The pattern up to its first `*`: a path that does not start with it is not matched,
    /// which is all most requests need to learn (every request looks its bounds up).
    literal: &'static str,
    bounds: Bounds,
}

impl RouteBounds {
    /// `default` everywhere but under the given path patterns.
    pub fn new(default: Bounds, overrides: Vec<(&'static str, Bounds)>) -> Self {
        let overrides = overrides.into_iter().map(|(pattern, bounds)| Override {
            pattern,
            literal: pattern.split_once('*').map_or(pattern, |(literal, _)| literal),
            bounds,
        });
        RouteBounds { default, overrides: overrides.collect() }
    }

    /// The bounds of a request for `path`.
    pub fn for_path(&self, path: &str) -> Bounds {
        let matching = |o: &&Override| {
            path.starts_with(o.literal) && (o.literal.len() == o.pattern.len() || segments_match(o.pattern, path))
        };
        self.overrides.iter().find(matching).map_or(self.default, |o| o.bounds)
    }
}

/// Whether `path` starts with `pattern`, segment by segment, a `*` segment matching any one.
fn segments_match(pattern: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    pattern.split('/').all(|wanted| segments.next().is_some_and(|segment| wanted == "*" || wanted == segment))
}

/// Applies [`RouteBounds`] to a service.
#[derive(Debug, Clone)]
pub struct BoundsLayer(pub RouteBounds);

impl<S> Layer<S> for BoundsLayer {
    type Service = Bounded<S>;

    fn layer(&self, inner: S) -> Bounded<S> {
        Bounded { inner, bounds: self.0.clone() }
    }
}

/// The service [`BoundsLayer`] makes.
#[derive(Debug, Clone)]
pub struct Bounded<S> {
    inner: S,
    bounds: RouteBounds,
}

type Outcome = Result<Response<Body>, Infallible>;

impl<S> Service<Request<Incoming>> for Bounded<S>
where
    S: Service<Request<RouteBody>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Outcome>, Deadline<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let bounds = self.bounds.for_path(request.uri().path());
        let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > bounds.max_body as u64) {
            return Either::Left(ready(Ok(error_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))));
        }
        let request = request.map(|body| Limited::new(body, bounds.max_body));
        Either::Right(Deadline { inner: self.inner.call(request), timeout: bounds.timeout, timer: None })
    }
}

pin_project_lite::pin_project! {
    /// A route's reply, or 503 once it has waited `timeout`. The timer starts the first time
    /// the route waits, so the time its first poll took is not counted: most replies (health,
    /// a cached key's `whoami`) are ready at that poll and never touch the clock or the timer
    /// wheel, and work done without waiting could not be cut short by a timer anyway. The
    /// timer is polled outside tokio's cooperative budget, as `tokio::time::timeout` does: a
    /// route that spends the budget on every poll still gets its 503.
    pub struct Deadline<F> {
        #[pin]
        inner: F,
        timeout: Duration,
        #[pin]
        timer: Option<Unconstrained<Sleep>>,
    }
}

impl<F: Future<Output = Outcome>> Future for Deadline<F> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut this = self.project();
        if let Poll::Ready(outcome) = this.inner.poll(cx) {
            return Poll::Ready(outcome);
        }
        if this.timer.is_none() {
            this.timer.set(Some(unconstrained(tokio::time::sleep(*this.timeout))));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(Poll::Ready(())) => {
                Poll::Ready(Ok(error_response(StatusCode::SERVICE_UNAVAILABLE, "request timed out")))
            }
            _ => Poll::Pending,
        }
    }
}

/// The routes whose bodies and time limits differ from `gateway.limits`: uploads, function
/// deploys and invocations, and anonymous requests, each bounded by its own section's config.
pub fn route_overrides(config: &orama_service::config::NodeConfig) -> Vec<(&'static str, Bounds)> {
    let size = |bytes: u64| usize::try_from(bytes).unwrap_or(usize::MAX);
    let storage = &config.backends.storage;
    let runner = &config.wasm_runner;
    let request_timeout = config.gateway.limits.request_timeout;
    let upload = Bounds { max_body: size(storage.max_upload_bytes), timeout: storage.upload_timeout };
    let deploys = Bounds {
        max_body: size(runner.max_module).saturating_add(4 << 20),
        timeout: request_timeout.max(runner.max_timeout + Duration::from_secs(10)),
    };
    let invokes = Bounds { max_body: size(runner.max_input), ..deploys };
    let anon = Bounds {
        max_body: size(config.anon.max_request),
        timeout: request_timeout.max(config.anon.timeout + Duration::from_secs(10)),
    };
    vec![
        ("/v1/storage/upload", upload),
        ("/v1/functions/*/invoke", invokes),
        ("/v1/functions", deploys),
        ("/v1/invoke", invokes),
        ("/v1/proxy/anon", anon),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_pattern_wins() {
        let bounds = |max_body| Bounds { max_body, timeout: Duration::from_secs(1) };
        let routes = RouteBounds::new(
            bounds(10),
            vec![("/v1/functions/*/invoke", bounds(1)), ("/v1/functions", bounds(36)), ("/v1/invoke", bounds(1))],
        );
        assert_eq!(routes.for_path("/v1/functions/hello/invoke").max_body, 1);
        assert_eq!(routes.for_path("/v1/functions/hello@2/invoke").max_body, 1);
        assert_eq!(routes.for_path("/v1/functions").max_body, 36);
        assert_eq!(routes.for_path("/v1/functions/hello").max_body, 36);
        assert_eq!(routes.for_path("/v1/invoke/ns/hello").max_body, 1);
        assert_eq!(routes.for_path("/v1/cache/get").max_body, 10);
    }

    #[tokio::test]
    async fn a_reply_ready_at_once_takes_no_timer_and_a_waiting_one_gets_503_in_time() {
        let ok = || Ok(Response::new(orama_ipc::body::full("ok")));
        let at_once = Deadline { inner: std::future::ready(ok()), timeout: Duration::from_millis(1), timer: None };
        let mut at_once = std::pin::pin!(at_once);
        let (answer, untimed) =
            std::future::poll_fn(|cx| at_once.as_mut().poll(cx).map(|a| (a, at_once.timer.is_none()))).await;
        assert_eq!(answer.map(|r| r.status()).ok(), Some(StatusCode::OK));
        assert!(untimed, "no timer for a reply ready at once");
        let slow = async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            ok()
        };
        let started = std::time::Instant::now();
        let waited = Deadline { inner: slow, timeout: Duration::from_millis(200), timer: None }.await;
        assert_eq!(waited.map(|r| r.status()).ok(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert!((Duration::from_millis(200)..Duration::from_secs(10)).contains(&started.elapsed()));
        let quick = async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ok()
        };
        let answered = Deadline { inner: quick, timeout: Duration::from_secs(2), timer: None }.await;
        assert_eq!(answered.map(|r| r.status()).ok(), Some(StatusCode::OK));
    }

    #[tokio::test]
    async fn a_route_spending_its_whole_budget_on_every_poll_still_times_out() {
        let busy = async {
            loop {
                tokio::task::coop::consume_budget().await;
            }
        };
        let deadline = Deadline { inner: busy, timeout: Duration::from_millis(100), timer: None };
        let answer = tokio::time::timeout(Duration::from_secs(10), deadline).await.expect("the deadline fired");
        assert_eq!(answer.map(|r| r.status()).ok(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }
}
