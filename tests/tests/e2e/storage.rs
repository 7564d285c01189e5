//! The storage API through the supervised gateway on the embedded engine: streamed multipart
//! and JSON uploads whose CIDs match Debian's `ipfs_cid`, byte-exact downloads with `Range`,
//! pins that belong to one namespace (another can fetch by CID but never see or remove them),
//! and the upload size limit and namespace quota as clear errors.

use std::path::Path;
use std::process::Command;

use orama_e2e::{Node, free_port, http};
use serde_json::{Value, json};

use crate::{FAST_SUPERVISOR, Tenant};

pub(crate) const MIB: usize = 1024 * 1024;

/// `curl` with the tenant's key; returns (status, body bytes, response headers).
pub(crate) fn curl(tenant: &Tenant, port: u16, args: &[&str], path: &str) -> (u16, Vec<u8>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let headers = dir.path().join("headers");
    let output = Command::new("curl")
        .args(["-s", "--max-time", "60", "-o", "-", "-D"])
        .arg(&headers)
        .args(["-H", tenant.header.trim_end()])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl");
    let head = std::fs::read_to_string(&headers).unwrap_or_default().to_ascii_lowercase();
    let last = head.lines().rfind(|l| l.starts_with("http/")).unwrap_or_default();
    let status = last.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, output.stdout, head)
}

pub(crate) fn upload(tenant: &Tenant, port: u16, file: &Path) -> (u16, Value) {
    let form = format!("file=@{}", file.display());
    let (status, body, _) = curl(tenant, port, &["-F", &form], "/v1/storage/upload");
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

pub(crate) fn ipfs_cid(file: &Path) -> String {
    let output = Command::new("ipfs_cid").arg(file).output().expect("ipfs_cid (apt-get install ipfs-cid)");
    let json: Value = serde_json::from_slice(&output.stdout).expect("json");
    json["CIDv0"].as_str().expect("CIDv0").to_owned()
}

pub(crate) fn content(size: usize, seed: u64) -> Vec<u8> {
    (0..size as u64).map(|i| ((i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect()
}

#[test]
fn uploads_stream_in_and_read_back_exactly_under_namespace_pins() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n\
         backends:\n  storage: {{ max_upload_bytes: 25MiB, namespace_quota: 30MiB }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let alice = Tenant::new(&node, port, "alice", "/v1/storage");
    let bob = Tenant::new(&node, port, "bob", "/v1/storage");
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.bin");
    let data = content(20 * MIB + 12_345, 1);
    std::fs::write(&big, &data).expect("write");

    let (status, uploaded) = upload(&alice, port, &big);
    assert_eq!(status, 200, "{uploaded}");
    let cid = uploaded["cid"].as_str().expect("cid").to_owned();
    assert_eq!(cid, ipfs_cid(&big), "the same address Kubo gives");
    assert_eq!((uploaded["name"].as_str(), uploaded["size"].as_u64()), (Some("big.bin"), Some(data.len() as u64)));

    let (status, body, head) = curl(&alice, port, &[], &format!("/v1/storage/get/{cid}"));
    assert_eq!(status, 200, "{head}");
    assert!(body == data, "the download is byte-exact ({} bytes)", body.len());
    assert!(head.contains("accept-ranges: bytes") && head.contains(&format!("content-length: {}", data.len())));
    let (status, body, head) =
        curl(&alice, port, &["-H", "Range: bytes=262140-262150"], &format!("/v1/storage/get/{cid}"));
    assert_eq!(status, 206, "{head}");
    assert_eq!(body, data[262_140..262_151]);
    assert!(head.contains(&format!("content-range: bytes 262140-262150/{}", data.len())), "{head}");
    let (status, body, _) = curl(&alice, port, &["-H", "Range: bytes=-7"], &format!("/v1/storage/get/{cid}"));
    assert_eq!((status, body.as_slice()), (206, &data[data.len() - 7..]));
    let (status, _, head) = curl(&alice, port, &["-H", "Range: bytes=999999999-"], &format!("/v1/storage/get/{cid}"));
    assert_eq!(status, 416, "{head}");

    let hello = alice.ok("upload", json!({"name": "hello.txt", "data": "aGVsbG8="}));
    assert_eq!(hello, json!({"cid": "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX", "name": "hello.txt", "size": 5}));
    let status_of =
        |tenant: &Tenant, cid: &str| http(port, "GET", &format!("/v1/storage/status/{cid}"), &tenant.header, None);
    assert_eq!(status_of(&alice, &cid).json["status"], "pinned");

    // Bob may fetch by address, but alice's pins are not his to see or remove.
    let (status, body, _) = curl(&bob, port, &["-H", "Range: bytes=0-3"], &format!("/v1/storage/get/{cid}"));
    assert_eq!((status, body.as_slice()), (206, &data[..4]));
    assert_eq!(status_of(&bob, &cid).status, 404);
    let unpin =
        |tenant: &Tenant, cid: &str| http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &tenant.header, None);
    assert_eq!(unpin(&bob, &cid).status, 404);
    assert_eq!(status_of(&alice, &cid).json["status"], "pinned", "still alice's");
    assert_eq!(bob.ok("pin", json!({"cid": cid, "name": "mine too"})), json!({"cid": cid, "name": "mine too"}));
    assert_eq!(unpin(&bob, &cid).json, json!({"status": "ok", "cid": cid}));
    assert_eq!(status_of(&alice, &cid).json["status"], "pinned", "bob's unpin removed only bob's pin");

    // Limits: the upload size, then alice's quota (20 MiB pinned of 30).
    let huge = dir.path().join("huge.bin");
    std::fs::write(&huge, content(26 * MIB, 2)).expect("write");
    assert_eq!(upload(&alice, port, &huge).0, 413);
    let second = dir.path().join("second.bin");
    std::fs::write(&second, content(11 * MIB, 3)).expect("write");
    let (status, over) = upload(&alice, port, &second);
    assert_eq!(status, 507, "{over}");
    assert_eq!(status_of(&alice, &ipfs_cid(&second)).status, 404, "nothing pinned past the quota");

    for (path, expected) in [
        ("/v1/storage/get/not-a-cid", 400),
        ("/v1/storage/get/QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYeca0", 400),
        ("/v1/storage/get/QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaZ", 404),
        ("/v1/storage/get/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", 404),
    ] {
        assert_eq!(http(port, "GET", path, &alice.header, None).status, expected, "{path}");
    }
    assert_eq!(alice.post("upload", json!({"data": "%%%"})).status, 400);
    assert_eq!(http(port, "GET", &format!("/v1/storage/get/{cid}"), "", None).status, 401);
    assert_eq!(unpin(&alice, &cid).status, 200);
    assert_eq!(status_of(&alice, &cid).status, 404);
}

/// `POST /api/v0/<command>` on the IPFS node itself; status and body.
pub fn ipfs_rpc(port: u16, command: &str) -> (u16, String) {
    let reply = http(port, "POST", &format!("/api/v0/{command}"), "", None);
    (reply.status, reply.body)
}

#[test]
fn the_ipfs_engine_stores_reads_pins_and_recovers_from_a_killed_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = orama_e2e::jsipfs::IpfsRepo::init(dir.path());
    let (port, api) = (free_port(), repo.api_port);
    let config = repo.node_config(FAST_SUPERVISOR, port);
    let node = Node::start(&config);
    node.wait_ready(&["ipfs", "gateway"]);
    let alice = Tenant::new(&node, port, "alice", "/v1/storage");
    let bob = Tenant::new(&node, port, "bob", "/v1/storage");
    let file = dir.path().join("three.bin");
    let data = content(3 * MIB + 7, 9);
    std::fs::write(&file, &data).expect("write");

    let (status, uploaded) = upload(&alice, port, &file);
    assert_eq!(status, 200, "{uploaded}\n{}", node.log());
    let cid = uploaded["cid"].as_str().expect("cid").to_owned();
    assert_eq!(cid, ipfs_cid(&file), "the IPFS node gives the same address");
    assert_eq!(uploaded["size"].as_u64(), Some(data.len() as u64));
    let (status, body, _) = curl(&alice, port, &[], &format!("/v1/storage/get/{cid}"));
    assert!(status == 200 && body == data, "byte-exact through the node ({status}, {} bytes)", body.len());
    let (status, body, _) =
        curl(&bob, port, &["-H", "Range: bytes=1048570-1048580"], &format!("/v1/storage/get/{cid}"));
    assert_eq!((status, body.as_slice()), (206, &data[1_048_570..1_048_581]));
    assert!(ipfs_rpc(api, &format!("pin/ls?arg={cid}")).1.contains(&cid), "the node pins it");
    let v1 = "/v1/storage/upload?cid_version=1";
    let (status, body, _) = curl(&alice, port, &["-F", &format!("file=@{}", file.display())], v1);
    let v1_cid = serde_json::from_slice::<Value>(&body).unwrap_or_default()["cid"].as_str().map(str::to_owned);
    assert_eq!((status, v1_cid), (200, Some(repo.only_hash(&file, 1))), "CIDv1 with raw leaves, as js-ipfs adds");

    let unpin = |tenant: &Tenant| http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &tenant.header, None);
    assert_eq!(unpin(&bob).status, 404, "not bob's pin");
    bob.ok("pin", json!({"cid": cid}));
    assert_eq!(unpin(&alice).status, 200);
    assert!(ipfs_rpc(api, &format!("pin/ls?arg={cid}")).1.contains(&cid), "still pinned for bob");
    assert_eq!(unpin(&bob).status, 200);
    assert!(!ipfs_rpc(api, &format!("pin/ls?arg={cid}")).1.contains("\"Keys\":{\""), "the last unpin releases it");

    let gateway = node.pid("gateway");
    orama_e2e::signal(node.pid("ipfs"), rustix::process::Signal::KILL);
    let down = orama_e2e::eventually(std::time::Duration::from_secs(10), || {
        http(port, "GET", &format!("/v1/storage/get/{cid}"), &alice.header, None).status == 503
    });
    assert!(down, "a dead node is a 503");
    node.wait_child("ipfs", "restarted", |c| c["state"] == "ready" && c["restarts"].as_u64() >= Some(1));
    let back = orama_e2e::eventually(std::time::Duration::from_secs(30), || upload(&alice, port, &file).0 == 200);
    assert!(back, "uploads work again once the node is back\n{}", node.log());
    assert_eq!(node.pid("gateway"), gateway, "without a gateway restart");
}

/// IPFS Cluster cannot be installed on this kind of machine (no package in Debian, npm, PyPI or
/// crates; see shared/BACKENDS.md): this runs where `ipfs-cluster-service` is on PATH, with a
/// one-peer cluster in front of the js-ipfs node.
#[test]
fn pins_replicate_through_an_ipfs_cluster_where_one_is_installed() {
    if Command::new("ipfs-cluster-service").arg("--version").output().is_err() {
        eprintln!("skipped: no ipfs-cluster-service on PATH (IPFS Cluster is not packaged for this machine)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = orama_e2e::jsipfs::IpfsRepo::init(dir.path());
    let (port, api, rest, swarm) = (free_port(), repo.api_port, free_port(), free_port());
    let cluster_dir = dir.path().join("cluster");
    let init = Command::new("ipfs-cluster-service")
        .args(["--config"])
        .arg(&cluster_dir)
        .args(["init", "--consensus", "crdt"])
        .output()
        .expect("cluster init");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let config = format!(
        "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [cluster] }}
backends:
  storage: {{ engine: ipfs, api_url: 'http://127.0.0.1:{api}', cluster_url: 'http://127.0.0.1:{rest}', replication_factor: 1 }}
externals:
{}  - name: cluster
    command: ipfs-cluster-service
    args: [--config, '{}', daemon]
    depends_on: [ipfs]
    env: {{ CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: /ip4/127.0.0.1/tcp/{rest},
            CLUSTER_IPFSHTTP_NODEMULTIADDRESS: /ip4/127.0.0.1/tcp/{api},
            CLUSTER_LISTENMULTIADDRESS: /ip4/127.0.0.1/tcp/{swarm} }}
    health: {{ tcp: '127.0.0.1:{rest}' }}
",
        repo.external(),
        cluster_dir.display()
    );
    let node = Node::start(&config);
    node.wait_ready(&["ipfs", "cluster", "gateway"]);
    let alice = Tenant::new(&node, port, "alice", "/v1/storage");
    let file = dir.path().join("f.bin");
    std::fs::write(&file, content(300_000, 4)).expect("write");
    let (status, uploaded) = upload(&alice, port, &file);
    assert_eq!(status, 200, "{uploaded}");
    let cid = uploaded["cid"].as_str().expect("cid").to_owned();
    let pinned = orama_e2e::eventually(std::time::Duration::from_secs(30), || {
        http(port, "GET", &format!("/v1/storage/status/{cid}"), &alice.header, None).json["status"] == "pinned"
    });
    assert!(pinned, "the cluster pinned it");
    let status = http(port, "GET", &format!("/v1/storage/status/{cid}"), &alice.header, None);
    assert_eq!(status.json["replication_factor"], 1, "{status:?}");
}
