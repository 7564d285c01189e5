//! The `backends.cache` section: which engine serves the cache API (in-process, Redis/Valkey,
//! or Olric over its RESP protocol) and its bounds, with how it is read from the YAML tree.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

/// The cache engines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheEngine {
    /// In the gateway's memory, bounded, with eviction.
    #[default]
    Memory,
    /// Redis or Valkey: one server, or a Redis Cluster with `cluster: true`.
    Redis,
    /// Olric, through its RESP `DM.*` commands.
    Olric,
}

/// The `backends.cache` section.
#[derive(Debug, Clone, Serialize)]
pub struct CacheBackendConfig {
    /// The engine.
    pub engine: CacheEngine,
    /// Server URL (`redis://host:port`, `rediss://…`, `unix:///path`); for a cluster, seed nodes.
    pub urls: Vec<String>,
    /// The Redis servers form a Redis Cluster.
    pub cluster: bool,
    /// Memory the in-process engine may use for values (least recently used evicted beyond).
    pub max_memory: u64,
    /// Largest value accepted by `put`.
    pub max_value_bytes: u64,
    /// Longest one cache operation may take (503 beyond).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// For `rediss://` URLs: the CA the servers' certificates must chain to, and this client's
    /// certificate (servers that require one, as a cluster's do).
    pub tls: Option<CacheTlsConfig>,
}

/// `backends.cache.tls`: PEM files.
#[derive(Debug, Clone, Serialize)]
pub struct CacheTlsConfig {
    /// The CA certificate the servers' certificates are checked against.
    pub ca_file: PathBuf,
    /// The client's certificate.
    pub certificate_file: Option<PathBuf>,
    /// The client's private key.
    pub key_file: Option<PathBuf>,
}

impl Default for CacheBackendConfig {
    fn default() -> Self {
        CacheBackendConfig {
            engine: CacheEngine::Memory,
            urls: Vec::new(),
            cluster: false,
            max_memory: 256 * 1024 * 1024,
            max_value_bytes: 1024 * 1024,
            timeout: Duration::from_secs(2),
            tls: None,
        }
    }
}

/// Reads the `backends.cache` section.
pub(super) fn cache_section(f: &Field, p: &mut Problems) -> CacheBackendConfig {
    const MIB: u64 = 1024 * 1024;
    let mut t = f.table(p);
    let mut cache = CacheBackendConfig::default();
    if let Some(f) = t.take("engine") {
        cache.engine = match f.one_of(p, &["memory", "redis", "olric"]) {
            Some("redis") => CacheEngine::Redis,
            Some("olric") => CacheEngine::Olric,
            _ => CacheEngine::Memory,
        };
    }
    if let Some(f) = t.take("urls") {
        for (i, url) in f.string_list(p).unwrap_or_default().into_iter().enumerate() {
            if !["redis://", "rediss://", "unix://"].iter().any(|s| url.starts_with(s) && url.len() > s.len()) {
                let message = format!("invalid URL {url:?} (expected redis://HOST:PORT or unix:///PATH)");
                p.add(&format!("{}[{i}]", f.path), f.node.line, message);
            }
            cache.urls.push(url);
        }
    }
    if let Some(on) = t.take("cluster").and_then(|f| f.bool(p)) {
        cache.cluster = on;
    }
    if let Some(n) = t.take("max_memory").and_then(|f| f.bytes_in(p, MIB, 1 << 40)) {
        cache.max_memory = n;
    }
    if let Some(n) = t.take("max_value_bytes").and_then(|f| f.bytes_in(p, 1, 512 * MIB)) {
        cache.max_value_bytes = n;
    }
    if let Some(d) = t.take("timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        cache.timeout = d;
    }
    if let Some(f) = t.take("tls") {
        cache.tls = tls_section(&f, p);
    }
    t.finish(p);
    if cache.tls.is_some() && !cache.urls.iter().all(|url| url.starts_with("rediss://")) {
        p.add(&f.path, f.node.line, "tls needs rediss:// URLs (a redis:// URL would ignore it)");
    }
    if cache.engine != CacheEngine::Memory && cache.urls.is_empty() {
        p.add(&f.path, f.node.line, "engines redis and olric need at least one URL in urls");
    }
    if cache.cluster && cache.engine != CacheEngine::Redis {
        p.add(&f.path, f.node.line, "cluster applies to the redis engine only");
    }
    if cache.urls.len() > 1 && !cache.cluster {
        p.add(&f.path, f.node.line, "several URLs need cluster: true (they are a Redis Cluster's seed nodes)");
    }
    cache
}

/// Reads `backends.cache.tls`.
fn tls_section(f: &Field, p: &mut Problems) -> Option<CacheTlsConfig> {
    let mut t = f.table(p);
    let ca_file = t.take("ca_file").and_then(|f| f.absolute_path(p));
    let (certificate, key) = (t.take("certificate_file"), t.take("key_file"));
    t.finish(p);
    if certificate.is_some() != key.is_some() {
        p.add(&f.path, f.node.line, "certificate_file and key_file go together");
    }
    let certificate_file = certificate.and_then(|f| f.absolute_path(p));
    let key_file = key.and_then(|f| f.absolute_path(p));
    let Some(ca_file) = ca_file else {
        p.add(&f.path, f.node.line, "ca_file is required");
        return None;
    };
    Some(CacheTlsConfig { ca_file, certificate_file, key_file })
}
