//! Each namespace's own database. On the embedded engine a namespace gets its own SQLite file
//! (`data/sql/<namespace>.db`) opened in the [`Sandbox`], so no SQL can name another tenant's
//! table or the system tables: they are in other files the sandbox cannot attach. Files are
//! opened on first use and the least recently used are closed past a bound.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::auth::valid_namespace;
use crate::database::{Database, DbError, QueryLimits, Sandbox, SqliteDb};

/// How many namespace databases stay open at once.
const MAX_OPEN: usize = 256;
/// Pooled connections per namespace database.
const POOL_PER_NAMESPACE: usize = 2;

/// The namespaces' databases on the embedded engine.
#[derive(Debug, Clone)]
pub struct TenantDatabases {
    dir: PathBuf,
    limits: QueryLimits,
    sandbox: Sandbox,
    open: Arc<Mutex<HashMap<Arc<str>, Opened>>>,
}

#[derive(Debug)]
struct Opened {
    db: SqliteDb,
    used: Instant,
}

impl TenantDatabases {
    /// Namespace databases in `dir`, each bounded by `limits` and `sandbox`.
    pub fn new(dir: &Path, limits: QueryLimits, sandbox: Sandbox) -> Self {
        TenantDatabases { dir: dir.to_owned(), limits, sandbox, open: Arc::default() }
    }

    /// The database of `namespace`, opened (and created) on first use.
    pub async fn database(&self, namespace: &Arc<str>) -> Result<Arc<dyn Database>, DbError> {
        if let Some(db) = self.cached(namespace) {
            return Ok(Arc::new(db));
        }
        let (path, limits, sandbox) = (self.file_of(namespace), self.limits, self.sandbox);
        let opened =
            tokio::task::spawn_blocking(move || SqliteDb::open_sandboxed(&path, POOL_PER_NAMESPACE, limits, sandbox))
                .await
                .map_err(|e| DbError::Internal(format!("opening a namespace database: {e}")))??;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= MAX_OPEN
            && let Some(oldest) = open.iter().min_by_key(|(_, o)| o.used).map(|(name, _)| name.clone())
        {
            open.remove(&oldest);
        }
        let db = open.entry(namespace.clone()).or_insert(Opened { db: opened, used: Instant::now() }).db.clone();
        Ok(Arc::new(db))
    }

    fn cached(&self, namespace: &str) -> Option<SqliteDb> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let opened = open.get_mut(namespace)?;
        opened.used = Instant::now();
        Some(opened.db.clone())
    }

    /// `<dir>/<namespace>.db`; a name that is not a plain namespace name is hashed instead, so
    /// no name can point outside the directory.
    fn file_of(&self, namespace: &str) -> PathBuf {
        let plain = valid_namespace(namespace) && !namespace.starts_with('.');
        let stem = if plain {
            namespace.to_owned()
        } else {
            let digest = Sha256::digest(namespace.as_bytes());
            format!("ns-{}", crate::http::wire::hex(&digest[..16]))
        };
        self.dir.join(format!("{stem}.db"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_has_a_file_inside_the_directory() {
        let tenants = TenantDatabases::new(
            Path::new("/data/sql"),
            QueryLimits::default(),
            Sandbox { max_bytes: 1, max_value: 1 },
        );
        assert_eq!(tenants.file_of("shop"), Path::new("/data/sql/shop.db"));
        for odd in ["..", ".hidden", "a/b", "../../etc/x", ""] {
            let file = tenants.file_of(odd);
            assert_eq!(file.parent(), Some(Path::new("/data/sql")), "{odd}");
            assert!(file.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ns-")), "{odd}");
        }
    }
}
