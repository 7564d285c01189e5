//! UnixFS files as Kubo's defaults build them, so content keeps its address across engines:
//! 256 KiB chunks, dag-pb nodes (links before data, as dag-pb's canonical form), the balanced
//! layout with at most 174 links per node, CIDv0 (base58 SHA-256 multihash). A file that fits
//! in one chunk is a single leaf node. [`FileBuilder`] takes the file in pieces of any size and
//! hands out each block as soon as it is complete, so memory stays bounded by one chunk plus
//! one pending node per tree level.

use sha2::{Digest, Sha256};

/// Bytes per leaf.
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Most links in one node.
pub const MAX_LINKS: usize = 174;

/// A content address: the SHA-256 multihash (`0x12 0x20` + digest), shown as CIDv0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cid(pub [u8; 34]);

impl Cid {
    /// The address of `block`.
    pub fn of(block: &[u8]) -> Cid {
        let mut multihash = [0u8; 34];
        multihash[0] = 0x12;
        multihash[1] = 0x20;
        multihash[2..].copy_from_slice(&Sha256::digest(block));
        Cid(multihash)
    }

    /// Parses a CIDv0 (`Qm…`, base58btc).
    pub fn parse(text: &str) -> Option<Cid> {
        if text.len() != 46 || !text.starts_with("Qm") {
            return None;
        }
        let bytes = bs58::decode(text).into_vec().ok()?;
        let multihash: [u8; 34] = bytes.try_into().ok()?;
        (multihash[0] == 0x12 && multihash[1] == 0x20).then_some(Cid(multihash))
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

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
    chunk: Vec<u8>,
    /// Complete nodes waiting for a parent, by height (0: leaves).
    levels: Vec<Vec<Link>>,
}

impl FileBuilder {
    /// A builder for an empty file.
    pub fn new() -> Self {
        FileBuilder { chunk: Vec::with_capacity(CHUNK_SIZE), levels: Vec::new() }
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
                    let parent = emit(parent_node(&pending), sink, total(&pending))?;
                    self.push(height + 1, parent, sink)?;
                }
            }
            height += 1;
        }
    }

    fn flush_chunk<E>(&mut self, sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        let data = std::mem::take(&mut self.chunk);
        let link = emit(leaf_node(&data), sink, (0, data.len() as u64))?;
        self.chunk.reserve(CHUNK_SIZE);
        self.push(0, link, sink)
    }

    /// Adds `link` at `height`; a full level becomes a node one level up.
    fn push<E>(&mut self, height: usize, link: Link, sink: &mut impl FnMut(Block) -> Result<(), E>) -> Result<(), E> {
        if self.levels.len() <= height + 1 {
            self.levels.resize_with(height + 2, Vec::new);
        }
        self.levels[height].push(link);
        if self.levels[height].len() == MAX_LINKS {
            let full = std::mem::take(&mut self.levels[height]);
            let parent = emit(parent_node(&full), sink, total(&full))?;
            self.push(height + 1, parent, sink)?;
        }
        Ok(())
    }
}

/// (Tsize of the children, file bytes under them).
fn total(links: &[Link]) -> (u64, u64) {
    links.iter().fold((0, 0), |(t, f), l| (t + l.tsize, f + l.filesize))
}

fn emit<E>(bytes: Vec<u8>, sink: &mut impl FnMut(Block) -> Result<(), E>, below: (u64, u64)) -> Result<Link, E> {
    let (cid, tsize) = (Cid::of(&bytes), bytes.len() as u64 + below.0);
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
        let mut encoded = vec![0x0a, 34];
        encoded.extend_from_slice(&link.cid.0);
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

/// The CID and size of `data` as one file (all blocks discarded).
pub fn cid_of(data: &[u8]) -> (Cid, u64) {
    let mut builder = FileBuilder::new();
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
        for bad in [
            "",
            "Qm",
            "bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5tq",
            "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaI",
        ] {
            assert!(Cid::parse(bad).is_none(), "{bad}");
        }
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
