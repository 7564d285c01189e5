//! The operator page's routes: the page for a signed-in operator (a session cookie, or an
//! operator key as `Authorization: Bearer`), the sign-in form otherwise (401), and sign-in and
//! sign-out. A wrong key is charged to the client's address bucket, as a failed tenant
//! authentication is.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::context::OperatorContext;
use super::page::{self, POLICY};
use super::session::{COOKIE, LIFETIME};
use crate::http::client_ip::ClientIp;

/// The page's path.
pub const STATUS_PATH: &str = "/v1/operator/status";

/// The largest sign-in form accepted.
const MAX_FORM_BYTES: u64 = 4096;

#[derive(Deserialize)]
struct SignIn {
    key: String,
}

/// The three routes.
pub fn routes(cx: OperatorContext) -> BoxedFilter<(Response,)> {
    let with = crate::http::state::with(cx);
    let status = warp::path!("v1" / "operator" / "status")
        .and(warp::get())
        .and(with.clone())
        .and(warp::header::headers_cloned())
        .then(|cx: OperatorContext, headers: HeaderMap| async move { status(cx, headers).await });
    let sign_in = warp::path!("v1" / "operator" / "sign-in")
        .and(warp::post())
        .and(with.clone())
        .and(warp::ext::optional::<ClientIp>())
        .and(warp::body::content_length_limit(MAX_FORM_BYTES))
        .and(warp::body::form::<SignIn>())
        .map(sign_in);
    let sign_out = warp::path!("v1" / "operator" / "sign-out").and(warp::post()).and(with).map(sign_out);
    status.or(sign_in).unify().or(sign_out).unify().boxed()
}

async fn status(cx: OperatorContext, headers: HeaderMap) -> Response {
    if !signed_in(&cx, &headers) {
        return html(StatusCode::UNAUTHORIZED, page::sign_in(None));
    }
    let snapshot = super::snapshot::take(&cx.sources).await;
    html(StatusCode::OK, page::status(&snapshot))
}

fn sign_in(cx: OperatorContext, client: Option<ClientIp>, form: SignIn) -> Response {
    let Some(id) = cx.keys.check(form.key.trim()) else {
        if let Some(ClientIp(ip)) = client
            && let Err(limited) = cx.limits.charge_ip(ip)
        {
            return crate::http::error::api_error_reply(&limited);
        }
        tracing::warn!(client = ?client.map(|c| c.0), "operator sign-in with a key that is not one");
        return html(StatusCode::UNAUTHORIZED, page::sign_in(Some("That is not an operator key of this node.")));
    };
    tracing::info!(key = id, "operator signed in");
    let cookie = format!(
        "{COOKIE}={}; Path=/v1/operator; Max-Age={}; HttpOnly; SameSite=Strict{}",
        cx.sessions.issue(id),
        LIFETIME.as_secs(),
        if cx.secure_cookie { "; Secure" } else { "" }
    );
    back_to_the_page(cookie)
}

fn sign_out(cx: OperatorContext) -> Response {
    let secure = if cx.secure_cookie { "; Secure" } else { "" };
    back_to_the_page(format!("{COOKIE}=; Path=/v1/operator; Max-Age=0; HttpOnly; SameSite=Strict{secure}"))
}

/// Whether `headers` carry a live session or an operator key.
fn signed_in(cx: &OperatorContext, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| cx.keys.check(key.trim()).is_some());
    bearer || session_cookie(headers).is_some_and(|token| cx.sessions.check(token, &cx.keys).is_some())
}

/// The session cookie's value among `headers`' cookies.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn back_to_the_page(cookie: String) -> Response {
    let mut response = warp::reply::with_status(warp::reply(), StatusCode::SEE_OTHER).into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static(STATUS_PATH));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// An HTML page under the operator pages' policy.
fn html(status: StatusCode, body: String) -> Response {
    crate::http::wire::html_page(status, body, &POLICY)
}
