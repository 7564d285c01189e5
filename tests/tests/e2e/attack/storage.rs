//! Storage attacks by an ordinary tenant: an upload far past the namespace's quota is cut while
//! it streams (the gateway stops reading long before the client stops sending), unpinned and
//! cut-off uploads count against the quota until collected, and a node whose disk is below
//! its floor refuses uploads with 507. Another tenant is served throughout.

use orama_e2e::{Node, free_port, stream_post};

use crate::{FAST_SUPERVISOR, Tenant};

const MIB: u64 = 1024 * 1024;

fn node(port: u16, storage: &str) -> Node {
    let node = Node::start(&format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\nbackends:\n  storage: {{ {storage} }}\n"
    ));
    node.wait_ready(&["gateway"]);
    node
}

/// Streams a multipart upload of `size` bytes (`pin` as the form's `pin` field); returns the
/// status and body of the answer, and how many bytes the client had sent when it came.
fn stream_upload(port: u16, tenant: &Tenant, size: u64, pin: bool) -> (u16, String, u64) {
    let boundary = "orama-attack-boundary";
    let preamble = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"pin\"\r\n\r\n{pin}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let closing = format!("\r\n--{boundary}--\r\n");
    let headers = format!("{}Content-Type: multipart/form-data; boundary={boundary}\r\n", tenant.header);
    let answer = stream_post(port, "/v1/storage/upload", &headers, (&preamble, size, &closing));
    (answer.status, answer.body, answer.sent_at_answer)
}

fn small_upload(port: u16, tenant: &Tenant, size: u64) -> u16 {
    stream_upload(port, tenant, size, true).0
}

#[test]
fn an_upload_past_the_quota_is_cut_while_it_streams_and_counts_until_collected() {
    let port = free_port();
    let node = node(port, "namespace_quota: 4MiB, max_upload_bytes: 1GiB");
    let (alice, bob) =
        (Tenant::new(&node, port, "alice", "/v1/storage"), Tenant::new(&node, port, "bob", "/v1/storage"));
    let (status, body, sent) = stream_upload(port, &alice, 200 * MIB, true);
    eprintln!("a 200 MiB upload against a 4 MiB quota: {status} after {:.1} MiB sent", sent as f64 / MIB as f64);
    assert_eq!(status, 507, "{body}");
    assert!(body.contains("quota"), "{body}");
    assert!(sent < 40 * MIB, "the gateway answered after {} MiB of 200: it must stop reading at the quota", sent / MIB);
    assert_eq!(small_upload(port, &bob, MIB), 200, "another tenant uploads meanwhile");
    assert_eq!(small_upload(port, &alice, 512 * 1024), 507, "the cut-off upload's bytes still count");
}

#[test]
fn unpinned_uploads_count_against_the_quota() {
    let port = free_port();
    let node = node(port, "namespace_quota: 3MiB");
    let (alice, bob) =
        (Tenant::new(&node, port, "alice", "/v1/storage"), Tenant::new(&node, port, "bob", "/v1/storage"));
    let (status, body, _) = stream_upload(port, &alice, 2 * MIB, false);
    assert_eq!(status, 200, "an unpinned upload is stored: {body}");
    assert_eq!(small_upload(port, &alice, 512 * 1024), 200, "what is left of the quota is usable");
    let (status, body, _) = stream_upload(port, &alice, 3 * MIB / 2, true);
    assert_eq!(status, 507, "the unpinned bytes count until they are collected: {body}");
    assert_eq!(small_upload(port, &bob, 2 * MIB), 200, "another tenant has its own quota");
}

#[test]
fn a_node_below_its_disk_floor_refuses_uploads() {
    let port = free_port();
    let node = node(port, "min_free_disk: 1000TiB");
    let alice = Tenant::new(&node, port, "alice", "/v1/storage");
    let (status, body, _) = stream_upload(port, &alice, 64 * 1024, true);
    assert_eq!(status, 507, "{body}");
    assert!(body.contains("min_free_disk"), "{body}");
    let reply = orama_e2e::http(port, "GET", "/v1/auth/whoami", &alice.header, None);
    assert_eq!(reply.status, 200, "the node still serves everything else");
}

#[test]
fn pinning_and_unpinning_in_turn_cannot_fill_the_disk() {
    let port = free_port();
    let node = node(port, "namespace_quota: 3MiB");
    let alice = Tenant::new(&node, port, "alice", "/v1/storage");
    let (status, body, _) = stream_upload(port, &alice, 2 * MIB, true);
    assert_eq!(status, 200, "{body}");
    let cid = serde_json::from_str::<serde_json::Value>(&body).expect("json")["cid"].as_str().expect("cid").to_owned();
    let unpinned = orama_e2e::http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &alice.header, None);
    assert_eq!(unpinned.status, 200, "{unpinned:?}");
    let (status, body, _) = stream_upload(port, &alice, 2 * MIB, true);
    assert_eq!(status, 507, "the unpinned bytes are on disk until collected, and count: {body}");
}
