//! The storage API's context, and how it is opened as `backends.storage` says: the engine
//! (the embedded block store, or an IPFS node with an optional IPFS Cluster), the pins, and
//! the bounds uploads are held to.

use std::path::Path;
use std::sync::Arc;

use orama_service::config::StorageEngine as EngineChoice;

use super::cluster::ClusteredStorage;
use super::embedded::EmbeddedStorage;
use super::hot::HotContent;
use super::kubo::KuboStorage;
use super::pins::Pins;
use super::uploads::UploadBounds;
use super::{engine::StorageEngine, engine::StorageError};
use crate::database::Database;

/// What the storage routes need.
#[derive(Clone)]
pub struct StorageContext {
    /// The engine.
    pub engine: Arc<dyn StorageEngine>,
    /// The namespaces' pins.
    pub pins: Pins,
    /// The quota and disk floor uploads are held to.
    pub bounds: UploadBounds,
    /// Hot content in memory, in front of the engine.
    pub hot: HotContent,
}

impl std::fmt::Debug for StorageContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageContext").field("engine", &self.engine.engine()).finish_non_exhaustive()
    }
}

/// The storage API's engine and pins, and the embedded engine again for its collections.
pub fn open(
    config: &orama_service::config::StorageBackendConfig,
    data_dir: &Path,
    store: &Arc<dyn Database>,
) -> Result<(StorageContext, Option<EmbeddedStorage>), StorageError> {
    let (engine, embedded): (Arc<dyn StorageEngine>, _) = match config.engine {
        EngineChoice::Embedded => {
            let embedded = EmbeddedStorage::open(&data_dir.join("storage"), config.max_upload_bytes)?;
            (Arc::new(embedded.clone()), Some(embedded))
        }
        EngineChoice::Ipfs => {
            let api = config.api_url.as_deref().unwrap_or("http://127.0.0.1:5001");
            let node = KuboStorage::new(api, config.timeout, config.max_upload_bytes)?;
            let engine: Arc<dyn StorageEngine> = match &config.cluster_url {
                Some(cluster) => {
                    Arc::new(ClusteredStorage::new(node, cluster, config.replication_factor, config.timeout)?)
                }
                None => Arc::new(node),
            };
            (engine, None)
        }
    };
    let pins = Pins::new(store.clone());
    let bounds = UploadBounds::new(store.clone(), config.namespace_quota, data_dir.to_owned(), config.min_free_disk);
    let hot = HotContent::new(config.cache_bytes, config.cache_max_file);
    Ok((StorageContext { engine, pins, bounds, hot }, embedded))
}
