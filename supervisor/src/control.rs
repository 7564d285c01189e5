//! The control API's server on `<runtime_dir>/supervisor.sock`, used by `orama-supervisor ctl`.
//! Its routes and replies are in [`crate::control_protocol`], which the client shares.
//!
//! - `GET  /v1/children`                          status of every child
//! - `POST /v1/children/{name}/{start|stop|restart}`  acts, then answers the child's status
//! - `GET  /v1/children/{name}/logs?lines=N&follow=1` recent output, then new lines as they come
//! - `GET  /health`, `GET /ready`                 as every process

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
use crate::control_protocol::{ChildAction, ChildReport, StatusReport, parse_log_query, phase_name};
use crate::state::{Event, Phase};
use crate::stats::Stats;

/// Serves the control API.
pub struct Control {
    children: Children,
    health: Health,
    stats: Stats,
    settle_timeout: Duration,
}

impl Control {
    /// The API over `children`, with the supervisor's own `health`; stop and restart answer
    /// once the child settled, or after `settle_timeout`.
    pub fn new(children: Children, health: Health, settle_timeout: Duration) -> Control {
        Control { children, health, stats: Stats::default(), settle_timeout }
    }

    async fn report(&self, statuses: Vec<ChildStatus>) -> Vec<ChildReport> {
        let pids: Vec<u32> = statuses.iter().map(|s| s.pid.unwrap_or(0)).collect();
        let usage = self.stats.sample(&pids).await;
        statuses
            .into_iter()
            .zip(usage)
            .map(|(s, u)| ChildReport {
                name: s.name,
                state: phase_name(s.state).to_owned(),
                pid: s.pid,
                restarts: s.restarts,
                uptime_secs: s.started_at.map(|t| t.elapsed().as_secs_f64()),
                last_exit: s.last_exit,
                cpu_percent: u.filter(|_| s.pid.is_some()).map(|u| u.cpu_percent),
                rss_bytes: u.filter(|_| s.pid.is_some()).map(|u| u.rss_bytes),
            })
            .collect()
    }

    /// The 404 for a name that is no child, listing the children there are.
    fn unknown(&self, name: &str) -> Response<Body> {
        let names: Vec<&str> = self.children.all().iter().map(ChildHandle::name).collect();
        error_response(StatusCode::NOT_FOUND, &format!("unknown child {name:?} (children: {})", names.join(", ")))
    }

    async fn act(&self, name: &str, verb: &str) -> Response<Body> {
        let Some(child) = self.children.get(name) else { return self.unknown(name) };
        let old_pid = child.status().pid;
        match ChildAction::parse(verb) {
            Some(ChildAction::Start) => self.children.start_after_dependencies(child).await,
            Some(ChildAction::Stop) => {
                child.send(Event::Stop).await;
                self.settle(name, child.wait_until(|s| s.state == Phase::Stopped)).await;
            }
            Some(ChildAction::Restart) => {
                child.send(Event::Restart).await;
                let respawned = move |s: &ChildStatus| s.pid.is_some() && s.pid != old_pid || !s.state.is_running();
                self.settle(name, child.wait_until(respawned)).await;
            }
            None => return error_response(StatusCode::NOT_FOUND, &format!("unknown action {verb:?}")),
        }
        self.reply(child).await
    }

    /// Waits for `settled`, at most the settle timeout.
    async fn settle(&self, name: &str, settled: impl std::future::Future<Output = ()>) {
        if tokio::time::timeout(self.settle_timeout, settled).await.is_err() {
            tracing::warn!(child = %name, "child did not settle in time");
        }
    }

    async fn reply(&self, child: &ChildHandle) -> Response<Body> {
        match self.report(vec![child.status()]).await.pop() {
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
                let children = self.report(self.children.statuses()).await;
                let dropped_log_lines = crate::forward::dropped_lines();
                json_response(StatusCode::OK, &StatusReport { children, dropped_log_lines })
            }
            (&Method::POST, ["v1", "children", name, verb]) => self.act(name, verb).await,
            (&Method::GET, ["v1", "children", name, "logs"]) => self.logs(name, request.uri().query()),
            (_, ["v1", "children", ..]) => error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            _ => error_response(StatusCode::NOT_FOUND, "no such control route"),
        }
    }
}
