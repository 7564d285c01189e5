//! The gateway's side of the runner's socket API (`orama-wasm-runner`'s `server` module):
//! compile a module, invoke one by hash. A runner that is down, restarting or killed
//! mid-invocation is [`RunnerFailure::Unavailable`] (503 to the caller), never a hang: every
//! exchange is bounded by the invocation's own deadline plus a margin.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use orama_ipc::{IpcClient, IpcError};
use serde::Deserialize;

/// Time beyond a function's own limit that the runner may take to answer.
const MARGIN: Duration = Duration::from_secs(5);

/// The runner, reached over its socket.
#[derive(Debug, Clone)]
pub struct Runner {
    client: IpcClient,
}

/// Why the runner did not run a function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerFailure {
    /// The runner cannot be reached or dropped the call (down, restarting, killed).
    #[error("the function runner is unavailable: {0}")]
    Unavailable(String),
    /// The runner refused or the function failed; `kind` is the runner's classification.
    #[error("{message}")]
    Failed {
        /// `invalid`, `link`, `timeout`, `memory`, `output`, `trap`, `exit`, `busy`,
        /// `queue_full`, `unknown`.
        kind: String,
        /// What happened.
        message: String,
    },
}

/// A function's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct RunnerAnswer {
    /// Its stdout (base64 on the wire).
    #[serde(deserialize_with = "base64_bytes")]
    pub output: Vec<u8>,
    /// Its stderr.
    #[serde(default)]
    pub stderr: String,
    /// Its log lines.
    #[serde(default)]
    pub logs: Vec<LogLine>,
    /// How long it ran.
    pub duration_us: u64,
    /// Its peak memory.
    #[serde(default)]
    pub memory_bytes: u64,
}

/// One line a function logged.
#[derive(Debug, Clone, Deserialize)]
pub struct LogLine {
    /// `info` or `error`.
    pub level: String,
    /// The text.
    pub message: String,
}

fn base64_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
}

/// What the runner needs to know of one invocation.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The module.
    pub hash: &'a str,
    /// Bytes on stdin.
    pub input: Bytes,
    /// Time limit.
    pub timeout: Duration,
    /// Memory limit in bytes.
    pub memory: u64,
    /// Request id, caller and environment for the host functions.
    pub request_id: &'a str,
    /// The caller's identity.
    pub caller: &'a str,
    /// The function's environment.
    pub env: &'a BTreeMap<String, String>,
    /// The token scoping its backend calls.
    pub token: &'a str,
    /// The namespace the function belongs to (whose share of the runner it takes).
    pub namespace: &'a str,
}

impl Runner {
    /// The runner serving on `socket`.
    pub fn new(socket: &std::path::Path) -> Self {
        Runner { client: IpcClient::with_pool(socket, 256).with_timeout(Duration::from_secs(60)) }
    }

    /// Validates and compiles `wasm`; its hash as the runner keys it.
    pub async fn compile(&self, wasm: Bytes) -> Result<String, RunnerFailure> {
        let response = self.client.send(Method::POST, "/v1/modules", Some(wasm)).await.map_err(unavailable)?;
        #[derive(Deserialize)]
        struct Compiled {
            hash: String,
        }
        let compiled: Compiled = self.client.read_json(response).await.map_err(failed)?;
        Ok(compiled.hash)
    }

    /// Runs one invocation.
    pub async fn invoke(&self, call: &Invocation<'_>) -> Result<RunnerAnswer, RunnerFailure> {
        let b64 = |text: &[u8]| base64::engine::general_purpose::STANDARD.encode(text);
        let env = if call.env.is_empty() {
            String::new()
        } else {
            b64(serde_json::to_string(call.env).unwrap_or_default().as_bytes())
        };
        let uri = format!(
            "http://local/v1/modules/{}/invoke?timeout_ms={}&memory={}",
            call.hash,
            call.timeout.as_millis(),
            call.memory
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("x-orama-request-id", call.request_id)
            .header("x-orama-caller", b64(call.caller.as_bytes()))
            .header("x-orama-env", env)
            .header("x-orama-token", call.token)
            .header("x-orama-namespace", call.namespace)
            .body(Full::new(call.input.clone()))
            .map_err(|e| RunnerFailure::Unavailable(e.to_string()))?;
        let limit = call.timeout + MARGIN;
        let exchange = async {
            let response = self.client.send_request(request, limit).await.map_err(unavailable)?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| RunnerFailure::Unavailable(e.to_string()))?;
            Ok::<_, RunnerFailure>((status, body.to_bytes()))
        };
        let (status, body) = tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| RunnerFailure::Unavailable("the runner did not answer in time".into()))??;
        if status == StatusCode::OK {
            return serde_json::from_slice(&body).map_err(|e| RunnerFailure::Unavailable(format!("bad answer: {e}")));
        }
        Err(refusal(status, &body))
    }
}

fn refusal(status: StatusCode, body: &[u8]) -> RunnerFailure {
    #[derive(Deserialize)]
    struct Refusal {
        error: String,
        #[serde(default)]
        kind: String,
    }
    match serde_json::from_slice::<Refusal>(body) {
        Ok(r) => RunnerFailure::Failed { kind: r.kind, message: r.error },
        Err(_) => RunnerFailure::Unavailable(format!("the runner answered {status}")),
    }
}

fn unavailable(err: IpcError) -> RunnerFailure {
    RunnerFailure::Unavailable(err.to_string())
}

fn failed(err: IpcError) -> RunnerFailure {
    match err {
        IpcError::Status { status, message, .. } if status.is_client_error() => {
            RunnerFailure::Failed { kind: "invalid".into(), message }
        }
        other => RunnerFailure::Unavailable(other.to_string()),
    }
}
