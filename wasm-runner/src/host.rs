//! The host functions a guest may import (REFERENCE-API §6), defined identically under the
//! import modules `env` and `host`. What an invocation knows by itself (its request id, caller,
//! environment, captured logs) is answered here; everything that touches a backend (secrets,
//! SQL, cache, pub/sub, HTTP) is a call to the gateway's internal socket carrying the
//! invocation's token, which the gateway maps to the function's namespace: the runner holds
//! no credential and cannot choose a namespace.
//!
//! Results are handed to the guest the reference's way ([`crate::guest_memory`]): a buffer
//! allocated inside the guest with its `orama_alloc` (or `malloc`) export, returned packed as
//! `(ptr << 32) | len`; `0` means error, empty or no allocator. A pointer/length pair outside
//! the guest's memory is a trap (the guest is broken or hostile); a backend failure is `0` plus
//! a line in the function's log saying why.
//!
//! The host functions work on any store whose data gives out a [`HostState`] ([`HostView`],
//! as WASI's do through its own view): the runtime's store data implements it, so the
//! runtime depends on this module and not the other way round.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use wasmtime::{Caller, Linker, Trap};

use crate::guest_memory::{bytes, give, memory_size, text};

/// Most log lines one invocation keeps, and most bytes of them.
const MAX_LOG_LINES: usize = 1_000;
const MAX_LOG_BYTES: usize = 256 * 1024;
/// Longest a single backend call may take, whatever the invocation's deadline.
const MAX_CALL: Duration = Duration::from_secs(30);
/// Largest file `storage_get` hands a guest (and never more than its memory has room for).
const MAX_STORAGE_GET: usize = 16 * 1024 * 1024;

/// What the gateway told the runner about one invocation.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The invocation's id (also `get_request_id`).
    pub request_id: String,
    /// Who called (`get_caller_wallet`).
    pub caller: String,
    /// The function's environment (`get_env`).
    pub env: HashMap<String, String>,
    /// Scopes backend calls to the function's namespace; none means no backend calls.
    pub token: Option<String>,
}

/// One line a guest logged with `log_info`/`log_error`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// `info` or `error`.
    pub level: &'static str,
    /// The text.
    pub message: String,
}

/// Where backend calls go: the gateway's internal socket in the runner process.
pub trait HostBackend: Send + Sync + std::fmt::Debug {
    /// Calls host function `name` for the invocation holding `token`, with a JSON `body`, within
    /// `timeout`; the gateway's JSON answer, or why there is none.
    fn call(&self, name: &str, token: &str, body: &Value, timeout: Duration) -> Result<Value, String>;
}

/// A store's data that holds an invocation's [`HostState`]: what the host functions reach
/// their state through.
pub(crate) trait HostView: 'static {
    /// The invocation's host-side state.
    fn host_state(&mut self) -> &mut HostState;
}

/// An invocation's host-side state, owned by its store (never shared between invocations).
#[derive(Debug)]
pub(crate) struct HostState {
    context: CallContext,
    backend: Option<Arc<dyn HostBackend>>,
    deadline: Instant,
    /// The guest's memory limit in bytes.
    memory: usize,
    logs: Vec<LogLine>,
    log_bytes: usize,
}

impl HostState {
    pub(crate) fn new(
        context: CallContext,
        backend: Option<Arc<dyn HostBackend>>,
        deadline: Instant,
        memory: usize,
    ) -> Self {
        HostState { context, backend, deadline, memory, logs: Vec::new(), log_bytes: 0 }
    }

    pub(crate) fn into_logs(self) -> Vec<LogLine> {
        self.logs
    }

    fn log(&mut self, level: &'static str, message: String) {
        if self.logs.len() >= MAX_LOG_LINES || self.log_bytes + message.len() > MAX_LOG_BYTES {
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(LogLine { level, message });
    }

    /// Calls the gateway; a failure is logged for the function and answered as `None`. A call
    /// cannot outlive the invocation's deadline: past it, the guest is interrupted.
    fn backend(&mut self, name: &str, body: Value) -> wasmtime::Result<Option<Value>> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Trap::Interrupt.into());
        }
        let (Some(backend), Some(token)) = (&self.backend, &self.context.token) else {
            self.log("error", format!("{name}: backend calls are not available to this invocation"));
            return Ok(None);
        };
        let answer = backend.call(name, token, &body, left.min(MAX_CALL));
        if Instant::now() >= self.deadline {
            return Err(Trap::Interrupt.into());
        }
        match answer {
            Ok(value) => Ok(Some(value)),
            Err(err) => {
                self.log("error", format!("{name} failed: {err}"));
                Ok(None)
            }
        }
    }
}

/// Defines every host function of the reference under `env` and `host`, and ours beyond it
/// under `host` only.
pub(crate) fn add_to_linker<T: HostView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    for module in ["env", "host"] {
        define_local(linker, module)?;
        define_data(linker, module)?;
        define_network(linker, module)?;
    }
    define_beyond_the_reference(linker)
}

/// Host functions the reference does not have, under `host` only (so a module written for the
/// reference's `env` never meets them).
fn define_beyond_the_reference<T: HostView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.func_wrap("host", "cache_delete", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let key = text(&mut caller, ptr, len, "cache_delete key")?;
        let answer = caller.data_mut().host_state().backend("cache_delete", json!({ "key": key }))?;
        Ok(i32::from(answer.is_some_and(|a| a["deleted"] == true)))
    })?;
    linker.func_wrap("host", "storage_put", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let data = bytes(&mut caller, ptr, len, "storage_put data")?;
        let answer = caller.data_mut().host_state().backend("storage_put", json!({ "data": base64(&data) }))?;
        let cid = answer.as_ref().and_then(|a| a["cid"].as_str()).unwrap_or_default().to_owned();
        give(&mut caller, cid.as_bytes())
    })?;
    linker.func_wrap("host", "storage_get", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let cid = text(&mut caller, ptr, len, "storage_get cid")?;
        // What the guest's memory can still grow by: the gateway refuses a larger file before
        // sending a byte of it.
        let room = caller.data_mut().host_state().memory.saturating_sub(memory_size(&mut caller));
        let body = json!({ "cid": cid, "max_bytes": room.min(MAX_STORAGE_GET) });
        let answer = caller.data_mut().host_state().backend("storage_get", body)?;
        let data = answer.as_ref().and_then(|a| a["data"].as_str()).and_then(unbase64).unwrap_or_default();
        give(&mut caller, &data)
    })?;
    Ok(())
}

/// The functions answered from the invocation's own state.
fn define_local<T: HostView>(linker: &mut Linker<T>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap(module, "get_caller_wallet", |mut caller: Caller<'_, T>| {
        let value = caller.data_mut().host_state().context.caller.clone().into_bytes();
        give(&mut caller, &value)
    })?;
    linker.func_wrap(module, "get_request_id", |mut caller: Caller<'_, T>| {
        let value = caller.data_mut().host_state().context.request_id.clone().into_bytes();
        give(&mut caller, &value)
    })?;
    linker.func_wrap(module, "get_env", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let key = text(&mut caller, ptr, len, "get_env key")?;
        let value = caller.data_mut().host_state().context.env.get(&key).cloned().unwrap_or_default();
        give(&mut caller, value.as_bytes())
    })?;
    linker.func_wrap(module, "log_info", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let message = text(&mut caller, ptr, len, "log_info message")?;
        caller.data_mut().host_state().log("info", message);
        Ok(())
    })?;
    linker.func_wrap(module, "log_error", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let message = text(&mut caller, ptr, len, "log_error message")?;
        caller.data_mut().host_state().log("error", message);
        Ok(())
    })?;
    Ok(())
}

/// Secrets, SQL and cache: calls to the gateway in the function's namespace.
fn define_data<T: HostView>(linker: &mut Linker<T>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap(module, "get_secret", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let name = text(&mut caller, ptr, len, "get_secret name")?;
        let answer = caller.data_mut().host_state().backend("get_secret", json!({ "name": name }))?;
        let value = answer.as_ref().and_then(|a| a["value"].as_str()).unwrap_or_default().to_owned();
        give(&mut caller, value.as_bytes())
    })?;
    linker.func_wrap(
        module,
        "db_query",
        |mut caller: Caller<'_, T>, sql: i32, sql_len: i32, args: i32, args_len: i32| {
            let body = sql_call(&mut caller, (sql, sql_len), (args, args_len))?;
            let answer = caller.data_mut().host_state().backend("db_query", body)?;
            let rows = answer.map(|a| a["rows"].to_string()).unwrap_or_default();
            give(&mut caller, rows.as_bytes())
        },
    )?;
    linker.func_wrap(
        module,
        "db_execute",
        |mut caller: Caller<'_, T>, sql: i32, sql_len: i32, args: i32, args_len: i32| {
            let body = sql_call(&mut caller, (sql, sql_len), (args, args_len))?;
            let answer = caller.data_mut().host_state().backend("db_execute", body)?;
            let affected = answer.and_then(|a| a["rows_affected"].as_i64()).unwrap_or(0);
            Ok(i32::try_from(affected).unwrap_or(i32::MAX))
        },
    )?;
    linker.func_wrap(module, "cache_get", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        let key = text(&mut caller, ptr, len, "cache_get key")?;
        let answer = caller.data_mut().host_state().backend("cache_get", json!({ "key": key }))?;
        let value = answer.as_ref().and_then(|a| a["value"].as_str()).and_then(unbase64).unwrap_or_default();
        give(&mut caller, &value)
    })?;
    linker.func_wrap(
        module,
        "cache_set",
        |mut caller: Caller<'_, T>, key: i32, key_len: i32, value: i32, value_len: i32, ttl: i64| {
            let key = text(&mut caller, key, key_len, "cache_set key")?;
            let value = bytes(&mut caller, value, value_len, "cache_set value")?;
            let body = json!({ "key": key, "value": base64(&value), "ttl_seconds": ttl });
            caller.data_mut().host_state().backend("cache_set", body)?;
            Ok(())
        },
    )?;
    linker.func_wrap(module, "cache_incr", |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
        incr(&mut caller, ptr, len, 1)
    })?;
    linker.func_wrap(module, "cache_incr_by", |mut caller: Caller<'_, T>, ptr: i32, len: i32, delta: i64| {
        incr(&mut caller, ptr, len, delta)
    })?;
    Ok(())
}

/// HTTP and pub/sub: calls to the gateway, which applies the egress rules.
fn define_network<T: HostView>(linker: &mut Linker<T>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap(
        module,
        "http_fetch",
        |mut caller: Caller<'_, T>, m: i32, m_len: i32, u: i32, u_len: i32, h: i32, h_len: i32, b: i32, b_len: i32| {
            let method = text(&mut caller, m, m_len, "http_fetch method")?;
            let url = text(&mut caller, u, u_len, "http_fetch url")?;
            let headers = text(&mut caller, h, h_len, "http_fetch headers")?;
            let body = bytes(&mut caller, b, b_len, "http_fetch body")?;
            let headers: Value =
                if headers.is_empty() { json!({}) } else { serde_json::from_str(&headers).unwrap_or(Value::Null) };
            let request = json!({ "method": method, "url": url, "headers": headers, "body": base64(&body) });
            let answer = caller.data_mut().host_state().backend("http_fetch", request)?;
            let reply =
                answer.unwrap_or_else(|| json!({ "error": "http_fetch failed (see the function's log)", "status": 0 }));
            give(&mut caller, reply.to_string().as_bytes())
        },
    )?;
    linker.func_wrap(
        module,
        "pubsub_publish",
        |mut caller: Caller<'_, T>, t: i32, t_len: i32, d: i32, d_len: i32| {
            let topic = text(&mut caller, t, t_len, "pubsub_publish topic")?;
            let data = bytes(&mut caller, d, d_len, "pubsub_publish data")?;
            let answer = caller
                .data_mut()
                .host_state()
                .backend("pubsub_publish", json!({ "topic": topic, "data": base64(&data) }))?;
            Ok(i32::from(answer.is_some()))
        },
    )?;
    Ok(())
}

fn sql_call<T: HostView>(caller: &mut Caller<'_, T>, sql: (i32, i32), args: (i32, i32)) -> wasmtime::Result<Value> {
    let statement = text(caller, sql.0, sql.1, "sql")?;
    let args = text(caller, args.0, args.1, "sql arguments")?;
    let args: Value = if args.is_empty() { json!([]) } else { serde_json::from_str(&args).unwrap_or(Value::Null) };
    Ok(json!({ "sql": statement, "args": args }))
}

fn incr<T: HostView>(caller: &mut Caller<'_, T>, ptr: i32, len: i32, delta: i64) -> wasmtime::Result<i64> {
    let key = text(caller, ptr, len, "cache_incr key")?;
    let answer = caller.data_mut().host_state().backend("cache_incr", json!({ "key": key, "delta": delta }))?;
    Ok(answer.and_then(|a| a["value"].as_i64()).unwrap_or(0))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
