//! `ctl reload` (also SIGHUP, and the unit's `ExecReload`): the config file read and checked
//! again; on any problem nothing changes and the problems are the answer. Otherwise each child
//! whose effective settings changed is restarted with them, in start order and each once
//! ready before the next: the gateway the zero-downtime way ([`crate::hand_over`]), and no
//! other child is touched.
//!
//! A child's effective settings are its spec (program, arguments, environment, probe,
//! restart policy) and, for our own processes, the sections of the config they read (each
//! reads the file itself when it starts): the WASM runner `wasm_runner`, the bridge `pubsub`,
//! the anon proxy `anon`, the gateway all but `supervisor`, `externals` and the runner's own
//! keys of `wasm_runner` (its pool and queue, its user and command: the gateway reads the
//! functions' bounds there); every one `node` and `log`. (A change to `pubsub` or `anon`
//! restarts the gateway too, which reads some of each: without a dropped connection.) What the held sockets, the directories or the set of children depend on (the
//! listen addresses, `node` directories, children added or removed, dependencies) takes a
//! supervisor restart, and a reload asking for it says so and changes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;
use orama_service::paths::Dirs;
use serde_json::Value;

use crate::children::Children;
use crate::listeners::HeldSocket;
use crate::spec::{ChildSpec, child_specs};

/// What a reload needs to know of the running node.
pub struct Reloader {
    args: ProcessArgs,
    dirs: Dirs,
    gateway_sockets: Arc<[HeldSocket]>,
    current: Mutex<NodeConfig>,
    ready_timeout: Duration,
}

impl Reloader {
    /// A reloader of the node started with `config` from `args`.
    pub fn new(
        config: NodeConfig,
        args: ProcessArgs,
        dirs: Dirs,
        gateway_sockets: Arc<[HeldSocket]>,
        ready_timeout: Duration,
    ) -> Reloader {
        Reloader { args: args.absolute(), dirs, gateway_sockets, current: Mutex::new(config), ready_timeout }
    }

    /// Reads the config again and restarts the children it changes; their names (none when
    /// nothing changed), or every problem found, with nothing changed.
    pub async fn reload(&self, children: &Children) -> Result<Vec<String>, String> {
        let path = self.args.config.clone().ok_or("the node runs without a config file: nothing to reload")?;
        let new = NodeConfig::load_or_default(Some(&path)).map_err(|e| e.to_string())?;
        let old = self.current.lock().map_err(|_| "the reloader's state is poisoned")?.clone();
        let (old_specs, new_specs) = (self.specs(&old), self.specs(&new));
        needs_no_supervisor_restart(&old, &new, &old_specs, &new_specs, &path)?;
        let changed: Vec<&ChildSpec> = new_specs
            .iter()
            .filter(|spec| {
                let before = old_specs.iter().find(|o| o.name == spec.name);
                before.is_none_or(|before| fingerprint(&old, before) != fingerprint(&new, spec))
            })
            .collect();
        let mut restarted = Vec::new();
        for child in children.all() {
            let Some(spec) = changed.iter().find(|s| s.name == child.name()) else { continue };
            let old_pid = child.status().pid;
            child.restart_with((*spec).clone()).await.map_err(|rolled_back| {
                format!("{rolled_back}. The config was read, but {} runs with its former settings", spec.name)
            })?;
            crate::ready::until_ready(child, old_pid, self.ready_timeout)
                .await
                .map_err(|e| format!("{} was restarted with the new settings but: {e}", spec.name))?;
            restarted.push(spec.name.clone());
        }
        if let Ok(mut current) = self.current.lock() {
            *current = new;
        }
        Ok(restarted)
    }

    fn specs(&self, config: &NodeConfig) -> Vec<ChildSpec> {
        child_specs(config, &self.dirs, &self.args, &self.gateway_sockets)
    }
}

/// Refuses a change only a supervisor restart can apply, naming it.
fn needs_no_supervisor_restart(
    old: &NodeConfig,
    new: &NodeConfig,
    old_specs: &[ChildSpec],
    new_specs: &[ChildSpec],
    path: &std::path::Path,
) -> Result<(), String> {
    let mut why = Vec::new();
    if old.gateway.listen != new.gateway.listen || old.gateway.tls.http_listen != new.gateway.tls.http_listen {
        why.push("the gateway's listen addresses (the supervisor holds those sockets)".to_owned());
    }
    if section(old, "node") != section(new, "node") {
        why.push("the node section (directories, the cluster secret's file)".to_owned());
    }
    let names = |specs: &[ChildSpec]| specs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    if names(old_specs) != names(new_specs) {
        why.push(format!(
            "the children ({} now, {} in the file)",
            names(old_specs).join(", "),
            names(new_specs).join(", ")
        ));
    }
    for spec in new_specs {
        let before = old_specs.iter().find(|o| o.name == spec.name);
        if before.is_some_and(|before| before.depends_on != spec.depends_on) {
            why.push(format!("{}'s dependencies", spec.name));
        }
    }
    if why.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: changes only a supervisor restart applies: {}. Nothing was changed",
        path.display(),
        why.join("; ")
    ))
}

/// What decides whether `spec`'s child must restart under `config`.
fn fingerprint(config: &NodeConfig, spec: &ChildSpec) -> String {
    let sections: &[&str] = match (spec.own, spec.name.as_str()) {
        (true, "wasm-runner") => &["node", "log", "wasm_runner"],
        (true, "pubsub-bridge") => &["node", "log", "pubsub"],
        (true, "anon-proxy") => &["node", "log", "anon"],
        (true, _) => &["node", "log", "gateway", "backends", "wasm_runner", "pubsub", "anon"],
        (false, _) => &[],
    };
    let read: Vec<Value> = sections
        .iter()
        .map(|name| match (spec.name.as_str(), *name) {
            ("gateway", "wasm_runner") => without(section(config, name), RUNNER_ONLY),
            _ => section(config, name),
        })
        .collect();
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        spec.program,
        spec.args,
        spec.env,
        spec.working_dir,
        spec.probe,
        spec.policy,
        Value::Array(read)
    )
}

/// The keys of `wasm_runner` only the runner reads.
const RUNNER_ONLY: &[&str] = &["command", "user", "instances", "queue", "queue_timeout", "namespace_share", "env"];

/// `value` (an object) without `keys`.
fn without(mut value: Value, keys: &[&str]) -> Value {
    if let Some(object) = value.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    value
}

/// One top-level section of `config`, as data.
fn section(config: &NodeConfig, name: &str) -> Value {
    serde_json::to_value(config).ok().and_then(|all| all.get(name).cloned()).unwrap_or(Value::Null)
}
