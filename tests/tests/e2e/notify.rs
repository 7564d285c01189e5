//! The supervisor speaks systemd's notification protocol when `NOTIFY_SOCKET` is set, and keeps
//! systemd's variables away from its children.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use orama_e2e::{Node, WAIT, eventually, free_port, signal};
use rustix::process::Signal;

use crate::FAST_SUPERVISOR;

/// Receives notifications until one satisfies `wanted`; returns every message seen.
fn receive_until(socket: &UnixDatagram, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = wanted(&message);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }
    panic!("notification never came; seen: {seen:?}");
}

#[test]
fn ready_watchdog_and_stopping_reach_systemd_and_not_the_children() {
    let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).expect("bind notify socket");
    socket.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
    let config = format!(
        "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{}', depends_on: [envdump] }}
externals:
  - name: envdump
    command: sh
    args: [-c, 'echo \"notify=${{NOTIFY_SOCKET:-none}} watchdog=${{WATCHDOG_USEC:-none}}\"; exec sleep 600']
",
        free_port()
    );
    let env = [("NOTIFY_SOCKET", notify_path.as_os_str()), ("WATCHDOG_USEC", "200000".as_ref())];
    let mut node = Node::start_with_env(dir, &config, &env);

    let before_ready = receive_until(&socket, |m| m.contains("READY=1"));
    let statuses: Vec<&String> = before_ready.iter().filter(|m| m.starts_with("STATUS=")).collect();
    assert!(statuses.iter().any(|m| m.starts_with("STATUS=0/5 children ready")), "{before_ready:?}");
    let status = node.try_status().expect("status");
    assert!(status.iter().all(|c| c["state"] == "ready"), "READY=1 only once every child is ready: {status:?}");

    receive_until(&socket, |m| m == "WATCHDOG=1");
    let clean_env = eventually(WAIT, || {
        String::from_utf8_lossy(&node.ctl(&["logs", "envdump"]).stdout).contains("notify=none watchdog=none")
    });
    assert!(clean_env, "{}", String::from_utf8_lossy(&node.ctl(&["logs", "envdump"]).stdout));

    signal(node.process.id(), Signal::TERM);
    receive_until(&socket, |m| m.starts_with("STOPPING=1"));
    assert!(node.wait_exit(WAIT).success());
}
