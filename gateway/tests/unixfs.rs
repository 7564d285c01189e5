//! Our content addresses against an independent implementation: Debian's `ipfs_cid` (Kubo's
//! defaults: 256 KiB chunks, balanced DAG of up to 174 links, CIDv0), across the sizes where
//! the tree's shape changes: one chunk, one chunk and a byte, a full node, one more.

use orama_gateway::storage::unixfs::{CHUNK_SIZE, MAX_LINKS, cid_of};

fn ipfs_cid(data: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), data).expect("write");
    let output =
        std::process::Command::new("ipfs_cid").arg(file.path()).output().expect("ipfs_cid (apt-get install ipfs-cid)");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("ipfs_cid prints JSON");
    json["CIDv0"].as_str().expect("CIDv0").to_owned()
}

#[test]
fn content_addresses_match_ipfs_cid_at_every_tree_shape() {
    let full_node = CHUNK_SIZE * MAX_LINKS;
    for size in [0, 1, 300_000, CHUNK_SIZE, CHUNK_SIZE + 1, full_node, full_node + 1, full_node + CHUNK_SIZE * 3 + 17] {
        let data: Vec<u8> = (0..size as u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let (cid, length) = cid_of(&data);
        assert_eq!(length, size as u64);
        assert_eq!(cid.to_string(), ipfs_cid(&data), "{size} bytes");
    }
}
