//! What an upload may store, enforced while it streams.
//!
//! A namespace's usage is its pins plus its recent uploads: every upload holds a reservation
//! row in the system store that grows ahead of the bytes it lets through, by one conditional
//! UPDATE checking the namespace's quota, so concurrent uploads cannot together pass it, and an
//! upload is cut the moment it would. A pinned upload's reservation becomes its pin (one
//! transaction); an unpinned upload, or one that failed half-way, keeps a reservation for the
//! bytes that reached the engine until [`RESERVATION_LIFE`] has passed, by when the embedded
//! store's collection has deleted its unpinned blocks. (An IPFS node collects unpinned blocks
//! with its own garbage collection, when that is enabled.)
//!
//! Beside the quota, a node-wide floor of free disk (`backends.storage.min_free_disk`): an
//! upload is refused with 507 before it starts, and cut while it streams, once the data
//! directory's filesystem has less than that free.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::api_keys::unix_now;
use crate::database::{Database, DbError, Statement};

/// How far a reservation grows ahead of the bytes received (one store write per step).
const STEP: u64 = 1024 * 1024;
/// How long a reservation counts: the collection's grace, plus one collection interval.
pub const RESERVATION_LIFE: Duration = Duration::from_secs(3600 + 600);

/// Why an upload may not go on.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The namespace would pass its quota.
    #[error("namespace storage quota of {0} bytes exceeded")]
    OverQuota(u64),
    /// The node's disk is nearly full.
    #[error("the node's disk is nearly full (less than {0} bytes free, backends.storage.min_free_disk)")]
    DiskFloor(u64),
    /// The system store failed.
    #[error(transparent)]
    Store(#[from] DbError),
}

/// The bounds every upload is held to.
#[derive(Clone)]
pub struct UploadBounds {
    db: Arc<dyn Database>,
    /// Bytes one namespace may keep (pins and recent uploads).
    pub quota: u64,
    disk: PathBuf,
    min_free_disk: u64,
}

impl std::fmt::Debug for UploadBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadBounds").field("quota", &self.quota).field("min_free_disk", &self.min_free_disk).finish()
    }
}

/// One upload's reservation.
#[derive(Debug)]
pub struct Reservation {
    /// Its row, which a pin replaces.
    pub id: i64,
    namespace: String,
    reserved: u64,
    received: u64,
}

impl UploadBounds {
    /// Bounds checked in `db`: `quota` per namespace, and `min_free_disk` bytes kept free on the
    /// filesystem of `disk`.
    pub fn new(db: Arc<dyn Database>, quota: u64, disk: PathBuf, min_free_disk: u64) -> UploadBounds {
        UploadBounds { db, quota, disk, min_free_disk }
    }

    /// Opens a reservation for an upload by `namespace` (nothing reserved yet).
    pub async fn open(&self, namespace: &str) -> Result<Reservation, Refusal> {
        self.check_disk(0)?;
        let now = unix_now();
        let results = self
            .db
            .transaction(vec![
                Statement::new("INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)")
                    .bind(namespace)
                    .bind(now),
                Statement::new(
                    "INSERT INTO storage_uploads (namespace_id, bytes, created_at) \
                     SELECT id, 0, ? FROM namespaces WHERE name = ?",
                )
                .bind(now)
                .bind(namespace),
            ])
            .await?;
        let id = results.get(1).map(|r| r.last_insert_id).ok_or_else(|| DbError::Internal("no reservation".into()))?;
        Ok(Reservation { id, namespace: namespace.to_owned(), reserved: 0, received: 0 })
    }

    /// Admits `bytes` more of the upload: grows the reservation when they pass it, refusing
    /// when the namespace's quota or the disk floor would be crossed.
    pub async fn admit(&self, reservation: &mut Reservation, bytes: u64) -> Result<(), Refusal> {
        let needed = reservation.received + bytes;
        if needed > reservation.reserved {
            self.check_disk(needed - reservation.reserved)?;
            if !self.grow(reservation, needed + STEP).await? && !self.grow(reservation, needed).await? {
                return Err(Refusal::OverQuota(self.quota));
            }
        }
        reservation.received = needed;
        Ok(())
    }

    /// Sets the reservation to `to` bytes if the namespace stays within its quota.
    async fn grow(&self, reservation: &mut Reservation, to: u64) -> Result<bool, DbError> {
        let live_since = unix_now() - RESERVATION_LIFE.as_secs() as i64;
        // Growing also renews the reservation's life: a long upload keeps counting.
        let statement = Statement::new(
            "UPDATE storage_uploads SET bytes = ?1, created_at = ?5 WHERE id = ?2 AND \
             (SELECT COALESCE(SUM(size), 0) FROM storage_pins WHERE namespace_id = storage_uploads.namespace_id) + \
             (SELECT COALESCE(SUM(u.bytes), 0) FROM storage_uploads u WHERE u.namespace_id = storage_uploads.namespace_id \
              AND u.id <> ?2 AND u.created_at > ?3) + ?1 <= ?4",
        )
        .bind(i64::try_from(to).unwrap_or(i64::MAX))
        .bind(reservation.id)
        .bind(live_since)
        .bind(i64::try_from(self.quota).unwrap_or(i64::MAX))
        .bind(unix_now());
        let grown = self.db.execute(statement).await?.rows_affected == 1;
        if grown {
            reservation.reserved = to;
        }
        Ok(grown)
    }

    /// Ends an upload that is not pinned (or failed): its reservation shrinks to the bytes that
    /// reached the engine, which count until they are collected.
    pub async fn settle(&self, reservation: Reservation) {
        let statement = Statement::new("UPDATE storage_uploads SET bytes = ?, created_at = ? WHERE id = ?")
            .bind(i64::try_from(reservation.received).unwrap_or(i64::MAX))
            .bind(unix_now())
            .bind(reservation.id);
        if let Err(err) = self.db.execute(statement).await {
            tracing::warn!(error = %err, namespace = %reservation.namespace, "cannot settle an upload reservation");
        }
    }

    /// Refuses when the disk would keep less than the floor after `more` bytes.
    pub fn check_disk(&self, more: u64) -> Result<(), Refusal> {
        match rustix::fs::statvfs(&self.disk) {
            Ok(fs) if fs.f_bavail.saturating_mul(fs.f_frsize) < self.min_free_disk.saturating_add(more) => {
                Err(Refusal::DiskFloor(self.min_free_disk))
            }
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, disk = %self.disk.display(), "cannot read free disk space");
                Ok(())
            }
        }
    }

    /// Drops reservations past their life (run with the storage collection).
    pub async fn expire(&self) -> Result<u64, DbError> {
        let before = unix_now() - RESERVATION_LIFE.as_secs() as i64;
        let statement = Statement::new("DELETE FROM storage_uploads WHERE created_at <= ?").bind(before);
        Ok(self.db.execute(statement).await?.rows_affected)
    }
}

/// Every ten minutes, drops reservations past their life, until `shutdown`.
pub async fn expire_reservations(bounds: UploadBounds, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        match bounds.expire().await {
            Ok(0) => {}
            Ok(expired) => tracing::debug!(expired, "upload reservations expired"),
            Err(err) => tracing::warn!(error = %err, "cannot expire upload reservations"),
        }
    }
}
