//! The request plumbing the APIs share once a caller is known: an authenticated JSON `POST`
//! route, and the marks a reply carries (the namespace it acted in, for the access log, and
//! the caller's rate-limit allowance).

use warp::{Filter, Reply};

use super::authenticate::Principal;
use crate::http::observe::Namespace;

/// `POST /v1/<section>/<name>`: authenticated, then a JSON body, then `handler` with `state`,
/// the caller and the body; the reply is marked with the caller's namespace.
pub fn authenticated_post<S, T, F, Fut>(
    section: &'static str,
    name: &'static str,
    auth: &super::authenticate::Authenticator,
    state: S,
    handler: F,
) -> warp::filters::BoxedFilter<(warp::reply::Response,)>
where
    S: Clone + Send + Sync + 'static,
    T: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(S, Principal, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<warp::reply::Response, crate::http::error::ApiError>> + Send + 'static,
{
    warp::path("v1")
        .and(warp::path(section))
        .and(warp::path(name))
        .and(warp::path::end())
        .and(warp::post())
        .and(super::authenticate::authenticated(auth.clone()))
        .and(crate::http::state::with((state, handler)))
        .and(crate::http::body::json())
        .and_then(move |principal: Principal, (state, handler): (S, F), body: T| async move {
            let reply = handler(state, principal.clone(), body).await.map_err(warp::reject::custom)?;
            Ok::<_, warp::Rejection>(in_namespace(&principal, reply))
        })
        .boxed()
}

/// `reply` marked with the namespace it acted in (for the access log, when it is written) and
/// the caller's rate limit allowance.
pub fn in_namespace(principal: &Principal, reply: impl Reply) -> warp::reply::Response {
    let mut response = reply.into_response();
    if crate::http::observe::access_log_on() {
        response.extensions_mut().insert(Namespace(principal.namespace.clone()));
    }
    if let Some(allowance) = &principal.allowance {
        crate::http::allowance::add_headers(response.headers_mut(), allowance);
    }
    response
}

/// The caller the authentication gate admitted for `request`, for the routes served without
/// warp. Without the gate nobody is admitted: 401.
pub fn admitted<B>(request: &http::Request<B>) -> Result<&Principal, crate::http::error::ApiError> {
    request.extensions().get::<Principal>().ok_or(crate::http::error::ApiError::MissingCredential)
}

/// A handler's outcome for `principal`: the reply marked as [`in_namespace`] does, or the
/// error's reply.
pub fn answered(
    principal: &Principal,
    outcome: Result<warp::reply::Response, crate::http::error::ApiError>,
) -> warp::reply::Response {
    match outcome {
        Ok(reply) => in_namespace(principal, reply),
        Err(err) => crate::http::error::api_error_reply(&err),
    }
}

/// `204 No Content`, what the routes served without warp answer to `OPTIONS` (REFERENCE-API
/// §2.2).
pub fn no_content() -> warp::reply::Response {
    warp::reply::with_status(warp::reply(), http::StatusCode::NO_CONTENT).into_response()
}
