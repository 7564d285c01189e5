//! The whole document: [`NodeConfig`] and how it is assembled from the sections, each read by
//! its own module, plus the checks that span sections (unique child names, dependencies that
//! exist). This module only points down: no section imports from it.

use std::collections::BTreeSet;

use serde::Serialize;

use super::anon::{AnonConfig, anon_section};
use super::cache::{CacheBackendConfig, cache_section};
use super::child::{ChildSettings, OWN_PROCESSES};
use super::externals::{ExternalConfig, external_entry};
use super::gateway::{GatewayConfig, gateway_section};
use super::node::{LogConfig, NodeSection, log_section, node_section};
use super::pubsub::{PubsubConfig, pubsub_section};
use super::read::{Field, Problems, Table};
use super::sql::{SqlBackendConfig, sql_section};
use super::storage::{StorageBackendConfig, storage_section};
use super::supervisor::{SupervisorConfig, supervisor_section};
use super::wasm::{WasmRunnerConfig, wasm_runner_section};
use super::yaml::Node;

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
    pub wasm_runner: WasmRunnerConfig,
    /// The pub/sub bridge and the gateway's WebSocket side of it.
    pub pubsub: PubsubConfig,
    /// The anonymous egress process behind `/v1/proxy/anon`.
    pub anon: AnonConfig,
    /// External daemons the supervisor runs beside our processes.
    pub externals: Vec<ExternalConfig>,
    /// Which engines back the node's services.
    pub backends: BackendsConfig,
}

/// The `backends` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendsConfig {
    /// The SQL store: the system tables and every namespace's database.
    pub sql: SqlBackendConfig,
    /// The cache API's engine.
    pub cache: CacheBackendConfig,
    /// The storage API's engine.
    pub storage: StorageBackendConfig,
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

/// Reads the whole document, defaults for whatever is absent; problems end up sorted by line.
pub(super) fn read_node_config(tree: &Node, p: &mut Problems) -> NodeConfig {
    let mut root = Table::open(tree, "", p);
    let mut config = NodeConfig::default();
    if let Some(f) = root.take("node") {
        config.node = node_section(&f, p);
    }
    if let Some(f) = root.take("log") {
        config.log = log_section(&f, p);
    }
    if let Some(f) = root.take("supervisor") {
        config.supervisor = supervisor_section(&f, p);
    }
    if let Some(f) = root.take("gateway") {
        config.gateway = gateway_section(&f, p);
    }
    if let Some(f) = root.take("wasm_runner") {
        config.wasm_runner = wasm_runner_section(&f, p);
    }
    if let Some(f) = root.take("pubsub") {
        config.pubsub = pubsub_section(&f, p);
    }
    if let Some(f) = root.take("anon") {
        config.anon = anon_section(&f, p);
    }
    if let Some(f) = root.take("backends") {
        config.backends = backends_section(&f, p);
    }
    let mut externals = Vec::new();
    if let Some(f) = root.take("externals") {
        externals = f
            .items(p)
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((i, item.node.line, external_entry(item, p)?)))
            .collect();
    }
    root.finish(p);
    let ours = [
        ("gateway", &config.gateway.child),
        ("wasm_runner", &config.wasm_runner.child),
        ("pubsub", &config.pubsub.child),
        ("anon", &config.anon.child),
    ];
    check_children(&ours, &externals, p);
    config.externals = externals.into_iter().map(|(_, _, e)| e).collect();
    p.0.sort_by_key(|problem| if problem.line == 0 { u64::MAX } else { problem.line });
    config
}

fn backends_section(f: &Field, p: &mut Problems) -> BackendsConfig {
    let mut t = f.table(p);
    let mut backends = BackendsConfig::default();
    if let Some(f) = t.take("cache") {
        backends.cache = cache_section(&f, p);
    }
    if let Some(f) = t.take("storage") {
        backends.storage = storage_section(&f, p);
    }
    if let Some(f) = t.take("sql") {
        sql_section(&f, &mut backends.sql, p);
    }
    t.finish(p);
    backends
}

/// The child name of one of our sections (`wasm_runner` runs as `wasm-runner`, `pubsub` as
/// `pubsub-bridge`, `anon` as `anon-proxy`).
fn own_child_name(section: &str) -> &'static str {
    match section {
        "wasm_runner" => "wasm-runner",
        "pubsub" => "pubsub-bridge",
        "anon" => "anon-proxy",
        _ => "gateway",
    }
}

/// Cross-field checks: unique names and dependencies that exist. `externals` carry their
/// index and line in the file, so problems point at the right entry.
fn check_children(ours: &[(&str, &ChildSettings)], externals: &[(usize, u64, ExternalConfig)], p: &mut Problems) {
    let mut names: BTreeSet<&str> = OWN_PROCESSES.iter().copied().collect();
    for (i, line, ext) in externals {
        if !names.insert(&ext.name) {
            p.add(&format!("externals[{i}].name"), *line, format!("duplicate child name {:?}", ext.name));
        }
    }
    let ours = ours.iter().map(|(section, child)| ((*section).to_owned(), 0, own_child_name(section), *child));
    let theirs = externals.iter().map(|(i, line, e)| (format!("externals[{i}]"), *line, e.name.as_str(), &e.child));
    for (path, line, name, child) in ours.chain(theirs) {
        for dep in &child.depends_on {
            if dep == name {
                p.add(&format!("{path}.depends_on"), line, "a child cannot depend on itself");
            } else if !names.contains(dep.as_str()) {
                p.add(&format!("{path}.depends_on"), line, format!("unknown child {dep:?}"));
            }
        }
    }
}
