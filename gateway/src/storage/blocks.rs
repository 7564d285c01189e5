//! Blocks on disk: `blocks/<shard>/<Cid::key>`: a dag-pb block under its CIDv0 text (so a
//! CIDv0 and a CIDv1 of it find the same file), a raw block under its CIDv1 text. The codec is
//! part of the name on purpose: a raw block holds whatever bytes a tenant uploaded, and must
//! never be read as a dag-pb node (a forged one could claim any size or reach other tenants'
//! blocks). Each block is written to a temporary file and renamed into
//! place, so a block is either whole or absent. A block already present is not rewritten
//! (content-addressed: same name, same bytes). A full disk is [`StorageError::Full`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::cid::Cid;
use super::engine::StorageError;
use super::unixfs::Block;

/// The block directory.
#[derive(Debug, Clone)]
pub struct BlockStore {
    dir: Arc<PathBuf>,
    temporary: Arc<AtomicU64>,
}

impl BlockStore {
    /// Blocks under `dir` (created if needed).
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| io_error(dir, &e))?;
        Ok(BlockStore { dir: Arc::new(dir.to_owned()), temporary: Arc::default() })
    }

    fn path(&self, cid: &Cid) -> PathBuf {
        let name = cid.key().to_string();
        let shard = &name[name.len() - 3..name.len() - 1];
        self.dir.join(shard).join(name)
    }

    /// Stores `block` unless it is already there.
    pub fn put(&self, block: &Block) -> Result<(), StorageError> {
        let path = self.path(&block.cid);
        if path.exists() {
            return Ok(());
        }
        let n = self.temporary.fetch_add(1, Ordering::Relaxed);
        let temporary = self.dir.join("tmp").join(format!("{}-{}-{n}", block.cid, std::process::id()));
        let written = (|| {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&block.bytes)?;
            if let Some(shard) = path.parent() {
                std::fs::create_dir_all(shard)?;
            }
            std::fs::rename(&temporary, &path)
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            io_error(&path, &e)
        })
    }

    /// The block at `cid`.
    pub fn get(&self, cid: &Cid) -> Result<Vec<u8>, StorageError> {
        std::fs::read(self.path(cid)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::NotFound(cid.to_string()),
            _ => io_error(&self.path(cid), &e),
        })
    }

    /// Whether the block at `cid` is here.
    pub fn has(&self, cid: &Cid) -> bool {
        self.path(cid).exists()
    }

    /// Removes every block not in `keep` (and abandoned temporary files) last written longer
    /// than `grace` ago, so uploads in progress are never touched; returns (files, bytes).
    pub fn sweep(
        &self,
        keep: &std::collections::HashSet<Cid>,
        grace: std::time::Duration,
    ) -> Result<(usize, u64), StorageError> {
        let cutoff = std::time::SystemTime::now().checked_sub(grace).unwrap_or(std::time::UNIX_EPOCH);
        let (mut files, mut bytes) = (0, 0);
        let entries = std::fs::read_dir(self.dir.as_path()).map_err(|e| io_error(&self.dir, &e))?;
        for shard in entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
            let is_tmp = shard.file_name() == "tmp";
            for entry in std::fs::read_dir(shard.path()).map_err(|e| io_error(&shard.path(), &e))?.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                let kept =
                    !is_tmp && entry.file_name().to_str().and_then(Cid::parse).is_some_and(|c| keep.contains(&c.key()));
                if kept || meta.modified().is_ok_and(|m| m > cutoff) {
                    continue;
                }
                if std::fs::remove_file(entry.path()).is_ok() {
                    files += 1;
                    bytes += meta.len();
                }
            }
        }
        Ok((files, bytes))
    }

    /// Flushes everything written so far to the disk.
    pub fn sync(&self) -> Result<(), StorageError> {
        let dir = std::fs::File::open(self.dir.as_path()).map_err(|e| io_error(&self.dir, &e))?;
        rustix::fs::syncfs(&dir).map_err(|e| io_error(&self.dir, &std::io::Error::from(e)))
    }
}

fn io_error(path: &Path, err: &std::io::Error) -> StorageError {
    if matches!(err.raw_os_error(), Some(28 | 122)) {
        return StorageError::Full;
    }
    StorageError::Internal(format!("{}: {err}", path.display()))
}
