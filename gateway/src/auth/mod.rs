//! Who is calling, and in which namespace. Every non-public route takes a [`Principal`] from
//! [`authenticated`]; its namespace comes from the credential alone, never from `?namespace=` or
//! a header, so a request cannot act outside its credential's namespace.

pub mod api_keys;
pub mod credentials;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use warp::Filter;
use warp::http::HeaderMap;

use crate::error::ApiError;
use crate::http::observe::ClientIp;
use crate::rate_limit::{Allowance, Caller, RateLimits};
use api_keys::{ApiKeys, KeyHolder};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The namespace it acts in.
    pub namespace: Arc<str>,
    /// How it proved who it is.
    pub credential: Credential,
    /// What is left of its rate limit, when one applies.
    pub allowance: Option<Allowance>,
}

/// The credential a principal presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key.
    ApiKey(KeyHolder),
}

/// Authenticates the request or rejects it: 401 without a credential or with an invalid one
/// (each failure charged to the client address: 429 once it is over its limit), 429 when the
/// caller is over its own limit, 503 when the key store cannot be reached.
pub fn authenticated(
    keys: ApiKeys,
    limits: RateLimits,
) -> impl Filter<Extract = (Principal,), Error = warp::Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::query::<HashMap<String, String>>().or(warp::any().map(HashMap::new)).unify())
        .and(warp::ext::optional::<ClientIp>())
        .and_then(move |headers: HeaderMap, query: HashMap<String, String>, client: Option<ClientIp>| {
            let (keys, limits) = (keys.clone(), limits.clone());
            async move {
                let outcome = match authenticate(&keys, &headers, &query).await {
                    Ok(mut principal) => limits.charge_caller(&caller_of(&principal)).map(|allowance| {
                        principal.allowance = allowance;
                        principal
                    }),
                    Err(refusal @ (ApiError::MissingCredential | ApiError::InvalidCredential(_))) => {
                        match client.map(|ClientIp(ip)| limits.charge_ip(ip)) {
                            Some(Err(limited)) => Err(limited),
                            _ => Err(refusal),
                        }
                    }
                    Err(other) => Err(other),
                };
                outcome.map_err(warp::reject::custom)
            }
        })
}

fn caller_of(principal: &Principal) -> Caller {
    match &principal.credential {
        Credential::ApiKey(holder) => Caller::Key(holder.id),
    }
}

async fn authenticate(
    keys: &ApiKeys,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Principal, ApiError> {
    // JWTs are verified here once the signing keys land; until then a JWT-shaped bearer token
    // falls through to the API key, as the reference does with an invalid JWT.
    let (_jwt, api_key) = credentials::presented(headers, query);
    let Some(api_key) = api_key else { return Err(ApiError::MissingCredential) };
    match keys.authenticate(&api_key).await {
        Ok(Some(holder)) => Ok(Principal {
            namespace: holder.namespace.clone(),
            credential: Credential::ApiKey(holder),
            allowance: None,
        }),
        Ok(None) => Err(ApiError::InvalidCredential("invalid API key".into())),
        Err(err) => Err(ApiError::Unavailable(format!("key store: {err}"))),
    }
}

/// Body of `/v1/auth/whoami` for an API key (the reference's shape, minus the full secret).
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    authenticated: bool,
    method: &'static str,
    api_key: String,
    namespace: String,
}

/// `/v1/auth/whoami`.
pub fn whoami(principal: &Principal) -> WhoAmI {
    match &principal.credential {
        Credential::ApiKey(holder) => WhoAmI {
            authenticated: true,
            method: "api_key",
            api_key: format!("{}:{}", holder.hint, principal.namespace),
            namespace: principal.namespace.to_string(),
        },
    }
}

/// True for namespace names we accept: 1-64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_namespace(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
