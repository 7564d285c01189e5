//! Who is calling: the credentials a request may carry, the principal they resolve to, and the filter that requires one.

use std::collections::HashMap;
use std::sync::Arc;

use warp::Filter;
use warp::http::HeaderMap;

use super::api_keys::{ApiKeys, KeyHolder};
use super::jwt::{Claims, JwtKeys};
use crate::http::allowance::Allowance;
use crate::http::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::http::rate_limit::{Caller, RateLimits};

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
    /// An access token we signed.
    Jwt(Claims),
}

/// Everything authentication needs, cheap to clone into filters.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// The API key store.
    pub api_keys: ApiKeys,
    /// The token signing keys.
    pub jwt: JwtKeys,
    /// The rate limits.
    pub limits: RateLimits,
    /// Wallet nonces, refresh tokens and namespace ownership.
    pub sessions: super::sessions::Sessions,
    /// How sign-in messages name this node.
    pub site: super::sign_in::SignInSite,
}

/// The caller: the principal the [`gate`] admitted, or (where no gate runs, as in router tests)
/// the request authenticated here. Rejects with 401 without a credential or with an invalid
/// one (each failure charged to the client address: 429 once it is over its limit), 429 when
/// the caller is over its own limit, 503 when the key store cannot be reached.
pub fn authenticated(auth: Authenticator) -> impl Filter<Extract = (Principal,), Error = warp::Rejection> + Clone {
    // The gate's principal, when it ran: nothing of the request is copied or parsed again.
    let admitted = warp::ext::get::<Principal>();
    // Behind an Arc: warp copies the fallback branch for every request it routes.
    let auth = Arc::new(auth);
    let here = presented().and_then(move |request: Presented| {
        let auth = Arc::clone(&auth);
        async move { request.admit(&auth).await.map_err(warp::reject::custom) }
    });
    admitted.or(here).unify()
}

/// What a request presents for authentication.
struct Presented {
    get: bool,
    headers: HeaderMap,
    query: HashMap<String, String>,
    client: Option<ClientIp>,
}

impl Presented {
    async fn admit(&self, auth: &Authenticator) -> Result<Principal, ApiError> {
        auth.admit(&self.headers, &self.query, self.get, self.client).await
    }
}

/// Reads what a request presents: whether it is a `GET`, its headers, query string and client.
fn presented() -> impl Filter<Extract = (Presented,), Error = std::convert::Infallible> + Clone {
    warp::method()
        .and(warp::header::headers_cloned())
        .and(warp::query::<HashMap<String, String>>().or(warp::any().map(HashMap::new)).unify())
        .and(warp::ext::optional::<ClientIp>())
        .map(|method, headers, query, client| Presented {
            get: method == warp::http::Method::GET,
            headers,
            query,
            client,
        })
}

/// For routes open to anonymous callers (public functions): a presented credential must be
/// valid and yields its principal (as [`authenticated`]); no credential at all is `None`,
/// charged to the client address's rate limit.
pub fn optionally_authenticated(
    auth: Authenticator,
) -> impl Filter<Extract = (Option<Principal>,), Error = warp::Rejection> + Clone {
    let auth = Arc::new(auth);
    presented().and_then(move |request: Presented| {
        let auth = Arc::clone(&auth);
        async move {
            let anonymous =
                matches!(super::credentials::presented(&request.headers, &request.query, true), (None, None));
            if !anonymous {
                return request.admit(&auth).await.map(Some).map_err(warp::reject::custom);
            }
            if let Some(ClientIp(ip)) = request.client {
                auth.limits.charge_ip(ip).map_err(warp::reject::custom)?;
            }
            Ok(None)
        }
    })
}

/// How a request's authentication is decided: at once, or after a wait for the credentials
/// it presented.
pub(crate) enum Admission {
    /// Decided without a wait: a cached API key, or no usable credential.
    Decided(Result<Principal, ApiError>),
    /// A JWT to verify or a key to look up, read from the request once.
    Waits(Credentials),
}

/// The credentials a request presented, as read from its headers (and query string).
pub(crate) struct Credentials {
    jwt: Option<String>,
    api_key: Option<String>,
}

impl Authenticator {
    /// Authenticates and charges the rate limits (see [`authenticated`]).
    pub(crate) async fn admit(
        &self,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
        get: bool,
        client: Option<ClientIp>,
    ) -> Result<Principal, ApiError> {
        match self.admission(headers, query, get, client) {
            Admission::Decided(outcome) => outcome,
            Admission::Waits(credentials) => self.admit_waiting(credentials, client).await,
        }
    }

    /// Decides at once what needs no wait: an API key whose lookup is cached (what almost every
    /// request of a busy app presents), or no usable credential at all; else the credentials
    /// for [`Self::admit_waiting`].
    pub(crate) fn admission(
        &self,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
        get: bool,
        client: Option<ClientIp>,
    ) -> Admission {
        let outcome = match self.credentials(headers, query, get) {
            Err(refusal) => Err(refusal),
            Ok(Credentials { jwt: None, api_key: None }) => Err(ApiError::MissingCredential),
            Ok(Credentials { jwt: None, api_key: Some(key) }) => match self.api_keys.cached_holder(&key) {
                Some(holder) => key_principal(Ok(holder)),
                None => return Admission::Waits(Credentials { jwt: None, api_key: Some(key) }),
            },
            Ok(credentials) => return Admission::Waits(credentials),
        };
        Admission::Decided(self.charge(outcome, client))
    }

    /// Authenticates `credentials` (verifying a JWT, looking a key up) and charges the limits.
    pub(crate) async fn admit_waiting(
        &self,
        credentials: Credentials,
        client: Option<ClientIp>,
    ) -> Result<Principal, ApiError> {
        let outcome = self.authenticate(credentials).await;
        self.charge(outcome, client)
    }

    /// `outcome` charged to the rate limits: a principal to its own bucket, a failed
    /// authentication to the client address's.
    fn charge(&self, outcome: Result<Principal, ApiError>, client: Option<ClientIp>) -> Result<Principal, ApiError> {
        match outcome {
            Ok(mut principal) => {
                principal.allowance = self.limits.charge_caller(&caller_of(&principal))?;
                Ok(principal)
            }
            Err(refusal @ (ApiError::MissingCredential | ApiError::InvalidCredential(_))) => {
                if let Some(ClientIp(ip)) = client {
                    self.limits.charge_ip(ip)?;
                }
                Err(refusal)
            }
            Err(other) => Err(other),
        }
    }

    /// The credentials presented: a JWT-shaped bearer token and an API key. The query string
    /// is read for a credential only on a WebSocket upgrade (a `GET` asking for one), where
    /// browsers cannot set headers; elsewhere a credential there is refused (it would land in
    /// logs and proxies).
    fn credentials(
        &self,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
        get: bool,
    ) -> Result<Credentials, ApiError> {
        let upgrade = get && super::credentials::is_websocket_upgrade(headers);
        let (jwt, api_key) = super::credentials::presented(headers, query, upgrade);
        if jwt.is_none() && api_key.is_none() && !upgrade && super::credentials::in_query(query) {
            return Err(ApiError::InvalidCredential(
                "credentials in the query string are accepted only on WebSocket upgrades; send X-API-Key or Authorization"
                    .into(),
            ));
        }
        Ok(Credentials { jwt, api_key })
    }

    /// A valid JWT wins; otherwise the API key decides (as the reference orders them).
    async fn authenticate(&self, Credentials { jwt, api_key }: Credentials) -> Result<Principal, ApiError> {
        let verified = match jwt.as_deref() {
            Some(token) => Some(self.jwt.verify_current(token).await),
            None => None,
        };
        let jwt_error = match verified {
            Some(Ok(claims)) => {
                let namespace: Arc<str> =
                    if claims.namespace.is_empty() { "default".into() } else { claims.namespace.as_str().into() };
                return Ok(Principal { namespace, credential: Credential::Jwt(claims), allowance: None });
            }
            Some(Err(err)) => Some(err),
            None => None,
        };
        let Some(api_key) = api_key else {
            return Err(match jwt_error {
                Some(err) => ApiError::InvalidCredential(err.to_string()),
                None => ApiError::MissingCredential,
            });
        };
        key_principal(self.api_keys.authenticate(&api_key).await)
    }
}

/// The principal of an API key's lookup: its holder, or 401 for an unknown key, or 503 when
/// the key store could not answer.
fn key_principal(lookup: Result<Option<KeyHolder>, crate::database::DbError>) -> Result<Principal, ApiError> {
    match lookup {
        Ok(Some(holder)) => Ok(Principal {
            namespace: holder.namespace.clone(),
            credential: Credential::ApiKey(holder),
            allowance: None,
        }),
        Ok(None) => Err(ApiError::InvalidCredential("invalid API key".into())),
        Err(err) => Err(ApiError::Unavailable(format!("key store: {err}"))),
    }
}

fn caller_of(principal: &Principal) -> Caller {
    match &principal.credential {
        Credential::ApiKey(holder) => Caller::Key(holder.id),
        Credential::Jwt(claims) => Caller::Subject(format!("{}\u{0}{}", principal.namespace, claims.sub).into()),
    }
}

/// True for namespace names we accept: 1-64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_namespace(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Authenticator {
        /// [`Authenticator::admission`]'s decision, `None` when it waits.
        fn admit_at_once(
            &self,
            headers: &HeaderMap,
            query: &HashMap<String, String>,
            get: bool,
            client: Option<ClientIp>,
        ) -> Option<Result<Principal, ApiError>> {
            match self.admission(headers, query, get, client) {
                Admission::Decided(outcome) => Some(outcome),
                Admission::Waits(_) => None,
            }
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (http::HeaderName::from_static(name), value.parse().expect("value"))).collect()
    }

    #[tokio::test]
    async fn a_cached_key_is_admitted_at_once_as_the_waiting_path_admits_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (auth, _db) = crate::auth::testing::authenticator(dir.path()).await;
        let key = auth.api_keys.create("alpha", "k").await.expect("key").api_key;
        let query = HashMap::new();
        let with_key = headers(&[("x-api-key", &key)]);
        assert!(auth.admit_at_once(&with_key, &query, false, None).is_none(), "not cached yet: the store is asked");
        let waited = auth.admit(&with_key, &query, false, None).await.expect("admitted");
        let at_once = auth.admit_at_once(&with_key, &query, false, None).expect("cached now").expect("admitted");
        assert_eq!((&*at_once.namespace, &at_once.credential), (&*waited.namespace, &waited.credential));
        let refused = |h: &HeaderMap| auth.admit_at_once(h, &query, false, None).map(|a| a.map_err(|e| e.status()));
        assert_eq!(refused(&headers(&[])), Some(Err(http::StatusCode::UNAUTHORIZED)), "no credential");
        let malformed = headers(&[("x-api-key", "not-a-key")]);
        assert_eq!(refused(&malformed), Some(Err(http::StatusCode::UNAUTHORIZED)), "not shaped like a key");
        let jwt = headers(&[("authorization", "Bearer a.b.c")]);
        assert!(auth.admit_at_once(&jwt, &query, false, None).is_none(), "a token is verified in the waiting path");
        let in_query: HashMap<String, String> = [("api_key".to_owned(), key)].into();
        let refusal = auth.admit_at_once(&HeaderMap::new(), &in_query, false, None).expect("decided");
        assert!(matches!(refusal, Err(ApiError::InvalidCredential(_))), "a key in the query is refused off upgrades");
    }

    #[tokio::test]
    async fn the_fast_path_charges_like_the_waiting_one_and_forgets_a_revoked_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (auth, _db) = crate::auth::testing::authenticator(dir.path()).await;
        let created = auth.api_keys.create("alpha", "k").await.expect("key");
        let (query, with_key) = (HashMap::new(), headers(&[("x-api-key", &created.api_key)]));
        auth.admit(&with_key, &query, false, None).await.expect("admitted");
        let admitted = auth.admit_at_once(&with_key, &query, false, None).expect("cached").expect("admitted");
        let allowance = admitted.allowance.expect("charged to the key's own bucket");
        assert_eq!(allowance.limit, 200, "the default per-key burst");
        // Failed attempts are charged to the client address: the default burst is 50.
        let client = Some(ClientIp("192.0.2.7".parse().expect("ip")));
        let malformed = headers(&[("x-api-key", "not-a-key")]);
        for _ in 0..50 {
            let refusal = auth.admit_at_once(&malformed, &query, false, client).expect("decided");
            assert_eq!(refusal.map_err(|e| e.status()).err(), Some(http::StatusCode::UNAUTHORIZED));
        }
        let over = auth.admit_at_once(&malformed, &query, false, client).expect("decided");
        assert_eq!(over.map_err(|e| e.status()).err(), Some(http::StatusCode::TOO_MANY_REQUESTS));
        assert!(auth.api_keys.revoke(created.id).await.expect("revoke"));
        assert!(auth.admit_at_once(&with_key, &query, false, None).is_none(), "a revocation empties the cache");
        let refused = auth.admit(&with_key, &query, false, None).await.map_err(|e| e.status());
        assert_eq!(refused.err(), Some(http::StatusCode::UNAUTHORIZED));
        let cached = auth.admit_at_once(&with_key, &query, false, None).expect("cached as unknown");
        assert_eq!(cached.map_err(|e| e.status()).err(), Some(http::StatusCode::UNAUTHORIZED));
    }
}
