//! The Orama node supervisor: one per machine, it spawns the node's processes and external
//! daemons in dependency order, probes them, restarts them with backoff, stops them in reverse
//! order, and answers `orama-supervisor ctl` on its control socket.
//!
//! Map: [`spec`] (what to run) → [`plan`] (in which order) → [`children`] (the set) →
//! [`child`] (one actor per child, driving the pure [`state`] machine with [`process`],
//! [`probe`] and [`output`]) ; [`control`]/[`ctl`] (operator API, with [`ready`], [`stats`]
//! and [`node_info`]) ; [`notify`] (systemd).

pub mod apikey;
pub mod cache_member;
pub mod check;
pub mod child;
pub mod child_handle;
pub mod children;
pub mod cli;
pub mod cluster_ca;
pub mod cluster_keys;
pub mod control;
pub mod control_protocol;
pub mod ctl;
pub mod ctl_error;
pub mod ctl_journal;
pub mod ctl_status;
pub mod dev;
pub mod engines;
pub mod forward;
pub mod hand_over;
pub mod install;
pub mod ipfs_daemon;
pub mod listeners;
pub mod log_text;
pub mod node_info;
pub mod notify;
pub mod operator_key;
pub mod output;
pub mod peers;
pub mod plan;
pub mod probe;
pub mod process;
pub mod quoting;
pub mod ready;
pub mod redis_cli;
pub mod reexec;
pub mod reload;
pub mod running;
pub mod spec;
pub mod state;
pub mod stats;
pub mod text_table;
pub mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use crate::reexec::Inheritance;
use orama_ipc::IpcError;
use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;
use orama_service::health::Health;
use orama_service::paths::Dirs;
use orama_service::readiness::Readiness;
use orama_service::telemetry::LogLevel;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::children::Children;
use crate::control::{Control, ControlSettings};
use crate::forward::Sink;
use crate::notify::Notifier;
use crate::state::Phase;

/// Why the supervisor could not run.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The dependencies admit no start order.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The control socket could not be bound (e.g. another supervisor runs here).
    #[error("control socket: {0}")]
    Control(#[from] IpcError),
    /// The gateway's public sockets could not be bound.
    #[error("{0}")]
    Listen(String),
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Runs the node until `shutdown` is cancelled, then stops every child in reverse dependency
/// order and removes the control socket. `args` are passed on to our own processes;
/// `inherited` are the sockets systemd handed over, if any, and after a re-exec the previous
/// image's sockets and running children; `log_level` filters the supervisor's own logs (a
/// reload changes it).
pub async fn run(
    config: NodeConfig,
    dirs: Dirs,
    args: ProcessArgs,
    inherited: Inheritance,
    sink: Sink,
    log_level: LogLevel,
    shutdown: CancellationToken,
) -> Result<(), SupervisorError> {
    orama_ipc::socket::ensure_private_dir(&dirs.data_dir)
        .map_err(|err| SupervisorError::DataDir { path: dirs.data_dir.clone(), source: std::io::Error::other(err) })?;
    let Inheritance { sockets: mut inherited, children: adopted } = inherited;
    let gateway_sockets = listeners::hold(&config, &mut inherited).map_err(SupervisorError::Listen)?;
    let specs = spec::child_specs(&config, &dirs, &args, &gateway_sockets);
    let ready_timeout = ready::default_timeout(&config.supervisor);
    let reloader = Arc::new(reload::Reloader::new(
        config.clone(),
        args.clone(),
        dirs.clone(),
        gateway_sockets.clone(),
        ready_timeout,
        log_level,
    ));
    let socket = dirs.socket("supervisor");
    let listener = orama_ipc::bind(&socket)?;
    let children = Children::launch(specs, &config.supervisor, &sink, adopted)?;
    tracing::info!(
        data_dir = %dirs.data_dir.display(),
        runtime_dir = %dirs.runtime_dir.display(),
        children = %children.all().iter().map(|c| c.name()).collect::<Vec<_>>().join(","),
        "supervisor starting"
    );

    let readiness = Readiness::new();
    let health = Health::new("supervisor", readiness.clone());
    let settings = ControlSettings {
        settle_timeout: config.supervisor.grace_period + Duration::from_secs(5),
        ready_timeout: ready::default_timeout(&config.supervisor),
        gateway_url: node_info::gateway_url(&config.gateway),
        journal: sink.journal_socket(),
        image_started_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let control = Arc::new(Control::new(children.clone(), health, settings, reloader.clone()));
    tokio::spawn(reload_on_sighup(reloader, children.clone(), shutdown.clone()));
    let server_stop = CancellationToken::new();
    let server = tokio::spawn(orama_ipc::serve(listener, control, server_stop.clone()));

    let notifier = Arc::new(Notifier::from_env());
    if let Some(period) = Notifier::watchdog_interval() {
        tokio::spawn(notify::watchdog(notifier.clone(), period, shutdown.clone()));
    }
    let reporter = tokio::spawn(report_status(children.clone(), notifier.clone(), readiness));

    tokio::select! {
        _ = children.start_all() => {}
        _ = shutdown.cancelled() => {}
    }
    shutdown.cancelled().await;

    tracing::info!("stopping children");
    notifier.notify("STOPPING=1\nSTATUS=stopping children");
    reporter.abort();
    children.stop_all().await;
    server_stop.cancel();
    let _ = server.await;
    orama_ipc::socket::remove_socket(&socket);
    tracing::info!("supervisor stopped");
    Ok(())
}

/// Reloads the config on each SIGHUP (as `ctl reload` does), until `shutdown`.
async fn reload_on_sighup(reloader: Arc<reload::Reloader>, children: Children, shutdown: CancellationToken) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(err) => return tracing::warn!(error = %err, "cannot listen for SIGHUP: reload with `ctl reload`"),
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(()) = hangups.recv() => match reloader.reload(&children).await {
                Ok(report) => tracing::info!(
                    restarted = %report.restarted.join(","),
                    applied_live = %report.applied_live.join(","),
                    "config reloaded (SIGHUP)"
                ),
                Err(problems) => tracing::warn!(%problems, "config not reloaded (SIGHUP)"),
            },
        }
    }
}

/// Keeps systemd's STATUS= line current and sends READY=1 (and releases our own readiness)
/// the first time every child is ready.
async fn report_status(children: Children, notifier: Arc<Notifier>, readiness: Readiness) {
    let mut pending = Some(readiness.pending("children starting"));
    let (changed_tx, mut changed) = mpsc::channel::<()>(1);
    for child in children.all() {
        let mut rx = child.watch();
        let tx = changed_tx.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let _ = tx.try_send(());
            }
        });
    }
    drop(changed_tx);
    let mut last = String::new();
    loop {
        let statuses = children.statuses();
        let ready = statuses.iter().filter(|s| s.state == Phase::Ready).count();
        let mut line = format!("{ready}/{} children ready", statuses.len());
        for s in statuses.iter().filter(|s| s.state != Phase::Ready) {
            line.push_str(&format!("; {}: {}", s.name, control_protocol::phase_name(s.state)));
        }
        if ready == statuses.len()
            && let Some(pending) = pending.take()
        {
            pending.ready();
            notifier.notify("READY=1");
            tracing::info!("all children ready");
        }
        if line != last {
            notifier.notify(&format!("STATUS={line}"));
            last = line;
        }
        if changed.recv().await.is_none() {
            return;
        }
    }
}
