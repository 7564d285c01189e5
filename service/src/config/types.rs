//! The typed configuration, with the defaults a node runs on when nothing is configured.

use super::gateway::GatewayConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// The names of Orama's own processes that the config has a section for, in start order.
pub const OWN_PROCESSES: &[&str] = &["gateway", "wasm-runner", "pubsub-bridge", "anon-proxy"];

/// The whole node configuration (`orama.yaml`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeConfig {
    /// Where data and sockets live (command-line flags override these).
    pub node: NodeSection,
    /// Logging of every process.
    pub log: LogConfig,
    /// How the supervisor treats its children.
    pub supervisor: SupervisorConfig,
    /// The public HTTP API process.
    pub gateway: GatewayConfig,
    /// The process running WebAssembly functions.
    pub wasm_runner: super::WasmRunnerConfig,
    /// The pub/sub bridge and the gateway's WebSocket side of it.
    pub pubsub: super::PubsubConfig,
    /// The anonymous egress process behind `/v1/proxy/anon`.
    pub anon: super::AnonConfig,
    /// External daemons the supervisor runs beside our processes.
    pub externals: Vec<ExternalConfig>,
    /// Which engines back the node's services.
    pub backends: BackendsConfig,
}

/// One of our own processes, as the config sets it up.
#[derive(Debug, Clone, Copy)]
pub struct OwnProcess<'a> {
    /// Its child name (`gateway`, `wasm-runner`, `pubsub-bridge`, `anon-proxy`).
    pub name: &'static str,
    /// Its binary's name.
    pub binary: &'static str,
    /// Its supervision settings.
    pub child: &'a ChildSettings,
    /// The program to run instead of `binary`, when set.
    pub command: Option<&'a std::path::Path>,
}

impl NodeConfig {
    /// Our own processes, in the order they are listed (enabled or not): the one place that
    /// knows which sections run as which children.
    pub fn own_processes(&self) -> [OwnProcess<'_>; 4] {
        [
            OwnProcess {
                name: "gateway",
                binary: "orama-gateway",
                child: &self.gateway.child,
                command: self.gateway.command.as_deref(),
            },
            OwnProcess {
                name: "wasm-runner",
                binary: "orama-wasm-runner",
                child: &self.wasm_runner.child,
                command: self.wasm_runner.command.as_deref(),
            },
            OwnProcess {
                name: "pubsub-bridge",
                binary: "orama-pubsub-bridge",
                child: &self.pubsub.child,
                command: self.pubsub.command.as_deref(),
            },
            OwnProcess {
                name: "anon-proxy",
                binary: "orama-anon-proxy",
                child: &self.anon.child,
                command: self.anon.command.as_deref(),
            },
        ]
    }
}

/// The `backends` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendsConfig {
    /// The SQL store: the system tables and every namespace's database.
    pub sql: SqlBackendConfig,
    /// The cache API's engine.
    pub cache: super::CacheBackendConfig,
    /// The storage API's engine.
    pub storage: super::StorageBackendConfig,
}

/// SQL engine and its limits.
#[derive(Debug, Clone, Serialize)]
pub struct SqlBackendConfig {
    /// `embedded`: a SQLite file in the gateway's data dir.
    pub engine: SqlEngine,
    /// Pooled connections.
    pub pool_size: usize,
    /// Most rows a query may return.
    pub max_rows: usize,
    /// Longest a statement may run.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
    /// RQLite node URLs (`rqlite` engine), tried in turn.
    pub urls: Vec<String>,
    /// RQLite read consistency: none, weak, strong or linearizable.
    pub consistency: String,
    /// Largest a namespace's database may grow (embedded engine), or the most its tables may
    /// take in the shared store (RQLite), in bytes.
    pub namespace_quota: u64,
    /// Most bytes one request's query results may hold in the gateway; also the largest
    /// string or blob a tenant's statement can make on the embedded engine.
    pub max_result: u64,
    /// Most memory the gateway's SQLite engine may use in all (its hard heap limit); on RQLite,
    /// the same limit asked of each rqlited node.
    pub max_memory: u64,
}

impl Default for SqlBackendConfig {
    fn default() -> Self {
        SqlBackendConfig {
            engine: SqlEngine::Embedded,
            pool_size: 4,
            max_rows: 10_000,
            query_timeout: Duration::from_secs(5),
            urls: Vec::new(),
            consistency: "weak".into(),
            namespace_quota: 1024 * 1024 * 1024,
            max_result: 16 * 1024 * 1024,
            max_memory: 64 * 1024 * 1024,
        }
    }
}

/// The SQL engines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqlEngine {
    /// SQLite in the data dir.
    #[default]
    Embedded,
    /// An RQLite cluster over its HTTP API.
    Rqlite,
}

/// The `node` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeSection {
    /// Data directory (default `~/.orama`, or `/var/lib/orama` as root under systemd).
    pub data_dir: Option<PathBuf>,
    /// Runtime directory for sockets (default `$XDG_RUNTIME_DIR/orama` or `<data_dir>/run`).
    pub runtime_dir: Option<PathBuf>,
}

/// Where logs go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald under systemd, JSON lines on stderr otherwise.
    #[default]
    Auto,
    /// JSON lines on stderr.
    Json,
    /// Human-readable lines on stderr.
    Text,
    /// The systemd journal.
    Journald,
}

/// The `log` section.
#[derive(Debug, Clone, Serialize)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `info,orama_gateway=debug`; `RUST_LOG` wins.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Auto }
    }
}

/// The `supervisor` section.
#[derive(Debug, Clone, Serialize)]
pub struct SupervisorConfig {
    /// Time a child gets between SIGTERM and SIGKILL.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// Time a child gets to become ready before it is restarted.
    #[serde(with = "humantime_serde")]
    pub startup_timeout: Duration,
    /// Restart delays.
    pub backoff: BackoffConfig,
    /// Quick failures in a row that put a child into the crash-loop state.
    pub crashloop_after: u32,
    /// Health probing of ready children.
    pub probe: ProbeConfig,
    /// Lines of output kept per child for `ctl logs`.
    pub log_lines: usize,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            grace_period: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(30),
            backoff: BackoffConfig::default(),
            crashloop_after: 5,
            probe: ProbeConfig::default(),
            log_lines: 1000,
        }
    }
}

/// Exponential restart backoff.
#[derive(Debug, Clone, Serialize)]
pub struct BackoffConfig {
    /// Delay after the second quick failure in a row (the first restarts at once).
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    /// The cap on the delay (crash-looping children are retried at this interval).
    #[serde(with = "humantime_serde")]
    pub max: Duration,
    /// A run at least this long after becoming ready counts as stable and resets the backoff.
    #[serde(with = "humantime_serde")]
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
        }
    }
}

/// Liveness and readiness probing.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeConfig {
    /// Time between probes of a ready child.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Bound on one probe.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Failed probes in a row after which a ready child is restarted.
    pub failure_threshold: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig { interval: Duration::from_secs(2), timeout: Duration::from_secs(2), failure_threshold: 3 }
    }
}

/// When a child that exited is started again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Whatever the exit.
    #[default]
    Always,
    /// Only after a non-zero exit, a signal or a failed probe.
    OnFailure,
    /// Never: a stopped child stays stopped until `ctl start`.
    Never,
}

/// Supervision settings shared by every child, ours or external.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChildSettings {
    /// False to not run this child at all.
    pub enabled: bool,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Children that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
}

/// One external daemon (`externals:` list).
#[derive(Debug, Clone, Serialize)]
pub struct ExternalConfig {
    /// Unique child name (`[a-z0-9-]`, not one of ours).
    pub name: String,
    /// Supervision settings.
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Program to run (a path, or a name looked up in `PATH`).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory (default: the child's own directory under the data dir).
    pub working_dir: Option<PathBuf>,
    /// How readiness and liveness are judged; without one, a running process is ready.
    pub health: Option<HealthProbe>,
}

/// How to tell that an external daemon is healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthProbe {
    /// An `http://` URL answering 2xx.
    Http(String),
    /// A TCP address accepting connections (`host:port`).
    Tcp(String),
    /// A Unix socket accepting connections.
    Unix(PathBuf),
    /// A command exiting 0 (program and arguments).
    Command(Vec<String>),
}

pub(super) mod humantime_serde {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }
}
