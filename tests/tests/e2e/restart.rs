//! Children that die, crash-loop or hang are restarted as their policy says.

use std::os::unix::fs::MetadataExt;

use orama_e2e::{Node, WAIT, alive, eventually, free_port, signal, unix_get};
use rustix::process::Signal;

use crate::{FAST_SUPERVISOR_ALONE, gateway_and_redis, http_get};

#[test]
fn a_killed_gateway_is_restarted_at_once_with_a_fresh_socket() {
    let (gateway_port, redis_port) = (free_port(), free_port());
    let node = Node::start(&gateway_and_redis(gateway_port, redis_port));
    node.wait_ready(&["redis", "gateway"]);
    let socket = node.runtime_dir.join("gateway.sock");
    let old_created = std::fs::metadata(&socket).expect("socket").ctime_nsec();
    let old_pid = node.pid("gateway");

    signal(old_pid, Signal::KILL);
    let status = node.wait_child("gateway", "ready again", |c| c["state"] == "ready" && c["pid"] != old_pid);

    assert_eq!(status["restarts"], 1);
    assert_eq!(status["last_exit"], "killed by SIGKILL");
    let new_created = std::fs::metadata(&socket).expect("socket").ctime_nsec();
    assert_ne!(old_created, new_created, "the restarted gateway binds a fresh socket file");
    let health = unix_get(&socket, "/health").expect("socket answers");
    assert!(health.contains(&format!(r#""pid":{}"#, status["pid"])), "answered by the new process: {health}");
    assert!(!alive(old_pid));
    assert_eq!(http_get(gateway_port, "/health").map(|r| r.0), Some(200));
    assert_eq!(node.child("redis")["restarts"], 0, "a dependency is not disturbed");
}

#[test]
fn a_child_that_exits_at_once_crash_loops_until_restarted() {
    let config = format!(
        "{FAST_SUPERVISOR_ALONE}
gateway: {{ enabled: false }}
externals:
  - name: crasher
    command: sh
    args: [-c, 'echo crashing; exit 3']
"
    );
    let node = Node::start(&config);
    let seen_backoff = eventually(WAIT, || node.try_status().is_some_and(|s| s[0]["state"] == "backoff"));
    assert!(seen_backoff, "the second quick failure waits in backoff");
    let looping = node.wait_child("crasher", "crash-looping", |c| c["state"] == "crashloop");
    assert_eq!(looping["last_exit"], "exited with status 3");
    let restarts_before = looping["restarts"].as_u64().expect("restarts");
    assert!(restarts_before >= 3, "{looping}");

    let output = node.ctl(&["restart", "--no-wait", "crasher"]);
    assert!(output.status.success(), "{output:?}");
    let after = node.child("crasher");
    assert_ne!(after["state"], "crashloop", "ctl restart resets the crash-loop state: {after}");
    assert!(after["restarts"].as_u64().expect("restarts") > restarts_before);
    node.wait_child("crasher", "crash-looping again", |c| c["state"] == "crashloop");
}

#[test]
fn a_hung_gateway_is_restarted_by_its_liveness_probe() {
    let (gateway_port, redis_port) = (free_port(), free_port());
    let node = Node::start(&gateway_and_redis(gateway_port, redis_port));
    node.wait_ready(&["redis", "gateway"]);
    let old_pid = node.pid("gateway");

    signal(old_pid, Signal::STOP);
    let status = node.wait_child("gateway", "replaced", |c| c["state"] == "ready" && c["pid"] != old_pid);

    let last_exit = status["last_exit"].as_str().unwrap_or_default();
    assert!(last_exit.contains("liveness probe failed"), "{last_exit}");
    assert!(last_exit.starts_with("killed by SIGKILL"), "a stopped process ignores SIGTERM: {last_exit}");
    assert!(eventually(WAIT, || !alive(old_pid)), "the hung process is gone");
    assert_eq!(http_get(gateway_port, "/v1/health").map(|r| r.0), Some(200));
}
