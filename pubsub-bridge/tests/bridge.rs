//! The bridge binary on its own: it serves its socket, keeps its identity across restarts,
//! and refuses a swarm key file that is not one.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, config: &str) -> Bridge {
    std::fs::write(dir.join("orama.yaml"), config).expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_orama-pubsub-bridge"))
        .arg("--config")
        .arg(dir.join("orama.yaml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--runtime-dir")
        .arg(dir.join("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    Bridge(child)
}

/// `GET path` on the bridge's socket: the body, once it answers.
fn get(dir: &Path, path: &str) -> Option<String> {
    let mut stream = UnixStream::connect(dir.join("run/pubsub-bridge.sock")).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: b\r\nx-orama-ipc-version: 1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

fn peer_id(dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let peers = get(dir, "/v1/peers").and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
        if let Some(id) = peers.as_ref().and_then(|p| p["peer_id"].as_str()) {
            assert!(
                peers.as_ref().is_some_and(|p| p["listen_addrs"].as_array().is_some_and(|a| !a.is_empty())),
                "{peers:?}"
            );
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "the bridge never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_bridge_keeps_its_identity_and_refuses_a_bad_swarm_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "pubsub: { listen: ['/ip4/127.0.0.1/tcp/0'] }\n";
    let first = start(dir.path(), config);
    let id = peer_id(dir.path());
    assert!(id.starts_with("12D3KooW"), "an ed25519 peer id: {id}");
    assert!(get(dir.path(), "/ready").is_some_and(|b| b.contains("ready")));
    drop(first);
    let _second = start(dir.path(), config);
    assert_eq!(peer_id(dir.path()), id, "the same identity after a restart");

    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(other.path().join("swarm.key"), "not a key").expect("key");
    let bad = format!(
        "pubsub: {{ listen: ['/ip4/127.0.0.1/tcp/0'], swarm_key_file: '{}' }}\n",
        other.path().join("swarm.key").display()
    );
    let mut refused = start(other.path(), &bad);
    let status = refused.0.wait().expect("exit");
    assert!(!status.success(), "a bad swarm key stops the bridge");
}
