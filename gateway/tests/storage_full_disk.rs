//! The embedded storage engine on a disk that fills up mid-upload: the upload fails with
//! `StorageError::Full`, no file becomes readable at its address, and what was stored before
//! still reads back. The disk is a 4 MiB tmpfs mounted for the test (this needs root, as the
//! test machines run; elsewhere the test says it was skipped and why).

use std::process::Command;

use bytes::Bytes;
use futures_util::StreamExt;
use orama_gateway::storage::cid::CidVersion;
use orama_gateway::storage::embedded::EmbeddedStorage;
use orama_gateway::storage::unixfs::cid_of;
use orama_gateway::storage::{ByteStream, StorageEngine, StorageError};

struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn stream_of(data: Vec<u8>) -> ByteStream {
    let pieces: Vec<Result<Bytes, StorageError>> =
        data.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures_util::stream::iter(pieces))
}

#[tokio::test]
async fn a_full_disk_fails_the_upload_and_exposes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(dir.path()).output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot mount a tmpfs here (needs root): {mounted:?}");
        return;
    }
    let _mount = Tmpfs(dir.path().to_owned());
    let storage = EmbeddedStorage::open(&dir.path().join("storage"), 1 << 30).expect("open");
    let small: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let kept = storage.add(stream_of(small.clone()), CidVersion::V0).await.expect("a small file fits");

    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let big: Vec<u8> = (0..8 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let err = storage.add(stream_of(big.clone()), CidVersion::V0).await.expect_err("8 MiB on a 4 MiB disk");
    assert_eq!(err, StorageError::Full);
    assert_eq!(storage.size(cid_of(&big).0).await.expect("size"), None, "no object at the big file's address");

    let mut read = Vec::new();
    let mut stream = storage.read(kept.cid, 0..kept.size).await.expect("read");
    while let Some(chunk) = stream.next().await {
        read.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(read, small, "what was stored before is intact");
}
