//! The `wasm_runner` section: the process that runs untrusted WebAssembly functions, and the
//! operator's bounds on them (the runner enforces them; the gateway applies the defaults and
//! the egress rules of `http_fetch`), with how it is read from the YAML tree.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::child::{ChildSettings, read_child_settings};
use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems, Table};

const MIB: u64 = 1024 * 1024;

/// The `wasm_runner` section.
#[derive(Debug, Clone, Serialize)]
pub struct WasmRunnerConfig {
    /// Supervision of the runner.
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Override of the program to run (default: `orama-wasm-runner` beside the supervisor).
    pub command: Option<PathBuf>,
    /// The user the runner becomes when started as root (a name, or `uid[:gid]`); a missing
    /// user means `nobody`.
    pub user: String,
    /// Functions running at once (instance slots).
    pub instances: u32,
    /// Invocations that may wait for a slot; past this, callers get 429 at once.
    pub queue: u32,
    /// How long an invocation waits for a slot before it gets 503.
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
    /// The share (percent) of the slots, and of the queue, one namespace may hold at once.
    pub namespace_share: u8,
    /// Most linear memory a function may have.
    pub max_memory: u64,
    /// Memory of a function deployed without `memory_limit_mb`.
    pub default_memory: u64,
    /// Longest a function may run (a function's own timeout is capped by this).
    #[serde(with = "humantime_serde")]
    pub max_timeout: Duration,
    /// Time limit of a function deployed without `timeout_seconds`.
    #[serde(with = "humantime_serde")]
    pub default_timeout: Duration,
    /// Most bytes of output (stdout, and stderr) a function may write.
    pub max_output: u64,
    /// Largest invocation input.
    pub max_input: u64,
    /// Largest module that can be deployed.
    pub max_module: u64,
    /// The rules of the `http_fetch` host function.
    pub http_fetch: HttpFetchConfig,
}

/// The `wasm_runner.http_fetch` subsection.
#[derive(Debug, Clone, Serialize)]
pub struct HttpFetchConfig {
    /// Longest one fetch may take (also bounded by the invocation's own deadline).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest response body a function may receive.
    pub max_response: u64,
    /// Redirects followed, each target checked again.
    pub max_redirects: u32,
    /// Networks a function may reach although they are private, loopback or link-local
    /// (empty by default: functions reach only public addresses).
    pub allow_networks: Vec<ipnet::IpNet>,
}

impl Default for HttpFetchConfig {
    fn default() -> Self {
        HttpFetchConfig {
            timeout: Duration::from_secs(30),
            max_response: 10 * MIB,
            max_redirects: 5,
            allow_networks: vec![],
        }
    }
}

impl Default for WasmRunnerConfig {
    fn default() -> Self {
        WasmRunnerConfig {
            child: ChildSettings { enabled: true, ..ChildSettings::default() },
            command: None,
            user: "orama-runner".into(),
            instances: 64,
            queue: 256,
            queue_timeout: Duration::from_secs(1),
            namespace_share: 25,
            max_memory: 128 * MIB,
            default_memory: 64 * MIB,
            max_timeout: Duration::from_secs(60),
            default_timeout: Duration::from_secs(30),
            max_output: 10 * MIB,
            max_input: MIB,
            max_module: 32 * MIB,
            http_fetch: HttpFetchConfig::default(),
        }
    }
}

/// Reads the `wasm_runner` section.
pub(super) fn wasm_runner_section(f: &Field, p: &mut Problems) -> WasmRunnerConfig {
    let mut t = f.table(p);
    let mut runner = WasmRunnerConfig::default();
    read_child_settings(&mut t, &mut runner.child, p);
    runner.command = t.take("command").and_then(|f| f.non_empty_string(p)).map(PathBuf::from);
    if let Some(user) = t.take("user").and_then(|f| f.non_empty_string(p)) {
        runner.user = user;
    }
    if let Some(n) = t.take("instances").and_then(|f| f.int_in(p, 1, 10_000)) {
        runner.instances = n as u32;
    }
    if let Some(n) = t.take("queue").and_then(|f| f.int_in(p, 0, 1_000_000)) {
        runner.queue = n as u32;
    }
    if let Some(d) = t.take("queue_timeout").and_then(|f| f.duration_in(p, MS, HOUR)) {
        runner.queue_timeout = d;
    }
    if let Some(share) = t.take("namespace_share").and_then(|f| f.percent(p)) {
        runner.namespace_share = share;
    }
    let bytes = |t: &mut Table, key: &str, min: u64, max: u64, p: &mut Problems| {
        t.take(key).and_then(|f| f.bytes_in(p, min, max))
    };
    if let Some(n) = bytes(&mut t, "max_memory", MIB, 4 * 1024 * MIB, p) {
        runner.max_memory = n;
    }
    if let Some(n) = bytes(&mut t, "default_memory", MIB, 4 * 1024 * MIB, p) {
        runner.default_memory = n;
    }
    if let Some(d) = t.take("max_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        runner.max_timeout = d;
    }
    if let Some(d) = t.take("default_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        runner.default_timeout = d;
    }
    if let Some(n) = bytes(&mut t, "max_output", 1024, 1024 * MIB, p) {
        runner.max_output = n;
    }
    if let Some(n) = bytes(&mut t, "max_input", 1024, 16 * MIB, p) {
        runner.max_input = n;
    }
    if let Some(n) = bytes(&mut t, "max_module", 1024, 64 * MIB, p) {
        runner.max_module = n;
    }
    if let Some(f) = t.take("http_fetch") {
        runner.http_fetch = http_fetch_section(&f, p);
    }
    t.finish(p);
    runner
}

fn http_fetch_section(f: &Field, p: &mut Problems) -> HttpFetchConfig {
    let mut t = f.table(p);
    let mut fetch = HttpFetchConfig::default();
    if let Some(d) = t.take("timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        fetch.timeout = d;
    }
    if let Some(n) = t.take("max_response").and_then(|f| f.bytes_in(p, 1024, 1024 * MIB)) {
        fetch.max_response = n;
    }
    if let Some(n) = t.take("max_redirects").and_then(|f| f.int_in(p, 0, 20)) {
        fetch.max_redirects = n as u32;
    }
    if let Some(nets) = t.take("allow_networks").and_then(|f| f.networks(p)) {
        fetch.allow_networks = nets;
    }
    t.finish(p);
    fetch
}
