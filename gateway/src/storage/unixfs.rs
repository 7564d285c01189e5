//! UnixFS files as Kubo's defaults build them, so content keeps its address across engines:
//! 256 KiB chunks, dag-pb nodes (links before data, as dag-pb's canonical form), the balanced
//! layout with at most 174 links per node. CIDv0 files have dag-pb leaves; CIDv1 files have raw
//! leaves, as `ipfs add --cid-version 1` makes them. A file that fits in one chunk is a single
//! leaf. [`FileBuilder`] takes the file in pieces of any size and
//! hands out each block as soon as it is complete, so memory stays bounded by one chunk plus
//! one pending node per tree level.

use super::cid::{Cid, CidVersion, Codec};

/// Bytes per leaf.
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Most links in one node.
pub const MAX_LINKS: usize = 174;

/// An encoded block and its address.
#[derive(Debug, Clone)]
pub struct Block {
    /// Its address.
    pub cid: Cid,
    /// The dag-pb bytes.
    pub bytes: Vec<u8>,
}

/// A child as its parent links it.
#[derive(Debug, Clone, Copy)]
struct Link {
    cid: Cid,
    /// The child's encoded size plus everything below it (dag-pb `Tsize`).
    tsize: u64,
    /// File bytes under the child.
    filesize: u64,
}

/// Builds one file's DAG from its bytes in order.
#[derive(Debug, Default)]
pub struct FileBuilder {
    version: CidVersion,
    chunk: Vec<u8>,
    /// Complete nodes waiting for a parent, by height (0: leaves).
    levels: Vec<Vec<Link>>,
}

impl FileBuilder {
    /// A builder for an empty CIDv0 file.
    pub fn new() -> Self {
        FileBuilder::with_version(CidVersion::V0)
    }

    /// A builder for an empty file addressed as `version`.
    pub fn with_version(version: CidVersion) -> Self {
        FileBuilder { version, chunk: Vec::with_capacity(CHUNK_SIZE), levels: Vec::new() }
    }

    /// Appends `data`; every block completed by it goes to `sink`.
    pub fn write<E>(&mut self, mut data: &[u8], sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        while !data.is_empty() {
            let take = (CHUNK_SIZE - self.chunk.len()).min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.chunk.len() == CHUNK_SIZE {
                self.flush_chunk(sink)?;
            }
        }
        Ok(())
    }

    /// Completes the file: the remaining blocks go to `sink`; returns the root and file size.
    pub fn finish<E>(mut self, sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(Cid, u64), E> {
        if !self.chunk.is_empty() || self.levels.is_empty() {
            self.flush_chunk(sink)?;
        }
        let mut height = 0;
        loop {
            let is_top = self.levels[height + 1..].iter().all(Vec::is_empty);
            let pending = std::mem::take(&mut self.levels[height]);
            match pending.len() {
                1 if is_top => return Ok((pending[0].cid, pending[0].filesize)),
                0 => {}
                _ => {
                    let parent = self.emit_parent(&pending, sink)?;
                    self.push(height + 1, parent, sink)?;
                }
            }
            height += 1;
        }
    }

    fn flush_chunk<E>(&mut self, sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        let data = std::mem::take(&mut self.chunk);
        let length = data.len() as u64;
        let link = match self.version {
            CidVersion::V0 => emit(Cid::of, leaf_node(&data), sink, (0, length))?,
            CidVersion::V1 => emit(|b| Cid::v1_of(Codec::Raw, b), data, sink, (0, length))?,
        };
        self.chunk.reserve(CHUNK_SIZE);
        self.push(0, link, sink)
    }

    fn emit_parent<E>(&self, links: &[Link], sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<Link, E> {
        let node = parent_node(links);
        match self.version {
            CidVersion::V0 => emit(Cid::of, node, sink, total(links)),
            CidVersion::V1 => emit(|b| Cid::v1_of(Codec::DagPb, b), node, sink, total(links)),
        }
    }

    /// Adds `link` at `height`; a full level becomes a node one level up.
    fn push<E>(&mut self, height: usize, link: Link, sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        if self.levels.len() <= height + 1 {
            self.levels.resize_with(height + 2, Vec::new);
        }
        self.levels[height].push(link);
        if self.levels[height].len() == MAX_LINKS {
            let full = std::mem::take(&mut self.levels[height]);
            let parent = self.emit_parent(&full, sink)?;
            self.push(height + 1, parent, sink)?;
        }
        Ok(())
    }
}

/// (Tsize of the children, file bytes under them).
fn total(links: &[Link]) -> (u64, u64) {
    links.iter().fold((0, 0), |(t, f), l| (t + l.tsize, f + l.filesize))
}

/// Hands `bytes` to `sink` as a block addressed by `address`; its link. A raw leaf is all
/// file bytes (`below` is `(0, len)`), so its `Tsize` is its length.
fn emit<E>(
    address: impl Fn(&[u8]) -> Cid,
    bytes: Vec<u8>,
    sink: &mut impl FnMut(Block) -> Result<(), E>,
    below: (u64, u64),
) -> Result<Link, E> {
    let (cid, tsize) = (address(&bytes), bytes.len() as u64 + below.0);
    sink(Block { cid, bytes })?;
    Ok(Link { cid, tsize, filesize: below.1 })
}

/// UnixFS `Data` for a file: type, optional bytes, filesize, blocksizes.
fn unixfs_file(data: &[u8], filesize: u64, blocksizes: &[u64]) -> Vec<u8> {
    let mut out = vec![0x08, 0x02];
    if !data.is_empty() {
        out.push(0x12);
        varint(&mut out, data.len() as u64);
        out.extend_from_slice(data);
    }
    out.push(0x18);
    varint(&mut out, filesize);
    for size in blocksizes {
        out.push(0x20);
        varint(&mut out, *size);
    }
    out
}

fn leaf_node(data: &[u8]) -> Vec<u8> {
    pb_node(&[], &unixfs_file(data, data.len() as u64, &[]))
}

fn parent_node(links: &[Link]) -> Vec<u8> {
    let sizes: Vec<u64> = links.iter().map(|l| l.filesize).collect();
    pb_node(links, &unixfs_file(&[], sizes.iter().sum(), &sizes))
}

/// A dag-pb node: each link (`Hash`, empty `Name`, `Tsize`), then `Data`.
fn pb_node(links: &[Link], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + links.len() * 48 + 8);
    for link in links {
        let hash = link.cid.to_bytes();
        let mut encoded = vec![0x0a, hash.len() as u8];
        encoded.extend_from_slice(&hash);
        encoded.extend_from_slice(&[0x12, 0x00, 0x18]);
        varint(&mut encoded, link.tsize);
        out.push(0x12);
        varint(&mut out, encoded.len() as u64);
        out.extend_from_slice(&encoded);
    }
    out.push(0x0a);
    varint(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The CID and size of `data` as one CIDv0 file (all blocks discarded).
pub fn cid_of(data: &[u8]) -> (Cid, u64) {
    cid_as(CidVersion::V0, data)
}

/// The CID and size of `data` as one file addressed as `version` (all blocks discarded).
pub fn cid_as(version: CidVersion, data: &[u8]) -> (Cid, u64) {
    let mut builder = FileBuilder::with_version(version);
    let mut discard = |_: Block| Ok::<(), std::convert::Infallible>(());
    let Ok(()) = builder.write(data, &mut discard);
    let Ok(root) = builder.finish(&mut discard);
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_match_kubo() {
        assert_eq!(cid_of(b"").0.to_string(), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
        assert_eq!(cid_of(b"hello").0.to_string(), "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX");
        let parsed = Cid::parse("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX").expect("cid");
        assert_eq!(parsed, cid_of(b"hello").0);
    }

    /// The addresses js-ipfs gives with `add --cid-version 1` (raw leaves): one raw block for a
    /// small file, a CIDv1 dag-pb root over raw leaves for a larger one. The end-to-end tests
    /// check the same against a running node.
    #[test]
    fn cidv1_files_match_ipfs_add_cid_version_1() {
        let v1 = |data: &[u8]| cid_as(CidVersion::V1, data).0.to_string();
        assert_eq!(v1(b"hello"), "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq");
        assert_eq!(v1(b""), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        assert_eq!(v1(&data), "bafybeiheixfregxmltbpl4oy3x5uosumv3wsbel775njenjafu5ib5khh4");
        assert_eq!(cid_of(&data).0.to_string(), "QmY3PqADtoqRTvRP3fVco3TFMRWjc9g8kSNKpG8uqhBAaf");
    }

    #[test]
    fn pieces_of_any_size_give_the_same_dag() {
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let whole = cid_of(&data);
        let mut builder = FileBuilder::new();
        let mut blocks = 0;
        let mut count = |_: Block| {
            blocks += 1;
            Ok::<(), std::convert::Infallible>(())
        };
        for piece in data.chunks(12_345) {
            let Ok(()) = builder.write(piece, &mut count);
        }
        let Ok(root) = builder.finish(&mut count);
        assert_eq!(root, whole);
        assert_eq!(root.1, 700_000);
        assert_eq!(blocks, 4, "three leaves and a root");
    }
}
