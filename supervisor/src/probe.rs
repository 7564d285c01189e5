//! Readiness and liveness checks of one child, each bounded by a timeout.
//!
//! Our processes are asked `GET /ready` (readiness) and `GET /health` (liveness) on their
//! internal socket; externals get the probe their config names. A probe task polls readiness
//! quickly after a spawn (so a restarted child is seen ready within milliseconds), then checks
//! liveness at the configured interval, reporting every result to the child's actor.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use orama_ipc::IpcClient;
use orama_service::config::{HealthProbe, ProbeConfig};
use tokio::sync::mpsc;

use crate::spec::Probe;
use crate::state::Event;

/// How often readiness is polled while a child starts (cheap checks: a connect or a request).
const READY_POLL: Duration = Duration::from_millis(10);

/// How often a probe command is run while a child starts (each run is a fork and exec).
const READY_POLL_COMMAND: Duration = Duration::from_millis(100);

/// Which question a probe answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// Can it serve yet?
    Ready,
    /// Is it still alive?
    Alive,
}

/// A probe result for the actor, tagged with the spawn it belongs to.
#[derive(Debug)]
pub struct ProbeReport {
    /// The spawn generation; stale reports are ignored.
    pub generation: u64,
    /// `ProbeOk` or `ProbeFailed`.
    pub event: Event,
}

/// Runs the checks of one child.
#[derive(Debug, Clone)]
pub struct Prober {
    probe: Probe,
    ipc: Option<IpcClient>,
    http: Client<HttpConnector, Empty<Bytes>>,
}

impl Prober {
    /// A prober for `probe`.
    pub fn new(probe: Probe) -> Prober {
        let ipc = match &probe {
            Probe::Internal(socket) => Some(IpcClient::new(socket.clone())),
            _ => None,
        };
        Prober { probe, ipc, http: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// Asks `question`, giving up after `timeout`.
    pub async fn check(&self, question: Question, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.ask(question)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {}", humantime::format_duration(timeout))),
        }
    }

    /// Time between readiness checks while the child starts.
    fn ready_poll(&self) -> Duration {
        match self.probe {
            Probe::External(HealthProbe::Command(_)) => READY_POLL_COMMAND,
            _ => READY_POLL,
        }
    }

    async fn ask(&self, question: Question) -> Result<(), String> {
        match &self.probe {
            Probe::Running => Ok(()),
            Probe::Internal(_) => {
                let Some(client) = &self.ipc else { return Ok(()) };
                let path = if question == Question::Ready { "/ready" } else { "/health" };
                client.get_json::<serde_json::Value>(path).await.map(drop).map_err(|e| e.to_string())
            }
            Probe::External(HealthProbe::Http(url)) => self.http_get(url).await,
            Probe::External(HealthProbe::Tcp(addr)) => {
                tokio::net::TcpStream::connect(addr.as_str()).await.map(drop).map_err(|e| format!("tcp {addr}: {e}"))
            }
            Probe::External(HealthProbe::Unix(path)) => tokio::net::UnixStream::connect(path)
                .await
                .map(drop)
                .map_err(|e| format!("unix {}: {e}", path.display())),
            Probe::External(HealthProbe::Command(argv)) => run_command(argv).await,
        }
    }

    async fn http_get(&self, url: &str) -> Result<(), String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let response = self.http.get(uri).await.map_err(|e| format!("{url}: {e}"))?;
        if response.status().is_success() { Ok(()) } else { Err(format!("{url} answered {}", response.status())) }
    }
}

/// Runs a probe command; exit status 0 means healthy. Killed if the probe times out.
async fn run_command(argv: &[String]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else { return Err("empty probe command".into()) };
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{program} {}", crate::process::describe_exit(status))) }
}

/// Polls readiness until it holds, then liveness forever; reports each result. Ends when the
/// actor goes away (it aborts this task when the process exits).
pub async fn probe_loop(prober: Prober, config: ProbeConfig, generation: u64, reports: mpsc::Sender<ProbeReport>) {
    let send = |event| reports.send(ProbeReport { generation, event });
    loop {
        if prober.check(Question::Ready, config.timeout).await.is_ok() {
            if send(Event::ProbeOk { at: Instant::now() }).await.is_err() {
                return;
            }
            break;
        }
        tokio::time::sleep(prober.ready_poll()).await;
    }
    loop {
        tokio::time::sleep(config.interval).await;
        let event = match prober.check(Question::Alive, config.timeout).await {
            Ok(()) => Event::ProbeOk { at: Instant::now() },
            Err(reason) => Event::ProbeFailed { reason },
        };
        if send(event).await.is_err() {
            return;
        }
    }
}
