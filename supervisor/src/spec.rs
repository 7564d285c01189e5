//! What the supervisor runs: each child of the config turned into a [`ChildSpec`] with its
//! program, arguments, environment, probe and dependencies, all resolved up front.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use orama_service::args::ProcessArgs;
use orama_service::config::{ChildSettings, HealthProbe, NodeConfig};
use orama_service::paths::Dirs;

use crate::listeners::HeldSocket;
use crate::state::Policy;

/// How the supervisor judges a child's readiness and liveness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// One of our processes: `GET /ready` then `GET /health` on its internal socket.
    Internal(PathBuf),
    /// An external daemon's configured probe.
    External(HealthProbe),
    /// No probe: a running process counts as ready and alive.
    Running,
}

/// Everything needed to run one child.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Unique name (`gateway`, or the external's name).
    pub name: String,
    /// Program to execute.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Environment added to the supervisor's own (minus systemd's variables).
    pub env: BTreeMap<String, String>,
    /// Working directory (created if missing).
    pub working_dir: PathBuf,
    /// Children that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// Readiness and liveness.
    pub probe: Probe,
    /// Socket file this child serves, removed after it exits.
    pub socket: Option<PathBuf>,
    /// Lifecycle rules.
    pub policy: Policy,
    /// One of our own processes (built with the supervisor), not an external daemon.
    pub own: bool,
    /// Signal sent to the child if the supervisor dies: SIGTERM for our processes (they clean
    /// up their sockets and exit under a deadline), SIGKILL for externals.
    pub death_signal: rustix::process::Signal,
    /// Listening sockets the supervisor holds and hands to the child as descriptors 3, 4, …
    /// (the gateway's public ones; none for the others).
    pub listeners: Arc<[HeldSocket]>,
    /// The Unix sockets a successor binds beside the child's and takes over once ready (the
    /// gateway's internal and host-call sockets); empty for a child restarted the plain way.
    pub handover_sockets: Vec<PathBuf>,
}

/// Builds the specs of every enabled child, ours first, in config order; the gateway is
/// handed `gateway_sockets`.
pub fn child_specs(
    config: &NodeConfig,
    dirs: &Dirs,
    args: &ProcessArgs,
    gateway_sockets: &Arc<[HeldSocket]>,
) -> Vec<ChildSpec> {
    let mut specs = Vec::new();
    for own in config.own_processes().into_iter().filter(|p| p.child.enabled) {
        let program = own.command.map_or_else(|| own_binary(own.binary), |c| c.as_os_str().to_owned());
        let mut spec = own_process(own.name, program, own.child, config, dirs, args);
        if own.name == "gateway" {
            spec.listeners = gateway_sockets.clone();
            spec.handover_sockets =
                // The internal socket last: a rename that fails leaves it with the running one.
                vec![orama_ipc::socket::host_calls_socket(&dirs.runtime_dir), dirs.socket(own.name)];
        }
        specs.push(spec);
    }
    for ext in config.externals.iter().filter(|e| e.child.enabled) {
        specs.push(ChildSpec {
            name: ext.name.clone(),
            program: ext.command.clone().into(),
            args: ext.args.iter().map(OsString::from).collect(),
            env: ext.child.env.clone(),
            working_dir: ext.working_dir.clone().unwrap_or_else(|| dirs.process_data(&ext.name)),
            depends_on: ext.child.depends_on.clone(),
            probe: ext.health.clone().map_or(Probe::Running, Probe::External),
            socket: None,
            policy: policy(&ext.child, config),
            own: false,
            death_signal: rustix::process::Signal::KILL,
            listeners: Arc::new([]),
            handover_sockets: Vec::new(),
        });
    }
    specs
}

fn own_process(
    name: &str,
    program: OsString,
    child: &ChildSettings,
    config: &NodeConfig,
    dirs: &Dirs,
    args: &ProcessArgs,
) -> ChildSpec {
    let resolved = ProcessArgs {
        config: args.absolute().config,
        data_dir: Some(dirs.data_dir.clone()),
        runtime_dir: Some(dirs.runtime_dir.clone()),
    };
    let socket = dirs.socket(name);
    ChildSpec {
        name: name.to_owned(),
        program,
        args: resolved.to_argv(),
        env: child.env.clone(),
        working_dir: dirs.process_data(name),
        depends_on: child.depends_on.clone(),
        probe: Probe::Internal(socket.clone()),
        socket: Some(socket),
        policy: policy(child, config),
        own: true,
        death_signal: rustix::process::Signal::TERM,
        listeners: Arc::new([]),
        handover_sockets: Vec::new(),
    }
}

fn policy(child: &ChildSettings, config: &NodeConfig) -> Policy {
    Policy {
        restart: child.restart,
        backoff: config.supervisor.backoff.clone(),
        crashloop_after: config.supervisor.crashloop_after,
        failure_threshold: config.supervisor.probe.failure_threshold,
    }
}

/// Our binary `name`: beside the supervisor's own executable when it is there (an install or
/// a cargo target dir), else looked up in `PATH`.
fn own_binary(name: &str) -> OsString {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|candidate| candidate.is_file())
        .map_or_else(|| name.into(), PathBuf::into_os_string)
}
