//! `/v1/functions*` and `/v1/invoke/*`: deploy WebAssembly functions, invoke them with serde
//! input and output, read their versions and logs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::{Call, Payload};
use crate::error::{Error, Result};
use crate::function_socket::FunctionSocket;
use crate::transport::Transport;

/// The least time a deploy or an invocation is given: a function may run for a minute (the
/// node's `wasm_runner.max_timeout`), and its module be compiled first.
const FUNCTION_TIME: Duration = Duration::from_secs(90);

/// What runs a function besides a direct call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Trigger {
    /// Each message on this topic of the namespace.
    Pubsub {
        /// The topic.
        topic: String,
    },
    /// Each minute a five-field cron schedule (UTC) names.
    Cron {
        /// `m h dom mon dow`.
        schedule: String,
    },
}

/// A function's settings at deploy. [`FunctionSpec::new`] gives the gateway's defaults.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FunctionSpec {
    /// The function's name.
    pub name: String,
    /// Whether anyone may invoke it.
    pub is_public: bool,
    /// Memory limit, MiB (the node's default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit_mb: Option<u32>,
    /// Time limit, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Retries after a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u32>,
    /// The first retry's delay, seconds (doubling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_seconds: Option<u32>,
    /// Read by the `get_env` host call.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env_vars: BTreeMap<String, String>,
    /// Sealed; read by `get_secret`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Where failed invocations are published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq_topic: Option<String>,
    /// Its triggers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

impl FunctionSpec {
    /// A private function named `name` with the node's defaults.
    pub fn new(name: &str) -> FunctionSpec {
        FunctionSpec { name: name.to_owned(), ..FunctionSpec::default() }
    }
}

/// A deployed version of a function.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Function {
    /// The version's id.
    pub id: String,
    /// The name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The version, from 1.
    pub version: u32,
    /// The module's CID.
    pub wasm_cid: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Whether anyone may invoke it.
    #[serde(default)]
    pub is_public: bool,
    /// Memory limit, MiB.
    #[serde(default)]
    pub memory_limit_mb: u32,
    /// Time limit, seconds.
    #[serde(default)]
    pub timeout_seconds: u32,
    /// Retries after a failure.
    #[serde(default)]
    pub retry_count: u32,
    /// The first retry's delay, seconds.
    #[serde(default)]
    pub retry_delay_seconds: u32,
    /// Where failed invocations are published.
    #[serde(default)]
    pub dlq_topic: Option<String>,
    /// When it was deployed.
    #[serde(default)]
    pub created_at: String,
    /// When it last changed.
    #[serde(default)]
    pub updated_at: String,
    /// Who deployed it (the namespace).
    #[serde(default)]
    pub created_by: String,
    /// Its triggers with their last run (on `get` only).
    #[serde(default)]
    pub triggers: Vec<Value>,
}

/// One line of a function's log.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LogLine {
    /// `info` or `error`.
    pub level: String,
    /// The text.
    pub message: String,
    /// When, RFC 3339.
    pub timestamp: String,
    /// The invocation it belongs to.
    #[serde(default)]
    pub request_id: String,
}

/// An invocation's answer.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The invocation's id.
    pub request_id: String,
    /// How long it ran, ms.
    pub duration_ms: Option<u64>,
    /// What the function wrote to stdout.
    pub output: Bytes,
}

/// `/v1/functions*`. Get one from [`crate::NetworkClient::serverless`].
#[derive(Clone)]
pub struct ServerlessClient {
    pub(crate) transport: Transport,
}

impl ServerlessClient {
    /// Deploys `wasm` (binary or text) as a new version of `spec.name`.
    pub async fn deploy(&self, spec: &FunctionSpec, wasm: impl Into<Bytes>) -> Result<Function> {
        let (wasm, metadata) = (wasm.into(), serde_json::to_string(spec).map_err(Error::decode)?);
        let form = move || {
            let part = Part::stream_with_length(wasm.clone(), wasm.len() as u64).file_name("function.wasm");
            Form::new().part("wasm", part).text("metadata", metadata.clone())
        };
        let call = Call { payload: Payload::Form(Arc::new(form)), ..Call::new(http::Method::POST, "v1/functions") }
            .at_least(FUNCTION_TIME);
        let mut answer: Value = self.transport.json(call).await?;
        serde_json::from_value(answer["function"].take()).map_err(Error::decode)
    }

    /// Deploys the module in the file at `path`.
    pub async fn deploy_file(&self, spec: &FunctionSpec, path: &Path) -> Result<Function> {
        self.deploy(spec, tokio::fs::read(path).await?).await
    }

    /// Invokes `name` (`name@version` for a version) of the caller's namespace with `input` as
    /// JSON; its output read as `O`.
    pub async fn invoke<I: Serialize + ?Sized, O: DeserializeOwned>(&self, name: &str, input: &I) -> Result<O> {
        let input = serde_json::to_vec(input).map_err(|e| Error::Invalid(e.to_string()))?;
        let invocation = self.invoke_raw(name, input).await?;
        serde_json::from_slice(&invocation.output).map_err(|e| Error::decode(format!("function output: {e}")))
    }

    /// Invokes `name` with `input` as its stdin; its stdout back.
    pub async fn invoke_raw(&self, name: &str, input: impl Into<Bytes>) -> Result<Invocation> {
        self.invoke_at(format!("v1/functions/{}/invoke", segment(name)?), input.into()).await
    }

    /// Invokes the public function `name` of `namespace` (or, with the caller's credential, a
    /// private one of its own namespace).
    pub async fn invoke_in(&self, namespace: &str, name: &str, input: impl Into<Bytes>) -> Result<Invocation> {
        self.invoke_at(format!("v1/invoke/{}/{}", segment(namespace)?, segment(name)?), input.into()).await
    }

    /// Opens `name`'s WebSocket: each [`FunctionSocket::call`] is one invocation.
    pub async fn connect(&self, name: &str) -> Result<FunctionSocket> {
        let limit = self.transport.config.timeout.max(FUNCTION_TIME);
        FunctionSocket::open(&self.transport, segment(name)?, limit).await
    }

    /// The latest active version of each function.
    pub async fn list(&self) -> Result<Vec<Function>> {
        let mut answer: Value = self.transport.json(Call::get("v1/functions")).await?;
        serde_json::from_value(answer["functions"].take()).map_err(Error::decode)
    }

    /// One function (`name@version` for a version), with its triggers.
    pub async fn get(&self, name: &str) -> Result<Function> {
        self.transport.json(Call::get(format!("v1/functions/{}", segment(name)?))).await
    }

    /// Every version of `name`, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<Function>> {
        let mut answer: Value =
            self.transport.json(Call::get(format!("v1/functions/{}/versions", segment(name)?))).await?;
        serde_json::from_value(answer["versions"].take()).map_err(Error::decode)
    }

    /// The newest `limit` log lines of `name` (at most 1000), newest first.
    pub async fn logs(&self, name: &str, limit: u32) -> Result<Vec<LogLine>> {
        let call = Call::get(format!("v1/functions/{}/logs", segment(name)?)).query("limit", limit.to_string());
        let mut answer: Value = self.transport.json(call).await?;
        serde_json::from_value(answer["logs"].take()).map_err(Error::decode)
    }

    /// Deletes `name` (every version; `name@v`: that one).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let _: Value =
            self.transport.json(Call::new(http::Method::DELETE, format!("v1/functions/{}", segment(name)?))).await?;
        Ok(())
    }

    async fn invoke_at(&self, path: String, input: Bytes) -> Result<Invocation> {
        let payload = Payload::Bytes(input, "application/octet-stream");
        let call = Call { payload, ..Call::new(http::Method::POST, path) }.at_least(FUNCTION_TIME);
        let limit = self.transport.limit(&call);
        let response = self.transport.send(call).await?;
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let request_id = header("x-request-id").unwrap_or_default();
        let duration_ms = header("x-duration-ms").and_then(|d| d.parse().ok());
        let body = self.transport.body(response, limit).await?;
        Ok(Invocation { output: unwrap_output(body, &request_id), request_id, duration_ms })
    }
}

/// The function's stdout: the gateway returns JSON output as is and wraps any other text in
/// `{request_id, output, status, duration_ms}`; the wrapper (recognised by its exact keys and
/// this invocation's id) is taken off.
fn unwrap_output(body: Bytes, request_id: &str) -> Bytes {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        request_id: String,
        output: String,
        #[serde(rename = "status")]
        _status: String,
        #[serde(rename = "duration_ms")]
        _duration_ms: Value,
    }
    match serde_json::from_slice::<Wrapped>(&body) {
        Ok(wrapped) if wrapped.request_id == request_id => Bytes::from(wrapped.output),
        _ => body,
    }
}

/// A name as one path segment.
fn segment(name: &str) -> Result<&str> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@');
    if name.is_empty() || name.starts_with('.') || !name.bytes().all(allowed) {
        return Err(Error::Invalid(format!("not a function or namespace name: {name:?}")));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_output_is_unwrapped_and_json_output_kept() {
        let wrapped = Bytes::from(r#"{"request_id":"r1","output":"hi","status":"success","duration_ms":3}"#);
        assert_eq!(unwrap_output(wrapped.clone(), "r1"), "hi");
        assert_eq!(unwrap_output(wrapped.clone(), "other"), wrapped, "another id: the function's own JSON");
        let json = Bytes::from(r#"{"output":"x"}"#);
        assert_eq!(unwrap_output(json.clone(), "r1"), json);
    }

    #[test]
    fn specs_serialize_only_what_was_set() {
        let mut spec = FunctionSpec::new("f");
        spec.triggers.push(Trigger::Cron { schedule: "* * * * *".into() });
        let json = serde_json::to_value(&spec).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"name":"f","is_public":false,"triggers":[{"type":"cron","schedule":"* * * * *"}]})
        );
    }
}
