//! Deploying a function: the reference's two encodings (multipart with a `wasm` file and
//! form fields or a `metadata` JSON; or a JSON definition, where we also accept the module
//! as `wasm_base64`), checked into a [`Definition`], then compiled by the runner (so an
//! invalid module or an unknown import is refused with the validation error, before anything
//! is stored), stored by CID, and recorded as a new version.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::{Buf, Bytes};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use warp::Filter;

use super::registry::{Function, NewVersion, Settings};
use super::secrets::Owner;
use super::triggers::definition::{MAX_NAMESPACE_TRIGGERS, Trigger};
use super::{service::Functions, service::runner_error};
use crate::http::error::ApiError;

/// Most bytes of environment and secrets one function may carry.
const MAX_SETTINGS: usize = 64 * 1024;
/// Largest form field other than the module.
const MAX_FIELD: usize = 256 * 1024;

/// A function definition, as the reference's clients send it (the reference's unused keys are
/// accepted and ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Definition {
    /// Function name.
    pub name: String,
    /// Namespace: must be the caller's own when given.
    pub namespace: String,
    /// Memory limit in MiB.
    pub memory_limit_mb: Option<i64>,
    /// Time limit in seconds.
    pub timeout_seconds: Option<i64>,
    /// Public or private.
    pub is_public: Option<bool>,
    /// As the reference stores it.
    pub retry_count: Option<i64>,
    /// As the reference stores it.
    pub retry_delay_seconds: Option<i64>,
    /// The topic of the namespace dead letters go to ([`super::dead_letters`]).
    pub dlq_topic: Option<String>,
    /// Environment (`get_env`).
    pub env_vars: BTreeMap<String, String>,
    /// Secrets (`get_secret`), replacing the function's secrets when given.
    pub secrets: Option<BTreeMap<String, String>>,
    /// The module, base64 (JSON deploys only).
    pub wasm_base64: String,
    /// Pub/sub and cron triggers ([`super::triggers::definition::parse`]).
    pub triggers: Option<serde_json::Value>,
    /// Reference keys accepted and ignored: every deploy is a new version, and the
    /// reference's trigger fields were never implemented there (ours is `triggers`).
    #[serde(rename = "version")]
    pub _version: serde::de::IgnoredAny,
    /// See `_version`.
    #[serde(rename = "cron_expressions")]
    pub _cron_expressions: serde::de::IgnoredAny,
    /// See `_version`.
    #[serde(rename = "db_triggers")]
    pub _db_triggers: serde::de::IgnoredAny,
    /// See `_version`.
    #[serde(rename = "pubsub_topics")]
    pub _pubsub_topics: serde::de::IgnoredAny,
}

/// The longest dead-letter topic accepted.
const MAX_TOPIC: usize = 256;

/// True for function names we accept: 1-64 of `A-Z a-z 0-9 _ - .`, not starting with `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn field_int(name: &str, text: &str) -> Result<i64, ApiError> {
    text.trim().parse().map_err(|_| ApiError::BadRequest(format!("{name} must be an integer, not {text:?}")))
}

fn field_bool(name: &str, text: &str) -> Result<bool, ApiError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        other => Err(ApiError::BadRequest(format!("{name} must be true or false, not {other:?}"))),
    }
}

fn json_field<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T, ApiError> {
    crate::http::body::parse_json(text.as_bytes()).map_err(|e| ApiError::BadRequest(format!("form field {name}: {e}")))
}

/// The form fields a multipart deploy may carry.
const FORM_FIELDS: &[&str] = &[
    "wasm",
    "metadata",
    "name",
    "namespace",
    "is_public",
    "memory_limit_mb",
    "timeout_seconds",
    "retry_count",
    "retry_delay_seconds",
    "dlq_topic",
    "env_vars",
    "secrets",
    "triggers",
];

/// Refuses a module that is neither binary WebAssembly (`\0asm`) nor WebAssembly text
/// (`(module ...)`, which the runner also compiles), saying what it starts with instead.
fn check_magic(wasm: &[u8]) -> Result<(), ApiError> {
    let text = wasm.trim_ascii_start();
    if wasm.starts_with(b"\0asm") || text.starts_with(b"(") || text.starts_with(b";;") {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!(
        "not a WebAssembly module: the file starts with \"{}\" (a binary module starts with \"\\0asm\", a text one with \"(module\")",
        wasm[..wasm.len().min(8)].escape_ascii()
    )))
}

async fn collect(part: warp::multipart::Part, limit: usize, what: &str) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    let mut stream = part.stream();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| crate::http::body::classify(&e))?;
        if bytes.len() + chunk.remaining() > limit {
            return Err(ApiError::BadRequest(format!("{what} larger than {limit} bytes")));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            bytes.extend_from_slice(piece);
            let n = piece.len();
            chunk.advance(n);
        }
    }
    Ok(bytes)
}

/// The deploy body, by its content type: multipart or JSON.
pub fn body(max_module: usize) -> impl Filter<Extract = ((Definition, Bytes),), Error = warp::Rejection> + Clone {
    let is_multipart = |wanted: bool| {
        warp::header::optional::<String>("content-type")
            .and_then(move |ct: Option<String>| async move {
                let multipart = ct.is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
                if multipart == wanted { Ok(()) } else { Err(warp::reject::not_found()) }
            })
            .untuple_one()
    };
    let multipart = is_multipart(true)
        .and(warp::multipart::form().max_length(Some(max_module as u64 + 4 * MAX_FIELD as u64)))
        .and_then(move |form| async move { from_multipart(form, max_module).await.map_err(warp::reject::custom) });
    let json = is_multipart(false)
        .and(crate::http::body::bytes())
        .and_then(move |bytes: Bytes| async move { from_json(&bytes, max_module).map_err(warp::reject::custom) });
    multipart.or(json).unify()
}

/// Reads a multipart deploy: the definition and the module.
pub async fn from_multipart(
    form: warp::multipart::FormData,
    max_module: usize,
) -> Result<(Definition, Bytes), ApiError> {
    let mut form = form.map_err(|e| ApiError::BadRequest(format!("Failed to parse form: {e}")));
    let (mut definition, mut fields, mut wasm) = (Definition::default(), Vec::new(), None);
    while let Some(part) = form.try_next().await? {
        let name = part.name().to_owned();
        if !FORM_FIELDS.contains(&name.as_str()) {
            let accepted = FORM_FIELDS.join("`, `");
            return Err(ApiError::BadRequest(format!("unknown form field `{name}`, expected one of `{accepted}`")));
        }
        if name == "wasm" {
            wasm = Some(Bytes::from(collect(part, max_module, "the WASM module").await?));
            continue;
        }
        let value = String::from_utf8_lossy(&collect(part, MAX_FIELD, &name).await?).into_owned();
        if name == "metadata" {
            definition = json_field("metadata", &value)?;
        } else {
            fields.push((name, value));
        }
    }
    for (name, value) in fields {
        match name.as_str() {
            "name" => definition.name = value.trim().to_owned(),
            "namespace" if definition.namespace.is_empty() => definition.namespace = value.trim().to_owned(),
            "is_public" => definition.is_public = Some(field_bool(&name, &value)?),
            "memory_limit_mb" => definition.memory_limit_mb = Some(field_int(&name, &value)?),
            "timeout_seconds" => definition.timeout_seconds = Some(field_int(&name, &value)?),
            "retry_count" => definition.retry_count = Some(field_int(&name, &value)?),
            "retry_delay_seconds" => definition.retry_delay_seconds = Some(field_int(&name, &value)?),
            "dlq_topic" => definition.dlq_topic = Some(value.trim().to_owned()),
            "env_vars" => definition.env_vars = json_field(&name, &value)?,
            "secrets" => definition.secrets = Some(json_field(&name, &value)?),
            "triggers" => definition.triggers = Some(json_field(&name, &value)?),
            // Only known fields get here; `namespace` when the metadata named one.
            _ => {}
        }
    }
    let wasm = wasm.ok_or_else(|| ApiError::BadRequest("WASM file required".into()))?;
    Ok((definition, wasm))
}

/// Reads a JSON deploy: the definition with the module in `wasm_base64`.
pub fn from_json(body: &[u8], max_module: usize) -> Result<(Definition, Bytes), ApiError> {
    let definition: Definition = crate::http::body::parse_json(body)?;
    if definition.wasm_base64.is_empty() {
        return Err(ApiError::BadRequest("WASM bytecode required (multipart field wasm, or wasm_base64)".into()));
    }
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(definition.wasm_base64.as_bytes())
        .map_err(|e| ApiError::BadRequest(format!("wasm_base64 is not base64: {e}")))?;
    if wasm.len() > max_module {
        return Err(ApiError::BadRequest(format!("the WASM module is larger than {max_module} bytes")));
    }
    Ok((definition, Bytes::from(wasm)))
}

impl Functions {
    /// Deploys `definition` with `wasm` as a new version in `namespace`.
    pub async fn deploy(
        &self,
        namespace: &Arc<str>,
        definition: Definition,
        wasm: Bytes,
    ) -> Result<Function, ApiError> {
        if !definition.namespace.is_empty() && *definition.namespace != **namespace {
            return Err(ApiError::Forbidden("a function can only be deployed into the caller's own namespace".into()));
        }
        if definition.name.is_empty() {
            return Err(ApiError::BadRequest("Function name required".into()));
        }
        if !valid_name(&definition.name) {
            return Err(ApiError::BadRequest(
                "function name must be 1-64 of A-Z a-z 0-9 _ - . (not starting with .)".into(),
            ));
        }
        if definition.dlq_topic.as_ref().is_some_and(|t| t.len() > MAX_TOPIC || t.chars().any(char::is_control)) {
            return Err(ApiError::BadRequest(format!(
                "dlq_topic must be at most {MAX_TOPIC} bytes without control characters"
            )));
        }
        let settings: usize =
            definition.env_vars.iter().chain(definition.secrets.iter().flatten()).map(|(k, v)| k.len() + v.len()).sum();
        if settings > MAX_SETTINGS
            || definition.env_vars.keys().chain(definition.secrets.iter().flat_map(|s| s.keys())).any(String::is_empty)
        {
            return Err(ApiError::BadRequest(format!(
                "env_vars and secrets need non-empty names and at most {MAX_SETTINGS} bytes in all"
            )));
        }
        let triggers = checked_triggers(&definition)?;
        if !triggers.is_empty() {
            let others = self.parts.trigger_store.armed_in(namespace, &definition.name).await?;
            if others + triggers.len() > MAX_NAMESPACE_TRIGGERS {
                return Err(ApiError::BadRequest(format!(
                    "a namespace may have at most {MAX_NAMESPACE_TRIGGERS} triggers across its functions; \
                     its other functions have {others}"
                )));
            }
        }
        check_magic(&wasm)?;
        let hash = self.parts.runner.compile(wasm.clone()).await.map_err(runner_error)?;
        let stored = self.store_module(namespace, &definition.name, wasm).await?;
        let secrets = match &definition.secrets {
            None => None,
            Some(secrets) => Some(self.seal(namespace, &definition.name, secrets)?),
        };
        let mut new = self.new_version(definition, stored, hash, secrets);
        new.triggers = triggers;
        let function = self.parts.registry.deploy(namespace, &super::service::uuid_v4()?, &new).await?;
        self.forget(namespace, &new.name);
        self.parts.triggers.poke();
        tracing::info!(namespace = %namespace, function = %function.name, version = function.version, "function deployed");
        Ok(function)
    }

    /// Stores `wasm` as a module of `namespace`'s function `name`: held to the disk floor, and
    /// pinned in the namespace (so it counts against the namespace's storage quota, and the
    /// namespace cannot unpin it while a version uses it). Returns its CID.
    async fn store_module(&self, namespace: &str, name: &str, wasm: Bytes) -> Result<String, ApiError> {
        let storage = &self.parts.storage;
        storage.bounds.check_disk(wasm.len() as u64)?;
        let content = Box::pin(futures_util::stream::once(async move { Ok(wasm) }));
        let added = storage.engine.add(content, crate::storage::cid::CidVersion::V0).await?;
        let cid = added.cid.key().to_string();
        let label = format!("function {name}");
        let pin = crate::storage::pins::NewPin { namespace, cid: &cid, name: &label, size: added.size, upload: None };
        storage.pins.pin(pin, storage.bounds.quota).await?;
        storage.engine.pin(added.cid.key()).await?;
        Ok(cid)
    }

    fn seal(
        &self,
        namespace: &str,
        function: &str,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>, ApiError> {
        secrets
            .iter()
            .map(|(name, value)| {
                let owner = Owner { namespace, function, name };
                self.parts.secrets.seal(owner, value).map(|sealed| (name.clone(), sealed)).map_err(ApiError::Internal)
            })
            .collect()
    }

    /// The record of a version, with the limits capped by the operator's bounds.
    fn new_version(
        &self,
        d: Definition,
        wasm_cid: String,
        wasm_hash: String,
        secrets: Option<Vec<(String, String)>>,
    ) -> NewVersion {
        let mib = 1024 * 1024;
        let max_mb = i64::try_from(self.parts.bounds.max_memory / mib).unwrap_or(i64::MAX).max(1);
        let default_mb = i64::try_from(self.parts.bounds.default_memory / mib).unwrap_or(64).max(1);
        let max_secs = i64::try_from(self.parts.bounds.max_timeout.as_secs()).unwrap_or(i64::MAX).max(1);
        let default_secs = i64::try_from(self.parts.bounds.default_timeout.as_secs()).unwrap_or(30).max(1);
        let positive = |v: Option<i64>| v.filter(|v| *v > 0);
        let settings = Settings {
            memory_limit_mb: positive(d.memory_limit_mb).unwrap_or(default_mb).min(max_mb),
            timeout_seconds: positive(d.timeout_seconds).unwrap_or(default_secs).min(max_secs),
            is_public: d.is_public.unwrap_or(false),
            retry_count: d.retry_count.unwrap_or(0).clamp(0, 10),
            retry_delay_seconds: positive(d.retry_delay_seconds).unwrap_or(5),
            dlq_topic: d.dlq_topic.unwrap_or_default(),
        };
        NewVersion { name: d.name, wasm_cid, wasm_hash, settings, env: d.env_vars, secrets, triggers: Vec::new() }
    }
}

/// The definition's triggers, checked; a dead-letter topic may not be one of its trigger
/// topics (each failure would trigger the function again).
fn checked_triggers(definition: &Definition) -> Result<Vec<Trigger>, ApiError> {
    let Some(value) = &definition.triggers else { return Ok(Vec::new()) };
    let triggers = super::triggers::definition::parse(&value.to_string()).map_err(ApiError::BadRequest)?;
    let dlq = definition.dlq_topic.as_deref().unwrap_or_default();
    if triggers.iter().any(|t| matches!(t, Trigger::Pubsub { topic } if !dlq.is_empty() && topic == dlq)) {
        return Err(ApiError::BadRequest(format!(
            "dlq_topic {dlq:?} is also a trigger topic of the function: its failures would trigger it again"
        )));
    }
    Ok(triggers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_json_deploys_are_checked() {
        for good in ["hello", "a", "my-fn_2.v1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "a@1", "with space", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
        let err = from_json(br#"{"name":"f"}"#, 1024).expect_err("no module");
        assert!(err.to_string().starts_with("WASM bytecode required"), "{err}");
        let err = from_json(br#"{"name":"f","wasm_base64":"%%%"}"#, 1024).expect_err("bad base64");
        assert!(err.to_string().contains("not base64"), "{err}");
        let big = base64::engine::general_purpose::STANDARD.encode([0u8; 2048]);
        let err = from_json(format!(r#"{{"name":"f","wasm_base64":"{big}"}}"#).as_bytes(), 1024).expect_err("too big");
        assert!(err.to_string().contains("larger than 1024"), "{err}");
        let (definition, wasm) =
            from_json(br#"{"name":"f","wasm_base64":"AGFzbQ==","env_vars":{"A":"1"},"is_public":true}"#, 1024)
                .expect("deploy");
        assert_eq!((definition.name.as_str(), definition.is_public, wasm.as_ref()), ("f", Some(true), &b"\0asm"[..]));
        assert!(from_json(b"{not json", 1024).is_err());
    }
}
