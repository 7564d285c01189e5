//! Authentication before routing, as the reference's middleware does it: a request for any
//! path that is not public must carry a valid credential before the router looks at it, so an
//! unknown path answers 401 to a stranger and 404 only to a caller with a credential (the route
//! map is not disclosed), and a key cannot be tested against paths that do not exist without
//! paying the failed-authentication rate limit.
//!
//! The gate authenticates once and leaves the [`Principal`] in the request's extensions, where
//! [`authenticated`](super::authenticate::authenticated) finds it: the key is looked up and the caller's
//! bucket charged once per request. A key whose lookup is cached (most requests) is decided in
//! the gate's call, with no future of its own; a JWT or a key not yet cached is decided in one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use http::{Method, Request};
use tower::Service;

use super::authenticate::{Admission, Authenticator};
use crate::http::client_ip::ClientIp;
use crate::http::error::api_error_reply;

/// Paths anyone may call (REFERENCE-API §2.4, and this node's own public routes).
const PUBLIC: &[&str] = &[
    "/health",
    "/v1/health",
    "/status",
    "/v1/status",
    "/v1/version",
    "/v1/openapi.json",
    "/metrics",
    "/v1/auth/jwks",
    "/.well-known/jwks.json",
    "/v1/auth/login",
    "/v1/auth/challenge",
    "/v1/auth/verify",
    "/v1/auth/register",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/api-key",
    "/v1/auth/simple-key",
    "/v1/network/status",
    "/v1/network/peers",
];

/// Whether `path` may be called without a credential.
pub fn is_public(path: &str) -> bool {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    PUBLIC.contains(&path)
        || path.starts_with("/.well-known/acme-challenge/")
        || path.starts_with("/v1/operator/")
        || path.starts_with("/v1/invoke/")
        || (path.starts_with("/v1/functions/") && path.ends_with("/invoke"))
}

/// The routes behind the gate.
#[derive(Debug, Clone)]
pub struct AuthGate<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

impl<S> AuthGate<S> {
    /// `inner` behind a gate authenticating with `auth`.
    pub fn new(auth: Authenticator, inner: S) -> AuthGate<S> {
        AuthGate { inner, auth: Arc::new(auth) }
    }
}

type Reply = warp::reply::Response;

impl<S, B> Service<Request<B>> for AuthGate<S>
where
    S: Service<Request<B>, Response = Reply, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = Either<Either<S::Future, Ready<Result<Reply, Infallible>>>, Waiting>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if request.method() == Method::OPTIONS || is_public(request.uri().path()) {
            return Either::Left(Either::Left(self.inner.call(request)));
        }
        let query: HashMap<String, String> = request
            .uri()
            .query()
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let client = request.extensions().get::<ClientIp>().copied();
        let get = request.method() == Method::GET;
        // A cached key (or no usable credential) is decided here and now, without a future.
        let credentials = match self.auth.admission(request.headers(), &query, get, client) {
            Admission::Decided(Ok(principal)) => {
                request.extensions_mut().insert(principal);
                return Either::Left(Either::Left(self.inner.call(request)));
            }
            Admission::Decided(Err(refusal)) => {
                return Either::Left(Either::Right(ready(Ok(api_error_reply(&refusal)))));
            }
            Admission::Waits(credentials) => credentials,
        };
        // The clone that was made ready serves this request; the fresh one waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let auth = Arc::clone(&self.auth);
        Either::Right(Box::pin(async move {
            match auth.admit_waiting(credentials, client).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(refusal) => Ok(api_error_reply(&refusal)),
            }
        }))
    }
}

/// A request whose authentication waits (a JWT, a key not cached yet).
type Waiting = Pin<Box<dyn Future<Output = Result<Reply, Infallible>> + Send>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_the_reference_list_and_invocations() {
        for path in [
            "/health",
            "/v1/status",
            "/v1/auth/challenge",
            "/v1/auth/jwks/",
            "/v1/invoke/ns/f",
            "/v1/functions/f/invoke",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in ["/v1/nope", "/v1/rqlite/query", "/v1/auth/whoami", "/v1/functions/f", "/v1/network/connect", "/"] {
            assert!(!is_public(path), "{path}");
        }
    }
}
