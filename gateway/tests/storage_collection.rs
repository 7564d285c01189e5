//! The embedded store's collection: blocks reachable from a pinned file stay (also when an
//! unpinned file shares them), blocks of unpinned files go once older than the grace period,
//! and nothing written within it is touched.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use orama_gateway::storage::cid::CidVersion;
use orama_gateway::storage::embedded::EmbeddedStorage;
use orama_gateway::storage::{Added, StorageEngine, StorageError};

async fn add(storage: &EmbeddedStorage, data: &[u8]) -> Added {
    add_as(storage, data, CidVersion::V0).await
}

async fn add_as(storage: &EmbeddedStorage, data: &[u8], version: CidVersion) -> Added {
    let stream = futures_util::stream::iter(vec![Ok::<_, StorageError>(Bytes::copy_from_slice(data))]);
    storage.add(Box::pin(stream), version).await.expect("add")
}

async fn read(storage: &EmbeddedStorage, file: Added) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    let mut stream = storage.read(file.cid, 0..file.size).await?;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn unpinned_blocks_go_after_the_grace_period_and_pinned_ones_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = EmbeddedStorage::open(dir.path(), 1 << 30).expect("open");
    let shared_chunk = vec![7u8; 256 * 1024];
    let pinned_data = [shared_chunk.clone(), vec![1u8; 1000]].concat();
    let loose_data = [shared_chunk, vec![2u8; 300_000]].concat();
    let (pinned, loose) = (add(&storage, &pinned_data).await, add(&storage, &loose_data).await);

    let (removed, _) = storage.collect(vec![pinned.cid], Duration::from_secs(3600)).await.expect("collect");
    assert_eq!(removed, 0, "everything is younger than the grace period");
    assert_eq!(read(&storage, loose).await.expect("still there"), loose_data);

    let (removed, bytes) = storage.collect(vec![pinned.cid], Duration::ZERO).await.expect("collect");
    assert!(removed >= 2 && bytes > 300_000, "the loose file's own blocks went: {removed} files, {bytes} bytes");
    assert_eq!(storage.size(loose.cid).await.expect("size"), None);
    assert_eq!(read(&storage, pinned).await.expect("pinned file"), pinned_data, "including its shared chunk");
}

#[tokio::test]
async fn raw_leaves_of_a_pinned_cidv1_file_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = EmbeddedStorage::open(dir.path(), 1 << 30).expect("open");
    let (pinned_data, loose_data) = (vec![3u8; 600_000], vec![4u8; 600_000]);
    let pinned = add_as(&storage, &pinned_data, CidVersion::V1).await;
    let loose = add_as(&storage, &loose_data, CidVersion::V1).await;
    assert!(pinned.cid.to_string().starts_with("bafybei"), "{}", pinned.cid);
    let small = add_as(&storage, b"tiny", CidVersion::V1).await;
    assert!(small.cid.to_string().starts_with("bafkrei"), "{}", small.cid);

    let (removed, _) = storage.collect(vec![pinned.cid, small.cid], Duration::ZERO).await.expect("collect");
    assert!(removed >= 2, "the loose file's root and leaves went: {removed}");
    assert_eq!(storage.size(loose.cid).await.expect("size"), None);
    assert_eq!(read(&storage, pinned).await.expect("pinned file"), pinned_data, "raw leaves kept");
    assert_eq!(read(&storage, small).await.expect("raw file"), b"tiny");
}
