//! What every storage engine offers ([`StorageEngine`]): adding streamed content, reading it, pinning; and their errors.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

use super::cid::{Cid, CidVersion};

/// Bytes in flight, with the failure that may cut them short.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;
/// A file's bytes on their way out (shareable, as response bodies need).
pub type ReadStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send + Sync>>;
/// A storage call in flight.
pub type StorageFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 'a>>;

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StorageError {
    /// The upload could not be read (the client went away or sent too much).
    #[error("{0}")]
    Upload(String),
    /// The upload is larger than allowed.
    #[error("upload larger than {0} bytes")]
    TooLarge(u64),
    /// The disk is full: nothing was stored.
    #[error("storage is full")]
    Full,
    /// The namespace's quota or the node's disk floor stopped the upload.
    #[error("{0}")]
    Refused(String),
    /// No such content here.
    #[error("content not found: {0}")]
    NotFound(String),
    /// The content is not a file this node can read.
    #[error("not a readable file: {0}")]
    Unreadable(String),
    /// The engine cannot be reached.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Something that should not happen.
    #[error("storage error: {0}")]
    Internal(String),
}

/// What an upload stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The file's address, in the version asked for.
    pub cid: Cid,
    /// Its length in bytes.
    pub size: u64,
}

/// How a pin is replicated across a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// `pinned`, or the least finished peer's state (`pinning`, `pin_queued`, `pin_error`, …).
    pub status: String,
    /// Peers holding or fetching it.
    pub peers: Vec<String>,
    /// How many peers.
    pub factor: usize,
}

/// A storage engine.
pub trait StorageEngine: Send + Sync + 'static {
    /// Stores the file streamed in `content`, built as `ipfs add` builds it for `version`.
    fn add(&self, content: ByteStream, version: CidVersion) -> StorageFuture<'_, Added>;
    /// The length of the file at `cid`, or `None` when this node does not hold it.
    fn size(&self, cid: Cid) -> StorageFuture<'_, Option<u64>>;
    /// The bytes `range` of the file at `cid`.
    fn read(&self, cid: Cid, range: Range<u64>) -> StorageFuture<'_, ReadStream>;
    /// Keeps `cid` (some namespace pins it).
    fn pin(&self, cid: Cid) -> StorageFuture<'_, ()>;
    /// Lets `cid` go (no namespace pins it any more).
    fn unpin(&self, cid: Cid) -> StorageFuture<'_, ()>;
    /// How `cid` is replicated, for engines that replicate (`None`: one copy, here).
    fn replication(&self, _cid: Cid) -> StorageFuture<'_, Option<Replication>> {
        Box::pin(async { Ok(None) })
    }
    /// The engine's name.
    fn engine(&self) -> &'static str;
}
