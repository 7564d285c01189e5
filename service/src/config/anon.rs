//! The `anon` section: the anonymous egress process (`orama-anon-proxy`) behind
//! `/v1/proxy/anon`, its upstream (a SOCKS5 Anyone/Tor client, or arti in process when built
//! with it) and its limits, with how it is read from the YAML tree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::child::{ChildSettings, read_child_settings};
use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

const MIB: u64 = 1024 * 1024;

/// Where anonymous requests leave the node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnonUpstream {
    /// A SOCKS5 client of the Anyone (Tor-compatible) network, remote DNS.
    #[default]
    Socks,
    /// arti in process (only in builds with the `arti` feature of `orama-anon-proxy`).
    Arti,
}

/// The `anon` section.
#[derive(Debug, Clone, Serialize)]
pub struct AnonConfig {
    /// Supervision of the proxy process.
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Override of the program to run (default: `orama-anon-proxy` beside the supervisor).
    pub command: Option<PathBuf>,
    /// `socks` or `arti`.
    pub upstream: AnonUpstream,
    /// The SOCKS5 server; unset: the first of 127.0.0.1:9050 (Anyone/Tor) and
    /// 127.0.0.1:9150 (Tor Browser) that answers.
    pub socks: Option<SocketAddr>,
    /// Fixed SOCKS5 credentials (turn per-namespace isolation off).
    pub socks_username: Option<String>,
    /// Password for `socks_username`.
    #[serde(skip_serializing)]
    pub socks_password: Option<String>,
    /// Distinct SOCKS5 credentials per namespace, so an Anyone/Tor client
    /// (`IsolateSOCKSAuth`) never shares a circuit between tenants.
    pub isolate_namespaces: bool,
    /// The Anyone/Tor control port (`HOST:PORT` or a Unix socket path) whose bootstrap
    /// progress is reported and gates requests; unset while the SOCKS server is detected:
    /// `/run/anon/control` or `/run/tor/control` when present, else 127.0.0.1:9051.
    pub control: Option<String>,
    /// Control-port password (when it is not cookie-authenticated).
    #[serde(skip_serializing)]
    pub control_password: Option<String>,
    /// Longest one request may take, redirects included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest request (the whole JSON body).
    pub max_request: u64,
    /// Largest response body.
    pub max_response: u64,
    /// Redirects followed (each target checked again).
    pub max_redirects: u32,
    /// Requests one namespace may have in flight.
    pub namespace_concurrency: u32,
    /// Requests the node may have in flight.
    pub max_concurrency: u32,
    /// Extra trusted roots (PEM) for HTTPS targets, beside the system's.
    pub ca_file: Option<PathBuf>,
    /// Literal target networks allowed although not public (a test's local server).
    pub allow_networks: Vec<ipnet::IpNet>,
}

impl Default for AnonConfig {
    fn default() -> Self {
        AnonConfig {
            child: ChildSettings { enabled: true, ..ChildSettings::default() },
            command: None,
            upstream: AnonUpstream::Socks,
            socks: None,
            socks_username: None,
            socks_password: None,
            isolate_namespaces: true,
            control: None,
            control_password: None,
            timeout: Duration::from_secs(60),
            max_request: 10 * MIB,
            max_response: 10 * MIB,
            max_redirects: 10,
            namespace_concurrency: 16,
            max_concurrency: 256,
            ca_file: None,
            allow_networks: Vec::new(),
        }
    }
}

/// Reads the `anon` section.
pub(super) fn anon_section(f: &Field, p: &mut Problems) -> AnonConfig {
    let mut t = f.table(p);
    let mut anon = AnonConfig::default();
    read_child_settings(&mut t, &mut anon.child, p);
    anon.command = t.take("command").and_then(|f| f.non_empty_string(p)).map(PathBuf::from);
    if let Some(choice) = t.take("upstream").and_then(|f| f.one_of(p, &["socks", "arti"])) {
        anon.upstream = if choice == "arti" { AnonUpstream::Arti } else { AnonUpstream::Socks };
    }
    anon.socks = t.take("socks").and_then(|f| f.socket_addr(p));
    anon.socks_username = t.take("socks_username").and_then(|f| f.non_empty_string(p));
    if let Some(f) = t.take("socks_password") {
        anon.socks_password = f.string(p);
        if anon.socks_username.is_none() {
            f.problem(p, "needs socks_username");
        }
    }
    if let Some(b) = t.take("isolate_namespaces").and_then(|f| f.bool(p)) {
        anon.isolate_namespaces = b;
    }
    anon.control = t.take("control").and_then(|f| control_address(&f, p));
    anon.control_password = t.take("control_password").and_then(|f| f.string(p));
    if let Some(d) = t.take("timeout").and_then(|f| f.duration_in(p, 100 * MS, HOUR)) {
        anon.timeout = d;
    }
    if let Some(n) = t.take("max_request").and_then(|f| f.bytes_in(p, 1024, 256 * MIB)) {
        anon.max_request = n;
    }
    if let Some(n) = t.take("max_response").and_then(|f| f.bytes_in(p, 1024, 256 * MIB)) {
        anon.max_response = n;
    }
    if let Some(n) = t.take("max_redirects").and_then(|f| f.int_in(p, 0, 20)) {
        anon.max_redirects = n as u32;
    }
    if let Some(n) = t.take("namespace_concurrency").and_then(|f| f.int_in(p, 1, 100_000)) {
        anon.namespace_concurrency = n as u32;
    }
    if let Some(n) = t.take("max_concurrency").and_then(|f| f.int_in(p, 1, 100_000)) {
        anon.max_concurrency = n as u32;
    }
    anon.ca_file = t.take("ca_file").and_then(|f| f.absolute_path(p));
    if let Some(nets) = t.take("allow_networks").and_then(|f| f.networks(p)) {
        anon.allow_networks = nets;
    }
    t.finish(p);
    anon
}

/// `HOST:PORT` or an absolute Unix socket path.
fn control_address(f: &Field, p: &mut Problems) -> Option<String> {
    let text = f.non_empty_string(p)?;
    if text.starts_with('/') || text.parse::<SocketAddr>().is_ok() {
        return Some(text);
    }
    f.problem(p, format!("invalid control address {text:?}: expected IP:PORT or an absolute socket path"));
    None
}
