//! CIDv1 and hot content through the supervised gateway on the embedded engine: `?cid_version=1`
//! uploads get the addresses js-ipfs gives with `add --cid-version 1` (an independent
//! implementation, run offline); a CIDv0 and the CIDv1 of one DAG read, pin and unpin as one;
//! reads carry `ETag` and an immutable `Cache-Control`, answer `If-None-Match` with 304 and
//! come from memory once hot (the hit counter moves), ranges included; unpinned content is
//! no longer served from memory.

use std::path::Path;
use std::process::Command;

use orama_e2e::{Node, free_port, http, unix_get};
use serde_json::{Value, json};

use crate::storage::{MIB, content, curl};
use crate::{FAST_SUPERVISOR, Tenant};

/// Uploads `file` as multipart with `query` (e.g. `?cid_version=1`).
fn upload_with(tenant: &Tenant, port: u16, file: &Path, query: &str) -> (u16, Value) {
    let form = format!("file=@{}", file.display());
    let (status, body, _) = curl(tenant, port, &["-F", &form], &format!("/v1/storage/upload{query}"));
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// `ipfs_cid`'s CIDv1 of the CIDv0 DAG (dag-pb leaves, as the default upload builds).
fn same_dag_as_cidv1(file: &Path) -> String {
    let output = Command::new("ipfs_cid").arg(file).output().expect("ipfs_cid (apt-get install ipfs-cid)");
    let json: Value = serde_json::from_slice(&output.stdout).expect("json");
    json["CIDv1"].as_str().expect("CIDv1").to_owned()
}

fn counter(node: &Node, name: &str) -> u64 {
    let metrics = unix_get(&node.runtime_dir.join("gateway.sock"), "/metrics").expect("metrics");
    metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn cidv1_uploads_match_js_ipfs_and_hot_content_is_served_from_memory() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n\
         backends:\n  storage: {{ cache_bytes: 16MiB, cache_max_file: 4MiB }}\n"
    );
    let node = Node::start(&config);
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = orama_e2e::jsipfs::IpfsRepo::init(dir.path());
    node.wait_ready(&["gateway"]);
    let alice = Tenant::new(&node, port, "alice", "/v1/storage");

    // CIDv1 uploads: a multi-leaf file, a one-block file (a raw block), the empty file.
    let files: Vec<(&str, Vec<u8>)> =
        vec![("three.bin", content(3 * MIB + 5, 11)), ("small.txt", b"hello".to_vec()), ("empty", Vec::new())];
    let mut v1_cids = Vec::new();
    for (name, data) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, data).expect("write");
        let (status, uploaded) = upload_with(&alice, port, &path, "?cid_version=1");
        assert_eq!(status, 200, "{uploaded}");
        let cid = uploaded["cid"].as_str().expect("cid").to_owned();
        assert_eq!(cid, repo.only_hash(&path, 1), "{name}: the address js-ipfs gives");
        let (status, body, _) = curl(&alice, port, &[], &format!("/v1/storage/get/{cid}"));
        assert!(status == 200 && body == *data, "{name} reads back byte-exact ({status})");
        v1_cids.push(cid);
    }
    assert!(v1_cids[0].starts_with("bafybei") && v1_cids[1].starts_with("bafkrei"), "{v1_cids:?}");
    let json_upload = alice.ok("upload", json!({"name": "hi", "data": "aGVsbG8="}));
    assert_eq!(json_upload["cid"], "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX", "CIDv0 stays the default");
    let bad = curl(&alice, port, &["-d", "{\"data\":\"aGVsbG8=\"}"], "/v1/storage/upload?cid_version=2");
    assert_eq!(bad.0, 400, "{}", String::from_utf8_lossy(&bad.1));

    // A CIDv0 upload read, pinned and unpinned through the CIDv1 of the same DAG.
    let three = dir.path().join("three.bin");
    let (_, v0_upload) = upload_with(&alice, port, &three, "");
    let v0 = v0_upload["cid"].as_str().expect("cid").to_owned();
    let v1_same_dag = same_dag_as_cidv1(&three);
    let (status, body, _) = curl(&alice, port, &["-H", "Range: bytes=5-9"], &format!("/v1/storage/get/{v1_same_dag}"));
    assert_eq!((status, body.as_slice()), (206, &files[0].1[5..10]));
    let status_of = |cid: &str| http(port, "GET", &format!("/v1/storage/status/{cid}"), &alice.header, None);
    assert_eq!(status_of(&v1_same_dag).json["status"], "pinned", "the CIDv0 upload's pin, by its CIDv1");
    let unpinned = http(port, "DELETE", &format!("/v1/storage/unpin/{v1_same_dag}"), &alice.header, None);
    assert_eq!(unpinned.status, 200, "{unpinned:?}");
    assert_eq!(status_of(&v0).status, 404, "one pin, whichever version names it");

    // Hot content: validators, 304, ranges from memory, the hit counter.
    let cid = &v1_cids[0];
    let path = format!("/v1/storage/get/{cid}");
    let hits = counter(&node, "orama_storage_cache_hits_total");
    let (status, body, head) = curl(&alice, port, &[], &path);
    assert!(status == 200 && body == files[0].1, "{head}");
    assert!(head.contains(&format!("etag: \"{}\"", cid.to_ascii_lowercase())), "{head}");
    assert!(head.contains("cache-control: public, max-age=31536000, immutable"), "{head}");
    let (status, body, _) = curl(&alice, port, &["-H", "Range: bytes=3145720-"], &path);
    assert_eq!((status, body.as_slice()), (206, &files[0].1[3_145_720..]));
    let (status, body, head) = curl(&alice, port, &["-H", &format!("If-None-Match: \"{cid}\"")], &path);
    assert!(status == 304 && body.is_empty(), "{status} {head}");
    let (status, _, _) =
        curl(&alice, port, &["-H", "If-None-Match: \"QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX\""], &path);
    assert_eq!(status, 200, "another tag is not a match");
    let (status, body, _) = curl(&alice, port, &["-H", "Range: bytes=0-3", "-H", "If-Range: \"Qmother\""], &path);
    assert!(status == 200 && body.len() == files[0].1.len(), "If-Range with another tag: the whole file");
    assert!(counter(&node, "orama_storage_cache_hits_total") >= hits + 4, "served from memory");
    assert!(counter(&node, "orama_storage_cache_misses_total") >= 1);

    // Unpinned by its only namespace, it is no longer served from memory (nor, once
    // collected, from disk).
    let misses = counter(&node, "orama_storage_cache_misses_total");
    assert_eq!(http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &alice.header, None).status, 200);
    let (status, _, _) = curl(&alice, port, &[], &path);
    assert_eq!(status, 200, "still on disk until collected");
    assert_eq!(counter(&node, "orama_storage_cache_misses_total"), misses + 1, "read from the engine again");
}
