//! One anonymous request from the gateway to its answer: checked ([`crate::request`]), gated
//! on the upstream's bootstrap, given a slot ([`crate::limits`]), sent within the time limit
//! ([`crate::client`]), and turned into the reference's response object. This is the one
//! place the proxy's errors become HTTP statuses.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::StatusCode;
use orama_service::egress::EgressPolicy;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::client::{FetchError, Fetched, HttpClient};
use crate::control::{ControlAddress, ControlState};
use crate::limits::Limits;
use crate::request::{self, RequestError};
use crate::target::TargetError;
use crate::upstream::Upstream;
use crate::upstream_health::UpstreamHealth;

/// The proxy.
#[derive(Debug)]
pub struct Proxy {
    /// The HTTP client.
    pub client: HttpClient,
    /// In-flight limits.
    pub limits: Limits,
    /// Time limit of one request.
    pub timeout: Duration,
    /// Literal networks allowed although not public.
    pub policy: EgressPolicy,
    /// The control port followed, if any.
    pub control: Option<(ControlAddress, watch::Receiver<ControlState>)>,
    /// The last upstream check.
    pub health: Arc<RwLock<UpstreamHealth>>,
}

/// An answer: its status and JSON body.
pub type Answer = (StatusCode, Value);

impl Proxy {
    /// Handles `body` from `namespace`.
    pub async fn handle(&self, namespace: &str, body: &[u8]) -> Answer {
        let checked = match request::parse(body, &self.policy) {
            Ok(checked) => checked,
            Err(err) => return refused(&err),
        };
        if let Some(not_ready) = self.not_bootstrapped() {
            return failure(StatusCode::SERVICE_UNAVAILABLE, &not_ready);
        }
        let _slot = match self.limits.acquire(namespace) {
            Ok(slot) => slot,
            Err(busy) => return (StatusCode::TOO_MANY_REQUESTS, json!({ "error": busy.to_string() })),
        };
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(self.timeout, self.client.fetch(namespace, checked.target, checked.outgoing)).await;
        let answer = match outcome {
            Ok(Ok(fetched)) => success(fetched),
            Ok(Err(err)) => fetch_failure(err),
            Err(_) => failure(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("proxy request failed: no answer within {:?}", self.timeout),
            ),
        };
        tracing::debug!(
            status = answer.0.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "anonymous request"
        );
        answer
    }

    /// Why requests cannot go out yet: the client behind the control port is bootstrapping.
    fn not_bootstrapped(&self) -> Option<String> {
        let (_, state) = self.control.as_ref()?;
        match &*state.borrow() {
            ControlState::Known(b) if b.progress < 100 => Some(format!(
                "the Anyone network is not ready: bootstrapped {}% ({}){}",
                b.progress,
                b.summary,
                b.warning.as_ref().map(|w| format!(": {w}")).unwrap_or_default()
            )),
            _ => None,
        }
    }

    /// The upstream's state, for `/ready` and the gateway's `/v1/status`.
    pub fn status(&self, upstream: &str, server: Option<String>, isolation: bool) -> Value {
        let health = self.health.read().unwrap_or_else(|e| e.into_inner()).clone();
        let (control, bootstrap, control_error) = match &self.control {
            None => (None, None, None),
            Some((address, state)) => match &*state.borrow() {
                ControlState::Known(b) => (Some(address.to_string()), Some(json!(b)), None),
                ControlState::Unreachable(e) => (Some(address.to_string()), None, Some(e.clone())),
                ControlState::Pending => (Some(address.to_string()), None, None),
            },
        };
        json!({
            "upstream": upstream,
            "socks": server,
            "reachable": health.reachable,
            "error": health.error,
            "isolation": isolation,
            "control": control,
            "bootstrap": bootstrap,
            "control_error": control_error,
            "in_flight": self.limits.in_flight(),
        })
    }

    /// Where connections come from.
    pub fn upstream(&self) -> &Upstream {
        &self.client.upstream
    }
}

fn refused(err: &RequestError) -> Answer {
    let status = match err {
        RequestError::Target(TargetError::Private { .. }) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, json!({ "error": err.to_string() }))
}

fn success(fetched: Fetched) -> Answer {
    let body = base64::engine::general_purpose::STANDARD.encode(&fetched.body);
    let headers = crate::headers::incoming(&fetched.headers);
    (StatusCode::OK, json!({ "status_code": fetched.status.as_u16(), "headers": headers, "body": body }))
}

/// The reference's failure object: `status_code` 0, `headers` null, `body` "".
fn failure(status: StatusCode, error: &str) -> Answer {
    (status, json!({ "status_code": 0, "headers": null, "body": "", "error": error }))
}

fn fetch_failure(err: FetchError) -> Answer {
    match err {
        FetchError::Redirect(_) => (StatusCode::FORBIDDEN, json!({ "error": err.to_string() })),
        FetchError::Unavailable(_) => failure(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        FetchError::Failed(_) => failure(StatusCode::BAD_GATEWAY, &err.to_string()),
        FetchError::TooLarge { status, ref headers, .. } => {
            let headers = crate::headers::incoming(headers);
            let body =
                json!({ "status_code": status.as_u16(), "headers": headers, "body": "", "error": err.to_string() });
            (StatusCode::BAD_GATEWAY, body)
        }
    }
}
