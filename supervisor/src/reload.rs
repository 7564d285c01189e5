//! `ctl reload` (also SIGHUP, and the unit's `ExecReload`): the config file read and checked
//! again; on any problem nothing changes and the problems are the answer. Otherwise each child
//! whose effective settings changed is restarted with them, in start order and each once
//! ready before the next: the gateway the zero-downtime way ([`crate::hand_over`]), and no
//! other child is touched. What a process can change while it runs ([`LIVE`]: the log level,
//! the gateway's rate limits) is no reason to restart it: a ready child whose only change is
//! there gets a SIGHUP and reads the file again ([`orama_service::live`]); the supervisor
//! sets its own log level.
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
use orama_service::telemetry::LogLevel;
use rustix::process::Signal;
use serde_json::Value;

use crate::child::ChildHandle;
use crate::children::Children;
use crate::control_protocol::ReloadReport;
use crate::listeners::HeldSocket;
use crate::spec::{ChildSpec, child_specs};
use crate::state::Phase;

/// What a reload needs to know of the running node.
pub struct Reloader {
    args: ProcessArgs,
    dirs: Dirs,
    gateway_sockets: Arc<[HeldSocket]>,
    current: Mutex<NodeConfig>,
    ready_timeout: Duration,
    log_level: LogLevel,
}

/// What a reload asks of one child.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    None,
    Live,
    Restart,
}

impl Reloader {
    /// A reloader of the node started with `config` from `args`, whose own logs `log_level`
    /// filters.
    pub fn new(
        config: NodeConfig,
        args: ProcessArgs,
        dirs: Dirs,
        gateway_sockets: Arc<[HeldSocket]>,
        ready_timeout: Duration,
        log_level: LogLevel,
    ) -> Reloader {
        let current = Mutex::new(config);
        Reloader { args: args.absolute(), dirs, gateway_sockets, current, ready_timeout, log_level }
    }

    /// Reads the config again, restarts the children it changes and has the others apply what
    /// changes live; what was done, or every problem found, with nothing changed.
    pub async fn reload(&self, children: &Children) -> Result<ReloadReport, String> {
        let path = self.args.config.clone().ok_or("the node runs without a config file: nothing to reload")?;
        let new = NodeConfig::load_or_default(Some(&path)).map_err(|e| e.to_string())?;
        let old = self.current.lock().map_err(|_| "the reloader's state is poisoned")?.clone();
        let (old_specs, new_specs) = (self.specs(&old), self.specs(&new));
        needs_no_supervisor_restart(&old, &new, &old_specs, &new_specs, &path)?;
        let mut report = ReloadReport::default();
        if old.log.level != new.log.level {
            self.log_level.set(&new.log.level)?;
            report.applied_live.push("supervisor".to_owned());
        }
        // A child that fails to restart ends the reload with `current` unchanged: the next
        // reload finds every change again (restarting an already restarted child once more).
        for child in children.all() {
            let Some(spec) = new_specs.iter().find(|s| s.name == child.name()) else { continue };
            let before = old_specs.iter().find(|o| o.name == spec.name);
            match before.map_or(Change::Restart, |before| change(&old, before, &new, spec)) {
                Change::None => {}
                Change::Live if told_to_reread(child) => report.applied_live.push(spec.name.clone()),
                Change::Live | Change::Restart => {
                    self.restart(child, spec).await?;
                    report.restarted.push(spec.name.clone());
                }
            }
        }
        if let Ok(mut current) = self.current.lock() {
            *current = new;
        }
        Ok(report)
    }

    async fn restart(&self, child: &ChildHandle, spec: &ChildSpec) -> Result<(), String> {
        let old_pid = child.status().pid;
        child.restart_with(spec.clone()).await.map_err(|rolled_back| {
            format!("{rolled_back}. The config was read, but {} runs with its former settings", spec.name)
        })?;
        crate::ready::until_ready(child, old_pid, self.ready_timeout)
            .await
            .map_err(|e| format!("{} was restarted with the new settings but: {e}", spec.name))?;
        Ok(())
    }

    /// Restarts each of our children on its binary as it now is on disk ([`crate::upgrade`]),
    /// with the settings last read; the names of those restarted, or where it stopped.
    pub async fn upgrade(&self, children: &Children) -> Result<Vec<String>, String> {
        let current = self.current.lock().map_err(|_| "the reloader's state is poisoned")?.clone();
        let keep_dir = self.dirs.runtime_dir.join("upgrade");
        crate::upgrade::children(children, &self.specs(&current), self.ready_timeout, &keep_dir).await
    }

    /// Re-executes the supervisor from `path` with `children` running on ([`crate::reexec`]);
    /// returns only when that failed, why.
    pub fn reexec(&self, path: &std::path::Path, children: &Children) -> String {
        crate::reexec::exec(path, children, &self.gateway_sockets)
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

/// A ready child told to read its config again (SIGHUP); false when it could not be.
fn told_to_reread(child: &ChildHandle) -> bool {
    let status = child.status();
    status.state == Phase::Ready && status.pid.is_some_and(|pid| crate::process::signal_process(pid, Signal::HUP))
}

/// What the change from `old` to `new` asks of `spec`'s child.
fn change(old: &NodeConfig, old_spec: &ChildSpec, new: &NodeConfig, spec: &ChildSpec) -> Change {
    if fingerprint(old, old_spec) != fingerprint(new, spec) {
        Change::Restart
    } else if live_settings(old, old_spec) != live_settings(new, spec) {
        Change::Live
    } else {
        Change::None
    }
}

/// The settings each of our processes applies while it runs, by section: they are left out
/// of [`fingerprint`] and compared by [`live_settings`].
const LIVE: &[(&str, &str)] = &[("log", "level"), ("gateway", "rate_limits")];

/// The values of `spec`'s child's [`LIVE`] settings under `config`.
fn live_settings(config: &NodeConfig, spec: &ChildSpec) -> Vec<Value> {
    LIVE.iter()
        .filter(|(name, _)| spec.own && (*name == "log" || reads(spec, name)))
        .map(|(name, key)| section(config, name).get(key).cloned().unwrap_or(Value::Null))
        .collect()
}

/// The sections of the config `spec`'s child reads.
fn sections_read(spec: &ChildSpec) -> &'static [&'static str] {
    match (spec.own, spec.name.as_str()) {
        (true, "wasm-runner") => &["node", "log", "wasm_runner"],
        (true, "pubsub-bridge") => &["node", "log", "pubsub"],
        (true, "anon-proxy") => &["node", "log", "anon"],
        (true, _) => &["node", "log", "gateway", "backends", "wasm_runner", "pubsub", "anon"],
        (false, _) => &[],
    }
}

/// Whether `spec`'s child reads section `name`.
fn reads(spec: &ChildSpec, name: &str) -> bool {
    sections_read(spec).contains(&name)
}

/// What decides whether `spec`'s child must restart under `config`: its spec and the sections
/// it reads, but for the [`LIVE`] settings.
fn fingerprint(config: &NodeConfig, spec: &ChildSpec) -> String {
    let read: Vec<Value> = sections_read(spec)
        .iter()
        .map(|name| {
            let live: Vec<&str> = LIVE.iter().filter(|(section, _)| section == name).map(|(_, key)| *key).collect();
            let value = without(section(config, name), &live);
            match (spec.name.as_str(), *name) {
                ("gateway", "wasm_runner") => without(value, RUNNER_ONLY),
                _ => value,
            }
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
