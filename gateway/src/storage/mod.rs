//! The storage API (`/v1/storage/*`, REFERENCE-API §4.6): files addressed by content, with
//! pins kept per namespace. [`cid`] is the address (CIDv0 and CIDv1), [`unixfs`] builds Kubo-identical DAGs, [`dag`] reads them back
//! (ranges included), [`blocks`] keeps blocks on disk, [`embedded`] is the engine over both,
//! [`kubo`] the engine over an IPFS node's RPC API, [`cluster`] its pins replicated by an
//! IPFS Cluster,
//! [`pins`] the namespaces' pin records in the system store, and [`routes`] the endpoints.
//!
//! Content is public by address, as on IPFS: any caller can fetch any CID the node holds. What
//! is per namespace is the pin: a namespace can only pin, unpin and ask about its own pins.

pub mod blocks;
pub mod cid;
pub mod cluster;
pub mod collection;
pub mod dag;
pub mod download;
pub mod embedded;
mod engine;
pub mod hot;
pub mod kubo;
pub mod pins;
pub mod routes;
pub mod setup;
pub mod unixfs;
pub mod upload;
pub mod uploads;

pub use engine::{Added, ByteStream, ReadStream, Replication, StorageEngine, StorageError, StorageFuture};
