//! The embedded engine: files become Kubo-identical DAGs in the [`BlockStore`]. An upload
//! streams through a bounded channel into a blocking worker that chunks, hashes and writes as
//! the bytes arrive, so memory stays flat whatever the size; the disk is synced before the
//! upload is reported stored. A read walks the DAG on a blocking thread and streams the range.

use std::ops::Range;
use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::blocks::BlockStore;
use super::cid::{Cid, CidVersion};
use super::unixfs::{Block, FileBuilder};
use super::{
    dag, engine::Added, engine::ByteStream, engine::ReadStream, engine::StorageEngine, engine::StorageError,
    engine::StorageFuture,
};

/// Pieces of an upload in flight between the request and the worker.
const UPLOAD_QUEUE: usize = 16;
/// Pieces of a read in flight between the walker and the response.
const READ_QUEUE: usize = 4;

/// What the request sends the upload worker.
enum Piece {
    Data(Bytes),
    /// The upload failed: store nothing as a file.
    Abort,
}

/// The block store as a storage engine.
#[derive(Debug, Clone)]
pub struct EmbeddedStorage {
    blocks: BlockStore,
    max_upload: u64,
}

impl EmbeddedStorage {
    /// Blocks under `dir`; uploads up to `max_upload` bytes.
    pub fn open(dir: &Path, max_upload: u64) -> Result<Self, StorageError> {
        Ok(EmbeddedStorage { blocks: BlockStore::open(dir)?, max_upload })
    }

    /// The block store.
    pub fn blocks(&self) -> &BlockStore {
        &self.blocks
    }

    /// Deletes the blocks of files no namespace pins (`pinned` are the roots to keep), except
    /// those written within `grace` (uploads in flight, files not pinned yet); returns
    /// (files removed, bytes freed).
    pub async fn collect(&self, pinned: Vec<Cid>, grace: std::time::Duration) -> Result<(usize, u64), StorageError> {
        let blocks = self.blocks.clone();
        let work = tokio::task::spawn_blocking(move || {
            let mut keep = std::collections::HashSet::new();
            for root in pinned {
                dag::mark(&blocks, root, &mut keep)?;
            }
            blocks.sweep(&keep, grace)
        });
        work.await.map_err(|e| StorageError::Internal(format!("collection: {e}")))?
    }

    async fn add_stream(&self, mut content: ByteStream, version: CidVersion) -> Result<Added, StorageError> {
        let (sender, mut receiver) = mpsc::channel::<Piece>(UPLOAD_QUEUE);
        let blocks = self.blocks.clone();
        let worker = tokio::task::spawn_blocking(move || {
            let mut builder = FileBuilder::with_version(version);
            let mut sink = |block: Block| blocks.put(&block);
            while let Some(piece) = receiver.blocking_recv() {
                match piece {
                    Piece::Data(bytes) => builder.write(&bytes, &mut sink)?,
                    Piece::Abort => return Ok(None),
                }
            }
            builder.finish(&mut sink).map(Some)
        });
        let (mut received, mut failure) = (0u64, None);
        while let Some(item) = content.next().await {
            let bytes = match item {
                Ok(bytes) => bytes,
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            };
            received += bytes.len() as u64;
            if received > self.max_upload {
                failure = Some(StorageError::TooLarge(self.max_upload));
                break;
            }
            if sender.send(Piece::Data(bytes)).await.is_err() {
                break;
            }
        }
        if failure.is_some() {
            let _ = sender.send(Piece::Abort).await;
        }
        drop(sender);
        let built = worker.await.map_err(|e| StorageError::Internal(format!("upload worker: {e}")))?;
        if let Some(err) = failure {
            return Err(err);
        }
        let (cid, size) = built?.ok_or_else(|| StorageError::Internal("the upload was abandoned".into()))?;
        let blocks = self.blocks.clone();
        tokio::task::spawn_blocking(move || blocks.sync())
            .await
            .map_err(|e| StorageError::Internal(format!("sync: {e}")))??;
        Ok(Added { cid, size })
    }
}

impl StorageEngine for EmbeddedStorage {
    fn add(&self, content: ByteStream, version: CidVersion) -> StorageFuture<'_, Added> {
        Box::pin(self.add_stream(content, version))
    }

    fn size(&self, cid: Cid) -> StorageFuture<'_, Option<u64>> {
        let blocks = self.blocks.clone();
        Box::pin(async move {
            let found = tokio::task::spawn_blocking(move || match blocks.get(&cid) {
                Ok(block) => dag::decode_block(&cid, block).map(|node| Some(node.filesize)),
                Err(StorageError::NotFound(_)) => Ok(None),
                Err(err) => Err(err),
            });
            found.await.map_err(|e| StorageError::Internal(e.to_string()))?
        })
    }

    fn read(&self, cid: Cid, range: Range<u64>) -> StorageFuture<'_, ReadStream> {
        let blocks = self.blocks.clone();
        Box::pin(async move {
            let (sender, mut receiver) = mpsc::channel::<Result<Bytes, StorageError>>(READ_QUEUE);
            tokio::task::spawn_blocking(move || {
                let mut emit = |bytes: Vec<u8>| sender.blocking_send(Ok(Bytes::from(bytes))).is_ok();
                if let Err(err) = dag::read_range(&blocks, cid, range, &mut emit) {
                    let _ = sender.blocking_send(Err(err));
                }
            });
            let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
            Ok(Box::pin(stream) as ReadStream)
        })
    }

    /// Nothing to do: what is kept follows the pin records.
    fn pin(&self, _: Cid) -> StorageFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Nothing to do now: unreferenced blocks go at the next collection ([`Self::collect`]).
    fn unpin(&self, _: Cid) -> StorageFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn engine(&self) -> &'static str {
        "embedded"
    }
}
