//! Sending a [`Call`]: to the gateway that last answered, on to the next one when a gateway
//! cannot be reached or says it is unavailable, with backoff and jitter between attempts; with
//! the credential, renewing a JWT first when it is about to expire.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::call::Call;
use crate::config::{ClientConfig, Credential};
use crate::error::{Error, Result};
use crate::session::Session;

/// The longest error body read (the API's are short JSON).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// See the module docs. Cloned handles share everything.
#[derive(Clone)]
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) config: Arc<ClientConfig>,
    /// The gateway that answered last: the first tried next.
    preferred: Arc<AtomicUsize>,
    pub(crate) session: Arc<Session>,
}

impl Transport {
    /// The transport for `config`.
    pub(crate) fn new(config: ClientConfig) -> Result<Transport> {
        if config.gateways.is_empty() {
            return Err(Error::Invalid("no gateway URL".into()));
        }
        // No redirects: a redirect would carry the credential (X-API-Key is not a header
        // reqwest strips) to wherever it points; the API never redirects.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("orama-client/", env!("CARGO_PKG_VERSION")));
        for pem in &config.extra_roots_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::Invalid(e.to_string()))? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| Error::Invalid(format!("HTTP client: {e}")))?;
        let session = Arc::new(Session::new(config.credential.clone()));
        Ok(Transport { http, config: Arc::new(config), preferred: Arc::new(AtomicUsize::new(0)), session })
    }

    /// Sends `call`; answers its JSON body read as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let limit = self.limit(&call);
        let response = self.send(call).await?;
        let bytes = self.body(response, limit).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::decode(format!("the answer is not what was expected: {e}")))
    }

    /// The whole body of `response`, at most `max_response_bytes`, within `limit` when given.
    pub(crate) async fn body(&self, mut response: reqwest::Response, limit: Option<Duration>) -> Result<bytes::Bytes> {
        let max = self.config.max_response_bytes;
        let read = async {
            let mut body = bytes::BytesMut::new();
            while let Some(chunk) =
                response.chunk().await.map_err(|e| Error::decode(format!("reading the answer: {e}")))?
            {
                if body.len() + chunk.len() > max {
                    return Err(Error::decode(format!("the answer is larger than {max} bytes (max_response_bytes)")));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body.freeze())
        };
        match limit {
            Some(limit) => tokio::time::timeout(limit, read).await.map_err(|_| self.timed_out(limit))?,
            None => read.await,
        }
    }

    /// How long `call` may take, or `None` for no limit.
    pub(crate) fn limit(&self, call: &Call) -> Option<Duration> {
        call.bounded.then(|| self.config.timeout.max(call.min_timeout))
    }

    /// Sends `call`; answers the successful response (its body unread), or the error.
    pub(crate) async fn send(&self, call: Call) -> Result<reqwest::Response> {
        if call.authenticated && self.session.expiring() {
            self.refresh().await?;
        }
        match self.execute(&call).await {
            Err(Error::Api { status: StatusCode::UNAUTHORIZED, .. })
                if call.authenticated && call.replayable() && self.session.refresh_token().is_some() =>
            {
                self.refresh().await?;
                self.execute(&call).await
            }
            outcome => outcome,
        }
    }

    /// Renews the JWT with its refresh token (once, however many callers ask together).
    pub(crate) async fn refresh(&self) -> Result<()> {
        let before = self.session.get();
        let _one_at_a_time = self.session.refreshing.lock().await;
        if self.session.get() != before {
            return Ok(()); // another caller renewed it meanwhile
        }
        let Some((refresh_token, namespace)) = self.session.refresh_token() else {
            return Err(Error::Invalid("no refresh token to renew the JWT with".into()));
        };
        let body = serde_json::json!({ "refresh_token": refresh_token, "namespace": namespace });
        let renewed: crate::session::Tokens =
            self.json_unrefreshed(Call::post_json("v1/auth/refresh", &body)?.public()).await?;
        self.session.set(Some(Credential::Jwt {
            access_token: renewed.access_token,
            refresh_token: renewed.refresh_token.or(Some(refresh_token)),
            namespace: renewed.namespace.unwrap_or(namespace),
        }));
        Ok(())
    }

    async fn json_unrefreshed<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let limit = self.limit(&call);
        let response = self.execute(&call).await?;
        let bytes = self.body(response, limit).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::decode(format!("the answer is not what was expected: {e}")))
    }

    /// The attempts: see the module docs. Each gateway is tried once, then `retries` more
    /// attempts go round them again; the wait grows each time the round starts over.
    async fn execute(&self, call: &Call) -> Result<reqwest::Response> {
        let gateways = &self.config.gateways;
        let first = self.preferred.load(Ordering::Relaxed);
        let budget = self.config.retries + (gateways.len() as u32 - 1);
        let limit = self.limit(call);
        let mut attempt = 0u32;
        loop {
            let index = (first + attempt as usize) % gateways.len();
            let gateway = &gateways[index];
            let url = gateway.join(&call.path).map_err(|e| Error::Invalid(format!("path {:?}: {e}", call.path)))?;
            let Some(mut request) = call.build(&self.http, url) else {
                return Err(Error::Invalid("a streamed body cannot be sent twice".into()));
            };
            if call.authenticated
                && let Some((name, value)) = self.session.header()
            {
                request = request.header(name, value);
            }
            let sent = match limit {
                Some(limit) => tokio::time::timeout(limit, request.send()).await.map_err(|_| limit),
                None => Ok(request.send().await),
            };
            let may_retry = attempt < budget && call.replayable();
            let wait = match sent {
                Ok(Ok(response)) if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(response);
                }
                Ok(Ok(response)) => {
                    let retry_after = retry_after(&response);
                    let error = api_error(response).await;
                    let status = error.status().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    if !(may_retry && call.idempotent && retryable(status)) {
                        return Err(error);
                    }
                    match retry_after {
                        Some(wait) if wait > self.config.max_backoff => return Err(error),
                        wait => wait,
                    }
                }
                Ok(Err(source)) => {
                    // A connection that never opened sent nothing: any request may go again.
                    if !(may_retry && (source.is_connect() || call.idempotent)) {
                        return Err(Error::Transport { gateway: gateway.to_string(), source });
                    }
                    None
                }
                Err(limit) => {
                    if !(may_retry && call.idempotent) {
                        return Err(self.timed_out(limit));
                    }
                    None
                }
            };
            attempt += 1;
            let round_over = (attempt as usize).is_multiple_of(gateways.len());
            let backoff = if round_over { self.backoff(attempt / gateways.len() as u32) } else { Duration::ZERO };
            tokio::time::sleep(backoff.max(wait.unwrap_or_default())).await;
        }
    }

    /// The wait before retry number `attempt + 1`: doubling from `backoff`, at most
    /// `max_backoff`, with the upper half randomised so clients do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.config.backoff.saturating_mul(1 << attempt.min(16)).min(self.config.max_backoff);
        let mut random = [0u8; 4];
        let fraction = match getrandom::fill(&mut random) {
            Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
            Err(_) => 0.5,
        };
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }

    fn timed_out(&self, limit: Duration) -> Error {
        Error::Api {
            status: StatusCode::GATEWAY_TIMEOUT,
            message: format!("no answer within {limit:?} (client timeout)"),
            body: None,
            request_id: None,
        }
    }
}

/// Statuses that say "not now" rather than "no": worth trying again (on another gateway).
fn retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// A `Retry-After` in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The error a failed response stands for: its status and `{"error"}` message.
pub(crate) async fn api_error(mut response: reqwest::Response) -> Error {
    let status = response.status();
    let request_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(MAX_ERROR_BODY - body.len())]);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let message = match json.as_ref().and_then(|j| j.get("error")).and_then(|e| e.as_str()) {
        Some(message) => message.to_owned(),
        None if body.is_empty() => status.canonical_reason().unwrap_or("error").to_owned(),
        // Not the API's shape (a proxy's page, say): its first line, shortened.
        None => String::from_utf8_lossy(&body).lines().next().unwrap_or_default().chars().take(200).collect(),
    };
    Error::Api { status, message, body: json, request_id }
}
