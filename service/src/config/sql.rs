//! The `backends.sql` section: which engine holds the system tables and every namespace's
//! database (embedded SQLite or an RQLite cluster) and its limits, with how it is read from
//! the YAML tree.

use std::time::Duration;

use serde::Serialize;

use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

/// SQL engine and its limits.
#[derive(Debug, Clone, Serialize)]
pub struct SqlBackendConfig {
    /// `embedded`: a SQLite file in the gateway's data dir.
    pub engine: SqlEngine,
    /// Pooled connections.
    pub pool_size: usize,
    /// Most rows a query may return.
    pub max_rows: usize,
    /// Longest a statement may run.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
    /// RQLite node URLs (`rqlite` engine), tried in turn.
    pub urls: Vec<String>,
    /// RQLite read consistency: none, weak, strong or linearizable.
    pub consistency: String,
    /// Largest a namespace's database may grow (embedded engine), or the most its tables may
    /// take in the shared store (RQLite), in bytes.
    pub namespace_quota: u64,
    /// Most bytes one request's query results may hold in the gateway; also the largest
    /// string or blob a tenant's statement can make on the embedded engine.
    pub max_result: u64,
    /// Most memory the gateway's SQLite engine may use in all (its hard heap limit); on RQLite,
    /// the same limit asked of each rqlited node.
    pub max_memory: u64,
}

impl Default for SqlBackendConfig {
    fn default() -> Self {
        SqlBackendConfig {
            engine: SqlEngine::Embedded,
            pool_size: 4,
            max_rows: 10_000,
            query_timeout: Duration::from_secs(5),
            urls: Vec::new(),
            consistency: "weak".into(),
            namespace_quota: 1024 * 1024 * 1024,
            max_result: 16 * 1024 * 1024,
            max_memory: 64 * 1024 * 1024,
        }
    }
}

/// The SQL engines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqlEngine {
    /// SQLite in the data dir.
    #[default]
    Embedded,
    /// An RQLite cluster over its HTTP API.
    Rqlite,
}

/// Reads `backends.sql` into `sql`; RQLite needs URLs, and the memory limit must hold two
/// results.
pub(super) fn sql_section(f: &Field, sql: &mut SqlBackendConfig, p: &mut Problems) {
    let mut s = f.table(p);
    if let Some(f) = s.take("engine") {
        sql.engine = match f.one_of(p, &["embedded", "rqlite"]) {
            Some("rqlite") => SqlEngine::Rqlite,
            _ => SqlEngine::Embedded,
        };
    }
    if let Some(f) = s.take("urls") {
        for (i, url) in f.string_list(p).unwrap_or_default().into_iter().enumerate() {
            let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
            if host.is_none_or(|h| h.split('/').next().unwrap_or_default().is_empty()) {
                p.add(
                    &format!("{}[{i}]", f.path),
                    f.node.line,
                    format!("invalid URL {url:?} (expected http://HOST:PORT)"),
                );
            }
            sql.urls.push(url);
        }
    }
    if let Some(c) = s.take("consistency").and_then(|f| f.one_of(p, &["none", "weak", "strong", "linearizable"])) {
        sql.consistency = c.to_owned();
    }
    if let Some(n) = s.take("pool_size").and_then(|f| f.int_in(p, 1, 64)) {
        sql.pool_size = n as usize;
    }
    if let Some(n) = s.take("max_rows").and_then(|f| f.int_in(p, 1, 10_000_000)) {
        sql.max_rows = n as usize;
    }
    if let Some(d) = s.take("query_timeout").and_then(|f| f.duration_in(p, 10 * MS, HOUR)) {
        sql.query_timeout = d;
    }
    if let Some(n) = s.take("namespace_quota").and_then(|f| f.bytes_in(p, 64 * 1024, 1 << 50)) {
        sql.namespace_quota = n;
    }
    if let Some(n) = s.take("max_result").and_then(|f| f.bytes_in(p, 64 * 1024, 1 << 30)) {
        sql.max_result = n;
    }
    if let Some(n) = s.take("max_memory").and_then(|f| f.bytes_in(p, 8 << 20, 1 << 40)) {
        sql.max_memory = n;
    }
    s.finish(p);
    if sql.max_memory < 2 * sql.max_result {
        let message = format!("max_memory ({}) must be at least twice max_result ({})", sql.max_memory, sql.max_result);
        p.add(&f.path, f.node.line, message);
    }
    if sql.engine == SqlEngine::Rqlite && sql.urls.is_empty() {
        p.add(&f.path, f.node.line, "engine rqlite needs at least one URL in urls");
    }
}
