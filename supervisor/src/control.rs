//! The control API's server on `<runtime_dir>/supervisor.sock`, used by `orama-supervisor ctl`.
//! Its routes and replies are in [`crate::control_protocol`], which the client shares.
//!
//! - `GET  /v1/children`                          status of every child, and the node's
//! - `POST /v1/children/{name}/{start|stop|restart}`  acts, then answers the child's status
//!   (start and restart with `?wait=ready`: once the child is ready, see [`crate::ready`])
//! - `GET  /v1/children/{name}/logs?lines=N&follow=1` recent output, then new lines as they come
//! - `POST /v1/reload`                            the config read again ([`crate::reload`]):
//!   `{"restarted": [names]}`, or 422 with every problem and nothing changed
//! - `GET  /health`, `GET /ready`                 as every process

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use orama_ipc::body::{BoxError, with_content_type};
use orama_ipc::{Body, Handler, error_response, json_response};
use orama_service::health::Health;
use tokio::sync::broadcast::error::RecvError;

use crate::child::{ChildHandle, ChildStatus};
use crate::children::Children;
use crate::control_protocol::{
    ChildAction, ChildReport, StatusReport, UpgradeReport, Wait, parse_log_query, phase_name,
};
use crate::node_info::{self, BRIDGE, GATEWAY, Identity};
use crate::ready::{self, NotReady};
use crate::reload::Reloader;
use crate::state::{Event, Phase};
use crate::stats::Stats;

/// How the control API waits, and what it tells of the node.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// How long stop, and start or restart without `wait=ready`, wait for the child to settle.
    pub settle_timeout: Duration,
    /// How long start and restart with `wait=ready` wait when the request names no time.
    pub ready_timeout: Duration,
    /// The gateway's URL, shown on its entry.
    pub gateway_url: String,
    /// The journal socket the children's lines go to, when they go to journald (`ctl logs`
    /// then reads the journal, which keeps more than the buffer and across restarts).
    pub journal: Option<String>,
    /// When this supervisor image started (unix milliseconds).
    pub image_started_ms: u64,
}

/// Serves the control API.
pub struct Control {
    children: Children,
    health: Health,
    stats: Stats,
    settings: ControlSettings,
    reloader: Arc<Reloader>,
}

impl Control {
    /// The API over `children`, with the supervisor's own `health`; reloads through `reloader`.
    pub fn new(children: Children, health: Health, settings: ControlSettings, reloader: Arc<Reloader>) -> Control {
        Control { children, health, stats: Stats::default(), settings, reloader }
    }

    async fn reload(&self) -> Response<Body> {
        match self.reloader.reload(&self.children).await {
            Ok(report) => {
                tracing::info!(
                    restarted = %report.restarted.join(","),
                    applied_live = %report.applied_live.join(","),
                    "config reloaded"
                );
                json_response(StatusCode::OK, &report)
            }
            Err(problems) => {
                tracing::warn!(%problems, "config not reloaded");
                error_response(StatusCode::UNPROCESSABLE_ENTITY, &problems)
            }
        }
    }

    /// Upgrades the children, then (once this answer is on its way) the supervisor itself.
    async fn upgrade(&self) -> Response<Body> {
        let upgraded = match self.reloader.upgrade(&self.children).await {
            Ok(upgraded) => upgraded,
            Err(problem) => {
                tracing::warn!(%problem, "upgrade stopped");
                return error_response(StatusCode::SERVICE_UNAVAILABLE, &problem);
            }
        };
        tracing::info!(upgraded = %upgraded.join(","), "children upgraded");
        let path = match crate::reexec::check_new_binary().await {
            Ok(path) => path,
            Err(problem) => {
                let message = format!("{} were upgraded, but the supervisor was not: {problem}", upgraded.join(", "));
                return error_response(StatusCode::SERVICE_UNAVAILABLE, &message);
            }
        };
        let pids = self.children.statuses().into_iter().filter_map(|s| Some((s.name, s.pid?))).collect();
        let (reloader, children) = (self.reloader.clone(), self.children.clone());
        let drain_time = self.settings.settle_timeout;
        tokio::spawn(async move {
            // Time for this answer to reach `ctl` before the image is replaced, and for the
            // replaced gateway to drain and be reaped by this image (the next would not).
            tokio::time::sleep(Duration::from_millis(200)).await;
            if !crate::hand_over::until_drained(drain_time).await {
                tracing::warn!("a replaced process outlived its drain; re-executing anyway");
            }
            let problem = reloader.reexec(&path, &children);
            tracing::error!(%problem, "the supervisor was not re-executed; it keeps running as it was");
        });
        json_response(
            StatusCode::OK,
            &UpgradeReport { upgraded, pids, image_started_ms: self.settings.image_started_ms },
        )
    }

    async fn report(&self, handles: &[&ChildHandle]) -> Vec<ChildReport> {
        let statuses: Vec<ChildStatus> = handles.iter().map(|c| c.status()).collect();
        let pids: Vec<u32> = statuses.iter().map(|s| s.pid.unwrap_or(0)).collect();
        let (usage, identity) = tokio::join!(self.stats.sample(&pids), self.identity(handles));
        handles
            .iter()
            .zip(statuses)
            .zip(usage)
            .map(|((handle, s), u)| {
                let own = handle.spec.own;
                let identity = identity.as_ref().filter(|_| own && s.name == BRIDGE);
                ChildReport {
                    state: phase_name(s.state).to_owned(),
                    pid: s.pid,
                    restarts: s.restarts,
                    uptime_secs: s.started_at.map(|t| t.elapsed().as_secs_f64()),
                    last_exit: s.last_exit,
                    cpu_percent: u.filter(|_| s.pid.is_some()).map(|u| u.cpu_percent),
                    rss_bytes: u.filter(|_| s.pid.is_some()).map(|u| u.rss_bytes),
                    version: own.then(|| node_info::VERSION.to_owned()),
                    url: (own && s.name == GATEWAY).then(|| self.settings.gateway_url.clone()),
                    peer_id: identity.map(|i| i.peer_id.clone()),
                    listen_addrs: identity.map(|i| i.listen_addrs.clone()),
                    name: s.name,
                }
            })
            .collect()
    }

    /// The node's libp2p identity, if the bridge is among `handles` and running.
    async fn identity(&self, handles: &[&ChildHandle]) -> Option<Identity> {
        let bridge = handles.iter().find(|c| c.spec.own && c.name() == BRIDGE)?;
        bridge.status().pid?;
        node_info::ask_bridge(bridge.spec.socket.as_deref()?).await
    }

    /// The 404 for a name that is no child, listing the children there are.
    fn unknown(&self, name: &str) -> Response<Body> {
        let names: Vec<&str> = self.children.all().iter().map(ChildHandle::name).collect();
        error_response(StatusCode::NOT_FOUND, &format!("unknown child {name:?} (children: {})", names.join(", ")))
    }

    async fn act(&self, name: &str, verb: &str, query: Option<&str>) -> Response<Body> {
        let Some(child) = self.children.get(name) else { return self.unknown(name) };
        let Some(action) = ChildAction::parse(verb) else {
            return error_response(StatusCode::NOT_FOUND, &format!("unknown action {verb:?}"));
        };
        let old_pid = child.status().pid;
        let outcome = match (action, Wait::parse(query.unwrap_or(""))) {
            (ChildAction::Stop, _) => {
                let _ = child.send(Event::Stop).await;
                self.settle(name, child.wait_until(|s| s.state == Phase::Stopped)).await;
                Ok(())
            }
            (ChildAction::Start, Wait::Settled) => {
                self.children.start_after_dependencies(child).await;
                Ok(())
            }
            (ChildAction::Restart, Wait::Settled) => {
                if let Err(rolled_back) = child.send(Event::Restart).await {
                    return error_response(StatusCode::SERVICE_UNAVAILABLE, &rolled_back);
                }
                let respawned = move |s: &ChildStatus| s.pid.is_some() && s.pid != old_pid || !s.state.is_running();
                self.settle(name, child.wait_until(respawned)).await;
                Ok(())
            }
            (ChildAction::Start, Wait::Ready(timeout)) => {
                self.start_ready(child, timeout.unwrap_or(self.settings.ready_timeout)).await
            }
            (ChildAction::Restart, Wait::Ready(timeout)) => {
                if let Err(rolled_back) = child.send(Event::Restart).await {
                    return error_response(StatusCode::SERVICE_UNAVAILABLE, &rolled_back);
                }
                ready::until_ready(child, old_pid, timeout.unwrap_or(self.settings.ready_timeout)).await.map(drop)
            }
        };
        match outcome {
            Ok(()) => self.reply(child).await,
            Err(not_ready) => {
                tracing::warn!(child = %name, error = %not_ready, "child not ready after {}", action.as_str());
                let status =
                    if not_ready.is_failure() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::GATEWAY_TIMEOUT };
                error_response(status, &not_ready.to_string())
            }
        }
    }

    /// Starts `child` once its dependencies are ready and waits for it to be ready, all within
    /// `timeout`.
    async fn start_ready(&self, child: &ChildHandle, timeout: Duration) -> Result<(), NotReady> {
        let started = AtomicBool::new(false);
        let work = async {
            self.children.start_after_dependencies(child).await;
            started.store(true, Ordering::Relaxed);
            ready::settled(child, None).await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome.map(drop),
            Err(_) => {
                let waiting_for =
                    if started.load(Ordering::Relaxed) { Vec::new() } else { self.unready_dependencies(child) };
                Err(NotReady::timed_out(&child.status(), timeout, &waiting_for))
            }
        }
    }

    /// `name: state` of each of `child`'s dependencies that is not ready.
    fn unready_dependencies(&self, child: &ChildHandle) -> Vec<String> {
        let statuses = child.spec.depends_on.iter().filter_map(|dep| self.children.get(dep)).map(ChildHandle::status);
        statuses.filter(|s| s.state != Phase::Ready).map(|s| format!("{}: {}", s.name, phase_name(s.state))).collect()
    }

    /// Waits for `settled`, at most the settle timeout.
    async fn settle(&self, name: &str, settled: impl std::future::Future<Output = ChildStatus>) {
        if tokio::time::timeout(self.settings.settle_timeout, settled).await.is_err() {
            tracing::warn!(child = %name, "child did not settle in time");
        }
    }

    async fn reply(&self, child: &ChildHandle) -> Response<Body> {
        match self.report(&[child]).await.pop() {
            Some(report) => json_response(StatusCode::OK, &report),
            None => error_response(StatusCode::INTERNAL_SERVER_ERROR, "no status"),
        }
    }

    fn logs(&self, name: &str, query: Option<&str>) -> Response<Body> {
        let Some(child) = self.children.get(name) else { return self.unknown(name) };
        let (lines, follow) = parse_log_query(query.unwrap_or(""));
        if !follow {
            let mut text = String::new();
            for line in child.logs.tail(lines) {
                text.push_str(&line);
                text.push('\n');
            }
            return with_content_type(StatusCode::OK, orama_ipc::body::full(text), "text/plain; charset=utf-8");
        }
        let (tail, receiver) = child.logs.tail_and_follow(lines);
        let backlog = futures_util::stream::iter(tail.into_iter().map(|line| format!("{line}\n")));
        let live = futures_util::stream::unfold(receiver, |mut rx| async move {
            let text = match rx.recv().await {
                Ok(line) => format!("{line}\n"),
                Err(RecvError::Lagged(n)) => format!("[{n} lines skipped: reader too slow]\n"),
                Err(RecvError::Closed) => return None,
            };
            Some((text, rx))
        });
        let frames = backlog.chain(live).map(|text| Ok::<_, BoxError>(Frame::data(Bytes::from(text))));
        with_content_type(StatusCode::OK, StreamBody::new(frames).boxed_unsync(), "text/plain; charset=utf-8")
    }
}

impl Handler for Control {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        let path = request.uri().path().trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match (request.method(), segments.as_slice()) {
            (&Method::GET, ["v1", "children"]) => {
                let handles: Vec<&ChildHandle> = self.children.all().iter().collect();
                let children = self.report(&handles).await;
                let dropped_log_lines = crate::forward::dropped_lines();
                let version = node_info::VERSION.to_owned();
                let journal = self.settings.journal.clone();
                let image_started_ms = self.settings.image_started_ms;
                let report = StatusReport { children, dropped_log_lines, version, journal, image_started_ms };
                json_response(StatusCode::OK, &report)
            }
            (&Method::POST, ["v1", "children", name, verb]) => self.act(name, verb, request.uri().query()).await,
            (&Method::GET, ["v1", "children", name, "logs"]) => self.logs(name, request.uri().query()),
            (&Method::POST, ["v1", "reload"]) => self.reload().await,
            (&Method::POST, ["v1", "upgrade"]) => self.upgrade().await,
            (_, ["v1", "children", ..]) => error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            _ => error_response(StatusCode::NOT_FOUND, "no such control route"),
        }
    }
}
