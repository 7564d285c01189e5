//! Which namespace pins what, in the system store: one row per (namespace, CID) with the name
//! and size it was pinned with. Pinning checks the namespace's quota (its pins and its recent
//! uploads, see [`uploads`](super::uploads)) in the same statement that inserts, so two
//! concurrent pins cannot both slip under it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::database::{Database, DbError, Statement};

/// A namespace's pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The name it was pinned with.
    pub name: String,
    /// File size in bytes.
    pub size: u64,
}

/// A pin to record.
#[derive(Debug, Clone, Copy)]
pub struct NewPin<'a> {
    /// The namespace pinning.
    pub namespace: &'a str,
    /// What it pins.
    pub cid: &'a str,
    /// The name it pins it with.
    pub name: &'a str,
    /// The file's size.
    pub size: u64,
    /// The reservation of the upload that brought it, if any.
    pub upload: Option<i64>,
}

/// Why a pin was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The namespace would exceed its quota.
    #[error("namespace storage quota of {0} bytes exceeded")]
    OverQuota(u64),
    /// The system store failed.
    #[error(transparent)]
    Store(#[from] DbError),
}

/// The pin records.
#[derive(Clone)]
pub struct Pins {
    db: Arc<dyn Database>,
}

impl std::fmt::Debug for Pins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pins").finish_non_exhaustive()
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Pins {
    /// Pin records in `db`.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Pins { db }
    }

    /// Records that `namespace` pins `cid` (renaming an existing pin), within `quota` bytes
    /// counting its other pins and its recent uploads. `upload`, the reservation of the upload
    /// that brought the content, becomes the pin: it is not counted, and is removed with the pin
    /// written.
    pub async fn pin(&self, pin: NewPin<'_>, quota: u64) -> Result<(), PinError> {
        let size = i64::try_from(pin.size).unwrap_or(i64::MAX);
        let live_since = now() - super::uploads::RESERVATION_LIFE.as_secs() as i64;
        let upload = pin.upload.unwrap_or(0);
        let results = self
            .db
            .transaction(vec![
                Statement::new("INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)")
                    .bind(pin.namespace)
                    .bind(now()),
                Statement::new(
                    "INSERT INTO storage_pins (namespace_id, cid, name, size, created_at) \
                     SELECT n.id, ?1, ?2, ?3, ?4 FROM namespaces n WHERE n.name = ?5 \
                     AND (SELECT COALESCE(SUM(size), 0) FROM storage_pins WHERE namespace_id = n.id AND cid <> ?1) \
                     + (SELECT COALESCE(SUM(bytes), 0) FROM storage_uploads WHERE namespace_id = n.id AND id <> ?7 \
                        AND created_at > ?8) + ?3 <= ?6 \
                     ON CONFLICT (namespace_id, cid) DO UPDATE SET name = excluded.name",
                )
                .bind(pin.cid)
                .bind(pin.name)
                .bind(size)
                .bind(now())
                .bind(pin.namespace)
                .bind(i64::try_from(quota).unwrap_or(i64::MAX))
                .bind(upload)
                .bind(live_since),
                // Only once the pin went in (a refused pin leaves the reservation counting).
                Statement::new("DELETE FROM storage_uploads WHERE id = ? AND changes() > 0").bind(upload),
            ])
            .await?;
        match results.get(1) {
            Some(inserted) if inserted.rows_affected > 0 => Ok(()),
            _ => Err(PinError::OverQuota(quota)),
        }
    }

    /// Removes `namespace`'s pin of `cid`; whether there was one. The unpinned bytes stay on
    /// disk until collected, so they go on counting against the namespace's quota until then
    /// (as an upload reservation of the pin's size): pinning and unpinning in turn cannot fill
    /// the disk.
    pub async fn unpin(&self, namespace: &str, cid: &str) -> Result<bool, DbError> {
        let owned = "(SELECT id FROM namespaces WHERE name = ?2)";
        let removed = self
            .db
            .transaction(vec![
                Statement::new(format!(
                    "INSERT INTO storage_uploads (namespace_id, bytes, created_at) \
                     SELECT namespace_id, size, ?3 FROM storage_pins WHERE cid = ?1 AND namespace_id = {owned}"
                ))
                .bind(cid)
                .bind(namespace)
                .bind(now()),
                Statement::new(format!("DELETE FROM storage_pins WHERE cid = ?1 AND namespace_id = {owned}"))
                    .bind(cid)
                    .bind(namespace),
            ])
            .await?;
        Ok(removed.get(1).is_some_and(|r| r.rows_affected > 0))
    }

    /// The function of `namespace` whose module `cid` is, if any (such a pin is the function's
    /// and goes with its versions, not by unpinning).
    pub async fn module_of(&self, namespace: &str, cid: &str) -> Result<Option<String>, DbError> {
        let statement = Statement::new(
            "SELECT f.name FROM serverless_functions f JOIN namespaces n ON n.id = f.namespace_id \
             WHERE n.name = ? AND f.wasm_cid = ? LIMIT 1",
        )
        .bind(namespace)
        .bind(cid);
        let rows = self.db.query(statement).await?;
        Ok(rows.rows.first().and_then(|row| row.first()?.as_str().map(str::to_owned)))
    }

    /// Every CID some namespace pins.
    pub async fn all(&self) -> Result<Vec<String>, DbError> {
        let mut all: Vec<String> = Vec::new();
        loop {
            let after = all.last().cloned().unwrap_or_default();
            let page = Statement::new("SELECT DISTINCT cid FROM storage_pins WHERE cid > ? ORDER BY cid LIMIT 1000")
                .bind(after);
            let rows = self.db.query(page).await?;
            let before = all.len();
            all.extend(rows.rows.iter().filter_map(|row| row.first()?.as_str().map(str::to_owned)));
            if all.len() - before < 1000 {
                return Ok(all);
            }
        }
    }

    /// Whether anything keeps `cid`: a namespace's pin, or a function version whose module it
    /// is (so no tenant can make the engine drop another's module by pinning and unpinning it).
    pub async fn pinned_anywhere(&self, cid: &str) -> Result<bool, DbError> {
        let statement = Statement::new(
            "SELECT 1 FROM storage_pins WHERE cid = ?1 UNION ALL SELECT 1 FROM serverless_functions WHERE wasm_cid = ?1 LIMIT 1",
        )
        .bind(cid);
        Ok(!self.db.query(statement).await?.is_empty())
    }

    /// `namespace`'s pin of `cid`, if any.
    pub async fn get(&self, namespace: &str, cid: &str) -> Result<Option<Pin>, DbError> {
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT p.name, p.size FROM storage_pins p JOIN namespaces n ON n.id = p.namespace_id \
                     WHERE n.name = ? AND p.cid = ?",
                )
                .bind(namespace)
                .bind(cid),
            )
            .await?;
        Ok(rows.rows.first().map(|row| Pin {
            name: row.first().and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
            size: row.get(1).and_then(|v| v.as_i64()).unwrap_or(0) as u64,
        }))
    }
}
