//! Reading UnixFS files back: dag-pb nodes decoded just enough to follow a file (links, the
//! node's own bytes, the children's sizes), and a walk that emits a byte range while skipping
//! every subtree outside it, so a `Range` read touches only the blocks it needs. Nodes built by
//! Kubo read the same way (data in inner nodes, trickle layout, packed or unpacked sizes, raw
//! leaves and raw single-block files of CIDv1).

use std::ops::Range;

use super::blocks::BlockStore;
use super::cid::{Cid, Codec};
use super::engine::StorageError;

/// A file node: its own bytes, then its children in order with their file sizes.
#[derive(Debug, Default, PartialEq)]
pub struct FileNode {
    /// Bytes this node holds itself (before its children's).
    pub data: Vec<u8>,
    /// Children and the file bytes under each.
    pub children: Vec<(Cid, u64)>,
    /// File bytes under this node, own and children's.
    pub filesize: u64,
}

/// Decodes the block at `cid`: a raw block is all file bytes; a dag-pb one holds a UnixFS file
/// or raw node.
pub fn decode_block(cid: &Cid, block: Vec<u8>) -> Result<FileNode, StorageError> {
    match cid.codec {
        Codec::Raw => Ok(FileNode { filesize: block.len() as u64, data: block, children: Vec::new() }),
        Codec::DagPb => decode(&block),
    }
}

/// Decodes a dag-pb block holding a UnixFS file or raw node.
pub fn decode(block: &[u8]) -> Result<FileNode, StorageError> {
    let bad = |what: &str| StorageError::Unreadable(what.to_owned());
    let mut links = Vec::new();
    let mut unixfs: &[u8] = &[];
    for field in Fields(block) {
        match field.map_err(|()| bad("malformed dag-pb node"))? {
            (2, Value::Bytes(link)) => links.push(link_hash(link).ok_or_else(|| bad("malformed link"))?),
            (1, Value::Bytes(data)) => unixfs = data,
            _ => {}
        }
    }
    let mut node = FileNode::default();
    let mut sizes = Vec::new();
    let mut kind = None;
    for field in Fields(unixfs) {
        match field.map_err(|()| bad("malformed UnixFS data"))? {
            (1, Value::Varint(t)) => kind = Some(t),
            (2, Value::Bytes(data)) => node.data = data.to_vec(),
            (3, Value::Varint(size)) => node.filesize = size,
            (4, Value::Varint(size)) => sizes.push(size),
            (4, Value::Bytes(packed)) => sizes.extend(Varints(packed)),
            _ => {}
        }
    }
    match kind {
        Some(0 | 2) => {}
        Some(_) => return Err(bad("not a file (a directory or symlink)")),
        None => return Err(bad("not UnixFS")),
    }
    if sizes.len() != links.len() {
        return Err(bad("links and block sizes disagree"));
    }
    let total = sizes.iter().try_fold(node.data.len() as u64, |sum, size| sum.checked_add(*size));
    let total = total.ok_or_else(|| bad("block sizes overflow"))?;
    if node.filesize == 0 {
        node.filesize = total;
    }
    node.children = links.into_iter().zip(sizes).collect();
    Ok(node)
}

/// Emits the bytes `range` of the file at `root` to `emit`, in order, until `emit` says stop.
pub fn read_range(
    blocks: &BlockStore,
    root: Cid,
    range: Range<u64>,
    emit: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), StorageError> {
    walk(blocks, root, range, emit, 0).map(drop)
}

/// Adds `root` and every block below it to `marked` (as [`Cid::key`]s: a raw block and a
/// dag-pb one of the same hash are different blocks); a missing block is skipped (nothing to
/// keep), an unreadable one is an error so a collection does not go on half-informed.
pub fn mark(blocks: &BlockStore, root: Cid, marked: &mut std::collections::HashSet<Cid>) -> Result<(), StorageError> {
    let mut pending = vec![root];
    while let Some(cid) = pending.pop() {
        if !marked.insert(cid.key()) || cid.codec == Codec::Raw {
            continue;
        }
        match blocks.get(&cid) {
            Ok(block) => pending.extend(decode(&block)?.children.into_iter().map(|(child, _)| child)),
            Err(StorageError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Returns whether to go on.
fn walk(
    blocks: &BlockStore,
    cid: Cid,
    range: Range<u64>,
    emit: &mut dyn FnMut(Vec<u8>) -> bool,
    depth: usize,
) -> Result<bool, StorageError> {
    if depth > 64 {
        return Err(StorageError::Unreadable("the DAG is too deep".into()));
    }
    let node = decode_block(&cid, blocks.get(&cid)?)?;
    let own = node.data.len() as u64;
    if range.start < own {
        let (start, end) = (range.start as usize, range.end.min(own) as usize);
        let slice = if start == 0 && end == node.data.len() { node.data } else { node.data[start..end].to_vec() };
        if !slice.is_empty() && !emit(slice) {
            return Ok(false);
        }
    }
    let mut offset = own;
    for (child, size) in node.children {
        let end = offset.checked_add(size).ok_or_else(|| StorageError::Unreadable("block sizes overflow".into()))?;
        let start = offset;
        offset = end;
        if end <= range.start {
            continue;
        }
        if start >= range.end {
            break;
        }
        let inner = range.start.saturating_sub(start)..range.end.min(end) - start;
        if !walk(blocks, child, inner, emit, depth + 1)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A protobuf field's value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of a protobuf message (varint and length-delimited only; others are errors).
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        Some((|| {
            let key = take_varint(&mut self.0)?;
            let value = match key & 7 {
                0 => Value::Varint(take_varint(&mut self.0)?),
                2 => {
                    let len = usize::try_from(take_varint(&mut self.0)?).map_err(drop)?;
                    let bytes = self.0.get(..len).ok_or(())?;
                    self.0 = &self.0[len..];
                    Value::Bytes(bytes)
                }
                _ => return Err(()),
            };
            Ok((key >> 3, value))
        })())
    }
}

struct Varints<'a>(&'a [u8]);

impl Iterator for Varints<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.0.is_empty() { None } else { take_varint(&mut self.0).ok() }
    }
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, ()> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    Err(())
}

fn link_hash(link: &[u8]) -> Option<Cid> {
    Fields(link).find_map(|field| match field {
        Ok((1, Value::Bytes(hash))) => Cid::from_bytes(hash),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::cid::CidVersion;
    use crate::storage::unixfs::{Block, FileBuilder};

    fn store(version: CidVersion, data: &[u8]) -> (tempfile::TempDir, BlockStore, Cid) {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocks = BlockStore::open(dir.path()).expect("open");
        let mut builder = FileBuilder::with_version(version);
        let mut sink = |b: Block| blocks.put(&b);
        builder.write(data, &mut sink).expect("write");
        let (cid, _) = builder.finish(&mut sink).expect("finish");
        (dir, blocks, cid)
    }

    #[test]
    fn any_range_reads_back_exactly() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        for version in [CidVersion::V0, CidVersion::V1] {
            let (_dir, blocks, root) = store(version, &data);
            reads_back(&blocks, root, &data);
            assert_eq!(decode_block(&root, blocks.get(&root).expect("root")).expect("node").filesize, 1_000_000);
            // A CIDv1 of the same root (or a CIDv0 of it) reads the same file.
            let other = root.as_version(if root.v1 { CidVersion::V0 } else { CidVersion::V1 });
            reads_back(&blocks, other, &data);
        }
        let (_dir, blocks, root) = store(CidVersion::V1, &data[..1000]);
        assert_eq!(root.codec, crate::storage::cid::Codec::Raw, "one chunk is one raw block");
        reads_back(&blocks, root, &data[..1000]);
        // A tenant's raw bytes are never read as a dag-pb node, whatever CID names them.
        let as_node = Cid { codec: crate::storage::cid::Codec::DagPb, v1: false, ..root };
        assert!(matches!(blocks.get(&as_node), Err(StorageError::NotFound(_))));
    }

    fn reads_back(blocks: &BlockStore, root: Cid, data: &[u8]) {
        let len = data.len() as u64;
        for range in [0..len, 0..1, 262_143.min(len)..262_145.min(len), len / 2..len - 1, len - 1..len, 10..10] {
            let mut out = Vec::new();
            read_range(blocks, root, range.clone(), &mut |bytes| {
                out.extend(bytes);
                true
            })
            .expect("read");
            assert_eq!(out, data[range.start as usize..range.end as usize], "{root} {range:?}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for junk in [&b"\xff\xff\xff"[..], b"\x0a\x05abc", b"\x12\x01", b"\x0a\x02\x08\x01"] {
            assert!(decode(junk).is_err(), "{junk:?}");
        }
    }
}
