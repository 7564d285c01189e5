//! The wallet login flow (REFERENCE-API §4.2): `challenge` → sign the nonce → `verify`, then
//! `refresh` and `logout`. Public routes, each charged to the client's rate-limit bucket.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::http::HeaderMap;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::sessions::SessionError;
use super::sign_in::{self, SignIn, SignInSite};
use super::wallet::{self, WalletError};
use super::{authenticate::Authenticator, authenticate::valid_namespace, credentials};
use crate::http::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::http::observe::Namespace;
use crate::http::rate_limit::RateLimits;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ChallengeBody {
    wallet: String,
    purpose: String,
    namespace: String,
    chain_type: Option<String>,
}

/// The body of every signed request: verify, api-key, register.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct VerifyBody {
    wallet: String,
    nonce: String,
    signature: String,
    namespace: String,
    chain_type: Option<String>,
    /// `api-key`: the plan label echoed back.
    plan: String,
    /// `register`: the app's name.
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SimpleKeyBody {
    wallet: String,
    namespace: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
    namespace: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LogoutBody {
    refresh_token: String,
    namespace: String,
    all: bool,
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> ApiError {
        match err {
            SessionError::BadNonce | SessionError::BadRefreshToken => ApiError::InvalidCredential(err.to_string()),
            SessionError::NamespaceTaken(_) => ApiError::Forbidden(err.to_string()),
            SessionError::Store(db) => ApiError::Unavailable(format!("session store: {db}")),
        }
    }
}

impl From<WalletError> for ApiError {
    fn from(err: WalletError) -> ApiError {
        match err {
            WalletError::BadSignature => ApiError::InvalidCredential(err.to_string()),
            WalletError::BadAddress | WalletError::BadChain(_) => ApiError::BadRequest(err.to_string()),
        }
    }
}

/// The namespace a body names: empty means `default`; anything else must be a valid name.
fn namespace_of(requested: &str) -> Result<String, ApiError> {
    let namespace = if requested.trim().is_empty() { "default" } else { requested.trim() };
    if !valid_namespace(namespace) {
        return Err(ApiError::BadRequest("namespace must be 1-64 of A-Z a-z 0-9 . _ -".into()));
    }
    Ok(namespace.to_owned())
}

fn json_reply(namespace: &str, body: serde_json::Value) -> Response {
    let mut response = warp::reply::json(&body).into_response();
    if crate::http::observe::access_log_on() {
        response.extensions_mut().insert(Namespace(namespace.into()));
    }
    response
}

async fn challenge(
    auth: Authenticator,
    site: SignInSite,
    host: Option<String>,
    body: ChallengeBody,
) -> Result<Response, ApiError> {
    if body.wallet.trim().is_empty() {
        return Err(ApiError::BadRequest("wallet is required".into()));
    }
    let (chain, normalized) = wallet::identify(body.chain_type.as_deref(), &body.wallet)?;
    let namespace = namespace_of(&body.namespace)?;
    let domain = site.domain.unwrap_or_else(|| sign_in::domain_of(host.as_deref()));
    let compose = |nonce: &str, issued_at: i64, expires_at: i64| {
        let wallet = normalized.as_str();
        SignIn {
            domain: &domain,
            https: site.https,
            chain,
            wallet,
            namespace: &namespace,
            nonce,
            issued_at,
            expires_at,
        }
        .message()
    };
    let issued = auth.sessions.challenge(&normalized, &namespace, &body.purpose, compose).await?;
    let expires_at =
        humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_secs(issued.expires_at as u64)).to_string();
    Ok(json_reply(
        &namespace,
        serde_json::json!({
            "wallet": body.wallet, "namespace": body.namespace, "nonce": issued.nonce,
            "purpose": body.purpose, "expires_at": expires_at,
        }),
    ))
}

/// The steps every signed request shares: required fields, the signature over the nonce, the
/// nonce used up, the namespace claimed. Returns the wallet (normalized) and the namespace.
async fn signed_in(auth: &Authenticator, body: &VerifyBody) -> Result<(String, String), ApiError> {
    if body.wallet.trim().is_empty() || body.nonce.is_empty() || body.signature.trim().is_empty() {
        return Err(ApiError::BadRequest("wallet, nonce and signature are required".into()));
    }
    let chain = wallet::chain(body.chain_type.as_deref())?;
    let normalized = wallet::normalize(chain, &body.wallet)?;
    let namespace = namespace_of(&body.namespace)?;
    wallet::verify(chain, &normalized, body.nonce.as_bytes(), &body.signature)?;
    auth.sessions.consume_nonce(&normalized, &namespace, &body.nonce).await?;
    auth.sessions.claim_namespace(&normalized, &namespace).await?;
    Ok((normalized, namespace))
}

/// The wallet as the reference prints it in key responses: lowercase, no `0x`.
fn bare_wallet(wallet: &str) -> String {
    wallet.strip_prefix("0x").unwrap_or(wallet).to_ascii_lowercase()
}

async fn verify(auth: Authenticator, body: VerifyBody) -> Result<Response, ApiError> {
    let (normalized, namespace) = signed_in(&auth, &body).await?;
    let (access_token, expires_in) =
        auth.jwt.issue(&normalized, &namespace).map_err(|e| ApiError::Internal(e.to_string()))?;
    let refresh_token = auth.sessions.issue_refresh(&normalized, &namespace).await?;
    // A key only for a wallet that holds none; its existing keys are left as they are.
    let key = auth.sessions.first_wallet_key(&normalized, &namespace).await?;
    tracing::info!(wallet = %normalized, %namespace, "wallet signed in");
    Ok(json_reply(
        &namespace,
        serde_json::json!({
            "access_token": access_token, "token_type": "Bearer", "expires_in": expires_in,
            "refresh_token": refresh_token, "subject": normalized, "namespace": namespace,
            "api_key": key.map(|k| k.api_key), "nonce": body.nonce, "signature_verified": true,
        }),
    ))
}

/// `POST /v1/auth/api-key`: a signed request for the wallet's API key.
async fn api_key(auth: Authenticator, body: VerifyBody) -> Result<Response, ApiError> {
    let (normalized, namespace) = signed_in(&auth, &body).await?;
    let issued = auth.sessions.new_wallet_key(&normalized, &namespace).await?;
    let plan = if body.plan.is_empty() { "free" } else { body.plan.as_str() };
    let reply = serde_json::json!({
        "api_key": issued.key.api_key, "namespace": namespace, "plan": plan, "wallet": bare_wallet(&normalized),
        "revoked_key_ids": issued.revoked,
    });
    Ok(json_reply(&namespace, reply))
}

/// `POST /v1/auth/register`: a signed request registering an app; 201.
async fn register(auth: Authenticator, body: VerifyBody) -> Result<Response, ApiError> {
    let (normalized, namespace) = signed_in(&auth, &body).await?;
    let app_id = auth.sessions.register_app(&normalized, &namespace, &body.name).await?;
    let reply = serde_json::json!({
        "client_id": app_id,
        "app": { "app_id": app_id, "name": body.name, "namespace": namespace, "wallet": normalized },
        "signature_verified": true,
    });
    let mut response = json_reply(&namespace, reply);
    *response.status_mut() = warp::http::StatusCode::CREATED;
    Ok(response)
}

/// `POST /v1/auth/simple-key` (development flag only): a key for a wallet without a signature,
/// and only for a namespace nobody owns yet, so it can never hand out someone else's.
async fn simple_key(auth: Authenticator, body: SimpleKeyBody) -> Result<Response, ApiError> {
    if body.wallet.trim().is_empty() {
        return Err(ApiError::BadRequest("wallet is required".into()));
    }
    let (_, normalized) = wallet::identify(None, &body.wallet)?;
    let namespace = namespace_of(&body.namespace)?;
    if auth.sessions.has_owner(&namespace).await? {
        return Err(ApiError::Forbidden(format!(
            "namespace {namespace:?} already has an owner; sign in with the wallet instead"
        )));
    }
    auth.sessions.claim_namespace(&normalized, &namespace).await?;
    let key = auth.sessions.new_wallet_key(&normalized, &namespace).await?.key;
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let reply = serde_json::json!({
        "api_key": key.api_key, "namespace": namespace, "wallet": bare_wallet(&normalized), "created": created,
    });
    Ok(json_reply(&namespace, reply))
}

async fn refresh(auth: Authenticator, body: RefreshBody) -> Result<Response, ApiError> {
    if body.refresh_token.is_empty() {
        return Err(ApiError::BadRequest("refresh_token is required".into()));
    }
    let namespace = namespace_of(&body.namespace)?;
    let (refresh_token, subject) = auth.sessions.refresh(&body.refresh_token, &namespace).await?;
    let (access_token, expires_in) =
        auth.jwt.issue(&subject, &namespace).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_reply(
        &namespace,
        serde_json::json!({
            "access_token": access_token, "token_type": "Bearer", "expires_in": expires_in,
            "refresh_token": refresh_token, "subject": subject, "namespace": namespace,
        }),
    ))
}

async fn logout(auth: Authenticator, headers: HeaderMap, body: LogoutBody) -> Result<Response, ApiError> {
    let namespace = namespace_of(&body.namespace)?;
    if !body.refresh_token.is_empty() {
        auth.sessions.revoke(&body.refresh_token, &namespace).await?;
    } else if body.all {
        let (jwt, _) = credentials::presented(&headers, &HashMap::new(), false);
        let claims = jwt.and_then(|token| auth.jwt.verify(&token).ok());
        let Some(claims) = claims else { return Err(ApiError::InvalidCredential("jwt required for all=true".into())) };
        let token_namespace = if claims.namespace.is_empty() { "default" } else { claims.namespace.as_str() };
        auth.sessions.revoke_all(&claims.sub, token_namespace).await?;
    } else {
        return Err(ApiError::BadRequest("nothing to revoke: give refresh_token, or all=true with a JWT".into()));
    }
    Ok(json_reply(&namespace, serde_json::json!({ "status": "ok" })))
}

/// Charges the request to its client's bucket (429 past it).
fn charged(limits: RateLimits) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::ext::optional::<ClientIp>()
        .and_then(move |client: Option<ClientIp>| {
            let outcome = client.map_or(Ok(None), |ClientIp(ip)| limits.charge_ip(ip));
            async move { outcome.map(drop).map_err(warp::reject::custom) }
        })
        .untuple_one()
}

/// `POST /v1/auth/<path>` with a JSON body, charged to the client's bucket, answered by
/// `handler(auth, body)`.
fn json_post<T, F, Fut>(path: &'static str, auth: &Authenticator, handler: F) -> BoxedFilter<(Response,)>
where
    T: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(Authenticator, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    let auth = auth.clone();
    // Path before method: a GET to an unknown path must be a 404, not this route's 405.
    warp::path("v1")
        .and(warp::path("auth"))
        .and(warp::path(path))
        .and(warp::path::end())
        .and(warp::post())
        .and(charged(auth.limits.clone()))
        .and(crate::http::body::json())
        .and_then(move |body: T| {
            let (auth, handler) = (auth.clone(), handler.clone());
            async move { handler(auth, body).await.map_err(warp::reject::custom) }
        })
        .boxed()
}

/// The wallet routes; `simple-key` only when `dev_simple_key` is on.
pub fn routes(auth: Authenticator, dev_simple_key: bool) -> BoxedFilter<(Response,)> {
    let logout_auth = auth.clone();
    let logout = warp::path!("v1" / "auth" / "logout")
        .and(warp::post())
        .and(charged(auth.limits.clone()))
        .and(warp::header::headers_cloned())
        .and(crate::http::body::json())
        .and_then(move |headers: HeaderMap, body: LogoutBody| {
            let auth = logout_auth.clone();
            async move { logout(auth, headers, body).await.map_err(warp::reject::custom) }
        });
    let simple_key = warp::any()
        .and_then(move || async move { if dev_simple_key { Ok(()) } else { Err(warp::reject::not_found()) } })
        .untuple_one()
        .and(json_post("simple-key", &auth, simple_key));
    let challenge_auth = auth.clone();
    let challenge = warp::path!("v1" / "auth" / "challenge")
        .and(warp::post())
        .and(charged(auth.limits.clone()))
        .and(warp::header::optional::<String>("host"))
        .and(crate::http::body::json())
        .and_then(move |host: Option<String>, body: ChallengeBody| {
            let auth = challenge_auth.clone();
            let site = auth.site.clone();
            async move { challenge(auth, site, host, body).await.map_err(warp::reject::custom) }
        });
    challenge
        .or(json_post("verify", &auth, verify))
        .unify()
        .or(json_post("refresh", &auth, refresh))
        .unify()
        .or(json_post("api-key", &auth, api_key))
        .unify()
        .or(json_post("register", &auth, register))
        .unify()
        .or(logout)
        .unify()
        .or(simple_key)
        .unify()
        .boxed()
}
