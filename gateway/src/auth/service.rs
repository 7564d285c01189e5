//! The authentication API's calls that need no body, `whoami`, `token` and the JWKS, answered
//! without warp's filters. Every caller behind the gate is already admitted when it gets here,
//! and these replies are built from its [`Principal`] alone, so a chain of warp filters (path
//! segments, the `authenticated` fallback, a boxed future, `recover`) cost them more than the
//! reply: a tenth of a `whoami`. The rules the filters kept are kept in
//! [`AuthService::answer`]: a path is matched with or without a trailing slash; `token` takes
//! only `POST` (405 otherwise), the others any method; `OPTIONS` is 204; the caller is the one
//! the gate admitted (401 without one). The sign-in flow, called once per session, stays on
//! warp ([`super::routes::sign_in_routes`]).

use http::{Method, Request, StatusCode};
use warp::Reply as _;
use warp::reply::Response;

use super::authenticate::Authenticator;
use super::jwt::JwtKeys;
use super::request::{admitted, answered, no_content};
use super::routes::{jwks, token, whoami};
use crate::http::error::api_error_reply;

/// The routes served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/v1/auth/whoami`.
    WhoAmI,
    /// `POST /v1/auth/token`.
    Token,
    /// `/v1/auth/jwks` and `/.well-known/jwks.json`.
    Jwks,
}

impl Route {
    /// The route of `path`, with or without a trailing slash; `None` for every other path.
    pub fn of(path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        match path {
            "/v1/auth/whoami" => Some(Route::WhoAmI),
            "/v1/auth/token" => Some(Route::Token),
            "/v1/auth/jwks" | "/.well-known/jwks.json" => Some(Route::Jwks),
            _ => None,
        }
    }
}

/// Serves [`Route`]s; see the module docs.
#[derive(Debug)]
pub struct AuthService {
    jwt: JwtKeys,
}

impl AuthService {
    /// The routes over `auth`'s signing keys.
    pub fn new(auth: &Authenticator) -> AuthService {
        AuthService { jwt: auth.jwt.clone() }
    }

    /// The reply to `request` for `route`. Nothing here waits, so the answer is made in place.
    pub fn answer<B>(&self, route: Route, request: &Request<B>) -> Response {
        if request.method() == Method::OPTIONS {
            return no_content();
        }
        if route == Route::Token && request.method() != Method::POST {
            return crate::http::error::error_reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        if route == Route::Jwks {
            return jwks(&self.jwt);
        }
        // The gate admits every caller of these routes; without it, nobody is admitted.
        let principal = match admitted(request) {
            Ok(principal) => principal,
            Err(refusal) => return api_error_reply(&refusal),
        };
        let reply = match route {
            Route::Token => token(&self.jwt, principal),
            _ => Ok(warp::reply::json(&whoami(principal)).into_response()),
        };
        answered(principal, reply)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::auth::api_keys::KeyHolder;
    use crate::auth::{Credential, Principal};

    /// What `service` answers to `method` `path` from `caller` (`None`: nobody was admitted).
    async fn answer(
        service: &AuthService,
        method: &str,
        path: &str,
        caller: Option<Credential>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(path).body(()).expect("request");
        if let Some(credential) = caller {
            request.extensions_mut().insert(Principal { namespace: "ns".into(), credential, allowance: None });
        }
        let response = service.answer(Route::of(path).expect("a route here"), &request);
        let status = response.status();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn warps_rules_are_kept_and_nobody_is_served_without_the_gate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let service = AuthService::new(&crate::auth::testing::authenticator(dir.path()).await.0);
        let key = || Some(Credential::ApiKey(KeyHolder { id: 7, namespace: "ns".into(), hint: "ak_abc…".into() }));
        assert_eq!(answer(&service, "GET", "/v1/auth/whoami", None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(answer(&service, "POST", "/v1/auth/token", None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(answer(&service, "GET", "/v1/auth/token", key()).await.0, StatusCode::METHOD_NOT_ALLOWED);
        // OPTIONS is 204 on every route here, as the reference answers it (§2.2); warp's
        // filters served the JWKS, and whoami to a valid credential, for it. In the stack the
        // CORS layer answers every OPTIONS before routing, so no client saw either.
        for path in ["/v1/auth/whoami", "/v1/auth/token", "/v1/auth/jwks"] {
            assert_eq!(answer(&service, "OPTIONS", path, key()).await.0, StatusCode::NO_CONTENT, "{path}");
        }
        let (status, jwks) = answer(&service, "DELETE", "/.well-known/jwks.json/", None).await;
        assert_eq!(status, StatusCode::OK, "the JWKS is public, by any method");
        assert!(jwks["keys"].as_array().is_some_and(|keys| !keys.is_empty()), "{jwks}");
        let (status, me) = answer(&service, "PUT", "/v1/auth/whoami/", key()).await;
        assert_eq!(status, StatusCode::OK, "whoami takes any method");
        assert_eq!(
            (&me["method"], &me["api_key"], &me["namespace"]),
            (&"api_key".into(), &"ak_abc…:ns".into(), &"ns".into())
        );
        let (status, token) = answer(&service, "POST", "/v1/auth/token", key()).await;
        assert_eq!(
            (status, &token["token_type"], &token["namespace"]),
            (StatusCode::OK, &"Bearer".into(), &"ns".into())
        );
        let claims = service.jwt.verify_current(token["access_token"].as_str().expect("token")).await.expect("valid");
        assert_eq!(claims.sub, "apikey:7", "the subject names the key, never its secret");
        let jwt = Some(Credential::Jwt(claims));
        assert_eq!(answer(&service, "POST", "/v1/auth/token", jwt).await.0, StatusCode::UNAUTHORIZED, "keys only");
    }

    #[test]
    fn routes_are_exact_paths_with_or_without_a_slash() {
        assert_eq!(Route::of("/v1/auth/whoami"), Some(Route::WhoAmI));
        assert_eq!(Route::of("/v1/auth/whoami/"), Some(Route::WhoAmI));
        assert_eq!(Route::of("/v1/auth/token"), Some(Route::Token));
        assert_eq!(Route::of("/.well-known/jwks.json"), Some(Route::Jwks));
        assert_eq!(Route::of("/v1/auth/jwks/"), Some(Route::Jwks));
        for path in ["/v1/auth/whoami//", "/v1/auth/whoami/x", "/v1/auth", "/v1/auth/login", "/v1/authwhoami"] {
            assert_eq!(Route::of(path), None, "{path}");
        }
    }
}
