//! The authentication API's own replies: `whoami`, `token` (an API key exchanged for a JWT) and
//! the JWKS (public, at both of the reference's paths), which [`super::service`] serves; and
//! the sign-in flow's routes (wallet, login page), served by warp filters.

use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::jwt::JwtKeys;
use super::{authenticate::Authenticator, authenticate::Credential, authenticate::Principal};
use crate::auth::request::in_namespace;
use crate::http::error::ApiError;

/// Body of `/v1/auth/whoami` (the reference's shapes; an API key is shown by its hint only).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WhoAmI {
    /// For an API key.
    ApiKey {
        /// Always true.
        authenticated: bool,
        /// `api_key`.
        method: &'static str,
        /// The key's non-secret hint and namespace.
        api_key: String,
        /// The namespace.
        namespace: String,
    },
    /// For a JWT.
    Jwt {
        /// Always true.
        authenticated: bool,
        /// `jwt`.
        method: &'static str,
        /// `sub`.
        subject: String,
        /// `iss`.
        issuer: String,
        /// `aud`.
        audience: String,
        /// `iat`.
        issued_at: i64,
        /// `nbf`.
        not_before: i64,
        /// `exp`.
        expires_at: i64,
        /// The namespace.
        namespace: String,
    },
}

/// `/v1/auth/whoami`.
pub fn whoami(principal: &Principal) -> WhoAmI {
    let namespace = principal.namespace.to_string();
    match &principal.credential {
        Credential::ApiKey(holder) => WhoAmI::ApiKey {
            authenticated: true,
            method: "api_key",
            api_key: format!("{}:{namespace}", holder.hint),
            namespace,
        },
        Credential::Jwt(claims) => WhoAmI::Jwt {
            authenticated: true,
            method: "jwt",
            subject: claims.sub.clone(),
            issuer: claims.iss.clone(),
            audience: claims.aud.clone(),
            issued_at: claims.iat,
            not_before: claims.nbf,
            expires_at: claims.exp,
            namespace,
        },
    }
}

/// `POST /v1/auth/token`: a JWT for the API key of the request. The token's subject is
/// `apikey:<id>`, never the key itself (the reference puts the secret in the readable payload).
pub fn token(jwt: &JwtKeys, principal: &Principal) -> Result<Response, ApiError> {
    let Credential::ApiKey(holder) = &principal.credential else { return Err(ApiError::MissingCredential) };
    let (access_token, expires_in) = jwt
        .issue(&format!("apikey:{}", holder.id), &principal.namespace)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = serde_json::json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": expires_in, "namespace": &*principal.namespace,
    });
    Ok(in_namespace(principal, warp::reply::json(&body)))
}

/// `/v1/auth/jwks` and `/.well-known/jwks.json`: the public keys tokens are verified with.
pub fn jwks(jwt: &JwtKeys) -> Response {
    warp::reply::json(&jwt.jwks()).into_response()
}

/// The sign-in flow's routes: wallet challenge and verification, refresh, logout, API key
/// issuance (`simple-key` only with the development flag) and the login page.
pub fn sign_in_routes(auth: Authenticator, dev_simple_key: bool) -> BoxedFilter<(Response,)> {
    let wallet = super::wallet_routes::routes(auth, dev_simple_key);
    wallet.or(super::login_page::route()).unify().boxed()
}
