//! Content identifiers as IPFS writes them: CIDv0 (`Qm…`, base58btc of a SHA-256 multihash,
//! always dag-pb) and CIDv1 (a multibase prefix, then version, codec and multihash: `bafy…` for
//! dag-pb, `bafk…` for raw blocks). Only SHA-256 multihashes are taken, the only hash the
//! engines here produce. A CIDv0 and the CIDv1 of the same dag-pb block name the same block:
//! blocks are stored and cached by multihash, and pin records by [`Cid::key`], which is the
//! same text for both.

use sha2::{Digest, Sha256};

use crate::http::error::ApiError;

/// A SHA-256 multihash: `0x12 0x20` and the digest.
pub type Multihash = [u8; 34];

/// How a block's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// A protobuf node (UnixFS files, their inner nodes).
    DagPb,
    /// The bytes themselves (CIDv1 leaves, small CIDv1 files).
    Raw,
}

impl Codec {
    fn code(self) -> u8 {
        match self {
            Codec::DagPb => 0x70,
            Codec::Raw => 0x55,
        }
    }
}

/// Which CID version an upload's address is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CidVersion {
    /// `Qm…`, dag-pb leaves (Kubo's default).
    #[default]
    V0,
    /// `baf…`, raw leaves (what `ipfs add --cid-version 1` builds).
    V1,
}

/// A content address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cid {
    /// Whether written as CIDv1 (a CIDv0 is always dag-pb).
    pub v1: bool,
    /// How the block is read.
    pub codec: Codec,
    /// The block's SHA-256 multihash.
    pub hash: Multihash,
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl Cid {
    /// The CIDv0 of the dag-pb `block`.
    pub fn of(block: &[u8]) -> Cid {
        Cid { v1: false, codec: Codec::DagPb, hash: multihash(block) }
    }

    /// The CIDv1 of `block` read as `codec`.
    pub fn v1_of(codec: Codec, block: &[u8]) -> Cid {
        Cid { v1: true, codec, hash: multihash(block) }
    }

    /// Parses a CIDv0 (`Qm…`) or a CIDv1 in base32 (`b…`, either case) or base58btc (`z…`).
    pub fn parse(text: &str) -> Option<Cid> {
        // A SHA-256 CID is at most 59 characters (base32 CIDv1); longer text is refused before
        // any decoding (base58 decoding is quadratic in the length).
        if text.len() > 64 {
            return None;
        }
        if text.len() == 46 && text.starts_with("Qm") {
            let bytes = bs58::decode(text).into_vec().ok()?;
            return Some(Cid { v1: false, codec: Codec::DagPb, hash: sha256_multihash(&bytes)? });
        }
        let (base, rest) = text.split_at_checked(1)?;
        let bytes = match base {
            "b" | "B" => base32_decode(&rest.to_ascii_lowercase())?,
            "z" => bs58::decode(rest).into_vec().ok()?,
            _ => return None,
        };
        Cid::from_bytes(&bytes)
    }

    /// A CID in its binary form, as dag-pb links hold it (a bare multihash for CIDv0).
    pub fn from_bytes(bytes: &[u8]) -> Option<Cid> {
        match bytes {
            [0x01, codec, hash @ ..] => {
                let codec = match codec {
                    0x70 => Codec::DagPb,
                    0x55 => Codec::Raw,
                    _ => return None,
                };
                Some(Cid { v1: true, codec, hash: sha256_multihash(hash)? })
            }
            hash => Some(Cid { v1: false, codec: Codec::DagPb, hash: sha256_multihash(hash)? }),
        }
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(36);
        if self.v1 {
            out.extend_from_slice(&[0x01, self.codec.code()]);
        }
        out.extend_from_slice(&self.hash);
        out
    }

    /// The same block written as CIDv0 when that can name it (dag-pb), as CIDv1 otherwise.
    pub fn key(&self) -> Cid {
        Cid { v1: self.codec == Codec::Raw, ..*self }
    }

    /// The same block written as `version` (a raw block stays CIDv1: CIDv0 cannot name it).
    pub fn as_version(&self, version: CidVersion) -> Cid {
        Cid { v1: version == CidVersion::V1 || self.codec == Codec::Raw, ..*self }
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.v1 {
            return f.write_str(&bs58::encode(self.hash).into_string());
        }
        f.write_str("b")?;
        f.write_str(&base32_encode(&self.to_bytes()))
    }
}

/// `text` from a request as a CID, or a 400 saying what is accepted.
pub fn parse_cid(text: &str) -> Result<Cid, ApiError> {
    if text.is_empty() {
        return Err(ApiError::BadRequest("cid required".into()));
    }
    Cid::parse(text)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid CID: {text} (a CIDv0, Qm…, or a SHA-256 CIDv1, baf…)")))
}

fn multihash(block: &[u8]) -> Multihash {
    let mut hash = [0u8; 34];
    hash[0] = 0x12;
    hash[1] = 0x20;
    hash[2..].copy_from_slice(&Sha256::digest(block));
    hash
}

fn sha256_multihash(bytes: &[u8]) -> Option<Multihash> {
    let hash: Multihash = bytes.try_into().ok()?;
    (hash[0] == 0x12 && hash[1] == 0x20).then_some(hash)
}

/// RFC 4648 base32, lower case, no padding (multibase `b`).
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = BASE32.iter().position(|&b| b == c)? as u32;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    // Leftover bits must be padding zeros, fewer than a character's worth.
    (bits < 5 && buffer & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_name_the_same_block() {
        let v0 = Cid::parse("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX").expect("v0");
        let v1 = Cid::parse("bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5tq").expect("v1");
        assert_eq!((v0.hash, v0.codec), (v1.hash, v1.codec));
        assert_eq!(v0.as_version(CidVersion::V1).to_string(), v1.to_string());
        assert_eq!(v1.key(), v0);
        let upper = Cid::parse("BAFYBEID3WEURG3GVYOI7NISADZOLOMLVOXOPPE2SESKTNPVDVE3256N5TQ").expect("upper case");
        assert_eq!(upper, v1);
    }

    #[test]
    fn raw_blocks_are_cidv1_in_every_form() {
        // The empty file as js-ipfs adds it with `--cid-version 1`, in base32 and base58btc.
        let empty = Cid::v1_of(Codec::Raw, b"");
        assert_eq!(empty.to_string(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        assert_eq!(Cid::parse("zb2rhmy65F3REf8SZp7De11gxtECBGgUKaLdiDj7MCGCHxbDW"), Some(empty));
        assert_eq!(empty.key(), empty);
        assert_eq!(empty.as_version(CidVersion::V0), empty);
        assert_eq!(Cid::from_bytes(&empty.to_bytes()), Some(empty));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        let long = format!("z{}", "1".repeat(100_000));
        for bad in [
            "",
            "b",
            "Qm",
            "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaI",
            "bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5t",
            "bafybeid3weurg3gvyoi7nisadzolomlvoxoppe2sesktnpvdve3256n5t1",
            // dag-cbor and a blake2b multihash: not what these engines store.
            "bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae",
            "bafk2bzacecnl7ooahrupnmb3dktxrnn5cduuzqjg4zxpanyxyyeb2nf4q6jsg",
            "mAXASIBdvaXBmc",
            long.as_str(),
        ] {
            assert!(Cid::parse(bad).is_none(), "{bad}");
        }
    }
}
