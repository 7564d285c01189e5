//! The `gateway` section: the public API's listener, HTTP limits, CORS, TLS, rate limits and
//! metrics access, with how each is read from the YAML tree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::child::{ChildSettings, read_child_settings};
use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};
use super::tls::{TlsConfig, tls_section};

/// The `gateway` section.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayConfig {
    /// Supervision of the gateway process.
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Override of the program to run (default: `orama-gateway` beside the supervisor).
    pub command: Option<PathBuf>,
    /// Address of the public HTTP API.
    pub listen: SocketAddr,
    /// Origins allowed by CORS; `*` (the reference's default) allows any.
    pub cors_origins: Vec<String>,
    /// Bounds on requests.
    pub limits: HttpLimits,
    /// Proxies whose `X-Forwarded-For` is believed (none by default: the peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Networks allowed to read `GET /metrics` on the public listener (the internal socket
    /// always serves it).
    pub metrics_allow: Vec<ipnet::IpNet>,
    /// Token buckets for callers.
    pub rate_limits: RateLimitsConfig,
    /// Threads serving requests; 0 means one per CPU core.
    pub worker_threads: usize,
    /// HTTPS on `listen`.
    pub tls: TlsConfig,
    /// Serve `/v1/auth/simple-key` (an API key for a wallet with no signature): development only.
    pub dev_simple_key: bool,
    /// The domain wallet sign-in messages name (default: the first TLS domain, else the
    /// request's `Host`, which whoever sends the request chooses: set this on a public node
    /// behind a TLS-terminating proxy).
    pub sign_in_domain: Option<String>,
}

/// Rate limits: per credential for authenticated callers, per client address for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateLimitsConfig {
    /// Each API key (or JWT subject); `None` disables.
    pub per_key: Option<RateQuota>,
    /// Each client address, charged by failed authentications and public auth routes.
    pub per_ip: Option<RateQuota>,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            per_key: Some(RateQuota { per_second: 100, burst: 200 }),
            per_ip: Some(RateQuota { per_second: 10, burst: 50 }),
        }
    }
}

/// A token bucket: refills `per_second`, holds `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateQuota {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        let loopback = ["127.0.0.0/8", "::1/128"].iter().filter_map(|n| n.parse().ok()).collect();
        GatewayConfig {
            child: ChildSettings { enabled: true, ..ChildSettings::default() },
            command: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 6001)),
            cors_origins: vec!["*".to_owned()],
            limits: HttpLimits::default(),
            trusted_proxies: Vec::new(),
            metrics_allow: loopback,
            rate_limits: RateLimitsConfig::default(),
            worker_threads: 0,
            tls: TlsConfig::default(),
            dev_simple_key: false,
            sign_in_domain: None,
        }
    }
}

/// Bounds on each HTTP request of the public API.
#[derive(Debug, Clone, Serialize)]
pub struct HttpLimits {
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: u64,
    /// Time a request may take from its head to the end of its response head (503 beyond).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Time a client gets to send a request head (slow clients are disconnected).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes (431 beyond).
    pub max_header_bytes: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 10 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Reads the `gateway` section, its `tls` subsection included.
pub(super) fn gateway_section(f: &Field, p: &mut Problems) -> GatewayConfig {
    let mut t = f.table(p);
    let mut g = GatewayConfig::default();
    read_child_settings(&mut t, &mut g.child, p);
    g.command = t.take("command").and_then(|f| f.non_empty_string(p)).map(PathBuf::from);
    if let Some(addr) = t.take("listen").and_then(|f| f.socket_addr(p)) {
        g.listen = addr;
    }
    if let Some(origins) = t.take("cors_origins").and_then(|f| f.string_list(p)) {
        g.cors_origins = origins;
    }
    if let Some(f) = t.take("limits") {
        http_limits(&f, &mut g.limits, p);
    }
    if let Some(nets) = t.take("trusted_proxies").and_then(|f| f.networks(p)) {
        g.trusted_proxies = nets;
    }
    if let Some(nets) = t.take("metrics_allow").and_then(|f| f.networks(p)) {
        g.metrics_allow = nets;
    }
    if let Some(n) = t.take("worker_threads").and_then(|f| f.int_in(p, 0, 1024)) {
        g.worker_threads = n as usize;
    }
    g.sign_in_domain = t.take("sign_in_domain").and_then(|f| f.non_empty_string(p));
    if let Some(on) = t.take("dev_simple_key").and_then(|f| f.bool(p)) {
        g.dev_simple_key = on;
    }
    if let Some(f) = t.take("tls") {
        g.tls = tls_section(&f, p);
    }
    if let Some(f) = t.take("rate_limits") {
        let mut r = f.table(p);
        if let Some(f) = r.take("per_key") {
            g.rate_limits.per_key = rate_quota(&f, p);
        }
        if let Some(f) = r.take("per_ip") {
            g.rate_limits.per_ip = rate_quota(&f, p);
        }
        r.finish(p);
    }
    t.finish(p);
    g
}

/// `{ per_second, burst }`; `off` or `false` (YAML reads a bare `off` as either) or
/// `per_second: 0` disables the limit.
fn rate_quota(f: &Field, p: &mut Problems) -> Option<RateQuota> {
    use super::yaml::Value;
    if matches!(&f.node.value, Value::Str(s) if s == "off") || matches!(f.node.value, Value::Bool(false)) {
        return None;
    }
    let mut t = f.table(p);
    let per_second = t.take("per_second").and_then(|f| f.int_in(p, 0, 1_000_000)).unwrap_or(0) as u32;
    let burst = t.take("burst").and_then(|f| f.int_in(p, 1, 10_000_000)).map_or(per_second.max(1), |n| n as u32);
    t.finish(p);
    (per_second > 0).then_some(RateQuota { per_second, burst })
}

fn http_limits(f: &Field, limits: &mut HttpLimits, p: &mut Problems) {
    const KIB: u64 = 1024;
    let mut t = f.table(p);
    if let Some(n) = t.take("max_body_bytes").and_then(|f| f.bytes_in(p, 1, 64 * KIB * KIB * KIB)) {
        limits.max_body_bytes = n;
    }
    if let Some(d) = t.take("request_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        limits.request_timeout = d;
    }
    if let Some(d) = t.take("header_read_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        limits.header_read_timeout = d;
    }
    if let Some(n) = t.take("max_header_bytes").and_then(|f| f.bytes_in(p, 8 * KIB, 16 * KIB * KIB)) {
        limits.max_header_bytes = n;
    }
    t.finish(p);
}
