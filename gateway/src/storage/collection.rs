//! The embedded store's collection: blocks that no pin and no function's module reaches are
//! deleted once they are old enough that no upload in flight can still need them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::cid::Cid;
use super::embedded::EmbeddedStorage;
use super::pins::Pins;
use crate::database::DbError;

/// How often the embedded store's unpinned blocks are collected.
const STORAGE_COLLECTION: Duration = Duration::from_secs(600);
/// How old an unpinned block must be before it is collected.
const STORAGE_GRACE: Duration = Duration::from_secs(3600);

/// What keeps content in the embedded store: namespaces' pins and functions' modules.
pub struct Kept {
    /// Namespaces' pins.
    pub pins: Pins,
    /// Functions' modules, when the node runs functions.
    pub functions: Option<crate::functions::registry::Registry>,
    /// Hot content, emptied when a collection frees anything (it may hold what went).
    pub hot: super::hot::HotContent,
}

impl Kept {
    async fn cids(&self) -> Result<Vec<Cid>, DbError> {
        let mut cids = self.pins.all().await?;
        if let Some(functions) = &self.functions {
            cids.extend(functions.wasm_cids().await?);
        }
        Ok(cids.iter().filter_map(|c| Cid::parse(c)).collect())
    }
}

/// Every [`STORAGE_COLLECTION`], deletes the embedded store's blocks that no pin or function
/// reaches and that are older than [`STORAGE_GRACE`] (so uploads in flight and just-unpinned
/// files are safe).
pub async fn collect_every_while(embedded: EmbeddedStorage, kept: Kept, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(STORAGE_COLLECTION) => {}
        }
        let pinned = match kept.cids().await {
            Ok(cids) => cids,
            Err(err) => {
                tracing::warn!(error = %err, "storage collection skipped: cannot read the pins");
                continue;
            }
        };
        match embedded.collect(pinned, STORAGE_GRACE).await {
            Ok((files, bytes)) if files > 0 => {
                kept.hot.forget_all();
                tracing::info!(files, bytes, "storage collection freed unpinned blocks");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "storage collection failed"),
        }
    }
}
