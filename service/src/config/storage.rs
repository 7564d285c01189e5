//! The `backends.storage` section: which engine keeps uploaded content (the embedded block
//! store, or an IPFS Kubo node with an optional IPFS Cluster for replicated pins) and the
//! bounds on uploads, with how it is read from the YAML tree.

use std::time::Duration;

use serde::Serialize;

use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

/// The storage engines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    /// Content-addressed blocks in the gateway's data dir.
    #[default]
    Embedded,
    /// An IPFS node's RPC API (Kubo or compatible).
    Ipfs,
}

/// The `backends.storage` section.
#[derive(Debug, Clone, Serialize)]
pub struct StorageBackendConfig {
    /// The engine.
    pub engine: StorageEngine,
    /// The IPFS RPC API (`ipfs` engine), e.g. `http://127.0.0.1:5001`.
    pub api_url: Option<String>,
    /// The IPFS Cluster REST API for replicated pins, e.g. `http://127.0.0.1:9094`.
    pub cluster_url: Option<String>,
    /// Copies a cluster keeps of each pin.
    pub replication_factor: u32,
    /// Largest single upload.
    pub max_upload_bytes: u64,
    /// Most bytes one namespace may keep: its pins and its recent uploads.
    pub namespace_quota: u64,
    /// Free disk the node keeps: uploads are refused (507) before the data directory's
    /// filesystem has less than this free.
    pub min_free_disk: u64,
    /// Memory for hot content: whole files read lately, served without the engine (0: off).
    pub cache_bytes: u64,
    /// Largest file kept in that memory.
    pub cache_max_file: u64,
    /// Longest one engine call may take (other than an upload's or download's transfer).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Longest an upload may take, end to end.
    #[serde(with = "humantime_serde")]
    pub upload_timeout: Duration,
}

impl Default for StorageBackendConfig {
    fn default() -> Self {
        const GIB: u64 = 1024 * 1024 * 1024;
        StorageBackendConfig {
            engine: StorageEngine::Embedded,
            api_url: None,
            cluster_url: None,
            replication_factor: 3,
            max_upload_bytes: GIB,
            namespace_quota: 10 * GIB,
            min_free_disk: GIB,
            cache_bytes: 64 * 1024 * 1024,
            cache_max_file: 4 * 1024 * 1024,
            timeout: Duration::from_secs(60),
            upload_timeout: HOUR,
        }
    }
}

/// Reads the `backends.storage` section.
pub(super) fn storage_section(f: &Field, p: &mut Problems) -> StorageBackendConfig {
    let mut t = f.table(p);
    let mut storage = StorageBackendConfig::default();
    if let Some(f) = t.take("engine") {
        storage.engine = match f.one_of(p, &["embedded", "ipfs"]) {
            Some("ipfs") => StorageEngine::Ipfs,
            _ => StorageEngine::Embedded,
        };
    }
    storage.api_url = t.take("api_url").and_then(|f| http_url(&f, p));
    storage.cluster_url = t.take("cluster_url").and_then(|f| http_url(&f, p));
    if let Some(n) = t.take("replication_factor").and_then(|f| f.int_in(p, 1, 100)) {
        storage.replication_factor = n as u32;
    }
    if let Some(n) = t.take("max_upload_bytes").and_then(|f| f.bytes_in(p, 1, 1 << 44)) {
        storage.max_upload_bytes = n;
    }
    if let Some(n) = t.take("namespace_quota").and_then(|f| f.bytes_in(p, 1, 1 << 50)) {
        storage.namespace_quota = n;
    }
    if let Some(n) = t.take("min_free_disk").and_then(|f| f.bytes_in(p, 0, 1 << 50)) {
        storage.min_free_disk = n;
    }
    if let Some(n) = t.take("cache_bytes").and_then(|f| f.bytes_in(p, 0, 1 << 40)) {
        storage.cache_bytes = n;
    }
    if let Some(n) = t.take("cache_max_file").and_then(|f| f.bytes_in(p, 0, 1 << 32)) {
        storage.cache_max_file = n;
    }
    if let Some(d) = t.take("timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        storage.timeout = d;
    }
    if let Some(d) = t.take("upload_timeout").and_then(|f| f.duration_in(p, Duration::from_secs(1), 24 * HOUR)) {
        storage.upload_timeout = d;
    }
    t.finish(p);
    if storage.engine == StorageEngine::Ipfs && storage.api_url.is_none() {
        p.add(&f.path, f.node.line, "engine ipfs needs api_url (the IPFS RPC API, e.g. http://127.0.0.1:5001)");
    }
    storage
}

fn http_url(f: &Field, p: &mut Problems) -> Option<String> {
    let url = f.non_empty_string(p)?;
    let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if host.is_none_or(|h| h.split('/').next().unwrap_or_default().is_empty()) {
        f.problem(p, format!("invalid URL {url:?} (expected http://HOST:PORT)"));
        return None;
    }
    Some(url.trim_end_matches('/').to_owned())
}
